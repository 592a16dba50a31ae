//! EASY++'s predictor (Tsafrir, Etsion and Feitelson, "Backfilling using
//! system-generated predictions rather than user runtime estimates", TPDS
//! 2007): the mean of the user's last two runtimes, capped by the request,
//! and raised step by step when a job outlives it.

use super::{Outlived, Predictor};
use crate::state::JobInfo;

/// How far a prediction is raised after each successive under-prediction,
/// as in the paper: the estimate becomes the initial one plus 1 min, 5 min,
/// 15 min, 30 min, 1 h, 2 h, 5 h, 10 h, 20 h, 50 h, 100 h, then the limit.
pub const TSAFRIR_CORRECTIONS_S: [f64; 11] =
    [60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 18_000.0, 36_000.0, 72_000.0, 180_000.0, 360_000.0];

/// The last two runtimes of every user (by interned id), most recent first.
/// It gives no interval (two runtimes say nothing of their spread that a
/// nominal coverage could be stated for); the trained models do.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserHistory {
    last_two: Vec<[Option<f64>; 2]>,
}

impl Predictor for UserHistory {
    fn name(&self) -> &'static str {
        "easy++"
    }

    /// The mean of the user's last two runtimes in whole seconds (rounded
    /// down, as predictsim does), capped by the request; the
    /// request until the user has two finished jobs.
    fn predict(&mut self, job: &JobInfo) -> f64 {
        match self.last_two.get(job.user as usize) {
            Some([Some(a), Some(b)]) => floor_runtime((a + b) / 2.0).min(job.limit_s),
            _ => job.limit_s,
        }
    }

    fn observe_end(&mut self, job: &JobInfo, runtime_s: f64, _now: f64) {
        let i = job.user as usize;
        if self.last_two.len() <= i {
            self.last_two.resize(i + 1, [None, None]);
        }
        let h = &mut self.last_two[i];
        *h = [Some(runtime_s), h[0]];
    }

    fn correct(&mut self, job: &JobInfo, o: &Outlived) -> f64 {
        match TSAFRIR_CORRECTIONS_S.get(o.corrections as usize) {
            Some(step) => (o.initial_estimate_s + step).min(job.limit_s),
            None => job.limit_s,
        }
    }
}

/// `x.floor()` for a runtime: through an integer for the positive values
/// below 2^52, where truncating is flooring (zeros keep their sign through
/// `floor`), since `floor` is a
/// library call on the baseline x86-64 target (about 1 % of a KTH-SP2
/// replay under EASY++).
#[inline]
fn floor_runtime(x: f64) -> f64 {
    if x > 0.0 && x < 4.5e15 { (x as i64) as f64 } else { x.floor() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::tests::info;

    #[test]
    fn runtimes_floor_as_floor_does() {
        for x in [0.0, -0.0, 0.5, 1.0, 1.5, 2.999, 86_399.5, 4.4e15 + 0.5, 4.5e15, 1e300, -1.5, f64::INFINITY] {
            assert_eq!(floor_runtime(x).to_bits(), x.floor().to_bits(), "{x}");
        }
        assert!(floor_runtime(f64::NAN).is_nan());
    }

    #[test]
    fn mean_of_last_two_capped_by_request() {
        let mut p = UserHistory::default();
        let j = info(0, 1, 0.0, 1000.0);
        assert_eq!(p.predict(&j), 1000.0, "no history: the request");
        p.observe_end(&j, 100.0, 1.0);
        assert_eq!(p.predict(&j), 1000.0, "one run is not enough");
        p.observe_end(&j, 300.0, 2.0);
        assert_eq!(p.predict(&j), 200.0);
        p.observe_end(&j, 5000.0, 3.0);
        assert_eq!(p.predict(&j), 1000.0, "capped by the request");
        let o = Outlived { elapsed_s: 200.0, initial_estimate_s: 200.0, estimate_s: 200.0, corrections: 0 };
        assert_eq!(p.correct(&j, &o), 260.0);
        let o = Outlived { corrections: 1, estimate_s: 260.0, elapsed_s: 260.0, ..o };
        assert_eq!(p.correct(&j, &o), 500.0);
        let o = Outlived { corrections: 11, ..o };
        assert_eq!(p.correct(&j, &o), 1000.0);
    }
}
