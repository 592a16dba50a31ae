//! The cluster state a policy sees: nodes with their free resources, the
//! queue, the running jobs with their expected ends, and fair-share usage.
//!
//! The simulator keeps one `ClusterState` and changes it event by event with
//! the methods here; the live controller builds and updates one the same way
//! from what the orchestrator reports. Both then lend it to the very same
//! [`crate::policy::Policy`].
//!
//! Invariants kept by every method: `pending` is sorted by key (arrival
//! order); `running` is sorted by `(expected_end_s, key)`; the free resources
//! of a node never exceed its capacity; `free_total` is the sum of the free
//! resources of the nodes that are up; the free index holds every node's
//! free room, or only whether it has any (nothing for a node that is down).

mod index;
mod job;
mod pending;
mod running;
mod usage;

pub use index::{FreeIndex, INDEX_MIN_NODES, first_fit, max_room};
pub(crate) use index::{SetBits, set_bit};
pub use job::{Demand, JobInfo, JobKey, PendingJob, RunningJob, Slot, assumed_limit_s};
pub use running::{Running, RunningIter};
pub use usage::UsageLedger;

use crate::cluster::Cluster;
use crate::resources::Resources;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

/// A fast, deterministic hasher for job keys (a multiplicative hash; keys
/// are small dense integers, not attacker-chosen).
#[derive(Debug, Clone, Copy, Default)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = (self.0 ^ u64::from(n)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// A map keyed by job key, hashed with [`KeyHasher`] (the state's and the
/// controller's maps of live jobs).
pub type KeyMap<V> = HashMap<JobKey, V, BuildHasherDefault<KeyHasher>>;

/// One node as the scheduler sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeState {
    /// What it offers.
    pub capacity: Resources,
    /// What is not held by a running job.
    pub free: Resources,
    /// False while the node is down.
    pub up: bool,
}

/// A change that would break the state's invariants; the change is refused
/// and the state is left as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateError {
    /// The job is not in the queue.
    NotPending(JobKey),
    /// The job is not running.
    NotRunning(JobKey),
    /// The job is already queued or running.
    Duplicate(JobKey),
    /// A slot names a node that does not exist, is down, or lacks the room.
    NoRoom {
        /// The job being placed.
        key: JobKey,
        /// The node index.
        node: u32,
    },
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::NotPending(k) => write!(f, "job {} is not pending", k.0),
            StateError::NotRunning(k) => write!(f, "job {} is not running", k.0),
            StateError::Duplicate(k) => write!(f, "job {} is already known", k.0),
            StateError::NoRoom { key, node } => {
                write!(f, "job {} does not fit on node {node} (missing, down or full)", key.0)
            }
        }
    }
}

impl std::error::Error for StateError {}

/// A snapshot of the cluster at one instant, kept up to date incrementally.
#[derive(Debug, Clone)]
pub struct ClusterState {
    nodes: Vec<NodeState>,
    index: FreeIndex,
    free_total: Resources,
    up_total: Resources,
    largest_node: Resources,
    pending: pending::PendingQueue,
    running: running::RunningSet,
    usage: UsageLedger,
    deadlines: std::collections::BTreeMap<JobKey, f64>,
}

impl ClusterState {
    /// An idle cluster with every node up; fair-share usage decays with the
    /// given half-life.
    pub fn new(cluster: &Cluster, usage_half_life_s: f64) -> Self {
        let nodes: Vec<NodeState> = cluster
            .nodes
            .iter()
            .map(|n| NodeState { capacity: n.capacity, free: n.capacity, up: true })
            .collect();
        let total = cluster.total();
        let largest_node = nodes.iter().fold(Resources::default(), |m, n| Resources {
            cpus: m.cpus.max(n.capacity.cpus),
            gpus: m.gpus.max(n.capacity.gpus),
            mem_mb: m.mem_mb.max(n.capacity.mem_mb),
        });
        Self {
            index: FreeIndex::new(nodes.iter().map(|n| n.free)),
            nodes,
            free_total: total,
            up_total: total,
            largest_node,
            pending: pending::PendingQueue::default(),
            running: running::RunningSet::default(),
            usage: UsageLedger::new(usage_half_life_s),
            deadlines: std::collections::BTreeMap::new(),
        }
    }

