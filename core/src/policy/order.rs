//! Queue orders: which waiting job comes first.

use crate::state::{ClusterState, PendingJob};
use serde::{Deserialize, Serialize};

/// Whose usage fair share compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShareBy {
    /// Each user has an equal share.
    User,
    /// Each group (account) has an equal share.
    Group,
}

/// The weights of Slurm's priority/multifactor plugin that foresight models:
/// `priority = age·min(wait/max_age, 1) + size·size_factor + fairshare·F`,
/// where the size factor is the job's dominant share of the cluster (or one
/// minus it when small jobs are favoured) and `F = 2^(-U/S)` is the classic
/// fair-share factor (U: the user's share of the decayed usage, S: the
/// user's share of the cluster, equal for every known user).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PriorityWeights {
    /// `PriorityWeightAge`.
    pub age: f64,
    /// `PriorityWeightJobSize`.
    pub size: f64,
    /// `PriorityWeightFairshare`.
    pub fairshare: f64,
    /// `PriorityMaxAge`, seconds.
    pub max_age_s: f64,
    /// `PriorityFavorSmall`.
    pub favor_small: bool,
}

impl Default for PriorityWeights {
    fn default() -> Self {
        Self { age: 1000.0, size: 1000.0, fairshare: 10_000.0, max_age_s: 7.0 * 86_400.0, favor_small: false }
    }
}

/// The order of the queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QueueOrder {
    /// First come, first served.
    #[default]
    Fcfs,
    /// Shortest estimated runtime first.
    ShortestFirst,
    /// Helios' quasi-shortest-service-first: smallest estimated service
    /// (estimated runtime times GPUs, or CPUs for a CPU-only job) first.
    Qssf,
    /// Slurm multifactor priority, highest first.
    Priority(PriorityWeights),
    /// Lowest decayed usage relative to share first.
    FairShare(ShareBy),
    /// Least slack first: `slack = deadline - now - estimate` for a job
    /// with a deadline ([`ClusterState::set_deadline`]); jobs without one
    /// come after every job with one, first come, first served. A job whose
    /// slack is negative cannot meet its deadline by prediction; it still
    /// comes first (it is the most late), and the caller reports it.
    Slack,
}

/// Scratch buffers of an ordering, reused from one decision to the next.
#[derive(Debug, Clone, Default)]
pub struct OrderScratch {
    keyed: Vec<u128>,
    running_usage: Vec<f64>,
    factors: Vec<Option<f64>>,
}

/// A sort key that orders as `(score.total_cmp, index)`: the score's bits
/// mapped to an unsigned integer in total order, above the index.
pub(crate) fn sort_key(score: f64, index: u32) -> u128 {
    let bits = score.to_bits();
    let ordered = if bits >> 63 == 1 { !bits } else { bits | (1 << 63) };
    (u128::from(ordered) << 32) | u128::from(index)
}

impl QueueOrder {
    /// Whether the order reads fair-share usage (fair share, and the
    /// multifactor priority through its fair-share factor).
    pub fn reads_usage(&self) -> bool {
        matches!(self, QueueOrder::Priority(_) | QueueOrder::FairShare(_))
    }

