//! The cycle record as the engine fills it: the same content as a
//! [`CycleRecord`], kept in buffers reused from cycle to cycle (every job
//! id and node name in one shared string, lists of spans into it) and
//! written to JSON by hand, byte for byte as `serde_json` writes the
//! equivalent [`Record`](super::Record). A cycle names thousands of jobs
//! (each policy's starts, the predictions); as `String`s and `Vec`s they
//! cost an allocation and a free each, and the derived serializer more.

use super::json;
use super::record::{Change, ChangeKind, CycleRecord, DecisionSummary, Observed, Placement, Source};

/// A string in an [`Ids`] buffer: where it starts and ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRef {
    start: u32,
    end: u32,
}

/// The shared buffer that holds a cycle's job ids and node names.
#[derive(Debug, Clone, Default)]
pub struct Ids {
    text: String,
}

impl Ids {
    /// Copies `s` in; returns its span.
    pub fn push(&mut self, s: &str) -> IdRef {
        let start = self.text.len() as u32;
        self.text.push_str(s);
        IdRef { start, end: self.text.len() as u32 }
    }

    /// The string a span names.
    pub fn get(&self, r: IdRef) -> &str {
        &self.text[r.start as usize..r.end as usize]
    }

    fn clear(&mut self) {
        self.text.clear();
    }
}

/// A decision summary (starts with their nodes, preemptions) in spans.
#[derive(Debug, Clone, Default)]
pub struct CompactSummary {
    present: bool,
    /// Each start's job and where its nodes begin in `nodes`.
    starts: Vec<(IdRef, u32)>,
    nodes: Vec<IdRef>,
    preempt: Vec<IdRef>,
}

impl CompactSummary {
    fn clear(&mut self) {
        self.present = false;
        self.starts.clear();
        self.nodes.clear();
        self.preempt.clear();
    }

    /// Marks the summary present (an empty decision, until starts are added).
    pub fn begin(&mut self) {
        self.present = true;
    }

    /// Adds a started job; its nodes follow with [`Self::node`].
    pub fn start(&mut self, ids: &mut Ids, job: &str) {
        self.present = true;
        let job = ids.push(job);
        self.starts.push((job, self.nodes.len() as u32));
    }

    /// Adds a node to the last started job, unless it repeats the one before.
    pub fn node(&mut self, ids: &mut Ids, name: &str) {
        let first = self.starts.last().map_or(0, |s| s.1 as usize);
        if self.nodes.len() > first && self.nodes.last().is_some_and(|&n| ids.get(n) == name) {
            return;
        }
        let r = ids.push(name);
        self.nodes.push(r);
    }

    /// Adds a preempted job.
    pub fn preempt(&mut self, ids: &mut Ids, job: &str) {
        self.present = true;
        let r = ids.push(job);
        self.preempt.push(r);
    }

    /// Each start's job and nodes.
    fn placements(&self) -> impl Iterator<Item = (IdRef, &[IdRef])> + '_ {
        self.starts.iter().enumerate().map(|(i, &(job, from))| {
            let to = self.starts.get(i + 1).map_or(self.nodes.len(), |s| s.1 as usize);
            (job, &self.nodes[from as usize..to])
        })
    }

    fn to_summary(&self, ids: &Ids) -> Option<DecisionSummary> {
        self.present.then(|| DecisionSummary {
            start: self
                .placements()
                .map(|(job, nodes)| Placement {
                    job_id: ids.get(job).to_string(),
                    nodes: nodes.iter().map(|&n| ids.get(n).to_string()).collect(),
                })
                .collect(),
            preempt: self.preempt.iter().map(|&j| ids.get(j).to_string()).collect(),
        })
    }

    fn encode(&self, ids: &Ids, out: &mut Vec<u8>) {
        if !self.present {
            out.extend_from_slice(b"null");
            return;
        }
        out.extend_from_slice(b"{\"start\":[");
        for (i, (job, nodes)) in self.placements().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"job_id\":");
            json::str(out, ids.get(job));
            out.extend_from_slice(b",\"nodes\":");
            list(out, ids, nodes);
            out.push(b'}');
        }
        out.extend_from_slice(b"],\"preempt\":");
        list(out, ids, &self.preempt);
        out.push(b'}');
    }
}

