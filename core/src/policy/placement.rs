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
/// earlier in the same decision are subtracted. Copies the state's nodes
/// lazily, on the first placement of a decision, and reuses its buffers.
#[derive(Debug, Clone, Default)]
pub struct Tentative {
    node_free: Vec<Resources>,
    copied: bool,
    by_room: Vec<u32>,
    /// Free resources over all up nodes, minus this decision's starts.
    pub free_total: Resources,
}

impl Tentative {
    /// Starts a new decision over `state`.
    pub fn reset(&mut self, state: &ClusterState) {
        self.copied = false;
        self.free_total = state.free_total();
    }

    /// Places `demand` now, takes the room and returns the slots, or `None`
    /// (and takes nothing) when it does not fit.
    pub fn place(&mut self, state: &ClusterState, how: Placement, demand: &Demand) -> Option<Vec<Slot>> {
        if !demand.total.fits_in(&self.free_total) {
            return None;
        }
        if !self.copied {
            self.node_free.clear();
            self.node_free.extend(state.nodes().iter().map(|n| if n.up { n.free } else { Resources::default() }));
            self.copied = true;
        }
        if how == Placement::BestFit {
            let free = &self.node_free;
            self.by_room.clear();
            self.by_room.extend((0..free.len() as u32).filter(|&i| !free[i as usize].is_zero()));
            self.by_room.sort_by_key(|&i| {
                let r = free[i as usize];
                (r.gpus, r.cpus, r.mem_mb, i)
            });
        }
        let slots = if demand.nodes > 0 {
            self.exact_nodes(how, demand)
        } else if demand.total.fits_in(&state.largest_node()) {
            self.single_node(how, demand).or_else(|| self.spread(how, demand))
        } else {
            self.spread(how, demand)
        }?;
        for s in &slots {
            let f = &mut self.node_free[s.node as usize];
            *f = f.saturating_sub(&s.res);
            self.free_total = self.free_total.saturating_sub(&s.res);
        }
        Some(slots)
    }

    fn candidates(&self, how: Placement) -> impl Iterator<Item = u32> + '_ {
        let all = match how {
            Placement::FirstFit => 0..self.node_free.len() as u32,
            Placement::BestFit => 0..0,
        };
        all.chain(self.by_room.iter().copied().filter(move |_| how == Placement::BestFit))
    }

    fn single_node(&self, how: Placement, demand: &Demand) -> Option<Vec<Slot>> {
        let node = self.candidates(how).find(|&i| demand.total.fits_in(&self.node_free[i as usize]))?;
        Some(vec![Slot { node, res: demand.total }])
    }

    fn exact_nodes(&self, how: Placement, demand: &Demand) -> Option<Vec<Slot>> {
        let n = demand.nodes;
        let mut slots = Vec::with_capacity(n as usize);
        for node in self.candidates(how) {
            let k = slots.len() as u32;
            let res = share(&demand.total, k, k + 1, n);
            if res.fits_in(&self.node_free[node as usize]) {
                slots.push(Slot { node, res });
                if slots.len() as u32 == n {
                    return Some(slots);
                }
            }
        }
        None
    }

    fn spread(&self, how: Placement, demand: &Demand) -> Option<Vec<Slot>> {
        let units = demand.size().max(1);
        let t = &demand.total;
        let per_unit = Resources::new(t.cpus.div_ceil(units), t.gpus.div_ceil(units), t.mem_mb.div_ceil(units.into()));
        let mut done = 0u32;
        let mut slots = Vec::new();
        for node in self.candidates(how) {
            let free = &self.node_free[node as usize];
            let fit = units_fitting(free, &per_unit).min(units - done);
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

/// How many units of `per_unit` fit in `free`.
fn units_fitting(free: &Resources, per_unit: &Resources) -> u32 {
    let mut m = u64::MAX;
    if per_unit.cpus > 0 {
        m = m.min(u64::from(free.cpus / per_unit.cpus));
    }
    if per_unit.gpus > 0 {
        m = m.min(u64::from(free.gpus / per_unit.gpus));
    }
    if per_unit.mem_mb > 0 {
        m = m.min(free.mem_mb / per_unit.mem_mb);
    }
    m.min(u64::from(u32::MAX)) as u32
}

/// The part of `total` that units `from..to` out of `of` hold, so that the
/// parts of a split add up exactly to the total.
fn share(total: &Resources, from: u32, to: u32, of: u32) -> Resources {
    let cum = |x: u64, k: u32| (u128::from(x) * u128::from(k) / u128::from(of)) as u64;
    Resources {
        cpus: (cum(total.cpus.into(), to) - cum(total.cpus.into(), from)) as u32,
        gpus: (cum(total.gpus.into(), to) - cum(total.gpus.into(), from)) as u32,
        mem_mb: cum(total.mem_mb, to) - cum(total.mem_mb, from),
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
