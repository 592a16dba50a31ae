//! What one cycle gives back, as data: the records to log and what it
//! counts for the metrics. The engine decides; the loop carries these out.

use super::track::Tracker;
use crate::log::{Body, CompactCycle, CompactSummary, Ids, LogError, LogWriter};
use crate::obs::metrics::{Metrics, bump};
use foresight_core::policy::Decision;
use foresight_core::state::JobKey;

/// What a cycle counts, as data: its effect on the metrics, which the loop
/// applies ([`Tally::apply`]). The engine decides; it touches no shared
/// state (the shape of kube-rs's reconcile, whose `Action` says what to do
/// next).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    /// The breaker's transitions, by the state each went to.
    pub transitions: Vec<&'static str>,
    /// Each finished job's prediction error, if it was predicted.
    pub finished_errors: Vec<Option<f64>>,
    /// Queued jobs seen.
    pub pending: i64,
    /// Running jobs seen.
    pub running: i64,
    /// Usable nodes seen.
    pub nodes: i64,
    /// The cycle's latency, seconds.
    pub latency_s: f64,
    /// Whose decision stood (`candidate`, `fallback`).
    pub source: &'static str,
    /// Why it fell back, when it did (a failure's label, or `breaker_open`).
    pub fallback: Option<&'static str>,
    /// The candidate would start other jobs than the baseline.
    pub disagree: bool,
    /// The drift monitor's rolling error.
    pub rolling_error: f64,
    /// The breaker's state after the cycle, as its gauge.
    pub breaker_gauge: i64,
    /// When the cycle's observation was made.
    pub at_unix_s: f64,
}

impl Tally {
    /// Counts the cycle in `metrics`.
    pub fn apply(&self, metrics: &Metrics) {
        metrics.update(|v| {
            for to in &self.transitions {
                bump(&mut v.breaker_transitions, to);
            }
            for e in &self.finished_errors {
                v.finished_jobs += 1;
                if let Some(e) = e {
                    v.prediction_error.observe(e.abs());
                }
            }
            v.queue_depth = self.pending;
            v.running_jobs = self.running;
            v.nodes = self.nodes;
            v.cycle_latency.observe(self.latency_s);
            bump(&mut v.decisions, self.source);
            if let Some(label) = self.fallback {
                bump(&mut v.fallbacks, label);
            }
            v.disagreements += u64::from(self.disagree);
            v.rolling_error = self.rolling_error;
            v.breaker_state = self.breaker_gauge;
            v.last_cycle_unix_s = self.at_unix_s;
        });
    }
}

/// What one cycle says: its record, then the finished jobs and breaker
/// transitions it saw, in order, and what it counts.
pub struct Cycled<'a> {
    /// The cycle's record, in the engine's kept buffers.
    pub record: &'a CompactCycle,
    /// The records to log after it.
    pub then: Vec<Body>,
    /// What it counts, for the metrics.
    pub tally: Tally,
    /// The jobs the candidate starts now, in its order, when its decision
    /// stands (empty when the baseline's does: the breaker is open or the
    /// model failed).
    pub starts: Vec<String>,
}

impl Cycled<'_> {
    /// All of them as log bodies (the cycle converted), in order.
    pub fn bodies(&self) -> Vec<Body> {
        std::iter::once(Body::Cycle(self.record.to_record())).chain(self.then.iter().cloned()).collect()
    }

    /// Appends all of them to `writer`, each stamped by `ts`; returns how many.
    pub fn write(self, writer: &mut LogWriter, mut ts: impl FnMut() -> f64) -> Result<usize, LogError> {
        writer.append_cycle(ts(), self.record)?;
        let n = 1 + self.then.len();
        for body in self.then {
            writer.append(ts(), body)?;
        }
        Ok(n)
    }
}

/// Writes decision `d` into `out` in the log's words: job ids, node names.
pub(super) fn summarise(tracker: &Tracker, d: &Decision, out: &mut CompactSummary, ids: &mut Ids) {
    out.begin();
    for s in &d.starts {
        out.start(ids, tracker.id_of(s.key).unwrap_or("?"));
        for sl in &s.slots {
            let number;
            let name = match tracker.nodes().get(sl.node as usize) {
                Some(n) => n.spec.name.as_str(),
                None => {
                    number = sl.node.to_string();
                    &number
                }
            };
            out.node(ids, name);
        }
    }
    for &k in &d.preempt {
        out.preempt(ids, tracker.id_of(k).unwrap_or("?"));
    }
}

/// The distinct jobs a decision starts.
pub(super) fn started_keys(d: &Decision) -> Vec<JobKey> {
    let mut keys: Vec<JobKey> = d.starts.iter().map(|s| s.key).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

