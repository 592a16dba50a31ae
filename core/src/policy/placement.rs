//! Placement: on which nodes a job that may start now goes, first fit or
//! best fit, over nodes with CPUs, GPUs and memory.
//!
//! Rules: a job asking for `n` nodes gets `n` distinct nodes with its total
//! split as evenly as integers allow. A job asking for no node count goes on
//! a single node when one can hold it, and is otherwise spread in units (one
//! GPU, or one CPU for a CPU-only job, each with its share of the rest).

use crate::resources::Resources;
use crate::state::{ClusterState, Demand, SetBits, Slot, first_fit, max_room, set_bit};
use serde::{Deserialize, Serialize};

/// How nodes are chosen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Placement {
    /// Nodes in cluster order; the first that fit.
    #[default]
    FirstFit,
    /// The fitting nodes with the least free room first (GPUs, then CPUs,
    /// then memory), which keeps large holes for large jobs.
    BestFit,
}

/// The free room of every node as a decision takes shape: jobs started
/// earlier in the same decision are subtracted. Only the nodes a decision
/// touches are copied (stamped with the decision's number), so starting a
/// decision costs nothing whatever the cluster's size. The same goes for
/// the entries of the state's free index (see
/// [`crate::state::FreeIndex`]) above the touched nodes, so that first fit
/// finds a node in about `log n` steps instead of scanning from the first.
/// Without the tree (small clusters), the index's bitset of the nodes with
/// room is copied instead (a few words), and first fit visits only those.
#[derive(Debug, Clone, Default)]
pub struct Tentative {
    node_free: Vec<Resources>,
    stamp: Vec<u32>,
    index: Vec<Resources>,
    index_stamp: Vec<u32>,
    room: Vec<u64>,
    generation: u32,
    by_room: Vec<u32>,
    /// Empty slot lists to fill before allocating new ones (given back by
    /// the caller through [`Tentative::recycle`], or by a failed placement).
    pool: Vec<Vec<Slot>>,
    /// Free resources over all up nodes, minus this decision's starts.
    pub free_total: Resources,
}

/// How many empty slot lists a [`Tentative`] keeps for reuse; more are
/// dropped.
const POOL_MAX: usize = 4096;

impl Tentative {
    /// Keeps the slot lists in `spare` (emptied) for later placements, up
    /// to a bound; `spare` is left empty.
    pub fn recycle(&mut self, spare: &mut Vec<Vec<Slot>>) {
        for v in spare.drain(..) {
            self.recycle_one(v);
        }
    }

    /// Keeps one slot list (emptied) for a later placement, up to a bound.
    pub fn recycle_one(&mut self, mut slots: Vec<Slot>) {
        if self.pool.len() < POOL_MAX && slots.capacity() > 0 {
            slots.clear();
            self.pool.push(slots);
        }
    }

    /// Starts a new decision over `state`.
    pub fn reset(&mut self, state: &ClusterState) {
        let n = state.nodes().len();
        let entries = 2 * state.free_index().width();
        if self.stamp.len() != n || self.index.len() != entries {
            self.stamp = vec![0; n];
            self.node_free = vec![Resources::default(); n];
            self.index_stamp = vec![0; entries];
            self.index = vec![Resources::default(); entries];
            self.generation = 0;
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.stamp.fill(0);
            self.index_stamp.fill(0);
            self.generation = 1;
        }
        self.room.clear();
        self.room.extend_from_slice(state.free_index().room());
        self.free_total = state.free_total();
    }

    /// The free room of node `i` in this decision.
    #[inline]
    fn free(&self, state: &ClusterState, i: u32) -> Resources {
        let i = i as usize;
        if self.stamp[i] == self.generation {
            self.node_free[i]
        } else {
            let n = &state.nodes()[i];
            if n.up { n.free } else { Resources::default() }
        }
    }

    /// Entry `i` of the free index in this decision.
    fn entry(&self, state: &ClusterState, i: usize) -> Resources {
        if self.index_stamp[i] == self.generation { self.index[i] } else { state.free_index().entry(i) }
    }

    fn set_entry(&mut self, i: usize, r: Resources) {
        self.index[i] = r;
        self.index_stamp[i] = self.generation;
    }

    /// Node `k` now has `free` in this decision (the caller has checked it
    /// is up): its entry and its ancestors' are brought up to date.
    #[inline]
    fn set_free(&mut self, state: &ClusterState, k: u32, free: Resources) {
        self.node_free[k as usize].assign(free);
        self.stamp[k as usize] = self.generation;
        if !state.free_index().enabled() {
            set_bit(&mut self.room, k as usize, !free.is_zero());
            return;
        }
        let mut i = state.free_index().width() + k as usize;
        self.set_entry(i, free);
        while i > 1 {
            i /= 2;
            let m = max_room(&self.entry(state, 2 * i), &self.entry(state, 2 * i + 1));
            if self.entry(state, i) == m {
                // the ancestors above hold what they held
                break;
            }
            self.set_entry(i, m);
        }
    }

