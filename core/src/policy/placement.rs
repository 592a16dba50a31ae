//! Placement: on which nodes a job that may start now goes, first fit or
//! best fit, over nodes with CPUs, GPUs and memory.
//!
//! Rules: a job asking for `n` nodes gets `n` distinct nodes with its total
//! split as evenly as integers allow. A job asking for no node count goes on
//! a single node when one can hold it, and is otherwise spread in units (one
//! GPU, or one CPU for a CPU-only job, each with its share of the rest).

use crate::resources::Resources;
use crate::state::{ClusterState, Demand, Slot};
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
/// decision costs nothing whatever the cluster's size.
#[derive(Debug, Clone, Default)]
pub struct Tentative {
    node_free: Vec<Resources>,
    stamp: Vec<u32>,
    generation: u32,
    by_room: Vec<u32>,
    /// Free resources over all up nodes, minus this decision's starts.
    pub free_total: Resources,
}

impl Tentative {
    /// Starts a new decision over `state`.
    pub fn reset(&mut self, state: &ClusterState) {
        let n = state.nodes().len();
        if self.stamp.len() != n {
            self.stamp = vec![0; n];
            self.node_free = vec![Resources::default(); n];
            self.generation = 0;
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.stamp.fill(0);
            self.generation = 1;
        }
        self.free_total = state.free_total();
    }

    /// The free room of node `i` in this decision.
    fn free(&self, state: &ClusterState, i: u32) -> Resources {
        let i = i as usize;
        if self.stamp[i] == self.generation {
            self.node_free[i]
        } else {
            let n = &state.nodes()[i];
            if n.up { n.free } else { Resources::default() }
        }
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
        let slots = if demand.nodes > 0 {
            self.exact_nodes(state, how, demand)
        } else if demand.total.fits_in(&state.largest_node()) {
            self.single_node(state, how, demand).or_else(|| self.spread(state, how, demand))
        } else {
            self.spread(state, how, demand)
        }?;
        for s in &slots {
            let left = self.free(state, s.node).saturating_sub(&s.res);
            self.node_free[s.node as usize] = left;
            self.stamp[s.node as usize] = self.generation;
            self.free_total = self.free_total.saturating_sub(&s.res);
        }
        Some(slots)
    }

    fn candidates(&self, how: Placement) -> Candidates<'_> {
        match how {
            Placement::FirstFit => Candidates::InOrder(0..self.stamp.len() as u32),
            Placement::BestFit => Candidates::ByRoom(self.by_room.iter()),
        }
    }

    fn single_node(&self, state: &ClusterState, how: Placement, demand: &Demand) -> Option<Vec<Slot>> {
        let node = self.candidates(how).find(|&i| demand.total.fits_in(&self.free(state, i)))?;
        Some(vec![Slot { node, res: demand.total }])
    }

    fn exact_nodes(&self, state: &ClusterState, how: Placement, demand: &Demand) -> Option<Vec<Slot>> {
        let n = demand.nodes;
        let mut slots = Vec::with_capacity(n as usize);
        for node in self.candidates(how) {
            let k = slots.len() as u32;
            let res = share(&demand.total, k, k + 1, n);
            if res.fits_in(&self.free(state, node)) {
                slots.push(Slot { node, res });
                if slots.len() as u32 == n {
                    return Some(slots);
                }
            }
        }
        None
    }

    fn spread(&self, state: &ClusterState, how: Placement, demand: &Demand) -> Option<Vec<Slot>> {
        let units = demand.size().max(1);
        let t = &demand.total;
        let per_unit = Resources::new(t.cpus.div_ceil(units), t.gpus.div_ceil(units), t.mem_mb.div_ceil(units.into()));
        let mut done = 0u32;
        let mut slots = Vec::with_capacity((units as usize).min(self.stamp.len()));
        for node in self.candidates(how) {
            let fit = units_fitting(&self.free(state, node), &per_unit).min(units - done);
            if fit == 0 {
                continue;
            }
            slots.push(Slot { node, res: share(t, done, done + fit, units) });
            done += fit;
            if done == units {
                return Some(slots);
            }
        }
        None
    }
}

/// Node indices in the order a placement tries them.
enum Candidates<'a> {
    InOrder(std::ops::Range<u32>),
    ByRoom(std::slice::Iter<'a, u32>),
}

impl Iterator for Candidates<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        match self {
            Candidates::InOrder(r) => r.next(),
            Candidates::ByRoom(it) => it.next().copied(),
        }
    }
}

/// How many units of `per_unit` fit in `free`.
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
