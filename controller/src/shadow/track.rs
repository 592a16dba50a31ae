//! What the controller remembers between observations: every live job with
//! its handle, its predictions and when the candidate would have started
//! it, and the diff of each new observation against the last.

use crate::adapter::{ClusterView, JobView, NodeView, Phase};
use crate::log::{Change, ChangeKind, Placement};
use foresight_core::predictor::Interval;
use foresight_core::state::{JobInfo, JobKey, KeyMap};
use foresight_core::{Cluster, Job, NameTables};
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};

/// Job ids and job states are hashed tens of thousands of times per cycle
/// with foldhash, where SipHash's protection against chosen collisions
/// costs more than it buys (the ids come from the orchestrator, not the
/// public); with its fixed seed, so that a run hashes as the one before.
type Fold = foldhash::fast::FixedState;

type FastMap<K, V> = HashMap<K, V, Fold>;

/// How far ahead in the last view's order a job is looked for before it
/// is looked up by id.
const LOOK_AHEAD: usize = 8;

/// One job of the last view, in its place: hashes of its id and of what a
/// change is (phase, nodes, start, hold), and its handle while it is live.
/// Two different ids or states with equal 64-bit hashes at the same place
/// would hide a change; the odds are about 1 in 2^64 per job.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Shown {
    id: u64,
    state: u64,
    key: Option<JobKey>,
}

fn id_hash(bytes: &[u8]) -> u64 {
    let mut h = Fold::default().build_hasher();
    h.write(bytes);
    h.finish()
}

/// A hash of what makes a job's view a change for the tracker.
fn state_hash(jv: &JobView) -> u64 {
    let mut h = Fold::default().build_hasher();
    h.write_u64(jv.phase as u64 | u64::from(jv.held) << 8 | u64::from(jv.job.start_s.is_some()) << 16);
    h.write_u64(jv.job.start_s.unwrap_or(0.0).to_bits());
    for n in &jv.nodes {
        // foldhash folds each write's length in: names cannot run together
        h.write(n.as_bytes());
    }
    h.finish()
}

/// The number an id spells when it is plain decimal digits without a
/// leading zero (or is `0`): the one id of that number.
fn canonical_number(id: &str) -> Option<u32> {
    let digits = id.bytes().all(|b| b.is_ascii_digit());
    (digits && !id.is_empty() && (id == "0" || !id.starts_with('0'))).then(|| id.parse().ok()).flatten()
}

/// One job the controller follows, from its first sighting to its end.
#[derive(Debug, Clone, PartialEq)]
pub struct Tracked {
    /// The latest view of it.
    pub view: JobView,
    /// What the policies see of it.
    pub info: JobInfo,
    /// The candidate model's estimate made when it was first seen.
    pub predicted_s: Option<f64>,
    /// The model version behind `predicted_s`.
    pub model_version: Option<String>,
    /// The interval the model gave beside `predicted_s`, if any.
    pub predicted_interval: Option<Interval>,
    /// When the candidate first chose to start it (Unix seconds).
    pub candidate_start_unix_s: Option<f64>,
    /// The last observation that showed it.
    seen_in: u64,
}

/// The difference between one observation and the previous one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diff {
    /// Every change, in view order.
    pub changes: Vec<Change>,
    /// Jobs the orchestrator started, with their nodes.
    pub started: Vec<Placement>,
    /// Jobs seen for the first time (they need a prediction).
    pub new_jobs: Vec<JobKey>,
    /// Jobs that ended after running, with their final view.
    pub finished: Vec<Tracked>,
    /// Jobs that left the queue without running.
    pub withdrawn: Vec<JobKey>,
    /// True when nodes came, went or changed size: the cluster's shape.
    pub reshaped: bool,
    /// Nodes that became unusable (`false`) or usable again (`true`), by
    /// index, when the shape is unchanged.
    pub usable: Vec<(u32, bool)>,
}

/// The controller's memory of the cluster.
#[derive(Debug, Clone, Default)]
pub struct Tracker {
    nodes: Vec<NodeView>,
    cluster: Cluster,
    names: NameTables,
    live: KeyMap<Tracked>,
    /// The keys of `live`, sorted.
    order: Vec<JobKey>,
    /// The jobs of the last view, in its order.
    shown: Vec<Shown>,
    /// The list before it, kept for its buffer.
    spare: Vec<Shown>,
    ids: FastMap<String, JobKey>,
    done: FastMap<String, u64>,
    next_synthetic: u32,
    generation: u64,
}

