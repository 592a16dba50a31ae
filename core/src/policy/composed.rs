//! The composed policy: a queue order, a backfilling rule with its candidate
//! order, and a placement.

use super::backfill::{Backfill, CandidateOrder, Pass};
use super::order::{OrderScratch, QueueOrder};
use super::placement::{Placement, Tentative};
use super::profile::Profile;
use super::{Decision, Policy};
use crate::resources::Resources;
use crate::state::{ClusterState, Slot};

/// A policy built from parts. Holds only scratch buffers between calls.
#[derive(Debug, Clone)]
pub struct ComposedPolicy {
    name: String,
    order: QueueOrder,
    backfill: Backfill,
    candidates: CandidateOrder,
    placement: Placement,
    scratch: Scratch,
}

#[derive(Debug, Clone, Default)]
struct Scratch {
    order: Vec<u32>,
    identity: Vec<u32>,
    order_scratch: OrderScratch,
    keyed: Vec<u128>,
    tent: Tentative,
    started: Vec<(f64, Resources)>,
    started_limits: Vec<(f64, Resources)>,
    profile: Profile,
}

impl ComposedPolicy {
    /// A policy named `name` from its parts.
    pub fn new(
        name: impl Into<String>,
        order: QueueOrder,
        backfill: Backfill,
        candidates: CandidateOrder,
        placement: Placement,
    ) -> Self {
        Self { name: name.into(), order, backfill, candidates, placement, scratch: Scratch::default() }
    }

    /// The queue order.
    pub fn order(&self) -> QueueOrder {
        self.order
    }

    /// The backfilling rule.
    pub fn backfill(&self) -> Backfill {
        self.backfill
    }

    /// The order of backfill candidates (EASY only).
    pub fn candidates(&self) -> CandidateOrder {
        self.candidates
    }

    /// The placement.
    pub fn placement(&self) -> Placement {
        self.placement
    }
}

impl Policy for ComposedPolicy {
    fn name(&self) -> &str {
        &self.name
    }

    fn reads_usage(&self) -> bool {
        self.order.reads_usage()
    }

    fn recycle(&mut self, spare: &mut Vec<Vec<Slot>>) {
        self.scratch.tent.recycle(spare);
    }

    fn decide_into(&mut self, state: &ClusterState, now: f64, decision: &mut Decision) {
        let s = &mut self.scratch;
        // the slot lists of starts the caller left here are reused
        for start in decision.starts.drain(..) {
            s.tent.recycle_one(start.slots);
        }
        decision.preempt.clear();
        decision.wake_at = None;
        if state.pending().is_empty() {
            return;
        }
        let n = state.pending().len();
        let order: &[u32] = if self.order == QueueOrder::Fcfs {
            // The queue is kept in arrival order: FCFS is the identity,
            // which only ever grows.
            s.identity.extend(s.identity.len() as u32..n as u32);
            &s.identity[..n]
        } else {
            self.order.order_into(state, now, &mut s.order_scratch, &mut s.order);
            &s.order
        };
        s.tent.reset(state);
        s.started.clear();
        s.started_limits.clear();
        let protected = self.backfill == Backfill::Protected;
        let mut pass = Pass {
            state,
            now,
            placement: self.placement,
            tent: &mut s.tent,
            started: &mut s.started,
            started_limits: protected.then_some(&mut s.started_limits),
            decision,
        };
        match self.backfill {
            Backfill::None => {
                let _ = pass.head_of_queue(order);
            }
            Backfill::Easy | Backfill::Protected => {
                if let Some(head) = pass.head_of_queue(order) {
                    pass.easy(order, head, self.candidates, &mut s.keyed);
                }
            }
            Backfill::Conservative => pass.conservative(order, &mut s.profile, None),
            Backfill::ConservativeNodes => {
                // the largest node stands for all (a homogeneous cluster's)
                let node = state.nodes().iter().map(|n| n.capacity).max_by_key(|c| (c.cpus, c.gpus, c.mem_mb));
                pass.conservative(order, &mut s.profile, node)
            }
        }
    }
}
