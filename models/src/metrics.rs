//! Prediction metrics: mean absolute error, median absolute percentage
//! error, the accuracy of the backfilling literature (mean of
//! `min(p, r) / max(p, r)`), the under-prediction rate, a calibration table,
//! the same per user, and the AUC of a score against 0/1 outcomes.

use crate::history::median;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Users kept in a per-user table (those with the most jobs).
pub const MAX_USERS: usize = 50;

/// One bin of a calibration table: jobs grouped by predicted runtime.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CalibrationBin {
    /// Jobs in the bin.
    pub n: usize,
    /// Median prediction in the bin, seconds.
    #[serde(deserialize_with = "crate::file::null_float::nan")]
    pub median_predicted_s: f64,
    /// Median actual runtime in the bin, seconds.
    #[serde(deserialize_with = "crate::file::null_float::nan")]
    pub median_actual_s: f64,
}

/// How well runtimes were predicted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuntimeMetrics {
    /// Jobs evaluated.
    pub n: usize,
    /// Mean absolute error, seconds.
    #[serde(deserialize_with = "crate::file::null_float::nan")]
    pub mae_s: f64,
    /// Median of `|p - r| / r`, as a fraction.
    #[serde(deserialize_with = "crate::file::null_float::nan")]
    pub mdape: f64,
    /// Mean of `min(p, r) / max(p, r)`.
    #[serde(deserialize_with = "crate::file::null_float::nan")]
    pub accuracy: f64,
    /// Share of jobs predicted to end before they did.
    #[serde(deserialize_with = "crate::file::null_float::nan")]
    pub under_rate: f64,
    /// Five bins by predicted runtime (quintiles).
    pub calibration: Vec<CalibrationBin>,
}

impl RuntimeMetrics {
    /// Metrics of predictions `p` against runtimes `r` (same length), both
    /// floored at the trace's resolution `floor_s` (SWF logs have zero
    /// runtimes).
    pub fn of(p: &[f64], r: &[f64], floor_s: f64) -> RuntimeMetrics {
        let n = p.len().min(r.len());
        let pairs: Vec<(f64, f64)> = p.iter().zip(r).map(|(p, r)| (p.max(floor_s), r.max(floor_s))).collect();
        let mean = |f: &dyn Fn(&(f64, f64)) -> f64| if n == 0 { f64::NAN } else { pairs.iter().map(f).sum::<f64>() / n as f64 };
        let ape: Vec<f64> = pairs.iter().map(|(p, r)| (p - r).abs() / r).collect();
        let mut sorted = pairs.clone();
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
        let calibration = (0..5)
            .filter_map(|q| {
                let bin = &sorted[q * n / 5..(q + 1) * n / 5];
                (!bin.is_empty()).then(|| CalibrationBin {
                    n: bin.len(),
                    median_predicted_s: median(&bin.iter().map(|x| x.0).collect::<Vec<_>>()),
                    median_actual_s: median(&bin.iter().map(|x| x.1).collect::<Vec<_>>()),
                })
            })
            .collect();
        RuntimeMetrics {
            n,
            mae_s: mean(&|(p, r)| (p - r).abs()),
            mdape: median(&ape),
            accuracy: mean(&|(p, r)| p.min(*r) / p.max(*r)),
            under_rate: mean(&|(p, r)| f64::from(p < r)),
            calibration,
        }
    }
}

/// Accuracy, median absolute percentage error and under-prediction rate of
/// one group of jobs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ErrorSummary {
    /// Mean of `min(p, r) / max(p, r)`.
    #[serde(deserialize_with = "crate::file::null_float::nan")]
    pub accuracy: f64,
    /// Median of `|p - r| / r`, as a fraction.
    #[serde(deserialize_with = "crate::file::null_float::nan")]
    pub mdape: f64,
    /// Share of jobs predicted to end before they did.
    #[serde(deserialize_with = "crate::file::null_float::nan")]
    pub under_rate: f64,
}

