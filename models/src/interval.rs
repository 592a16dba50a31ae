//! Split-conformal runtime intervals. A model's errors are measured in log
//! runtime, `r = ln(actual) - ln(predicted)` (both floored at the trace's
//! resolution), on jobs it did not train on; the interval around a new
//! prediction `p` is `[p * exp(q_lo), p * exp(q_hi)]`, with `q_lo` and
//! `q_hi` the empirical quantiles of those errors at `(1 - c) / 2` and
//! `(1 + c) / 2` for a nominal coverage `c`, each taken at the rank the
//! finite-sample conformal rule gives (`floor((n + 1)(1 - c) / 2)` and
//! `ceil((n + 1)(1 + c) / 2)` of `n` sorted errors), so that on jobs like
//! the calibration ones each tail holds at most `(1 - c) / 2` of them.
//!
//! A model file's errors come from a calibration model (see
//! [`crate::evaluate::train`]); the online predictor's from its own past
//! predictions of jobs that have since ended ([`Residuals`]).

use crate::invalid::{InvalidModel, Problem};
use foresight_core::predictor::Interval;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// The nominal coverage of the intervals foresight trains: 80 %.
pub const DEFAULT_NOMINAL: f64 = 0.8;

/// The fewest calibration errors an interval is made from.
pub const MIN_CALIBRATION: usize = 20;

/// A conformal interval's calibration: the log-error quantiles, the
/// nominal coverage they were taken for, and how many errors they were
/// taken from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Conformal {
    /// The nominal coverage, in `(0, 1)`.
    pub nominal: f64,
    /// The lower log-error quantile (`ln(lo / p)`).
    pub q_lo: f64,
    /// The upper log-error quantile (`ln(hi / p)`).
    pub q_hi: f64,
    /// Calibration jobs the quantiles were taken from.
    pub n: usize,
}

/// The log error of predicting `predicted_s` for a job that ran
/// `actual_s`, both floored at `floor_s` (and at a millisecond, so that a
/// zero runtime has a logarithm).
pub fn log_error(actual_s: f64, predicted_s: f64, floor_s: f64) -> f64 {
    let floor = floor_s.max(1e-3);
    actual_s.max(floor).ln() - predicted_s.max(floor).ln()
}

impl Conformal {
    /// The quantiles of `errors` (reordered in place; non-finite ones are
    /// ignored) for nominal coverage `nominal`; `None` with fewer than
    /// [`MIN_CALIBRATION`] finite errors, or too few for the conformal rank
    /// of either tail to fall within them (the interval would be unbounded).
    pub fn from_errors(errors: &mut Vec<f64>, nominal: f64) -> Option<Conformal> {
        errors.retain(|e| e.is_finite());
        errors.sort_by(f64::total_cmp);
        let n = errors.len();
        if n < MIN_CALIBRATION || !(nominal > 0.0 && nominal < 1.0) {
            return None;
        }
        let tail = (1.0 - nominal) / 2.0;
        // (1 - 0.8) / 2 is 0.0999...: a rank a hair below an integer is it
        let k_lo = ((n + 1) as f64 * tail + 1e-9).floor() as usize;
        let k_hi = ((n + 1) as f64 * (1.0 - tail) - 1e-9).ceil() as usize;
        if k_lo < 1 || k_hi > n {
            return None;
        }
        Some(Conformal {
            nominal,
            q_lo: errors[k_lo - 1],
            q_hi: errors[k_hi - 1],
            n,
        })
    }

    /// The interval around prediction `predicted_s` (floored at `floor_s`),
    /// its upper end capped at `limit_s` (a job is killed there; an
    /// infinite limit caps nothing) and its lower end at the upper.
    pub fn around(&self, predicted_s: f64, floor_s: f64, limit_s: f64) -> Option<Interval> {
        let p = predicted_s.max(floor_s).max(1e-3);
        let hi = (p * self.q_hi.exp()).min(limit_s);
        let lo = (p * self.q_lo.exp()).min(hi);
        Interval::new(lo, hi)
    }

