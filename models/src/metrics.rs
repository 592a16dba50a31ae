//! Prediction metrics: mean absolute error, median absolute percentage
//! error, the accuracy of the backfilling literature (mean of
//! `min(p, r) / max(p, r)`), the under-prediction rate, a calibration table,
//! and the AUC of a score against 0/1 outcomes.

use crate::history::median;
use serde::{Deserialize, Serialize};

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
}
