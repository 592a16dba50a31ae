//! The canonical job table in memory: jobs plus the trace's metadata.

use crate::reject::SkipReport;
use foresight_core::{Job, TraceMeta};

/// A trace read into canonical form: the table of `DESIGN.md`, one [`Job`]
/// per row, in the order the trace lists them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobTable {
    /// What the trace says about its machine and epoch.
    pub meta: TraceMeta,
    /// One row per job attempt.
    pub jobs: Vec<Job>,
}

/// The result of reading a trace: the table and what was skipped.
#[derive(Debug, Clone, Default)]
pub struct Ingested {
    /// The jobs read.
    pub table: JobTable,
    /// The lines skipped (always empty under `--strict`).
    pub skipped: SkipReport,
}

impl JobTable {
    /// The feature names used by any job, sorted.
    pub fn feature_names(&self) -> Vec<String> {
        let mut names: Vec<String> =
            self.jobs.iter().flat_map(|j| j.features.keys().cloned()).collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}

impl JobTable {
    /// Makes job times relative to the first submission and records that
    /// submission's absolute time as the epoch (for logs in Unix seconds).
    pub fn rebase_to_first_submit(&mut self) {
        let epoch = self.jobs.iter().map(|j| j.submit_s).fold(f64::INFINITY, f64::min);
        if !epoch.is_finite() {
            return;
        }
        for job in &mut self.jobs {
            job.submit_s -= epoch;
            job.start_s = job.start_s.map(|t| t - epoch);
            job.end_s = job.end_s.map(|t| t - epoch);
        }
        self.meta.epoch_unix_s = Some(self.meta.epoch_unix_s.unwrap_or(0.0) + epoch);
    }

    /// Gives every feature one type across the table: numeric when every
    /// value of that feature parses as a finite number, text otherwise.
    pub fn type_features(&mut self) {
        use foresight_core::FeatureValue;
        for name in self.feature_names() {
            let numeric = self.jobs.iter().filter_map(|j| j.features.get(&name)).all(|v| match v {
                FeatureValue::Num(_) => true,
                FeatureValue::Text(t) => t.parse::<f64>().is_ok_and(f64::is_finite),
            });
            for job in &mut self.jobs {
                let Some(v) = job.features.get_mut(&name) else { continue };
                *v = match (&*v, numeric) {
                    (FeatureValue::Text(t), true) => FeatureValue::Num(t.parse().unwrap_or(f64::NAN)),
                    (FeatureValue::Num(x), false) => FeatureValue::Text(x.to_string()),
                    _ => continue,
                };
            }
        }
    }
}