fn list(out: &mut Vec<u8>, ids: &Ids, items: &[IdRef]) {
    out.push(b'[');
    for (i, &r) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json::str(out, ids.get(r));
    }
    out.push(b']');
}

/// One prediction as pushed: the job, its first eight bytes as a number
/// (for a quick ordering), the value, whether it replaces an earlier one,
/// and its place in the pushing order.
#[derive(Debug, Clone, Copy)]
struct Prediction {
    id: IdRef,
    head: u64,
    value: f64,
    replaces: bool,
    order: u32,
}

/// The first eight bytes of `s`, zero-padded, big-endian: comparing these
/// orders two strings as their bytes do whenever the heads differ.
fn head(s: &str) -> u64 {
    let mut b = [0u8; 8];
    let n = s.len().min(8);
    b[..n].copy_from_slice(&s.as_bytes()[..n]);
    u64::from_be_bytes(b)
}

/// A decision cycle's record, filled by the engine in kept buffers.
#[derive(Debug, Clone, Default)]
pub struct CompactCycle {
    /// Cycle number since the controller started.
    pub cycle: u64,
    /// What woke the loop.
    pub trigger: String,
    /// The orchestrator's time of the observation, Unix seconds.
    pub observed_at_unix_s: f64,
    /// What the controller saw.
    pub observed: Observed,
    /// Whose decision stands this cycle.
    pub source: Source,
    /// Why the candidate was not used, when it was not.
    pub fallback_reason: Option<String>,
    /// The model version behind the predictions.
    pub model_version: Option<String>,
    /// How long the cycle's decision took, microseconds.
    pub latency_us: u64,
    /// The job ids and node names the lists below name.
    pub ids: Ids,
    /// What the orchestrator actually did since the previous cycle.
    pub actual: CompactSummary,
    /// What the baseline decides.
    pub baseline: CompactSummary,
    /// What the candidate would do.
    pub candidate: CompactSummary,
    changes: Vec<(IdRef, ChangeKind)>,
    /// As pushed; in id order, one per job, finite, once [`Self::seal`]ed.
    predictions: Vec<Prediction>,
}

impl CompactCycle {
    /// Empties it for the next cycle, keeping the buffers.
    pub fn clear(&mut self) {
        self.trigger.clear();
        self.source = Source::default();
        self.fallback_reason = None;
        self.model_version = None;
        self.ids.clear();
        self.actual.clear();
        self.baseline.clear();
        self.candidate.clear();
        self.changes.clear();
        self.predictions.clear();
    }

    /// Adds an observed change.
    pub fn change(&mut self, job: &str, what: ChangeKind) {
        let r = self.ids.push(job);
        self.changes.push((r, what));
    }

    fn push_prediction(&mut self, job: &str, value: f64, replaces: bool) {
        let order = self.predictions.len() as u32;
        let id = self.ids.push(job);
        self.predictions.push(Prediction { id, head: head(job), value, replaces, order });
    }

    /// Sets a job's prediction, replacing one set before.
    pub fn predict(&mut self, job: &str, value: f64) {
        self.push_prediction(job, value, true);
    }

    /// Sets a job's prediction unless one is set.
    pub fn predict_if_absent(&mut self, job: &str, value: f64) {
        self.push_prediction(job, value, false);
    }

    /// Puts the predictions in id order, one per job (as a map keyed by id
    /// would keep them), and drops the non-finite ones.
    pub fn seal(&mut self) {
        let ids = &self.ids;
        self.predictions.sort_unstable_by(|a, b| {
            a.head.cmp(&b.head).then_with(|| ids.get(a.id).cmp(ids.get(b.id))).then(a.order.cmp(&b.order))
        });
        let mut kept = 0;
        let mut i = 0;
        let n = self.predictions.len();
        while i < n {
            let first = self.predictions[i];
            let mut value: Option<f64> = None;
            while i < n && self.predictions[i].head == first.head && ids.get(self.predictions[i].id) == ids.get(first.id) {
                let p = self.predictions[i];
                if p.replaces || value.is_none() {
                    value = Some(p.value);
                }
                i += 1;
            }
            if let Some(v) = value.filter(|v| v.is_finite()) {
                self.predictions[kept] = Prediction { value: v, replaces: true, ..first };
                kept += 1;
            }
        }
        self.predictions.truncate(kept);
    }

