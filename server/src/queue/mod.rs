//! The queue's rules, over a [`Store`] and the [`Dispatcher`], with no
//! network and no clock of its own: every call is told the time, so that
//! tests are deterministic.
//!
//! A job is `queued`, `leased` to a worker, and ends `succeeded`,
//! `cancelled` or `dead`. A lease that is not extended by a heartbeat
//! before it expires, or a failed attempt, sends the job back to the queue
//! after an exponential backoff with jitter (seeded: the same job, attempt
//! and seed give the same delay); past its attempts it is dead-lettered,
//! where it can be listed, requeued with fresh attempts, or purged.

use crate::auth::{Caller, Role};
use crate::dispatch::Dispatcher;
use crate::store::{
    Change, EventRow, JobFilter, JobRow, JobState, NewJob, OverBudget, Store, StoreError, TenantLimits, WorkerRow,
};
use foresight_core::rng::SplitMix64;
use std::collections::{BTreeMap, HashMap};

mod admin;
mod follow;
mod forecast;
mod lease;
mod limits;
mod placement;
mod sections;

pub use admin::{BASELINE, Mode, check_limits, check_policy, over_budget_of, seed_policy};
pub use forecast::{PREDICTED_START_LABEL, predicted_start_ms};
pub use limits::Refusals;
use limits::{DAY_MS, fits_budget, gpu_cost_s, take_token};

/// Why a request was refused; each maps to one gRPC status.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// A field is wrong (`INVALID_ARGUMENT`).
    #[error("{field}: {reason}")]
    Invalid {
        /// The field, as the protocol names it.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No such job, or not one the caller may see (`NOT_FOUND`).
    #[error("job {0} not found")]
    NotFound(u64),
    /// The caller's role may not do this (`PERMISSION_DENIED`).
    #[error("permission denied: {0}")]
    Denied(String),
    /// The job is not in a state that allows it (`FAILED_PRECONDITION`).
    #[error("{0}")]
    Precondition(String),
    /// A tenant's rate limit or GPU budget refuses it (`RESOURCE_EXHAUSTED`).
    #[error("{0}")]
    Exhausted(String),
    /// This replica is not the active dispatcher (`UNAVAILABLE`).
    #[error("{0}")]
    Unavailable(String),
    /// The store failed (`INTERNAL`).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl QueueError {
    /// An invalid field.
    pub fn invalid(field: &str, reason: impl Into<String>) -> Self {
        QueueError::Invalid { field: field.to_string(), reason: reason.into() }
    }
}

/// How the queue behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueConfig {
    /// How long a lease lasts without a heartbeat, ms.
    pub lease_ttl_ms: i64,
    /// The first retry's backoff, ms (doubled each attempt).
    pub backoff_base_ms: i64,
    /// The longest backoff, ms.
    pub backoff_cap_ms: i64,
    /// The seed of the backoffs' jitter.
    pub seed: u64,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self { lease_ttl_ms: 30_000, backoff_base_ms: 1_000, backoff_cap_ms: 300_000, seed: 0 }
    }
}

/// The backoff before a job's next attempt after `attempt` attempts:
/// `base * 2^(attempt-1)`, capped, of which a seeded random half is kept
/// ("equal jitter"), so that retries of many jobs do not arrive together.
pub fn backoff_ms(cfg: &QueueConfig, job_id: u64, attempt: u32) -> i64 {
    let exp = cfg.backoff_base_ms.saturating_mul(1i64 << attempt.saturating_sub(1).min(30)).min(cfg.backoff_cap_ms);
    let u = SplitMix64::derive(cfg.seed, job_id.wrapping_mul(1 << 20) ^ u64::from(attempt)).next_f64();
    exp / 2 + (u * (exp / 2) as f64) as i64
}

/// What a `Lease` call gave a worker.
#[derive(Debug, Clone, PartialEq)]
pub struct Granted {
    /// The job, leased.
    pub job: JobRow,
}

/// One submit's answer: the job and whether it is new, or why it was
/// refused.
pub type Submitted = Result<(JobRow, bool), QueueError>;

