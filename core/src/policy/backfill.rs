//! Backfilling: whether jobs behind a blocked one may start, and which.
//!
//! - none: start jobs in queue order while they fit, stop at the first that
//!   does not;
//! - EASY (Lifka, 1995): the first blocked job gets a reservation at the
//!   earliest time enough resources are expected free (the shadow time);
//!   a later job may start now if it fits and either ends by the shadow time
//!   or uses only what the reservation leaves (the extra resources);
//! - conservative: every queued job, in order, gets a reservation in the
//!   free-capacity profile; a job starts when its reservation is now.
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
}

/// One decision in the making.
pub(crate) struct Pass<'a> {
    pub state: &'a ClusterState,
    pub now: f64,
    pub placement: Placement,
    pub tent: &'a mut Tentative,
    /// `(expected end, resources)` of the jobs started by this decision, in
    /// the order they started.
    pub started: &'a mut Vec<(f64, Resources)>,
    pub decision: &'a mut Decision,
}

impl Pass<'_> {
    /// Starts `p` now if it can be placed.
    fn try_start(&mut self, p: &PendingJob, backfilled: bool) -> bool {
        match self.tent.place(self.state, self.placement, &p.info.demand) {
            Some(slots) => {
                self.started.push((self.now + p.estimate_s, p.info.demand.total));
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
    /// fits in the extra resources.
    fn backfill(&mut self, head: u32, candidates: impl Iterator<Item = u32>) {
        let pending = self.state.pending();
        let need = pending[head as usize].info.demand.total;
        // computed at the first candidate that fits, before anything starts
        let mut reservation: Option<(f64, Resources)> = None;
        for i in candidates {
            let p = &pending[i as usize];
            let total = p.info.demand.total;
            if !total.fits_in(&self.tent.free_total) {
                continue;
            }
            let (shadow, extra) = reservation.get_or_insert_with(|| {
                self.started.sort_by(|a, b| a.0.total_cmp(&b.0));
                easy_shadow(self.now, self.tent.free_total, self.state.running(), self.started, &need)
            });
            let crosses = self.now + p.estimate_s > *shadow;
            if crosses && !total.fits_in(extra) {
                continue;
            }
            if self.try_start(p, true) && crosses {
                *extra = extra.saturating_sub(&total);
            }
        }
    }

    /// Conservative backfilling over the whole queue.
    pub fn conservative(&mut self, order: &[u32], profile: &mut Profile) {
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
            profile.reserve(at, p.estimate_s, &need);
        }
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
    let mut avail = free_now;
    if need.fits_in(&avail) {
        return (now, avail.saturating_sub(need));
    }
    let mut it = releases(now, running, started).peekable();
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

/// Expected releases of resources, in time order (ends before `now` count
/// as at `now`): the running jobs merged with jobs started in this decision.
fn releases<'a>(
    now: f64,
    running: Running<'a>,
    started: &'a [(f64, Resources)],
) -> impl Iterator<Item = (f64, Resources)> + 'a {
    let mut a = running.iter().map(move |r| (r.expected_end_s.max(now), r.info.demand.total)).peekable();
    let mut b = started.iter().map(move |&(t, r)| (t.max(now), r)).peekable();
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