    /// Checks a calibration read from a file: a nominal coverage in
    /// `(0, 1)`, finite quantiles in order, and at least
    /// [`MIN_CALIBRATION`] jobs behind them.
    pub fn check(&self) -> Result<(), InvalidModel> {
        let bad = |field: &str, value: f64, expected: &'static str| {
            Err(InvalidModel::new(
                "interval",
                Problem::BadNumber {
                    field: field.into(),
                    value,
                    expected,
                },
            ))
        };
        if !(self.nominal > 0.0 && self.nominal < 1.0) {
            return bad(
                "nominal",
                self.nominal,
                "not a coverage strictly between 0 and 1",
            );
        }
        for (field, q) in [("q_lo", self.q_lo), ("q_hi", self.q_hi)] {
            if !q.is_finite() {
                return bad(field, q, "not a finite number");
            }
        }
        if self.q_lo > self.q_hi {
            return bad("q_lo", self.q_lo, "above q_hi");
        }
        if self.n < MIN_CALIBRATION {
            return bad(
                "n",
                self.n as f64,
                "fewer than the 20 calibration jobs an interval is made from",
            );
        }
        Ok(())
    }
}

/// Test jobs in one quarter of the predictions: how often the interval
/// held their runtime.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CoverageBin {
    /// Jobs in the bin.
    pub n: usize,
    /// The smallest estimate in the bin, seconds.
    pub min_estimate_s: f64,
    /// The largest estimate in the bin, seconds.
    pub max_estimate_s: f64,
    /// Share of the bin's jobs whose runtime fell in their interval.
    #[serde(deserialize_with = "crate::file::null_float::nan")]
    pub coverage: f64,
}

/// How well a model's intervals held the test jobs' runtimes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntervalCoverage {
    /// The coverage the intervals were calibrated for.
    pub nominal: f64,
    /// Calibration jobs behind them.
    pub calibration_jobs: usize,
    /// Test jobs.
    pub n: usize,
    /// Share of test jobs whose runtime fell in their interval.
    #[serde(deserialize_with = "crate::file::null_float::nan")]
    pub coverage: f64,
    /// Share that ran for less than the interval's lower end.
    #[serde(deserialize_with = "crate::file::null_float::nan")]
    pub below: f64,
    /// Share that ran for more than its upper end.
    #[serde(deserialize_with = "crate::file::null_float::nan")]
    pub above: f64,
    /// The median width as a ratio, upper end over lower end.
    #[serde(deserialize_with = "crate::file::null_float::nan")]
    pub median_ratio: f64,
    /// The same by quartile of the estimate (shortest first).
    pub by_quartile: Vec<CoverageBin>,
}

impl IntervalCoverage {
    /// The coverage of `c`'s intervals around `estimates_s` (each
    /// already clamped to its job's limit, as a runtime clamps it; capped
    /// there, as a [`crate::FilePredictor`] caps them) of jobs that ran
    /// `actual_s` with limits `limits_s` (infinite for none); floored at
    /// `floor_s`. `None` without a job.
    pub fn of(
        c: &Conformal,
        estimates_s: &[f64],
        actual_s: &[f64],
        limits_s: &[f64],
        floor_s: f64,
    ) -> Option<Self> {
        let n = estimates_s.len().min(actual_s.len()).min(limits_s.len());
        if n == 0 {
            return None;
        }
        let mut jobs: Vec<(f64, f64, Option<Interval>)> = (0..n)
            .map(|i| {
                (
                    estimates_s[i],
                    actual_s[i],
                    c.around(estimates_s[i], floor_s, limits_s[i]),
                )
            })
            .collect();
        let share = |jobs: &[(f64, f64, Option<Interval>)], f: &dyn Fn(f64, &Interval) -> bool| {
            jobs.iter()
                .filter(|(_, a, i)| i.as_ref().is_some_and(|i| f(*a, i)))
                .count() as f64
                / jobs.len() as f64
        };
        let mut ratios: Vec<f64> = jobs
            .iter()
            .filter_map(|(_, _, i)| i.map(|i| i.hi_s / i.lo_s))
            .filter(|r| r.is_finite())
            .collect();
        ratios.sort_by(f64::total_cmp);
        let median_ratio = crate::history::median(&ratios);
        let coverage = share(&jobs, &|a, i| i.contains(a));
        let below = share(&jobs, &|a, i| a < i.lo_s);
        let above = share(&jobs, &|a, i| a > i.hi_s);
        jobs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let by_quartile = (0..4)
            .map(|q| &jobs[q * n / 4..(q + 1) * n / 4])
            .filter(|b| !b.is_empty())
            .map(|b| CoverageBin {
                n: b.len(),
                min_estimate_s: b[0].0,
                max_estimate_s: b[b.len() - 1].0,
                coverage: share(b, &|a, i| i.contains(a)),
            })
            .collect();
        Some(IntervalCoverage {
            nominal: c.nominal,
            calibration_jobs: c.n,
            n,
            coverage,
            below,
            above,
            median_ratio,
            by_quartile,
        })
    }
}

