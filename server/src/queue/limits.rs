//! Tenants' limits: the token bucket of a rate limit, and GPU budgets of
//! GPU-hours per UTC day counted by prediction.

use super::{Queue, QueueError};
use crate::store::{JobRow, NewJob, Store, TenantLimits};
use std::collections::{BTreeMap, HashMap};

/// Submits refused by a tenant's limits since the queue was made, by
/// tenant and reason (`rate_limit`, `gpu_budget`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refusals(BTreeMap<(String, String), u64>);

impl Refusals {
    /// Counts one refusal of `tenant`'s submit for `reason`.
    pub(super) fn count(&mut self, tenant: &str, reason: &str) {
        *self.0.entry((tenant.to_string(), reason.to_string())).or_insert(0) += 1;
    }

    /// The counts, by (tenant, reason).
    pub fn counts(&self) -> &BTreeMap<(String, String), u64> {
        &self.0
    }
}

impl<S: Store> Queue<S> {
    /// Submits refused by tenants' rate limits and GPU budgets since the
    /// queue was made (for the metrics).
    pub fn refusals(&self) -> &Refusals {
        &self.side.refused
    }
}

/// One UTC day, ms.
pub(super) const DAY_MS: i64 = 86_400_000;

/// A job's GPU-seconds by prediction.
pub(super) fn gpu_cost_s(job: &NewJob) -> f64 {
    f64::from(job.demand.gpus) * job.predicted_runtime_s.max(0.0)
}

/// Whether job `j` fits its tenant's GPU budget of the day, with `used`
/// GPU-seconds spent; `take` adds its cost to `used` when it fits.
pub(super) fn fits_budget(
    limits: &HashMap<String, TenantLimits>,
    used: &mut HashMap<String, f64>,
    j: &JobRow,
    take: bool,
) -> bool {
    let Some(l) = limits.get(&j.spec.tenant) else { return true };
    if l.gpu_hours_per_day <= 0.0 || j.spec.demand.gpus == 0 {
        return true;
    }
    let cost = gpu_cost_s(&j.spec);
    let spent = used.get(&j.spec.tenant).copied().unwrap_or(0.0);
    if spent + cost > l.gpu_hours_per_day * 3600.0 {
        return false;
    }
    if take {
        used.insert(j.spec.tenant.clone(), spent + cost);
    }
    true
}

/// Takes one token from the tenant's bucket at `now_ms`, or says why not.
pub(super) fn take_token(buckets: &mut HashMap<String, (f64, i64)>, l: &TenantLimits, now_ms: i64) -> Result<(), QueueError> {
    if l.rate_per_s <= 0.0 {
        return Ok(());
    }
    let burst = f64::from(l.burst.max(1));
    let (tokens, last) = buckets.entry(l.tenant.clone()).or_insert((burst, now_ms));
    let refill = (now_ms - *last).max(0) as f64 / 1000.0 * l.rate_per_s;
    *tokens = (*tokens + refill).min(burst);
    *last = now_ms.max(*last);
    if *tokens < 1.0 {
        return Err(QueueError::Exhausted(format!(
            "tenant `{}`: rate limit of {} submits/s (burst {}) exceeded; retry later",
            l.tenant, l.rate_per_s, burst
        )));
    }
    *tokens -= 1.0;
    Ok(())
}
