//! Backfilling: whether jobs behind a blocked one may start, and which.
//!
//! - none: start jobs in queue order while they fit, stop at the first that
//!   does not;
//! - EASY (Lifka, 1995): the first blocked job gets a reservation at the
//!   earliest time enough resources are expected free (the shadow time);
//!   a later job may start now if it fits and either ends by the shadow time
//!   or uses only what the reservation leaves (the extra resources);
//! - conservative: every queued job, in order, gets a reservation in the
//!   free-capacity profile; a job starts when its reservation is now;
//! - conservative by nodes: conservative, except that a reservation in the
//!   future takes whole nodes, as Slurm's backfill does (its plan marks a
//!   reserved job's nodes busy, not its cores): a job asking for 30 CPUs on
//!   nodes of 25 holds 50 from its reservation's start to its end. The
//!   cluster is seen as nodes of its largest node's size;
//! - protected EASY: EASY, except that a first blocked job that has waited
//!   as long as its requested time is protected: its reservation is
//!   computed from the running jobs' kill limits, and a later job may
//!   start only if its own limit ends it by that reservation (or it fits in
//!   the extra resources). That is EASY's guarantee with requested times:
//!   nothing started behind a protected job can delay it, however wrong the
//!   predictions, so its wait is bounded as under EASY with requested times
//!   while the other jobs keep the predictions' gains.
//!
//! Expected ends come from the estimates in the state, so a prediction only
//! moves reservations: it never changes when a job is killed.

use super::order::sort_key;
use super::placement::{Placement, Tentative};
use super::profile::Profile;
use super::{Decision, Start};
use crate::resources::Resources;
use crate::state::{ClusterState, PendingJob, Running};
use serde::{Deserialize, Serialize};

/// The order in which EASY tries its backfill candidates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CandidateOrder {
    /// The queue order.
    #[default]
    Queue,
    /// Shortest estimated runtime first (SJBF), ties by arrival.
    ShortestFirst,
}

/// The backfilling rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backfill {
    /// No backfilling.
    None,
    /// EASY: one reservation, for the first blocked job.
    #[default]
    Easy,
    /// Conservative: a reservation for every queued job.
    Conservative,
    /// Conservative, with each future reservation rounded up to whole nodes
    /// (Slurm's backfill).
    ConservativeNodes,
    /// EASY with a protected head (see the module's documentation).
    Protected,
}

/// A first blocked job is protected once it has waited this many times its
/// requested time. Chosen on the first quarter of KTH-SP2 at 1.0, 1.3 and
/// 1.6 times its load (0.25, 0.5, 1 and 2 tried; 0.5 to 2 a plateau, 1 its
/// middle); see `docs/robustness.md`.
pub const PROTECT_AFTER_LIMITS: f64 = 1.0;

/// One decision in the making.
pub(crate) struct Pass<'a> {
    pub state: &'a ClusterState,
    pub now: f64,
    pub placement: Placement,
    pub tent: &'a mut Tentative,
    /// `(expected end, resources)` of the jobs started by this decision, in
    /// the order they started.
    pub started: &'a mut Vec<(f64, Resources)>,
    /// `(end at the kill limit, resources)` of the same jobs, kept only for
    /// [`Backfill::Protected`].
    pub started_limits: Option<&'a mut Vec<(f64, Resources)>>,
    pub decision: &'a mut Decision,
}

