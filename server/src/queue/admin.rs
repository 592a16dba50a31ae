//! The administration's rules: the dispatch policy's versions (updated,
//! listed, rolled back; the active one read from the store at each
//! dispatch, so that every replica follows it), the dispatcher's mode, and
//! tenants' limits by RPC.
//!
//! Modes, for serve's own dispatcher: in `enforce` (the default) the
//! active policy (the candidate) dispatches. In `shadow` the baseline
//! ([`BASELINE`]: arrival order, no backfill) dispatches, and each
//! decision that starts anything, by either, is written to the decision
//! log with what the candidate would have started on that worker. In
//! `advise` the baseline dispatches too, and only the decisions where the
//! candidate would start other jobs are logged, as proposals.
//!
//! Roles: an admin may do everything here; an operator may read
//! everything and set the mode (to fall back to shadow in an incident),
//! but not change the policy or tenants' limits; submitters and workers
//! nothing.

use super::{Queue, QueueError};
use crate::auth::{Caller, Role};
use crate::dispatch::Dispatcher;
use crate::store::admin::{DecisionRow, ModeRow, PolicyRow};
use crate::store::{Actor, JobRow, OverBudget, Store, TenantLimits, WorkerRow};
use foresight_core::policy::PolicySpec;
use foresight_core::predictor::PredictorKind;

/// The policy that dispatches in shadow and advise.
pub const BASELINE: &str = "fcfs";

/// How serve's dispatcher uses the active policy (see the module's doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// The active policy dispatches.
    #[default]
    Enforce,
    /// The baseline dispatches; the candidate's choices are logged.
    Shadow,
    /// The baseline dispatches; the candidate's differing choices are
    /// logged as proposals.
    Advise,
}

impl Mode {
    /// Its name, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Shadow => "shadow",
            Mode::Advise => "advise",
        }
    }

    /// The mode named `s`.
    pub fn parse(s: &str) -> Option<Mode> {
        [Mode::Enforce, Mode::Shadow, Mode::Advise].into_iter().find(|m| m.as_str() == s)
    }
}

/// What the queue follows of the administration: the policy version and
/// mode it applied last, and the baseline's dispatcher.
pub(super) struct Steering {
    pub(super) version: u64,
    policy: String,
    predictor: String,
    pub(super) mode: Mode,
    baseline: Dispatcher,
}

impl Default for Steering {
    fn default() -> Self {
        let spec: PolicySpec = BASELINE.parse().unwrap_or_else(|_| unreachable!("{BASELINE} is a preset"));
        Self {
            version: 0,
            policy: String::new(),
            predictor: String::new(),
            mode: Mode::Enforce,
            baseline: Dispatcher::new(spec, Some(PredictorKind::Requested)),
        }
    }
}

/// What the queue keeps beside its rules: the administration it follows,
/// the pools' profiles for the predicted start, the refusals' counts.
#[derive(Default)]
pub(super) struct Side {
    /// The policy version and mode followed, and the baseline.
    pub(super) steer: Steering,
    /// Each pool's free-capacity profile.
    pub(super) forecasts: super::forecast::Forecasts,
    /// Submits refused by tenants' limits.
    pub(super) refused: super::limits::Refusals,
}

/// A policy and predictor, checked: the field that is wrong is named.
pub fn check_policy(policy: &str, predictor: &str) -> Result<(PolicySpec, Option<PredictorKind>), QueueError> {
    let spec: PolicySpec = policy.parse().map_err(|e| QueueError::invalid("policy", format!("{e}")))?;
    let kind = match predictor.trim() {
        "" => None,
        p if p.starts_with(crate::dispatch::MODEL_PREDICTOR_PREFIX) => {
            if p[crate::dispatch::MODEL_PREDICTOR_PREFIX.len()..].trim().is_empty() {
                return Err(QueueError::invalid("predictor", "model: names no file (`model:PATH`)"));
            }
            None
        }
        p => Some(p.parse::<PredictorKind>().map_err(|e| QueueError::invalid("predictor", format!("{e}")))?),
    };
    if kind == Some(PredictorKind::Clairvoyant) {
        return Err(QueueError::invalid("predictor", "clairvoyant: a live queue does not know runtimes"));
    }
    Ok((spec, kind))
}

