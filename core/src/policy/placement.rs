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
        for s in &slots {
            let left = self.free(state, s.node).saturating_sub(&s.res);
            self.set_free(state, s.node, left);
            self.free_total = self.free_total.saturating_sub(&s.res);
        }
        Some(slots)
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
    /// fitting and split. Returns `None` and takes nothing (the room taken
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
mod tests {
    use super::*;
    use crate::cluster::Cluster;

    fn state(nodes: u32, cap: Resources) -> ClusterState {
        ClusterState::new(&Cluster::homogeneous("n", nodes, cap), f64::INFINITY)
    }

    #[test]
    fn spreads_cpu_jobs_over_single_cpu_nodes() {
        let st = state(4, Resources::new(1, 0, 0));
        let mut t = Tentative::default();
        t.reset(&st);
        let d = Demand::new(Resources::new(3, 0, 0));
        let slots = t.place(&st, Placement::FirstFit, &d).unwrap();
        assert_eq!(slots.iter().map(|s| s.node).collect::<Vec<_>>(), vec![0, 1, 2]);
        assert!(t.place(&st, Placement::FirstFit, &d).is_none());
        assert_eq!(t.free_total, Resources::new(1, 0, 0));
    }

    #[test]
    fn gpu_jobs_stay_on_one_node_when_they_can() {
        let st = state(2, Resources::new(32, 8, 1000));
        let mut t = Tentative::default();
        t.reset(&st);
        let small = Demand::new(Resources::new(4, 2, 100));
        assert_eq!(t.place(&st, Placement::FirstFit, &small).unwrap()[0].node, 0);
        let big = Demand::new(Resources::new(48, 12, 1200));
        let slots = t.place(&st, Placement::BestFit, &big).unwrap();
        let sum = slots.iter().fold(Resources::default(), |a, s| a.saturating_add(&s.res));
        assert_eq!(sum, big.total, "a split adds up to the total");
        assert!(slots.iter().all(|s| s.res.gpus > 0));
    }

    /// First fit as a plain scan over the nodes, as it was before the free
    /// index: the reference the indexed search must agree with. A node that
    /// is down (`up[i]` false) holds nothing, not even an empty share.
    fn scan_first_fit(free: &mut [Resources], up: &[bool], d: &Demand, largest: &Resources) -> Option<Vec<Slot>> {
        let fits = |free: &[Resources], r: &Resources| {
            (0..free.len() as u32).filter(|&i| up[i as usize] && r.fits_in(&free[i as usize])).collect::<Vec<_>>()
        };
        let spread = |free: &[Resources]| {
            let units = d.size().max(1);
            let t = &d.total;
            let per = Resources::new(t.cpus.div_ceil(units), t.gpus.div_ceil(units), t.mem_mb.div_ceil(units.into()));
            let mut done = 0;
            let mut slots = Vec::new();
            for (i, f) in free.iter().enumerate() {
                if !up[i] {
                    continue;
                }
                let fit = units_fitting(f, &per).min(units - done);
                if fit > 0 {
                    slots.push(Slot { node: i as u32, res: share(t, done, done + fit, units) });
                    done += fit;
                    if done == units {
                        return Some(slots);
                    }
                }
            }
            None
        };
        let slots = if d.nodes > 0 {
            let mut slots = Vec::new();
            for (i, f) in free.iter().enumerate() {
                let k = slots.len() as u32;
                let res = share(&d.total, k, k + 1, d.nodes);
                if up[i] && res.fits_in(f) {
                    slots.push(Slot { node: i as u32, res });
                }
                if slots.len() as u32 == d.nodes {
                    break;
                }
            }
            (slots.len() as u32 == d.nodes).then_some(slots)
        } else if d.total.fits_in(largest) {
            fits(free, &d.total).first().map(|&n| vec![Slot { node: n, res: d.total }]).or_else(|| spread(free))
        } else {
            spread(free)
        }?;
        for s in &slots {
            free[s.node as usize] = free[s.node as usize].saturating_sub(&s.res);
        }
        Some(slots)
    }

