//! The cycle record as the engine fills it: the same content as a
//! [`CycleRecord`], kept in buffers reused from cycle to cycle (every job
//! id and node name in one shared string, lists of spans into it), and
//! serialised through a borrowed view of them (`serde::Serialize` over the
//! spans), byte for byte as `serde_json` writes the equivalent
//! [`Record`](super::Record). A cycle names thousands of jobs (each
//! policy's starts, the predictions); as `String`s and `Vec`s they would
//! cost an allocation and a free each.

use super::record::{Change, ChangeKind, CycleRecord, DecisionSummary, Observed, Placement, Source};
use foresight_core::predictor::Interval;
use serde::ser::{Serialize, SerializeStruct, Serializer};

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

    /// The summary for serialising, when it is present.
    fn view<'a>(&'a self, ids: &'a Ids) -> Option<SummaryRef<'a>> {
        self.present.then_some(SummaryRef { s: self, ids })
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
}

/// One prediction as pushed: the job, its first eight bytes as a number
/// (for a quick ordering), the value and the interval beside it, whether
/// it replaces an earlier one, and its place in the pushing order.
#[derive(Debug, Clone, Copy)]
struct Prediction {
    id: IdRef,
    head: u64,
    value: f64,
    interval: Option<Interval>,
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

    fn push_prediction(&mut self, job: &str, value: f64, interval: Option<Interval>, replaces: bool) {
        let order = self.predictions.len() as u32;
        let id = self.ids.push(job);
        self.predictions.push(Prediction { id, head: head(job), value, interval, replaces, order });
    }

    /// Sets a job's prediction and the interval beside it, replacing one
    /// set before.
    pub fn predict(&mut self, job: &str, value: f64, interval: Option<Interval>) {
        self.push_prediction(job, value, interval, true);
    }

    /// Sets a job's prediction and interval unless a prediction is set.
    pub fn predict_if_absent(&mut self, job: &str, value: f64, interval: Option<Interval>) {
        self.push_prediction(job, value, interval, false);
    }

    /// Puts the predictions in id order, one per job (as a map keyed by id
    /// would keep them; a job's interval is the one pushed with the value
    /// kept), and drops the non-finite ones.
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
            let mut value: Option<(f64, Option<Interval>)> = None;
            while i < n
                && self.predictions[i].head == first.head
                && ids.get(self.predictions[i].id) == ids.get(first.id)
            {
                let p = self.predictions[i];
                if p.replaces || value.is_none() {
                    value = Some((p.value, p.interval));
                }
                i += 1;
            }
            if let Some((v, interval)) = value.filter(|v| v.0.is_finite()) {
                self.predictions[kept] = Prediction { value: v, interval, replaces: true, ..first };
                kept += 1;
            }
        }
        self.predictions.truncate(kept);
    }

    /// The predictions after [`Self::seal`]: job and value, in id order.
    pub fn predictions(&self) -> impl Iterator<Item = (&str, f64)> + '_ {
        self.predictions.iter().map(|p| (self.ids.get(p.id), p.value))
    }

    /// The intervals after [`Self::seal`]: job and interval, in id order,
    /// for the predictions that have one.
    pub fn intervals(&self) -> impl Iterator<Item = (&str, Interval)> + '_ {
        self.predictions.iter().filter_map(|p| p.interval.map(|i| (self.ids.get(p.id), i)))
    }

    /// The same record as a [`CycleRecord`] (for tests and readers; the
    /// log writes [`Self::encode`]'s bytes, which are its JSON).
    pub fn to_record(&self) -> CycleRecord {
        CycleRecord {
            cycle: self.cycle,
            trigger: self.trigger.clone(),
            observed_at_unix_s: self.observed_at_unix_s,
            observed: self.observed.clone(),
            changes: self
                .changes
                .iter()
                .map(|&(r, what)| Change { job_id: self.ids.get(r).to_string(), what })
                .collect(),
            actual: self.actual.to_summary(&self.ids),
            baseline: self.baseline.to_summary(&self.ids),
            candidate: self.candidate.to_summary(&self.ids),
            source: self.source,
            fallback_reason: self.fallback_reason.clone(),
            predictions: self.predictions().map(|(id, v)| (id.to_string(), v)).collect(),
            intervals: self.intervals().map(|(id, i)| (id.to_string(), i)).collect(),
            model_version: self.model_version.clone(),
            latency_us: self.latency_us,
        }
    }

    /// Appends the JSON of the log record `seq` written at `ts_unix_s` with
    /// this cycle as its body: the bytes `serde_json::to_vec` gives for the
    /// equivalent [`Record`](super::Record).
    pub fn encode(&self, seq: u64, ts_unix_s: f64, out: &mut Vec<u8>) {
        serde_json::to_writer(out, &CycleRecordRef { seq, ts_unix_s, cycle: self })
            .expect("a cycle record serialises into a Vec");
    }
}

