//! What a scheduler knows about one job: a compact, copyable record with
//! interned names, as the hot paths of the simulator and the controller
//! want it (no strings, no maps).

use crate::resources::Resources;
use serde::{Deserialize, Serialize};

/// The handle of a job inside one run (simulation or controller session).
/// Keys are handed out in arrival order, so sorting by key is sorting by
/// submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct JobKey(pub u32);

/// The shape of what a job asks for: a total, and optionally how many nodes
/// it must be spread over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Demand {
    /// Total CPUs, GPUs and memory over all its nodes.
    pub total: Resources,
    /// Exactly this many nodes when positive; `0` means any number.
    pub nodes: u32,
}

impl Demand {
    /// A demand for `total`, on any number of nodes.
    pub const fn new(total: Resources) -> Self {
        Self { total, nodes: 0 }
    }

    /// The share of `capacity` the demand takes in its dominant resource
    /// (the largest of its CPU, GPU and memory fractions), in `[0, 1]` when it
    /// fits. Used to charge fair-share usage in a unit-free way.
    pub fn dominant_share(&self, capacity: &Resources) -> f64 {
        fn frac(a: u64, b: u64) -> f64 {
            if b == 0 { 0.0 } else { a as f64 / b as f64 }
        }
        let t = &self.total;
        frac(t.cpus.into(), capacity.cpus.into())
            .max(frac(t.gpus.into(), capacity.gpus.into()))
            .max(frac(t.mem_mb, capacity.mem_mb))
    }

    /// The job's "size" for queue orders: GPUs when it asks for any, else CPUs.
    pub fn size(&self) -> u32 {
        if self.total.gpus > 0 { self.total.gpus } else { self.total.cpus }
    }
}

/// What is known about a job from its submission on: never its runtime.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct JobInfo {
    /// Its handle in this run.
    pub key: JobKey,
    /// Interned user id (see the run's name tables).
    pub user: u32,
    /// Interned group (account) id.
    pub group: u32,
    /// Interned queue (partition) id.
    pub queue: u32,
    /// Submission time, seconds.
    pub submit_s: f64,
    /// What it asks for.
    pub demand: Demand,
    /// The kill limit (requested time) in seconds; `f64::INFINITY` when none.
    pub limit_s: f64,
}

/// A job waiting in the queue, with the runtime estimate its predictor made
/// at submission.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PendingJob {
    /// The job.
    pub info: JobInfo,
    /// Estimated runtime in seconds, never above the limit.
    pub estimate_s: f64,
}

/// One part of a placement: a node (index into the cluster) and what the
/// job holds on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    /// Node index, in cluster order.
    pub node: u32,
    /// Resources held on that node.
    pub res: Resources,
}

/// A running job: when it started, when it is expected to end (its start
/// plus its current, possibly corrected, estimate) and where it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunningJob {
    /// The job.
    pub info: JobInfo,
    /// Start time.
    pub start_s: f64,
    /// Start plus the current estimate (never past start plus the limit).
    pub expected_end_s: f64,
    /// The nodes it holds.
    pub slots: Vec<Slot>,
}