/// A tenant's limits checked as `serve tenant set` checks them (the burst
/// defaults to the rate rounded up).
pub fn check_limits(mut l: TenantLimits) -> Result<TenantLimits, QueueError> {
    crate::convert::check_name("tenant", &l.tenant)?;
    if !l.rate_per_s.is_finite() || l.rate_per_s < 0.0 {
        return Err(QueueError::invalid("rate_per_s", "must be a number of submits per second, 0 or more"));
    }
    if !l.gpu_hours_per_day.is_finite() || l.gpu_hours_per_day < 0.0 {
        return Err(QueueError::invalid("gpu_hours_per_day", "must be a number of GPU-hours, 0 or more"));
    }
    if l.burst == 0 && l.rate_per_s > 0.0 {
        l.burst = (l.rate_per_s.ceil() as u32).max(1);
    }
    Ok(l)
}

/// The store's active policy version, after making version 1 of `policy`
/// and `predictor` (a server's `--policy` and `--predictor`) in a store
/// that has none.
pub fn seed_policy<S: Store + ?Sized>(
    store: &mut S,
    policy: &str,
    predictor: &str,
    now_ms: i64,
) -> Result<PolicyRow, QueueError> {
    if let Some(p) = store.active_policy()? {
        return Ok(p);
    }
    check_policy(policy, predictor)?;
    let first = PolicyRow {
        policy: policy.trim().to_string(),
        predictor: predictor.trim().to_string(),
        note: "serve --policy".into(),
        actor: Actor { tenant: "-".into(), role: "serve".into() },
        at_ms: now_ms,
        ..PolicyRow::default()
    };
    let d = format!("seeded with {}", describe(&first));
    Ok(store.add_policy(&first, "policy-update", &d)?)
}

fn describe(p: &PolicyRow) -> String {
    let predictor = if p.predictor.is_empty() { "its own" } else { &p.predictor };
    format!("policy `{}`, predictor {predictor}", p.policy)
}

impl<S: Store> Queue<S> {
    /// Makes the dispatcher follow version `p`.
    fn apply_policy(&mut self, p: &PolicyRow) -> Result<(), QueueError> {
        let (spec, kind) = check_policy(&p.policy, &p.predictor)?;
        let new_predictor = p.predictor != self.side.steer.predictor;
        match p.predictor.trim().strip_prefix(crate::dispatch::MODEL_PREDICTOR_PREFIX) {
            Some(path) if new_predictor => {
                self.dispatcher.set_policy(spec, kind, false);
                // a replica that cannot load the file keeps its predictor, and says so
                match self.dispatcher.load_model(path.trim()) {
                    Ok(make) => self.dispatcher.set_predictor_factory(make),
                    Err(e) => tracing::error!(version = p.version, error = %e, "policy version's model not loaded"),
                }
            }
            _ => self.dispatcher.set_policy(spec, kind, new_predictor),
        }
        self.side.steer.version = p.version;
        self.side.steer.policy = p.policy.clone();
        self.side.steer.predictor = p.predictor.clone();
        Ok(())
    }

    /// Follows the store's active policy version and mode (read at each
    /// dispatch and by the reaper, so that a change made through any
    /// replica holds at the next one).
    pub fn sync_admin(&mut self) -> Result<(), QueueError> {
        if let Some(p) = self.store.active_policy()?
            && p.version != self.side.steer.version
        {
            self.apply_policy(&p)?;
            tracing::info!(version = p.version, policy = %p.policy, "following policy version");
        }
        self.side.steer.mode = match self.store.mode()? {
            Some(m) => {
                Mode::parse(&m.mode).ok_or_else(|| QueueError::Precondition(format!("stored mode `{}`", m.mode)))?
            }
            None => Mode::Enforce,
        };
        Ok(())
    }