/// A log record whose body is a [`CompactCycle`], borrowed: it serialises
/// as the [`Record`](super::Record) with a [`CycleRecord`] body would,
/// field for field, in the same order.
struct CycleRecordRef<'a> {
    seq: u64,
    ts_unix_s: f64,
    cycle: &'a CompactCycle,
}

impl Serialize for CycleRecordRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let c = self.cycle;
        let ids = &c.ids;
        let has_intervals = c.predictions.iter().any(|p| p.interval.is_some());
        let mut r = serializer.serialize_struct("Record", 16 + usize::from(has_intervals))?;
        r.serialize_field("seq", &self.seq)?;
        r.serialize_field("ts_unix_s", &self.ts_unix_s)?;
        r.serialize_field("kind", "cycle")?;
        r.serialize_field("cycle", &c.cycle)?;
        r.serialize_field("trigger", &c.trigger)?;
        r.serialize_field("observed_at_unix_s", &c.observed_at_unix_s)?;
        r.serialize_field("observed", &c.observed)?;
        r.serialize_field(
            "changes",
            &Seq(|| c.changes.iter().map(|&(job, what)| ChangeRef { job_id: ids.get(job), what })),
        )?;
        r.serialize_field("actual", &c.actual.view(ids))?;
        r.serialize_field("baseline", &c.baseline.view(ids))?;
        r.serialize_field("candidate", &c.candidate.view(ids))?;
        r.serialize_field("source", &c.source)?;
        r.serialize_field("fallback_reason", &c.fallback_reason)?;
        r.serialize_field("predictions", &Map(|| c.predictions()))?;
        if has_intervals {
            r.serialize_field("intervals", &Map(|| c.intervals()))?;
        } else {
            r.skip_field("intervals")?;
        }
        r.serialize_field("model_version", &c.model_version)?;
        r.serialize_field("latency_us", &c.latency_us)?;
        r.end()
    }
}

/// A [`Change`], borrowed.
#[derive(serde::Serialize)]
struct ChangeRef<'a> {
    job_id: &'a str,
    what: ChangeKind,
}

/// A present [`CompactSummary`] as its [`DecisionSummary`].
struct SummaryRef<'a> {
    s: &'a CompactSummary,
    ids: &'a Ids,
}

impl Serialize for SummaryRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (s, ids) = (self.s, self.ids);
        let mut d = serializer.serialize_struct("DecisionSummary", 2)?;
        let start = || s.placements().map(|(job, nodes)| PlacementRef { job_id: ids.get(job), nodes, ids });
        d.serialize_field("start", &Seq(start))?;
        d.serialize_field("preempt", &Seq(|| s.preempt.iter().map(|&j| ids.get(j))))?;
        d.end()
    }
}

/// A [`Placement`], borrowed.
struct PlacementRef<'a> {
    job_id: &'a str,
    nodes: &'a [IdRef],
    ids: &'a Ids,
}

impl Serialize for PlacementRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut p = serializer.serialize_struct("Placement", 2)?;
        p.serialize_field("job_id", self.job_id)?;
        p.serialize_field("nodes", &Seq(|| self.nodes.iter().map(|&n| self.ids.get(n))))?;
        p.end()
    }
}

/// A list serialised from the iterator the closure makes.
struct Seq<F>(F);

impl<F, I> Serialize for Seq<F>
where
    F: Fn() -> I,
    I: IntoIterator,
    I::Item: Serialize,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq((self.0)())
    }
}

/// A map serialised from the key-value pairs the closure's iterator gives.
struct Map<F>(F);

impl<F, I, K, V> Serialize for Map<F>
where
    F: Fn() -> I,
    I: IntoIterator<Item = (K, V)>,
    K: Serialize,
    V: Serialize,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map((self.0)())
    }
}

#[cfg(test)]
#[path = "compact_tests.rs"]
mod tests;