    proptest::proptest! {
        #[test]
        fn proptest_indexed_first_fit_places_as_a_scan(
            caps in proptest::collection::vec((1u32..9, 0u32..3, 0u64..4), 1..40),
            down in proptest::collection::vec(0usize..40, 0..4),
            jobs in proptest::collection::vec((0u32..20, 0u32..4, 0u64..6, 0u32..4), 1..60),
        ) {
            let cluster = cluster_of(&caps);
            for indexed in [false, true] {
            let mut st = ClusterState::new(&cluster, f64::INFINITY);
            st.keep_free_index(indexed);
            for &d in &down {
                st.set_node_up(d as u32, false);
            }
            let mut t = Tentative::default();
            let mut free: Vec<Resources> = st.nodes().iter().map(|n| if n.up { n.free } else { Resources::default() }).collect();
            let up: Vec<bool> = st.nodes().iter().map(|n| n.up).collect();
            // some decisions in a row on a state that changes between them
            for (round, chunk) in jobs.chunks(7).enumerate() {
                t.reset(&st);
                let mut tent = free.clone();
                for (j, &(c, g, m, n)) in chunk.iter().enumerate() {
                    let d = Demand { total: Resources::new(c, g, m * 100), nodes: n };
                    let want = scan_first_fit(&mut tent, &up, &d, &st.largest_node());
                    let got = t.place(&st, Placement::FirstFit, &d);
                    proptest::prop_assert_eq!(&got, &want);
                    if let (Some(slots), 0) = (got, j % 2) {
                        let key = crate::state::JobKey((round * 10 + j) as u32);
                        let info = crate::state::JobInfo { key, user: 0, group: 0, queue: 0, submit_s: 0.0, demand: d, limit_s: 1.0 };
                        st.submit(crate::state::PendingJob { info, estimate_s: 1.0 }).unwrap();
                        // every placement holds: no share, not even an
                        // empty one, lands on a node that is down
                        st.start(key, slots.clone(), 0.0, 1.0).unwrap();
                        for s in &slots {
                            free[s.node as usize] = free[s.node as usize].saturating_sub(&s.res);
                        }
                    }
                }
                if round % 2 == 1 {
                    if let Some(r) = st.running().first().map(|r| r.info.key) {
                        for s in st.finish(r).unwrap().slots {
                            if st.nodes()[s.node as usize].up {
                                free[s.node as usize] = free[s.node as usize].saturating_add(&s.res);
                            }
                        }
                    }
                }
            }
            }
        }
    }

    /// A cluster of nodes with these (CPUs, GPUs, hundreds of MB of memory).
    fn cluster_of(caps: &[(u32, u32, u64)]) -> Cluster {
        Cluster {
            nodes: caps
                .iter()
                .enumerate()
                .map(|(i, &(c, g, m))| crate::cluster::NodeSpec { name: format!("n{i}"), capacity: Resources::new(c, g, m * 100), gpu_type: None })
                .collect(),
        }
    }

    /// [`Tentative::place`] with first fit as it was before the CPU-only
    /// fast path: the generic spread, then the room taken slot by slot.
    fn place_generic(t: &mut Tentative, st: &ClusterState, d: &Demand) -> Option<Vec<Slot>> {
        if !d.total.fits_in(&t.free_total) {
            return None;
        }
        let mut slots = Vec::new();
        let single = d.total.fits_in(&st.largest_node()) && t.single_node(st, Placement::FirstFit, d, &mut slots);
        if !single {
            slots.clear();
            if !t.spread(st, Placement::FirstFit, d, &mut slots) {
                return None;
            }
        }
        for s in &slots {
            let left = t.free(st, s.node).saturating_sub(&s.res);
            t.set_free(st, s.node, left);
            t.free_total = t.free_total.saturating_sub(&s.res);
        }
        Some(slots)
    }