    /// The first node at or after `from` where `need` fits in this decision.
    fn first_fit(&self, state: &ClusterState, from: u32, need: &Resources) -> Option<u32> {
        if need.is_zero() {
            // fits on any node that is up, even one with no room left (a
            // node that is down holds nothing, not even an empty share)
            let nodes = state.nodes();
            return (from as usize..nodes.len()).find(|&k| nodes[k].up).map(|k| k as u32);
        }
        let idx = state.free_index();
        if !idx.enabled() {
            return SetBits::from(&self.room, from as usize).find(|&k| need.fits_in(&self.free(state, k)));
        }
        first_fit(idx.width(), idx.nodes(), from as usize, need, &|i| self.entry(state, i))
    }

    /// Places `demand` now, takes the room and returns the slots, or `None`
    /// (and takes nothing) when it does not fit.
    pub fn place(&mut self, state: &ClusterState, how: Placement, demand: &Demand) -> Option<Vec<Slot>> {
        if !demand.total.fits_in(&self.free_total) {
            return None;
        }
        if how == Placement::BestFit {
            let mut by_room = std::mem::take(&mut self.by_room);
            by_room.clear();
            by_room.extend((0..self.stamp.len() as u32).filter(|&i| !self.free(state, i).is_zero()));
            by_room.sort_by_key(|&i| {
                let r = self.free(state, i);
                (r.gpus, r.cpus, r.mem_mb, i)
            });
            self.by_room = by_room;
        }
        let mut slots = self.pool.pop().unwrap_or_default();
        let placed = if demand.nodes > 0 {
            self.exact_nodes(state, how, demand, &mut slots)
        } else if demand.total.fits_in(&state.largest_node()) && self.single_node(state, how, demand, &mut slots) {
            true
        } else if how == Placement::FirstFit && !state.free_index().enabled() && cpus_only(&demand.total) {
            // takes the room itself
            if self.spread_cpus(state, demand.total.cpus, &mut slots) {
                return Some(slots);
            }
            false
        } else {
            self.spread(state, how, demand, &mut slots)
        };
        if !placed {
            self.recycle_one(slots);
            return None;
        }
        self.take(state, &slots);
        Some(slots)
    }

    /// Takes the room of `slots`, placed in this decision, slot by slot.
    fn take(&mut self, state: &ClusterState, slots: &[Slot]) {
        for s in slots {
            let left = self.free(state, s.node).saturating_sub(&s.res);
            self.set_free(state, s.node, left);
            self.free_total = self.free_total.saturating_sub(&s.res);
        }
    }

    // The placements below write into `slots` (empty on entry) and return
    // whether the job was placed; when not, the caller discards what they
    // wrote.

    fn single_node(&self, state: &ClusterState, how: Placement, demand: &Demand, slots: &mut Vec<Slot>) -> bool {
        let node = match how {
            Placement::FirstFit => self.first_fit(state, 0, &demand.total),
            Placement::BestFit => self.by_room.iter().copied().find(|&i| demand.total.fits_in(&self.free(state, i))),
        };
        node.map(|node| slots.push(Slot { node, res: demand.total })).is_some()
    }

    fn exact_nodes(&self, state: &ClusterState, how: Placement, demand: &Demand, slots: &mut Vec<Slot>) -> bool {
        let n = demand.nodes;
        slots.reserve(n as usize);
        if how == Placement::FirstFit {
            let mut from = 0;
            while (slots.len() as u32) < n {
                let k = slots.len() as u32;
                let res = share(&demand.total, k, k + 1, n);
                let Some(node) = self.first_fit(state, from, &res) else { return false };
                slots.push(Slot { node, res });
                from = node + 1;
            }
            return true;
        }
        for node in self.by_room.iter().copied() {
            let k = slots.len() as u32;
            let res = share(&demand.total, k, k + 1, n);
            if res.fits_in(&self.free(state, node)) {
                slots.push(Slot { node, res });
                if slots.len() as u32 == n {
                    return true;
                }
            }
        }
        false
    }

    fn spread(&self, state: &ClusterState, how: Placement, demand: &Demand, slots: &mut Vec<Slot>) -> bool {
        let units = demand.size().max(1);
        let t = &demand.total;
        let per_unit = Resources::new(t.cpus.div_ceil(units), t.gpus.div_ceil(units), t.mem_mb.div_ceil(units.into()));
        match how {
            Placement::BestFit => self.spread_over(state, self.by_room.iter().copied(), t, units, &per_unit, slots),
            Placement::FirstFit if !state.free_index().enabled() && !per_unit.is_zero() => {
                // a node without room holds no unit: the set bits, in order
                self.spread_over(state, SetBits::from(&self.room, 0), t, units, &per_unit, slots)
            }
            Placement::FirstFit => {
                // the nodes a scan would skip hold no unit
                let mut next = 0;
                let nodes = std::iter::from_fn(|| {
                    let node = self.first_fit(state, next, &per_unit)?;
                    next = node + 1;
                    Some(node)
                });
                self.spread_over(state, nodes, t, units, &per_unit, slots)
            }
        }
    }