impl Tracker {
    /// An empty tracker.
    pub fn new() -> Self {
        Self { next_synthetic: 1 << 31, ..Self::default() }
    }

    /// Marks jobs as already reported (from a resumed log): they are not
    /// reported again when the orchestrator still shows them finished.
    pub fn mark_done(&mut self, ids: impl IntoIterator<Item = String>) {
        let g = self.generation;
        self.done.extend(ids.into_iter().map(|id| (id, g)));
    }

    /// The nodes of the last observation.
    pub fn nodes(&self) -> &[NodeView] {
        &self.nodes
    }

    /// The cluster of the last observation, in node order.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// Jobs waiting or running, in key (arrival) order.
    pub fn live(&self) -> impl Iterator<Item = &Tracked> {
        self.order.iter().map(|k| &self.live[k])
    }

    /// Number of jobs waiting or running.
    pub fn live_count(&self) -> usize {
        self.order.len()
    }

    /// A live job by key, to read.
    pub fn get(&self, key: JobKey) -> Option<&Tracked> {
        self.live.get(&key)
    }

    /// A live job by key.
    pub fn get_mut(&mut self, key: JobKey) -> Option<&mut Tracked> {
        self.live.get_mut(&key)
    }

    /// A live job by its orchestrator id.
    pub fn by_id(&self, id: &str) -> Option<&Tracked> {
        self.ids.get(id).and_then(|k| self.live.get(k))
    }

    /// The orchestrator id of a handle.
    pub fn id_of(&self, key: JobKey) -> Option<&str> {
        self.live.get(&key).map(|t| t.view.job.job_id.as_str())
    }

    /// Ids of live jobs the view no longer shows: to be looked up.
    pub fn vanished(&self, view: &ClusterView) -> Vec<String> {
        let seen: HashSet<&str> = view.jobs.iter().map(|j| j.job.job_id.as_str()).collect();
        self.live().map(|t| t.view.job.job_id.clone()).filter(|id| !seen.contains(id.as_str())).collect()
    }

    /// The handle of a new job: its number when the id is a number written
    /// the one way (`123`, not `0123` or `+123`, which are other ids and
    /// would otherwise share its handle), else the next synthetic handle.
    fn key_for(&mut self, id: &str) -> JobKey {
        match canonical_number(id) {
            Some(n) if n < (1 << 31) => JobKey(n),
            _ => {
                self.next_synthetic += 1;
                JobKey(self.next_synthetic)
            }
        }
    }

    fn info_of(&mut self, key: JobKey, job: &Job) -> JobInfo {
        JobInfo::of(job, key, &mut self.names)
    }

