//! What the queue keeps: jobs, their events (a monotonic id that `Watch`
//! resumes from), leases, bearer tokens (hashed), workers' offers and an
//! audit of every mutation, and tenants' limits. [`Store`] is the
//! interface; [`SqliteStore`] the embedded implementation, [`PgStore`] the
//! PostgreSQL one, for several replicas on one database.
//!
//! Every method that changes a job writes the job, its event and its audit
//! row in one transaction, committed before it returns: a submit that was
//! acknowledged is on disk.

pub mod admin;
pub(crate) mod pg;
mod sqlite;

pub use admin::AdminStore;
pub use pg::PgStore;
pub use sqlite::SqliteStore;

use std::collections::BTreeMap;
use std::path::PathBuf;

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

impl JobRow {
    /// Job `id` as a submit leaves it: queued, never attempted, no lease,
    /// no outcome.
    pub fn queued(id: u64, spec: NewJob) -> Self {
        JobRow {
            id,
            spec,
            state: JobState::Queued,
            attempts: 0,
            not_before_ms: 0,
            worker_id: String::new(),
            lease_expires_at_ms: 0,
            exit_code: None,
            error: String::new(),
            started_at_ms: 0,
            ended_at_ms: 0,
        }
    }
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
#[derive(Debug, Clone, PartialEq, Eq, Default)]
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
    /// PostgreSQL failed.
    #[error("store: postgres: {0}")]
    Postgres(#[from] postgres::Error),
    /// A `--store` that names no store this version knows.
    #[error("--store `{0}`: expected postgres://... or postgresql://... (or no --store: SQLite in --data)")]
    Url(String),
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

/// What a tenant's jobs do once its GPU-hours of the day are spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OverBudget {
    /// They are accepted and wait: left out of dispatch until the next
    /// (UTC) day.
    #[default]
    Wait,
    /// A submit that would go over is refused (`RESOURCE_EXHAUSTED`).
    Refuse,
}

impl OverBudget {
    /// The name kept in the store and taken by the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            OverBudget::Wait => "wait",
            OverBudget::Refuse => "refuse",
        }
    }

    /// The choice named `s` (`wait` or `refuse`).
    pub fn parse(s: &str) -> Option<OverBudget> {
        [OverBudget::Wait, OverBudget::Refuse].into_iter().find(|o| o.as_str() == s)
    }
}

/// A tenant's limits, set by an admin (`foresight serve tenant set`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TenantLimits {
    /// The tenant.
    pub tenant: String,
    /// Submits per second refilled into its token bucket (0: no limit).
    pub rate_per_s: f64,
    /// The bucket's size: submits allowed at once (at least 1 when
    /// `rate_per_s` is set).
    pub burst: u32,
    /// GPU-hours per UTC day (0: no budget).
    pub gpu_hours_per_day: f64,
    /// What a job over the budget does.
    pub over_budget: OverBudget,
}

/// How a tenant's limits are written in the audit table.
pub fn tenant_detail(t: &TenantLimits) -> String {
    format!(
        "{}: rate {}/s burst {}, {} GPU-hours/day, over budget {}",
        t.tenant,
        t.rate_per_s,
        t.burst,
        t.gpu_hours_per_day,
        t.over_budget.as_str()
    )
}

/// Where the queue keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreAt {
    /// SQLite in `DIR/foresight.db` (the default: `--data DIR`).
    Folder(PathBuf),
    /// A PostgreSQL database, by its URL (`--store postgres://...`).
    Postgres(String),
}

impl StoreAt {
    /// The store `--store` names, or SQLite in `data` without one.
    pub fn parse(store: Option<&str>, data: PathBuf) -> Result<StoreAt, StoreError> {
        match store {
            None => Ok(StoreAt::Folder(data)),
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                Ok(StoreAt::Postgres(u.to_string()))
            }
            Some(u) => Err(StoreError::Url(u.to_string())),
        }
    }

    /// Opens (creating its tables) the store.
    pub fn open(&self) -> Result<Box<dyn Store>, StoreError> {
        Ok(match self {
            StoreAt::Folder(dir) => Box::new(SqliteStore::open(dir)?),
            StoreAt::Postgres(url) => Box::new(PgStore::connect(url)?),
        })
    }
}

impl std::fmt::Display for StoreAt {
    /// The folder, or the URL without its password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreAt::Folder(d) => write!(f, "{}", d.display()),
            StoreAt::Postgres(u) => {
                // postgres://user:secret@host/db -> postgres://user:***@host/db
                let (scheme, rest) = u.split_once("://").unwrap_or(("postgres", u));
                match rest.split_once('@') {
                    Some((who, at)) if who.contains(':') => {
                        let user = who.split(':').next().unwrap_or("");
                        write!(f, "{scheme}://{user}:***@{at}")
                    }
                    _ => write!(f, "{u}"),
                }
            }
        }
    }
}

