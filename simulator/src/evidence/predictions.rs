//! How good a run's runtime predictions were: each job's estimate at
//! submission (as the engine recorded it) against the runtime it then had,
//! overall, per user, as a histogram of error factors and as a sample of
//! points for a scatter plot.

use crate::engine::SimResult;
use crate::workload::Workload;
use serde::{Deserialize, Serialize};

/// At most this many points in the scatter sample.
const SCATTER_POINTS: usize = 1500;
/// Runtimes and estimates below this count as this (seconds), so that
/// ratios stay finite.
const FLOOR_S: f64 = 0.01;
/// Upper edges of the error-factor bins (estimate / runtime) and their names.
const FACTOR_BINS: [(f64, &str); 8] = [
    (0.125, "< 1/8x"),
    (0.25, "1/8-1/4x"),
    (0.5, "1/4-1/2x"),
    (1.0, "1/2-1x"),
    (2.0, "1-2x"),
    (4.0, "2-4x"),
    (8.0, "4-8x"),
    (f64::INFINITY, ">= 8x"),
];

/// Prediction quality of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionEvidence {
    /// Jobs with an estimate.
    pub jobs: u64,
    /// Mean of `min(estimate, runtime) / max(estimate, runtime)` (1 is perfect).
    pub accuracy: f64,
    /// Share of jobs whose estimate was below their runtime.
    pub under_rate: f64,
    /// Jobs per error factor (estimate / runtime), in [`FACTOR_BINS`] order.
    pub error_factors: Vec<FactorBin>,
    /// Per user, sorted by name.
    pub by_user: Vec<UserAccuracy>,
    /// `(estimate, runtime)` in seconds for an evenly spaced sample of jobs.
    pub scatter: Vec<(f64, f64)>,
}

/// Jobs whose error factor fell in one bin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FactorBin {
    /// The bin, e.g. `1-2x` (estimate between one and two times the runtime).
    pub bin: String,
    /// Jobs in it.
    pub jobs: u64,
}

/// One user's prediction quality.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserAccuracy {
    /// User name.
    pub name: String,
    /// Their jobs with an estimate.
    pub jobs: u64,
    /// Mean accuracy, as [`PredictionEvidence::accuracy`].
    pub accuracy: f64,
    /// Share under-predicted.
    pub under_rate: f64,
}

/// The prediction quality of run `r` over `w`.
pub(super) fn predictions(w: &Workload, r: &SimResult) -> PredictionEvidence {
    let runtimes = w.effective_runtimes();
    let pairs: Vec<(usize, f64, f64)> = r
        .outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| o.estimate_s.is_finite())
        .map(|(k, o)| (k, o.estimate_s.max(FLOOR_S), runtimes[k].max(FLOOR_S)))
        .collect();
    let (accuracy, under_rate) = quality(pairs.iter().map(|p| (p.1, p.2)));
    let mut error_factors: Vec<FactorBin> = FACTOR_BINS.iter().map(|(_, n)| FactorBin { bin: n.to_string(), jobs: 0 }).collect();
    for &(_, p, a) in &pairs {
        let bin = FACTOR_BINS.iter().position(|(hi, _)| p / a < *hi).unwrap_or(FACTOR_BINS.len() - 1);
        error_factors[bin].jobs += 1;
    }
    let mut per_user: Vec<Vec<(f64, f64)>> = vec![Vec::new(); w.names.users.len()];
    for &(k, p, a) in &pairs {
        per_user[w.jobs[k].info.user as usize].push((p, a));
    }
    let mut by_user: Vec<UserAccuracy> = per_user
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.is_empty())
        .map(|(u, v)| {
            let (accuracy, under_rate) = quality(v.iter().copied());
            UserAccuracy { name: w.names.users.name(u as u32).to_string(), jobs: v.len() as u64, accuracy, under_rate }
        })
        .collect();
    by_user.sort_by(|a, b| a.name.cmp(&b.name));
    let stride = pairs.len().div_ceil(SCATTER_POINTS).max(1);
    let scatter = pairs.iter().step_by(stride).map(|&(_, p, a)| (p, a)).collect();
    PredictionEvidence { jobs: pairs.len() as u64, accuracy, under_rate, error_factors, by_user, scatter }
}

/// Mean accuracy and under-prediction rate of `(estimate, runtime)` pairs.
fn quality(pairs: impl Iterator<Item = (f64, f64)>) -> (f64, f64) {
    let (mut n, mut acc, mut under) = (0usize, 0.0, 0usize);
    for (p, a) in pairs {
        n += 1;
        acc += p.min(a) / p.max(a);
        under += usize::from(p < a);
    }
    if n == 0 { (0.0, 0.0) } else { (acc / n as f64, under as f64 / n as f64) }
}