    /// Takes in a new observation. Live jobs the view does not show (after
    /// the caller looked them up) are taken to have ended at the view's time
    /// if they ran, and to have been withdrawn if they never did.
    pub fn apply(&mut self, view: &ClusterView) -> Diff {
        let mut diff = Diff::default();
        if self.nodes != view.nodes {
            diff.reshaped =
                self.nodes.len() != view.nodes.len() || self.nodes.iter().zip(&view.nodes).any(|(a, b)| a.spec != b.spec);
            if !diff.reshaped {
                let flips = self.nodes.iter().zip(&view.nodes).enumerate().filter(|(_, (a, b))| a.usable != b.usable);
                diff.usable = flips.map(|(i, (_, b))| (i as u32, b.usable)).collect();
            }
            self.nodes = view.nodes.clone();
            self.cluster = Cluster { nodes: view.nodes.iter().map(|n| n.spec.clone()).collect() };
        }
        self.generation += 1;
        let g = self.generation;
        // the last view, in its order: a job shown where it was, as it was,
        // is passed over without a look-up
        let prev = std::mem::take(&mut self.shown);
        let mut shown = std::mem::take(&mut self.spare);
        shown.clear();
        shown.reserve(view.jobs.len());
        let mut next = 0;
        // live jobs the last view showed that this one has not shown in their place
        let mut missed: Vec<JobKey> = Vec::new();
        for jv in &view.jobs {
            let id = id_hash(jv.job.job_id.as_bytes());
            let ahead = prev.get(next..(next + LOOK_AHEAD).min(prev.len())).unwrap_or(&[]);
            let mut state = None;
            if let Some(r) = ahead.iter().position(|p| p.id == id) {
                missed.extend(ahead[..r].iter().filter_map(|p| p.key));
                let p = ahead[r];
                next += r + 1;
                let st = state_hash(jv);
                if p.key.is_some() && p.state == st {
                    shown.push(Shown { id, state: st, key: p.key });
                    continue;
                }
                state = Some(st);
            }
            let state = state.unwrap_or_else(|| state_hash(jv));
            let id_str = jv.job.job_id.as_str();
            // an unchanged job costs two look-ups, not a copy
            if let Some((&key, t)) = self.ids.get_key_value(id_str).and_then(|(_, k)| Some((k, self.live.get_mut(k)?))) {
                t.seen_in = g;
                let v = &t.view;
                if v.phase == jv.phase && v.nodes == jv.nodes && v.job.start_s == jv.job.start_s && v.held == jv.held {
                    shown.push(Shown { id, state, key: Some(key) });
                    continue;
                }
            } else if let Some(seen) = self.done.get_mut(id_str) {
                *seen = g;
                shown.push(Shown { id, state, key: None });
                continue;
            }
            self.step(jv.clone(), &mut diff);
            let key = self.ids.get(id_str).copied().filter(|k| self.live.contains_key(k));
            shown.push(Shown { id, state, key });
        }
        missed.extend(prev.get(next..).unwrap_or(&[]).iter().filter_map(|p| p.key));
        // missed and not seen elsewhere: gone (a job the view showed twice
        // may have been passed over at one place and missed at the other)
        let mut gone: Vec<JobKey> = missed.into_iter().filter(|k| self.live.get(k).is_some_and(|t| t.seen_in != g)).collect();
        if !gone.is_empty() {
            let passed: HashSet<JobKey> = shown.iter().filter_map(|s| s.key).collect();
            gone.retain(|k| !passed.contains(k));
            gone.sort_unstable();
            gone.dedup();
        }
        self.shown = shown;
        self.spare = prev;
        for key in gone {
            let mut jv = self.live[&key].view.clone();
            if jv.phase == Phase::Running {
                jv.job.end_s = Some(view.at_unix_s);
                jv.job.runtime_s = jv.job.start_s.map(|s| view.at_unix_s - s);
            }
            jv.phase = Phase::Finished;
            self.step(jv, &mut diff);
        }
        self.done.retain(|_, seen| *seen == g);
        diff
    }

    fn step(&mut self, jv: JobView, diff: &mut Diff) {
        let id = jv.job.job_id.clone();
        let key = match self.ids.get(&id) {
            Some(&k) => k,
            None => {
                let key = self.key_for(&id);
                let info = self.info_of(key, &jv.job);
                let pending = JobView { phase: Phase::Pending, ..jv.clone() };
                let t = Tracked {
                    view: pending,
                    info,
                    predicted_s: None,
                    model_version: None,
                    predicted_interval: None,
                    candidate_start_unix_s: None,
                    seen_in: self.generation,
                };
                self.ids.insert(id.clone(), key);
                if self.live.insert(key, t).is_none() {
                    let at = self.order.partition_point(|k| *k < key);
                    self.order.insert(at, key);
                }
                diff.new_jobs.push(key);
                diff.changes.push(Change { job_id: id.clone(), what: ChangeKind::Submitted });
                key
            }
        };
        let t = self.live.get_mut(&key).expect("tracked");
        let before = t.view.phase;
        let ran = jv.phase == Phase::Running || jv.job.start_s.is_some();
        if before == Phase::Pending && ran && jv.phase != Phase::Pending {
            diff.changes.push(Change { job_id: id.clone(), what: ChangeKind::Started });
            diff.started.push(Placement { job_id: id.clone(), nodes: jv.nodes.clone() });
        }
        t.view = jv;
        if t.view.phase == Phase::Finished {
            let what = if ran { ChangeKind::Finished } else { ChangeKind::Withdrawn };
            diff.changes.push(Change { job_id: id.clone(), what });
            let t = self.live.remove(&key).expect("tracked");
            if let Ok(at) = self.order.binary_search(&key) {
                self.order.remove(at);
            }
            self.ids.remove(&id);
            self.done.insert(id, self.generation);
            if ran {
                diff.finished.push(t);
            } else {
                diff.withdrawn.push(key);
            }
        }
    }
}

#[cfg(test)]
#[path = "track_tests.rs"]
pub(crate) mod tests;
