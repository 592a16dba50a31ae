//! What a scheduler knows about one job: a compact, copyable record with
//! interned names, as the hot paths of the simulator and the controller
//! want it (no strings, no maps).

use crate::job::Job;
use crate::names::NameTables;
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

impl Demand {
    /// What a job's record asks for: its requested total (see
    /// [`Job::requested`]) on exactly its requested number of nodes, or on
    /// any number when it names none. A job asking for one node must fit on
    /// one node.
    pub fn of(job: &Job) -> Self {
        Self { total: job.requested(), nodes: job.req_nodes.unwrap_or(0) }
    }
}

impl JobInfo {
    /// What a scheduler knows of a job's record at its submission, under
    /// handle `key`, its names interned in `names`: the one mapping from
    /// the job table to the policies' jobs, for the simulator and the
    /// controller alike. A job without a positive requested time has no
    /// kill limit (`f64::INFINITY`).
    pub fn of(job: &Job, key: JobKey, names: &mut NameTables) -> Self {
        Self {
            key,
            user: names.users.intern_opt(job.user.as_deref()),
            group: names.groups.intern_opt(job.group.as_deref()),
            queue: names.queues.intern_opt(job.queue.as_deref()),
            submit_s: job.submit_s,
            demand: Demand::of(job),
            limit_s: job.req_time_s.filter(|t| *t > 0.0).unwrap_or(f64::INFINITY),
        }
    }
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
    /// The estimate its predictor made at submission (kept for
    /// corrections, and for the queue when it goes back there).
    pub submitted_estimate_s: f64,
    /// Its current estimate, a duration from `start_s`: the submitted one
    /// until it is outlived, then each correction in turn.
    pub estimate_s: f64,
    /// How many times its estimate was corrected since it started.
    pub corrections: u32,
}
