//! Orchestrator adapters: the controller's only window on the cluster.
//!
//! An [`Orchestrator`] reads the cluster (nodes, running jobs, pending jobs
//! with their requests) as a [`ClusterView`] of `foresight-core` types, and
//! can act on it ([`Action`]: priority, hold, release, start). Shadow mode
//! only reads; advise and enforce modes will call [`Orchestrator::act`].

pub mod hostlist;
pub mod slurm;

#[cfg(test)]
pub mod fake;

use foresight_core::{Job, NodeSpec, Resources};
use std::future::Future;

/// Where a job stands in the orchestrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Waiting to start (including held jobs).
    Pending,
    /// Started and not yet over (running, suspended, completing).
    Running,
    /// Over; the job's `status` says how.
    Finished,
}

/// One job as the orchestrator reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobView {
    /// The job, in canonical form; times are Unix seconds.
    pub job: Job,
    /// Where it stands.
    pub phase: Phase,
    /// The nodes it runs or ran on (empty while pending).
    pub nodes: Vec<String>,
    /// The CPUs it holds on each of `nodes`, in the same order, when the
    /// orchestrator says (Slurm's `job_resources`); empty when it does not,
    /// and the runtime then fills the nodes in turn.
    pub node_cpus: Vec<u32>,
    /// True when it is held (it will not start until released).
    pub held: bool,
    /// What decides whether foresight may gate it, and whether it is gated.
    pub control: ControlInfo,
}

/// What the acting half of the controller needs to know of a job beyond
/// the scheduling inputs: where it was submitted, how the site's
/// `job_submit.lua` marked it, and when the orchestrator lets it start.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ControlInfo {
    /// Its QOS, if the orchestrator has them.
    pub qos: Option<String>,
    /// The admin comment (the site's `job_submit.lua` writes `foresight`
    /// into it for the jobs foresight controls).
    pub admin_comment: Option<String>,
    /// When it becomes eligible to start, Unix seconds: in the future
    /// while a `BeginTime` (foresight's gate) holds it back.
    pub eligible_s: Option<f64>,
}

/// One node as the orchestrator reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeView {
    /// Name and capacity.
    pub spec: NodeSpec,
    /// The orchestrator's state word (`idle`, `mixed`, `allocated`, `down`, ...).
    pub state: String,
    /// False when down, drained or draining: no new work goes there.
    pub usable: bool,
    /// What is allocated on it now.
    pub allocated: Resources,
}

/// Everything one observation returns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterView {
    /// When it was observed, Unix seconds.
    pub at_unix_s: f64,
    /// Every node, in the orchestrator's order.
    pub nodes: Vec<NodeView>,
    /// Every job it still reports: pending, running and recently finished.
    pub jobs: Vec<JobView>,
}

impl ClusterView {
    /// Jobs in one phase.
    pub fn in_phase(&self, phase: Phase) -> impl Iterator<Item = &JobView> {
        self.jobs.iter().filter(move |j| j.phase == phase)
    }
}

/// What the controller can ask an orchestrator to do (advise and enforce
/// modes; shadow mode never acts). There is deliberately no action that
/// changes a job's time limit: a prediction never lowers it.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Gate pending jobs: they may not start before `until_unix_s` (Slurm:
    /// `BeginTime`, a lease Slurm itself lets lapse when foresight is gone).
    Gate {
        /// The jobs.
        job_ids: Vec<String>,
        /// Lease length from now, seconds.
        lease_s: u64,
    },
    /// Lift the gate of pending jobs: they may start now.
    Lift {
        /// The jobs.
        job_ids: Vec<String>,
    },
    /// Set the site's term of the jobs' priority (Slurm: `SiteFactor`,
    /// added to the multifactor sum; 0 restores Slurm's own order).
    SiteFactor {
        /// The jobs.
        job_ids: Vec<String>,
        /// The value.
        value: i64,
    },
    /// Set a pending job's priority (higher starts sooner).
    SetPriority {
        /// The job.
        job_id: String,
        /// The new priority.
        priority: u32,
    },
    /// Keep a pending job from starting.
    Hold {
        /// The job.
        job_id: String,
    },
    /// Let a held job start again.
    Release {
        /// The job.
        job_id: String,
    },
    /// Start a pending job now on these nodes (Slurm: pin the node list and
    /// raise it to the top priority, so the next scheduling pass starts it).
    Start {
        /// The job.
        job_id: String,
        /// Where.
        nodes: Vec<String>,
    },
}

/// What can go wrong talking to an orchestrator.
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    /// A command could not be run or did not succeed.
    #[error("run `{command}`: {detail}")]
    Command {
        /// The command line.
        command: String,
        /// Its error or standard error.
        detail: String,
    },
    /// The REST endpoint could not be reached or answered an error.
    #[error("query {endpoint}: {detail}")]
    Rest {
        /// The socket and path.
        endpoint: String,
        /// What went wrong.
        detail: String,
    },
    /// The answer was not in the expected shape.
    #[error("parse {what}: {detail}")]
    Parse {
        /// Which answer.
        what: String,
        /// What was wrong with it.
        detail: String,
    },
    /// The call did not answer in time.
    #[error("{0} timed out")]
    Timeout(String),
}

/// An orchestrator the controller can observe and, later, act on.
///
/// The methods return `Send` futures so that the loop can run on a
/// multi-threaded runtime; implementations can be written with `async fn`.
pub trait Orchestrator: Send {
    /// A short name for logs and metrics (`slurm`).
    fn name(&self) -> &'static str;

    /// Reads nodes and jobs.
    fn observe(&mut self) -> impl Future<Output = Result<ClusterView, AdapterError>> + Send;

    /// Looks up jobs that left the view before the controller saw them end
    /// (the orchestrator forgot them, or the controller was down): returns
    /// those it knows, finished or not.
    fn lookup(&mut self, job_ids: &[String]) -> impl Future<Output = Result<Vec<JobView>, AdapterError>> + Send;

    /// Carries out one action.
    fn act(&mut self, action: &Action) -> impl Future<Output = Result<(), AdapterError>> + Send;

    /// The site factor of each pending job in `job_ids` that the
    /// orchestrator can show (to reconcile a restart with the log); Slurm
    /// shows none for jobs that are not eligible (gated, held).
    fn site_factors(
        &mut self,
        job_ids: &[String],
    ) -> impl Future<Output = Result<std::collections::HashMap<String, i64>, AdapterError>> + Send;
}
