//! What the queue keeps: jobs, their events (a monotonic id that `Watch`
//! resumes from), leases, bearer tokens (hashed), workers' offers and an
//! audit of every mutation. [`Store`] is the interface; [`SqliteStore`] the
//! embedded implementation (PostgreSQL is planned behind the same trait).
//!
//! Every method that changes a job writes the job, its event and its audit
//! row in one transaction, committed before it returns: a submit that was
//! acknowledged is on disk.

mod sqlite;

pub use sqlite::SqliteStore;

use std::collections::BTreeMap;

/// Where a job is in its life (the protocol's `JobState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum JobState {
    /// Waiting to be dispatched.
    Queued,
    /// Leased to a worker.
    Leased,
    /// Completed.
    Succeeded,
    /// Cancelled.
    Cancelled,
    /// Dead letter: out of attempts.
    Dead,
}

impl JobState {
    /// Every state, in order.
    pub const ALL: [JobState; 5] =
        [JobState::Queued, JobState::Leased, JobState::Succeeded, JobState::Cancelled, JobState::Dead];

    /// The name kept in the store and shown by the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Leased => "leased",
            JobState::Succeeded => "succeeded",
            JobState::Cancelled => "cancelled",
            JobState::Dead => "dead",
        }
    }

    /// The state named `s` (as [`JobState::as_str`] writes it).
    pub fn parse(s: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// True once nothing more happens to the job unless an operator acts.
    pub fn is_final(self) -> bool {
        matches!(self, JobState::Succeeded | JobState::Cancelled | JobState::Dead)
    }
}

/// What a job asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Demand {
    /// CPUs.
    pub cpus: u32,
    /// GPUs.
    pub gpus: u32,
    /// GPU type ("" for any).
    pub gpu_type: String,
    /// Memory, MiB.
    pub memory_mb: u64,
}

/// A job as submitted, validated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewJob {
    /// The tenant that owns it.
    pub tenant: String,
    /// The idempotency key (unique per tenant).
    pub idempotency_key: String,
    /// Its name.
    pub name: String,
    /// The worker pool that runs it.
    pub pool: String,
    /// What it asks for.
    pub demand: Demand,
    /// Priority (higher first, for policies that read it).
    pub priority: i64,
    /// Kill limit, seconds (0: none).
    pub time_limit_s: f64,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Shell command.
    pub command: String,
    /// Opaque payload.
    pub payload: Vec<u8>,
    /// Attempts allowed (at least 1).
    pub max_attempts: u32,
    /// The predictor's estimate at submission, seconds.
    pub predicted_runtime_s: f64,
    /// Its interval, when there is one.
    pub predicted_interval: Option<(f64, f64)>,
    /// When it was submitted, Unix ms.
    pub submitted_at_ms: i64,
}

/// A job as kept.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRow {
    /// Its id (monotonic, from 1).
    pub id: u64,
    /// What was submitted.
    pub spec: NewJob,
    /// Its state.
    pub state: JobState,
    /// Attempts started so far.
    pub attempts: u32,
    /// Not dispatched before this, Unix ms (0: at once).
    pub not_before_ms: i64,
    /// The worker holding its lease ("" when none).
    pub worker_id: String,
    /// When its lease expires, Unix ms (0 when none).
    pub lease_expires_at_ms: i64,
    /// The last reported exit code.
    pub exit_code: Option<i32>,
    /// The last error.
    pub error: String,
    /// When its last attempt started, Unix ms (0: never).
    pub started_at_ms: i64,
    /// When it ended, Unix ms (0: not yet).
    pub ended_at_ms: i64,
}

/// One change of one job, as `Watch` streams it.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    /// Monotonic id.
    pub id: u64,
    /// The job.
    pub job_id: u64,
    /// Its tenant.
    pub tenant: String,
    /// What happened (`submitted`, `leased`, ...).
    pub kind: String,
    /// The job's state after it.
    pub state: JobState,
    /// When, Unix ms.
    pub at_ms: i64,
    /// Detail (worker, exit code, error).
    pub detail: String,
}

