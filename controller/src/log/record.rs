//! The records of the decision log: what the controller saw, what the
//! baseline did, what the candidate would do, the predictions behind it and
//! the model version. Each is one JSON object with a `kind` tag.

use foresight_core::predictor::Interval;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One entry of the decision log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Position in the log, from 0, increasing by one across restarts and
    /// rotations; a gap means records were lost.
    pub seq: u64,
    /// Wall-clock time it was written, Unix seconds.
    pub ts_unix_s: f64,
    /// What it says.
    #[serde(flatten)]
    pub body: Body,
}

/// The kinds of record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Body {
    /// The controller started (or restarted and resumed the log).
    Start(StartRecord),
    /// One decision cycle.
    Cycle(CycleRecord),
    /// A job finished: its prediction error and counterfactual start.
    Finished(FinishedRecord),
    /// The circuit breaker changed state.
    Breaker(BreakerRecord),
    /// The orchestrator became unreachable, or reachable again.
    Outage(OutageRecord),
    /// A model was loaded (or failed to load) while running.
    Model(ModelRecord),
    /// The controller stopped cleanly.
    Stop(StopRecord),
    /// An operator switched the mode, or was refused.
    Mode(ModeRecord),
    /// An action on the orchestrator, written before it is taken.
    Action(ActionRecord),
    /// What came of an action, written after it was taken (or found out
    /// when a restart reconciled the log with the orchestrator).
    Outcome(OutcomeRecord),
    /// An advise-mode proposal, or an operator's verdict on one.
    Advice(AdviceRecord),
}

impl Body {
    /// The `kind` tag of this body, as written in the JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            Body::Start(_) => "start",
            Body::Cycle(_) => "cycle",
            Body::Finished(_) => "finished",
            Body::Breaker(_) => "breaker",
            Body::Outage(_) => "outage",
            Body::Model(_) => "model",
            Body::Stop(_) => "stop",
            Body::Mode(_) => "mode",
            Body::Action(_) => "action",
            Body::Outcome(_) => "outcome",
            Body::Advice(_) => "advice",
        }
    }

    /// True when the record concerns the job `job_id`.
    pub fn mentions_job(&self, job_id: &str) -> bool {
        match self {
            Body::Cycle(c) => {
                c.changes.iter().any(|ch| ch.job_id == job_id)
                    || c.predictions.contains_key(job_id)
                    || [&c.actual, &c.baseline, &c.candidate].into_iter().flatten().any(|d| d.mentions(job_id))
            }
            Body::Finished(f) => f.job_id == job_id,
            Body::Action(a) => a.job_ids.iter().any(|j| j == job_id),
            Body::Advice(a) => a.job_id == job_id,
            _ => false,
        }
    }
}

/// The controller's start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartRecord {
    /// `shadow`, `advise` or `enforce`.
    pub mode: String,
    /// The candidate policy's name.
    pub policy: String,
    /// The baseline policy's name.
    pub baseline: String,
    /// The model's version, when one was loaded.
    pub model_version: Option<String>,
    /// The orchestrator adapter (`slurm`, ...).
    pub orchestrator: String,
    /// True when an existing log was resumed.
    pub resumed: bool,
    /// Bytes of a torn tail cut off when the log was resumed.
    pub torn_bytes_dropped: u64,
}

/// What happened to a job between two observations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// It appeared in the queue.
    Submitted,
    /// The orchestrator started it.
    Started,
    /// It left the running set (finished, failed, cancelled).
    Finished,
    /// It left the queue without running (cancelled while pending).
    Withdrawn,
}

impl ChangeKind {
    /// Its name in the log, as serde writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Submitted => "submitted",
            ChangeKind::Started => "started",
            ChangeKind::Finished => "finished",
            ChangeKind::Withdrawn => "withdrawn",
        }
    }
}

/// One scheduling change the controller observed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The job.
    pub job_id: String,
    /// What happened to it.
    pub what: ChangeKind,
}