/// The queue (see the module's doc).
pub struct Queue<S: Store> {
    store: S,
    dispatcher: Dispatcher,
    cfg: QueueConfig,
    changes: BTreeMap<String, u64>,
    /// Each rate-limited tenant's token bucket: tokens left, when last
    /// refilled (Unix ms).
    buckets: HashMap<String, (f64, i64)>,
    /// Whether this replica was the active dispatcher at its last call
    /// (the dispatcher's cache is built anew when it becomes it).
    leading: bool,
    /// The policy version and mode followed, the pools' profiles for the
    /// predicted start, the refusals' counts.
    side: admin::Side,
}

impl<S: Store> std::fmt::Debug for Queue<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").field("dispatcher", &self.dispatcher).field("cfg", &self.cfg).finish()
    }
}

/// The most jobs one `List` page holds.
pub const PAGE_MAX: u32 = 1000;

impl<S: Store> Queue<S> {
    /// A queue over `store`, dispatching with `dispatcher`.
    pub fn new(store: S, dispatcher: Dispatcher, cfg: QueueConfig) -> Self {
        let (changes, buckets) = (BTreeMap::new(), HashMap::new());
        Self { store, dispatcher, cfg, changes, buckets, leading: false, side: Default::default() }
    }

    /// The store (to add tokens, look them up).
    pub fn store(&mut self) -> &mut S {
        &mut self.store
    }

    /// Its configuration.
    pub fn config(&self) -> &QueueConfig {
        &self.cfg
    }

    /// The changes written since the queue was made, by event kind
    /// (`submitted` for created jobs, `leased`, `retry`, `dead`, ...).
    pub fn changes(&self) -> &BTreeMap<String, u64> {
        &self.changes
    }

    fn count(&mut self, kind: &str, n: u64) {
        if let Some(c) = self.changes.get_mut(kind) {
            *c += n;
        } else if n > 0 {
            self.changes.insert(kind.to_string(), n);
        }
    }

    /// Writes `changes` in one transaction and counts them.
    fn apply(&mut self, changes: &[Change<'_>]) -> Result<(), StoreError> {
        self.store.apply(changes)?;
        if changes.iter().any(|c| c.kind != "heartbeat") {
            self.side.forecasts.forget();
        }
        for c in changes {
            self.count(c.kind, 1);
        }
        Ok(())
    }

    /// Runs `f` as one exclusive section of the store (one transaction that
    /// no other replica's write interleaves with), committed if it
    /// succeeds.
    fn exclusive<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, QueueError>) -> Result<T, QueueError> {
        self.store.begin()?;
        match f(self) {
            Ok(v) => {
                self.store.commit()?;
                Ok(v)
            }
            Err(e) => {
                self.store.rollback();
                Err(e)
            }
        }
    }

    /// GPU-seconds each tenant used today (UTC), if any tenant has a budget.
    fn used_today(
        &self,
        limits: &HashMap<String, TenantLimits>,
        now_ms: i64,
    ) -> Result<HashMap<String, f64>, StoreError> {
        if !limits.values().any(|l| l.gpu_hours_per_day > 0.0) {
            return Ok(HashMap::new());
        }
        let day = now_ms - now_ms.rem_euclid(DAY_MS);
        Ok(self.store.gpu_seconds(day, now_ms)?.into_iter().collect())
    }

    /// The tenants' limits, by tenant.
    fn limits(&self) -> Result<HashMap<String, TenantLimits>, StoreError> {
        Ok(self.store.tenants()?.into_iter().map(|l| (l.tenant.clone(), l)).collect())
    }

    fn require(caller: &Caller, roles: &[Role], what: &str) -> Result<(), QueueError> {
        if roles.contains(&caller.role) || caller.role == Role::Admin {
            Ok(())
        } else {
            Err(QueueError::Denied(format!("a {} token may not {what}", caller.role.as_str())))
        }
    }

    /// A job the caller may see: another tenant's job is `NOT_FOUND`, so
    /// that ids do not tell what exists.
    fn visible(&self, caller: &Caller, id: u64) -> Result<JobRow, QueueError> {
        match self.store.get(id)? {
            Some(j) if caller.may_see(&j.spec.tenant) => Ok(j),
            _ => Err(QueueError::NotFound(id)),
        }
    }

    /// Submits a validated job for `caller`: predicted, committed, then
    /// answered. The same idempotency key returns the job it made first.
    pub fn submit(&mut self, caller: &Caller, job: NewJob) -> Result<(JobRow, bool), QueueError> {
        let mut out = self.submit_many(vec![(caller.clone(), job)])?;
        out.pop().unwrap_or_else(|| Err(StoreError::Corrupt("a submit without its answer".into()).into()))
    }