/// A sliding window of the log errors of past predictions, for a
/// predictor that calibrates itself as jobs end; the quantiles are taken
/// only when an interval is asked for, and kept until the window moves.
#[derive(Debug, Clone)]
pub struct Residuals {
    errors: VecDeque<f64>,
    capacity: usize,
    nominal: f64,
    cached: Option<Option<Conformal>>,
    scratch: Vec<f64>,
}

impl Residuals {
    /// A window of the last `capacity` errors, for nominal coverage
    /// `nominal`.
    pub fn new(capacity: usize, nominal: f64) -> Self {
        Self {
            errors: VecDeque::with_capacity(capacity.min(1 << 16)),
            capacity: capacity.max(1),
            nominal,
            cached: None,
            scratch: Vec::new(),
        }
    }

    /// A job ended: the log error of the prediction it had.
    pub fn push(&mut self, error: f64) {
        if !error.is_finite() {
            return;
        }
        if self.errors.len() == self.capacity {
            self.errors.pop_front();
        }
        self.errors.push_back(error);
        self.cached = None;
    }

    /// Errors in the window.
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// True when no error has been seen.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// The calibration of the window as it is now.
    pub fn conformal(&mut self) -> Option<Conformal> {
        if let Some(c) = self.cached {
            return c;
        }
        self.scratch.clear();
        self.scratch.extend(self.errors.iter().copied());
        let c = Conformal::from_errors(&mut self.scratch, self.nominal);
        self.cached = Some(c);
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_take_the_conformal_ranks_and_cover_as_stated() {
        // 99 errors -1.00, -0.98, ..., 0.96: (n + 1) * 0.1 = 10, * 0.9 = 90.
        let mut e: Vec<f64> = (0..99).rev().map(|i| -1.0 + 0.02 * i as f64).collect();
        let c = Conformal::from_errors(&mut e, 0.8).unwrap();
        assert_eq!(c.n, 99);
        assert!((c.q_lo - (-1.0 + 0.02 * 9.0)).abs() < 1e-12, "{c:?}");
        assert!((c.q_hi - (-1.0 + 0.02 * 89.0)).abs() < 1e-12, "{c:?}");
        let inside = e.iter().filter(|&&x| c.q_lo <= x && x <= c.q_hi).count();
        assert!(inside as f64 / 99.0 >= 0.8, "{inside}");

        let i = c.around(100.0, 1.0, f64::INFINITY).unwrap();
        assert!((i.lo_s - 100.0 * c.q_lo.exp()).abs() < 1e-9);
        assert!((i.hi_s - 100.0 * c.q_hi.exp()).abs() < 1e-9);
        let capped = c.around(100.0, 1.0, 90.0).unwrap();
        assert_eq!(capped.hi_s, 90.0);
        assert!(capped.lo_s <= capped.hi_s);
        let tiny = c.around(0.0, 1.0, 50.0).unwrap();
        assert!((tiny.lo_s - c.q_lo.exp()).abs() < 1e-12, "floored at 1 s");
    }

    #[test]
    fn too_few_or_bad_errors_give_no_interval_and_bad_files_are_refused() {
        assert_eq!(Conformal::from_errors(&mut vec![0.0; 19], 0.8), None);
        assert!(Conformal::from_errors(&mut vec![0.0; 20], 0.8).is_some());
        assert_eq!(
            Conformal::from_errors(&mut vec![0.0; 20], 0.99),
            None,
            "rank past the errors"
        );
        let mut with_nan = vec![f64::NAN; 30];
        assert_eq!(Conformal::from_errors(&mut with_nan, 0.8), None);
        assert_eq!(Conformal::from_errors(&mut vec![0.0; 50], 1.0), None);

        let good = Conformal {
            nominal: 0.8,
            q_lo: -1.0,
            q_hi: 1.0,
            n: 100,
        };
        assert!(good.check().is_ok());
        for (bad, field) in [
            (
                Conformal {
                    nominal: 1.5,
                    ..good
                },
                "nominal",
            ),
            (
                Conformal {
                    q_hi: f64::NAN,
                    ..good
                },
                "q_hi",
            ),
            (Conformal { q_lo: 2.0, ..good }, "q_lo"),
            (Conformal { n: 3, ..good }, "n"),
        ] {
            let err = bad.check().unwrap_err().to_string();
            assert!(err.contains(field) && err.contains("interval"), "{err}");
        }
    }

    #[test]
    fn coverage_counts_jobs_inside_below_and_above_by_quartile() {
        let c = Conformal {
            nominal: 0.8,
            q_lo: -(2f64.ln()),
            q_hi: 2f64.ln(),
            n: 100,
        };
        // Estimates 10..=80 s; intervals [p / 2, 2 p].
        let est: Vec<f64> = (1..=8).map(|i| 10.0 * i as f64).collect();
        let actual = [10.0, 4.0, 30.0, 100.0, 50.0, 60.0, 70.0, 80.0];
        let limits = [f64::INFINITY; 8];
        let cov = IntervalCoverage::of(&c, &est, &actual, &limits, 1.0).unwrap();
        assert_eq!(cov.n, 8);
        assert_eq!(
            (cov.coverage, cov.below, cov.above),
            (6.0 / 8.0, 1.0 / 8.0, 1.0 / 8.0)
        );
        assert!((cov.median_ratio - 4.0).abs() < 1e-9);
        let bins: Vec<(usize, f64)> = cov.by_quartile.iter().map(|b| (b.n, b.coverage)).collect();
        assert_eq!(bins, vec![(2, 0.5), (2, 0.5), (2, 1.0), (2, 1.0)]);
        assert_eq!(
            (
                cov.by_quartile[1].min_estimate_s,
                cov.by_quartile[1].max_estimate_s
            ),
            (30.0, 40.0)
        );
        // A limit caps the upper end: 85 s is above the capped [40, 82].
        let capped = IntervalCoverage::of(&c, &[80.0], &[85.0], &[82.0], 1.0).unwrap();
        assert_eq!(capped.above, 1.0);
        assert_eq!(IntervalCoverage::of(&c, &[], &[], &[], 1.0), None);
    }

    #[test]
    fn the_window_slides_and_recomputes_only_when_it_moves() {
        let mut r = Residuals::new(50, 0.8);
        assert!(r.is_empty());
        for i in 0..19 {
            r.push(i as f64);
        }
        assert_eq!(r.conformal(), None);
        r.push(f64::NAN);
        assert_eq!(r.len(), 19, "a non-finite error is not kept");
        for i in 0..100 {
            r.push(10.0 + (i % 10) as f64);
        }
        assert_eq!(r.len(), 50);
        let c = r.conformal().unwrap();
        assert!(c.q_lo >= 10.0 && c.q_hi <= 19.0, "only the last 50: {c:?}");
        assert_eq!(r.conformal(), Some(c));
    }
}