impl ErrorSummary {
    /// The summary of predictions `p` against runtimes `r`, floored as in
    /// [`RuntimeMetrics::of`]; NaN when there are no jobs.
    pub fn of(p: &[f64], r: &[f64], floor_s: f64) -> ErrorSummary {
        let pairs: Vec<(f64, f64)> = p.iter().zip(r).map(|(p, r)| (p.max(floor_s), r.max(floor_s))).collect();
        let n = pairs.len();
        let mean = |f: &dyn Fn(&(f64, f64)) -> f64| if n == 0 { f64::NAN } else { pairs.iter().map(f).sum::<f64>() / n as f64 };
        ErrorSummary {
            accuracy: mean(&|(p, r)| p.min(*r) / p.max(*r)),
            mdape: median(&pairs.iter().map(|(p, r)| (p - r).abs() / r).collect::<Vec<_>>()),
            under_rate: mean(&|(p, r)| f64::from(p < r)),
        }
    }
}

/// One user's test jobs, predicted by the model and by EASY++.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserAccuracy {
    /// The user (`(none)` for jobs without one).
    pub user: String,
    /// The user's test jobs.
    pub jobs: usize,
    /// The model's errors on them.
    pub model: ErrorSummary,
    /// EASY++'s errors on them.
    pub easy_plus_plus: ErrorSummary,
}

/// Per-user errors of the model's predictions `model` and EASY++'s `easy`
/// against runtimes `actual` (all aligned with `users`): the [`MAX_USERS`]
/// users with the most jobs, most first, ties by name.
pub fn by_user(users: &[&str], model: &[f64], easy: &[f64], actual: &[f64], floor_s: f64) -> Vec<UserAccuracy> {
    let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, u) in users.iter().enumerate().take(actual.len()) {
        groups.entry(u).or_default().push(i);
    }
    let pick = |v: &[f64], idx: &[usize]| idx.iter().map(|&i| v[i]).collect::<Vec<_>>();
    let mut out: Vec<UserAccuracy> = groups
        .into_iter()
        .map(|(user, idx)| {
            let r = pick(actual, &idx);
            UserAccuracy {
                user: user.to_string(),
                jobs: idx.len(),
                model: ErrorSummary::of(&pick(model, &idx), &r, floor_s),
                easy_plus_plus: ErrorSummary::of(&pick(easy, &idx), &r, floor_s),
            }
        })
        .collect();
    out.sort_by(|a, b| b.jobs.cmp(&a.jobs).then_with(|| a.user.cmp(&b.user)));
    out.truncate(MAX_USERS);
    out
}

/// The area under the ROC curve of `scores` for `labels` (ties count
/// half); NaN when a class is absent.
pub fn auc(scores: &[f64], labels: &[bool]) -> f64 {
    let mut idx: Vec<usize> = (0..scores.len().min(labels.len())).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut i) = (0.0, 0);
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += idx[i..=j].iter().filter(|&&k| labels[k]).count() as f64 * avg_rank;
        i = j + 1;
    }
    let pos = idx.iter().filter(|&&k| labels[k]).count() as f64;
    let neg = idx.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 { f64::NAN } else { (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_match_hand_computed_values() {
        let m = RuntimeMetrics::of(&[10.0, 50.0, 300.0], &[20.0, 50.0, 100.0], 1.0);
        assert_eq!(m.n, 3);
        assert!((m.mae_s - 70.0).abs() < 1e-9);
        assert!((m.mdape - 0.5).abs() < 1e-9);
        assert!((m.accuracy - (0.5 + 1.0 + 1.0 / 3.0) / 3.0).abs() < 1e-9);
        assert!((m.under_rate - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]), 0.75);
        assert_eq!(auc(&[1.0, 1.0], &[true, false]), 0.5);
        assert!(auc(&[1.0], &[true]).is_nan());
    }

    #[test]
    fn per_user_errors_group_and_order_by_jobs() {
        let users = ["bob", "alice", "bob", "bob"];
        let u = by_user(&users, &[10.0, 5.0, 20.0, 40.0], &[20.0, 5.0, 20.0, 20.0], &[20.0, 10.0, 20.0, 20.0], 1.0);
        assert_eq!(u.iter().map(|u| (u.user.as_str(), u.jobs)).collect::<Vec<_>>(), [("bob", 3), ("alice", 1)]);
        assert!((u[0].model.accuracy - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!((u[0].model.mdape, u[0].model.under_rate), (0.5, 1.0 / 3.0));
        assert_eq!(u[0].easy_plus_plus, ErrorSummary { accuracy: 1.0, mdape: 0.0, under_rate: 0.0 });
        assert_eq!(u[1].model.under_rate, 1.0);
    }
}