    /// Gives job `key` a deadline (seconds, on the run's clock): the time
    /// by which its submitter wants it ended. Deadline-aware orders read
    /// it ([`QueueOrder::Slack`](crate::policy::QueueOrder::Slack)); the
    /// others ignore it. A job without one has none.
    pub fn set_deadline(&mut self, key: JobKey, deadline_s: f64) {
        self.deadlines.insert(key, deadline_s);
    }

    /// Job `key`'s deadline, when it was given one.
    pub fn deadline(&self, key: JobKey) -> Option<f64> {
        self.deadlines.get(&key).copied()
    }

    /// The nodes, in cluster order.
    pub fn nodes(&self) -> &[NodeState] {
        &self.nodes
    }

    /// The index of the nodes' free room (a node that is down has none),
    /// for placements that look for the first node where a job fits.
    pub fn free_index(&self) -> &FreeIndex {
        &self.index
    }

    /// Keeps the free index or not, whatever the cluster's size (by
    /// default it is kept from [`index::INDEX_MIN_NODES`] nodes on).
    /// Placements are the same either way; only their cost differs.
    pub fn keep_free_index(&mut self, on: bool) {
        let down = Resources::default();
        self.index = FreeIndex::with(self.nodes.iter().map(|n| if n.up { n.free } else { down }), on);
    }

    /// Free resources summed over the nodes that are up.
    pub fn free_total(&self) -> Resources {
        self.free_total
    }

    /// Capacity summed over the nodes that are up.
    pub fn up_total(&self) -> Resources {
        self.up_total
    }

    /// The component-wise largest node capacity (a job larger than this
    /// cannot run on a single node).
    pub fn largest_node(&self) -> Resources {
        self.largest_node
    }

    /// Waiting jobs, in arrival (key) order.
    pub fn pending(&self) -> &[PendingJob] {
        self.pending.as_slice()
    }