/// A job started on nodes, by the orchestrator or by a policy's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// The job.
    pub job_id: String,
    /// The nodes it runs (or would run) on.
    pub nodes: Vec<String>,
}

/// A scheduling decision in the log's words: starts and preemptions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionSummary {
    /// Jobs started now, with their nodes.
    pub start: Vec<Placement>,
    /// Running jobs preempted.
    pub preempt: Vec<String>,
}

impl DecisionSummary {
    /// True when the decision names the job.
    pub fn mentions(&self, job_id: &str) -> bool {
        self.start.iter().any(|p| p.job_id == job_id) || self.preempt.iter().any(|j| j == job_id)
    }

    /// The started job ids, in order.
    pub fn started_ids(&self) -> Vec<&str> {
        self.start.iter().map(|p| p.job_id.as_str()).collect()
    }
}

/// Which policy's decision the controller stood behind in a cycle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The candidate with its predictor.
    Candidate,
    /// The baseline, because the breaker is open or the model failed.
    #[default]
    Fallback,
}

impl Source {
    /// Its name in the log and the metrics, as serde writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Candidate => "candidate",
            Source::Fallback => "fallback",
        }
    }
}

/// A size summary of the observed cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed {
    /// Nodes that can run work.
    pub nodes: usize,
    /// Jobs waiting.
    pub pending: usize,
    /// Jobs running.
    pub running: usize,
    /// Free CPUs across the usable nodes.
    pub free_cpus: u64,
}

/// One decision cycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CycleRecord {
    /// Cycle number since the controller started.
    pub cycle: u64,
    /// What woke the loop (`state_change`, `timer`, `job_finished`, ...).
    pub trigger: String,
    /// The orchestrator's time of the observation, Unix seconds.
    pub observed_at_unix_s: f64,
    /// What the controller saw.
    pub observed: Observed,
    /// Changes since the previous cycle.
    pub changes: Vec<Change>,
    /// What the orchestrator actually did since the previous cycle.
    pub actual: Option<DecisionSummary>,
    /// What the baseline policy decides on this state.
    pub baseline: Option<DecisionSummary>,
    /// What the candidate would do; `None` when it was not asked or failed.
    pub candidate: Option<DecisionSummary>,
    /// Whose decision stands this cycle.
    pub source: Source,
    /// Why the candidate was not used, when it was not.
    pub fallback_reason: Option<String>,
    /// Predicted runtimes (seconds) behind the candidate's decision, by job.
    pub predictions: BTreeMap<String, f64>,
    /// The interval the model gave beside each prediction that has one, by
    /// job (its nominal coverage is the model's: see its file). Absent
    /// when none has one, and in logs written before intervals were kept.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub intervals: BTreeMap<String, Interval>,
    /// The model version behind the predictions.
    pub model_version: Option<String>,
    /// How long the cycle's decision took, microseconds.
    pub latency_us: u64,
}

/// A finished job measured against its prediction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinishedRecord {
    /// The job.
    pub job_id: String,
    /// Submission, start and end, Unix seconds, as the orchestrator says.
    pub submit_unix_s: f64,
    /// When it really started.
    pub start_unix_s: f64,
    /// When it really ended.
    pub end_unix_s: f64,
    /// The measured runtime.
    pub runtime_s: f64,
    /// The last runtime predicted for it before it started, if any.
    pub predicted_runtime_s: Option<f64>,
    /// The interval given beside that prediction, if the model gave one
    /// (absent in logs written before intervals were kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted_interval: Option<Interval>,
    /// `predicted - actual`, seconds (positive: overestimated).
    pub error_s: Option<f64>,
    /// When the candidate would first have started it, Unix seconds.
    pub candidate_start_unix_s: Option<f64>,
    /// `candidate start - actual start`, seconds (negative: earlier).
    pub counterfactual_delta_s: Option<f64>,
    /// Model version of the prediction.
    pub model_version: Option<String>,
}