    /// Submits each job as [`Queue::submit`] does, committing all that are
    /// admitted in one transaction (group commit: one fsync for the lot).
    /// The answers are in the order given; a refused job does not stop the
    /// others, and the same key twice from one tenant is one job. `Err` is
    /// a store failure: then none of them was committed.
    pub fn submit_many(&mut self, batch: Vec<(Caller, NewJob)>) -> Result<Vec<Submitted>, StoreError> {
        let mut answers: Vec<Option<Submitted>> = Vec::with_capacity(batch.len());
        let mut admitted = Vec::with_capacity(batch.len());
        // read once a batch, so that an admin's change holds at once, on every replica
        let limits = self.limits()?;
        let mut used: Option<HashMap<String, f64>> = None;
        for (i, (caller, job)) in batch.into_iter().enumerate() {
            match self.admit(&caller, job, &limits, &mut used) {
                Ok(mut job) => {
                    self.predict_start(&mut job)?;
                    admitted.push((i, job, caller.actor()));
                    answers.push(None);
                }
                Err(e) => answers.push(Some(Err(e))),
            }
        }
        let refs: Vec<_> = admitted.iter().map(|(_, job, actor)| (job, actor)).collect();
        let rows = self.store.submit_many(&refs)?;
        self.count("submitted", rows.iter().filter(|r| r.1).count() as u64);
        for ((i, _, _), row) in admitted.iter().zip(rows) {
            answers[*i] = Some(Ok(row));
        }
        Ok(answers
            .into_iter()
            .map(|a| a.unwrap_or_else(|| Err(StoreError::Corrupt("a submit without its answer".into()).into())))
            .collect())
    }

    /// Checks that `caller` may submit `job`, predicts it, and checks that
    /// its tenant's budget (when over-budget jobs are refused) and rate
    /// limit allow it. `used` is the tenants' GPU-seconds today, read at
    /// the first job that needs it and counting the jobs of the batch
    /// admitted since.
    fn admit(
        &mut self,
        caller: &Caller,
        mut job: NewJob,
        limits: &HashMap<String, TenantLimits>,
        used: &mut Option<HashMap<String, f64>>,
    ) -> Result<NewJob, QueueError> {
        Self::require(caller, &[Role::Submitter], "submit")?;
        if job.tenant.is_empty() {
            job.tenant = caller.tenant.clone();
        } else if job.tenant != caller.tenant && caller.role != Role::Admin {
            return Err(QueueError::Denied(format!(
                "tenant `{}`: the token is tenant `{}`'s",
                job.tenant, caller.tenant
            )));
        }
        if let Some(pools) = job.labels.get(crate::convert::POOLS_LABEL).cloned() {
            self.choose_pool(&mut job, &pools)?;
        }
        let (est, interval) = self.dispatcher.estimate(&job);
        job.predicted_runtime_s = est;
        job.predicted_interval = interval;
        let Some(l) = limits.get(&job.tenant) else { return Ok(job) };
        let budgeted = l.over_budget == OverBudget::Refuse && l.gpu_hours_per_day > 0.0 && job.demand.gpus > 0;
        if budgeted {
            if used.is_none() {
                *used = Some(self.used_today(limits, job.submitted_at_ms)?);
            }
            let spent = used.as_ref().and_then(|u| u.get(&job.tenant)).copied().unwrap_or(0.0);
            let cost = gpu_cost_s(&job);
            if spent + cost > l.gpu_hours_per_day * 3600.0 {
                self.side.refused.count(&l.tenant, "gpu_budget");
                return Err(QueueError::Exhausted(format!(
                    "tenant `{}`: GPU budget of {} GPU-hours/day: {:.3} used or leased today, this job asks {:.3} \
                     (its GPUs times its predicted runtime)",
                    l.tenant,
                    l.gpu_hours_per_day,
                    spent / 3600.0,
                    cost / 3600.0
                )));
            }
        }
        let refused = &mut self.side.refused;
        take_token(&mut self.buckets, l, job.submitted_at_ms).inspect_err(|_| refused.count(&l.tenant, "rate_limit"))?;
        if budgeted && let Some(u) = used.as_mut() {
            *u.entry(job.tenant.clone()).or_insert(0.0) += gpu_cost_s(&job);
        }
        Ok(job)
    }

