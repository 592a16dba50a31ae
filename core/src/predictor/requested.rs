//! The baseline predictor: the user's requested time.

use super::Predictor;
use crate::state::JobInfo;

/// Predicts the requested time (the kill limit). For a job without a limit
/// it predicts `fallback_s`. It gives no interval: the request bounds the
/// runtime from above, and `[0, limit]` would cover every job that ends by
/// its limit while saying nothing, so a coverage figure of it would flatter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Requested {
    /// The estimate for jobs that request no time, seconds.
    pub fallback_s: f64,
}

impl Default for Requested {
    fn default() -> Self {
        Self { fallback_s: 86_400.0 }
    }
}

impl Predictor for Requested {
    fn name(&self) -> &'static str {
        "requested"
    }

    fn predict(&mut self, job: &JobInfo) -> f64 {
        if job.limit_s.is_finite() { job.limit_s } else { self.fallback_s }
    }
}