    /// The predictions after [`Self::seal`]: job and value, in id order.
    pub fn predictions(&self) -> impl Iterator<Item = (&str, f64)> + '_ {
        self.predictions.iter().map(|p| (self.ids.get(p.id), p.value))
    }

    /// The same record as a [`CycleRecord`] (for tests and readers; the
    /// log writes [`Self::encode`]'s bytes, which are its JSON).
    pub fn to_record(&self) -> CycleRecord {
        CycleRecord {
            cycle: self.cycle,
            trigger: self.trigger.clone(),
            observed_at_unix_s: self.observed_at_unix_s,
            observed: self.observed.clone(),
            changes: self.changes.iter().map(|&(r, what)| Change { job_id: self.ids.get(r).to_string(), what }).collect(),
            actual: self.actual.to_summary(&self.ids),
            baseline: self.baseline.to_summary(&self.ids),
            candidate: self.candidate.to_summary(&self.ids),
            source: self.source,
            fallback_reason: self.fallback_reason.clone(),
            predictions: self.predictions().map(|(id, v)| (id.to_string(), v)).collect(),
            model_version: self.model_version.clone(),
            latency_us: self.latency_us,
        }
    }

    /// Appends the JSON of the log record `seq` written at `ts_unix_s` with
    /// this cycle as its body: the bytes `serde_json::to_vec` gives for the
    /// equivalent [`Record`](super::Record).
    pub fn encode(&self, seq: u64, ts_unix_s: f64, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"seq\":");
        json::u64(out, seq);
        out.extend_from_slice(b",\"ts_unix_s\":");
        json::f64(out, ts_unix_s);
        out.extend_from_slice(b",\"kind\":\"cycle\",\"cycle\":");
        json::u64(out, self.cycle);
        out.extend_from_slice(b",\"trigger\":");
        json::str(out, &self.trigger);
        out.extend_from_slice(b",\"observed_at_unix_s\":");
        json::f64(out, self.observed_at_unix_s);
        let o = &self.observed;
        for (key, v) in [
            (&b",\"observed\":{\"nodes\":"[..], o.nodes as u64),
            (b",\"pending\":", o.pending as u64),
            (b",\"running\":", o.running as u64),
            (b",\"free_cpus\":", o.free_cpus),
        ] {
            out.extend_from_slice(key);
            json::u64(out, v);
        }
        out.extend_from_slice(b"},\"changes\":[");
        for (i, &(r, what)) in self.changes.iter().enumerate() {
            out.extend_from_slice(if i > 0 { b",{\"job_id\":" } else { b"{\"job_id\":" });
            json::str(out, self.ids.get(r));
            out.extend_from_slice(b",\"what\":");
            json::str(out, what.as_str());
            out.push(b'}');
        }
        out.extend_from_slice(b"],\"actual\":");
        self.actual.encode(&self.ids, out);
        out.extend_from_slice(b",\"baseline\":");
        self.baseline.encode(&self.ids, out);
        out.extend_from_slice(b",\"candidate\":");
        self.candidate.encode(&self.ids, out);
        out.extend_from_slice(b",\"source\":");
        json::str(out, self.source.as_str());
        out.extend_from_slice(b",\"fallback_reason\":");
        json::opt_str(out, self.fallback_reason.as_deref());
        out.extend_from_slice(b",\"predictions\":{");
        for (i, (id, v)) in self.predictions().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json::str(out, id);
            out.push(b':');
            json::f64(out, v);
        }
        out.extend_from_slice(b"},\"model_version\":");
        json::opt_str(out, self.model_version.as_deref());
        out.extend_from_slice(b",\"latency_us\":");
        json::u64(out, self.latency_us);
        out.push(b'}');
    }
}

#[cfg(test)]
#[path = "compact_tests.rs"]
mod tests;
