//! The acting half of the controller: modes, operators' credentials, the
//! gates and site factors it keeps in the orchestrator, advise mode's
//! proposals, and what a restart reads back from the log.
//!
//! Mechanisms, one per decision (docs/enforce.md says them to admins):
//! - *when a job may start*: a gate, Slurm's `BeginTime` set a lease ahead
//!   (`StartTime=now+LEASE`) and renewed while foresight lives; lifted
//!   (`StartTime=now`) when the candidate starts the job. Slurm lets an
//!   unrenewed lease lapse by itself: the dead-man switch.
//! - *in what order the jobs let through start*: `SiteFactor`, which Slurm
//!   adds to its multifactor sum (fair share and age keep working);
//!   restored to 0 when foresight lets go.
//! - nothing else: no hold (it would outlive foresight), no `Priority=`
//!   (it freezes the job's priority), and never a time limit.

pub mod actor;
pub mod api;
pub mod auth;
pub mod gate;
pub mod ledger;

use serde::{Deserialize, Serialize};

/// How far the controller goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Watch and record; never act.
    Shadow,
    /// Publish the candidate's decisions as proposals; act only on an
    /// operator's approval.
    Advise,
    /// Carry out the candidate's decisions through the adapter.
    Enforce,
}

/// A mode name that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown mode `{0}`: shadow, advise or enforce")]
pub struct UnknownMode(pub String);

impl std::str::FromStr for Mode {
    type Err = UnknownMode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "shadow" => Ok(Mode::Shadow),
            "advise" => Ok(Mode::Advise),
            "enforce" => Ok(Mode::Enforce),
            other => Err(UnknownMode(other.to_string())),
        }
    }
}

impl Mode {
    /// Its name, as the log and the command line write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Shadow => "shadow",
            Mode::Advise => "advise",
            Mode::Enforce => "enforce",
        }
    }

    /// Its gauge value: 0 shadow, 1 advise, 2 enforce.
    pub fn gauge(self) -> i64 {
        match self {
            Mode::Shadow => 0,
            Mode::Advise => 1,
            Mode::Enforce => 2,
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The mark the site's `job_submit.lua` writes into a job's admin comment
/// when it puts the job under foresight's control.
pub const MARK: &str = "foresight";

/// Which jobs foresight may act on: those the site's `job_submit.lua`
/// marked, and those in the partitions or QOS given here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Control {
    /// Partitions whose jobs are controlled.
    pub partitions: Vec<String>,
    /// QOS whose jobs are controlled.
    pub qos: Vec<String>,
}

impl Control {
    /// True when the job was marked by `job_submit.lua`.
    pub fn marked(job: &crate::adapter::JobView) -> bool {
        job.control.admin_comment.as_deref().is_some_and(|c| c.split([',', ' ']).any(|w| w == MARK))
    }

    /// True when foresight may act on the job.
    pub fn controls(&self, job: &crate::adapter::JobView) -> bool {
        Self::marked(job)
            || job.job.queue.as_deref().is_some_and(|p| self.partitions.iter().any(|x| x == p))
            || job.control.qos.as_deref().is_some_and(|q| self.qos.iter().any(|x| x == q))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_print_and_a_wrong_one_is_refused() {
        for m in [Mode::Shadow, Mode::Advise, Mode::Enforce] {
            assert_eq!(m.as_str().parse::<Mode>().unwrap(), m);
            assert_eq!(serde_json::to_value(m).unwrap(), m.as_str());
        }
        assert_eq!("act".parse::<Mode>().unwrap_err(), UnknownMode("act".into()));
    }
}