    /// A job by id.
    pub fn get(&self, caller: &Caller, id: u64) -> Result<JobRow, QueueError> {
        Self::require(caller, &[Role::Submitter, Role::Operator], "read jobs")?;
        self.visible(caller, id)
    }

    /// A page of jobs the caller may see; the next page starts after the
    /// last id.
    pub fn list(&self, caller: &Caller, mut filter: JobFilter) -> Result<Vec<JobRow>, QueueError> {
        Self::require(caller, &[Role::Submitter, Role::Operator], "list jobs")?;
        match &filter.tenant {
            Some(t) if !caller.may_see(t) => {
                return Err(QueueError::Denied(format!("tenant `{t}`: the token is tenant `{}`'s", caller.tenant)));
            }
            None if !caller.role.sees_all() => filter.tenant = Some(caller.tenant.clone()),
            _ => {}
        }
        filter.limit = if filter.limit == 0 { 100 } else { filter.limit.min(PAGE_MAX) };
        Ok(self.store.list(&filter)?)
    }

    fn write(
        &mut self,
        caller: &Caller,
        job: &JobRow,
        kind: &str,
        detail: &str,
        now_ms: i64,
    ) -> Result<(), QueueError> {
        let actor = caller.actor();
        self.apply(&[Change { job, kind, detail, actor: &actor, at_ms: now_ms }])?;
        Ok(())
    }

    /// Cancels a queued or leased job (its worker hears it at its next
    /// heartbeat).
    fn cancel_now(&mut self, caller: &Caller, id: u64, now_ms: i64) -> Result<JobRow, QueueError> {
        Self::require(caller, &[Role::Submitter, Role::Operator], "cancel jobs")?;
        let mut j = self.visible(caller, id)?;
        if j.state.is_final() {
            return Err(QueueError::Precondition(format!("job {id} is already {}", j.state.as_str())));
        }
        j.state = JobState::Cancelled;
        j.ended_at_ms = now_ms;
        self.write(caller, &j, "cancelled", "", now_ms)?;
        Ok(j)
    }

    /// Sends a dead-lettered job back to the queue with fresh attempts.
    fn requeue_now(&mut self, caller: &Caller, id: u64, now_ms: i64) -> Result<JobRow, QueueError> {
        Self::require(caller, &[Role::Operator], "requeue jobs")?;
        let mut j = self.visible(caller, id)?;
        if j.state != JobState::Dead {
            return Err(QueueError::Precondition(format!("job {id} is {}, not dead", j.state.as_str())));
        }
        j.state = JobState::Queued;
        j.attempts = 0;
        j.not_before_ms = 0;
        j.ended_at_ms = 0;
        j.worker_id.clear();
        self.write(caller, &j, "requeued", "", now_ms)?;
        Ok(j)
    }

    /// Deletes a finished or dead job.
    fn purge_now(&mut self, caller: &Caller, id: u64, now_ms: i64) -> Result<(), QueueError> {
        Self::require(caller, &[Role::Operator], "purge jobs")?;
        let j = self.visible(caller, id)?;
        if !j.state.is_final() {
            return Err(QueueError::Precondition(format!("job {id} is {}: cancel it first", j.state.as_str())));
        }
        self.store.purge(&j, &caller.actor(), now_ms)?;
        Ok(())
    }

    /// Events after `after_id` the caller may see.
    pub fn events(&self, caller: &Caller, after_id: u64, job_id: Option<u64>) -> Result<Vec<EventRow>, QueueError> {
        Self::require(caller, &[Role::Submitter, Role::Operator], "watch jobs")?;
        if let Some(id) = job_id {
            self.visible(caller, id)?;
        }
        let tenant = (!caller.role.sees_all()).then_some(caller.tenant.as_str());
        Ok(self.store.events_after(after_id, tenant, job_id, 500)?)
    }

    /// Sends back every leased job whose lease expired before `now_ms`:
    /// to the queue after a backoff, or to the dead letters past its
    /// attempts. Returns how many.
    fn expire_now(&mut self, now_ms: i64) -> Result<usize, QueueError> {
        let mut expired = self.store.expired_leases(now_ms)?;
        for j in &mut expired {
            j.error = format!("lease expired (worker `{}`, attempt {})", j.worker_id, j.attempts);
            self.retry_or_bury(j, false, now_ms);
        }
        let system = crate::store::Actor { tenant: "-".into(), role: "dispatcher".into() };
        let changes: Vec<Change<'_>> = expired
            .iter()
            .map(|j| Change {
                job: j,
                kind: if j.state == JobState::Dead { "dead" } else { "retry" },
                detail: &j.error,
                actor: &system,
                at_ms: now_ms,
            })
            .collect();
        self.apply(&changes)?;
        Ok(expired.len())
    }