/// A transition of the circuit breaker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerRecord {
    /// State before.
    pub from: String,
    /// State after.
    pub to: String,
    /// Why.
    pub reason: String,
}

/// The orchestrator's reachability changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutageRecord {
    /// False when it went away, true when it came back.
    pub reachable: bool,
    /// The error that was seen, when it went away.
    pub error: Option<String>,
    /// How long it was away, when it came back.
    pub down_s: Option<f64>,
}

/// A model (re)load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelRecord {
    /// The file it came from.
    pub path: String,
    /// Its version, when it loaded.
    pub version: Option<String>,
    /// Why it did not load, when it did not.
    pub error: Option<String>,
}

/// A clean stop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopRecord {
    /// Why (signal, end of input, ...).
    pub reason: String,
    /// Cycles run since start.
    pub cycles: u64,
}

/// A mode switch asked by an operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModeRecord {
    /// The mode before.
    pub from: String,
    /// The mode asked for.
    pub to: String,
    /// Who asked: the token's name, or `unauthenticated`.
    pub by: String,
    /// False when the switch was refused (then the mode stayed `from`).
    pub accepted: bool,
    /// Why it was refused, when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What an action does to its jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "act", rename_all = "snake_case")]
pub enum Act {
    /// Gate: the jobs may not start for `lease_s` (Slurm: `BeginTime`).
    Gate {
        /// The lease, seconds from when it is taken.
        lease_s: u64,
    },
    /// Lift the gate: the jobs may start now.
    Lift,
    /// Set the site factor of the jobs' priority (0 restores Slurm's own).
    SiteFactor {
        /// The value.
        value: i64,
    },
}

impl Act {
    /// A short name for logs and metrics (`gate`, `lift`, `site_factor`).
    pub fn name(&self) -> &'static str {
        match self {
            Act::Gate { .. } => "gate",
            Act::Lift => "lift",
            Act::SiteFactor { .. } => "site_factor",
        }
    }
}

/// An action, as intended: written before it is taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRecord {
    /// Its number, increasing across restarts; its outcome names it.
    pub id: u64,
    /// What it does.
    #[serde(flatten)]
    pub act: Act,
    /// The jobs it does it to (one batched command).
    pub job_ids: Vec<String>,
    /// Why (`enforce`, `breaker_open`, `shutdown`, `mode`, `approved`, ...).
    pub why: String,
}

/// What came of an action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeRecord {
    /// The action's id.
    pub id: u64,
    /// True when it took effect.
    pub ok: bool,
    /// The orchestrator's error, when it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// True when a restart found it out from the orchestrator (the run
    /// that took it stopped before writing its outcome).
    #[serde(default)]
    pub reconciled: bool,
}

/// The verdicts of advise mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The candidate proposes to start the job now.
    Proposed,
    /// An operator approved: the proposal is carried out.
    Approved,
    /// An operator overrode it: Slurm's own order stands for the job.
    Overridden,
}

/// A proposal or a verdict on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdviceRecord {
    /// The job.
    pub job_id: String,
    /// What happened.
    pub verdict: Verdict,
    /// Who gave the verdict (the token's name); `None` for a proposal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_tag_matches_json() {
        let rec =
            Record { seq: 3, ts_unix_s: 1.5, body: Body::Stop(StopRecord { reason: "signal".into(), cycles: 2 }) };
        let json = serde_json::to_value(&rec).unwrap();
        assert_eq!(json["kind"], rec.body.kind());
        assert_eq!(json["seq"], 3);
        let back: Record = serde_json::from_value(json).unwrap();
        assert_eq!(back, rec);
    }

    #[test]
    fn names_are_the_ones_serde_writes() {
        for what in [ChangeKind::Submitted, ChangeKind::Started, ChangeKind::Finished, ChangeKind::Withdrawn] {
            assert_eq!(serde_json::to_value(what).unwrap(), what.as_str());
        }
        for source in [Source::Candidate, Source::Fallback] {
            assert_eq!(serde_json::to_value(source).unwrap(), source.as_str());
        }
    }
}
