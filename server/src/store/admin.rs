//! What the administration keeps: the dispatch policy's versions (each
//! update or rollback a new one, the latest active), the dispatcher's mode,
//! and the decision log of shadow and advise. Every change is audited in
//! the transaction that makes it.
//!
//! [`AdminStore`] is a supertrait of [`super::Store`], implemented by both
//! stores in their own `admin` modules.

use super::{Actor, StoreError, WorkerRow};

/// One version of the dispatch policy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PolicyRow {
    /// 1, 2, ... (given by the store).
    pub version: u64,
    /// The policy, as `simulate --policy` takes it.
    pub policy: String,
    /// The predictor's name ("" for the policy's own).
    pub predictor: String,
    /// Why.
    pub note: String,
    /// Who made it.
    pub actor: Actor,
    /// When, Unix ms.
    pub at_ms: i64,
    /// For a rollback, the version it restored (0 otherwise).
    pub restores: u64,
}

/// The dispatcher's mode, as set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModeRow {
    /// `enforce`, `shadow` or `advise`.
    pub mode: String,
    /// Who set it.
    pub actor: Actor,
    /// When, Unix ms.
    pub at_ms: i64,
}

/// One entry of the decision log (shadow and advise).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DecisionRow {
    /// Its id (given by the store; monotonic).
    pub id: u64,
    /// When, Unix ms.
    pub at_ms: i64,
    /// The pool.
    pub pool: String,
    /// The worker that asked.
    pub worker_id: String,
    /// The mode it was made in.
    pub mode: String,
    /// The candidate's policy version.
    pub policy_version: u64,
    /// The candidate's policy.
    pub candidate_policy: String,
    /// The baseline's policy.
    pub baseline_policy: String,
    /// The jobs the baseline started on the worker.
    pub dispatched: Vec<u64>,
    /// The jobs the candidate would have started on it.
    pub candidate: Vec<u64>,
}

impl DecisionRow {
    /// Whether the candidate's choice differs from what was dispatched.
    pub fn differs(&self) -> bool {
        self.dispatched != self.candidate
    }
}

/// Job ids as the store keeps them: `1,2,3`.
pub fn ids_text(ids: &[u64]) -> String {
    ids.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
}

/// Job ids from their text, or why not.
pub fn ids_of(s: &str) -> Result<Vec<u64>, StoreError> {
    s.split(',')
        .filter(|p| !p.is_empty())
        .map(|p| p.parse().map_err(|_| StoreError::Corrupt(format!("job ids `{s}`"))))
        .collect()
}

/// What the administration needs of a store.
pub trait AdminStore {
    /// Adds `p` as the next version (its `version` is ignored), the active
    /// one from now on, audited as `action` with `detail`; returns it with
    /// its version.
    fn add_policy(&mut self, p: &PolicyRow, action: &str, detail: &str) -> Result<PolicyRow, StoreError>;
    /// Every version, oldest first.
    fn policies(&self) -> Result<Vec<PolicyRow>, StoreError>;
    /// The active version (the latest), if any was made.
    fn active_policy(&self) -> Result<Option<PolicyRow>, StoreError>;
    /// Sets the mode, audited with `detail`.
    fn set_mode(&mut self, m: &ModeRow, detail: &str) -> Result<(), StoreError>;
    /// The mode, if one was set.
    fn mode(&self) -> Result<Option<ModeRow>, StoreError>;
    /// Appends an entry to the decision log.
    fn put_decision(&mut self, d: &DecisionRow) -> Result<(), StoreError>;
    /// Entries of the decision log after `after_id`, at most `limit`.
    fn decisions(&self, after_id: u64, limit: u32) -> Result<Vec<DecisionRow>, StoreError>;
    /// Workers of every pool seen at or after `since_ms`, by id.
    fn all_workers(&self, since_ms: i64) -> Result<Vec<WorkerRow>, StoreError>;
}

impl<S: AdminStore + ?Sized> AdminStore for Box<S> {
    fn add_policy(&mut self, p: &PolicyRow, action: &str, detail: &str) -> Result<PolicyRow, StoreError> {
        (**self).add_policy(p, action, detail)
    }
    fn policies(&self) -> Result<Vec<PolicyRow>, StoreError> {
        (**self).policies()
    }
    fn active_policy(&self) -> Result<Option<PolicyRow>, StoreError> {
        (**self).active_policy()
    }
    fn set_mode(&mut self, m: &ModeRow, detail: &str) -> Result<(), StoreError> {
        (**self).set_mode(m, detail)
    }
    fn mode(&self) -> Result<Option<ModeRow>, StoreError> {
        (**self).mode()
    }
    fn put_decision(&mut self, d: &DecisionRow) -> Result<(), StoreError> {
        (**self).put_decision(d)
    }
    fn decisions(&self, after_id: u64, limit: u32) -> Result<Vec<DecisionRow>, StoreError> {
        (**self).decisions(after_id, limit)
    }
    fn all_workers(&self, since_ms: i64) -> Result<Vec<WorkerRow>, StoreError> {
        (**self).all_workers(since_ms)
    }
}
