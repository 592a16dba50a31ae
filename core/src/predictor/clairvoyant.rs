//! The clairvoyant oracle: the true runtime, for upper bounds on what any
//! predictor could achieve. It reads the future and so must never run live.

use super::{Interval, Predictor};
use crate::state::JobInfo;

/// Predicts each job's real runtime, given up front by job key.
#[derive(Debug, Clone, PartialEq)]
pub struct Clairvoyant {
    runtimes_s: Vec<f64>,
}

impl Clairvoyant {
    /// An oracle over the true runtimes, indexed by job key.
    pub fn new(runtimes_s: Vec<f64>) -> Self {
        Self { runtimes_s }
    }
}

impl Predictor for Clairvoyant {
    fn name(&self) -> &'static str {
        "clairvoyant"
    }

    fn predict(&mut self, job: &JobInfo) -> f64 {
        self.runtimes_s.get(job.key.0 as usize).copied().unwrap_or(job.limit_s)
    }

    /// The estimate itself: the oracle is never wrong (nominal coverage
    /// 100 %), up to the caller's clamp to the limit.
    fn interval(&mut self, _job: &JobInfo, estimate_s: f64) -> Option<Interval> {
        Interval::new(estimate_s, estimate_s)
    }
}
