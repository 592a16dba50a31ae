//! Runtime predictors: an estimate for a job from what is known at its
//! submission, told when jobs start and end so that it can learn, and asked
//! for a corrected estimate when a job outlives the one it gave.
//!
//! An estimate is advice. It orders and packs work; it never shortens the
//! kill limit: a job runs until its real end or its requested time.
//!
//! A predictor may also say how sure it is: [`Predictor::interval`] gives a
//! range the job's runtime should fall in, at a nominal coverage the
//! predictor states (a trained model's is in its file; 80 % by default).
//! It is asked only by callers that record it (the controller's shadow
//! log), never on a simulation's path, so that a replay pays nothing for it.
//!
//! [`TimeScaled`] serves a predictor made for one clock (a model trained on
//! a trace) to a run on a faster one (the trace replayed compressed).

mod clairvoyant;
mod requested;
mod time_scaled;
mod user_history;

pub use clairvoyant::Clairvoyant;
pub use requested::Requested;
pub use time_scaled::{TimeScaled, scale_record};
pub use user_history::{TSAFRIR_CORRECTIONS_S, UserHistory};

use crate::job::Job;
use crate::state::JobInfo;
use std::fmt;
use std::str::FromStr;

/// A job that is still running at the end of its estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outlived {
    /// Seconds it has run (equal to `estimate_s`).
    pub elapsed_s: f64,
    /// The estimate made at its submission.
    pub initial_estimate_s: f64,
    /// The estimate it has just outlived.
    pub estimate_s: f64,
    /// How many corrections it had before this one.
    pub corrections: u32,
}

/// A range of runtimes, seconds, that a job's runtime is predicted to fall
/// in (both ends included). What share of jobs should fall in it, its
/// nominal coverage, is the predictor's to state: see its documentation
/// (a trained model states it in its file).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Interval {
    /// The lower end, seconds.
    pub lo_s: f64,
    /// The upper end, seconds.
    pub hi_s: f64,
}

impl Interval {
    /// The interval from `lo_s` to `hi_s`, or `None` unless both are finite
    /// and `0 <= lo_s <= hi_s`.
    pub fn new(lo_s: f64, hi_s: f64) -> Option<Interval> {
        (lo_s.is_finite() && hi_s.is_finite() && 0.0 <= lo_s && lo_s <= hi_s)
            .then_some(Interval { lo_s, hi_s })
    }

    /// True when `runtime_s` falls in it (ends included).
    pub fn contains(&self, runtime_s: f64) -> bool {
        self.lo_s <= runtime_s && runtime_s <= self.hi_s
    }
}

/// Predicts job runtimes. Implementations see only what is known at the
/// time they are called: a job's request at its submission, and the runtimes
/// of jobs that have ended.
pub trait Predictor: Send {
    /// A short name for tables and logs.
    fn name(&self) -> &'static str;

    /// The estimated runtime of a job being submitted now
    /// (`job.submit_s`), in seconds. The caller clamps it to the limit.
    fn predict(&mut self, job: &JobInfo) -> f64;

    /// A job started.
    fn observe_start(&mut self, _job: &JobInfo, _now: f64) {}

    /// A job ended after running `runtime_s` seconds.
    fn observe_end(&mut self, _job: &JobInfo, _runtime_s: f64, _now: f64) {}

    /// A new estimate (total runtime from start) for a job that outlived its
    /// estimate. The default doubles it. The caller keeps the result within
    /// `(elapsed, limit]`.
    fn correct(&mut self, _job: &JobInfo, outlived: &Outlived) -> f64 {
        outlived.estimate_s * 2.0
    }

    /// The orchestrator's full record of a job the predictor is about to be
    /// asked about or told of (its name, account, submitted features; at
    /// its end, how it ended), for predictors that featurise more than the
    /// [`JobInfo`]. The default ignores it.
    fn observe_record(&mut self, _job: &JobInfo, _record: &Job) {}

    /// A job left the queue without running: whatever was kept for it can
    /// go. The default keeps nothing.
    fn forget(&mut self, _job: &JobInfo) {}

    /// The interval the runtime of `job` should fall in, around
    /// `estimate_s`, the estimate [`Predictor::predict`] just gave it (as
    /// the caller clamped it), asked at once after it and from what is known
    /// then; `None` when the predictor has none (the default). Asking must
    /// not change a later prediction or correction: a caller that never
    /// asks gets the same estimates as one that asks for every job.
    fn interval(&mut self, _job: &JobInfo, _estimate_s: f64) -> Option<Interval> {
        None
    }
}

/// Forwards every method, so that a runtime can own a predictor or borrow
/// one.
macro_rules! forward_predictor {
    ($($t:ty),*) => {$(
        impl<P: Predictor + ?Sized> Predictor for $t {
            fn name(&self) -> &'static str {
                (**self).name()
            }
            #[inline]
            fn predict(&mut self, job: &JobInfo) -> f64 {
                (**self).predict(job)
            }
            #[inline]
            fn observe_start(&mut self, job: &JobInfo, now: f64) {
                (**self).observe_start(job, now)
            }
            #[inline]
            fn observe_end(&mut self, job: &JobInfo, runtime_s: f64, now: f64) {
                (**self).observe_end(job, runtime_s, now)
            }
            #[inline]
            fn correct(&mut self, job: &JobInfo, outlived: &Outlived) -> f64 {
                (**self).correct(job, outlived)
            }
            fn observe_record(&mut self, job: &JobInfo, record: &Job) {
                (**self).observe_record(job, record)
            }
            fn forget(&mut self, job: &JobInfo) {
                (**self).forget(job)
            }
            fn interval(&mut self, job: &JobInfo, estimate_s: f64) -> Option<Interval> {
                (**self).interval(job, estimate_s)
            }
        }
    )*};
}

