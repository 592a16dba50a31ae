//! The canonical job: one row of the job table described in `DESIGN.md`.

use crate::resources::Resources;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// How a job ended, normalised across trace formats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Ran to the end and exited successfully.
    Completed,
    /// Ran and failed (non-zero exit, out of memory, node failure).
    Failed,
    /// Cancelled by a user or an administrator, before or while running.
    Cancelled,
    /// Killed because it reached its time limit.
    Timeout,
    /// The trace does not say.
    #[default]
    Unknown,
}

impl JobStatus {
    /// Every status, in a fixed order (for tables and reports).
    pub const ALL: [JobStatus; 5] = [
        JobStatus::Completed,
        JobStatus::Failed,
        JobStatus::Cancelled,
        JobStatus::Timeout,
        JobStatus::Unknown,
    ];

    /// The lowercase name used in the job table.
    pub fn as_str(&self) -> &'static str {
        match self {
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
            JobStatus::Timeout => "timeout",
            JobStatus::Unknown => "unknown",
        }
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing a [`JobStatus`] from a name that is not one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownStatus(pub String);

impl fmt::Display for UnknownStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown job status `{}` (expected completed, failed, cancelled, timeout or unknown)", self.0)
    }
}

impl std::error::Error for UnknownStatus {}

impl FromStr for JobStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_string()))
    }
}

/// A submitted feature of a job that is not a canonical column, such as a
/// GPU job's `d_model` or `dtype`: a number or a piece of text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FeatureValue {
    /// A numeric feature.
    Num(f64),
    /// A textual (categorical) feature.
    Text(String),
}

/// One job attempt: one row of the canonical job table.
///
/// Times are seconds from the trace's epoch ([`crate::TraceMeta::epoch_unix_s`]).
/// Every field a trace does not give is `None` (null), never a magic number.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Job {
    /// Identifier, unique within the trace together with `attempt`.
    pub job_id: String,
    /// Attempt number, from 0; a retried job is a second row with attempt 1.
    pub attempt: u32,
    /// Who submitted it.
    pub user: Option<String>,
    /// The user's group or account.
    pub group: Option<String>,
    /// Queue, partition or virtual cluster.
    pub queue: Option<String>,
    /// Job name or command.
    pub name: Option<String>,
    /// Submission time.
    pub submit_s: f64,
    /// Start time; `None` if it never ran.
    pub start_s: Option<f64>,
    /// End time; `None` if it never ran or has not ended.
    pub end_s: Option<f64>,
    /// `end - start`, when both are known.
    pub runtime_s: Option<f64>,
    /// Requested GPUs.
    pub req_gpus: Option<u32>,
    /// Requested CPUs (processors).
    pub req_cpus: Option<u32>,
    /// Requested nodes.
    pub req_nodes: Option<u32>,
    /// Requested memory in MiB (total for the job).
    pub req_mem_mb: Option<u64>,
    /// The user's time limit or estimate; the kill limit.
    pub req_time_s: Option<f64>,
    /// How the job ended.
    pub status: JobStatus,
    /// Priority, as the source defines it.
    pub priority: Option<i64>,
    /// GPU model, when known.
    pub gpu_type: Option<String>,
    /// Jobs that must finish before this one may start.
    pub depends_on: Vec<String>,
    /// Constraints and governance tags (node selectors, data residency, ...).
    pub labels: BTreeMap<String, String>,
    /// Submitted features kept from formats that have them (GPU job logs).
    pub features: BTreeMap<String, FeatureValue>,
}

impl Job {
    /// What the job asks for in total, with unknown components as zero.
    /// A job that states no CPU and no GPU counts as one CPU.
    pub fn requested(&self) -> Resources {
        let cpus = self.req_cpus.unwrap_or(0);
        let gpus = self.req_gpus.unwrap_or(0);
        Resources {
            cpus: if cpus == 0 && gpus == 0 { 1 } else { cpus },
            gpus,
            mem_mb: self.req_mem_mb.unwrap_or(0),
        }
    }

    /// True when the job has a start and an end, so a runtime.
    pub fn ran(&self) -> bool {
        self.start_s.is_some() && self.end_s.is_some()
    }

    /// Time spent waiting in the queue, when the job started.
    pub fn wait_s(&self) -> Option<f64> {
        self.start_s.map(|s| s - self.submit_s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_round_trip() {
        for st in JobStatus::ALL {
            assert_eq!(st.as_str().parse::<JobStatus>(), Ok(st));
        }
        let err = "done".parse::<JobStatus>().unwrap_err();
        assert!(err.to_string().contains("`done`"));
    }

    #[test]
    fn requested_defaults_to_one_cpu() {
        let job = Job::default();
        assert_eq!(job.requested(), Resources::new(1, 0, 0));
        let gpu_job = Job { req_gpus: Some(2), ..Job::default() };
        assert_eq!(gpu_job.requested(), Resources::new(0, 2, 0));
    }

    #[test]
    fn wait_is_start_minus_submit() {
        let job = Job { submit_s: 10.0, start_s: Some(25.0), ..Job::default() };
        assert_eq!(job.wait_s(), Some(15.0));
        assert!(!job.ran());
    }
}