    /// Running jobs, by expected end then key.
    pub fn running(&self) -> Running<'_> {
        self.running.view()
    }

    /// Decayed resource usage per user and group.
    pub fn usage(&self) -> &UsageLedger {
        &self.usage
    }

    /// Mutable access to the usage ledger (to register users and charge
    /// finished work).
    pub fn usage_mut(&mut self) -> &mut UsageLedger {
        &mut self.usage
    }

    /// Puts a job in the queue at its place in key order.
    pub fn submit(&mut self, job: PendingJob) -> Result<(), StateError> {
        let key = job.info.key;
        if self.running.contains(key) {
            return Err(StateError::Duplicate(key));
        }
        // jobs mostly come in key order: then they append, unsearched
        let place = match self.pending().last() {
            Some(p) if p.info.key >= key => self.pending().binary_search_by_key(&key, |p| p.info.key),
            _ => Err(self.pending().len()),
        };
        match place {
            Ok(_) => Err(StateError::Duplicate(key)),
            Err(pos) => {
                self.usage.register(job.info.user, job.info.group);
                self.pending.insert(pos, job);
                Ok(())
            }
        }
    }

    /// Starts a pending job on the given slots at `now`, expected to end at
    /// `expected_end_s`. Refused (state unchanged) if a slot does not fit.
    pub fn start(&mut self, key: JobKey, slots: Vec<Slot>, now: f64, expected_end_s: f64) -> Result<(), StateError> {
        self.start_at(key, slots, now, Some(expected_end_s)).map(|_| ())
    }

    /// Starts a pending job on the given slots at `now`, expected to end at
    /// `now` plus the estimate it was queued with; returns its record and
    /// that estimate. Refused (state unchanged) if a slot does not fit.
    #[inline]
    pub fn start_estimated(&mut self, key: JobKey, slots: Vec<Slot>, now: f64) -> Result<(JobInfo, f64), StateError> {
        self.start_at(key, slots, now, None)
    }

    fn start_at(&mut self, key: JobKey, slots: Vec<Slot>, now: f64, expected_end_s: Option<f64>) -> Result<(JobInfo, f64), StateError> {
        let pos = self.pending().binary_search_by_key(&key, |p| p.info.key).map_err(|_| StateError::NotPending(key))?;
        // the slots' sum, taken from `free_total` once at the end (the same
        // as slot by slot: every part is non-negative, the clamps agree)
        let mut taken = Resources::default();
        for (i, s) in slots.iter().enumerate() {
            let k = s.node as usize;
            let Some(left) = self.nodes.get(k).filter(|n| n.up).and_then(|n| n.free.checked_sub(&s.res)) else {
                for undo in &slots[..i] {
                    let k = undo.node as usize;
                    let n = &mut self.nodes[k];
                    n.free = n.free.saturating_add(&undo.res);
                    self.index.set(k, n.free);
                }
                return Err(StateError::NoRoom { key, node: s.node });
            };
            self.nodes[k].free.assign(left);
            self.index.set(k, left);
            taken = taken.saturating_add(&s.res);
        }
        self.free_total = self.free_total.saturating_sub(&taken);
        let PendingJob { info, estimate_s } = self.pending.remove(pos);
        self.running.insert(RunningJob {
            info,
            start_s: now,
            expected_end_s: expected_end_s.unwrap_or(now + estimate_s),
            slots,
            submitted_estimate_s: estimate_s,
            estimate_s,
            corrections: 0,
        });
        Ok((info, estimate_s))
    }

    /// Takes a job out of the queue without running it (it was withdrawn:
    /// cancelled, or its submission undone) and returns it.
    pub fn withdraw(&mut self, key: JobKey) -> Result<PendingJob, StateError> {
        let pos = self.pending().binary_search_by_key(&key, |p| p.info.key).map_err(|_| StateError::NotPending(key))?;
        Ok(self.pending.remove(pos))
    }

    /// A running job's record.
    pub fn running_job(&self, key: JobKey) -> Option<&RunningJob> {
        self.running.get(key)
    }

    /// True when the job is waiting in the queue.
    pub fn is_pending(&self, key: JobKey) -> bool {
        self.pending().binary_search_by_key(&key, |p| p.info.key).is_ok()
    }

    /// Records corrections of a running job's estimate: its estimate
    /// becomes `estimate_s` (from its start), its expected end `end_s`, and
    /// its count of corrections since it started `corrections`.
    pub fn correct(&mut self, key: JobKey, estimate_s: f64, end_s: f64, corrections: u32) -> Result<(), StateError> {
        self.running.set_end_with(key, end_s, |j| {
            j.estimate_s = estimate_s;
            j.corrections = corrections;
        })
    }

    /// Removes a running job (it ended, failed or was preempted), frees its
    /// slots and returns it.
    pub fn finish(&mut self, key: JobKey) -> Result<RunningJob, StateError> {
        let job = self.running.take(key)?;
        // what the slots on up nodes give back, added once (the same as slot
        // by slot: the sums clamp alike)
        let mut freed = Resources::default();
        for s in &job.slots {
            let k = s.node as usize;
            let n = &mut self.nodes[k];
            // the new room from a local, not read back from the node
            let free = n.free.saturating_add(&s.res);
            n.free.assign(free);
            if n.up {
                freed = freed.saturating_add(&s.res);
                self.index.set(k, free);
            }
        }
        self.free_total = self.free_total.saturating_add(&freed);
        Ok(job)
    }

    /// Changes a running job's expected end (after a prediction correction).
    /// The job moves in [`ClusterState::running`] past only the jobs between
    /// its old place and its new one.
    pub fn set_expected_end(&mut self, key: JobKey, expected_end_s: f64) -> Result<(), StateError> {
        self.running.set_end(key, expected_end_s)
    }

    /// Marks a node up or down. Jobs on a node that goes down keep their
    /// slots until the caller finishes or requeues them (see
    /// [`ClusterState::jobs_on_node`]). Returns false if nothing changed.
    pub fn set_node_up(&mut self, node: u32, up: bool) -> bool {
        let Some(n) = self.nodes.get_mut(node as usize) else { return false };
        if n.up == up {
            return false;
        }
        n.up = up;
        self.index.set(node as usize, if up { n.free } else { Resources::default() });
        if up {
            self.free_total = self.free_total.saturating_add(&n.free);
            self.up_total = self.up_total.saturating_add(&n.capacity);
        } else {
            self.free_total = self.free_total.saturating_sub(&n.free);
            self.up_total = self.up_total.saturating_sub(&n.capacity);
        }
        true
    }

    /// Keys of the running jobs holding a slot on `node`, in key order.
    pub fn jobs_on_node(&self, node: u32) -> Vec<JobKey> {
        let mut keys: Vec<JobKey> =
            self.running().iter().filter(|j| j.slots.iter().any(|s| s.node == node)).map(|j| j.info.key).collect();
        keys.sort_unstable();
        keys
    }
}

#[cfg(test)]
pub(crate) mod tests;