    /// A new version of the policy, active from the next dispatch on
    /// (admin).
    pub fn update_policy(
        &mut self,
        caller: &Caller,
        policy: &str,
        predictor: &str,
        note: &str,
        now_ms: i64,
    ) -> Result<PolicyRow, QueueError> {
        Self::require(caller, &[Role::Admin], "change the policy")?;
        check_policy(policy, predictor)?;
        if let Some(path) = predictor.trim().strip_prefix(crate::dispatch::MODEL_PREDICTOR_PREFIX) {
            // refused here, before it is a version, when this replica cannot load it
            drop(self.dispatcher.load_model(path.trim())?);
        }
        let p = PolicyRow {
            policy: policy.trim().to_string(),
            predictor: predictor.trim().to_string(),
            note: note.to_string(),
            actor: caller.actor(),
            at_ms: now_ms,
            ..PolicyRow::default()
        };
        self.add_version(p, "policy-update")
    }

    /// Restores version `version` as a new one (admin).
    pub fn rollback_policy(
        &mut self,
        caller: &Caller,
        version: u64,
        note: &str,
        now_ms: i64,
    ) -> Result<PolicyRow, QueueError> {
        Self::require(caller, &[Role::Admin], "change the policy")?;
        let all = self.store.policies()?;
        let Some(old) = all.iter().find(|p| p.version == version) else {
            let latest = all.last().map_or(0, |p| p.version);
            return Err(QueueError::invalid("version", format!("no version {version} (the latest is {latest})")));
        };
        let p = PolicyRow {
            note: note.to_string(),
            actor: caller.actor(),
            at_ms: now_ms,
            restores: version,
            ..old.clone()
        };
        self.add_version(p, "policy-rollback")
    }

    fn add_version(&mut self, p: PolicyRow, action: &str) -> Result<PolicyRow, QueueError> {
        let from = match self.store.active_policy()? {
            Some(old) => format!("from v{} ({})", old.version, describe(&old)),
            None => "from none".to_string(),
        };
        let restores = if p.restores > 0 { format!(" (restoring v{})", p.restores) } else { String::new() };
        let detail = format!("{from} to {}{restores}", describe(&p));
        let p = self.store.add_policy(&p, action, &detail)?;
        self.apply_policy(&p)?;
        tracing::info!(version = p.version, by = %p.actor.tenant, %detail, "policy version made");
        Ok(p)
    }

    /// Every version, oldest first, and the active one's number (operator).
    pub fn policies(&self, caller: &Caller) -> Result<Vec<PolicyRow>, QueueError> {
        Self::require(caller, &[Role::Operator], "read the policy")?;
        Ok(self.store.policies()?)
    }

    /// Sets the mode (operator).
    pub fn set_mode(&mut self, caller: &Caller, mode: Mode, note: &str, now_ms: i64) -> Result<ModeRow, QueueError> {
        Self::require(caller, &[Role::Operator], "set the mode")?;
        let old = self.store.mode()?.map_or("enforce".to_string(), |m| m.mode);
        let m = ModeRow { mode: mode.as_str().to_string(), actor: caller.actor(), at_ms: now_ms };
        let note = if note.is_empty() { String::new() } else { format!(": {note}") };
        self.store.set_mode(&m, &format!("from {old} to {}{note}", m.mode))?;
        self.side.steer.mode = mode;
        tracing::info!(mode = mode.as_str(), from = %old, by = %caller.tenant, "mode set");
        Ok(m)
    }

    /// The mode as set, if it was (operator).
    pub fn mode(&self, caller: &Caller) -> Result<Option<ModeRow>, QueueError> {
        Self::require(caller, &[Role::Operator], "read the mode")?;
        Ok(self.store.mode()?)
    }

    /// Sets a tenant's limits (admin), audited.
    pub fn set_tenant(&mut self, caller: &Caller, l: TenantLimits, now_ms: i64) -> Result<TenantLimits, QueueError> {
        Self::require(caller, &[Role::Admin], "set tenants' limits")?;
        let l = check_limits(l)?;
        self.store.put_tenant(&l, &caller.actor(), now_ms)?;
        Ok(l)
    }