impl Pass<'_> {
    /// Starts `p` now if it can be placed.
    fn try_start(&mut self, p: &PendingJob, backfilled: bool) -> bool {
        match self.tent.place(self.state, self.placement, &p.info.demand) {
            Some(slots) => {
                self.started.push((self.now + p.estimate_s, p.info.demand.total));
                if let Some(limits) = self.started_limits.as_deref_mut() {
                    limits.push((self.now + p.info.limit_s, p.info.demand.total));
                }
                self.decision.starts.push(Start { key: p.info.key, slots, backfilled });
                true
            }
            None => false,
        }
    }

    /// Starts jobs in `order` while they fit; returns the position of the
    /// first that does not.
    pub fn head_of_queue(&mut self, order: &[u32]) -> Option<usize> {
        let pending = self.state.pending();
        order.iter().position(|&i| !self.try_start(&pending[i as usize], false))
    }

    /// EASY backfilling behind the blocked job at `order[head]`.
    pub fn easy(&mut self, order: &[u32], head: usize, candidates: CandidateOrder, keyed: &mut Vec<u128>) {
        let behind = &order[head + 1..];
        if candidates == CandidateOrder::ShortestFirst {
            // By (estimate, key), and the queue is in key order: by
            // (estimate, index). The keys are unique, so an unstable sort
            // is deterministic. Only the jobs that fit now can start.
            let pending = self.state.pending();
            let free = self.tent.free_total;
            keyed.clear();
            keyed.extend(
                behind
                    .iter()
                    .filter(|&&i| pending[i as usize].info.demand.total.fits_in(&free))
                    .map(|&i| sort_key(pending[i as usize].estimate_s, i)),
            );
            keyed.sort_unstable();
            self.backfill(order[head], keyed.iter().map(|&k| k as u32));
        } else {
            self.backfill(order[head], behind.iter().copied());
        }
    }

    /// Tries `candidates` in order behind the blocked job `head`: each
    /// starts if it fits now and either ends by the head's shadow time or
    /// fits in the extra resources. When the head is protected, the shadow
    /// time and the candidates' ends come from kill limits instead of
    /// estimates.
    fn backfill(&mut self, head: u32, candidates: impl Iterator<Item = u32>) {
        let pending = self.state.pending();
        let head = &pending[head as usize];
        let need = head.info.demand.total;
        let protected = self.started_limits.is_some()
            && self.now - head.info.submit_s >= PROTECT_AFTER_LIMITS * head.info.limit_s;
        // computed at the first candidate that fits, before anything starts
        let mut reservation: Option<(f64, Resources)> = None;
        for i in candidates {
            let p = &pending[i as usize];
            let total = p.info.demand.total;
            if !total.fits_in(&self.tent.free_total) {
                continue;
            }
            let (shadow, extra) = reservation.get_or_insert_with(|| match self.started_limits.as_deref_mut() {
                Some(limits) if protected => limit_shadow(self.now, self.tent.free_total, self.state.running(), limits, &need),
                _ => {
                    self.started.sort_by(|a, b| a.0.total_cmp(&b.0));
                    easy_shadow(self.now, self.tent.free_total, self.state.running(), self.started, &need)
                }
            });
            let end = self.now + if protected { p.info.limit_s } else { p.estimate_s };
            let crosses = end > *shadow;
            if crosses && !total.fits_in(extra) {
                continue;
            }
            if self.try_start(p, true) && crosses {
                *extra = extra.saturating_sub(&total);
            }
        }
    }

    /// Conservative backfilling over the whole queue. With `node`, a node's
    /// capacity, a job that does not start now reserves whole nodes of that
    /// size (see [`whole_nodes`]).
    pub fn conservative(&mut self, order: &[u32], profile: &mut Profile, node: Option<Resources>) {
        let pending = self.state.pending();
        profile.rebuild(self.now, self.tent.free_total, releases(self.now, self.state.running(), &[]));
        let mut blocked = false;
        for &i in order {
            let p = &pending[i as usize];
            let need = p.info.demand.total;
            let Some(at) = profile.earliest(&need, p.estimate_s) else {
                blocked = true;
                continue;
            };
            if at <= self.now && self.try_start(p, blocked) {
                profile.reserve(self.now, p.estimate_s, &need);
                continue;
            }
            blocked = true;
            let held = node.map_or(need, |node| whole_nodes(&need, &node));
            profile.reserve(at, p.estimate_s, &held);
        }
    }
}

/// What a reservation for `need` holds when it takes whole nodes of
/// capacity `node`: as many nodes as its most demanding dimension needs
/// (CPUs, GPUs or memory; one at least), each whole. A dimension the node
/// lacks is held as asked.
pub fn whole_nodes(need: &Resources, node: &Resources) -> Resources {
    fn nodes_for(want: u64, per_node: u64) -> u64 {
        if per_node == 0 { 0 } else { want.div_ceil(per_node) }
    }
    let n = nodes_for(need.cpus.into(), node.cpus.into())
        .max(nodes_for(need.gpus.into(), node.gpus.into()))
        .max(nodes_for(need.mem_mb, node.mem_mb))
        .max(1);
    let whole = |want: u64, per_node: u64| if per_node == 0 { want } else { want.max(per_node.saturating_mul(n)) };
    Resources {
        cpus: whole(need.cpus.into(), node.cpus.into()).min(u32::MAX.into()) as u32,
        gpus: whole(need.gpus.into(), node.gpus.into()).min(u32::MAX.into()) as u32,
        mem_mb: whole(need.mem_mb, node.mem_mb),
    }
}