    /// Writes into `out` the indices of `state.pending()` in this order
    /// (ties by arrival).
    pub fn order_into(&self, state: &ClusterState, now: f64, scratch: &mut OrderScratch, out: &mut Vec<u32>) {
        out.clear();
        let pending = state.pending();
        if let QueueOrder::Fcfs = self {
            out.extend(0..pending.len() as u32);
            return;
        }
        let fs = match self {
            QueueOrder::Priority(_) => Some(ShareBy::User),
            QueueOrder::FairShare(by) => Some(*by),
            _ => None,
        };
        let mut running_total = 0.0;
        if let Some(by) = fs {
            running_usage(state, now, by, &mut scratch.running_usage);
            running_total = scratch.running_usage.iter().sum();
        }
        let running = (&scratch.running_usage[..], running_total);
        // a user's (or group's) factor is the same for all their jobs:
        // computed once per decision
        let factors = &mut scratch.factors;
        factors.clear();
        let mut factor = |p: &PendingJob, by: ShareBy| {
            let id = match by {
                ShareBy::User => p.info.user,
                ShareBy::Group => p.info.group,
            } as usize;
            if factors.len() <= id {
                factors.resize(id + 1, None);
            }
            *factors[id].get_or_insert_with(|| fair_share_factor(state, now, by, running, p))
        };
        scratch.keyed.clear();
        scratch.keyed.extend(pending.iter().enumerate().map(|(i, p)| {
            let score = match self {
                QueueOrder::Fcfs => 0.0,
                QueueOrder::ShortestFirst => p.estimate_s,
                QueueOrder::Qssf => p.estimate_s * f64::from(p.info.demand.size()),
                QueueOrder::Priority(w) => {
                    let age = ((now - p.info.submit_s) / w.max_age_s).clamp(0.0, 1.0);
                    let share = p.info.demand.dominant_share(&state.up_total()).min(1.0);
                    let size = if w.favor_small { 1.0 - share } else { share };
                    -(w.age * age + w.size * size + w.fairshare * factor(p, ShareBy::User))
                }
                QueueOrder::FairShare(by) => -factor(p, *by),
                QueueOrder::Slack => match state.deadline(p.info.key) {
                    Some(d) => slack(d, now, p.estimate_s),
                    None => f64::INFINITY,
                },
            };
            sort_key(score, i as u32)
        }));
        // keys are unique (the index is part of them): an unstable sort
        // gives the one order
        scratch.keyed.sort_unstable();
        out.extend(scratch.keyed.iter().map(|&k| k as u32));
    }
}

/// A job's slack: the time to spare if it started `now` and ran for its
/// estimate, `deadline - now - estimate` (negative: it would end late).
pub fn slack(deadline_s: f64, now: f64, estimate_s: f64) -> f64 {
    deadline_s - now - estimate_s
}

/// Usage accrued so far by running jobs, per user or group id.
fn running_usage(state: &ClusterState, now: f64, by: ShareBy, out: &mut Vec<f64>) {
    out.clear();
    let cap = state.up_total();
    for r in state.running() {
        let id = match by {
            ShareBy::User => r.info.user,
            ShareBy::Group => r.info.group,
        } as usize;
        if out.len() <= id {
            out.resize(id + 1, 0.0);
        }
        out[id] += r.info.demand.dominant_share(&cap) * (now - r.start_s).max(0.0);
    }
}

/// The classic fair-share factor `2^(-U/S)` of a pending job's user or group.
fn fair_share_factor(state: &ClusterState, now: f64, by: ShareBy, running: (&[f64], f64), p: &PendingJob) -> f64 {
    let (running, running_total) = running;
    let ledger = state.usage();
    let (id, decayed, members) = match by {
        ShareBy::User => (p.info.user, ledger.user_usage(p.info.user, now), ledger.users()),
        ShareBy::Group => (p.info.group, ledger.group_usage(p.info.group, now), ledger.groups()),
    };
    let total = ledger.total_usage(now) + running_total;
    if total <= 0.0 || members == 0 {
        return 1.0;
    }
    let used = (decayed + running.get(id as usize).copied().unwrap_or(0.0)) / total;
    let share = 1.0 / f64::from(members);
    (-used / share).exp2()
}

#[cfg(test)]
mod tests {
    use super::sort_key;

    #[test]
    fn sort_keys_order_as_total_cmp_then_index() {
        let xs = [f64::NEG_INFINITY, -3.5, -0.0, 0.0, 1e-300, 2.0, f64::INFINITY, f64::NAN, -f64::NAN];
        for (i, a) in xs.iter().enumerate() {
            for (j, b) in xs.iter().enumerate() {
                let want = a.total_cmp(b).then(i.cmp(&j));
                assert_eq!(sort_key(*a, i as u32).cmp(&sort_key(*b, j as u32)), want, "{a} {b}");
            }
        }
    }
}