    fn retry_or_bury(&self, j: &mut JobRow, permanent: bool, now_ms: i64) {
        j.worker_id.clear();
        j.lease_expires_at_ms = 0;
        if permanent || j.attempts >= j.spec.max_attempts {
            j.state = JobState::Dead;
            j.ended_at_ms = now_ms;
        } else {
            j.state = JobState::Queued;
            j.not_before_ms = now_ms + backoff_ms(&self.cfg, j.id, j.attempts);
        }
    }

    /// Why queued job `id` waits, when the last decision in its pool found
    /// no live worker that may take it.
    pub fn wait_reason(&self, id: u64) -> Option<String> {
        self.dispatcher.wait_reason(id).map(str::to_string)
    }

    /// The job a worker holds under lease `(id, attempt)`.
    fn held(&self, worker: &str, id: u64, attempt: u32) -> Result<JobRow, QueueError> {
        let j = self.store.get(id)?.ok_or(QueueError::NotFound(id))?;
        if j.state == JobState::Cancelled && j.worker_id == worker {
            return Ok(j);
        }
        if j.state != JobState::Leased || j.worker_id != worker || j.attempts != attempt {
            return Err(QueueError::Precondition(format!(
                "job {id}: worker `{worker}` holds no lease on attempt {attempt} (it expired or moved on)"
            )));
        }
        Ok(j)
    }

    /// Extends a lease; returns the job (cancelled when its worker should
    /// stop it).
    fn heartbeat_now(
        &mut self,
        caller: &Caller,
        worker: &str,
        id: u64,
        attempt: u32,
        now_ms: i64,
    ) -> Result<JobRow, QueueError> {
        Self::require(caller, &[Role::Worker], "heartbeat")?;
        let mut j = self.held(worker, id, attempt)?;
        if j.state == JobState::Leased {
            j.lease_expires_at_ms = now_ms + self.cfg.lease_ttl_ms;
            self.write(caller, &j, "heartbeat", "", now_ms)?;
        }
        Ok(j)
    }

    /// The attempt ended with `exit_code` 0 (or as its worker judged a
    /// success): the job succeeds and the predictor learns its runtime.
    fn complete_now(
        &mut self,
        caller: &Caller,
        worker: &str,
        id: u64,
        attempt: u32,
        exit_code: i32,
        now_ms: i64,
    ) -> Result<JobRow, QueueError> {
        Self::require(caller, &[Role::Worker], "complete jobs")?;
        let mut j = self.held(worker, id, attempt)?;
        if j.state == JobState::Cancelled {
            return Ok(j);
        }
        j.state = JobState::Succeeded;
        j.exit_code = Some(exit_code);
        j.ended_at_ms = now_ms;
        j.lease_expires_at_ms = 0;
        self.dispatcher.observe_end(&j, (now_ms - j.started_at_ms) as f64 / 1000.0, now_ms);
        self.write(caller, &j, "completed", &format!("exit {exit_code}"), now_ms)?;
        Ok(j)
    }

    /// The attempt failed: retried after a backoff while attempts remain
    /// (unless `permanent`), else dead-lettered.
    #[allow(clippy::too_many_arguments)]
    fn fail_now(
        &mut self,
        caller: &Caller,
        worker: &str,
        id: u64,
        attempt: u32,
        exit_code: i32,
        error: &str,
        permanent: bool,
        now_ms: i64,
    ) -> Result<JobRow, QueueError> {
        Self::require(caller, &[Role::Worker], "fail jobs")?;
        let mut j = self.held(worker, id, attempt)?;
        if j.state == JobState::Cancelled {
            return Ok(j);
        }
        j.exit_code = Some(exit_code);
        j.error = error.to_string();
        self.retry_or_bury(&mut j, permanent, now_ms);
        let kind = if j.state == JobState::Dead { "dead" } else { "retry" };
        self.write(caller, &j, kind, &format!("exit {exit_code}: {error}"), now_ms)?;
        Ok(j)
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod cache_tests;
