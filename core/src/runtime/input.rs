//! The runtime's vocabulary: the closed set of its inputs, what each gives
//! back, and what carrying out a decision did.

use crate::job::Job;
use crate::policy::Decision;
use crate::state::{JobInfo, JobKey, PendingJob, RunningJob, Slot};

/// Where a started job runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Alloc {
    /// Exactly these slots (a policy's placement).
    Slots(Vec<Slot>),
    /// These nodes, in order, as an orchestrator reports an allocation
    /// without its per-node amounts: each node in turn takes as much of the
    /// demand as it has free (Slurm's block distribution), so that the
    /// orchestrator's allocation is never refused (a node the state does
    /// not know, or holds down, is left out).
    Nodes(Vec<u32>),
    /// These nodes, in order, each with the CPUs the orchestrator says the
    /// job holds there (Slurm's `job_resources`): a node takes those CPUs,
    /// cut to what it has free, and GPUs and memory fill the nodes in turn
    /// as for [`Alloc::Nodes`].
    NodeCpus(Vec<(u32, u32)>),
}

/// Everything that can happen to a runtime: the closed set of its inputs.
#[derive(Debug, Clone, PartialEq)]
pub enum Input<'a> {
    /// A job joined the queue (at the clock's time); its record, when the
    /// source has one, goes to the predictor first.
    Submitted {
        /// What the policies see of it.
        job: JobInfo,
        /// Its full record.
        record: Option<&'a Job>,
    },
    /// A queued job started at `at` (the clock's time in a simulation; the
    /// orchestrator's start time live, which may be earlier).
    Started {
        /// The job.
        key: JobKey,
        /// Its start time.
        at: f64,
        /// Where it runs.
        alloc: Alloc,
    },
    /// A running job is still running at the end of its estimate (only
    /// read under [`super::Corrections::OnInput`]).
    Outlived {
        /// The job.
        key: JobKey,
    },
    /// A running job ended at `at`.
    Ended {
        /// The job.
        key: JobKey,
        /// Its end time.
        at: f64,
        /// Its final record (how it ended), for the predictor.
        record: Option<&'a Job>,
    },
    /// A running job was stopped before its end (its node failed, or it was
    /// preempted); `requeue` puts it back in the queue with the estimate it
    /// was submitted with.
    Interrupted {
        /// The job.
        key: JobKey,
        /// Back to the queue, or gone.
        requeue: bool,
    },
    /// A queued job left the queue without running.
    Withdrawn {
        /// The job.
        key: JobKey,
    },
    /// A node went down (its jobs keep their slots until they are
    /// interrupted or end).
    NodeDown {
        /// The node index.
        node: u32,
    },
    /// A node came back.
    NodeUp {
        /// The node index.
        node: u32,
    },
    /// Time to decide: what would the policy do now?
    Tick,
}

/// What an input gave.
#[derive(Debug, PartialEq)]
pub enum Output<'r> {
    /// The clamped estimate a submitted job was given.
    Estimated(f64),
    /// A job started, expected to end at this time.
    Started(f64),
    /// An outlived job's new estimate (from its start).
    Corrected(f64),
    /// The record of a job that stopped (ended or interrupted).
    Stopped(RunningJob),
    /// The job that left the queue.
    Withdrawn(PendingJob),
    /// The jobs running on a node that went down.
    Stranded(Vec<JobKey>),
    /// The policy's decision (`None`: the queue is empty, it was not asked).
    Decided(Option<&'r Decision>),
    /// Nothing to say.
    Done,
}

/// What applying a decision did, job by job (see [`super::Runtime::enact`]).
#[derive(Debug)]
pub enum Enacted<'a> {
    /// A running job was preempted and went back to the queue.
    Preempted(&'a RunningJob),
    /// A queued job started.
    Started {
        /// The job.
        info: &'a JobInfo,
        /// Its estimate, from now.
        estimate_s: f64,
        /// It overtook a job ahead of it.
        backfilled: bool,
    },
}

