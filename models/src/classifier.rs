//! Will this job fail or hit its limit? A boosted-tree classifier on the
//! same feature rows as the runtime models, judged by AUC against the
//! user-history baseline (the user's past share of such jobs).

use crate::features::Schema;
use crate::gbt::{Gbt, GbtParams, Loss};
use crate::history::failed_or_timed_out;
use crate::invalid::{InvalidModel, Problem};
use crate::metrics::auc;
use foresight_core::Job;
use serde::{Deserialize, Serialize};

/// The classifier's and its baseline's AUC on test jobs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClassifierMetrics {
    /// Test jobs.
    pub n: usize,
    /// Share of them that failed or timed out.
    #[serde(deserialize_with = "crate::file::null_float::nan")]
    pub positive_rate: f64,
    /// AUC of the classifier.
    #[serde(deserialize_with = "crate::file::null_float::nan")]
    pub auc: f64,
    /// AUC of the user's past failure/time-out share.
    #[serde(deserialize_with = "crate::file::null_float::nan")]
    pub baseline_auc: f64,
}

/// A trained failure/time-out classifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureModel {
    model: Gbt,
    /// The training share of failed or timed-out jobs.
    #[serde(deserialize_with = "crate::file::null_float::nan")]
    pub base_rate: f64,
}

fn label(job: &Job) -> bool {
    failed_or_timed_out(job, job.runtime_s.unwrap_or(0.0))
}

impl FailureModel {
    /// Trains on the rows `train` of `jobs`; `None` when they hold a single
    /// class (nothing to learn).
    pub fn train(jobs: &[Job], train: &[usize], rows: &[Vec<f64>]) -> Option<FailureModel> {
        let y: Vec<f64> = train.iter().map(|&i| f64::from(label(&jobs[i]))).collect();
        let base_rate = y.iter().sum::<f64>() / y.len().max(1) as f64;
        if base_rate <= 0.0 || base_rate >= 1.0 {
            return None;
        }
        let x: Vec<Vec<f64>> = train.iter().map(|&i| rows[i].clone()).collect();
        let params = GbtParams { loss: Loss::Logistic, ..GbtParams::default() };
        Some(FailureModel { model: Gbt::fit(&x, &y, &params), base_rate })
    }

    /// Checks a classifier read from a file against rows `width` wide:
    /// its trees (as a runtime model's) and its loss, which must be the
    /// logistic one for its scores to be probabilities.
    pub(crate) fn check(&self, width: usize) -> Result<(), InvalidModel> {
        self.model.check(width).map_err(|p| InvalidModel::new("failure.model", p))?;
        if self.model.loss() != Loss::Logistic {
            let problem = Problem::Mismatch { found: format!("loss {:?}", self.model.loss()), expected: "the logistic loss".into() };
            return Err(InvalidModel::new("failure.model", problem));
        }
        Ok(())
    }

    /// The probability that a job with this row fails or times out.
    pub fn predict(&self, row: &[f64]) -> f64 {
        self.model.predict_proba(row)
    }

    /// AUC on the rows `test` of `jobs`, and the baseline's.
    pub fn evaluate(&self, schema: &Schema, jobs: &[Job], test: &[usize], rows: &[Vec<f64>]) -> ClassifierMetrics {
        let labels: Vec<bool> = test.iter().map(|&i| label(&jobs[i])).collect();
        let scores: Vec<f64> = test.iter().map(|&i| self.predict(&rows[i])).collect();
        let col = schema.history_offset() + 16;
        let baseline: Vec<f64> =
            test.iter().map(|&i| Some(rows[i][col]).filter(|v| v.is_finite()).unwrap_or(self.base_rate)).collect();
        ClassifierMetrics {
            n: test.len(),
            positive_rate: labels.iter().filter(|l| **l).count() as f64 / labels.len().max(1) as f64,
            auc: auc(&scores, &labels),
            baseline_auc: auc(&baseline, &labels),
        }
    }
}