    /// Every tenant's limits (operator).
    pub fn tenant_limits(&self, caller: &Caller) -> Result<Vec<TenantLimits>, QueueError> {
        Self::require(caller, &[Role::Operator], "read tenants' limits")?;
        Ok(self.store.tenants()?)
    }

    /// The decision log after `after_id` (operator).
    pub fn decisions(&self, caller: &Caller, after_id: u64, limit: u32) -> Result<Vec<DecisionRow>, QueueError> {
        Self::require(caller, &[Role::Operator], "read the decision log")?;
        let limit = if limit == 0 { 100 } else { limit.min(super::PAGE_MAX) };
        Ok(self.store.decisions(after_id, limit)?)
    }

    /// The live workers (seen within a lease time of `now_ms`), of `pool`
    /// or every pool (operator).
    pub fn live_workers(&self, caller: &Caller, pool: &str, now_ms: i64) -> Result<Vec<WorkerRow>, QueueError> {
        Self::require(caller, &[Role::Operator], "list workers")?;
        let mut all = self.store.all_workers(now_ms - self.cfg.lease_ttl_ms)?;
        all.retain(|w| pool.is_empty() || w.pool == pool);
        Ok(all)
    }

    /// Gates the queued jobs among `ids` until `until_ms` (0: lifts them),
    /// each with a `gated` or `lifted` event (operator); returns those
    /// changed. Jobs that are not queued, or not the caller's to see, are
    /// skipped.
    pub fn gate(&mut self, caller: &Caller, ids: &[u64], until_ms: i64, now_ms: i64) -> Result<Vec<u64>, QueueError> {
        Self::require(caller, &[Role::Operator], "gate jobs")?;
        self.exclusive(|q| {
            let mut changed = Vec::new();
            for &id in ids {
                let Ok(mut j) = q.visible(caller, id) else { continue };
                if j.state != crate::store::JobState::Queued {
                    continue;
                }
                j.not_before_ms = until_ms;
                let (kind, detail) = if until_ms > 0 {
                    ("gated", format!("not before {until_ms} (Unix ms)"))
                } else {
                    ("lifted", String::new())
                };
                q.write(caller, &j, kind, &detail, now_ms)?;
                changed.push(id);
            }
            Ok(changed)
        })
    }

    /// The dispatch of worker `asking` by the mode: the jobs to lease, and
    /// what the decision log of the `leased` events adds.
    pub(super) fn place_by_mode(
        &mut self,
        asking: &str,
        workers: &[WorkerRow],
        leased: &[JobRow],
        queued: &[JobRow],
        now_ms: i64,
    ) -> Result<(Vec<u64>, String), QueueError> {
        let mode = self.side.steer.mode;
        let span = tracing::debug_span!(
            "dispatch",
            worker = asking,
            mode = mode.as_str(),
            policy = %self.dispatcher.policy_name(),
            policy_version = self.side.steer.version,
            queued = queued.len(),
            leased = leased.len(),
            started = tracing::field::Empty,
        );
        let _in = span.enter();
        let candidate = self.dispatcher.place(asking, workers, leased, queued, now_ms);
        if mode == Mode::Enforce {
            span.record("started", candidate.len());
            tracing::debug!(jobs = ?candidate, "dispatched by the policy");
            return Ok((candidate, format!("; policy v{}", self.side.steer.version)));
        }
        let dispatched = self.side.steer.baseline.place(asking, workers, leased, queued, now_ms);
        let d = DecisionRow {
            at_ms: now_ms,
            pool: workers.iter().find(|w| w.id == asking).map(|w| w.pool.clone()).unwrap_or_default(),
            worker_id: asking.to_string(),
            mode: mode.as_str().to_string(),
            policy_version: self.side.steer.version,
            candidate_policy: self.side.steer.policy.clone(),
            baseline_policy: BASELINE.to_string(),
            dispatched,
            candidate,
            ..DecisionRow::default()
        };
        let log = match mode {
            Mode::Shadow => !d.dispatched.is_empty() || !d.candidate.is_empty(),
            _ => d.differs(),
        };
        span.record("started", d.dispatched.len());
        tracing::debug!(dispatched = ?d.dispatched, candidate = ?d.candidate, "dispatched by the baseline");
        if log {
            self.store.put_decision(&d)?;
        }
        let note =
            format!("; mode {}: dispatched by {BASELINE}, candidate v{}", mode.as_str(), self.side.steer.version);
        Ok((d.dispatched, note))
    }