/// What the queue needs of a store. Each call is one transaction,
/// committed (durable) before it returns, unless it runs inside
/// [`Store::begin`] ... [`Store::commit`].
pub trait Store: Send + AdminStore {
    /// Opens an exclusive section: the reads and writes until
    /// [`Store::commit`] are one transaction, and no other replica writes
    /// meanwhile (a read-modify-write of a job cannot interleave with
    /// another's). A store with one writer (SQLite under the queue's lock)
    /// needs nothing.
    fn begin(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Commits the section [`Store::begin`] opened.
    fn commit(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Abandons the section [`Store::begin`] opened.
    fn rollback(&mut self) {}
    /// Whether this replica is the active dispatcher, trying to become it
    /// if not: one replica at a time leases jobs and expires leases. A
    /// store with one server is always.
    fn lead(&mut self) -> Result<bool, StoreError> {
        Ok(true)
    }
    /// Sets a tenant's limits, audited in the same transaction.
    fn put_tenant(&mut self, limits: &TenantLimits, actor: &Actor, at_ms: i64) -> Result<(), StoreError>;
    /// Every tenant's limits, by tenant.
    fn tenants(&self) -> Result<Vec<TenantLimits>, StoreError>;
    /// GPU-seconds used by each tenant's attempts started at or after
    /// `since_ms`: ended attempts for their runtime, leased ones for the
    /// longer of their predicted runtime and their time so far (at
    /// `now_ms`); times their GPUs.
    fn gpu_seconds(&self, since_ms: i64, now_ms: i64) -> Result<Vec<(String, f64)>, StoreError>;
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
    /// The id of the last event written (0 when none): where a reader of
    /// the event log that has just read the jobs starts from (the
    /// dispatcher's cache).
    fn last_event_id(&self) -> Result<u64, StoreError>;
    /// Leased jobs whose lease expired before `now_ms`, by id.
    fn expired_leases(&self, now_ms: i64) -> Result<Vec<JobRow>, StoreError>;
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

impl<S: Store + ?Sized> Store for Box<S> {
    fn begin(&mut self) -> Result<(), StoreError> {
        (**self).begin()
    }
    fn commit(&mut self) -> Result<(), StoreError> {
        (**self).commit()
    }
    fn rollback(&mut self) {
        (**self).rollback()
    }
    fn lead(&mut self) -> Result<bool, StoreError> {
        (**self).lead()
    }
    fn put_tenant(&mut self, limits: &TenantLimits, actor: &Actor, at_ms: i64) -> Result<(), StoreError> {
        (**self).put_tenant(limits, actor, at_ms)
    }
    fn tenants(&self) -> Result<Vec<TenantLimits>, StoreError> {
        (**self).tenants()
    }
    fn gpu_seconds(&self, since_ms: i64, now_ms: i64) -> Result<Vec<(String, f64)>, StoreError> {
        (**self).gpu_seconds(since_ms, now_ms)
    }
    fn submit(&mut self, job: &NewJob, actor: &Actor) -> Result<(JobRow, bool), StoreError> {
        (**self).submit(job, actor)
    }
    fn submit_many(&mut self, jobs: &[(&NewJob, &Actor)]) -> Result<Vec<(JobRow, bool)>, StoreError> {
        (**self).submit_many(jobs)
    }
    fn get(&self, id: u64) -> Result<Option<JobRow>, StoreError> {
        (**self).get(id)
    }
    fn list(&self, filter: &JobFilter) -> Result<Vec<JobRow>, StoreError> {
        (**self).list(filter)
    }
    fn apply(&mut self, changes: &[Change<'_>]) -> Result<(), StoreError> {
        (**self).apply(changes)
    }
    fn purge(&mut self, job: &JobRow, actor: &Actor, at_ms: i64) -> Result<(), StoreError> {
        (**self).purge(job, actor, at_ms)
    }
    fn events_after(
        &self,
        after_id: u64,
        tenant: Option<&str>,
        job_id: Option<u64>,
        limit: u32,
    ) -> Result<Vec<EventRow>, StoreError> {
        (**self).events_after(after_id, tenant, job_id, limit)
    }
    fn last_event_id(&self) -> Result<u64, StoreError> {
        (**self).last_event_id()
    }
    fn expired_leases(&self, now_ms: i64) -> Result<Vec<JobRow>, StoreError> {
        (**self).expired_leases(now_ms)
    }
    fn active_counts(&self) -> Result<Vec<(String, String, JobState, u64)>, StoreError> {
        (**self).active_counts()
    }
    fn put_worker(&mut self, worker: &WorkerRow) -> Result<(), StoreError> {
        (**self).put_worker(worker)
    }
    fn workers(&self, pool: &str, since_ms: i64) -> Result<Vec<WorkerRow>, StoreError> {
        (**self).workers(pool, since_ms)
    }
    fn put_token(&mut self, hash: &str, tenant: &str, role: &str, at_ms: i64) -> Result<(), StoreError> {
        (**self).put_token(hash, tenant, role, at_ms)
    }
    fn token(&self, hash: &str) -> Result<Option<(String, String)>, StoreError> {
        (**self).token(hash)
    }
}