forward_predictor!(Box<P>, &mut P);

/// Keeps a raw estimate within `[0, limit]` (a NaN becomes the limit).
pub fn clamp_estimate(job: &JobInfo, raw_s: f64) -> f64 {
    if raw_s.is_nan() { job.limit_s } else { raw_s.clamp(0.0, job.limit_s) }
}

/// Keeps a corrected estimate strictly after `elapsed` and within the limit:
/// a correction that does not move the estimate forward gives the limit
/// (or, without one, twice the elapsed time plus a minute).
pub fn clamp_correction(job: &JobInfo, elapsed_s: f64, raw_s: f64) -> f64 {
    let next = if raw_s > elapsed_s { raw_s.min(job.limit_s) } else { job.limit_s };
    if next.is_finite() && next > elapsed_s { next } else { elapsed_s * 2.0 + 60.0 }
}

/// The predictors foresight ships, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PredictorKind {
    /// The user's requested time (`requested`).
    Requested,
    /// Tsafrir, Etsion and Feitelson's EASY++ predictor (`easy++`, also
    /// `tsafrir` or `user-history`).
    UserHistory,
    /// The true runtime, for bounds (`clairvoyant`, also `oracle`).
    Clairvoyant,
}

impl PredictorKind {
    /// Every predictor, in a fixed order.
    pub const ALL: [PredictorKind; 3] = [PredictorKind::Requested, PredictorKind::UserHistory, PredictorKind::Clairvoyant];

    /// The canonical name.
    pub fn as_str(&self) -> &'static str {
        match self {
            PredictorKind::Requested => "requested",
            PredictorKind::UserHistory => "easy++",
            PredictorKind::Clairvoyant => "clairvoyant",
        }
    }

    /// Builds the predictor. `true_runtimes_s` (indexed by job key) is only
    /// read by the clairvoyant oracle, which is `None` without it.
    pub fn build(&self, true_runtimes_s: impl FnOnce() -> Vec<f64>) -> Box<dyn Predictor> {
        match self {
            PredictorKind::Requested => Box::new(Requested::default()),
            PredictorKind::UserHistory => Box::new(UserHistory::default()),
            PredictorKind::Clairvoyant => Box::new(Clairvoyant::new(true_runtimes_s())),
        }
    }
}

impl fmt::Display for PredictorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing a predictor name that is not one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownPredictor(pub String);

impl fmt::Display for UnknownPredictor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown predictor `{}` (expected requested, easy++ or clairvoyant)", self.0)
    }
}

impl std::error::Error for UnknownPredictor {}

impl FromStr for PredictorKind {
    type Err = UnknownPredictor;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "requested" | "reqtime" | "user" | "estimate" => Ok(PredictorKind::Requested),
            "easy++" | "tsafrir" | "user-history" => Ok(PredictorKind::UserHistory),
            "clairvoyant" | "oracle" | "perfect" => Ok(PredictorKind::Clairvoyant),
            _ => Err(UnknownPredictor(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_clamps_hold() {
        for k in PredictorKind::ALL {
            assert_eq!(k.as_str().parse::<PredictorKind>(), Ok(k));
        }
        assert!("magic".parse::<PredictorKind>().unwrap_err().to_string().contains("`magic`"));
        let job = crate::state::tests::info(0, 1, 0.0, 100.0);
        assert_eq!(clamp_estimate(&job, 500.0), 100.0);
        assert_eq!(clamp_estimate(&job, f64::NAN), 100.0);
        assert_eq!(clamp_correction(&job, 50.0, 40.0), 100.0);
        assert_eq!(clamp_correction(&job, 50.0, 70.0), 70.0);
    }

    #[test]
    fn intervals_are_finite_ordered_and_forwarded() {
        assert_eq!(
            Interval::new(1.0, 2.0),
            Some(Interval {
                lo_s: 1.0,
                hi_s: 2.0
            })
        );
        assert_eq!(Interval::new(2.0, 1.0), None);
        assert_eq!(Interval::new(-1.0, 1.0), None);
        assert_eq!(Interval::new(0.0, f64::INFINITY), None);
        assert_eq!(Interval::new(f64::NAN, 1.0), None);
        let i = Interval::new(10.0, 20.0).unwrap();
        assert!(i.contains(10.0) && i.contains(20.0) && !i.contains(20.5) && !i.contains(9.0));

        let job = crate::state::tests::info(0, 1, 0.0, 100.0);
        let mut oracle: Box<dyn Predictor> = Box::new(Clairvoyant::new(vec![42.0]));
        let est = oracle.predict(&job);
        // through the forwarding impls: `&mut P` over `Box<dyn Predictor>`
        let mut borrowed = &mut oracle;
        assert_eq!(Predictor::interval(&mut borrowed, &job, est), Some(Interval { lo_s: 42.0, hi_s: 42.0 }));
        let mut requested = Requested::default();
        assert_eq!(
            requested.interval(&job, 100.0),
            None,
            "a request is a bound, not an interval"
        );
        assert_eq!(UserHistory::default().interval(&job, 100.0), None);
    }
}