/// EASY's reservation for a blocked job that needs `need`: the shadow time
/// (the earliest time enough is expected free, `now` at the earliest,
/// infinite if never) and the extra resources (what is expected free at the
/// shadow time beyond `need`). `free_now` is free now; `running` is sorted by
/// expected end; `started` lists `(expected end, resources)` of jobs started
/// now but not yet in `running`, sorted by end.
pub fn easy_shadow(
    now: f64,
    free_now: Resources,
    running: Running<'_>,
    started: &[(f64, Resources)],
    need: &Resources,
) -> (f64, Resources) {
    if need.fits_in(&free_now) {
        return (now, free_now.saturating_sub(need));
    }
    reserve(free_now, releases(now, running, started), need)
}

/// The earliest release time at which `need` fits in `free_now` plus what
/// was released by then, and what is left over there (infinite and all of
/// it when never).
fn reserve(free_now: Resources, releases: impl Iterator<Item = (f64, Resources)>, need: &Resources) -> (f64, Resources) {
    let mut avail = free_now;
    let mut it = releases.peekable();
    while let Some((t, r)) = it.next() {
        avail = avail.saturating_add(&r);
        if it.peek().is_some_and(|(t2, _)| *t2 == t) {
            continue;
        }
        if need.fits_in(&avail) {
            return (t, avail.saturating_sub(need));
        }
    }
    (f64::INFINITY, avail.saturating_sub(need))
}

/// The reservation of a protected job that needs `need`, as
/// [`easy_shadow`] computes it but from kill limits: the running jobs end at
/// their start plus their limit, the jobs started by this decision at
/// `started_limits` (`(now + limit, resources)`, sorted here). A job without
/// a limit never ends, so nothing may cross it.
fn limit_shadow(
    now: f64,
    free_now: Resources,
    running: Running<'_>,
    started_limits: &mut [(f64, Resources)],
    need: &Resources,
) -> (f64, Resources) {
    if need.fits_in(&free_now) {
        return (now, free_now.saturating_sub(need));
    }
    // A protected reservation is rare (a head that has waited its whole
    // requested time), so its releases are gathered and sorted here rather
    // than kept in order on every start and end.
    let mut by_limit: Vec<(f64, Resources)> =
        running.iter().map(|r| (r.start_s + r.info.limit_s, r.info.demand.total)).collect();
    by_limit.sort_by(|a, b| a.0.total_cmp(&b.0));
    started_limits.sort_by(|a, b| a.0.total_cmp(&b.0));
    reserve(free_now, merged(now, by_limit.iter().copied(), started_limits.iter().copied()), need)
}

/// Expected releases of resources, in time order (ends before `now` count
/// as at `now`): the running jobs merged with jobs started in this decision.
fn releases<'a>(
    now: f64,
    running: Running<'a>,
    started: &'a [(f64, Resources)],
) -> impl Iterator<Item = (f64, Resources)> + 'a {
    merged(now, running.iter().map(|r| (r.expected_end_s, r.info.demand.total)), started.iter().copied())
}

/// Two streams of releases, each in time order, merged in time order, ends
/// before `now` counted at `now`.
fn merged(
    now: f64,
    a: impl Iterator<Item = (f64, Resources)>,
    b: impl Iterator<Item = (f64, Resources)>,
) -> impl Iterator<Item = (f64, Resources)> {
    let mut a = a.map(move |(t, r)| (t.max(now), r)).peekable();
    let mut b = b.map(move |(t, r)| (t.max(now), r)).peekable();
    std::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some(x), Some(y)) => {
            if x.0 <= y.0 {
                a.next()
            } else {
                b.next()
            }
        }
        (Some(_), None) => a.next(),
        (None, _) => b.next(),
    })
}
