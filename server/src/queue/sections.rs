//! The queue's public changes, each one exclusive section of the store
//! (one transaction that no other replica's write interleaves with), and
//! which of them only the active dispatcher does.

use super::{Granted, Queue, QueueError, Role};
use crate::auth::Caller;
use crate::store::{JobRow, Store, WorkerRow};

impl<S: Store> Queue<S> {
    /// Cancels a queued or leased job (its worker hears it at its next
    /// heartbeat).
    pub fn cancel(&mut self, caller: &Caller, id: u64, now_ms: i64) -> Result<JobRow, QueueError> {
        self.exclusive(|q| q.cancel_now(caller, id, now_ms))
    }

    /// Sends a dead-lettered job back to the queue with fresh attempts.
    pub fn requeue(&mut self, caller: &Caller, id: u64, now_ms: i64) -> Result<JobRow, QueueError> {
        self.exclusive(|q| q.requeue_now(caller, id, now_ms))
    }

    /// Deletes a finished or dead job.
    pub fn purge(&mut self, caller: &Caller, id: u64, now_ms: i64) -> Result<(), QueueError> {
        self.exclusive(|q| q.purge_now(caller, id, now_ms))
    }

    /// Sends back every leased job whose lease expired before `now_ms`:
    /// to the queue after a backoff, or to the dead letters past its
    /// attempts. Returns how many: 0 on a replica that is not the active
    /// dispatcher (this call also tries to become it).
    pub fn expire(&mut self, now_ms: i64) -> Result<usize, QueueError> {
        if !self.leads()? {
            return Ok(0);
        }
        self.exclusive(|q| q.expire_now(now_ms))
    }

    /// Whether this replica is the active dispatcher (trying to become it).
    pub fn lead(&mut self) -> Result<bool, QueueError> {
        self.leads()
    }

    /// A worker asks for work: its offer is recorded, expired leases are
    /// sent back, and the policy decides; the jobs it starts on this
    /// worker are leased to it. Jobs of a tenant over its GPU budget wait.
    /// `UNAVAILABLE` on a replica that is not the active dispatcher.
    pub fn lease(&mut self, caller: &Caller, offer: WorkerRow, now_ms: i64) -> Result<Vec<Granted>, QueueError> {
        self.lease_with(caller, offer, crate::governance::WorkerTerms::default(), now_ms)
    }

    /// [`Queue::lease`] from a worker with labels and taints (`terms`),
    /// which the dispatcher keeps for the governance checks.
    pub fn lease_with(
        &mut self,
        caller: &Caller,
        offer: WorkerRow,
        terms: crate::governance::WorkerTerms,
        now_ms: i64,
    ) -> Result<Vec<Granted>, QueueError> {
        Self::require(caller, &[Role::Worker], "lease jobs")?;
        if !self.leads()? {
            return Err(QueueError::Unavailable(
                "this replica is a standby: another `foresight serve` on this database is the active dispatcher; \
                 lease from it"
                    .into(),
            ));
        }
        let out = self.exclusive(|q| q.lease_now(caller, offer, terms, now_ms));
        if out.is_err() {
            // what the kept runtimes followed in the section may be undone
            self.dispatcher.cache_drop();
        }
        out
    }

    /// Extends a lease; returns the job (cancelled when its worker should
    /// stop it).
    pub fn heartbeat(
        &mut self,
        caller: &Caller,
        worker: &str,
        id: u64,
        attempt: u32,
        now_ms: i64,
    ) -> Result<JobRow, QueueError> {
        self.exclusive(|q| q.heartbeat_now(caller, worker, id, attempt, now_ms))
    }

    /// The attempt ended with `exit_code` 0 (or as its worker judged a
    /// success): the job succeeds and the predictor learns its runtime.
    pub fn complete(
        &mut self,
        caller: &Caller,
        worker: &str,
        id: u64,
        attempt: u32,
        exit_code: i32,
        now_ms: i64,
    ) -> Result<JobRow, QueueError> {
        self.exclusive(|q| q.complete_now(caller, worker, id, attempt, exit_code, now_ms))
    }

    /// The attempt failed: retried after a backoff while attempts remain
    /// (unless `permanent`), else dead-lettered.
    #[allow(clippy::too_many_arguments)]
    pub fn fail(
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
        self.exclusive(|q| q.fail_now(caller, worker, id, attempt, exit_code, error, permanent, now_ms))
    }
}