    /// Worker `id`'s labels and taints, for the baseline's governance
    /// checks too.
    pub(super) fn set_baseline_terms(&mut self, id: &str, terms: &crate::governance::WorkerTerms) {
        self.side.steer.baseline.set_terms(id, terms.clone());
    }
}

/// `over_budget` as the protocol spells it (`wait` when empty).
pub fn over_budget_of(s: &str) -> Result<OverBudget, QueueError> {
    if s.is_empty() {
        return Ok(OverBudget::Wait);
    }
    OverBudget::parse(s).ok_or_else(|| QueueError::invalid("over_budget", format!("`{s}`: expected wait or refuse")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::QueueConfig;
    use crate::store::SqliteStore;

    fn queue() -> Queue<SqliteStore> {
        let d = Dispatcher::new("foresight".parse().unwrap(), None);
        Queue::new(SqliteStore::in_memory().unwrap(), d, QueueConfig::default())
    }

    fn who(role: Role) -> Caller {
        Caller { tenant: role.as_str().into(), role }
    }

    #[test]
    fn only_admins_change_the_policy_and_limits_and_operators_read_and_set_the_mode() {
        let mut q = queue();
        seed_policy(q.store(), "foresight", "", 0).unwrap();
        let limits = TenantLimits { tenant: "acme".into(), rate_per_s: 1.0, ..TenantLimits::default() };
        for r in [Role::Submitter, Role::Worker, Role::Operator] {
            assert!(matches!(q.update_policy(&who(r), "sjf", "", "", 1), Err(QueueError::Denied(_))), "{r:?}");
            assert!(matches!(q.rollback_policy(&who(r), 1, "", 1), Err(QueueError::Denied(_))), "{r:?}");
            assert!(matches!(q.set_tenant(&who(r), limits.clone(), 1), Err(QueueError::Denied(_))), "{r:?}");
        }
        for r in [Role::Submitter, Role::Worker] {
            assert!(matches!(q.policies(&who(r)), Err(QueueError::Denied(_))), "{r:?}");
            assert!(matches!(q.set_mode(&who(r), Mode::Shadow, "", 1), Err(QueueError::Denied(_))), "{r:?}");
            assert!(matches!(q.decisions(&who(r), 0, 0), Err(QueueError::Denied(_))), "{r:?}");
        }
        assert_eq!(q.set_mode(&who(Role::Operator), Mode::Shadow, "", 1).unwrap().mode, "shadow");
        assert_eq!(q.policies(&who(Role::Operator)).unwrap().len(), 1);
        assert_eq!(q.set_tenant(&who(Role::Admin), limits, 1).unwrap().burst, 1, "the burst defaults to the rate");
    }

    #[test]
    fn versions_grow_rollbacks_restore_and_the_seed_is_made_once() {
        let mut q = queue();
        let admin = who(Role::Admin);
        assert_eq!(seed_policy(q.store(), "foresight", "", 0).unwrap().version, 1);
        assert_eq!(
            seed_policy(q.store(), "edf", "", 0).unwrap().policy,
            "foresight",
            "a store with a version keeps it"
        );
        let v2 = q.update_policy(&admin, "sjf", "requested", "try", 5).unwrap();
        assert_eq!((v2.version, v2.actor.role.as_str()), (2, "admin"));
        assert_eq!(q.dispatcher.policy_name(), "sjf", "the dispatcher follows at once");
        let v3 = q.rollback_policy(&admin, 1, "back", 6).unwrap();
        assert_eq!((v3.version, v3.policy.as_str(), v3.predictor.as_str(), v3.restores), (3, "foresight", "", 1));
        assert_eq!(q.dispatcher.policy_name(), "foresight");
        let e = q.rollback_policy(&admin, 7, "", 7).unwrap_err().to_string();
        assert_eq!(e, "version: no version 7 (the latest is 3)");
        let e = q.update_policy(&admin, "nope", "", "", 8).unwrap_err().to_string();
        assert!(e.starts_with("policy: "), "{e}");
        let e = q.update_policy(&admin, "sjf", "oracle", "", 8).unwrap_err().to_string();
        assert!(e.starts_with("predictor: "), "{e}");
        assert_eq!(q.policies(&admin).unwrap().len(), 3, "refused updates make no version");
    }

    #[test]
    fn limits_are_checked_field_by_field() {
        let l = |rate: f64, gpu: f64| TenantLimits {
            tenant: "a".into(),
            rate_per_s: rate,
            gpu_hours_per_day: gpu,
            ..TenantLimits::default()
        };
        assert!(check_limits(l(-1.0, 0.0)).unwrap_err().to_string().starts_with("rate_per_s: "));
        assert!(check_limits(l(f64::NAN, 0.0)).unwrap_err().to_string().starts_with("rate_per_s: "));
        assert!(check_limits(l(0.0, f64::INFINITY)).unwrap_err().to_string().starts_with("gpu_hours_per_day: "));
        assert!(
            check_limits(TenantLimits { tenant: String::new(), ..l(0.0, 0.0) })
                .unwrap_err()
                .to_string()
                .starts_with("tenant: ")
        );
        assert_eq!(check_limits(l(2.5, 0.0)).unwrap().burst, 3);
        assert!(over_budget_of("maybe").unwrap_err().to_string().starts_with("over_budget: "));
        assert_eq!(over_budget_of("").unwrap(), OverBudget::Wait);
        for m in [Mode::Enforce, Mode::Shadow, Mode::Advise] {
            assert_eq!(Mode::parse(m.as_str()), Some(m));
        }
    }
}

#[cfg(test)]
mod model_tests {
    use super::*;
    use crate::queue::QueueConfig;
    use crate::store::SqliteStore;
    use crate::store::admin::AdminStore;

    #[test]
    fn a_model_predictor_needs_a_path_and_a_loader_that_loads_it() {
        assert!(matches!(check_policy("fcfs", "model:"), Err(QueueError::Invalid { field, .. }) if field == "predictor"));
        assert_eq!(check_policy("fcfs", "model:/m.json").unwrap().1, None);
        let admin = Caller { tenant: "root".into(), role: Role::Admin };
        // no loader: refused, no version made
        let d = Dispatcher::new("fcfs".parse().unwrap(), None);
        let mut q = Queue::new(SqliteStore::in_memory().unwrap(), d, QueueConfig::default());
        let e = q.update_policy(&admin, "fcfs", "model:/m.json", "", 0).unwrap_err();
        assert!(matches!(e, QueueError::Invalid { ref field, .. } if field == "predictor"), "{e:?}");
        assert!(q.store.active_policy().unwrap().is_none());
        // a loader that refuses this path: its reason, named
        let mut d = Dispatcher::new("fcfs".parse().unwrap(), None);
        d.set_model_loader(Box::new(|p: &str| Err(format!("no file {p}"))));
        let mut q = Queue::new(SqliteStore::in_memory().unwrap(), d, QueueConfig::default());
        let e = q.update_policy(&admin, "fcfs", "model:/m.json", "", 0).unwrap_err();
        assert!(e.to_string().contains("no file /m.json"), "{e}");
        // one that loads it: a version, followed
        let mut d = Dispatcher::new("fcfs".parse().unwrap(), None);
        d.set_model_loader(Box::new(|_: &str| {
            let make: crate::dispatch::PredictorFactory =
                Box::new(|| foresight_core::predictor::PredictorKind::Requested.build(Vec::new));
            Ok(make)
        }));
        let mut q = Queue::new(SqliteStore::in_memory().unwrap(), d, QueueConfig::default());
        let v = q.update_policy(&admin, "fcfs", "model:/m.json", "", 0).unwrap();
        assert_eq!((v.version, v.predictor.as_str()), (1, "model:/m.json"));
    }
}
