//! Whether a running job outlived its estimate: the one thing about a job's
//! course that the runtime cannot know and its source can.

use crate::state::JobInfo;

/// Tells the runtime whether a running job runs longer than its current
/// estimate, so that it is corrected at the instant the estimate runs out.
///
/// The runtime asks only about a job whose estimate ran out at or before
/// the present (or that is ending), so the answer is about the past or the
/// present: the simulator, which knows each job's end, says whether it is
/// later than the estimate's; the controller says whether it still saw the
/// job running. `ended_at` is the job's end when the runtime is being told
/// it ended.
pub trait Liveness {
    /// True when `job`, started at `start_s`, runs longer than
    /// `estimate_s`.
    fn outlives(&self, job: &JobInfo, start_s: f64, estimate_s: f64, ended_at: Option<f64>) -> bool;
}

/// The liveness an observer of a real cluster knows: a job that has ended
/// outlived its estimate if it ended after it; a job that has not ended
/// and whose estimate ran out is still running, so it outlived it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Observed;

impl Liveness for Observed {
    fn outlives(&self, _job: &JobInfo, start_s: f64, estimate_s: f64, ended_at: Option<f64>) -> bool {
        ended_at.is_none_or(|t| start_s + estimate_s < t)
    }
}

/// Any closure over the job, its start and estimate is a liveness (a
/// source that knows every job's true runtime).
impl<F: Fn(&JobInfo, f64, f64) -> bool> Liveness for F {
    fn outlives(&self, job: &JobInfo, start_s: f64, estimate_s: f64, _ended_at: Option<f64>) -> bool {
        self(job, start_s, estimate_s)
    }
}