    /// [`Tentative::spread`] for a CPU-only demand of `cpus` CPUs with
    /// first fit over the bitset of the nodes with room (no tree), taking
    /// the room as it goes: the same slots in the same order, cheaper. A
    /// unit is then one CPU (`per_unit` is one CPU, nothing else), a node
    /// holds as many units as it has free CPUs, and units `done..done + fit`
    /// hold exactly `fit` CPUs, so each node with room in node order takes
    /// `min(free CPUs, CPUs left)` in one step instead of the generic
    /// fitting and split. Returns false and takes nothing (the room taken
    /// is given back) when the CPUs do not fit.
    fn spread_cpus(&mut self, state: &ClusterState, cpus: u32, slots: &mut Vec<Slot>) -> bool {
        debug_assert!(cpus > 0 && !state.free_index().enabled());
        let mut left = cpus;
        slots.reserve((cpus as usize).min(self.stamp.len()));
        'words: for w in 0..self.room.len() {
            // the bits of this word as they were (only bits already visited
            // are cleared below)
            let mut word = self.room[w];
            while word != 0 {
                let bit = word.trailing_zeros();
                word &= word - 1;
                let k = (w * 64) as u32 + bit;
                let mut free = self.free(state, k);
                let take = free.cpus.min(left);
                if take == 0 {
                    continue;
                }
                free.cpus -= take;
                // `set_free`'s bitset branch, written out: calling it here
                // cost 7 M instructions more per KTH-SP2 replay (callgrind)
                self.node_free[k as usize].assign(free);
                self.stamp[k as usize] = self.generation;
                if free.is_zero() {
                    self.room[w] &= !(1u64 << bit);
                }
                slots.push(Slot { node: k, res: Resources::new(take, 0, 0) });
                left -= take;
                if left == 0 {
                    break 'words;
                }
            }
        }
        if left > 0 {
            for s in slots.iter() {
                let free = self.free(state, s.node).saturating_add(&s.res);
                self.set_free(state, s.node, free);
            }
            return false;
        }
        self.free_total.cpus = self.free_total.cpus.saturating_sub(cpus);
        true
    }

    /// Spreads `units` units of `total` (`per_unit` each, at most) over
    /// `nodes`, in the order given, as many on each as fit.
    fn spread_over(
        &self,
        state: &ClusterState,
        nodes: impl Iterator<Item = u32>,
        total: &Resources,
        units: u32,
        per_unit: &Resources,
        slots: &mut Vec<Slot>,
    ) -> bool {
        let mut done = 0u32;
        slots.reserve((units as usize).min(self.stamp.len()));
        for node in nodes {
            let fit = units_fitting(&self.free(state, node), per_unit).min(units - done);
            if fit == 0 {
                continue;
            }
            slots.push(Slot { node, res: share(total, done, done + fit, units) });
            done += fit;
            if done == units {
                return true;
            }
        }
        false
    }
}

/// Whether `total` asks for CPUs and nothing else.
#[inline]
fn cpus_only(total: &Resources) -> bool {
    total.cpus > 0 && total.gpus == 0 && total.mem_mb == 0
}

/// How many units of `per_unit` fit in `free`.
#[inline]
fn units_fitting(free: &Resources, per_unit: &Resources) -> u32 {
    if !per_unit.fits_in(free) {
        return 0;
    }
    let per = |f: u64, p: u64| match p {
        0 => u64::MAX,
        1 => f,
        _ => f / p,
    };
    let m = per(free.cpus.into(), per_unit.cpus.into())
        .min(per(free.gpus.into(), per_unit.gpus.into()))
        .min(per(free.mem_mb, per_unit.mem_mb));
    m.min(u64::from(u32::MAX)) as u32
}

/// The part of `total` that units `from..to` out of `of` hold, so that the
/// parts of a split add up exactly to the total.
#[inline]
fn share(total: &Resources, from: u32, to: u32, of: u32) -> Resources {
    let part = |x: u64| -> u64 {
        if x == 0 {
            return 0;
        }
        if x == u64::from(of) {
            return u64::from(to - from);
        }
        let cum = |k: u32| (u128::from(x) * u128::from(k) / u128::from(of)) as u64;
        cum(to) - cum(from)
    };
    Resources {
        cpus: part(total.cpus.into()) as u32,
        gpus: part(total.gpus.into()) as u32,
        mem_mb: part(total.mem_mb),
    }
}

#[cfg(test)]
mod tests;