/// Who asked for a mutation, for the audit table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The token's tenant.
    pub tenant: String,
    /// The token's role.
    pub role: String,
}

/// A change to write: the job's new row, the event it makes and the audit
/// action.
#[derive(Debug, Clone, PartialEq)]
pub struct Change<'a> {
    /// The job as it is after the change.
    pub job: &'a JobRow,
    /// The event's kind.
    pub kind: &'a str,
    /// The event's detail.
    pub detail: &'a str,
    /// Who did it.
    pub actor: &'a Actor,
    /// When, Unix ms.
    pub at_ms: i64,
}

/// A worker's offer, as last seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerRow {
    /// Its name.
    pub id: String,
    /// Its pool.
    pub pool: String,
    /// Its whole capacity.
    pub capacity: Demand,
    /// When it last leased or heartbeat, Unix ms.
    pub seen_at_ms: i64,
}

/// Which jobs to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    /// Only these states (empty: all).
    pub states: Vec<JobState>,
    /// Only this tenant.
    pub tenant: Option<String>,
    /// Only this pool.
    pub pool: Option<String>,
    /// Only ids above this (paging).
    pub after_id: u64,
    /// At most this many.
    pub limit: u32,
}

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The data folder could not be made.
    #[error("store: cannot create `{path}`: {source}")]
    Folder {
        /// The folder.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A row holds what this version cannot read.
    #[error("store: corrupt row: {0}")]
    Corrupt(String),
}

/// What the queue needs of a store. Each call is one transaction,
/// committed (durable) before it returns.
pub trait Store: Send {
    /// Inserts a job unless its tenant already has one with its
    /// idempotency key; returns the job and whether it is new.
    fn submit(&mut self, job: &NewJob, actor: &Actor) -> Result<(JobRow, bool), StoreError>;
    /// Submits each job as [`Store::submit`] does, all in one transaction
    /// (one commit, one fsync, for the lot: group commit); the answers are
    /// in the order of `jobs`. A key that comes twice, from the same
    /// tenant, returns the job its first submit made. On an error nothing
    /// is committed.
    fn submit_many(&mut self, jobs: &[(&NewJob, &Actor)]) -> Result<Vec<(JobRow, bool)>, StoreError>;
    /// A job by id.
    fn get(&self, id: u64) -> Result<Option<JobRow>, StoreError>;
    /// Jobs matching `filter`, by id.
    fn list(&self, filter: &JobFilter) -> Result<Vec<JobRow>, StoreError>;
    /// Writes each change (job row, event, audit) in one transaction.
    fn apply(&mut self, changes: &[Change<'_>]) -> Result<(), StoreError>;
    /// Deletes a job, with an event and an audit row.
    fn purge(&mut self, job: &JobRow, actor: &Actor, at_ms: i64) -> Result<(), StoreError>;
    /// Events after `after_id`, of one tenant's jobs (or all), of one job (or
    /// all), at most `limit`.
    fn events_after(
        &self,
        after_id: u64,
        tenant: Option<&str>,
        job_id: Option<u64>,
        limit: u32,
    ) -> Result<Vec<EventRow>, StoreError>;
    /// Queued and leased jobs counted by tenant, pool and state (for the
    /// metrics).
    fn active_counts(&self) -> Result<Vec<(String, String, JobState, u64)>, StoreError>;
    /// Records a worker's offer.
    fn put_worker(&mut self, worker: &WorkerRow) -> Result<(), StoreError>;
    /// Workers of `pool` seen at or after `since_ms`, by id.
    fn workers(&self, pool: &str, since_ms: i64) -> Result<Vec<WorkerRow>, StoreError>;
    /// Records a token by the hash of its secret.
    fn put_token(&mut self, hash: &str, tenant: &str, role: &str, at_ms: i64) -> Result<(), StoreError>;
    /// The tenant and role of the token with this hash.
    fn token(&self, hash: &str) -> Result<Option<(String, String)>, StoreError>;
}