    proptest::proptest! {
        #[test]
        fn proptest_cpu_only_fast_path_places_as_the_generic_spread(
            caps in proptest::collection::vec((0u32..6, 0u32..3, 0u64..3), 1..150),
            down in proptest::collection::vec(0usize..150, 0..4),
            jobs in proptest::collection::vec((1u32..40, 0u32..2, 0u64..2, 0u32..3), 1..40),
            over in 0u32..3,
        ) {
            let cluster = cluster_of(&caps);
            let mut st = ClusterState::new(&cluster, f64::INFINITY);
            st.keep_free_index(false);
            for &d in &down {
                st.set_node_up(d as u32, false);
            }
            let (mut fast, mut generic) = (Tentative::default(), Tentative::default());
            fast.reset(&st);
            generic.reset(&st);
            let n = st.nodes().len() as u32;
            for &(c, g, m, n_) in &jobs {
                // mostly CPU-only demands, some others between them
                let d = match n_ {
                    0 => Demand { total: Resources::new(c, g, m * 100), nodes: 0 },
                    _ => Demand::new(Resources::new(c, 0, 0)),
                };
                let got = fast.place(&st, Placement::FirstFit, &d);
                let want = place_generic(&mut generic, &st, &d);
                proptest::prop_assert_eq!(&got, &want);
                proptest::prop_assert_eq!(fast.free_total, generic.free_total);
                proptest::prop_assert_eq!(&fast.room, &generic.room);
                for k in 0..n {
                    proptest::prop_assert_eq!(fast.free(&st, k), generic.free(&st, k));
                }
            }
            // more CPUs than the nodes have: refused, and nothing is taken
            let room = fast.room.clone();
            let free: Vec<Resources> = (0..n).map(|k| fast.free(&st, k)).collect();
            let cpus: u32 = free.iter().map(|f| f.cpus).sum::<u32>() + 1 + over;
            let mut slots = Vec::new();
            proptest::prop_assert!(!fast.spread_cpus(&st, cpus, &mut slots));
            proptest::prop_assert_eq!(&fast.room, &room);
            for k in 0..n {
                proptest::prop_assert_eq!(fast.free(&st, k), free[k as usize]);
            }
        }
    }

    #[test]
    fn an_empty_share_never_lands_on_a_node_that_is_down() {
        for indexed in [false, true] {
            let mut st = state(4, Resources::new(1, 0, 0));
            st.keep_free_index(indexed);
            st.set_node_up(0, false);
            let mut t = Tentative::default();
            t.reset(&st);
            // two CPUs over three nodes: shares of 0, 1 and 1 CPU
            let d = Demand { total: Resources::new(2, 0, 0), nodes: 3 };
            let slots = t.place(&st, Placement::FirstFit, &d).unwrap();
            assert_eq!(slots.iter().map(|s| (s.node, s.res.cpus)).collect::<Vec<_>>(), vec![(1, 0), (2, 1), (3, 1)]);
            let info = crate::state::JobInfo { key: crate::state::JobKey(0), user: 0, group: 0, queue: 0, submit_s: 0.0, demand: d, limit_s: 1.0 };
            st.submit(crate::state::PendingJob { info, estimate_s: 1.0 }).unwrap();
            st.start(info.key, slots, 0.0, 1.0).expect("the state takes the placement");
            // a job asking for nothing goes on a node that is up too
            t.reset(&st);
            let none = Demand::new(Resources::default());
            assert_eq!(t.place(&st, Placement::FirstFit, &none).unwrap()[0].node, 1, "indexed: {indexed}");
        }
    }

    #[test]
    fn best_fit_picks_the_fullest_node() {
        let st = state(3, Resources::new(8, 0, 0));
        let mut t = Tentative::default();
        t.reset(&st);
        t.place(&st, Placement::FirstFit, &Demand::new(Resources::new(6, 0, 0))).unwrap();
        t.place(&st, Placement::FirstFit, &Demand::new(Resources::new(3, 0, 0))).unwrap();
        let two = Demand::new(Resources::new(2, 0, 0));
        assert_eq!(t.place(&st, Placement::BestFit, &two).unwrap()[0].node, 0);
        let exact = Demand { total: Resources::new(4, 0, 0), nodes: 2 };
        let slots = t.place(&st, Placement::FirstFit, &exact).unwrap();
        assert_eq!(slots.len(), 2);
        assert_eq!(slots[0].res.cpus + slots[1].res.cpus, 4);
    }
}
