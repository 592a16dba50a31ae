//! Scheduling policies: for a cluster state at a time, which pending jobs
//! start now and on which nodes, which running jobs are preempted, and when
//! to look again.
//!
//! A policy is composed from parts, named for what they decide (as in the
//! Kubernetes scheduling framework): a [`QueueOrder`], a [`Backfill`] rule
//! (with an order for its candidates) and a [`Placement`]. Runtime
//! estimates reach a policy through the state: every pending job carries the
//! estimate its [`crate::predictor::Predictor`] made at submission and every
//! running job its expected end, so `easy` with requested times and with
//! predictions differ only in the predictor the caller was given.
//!
//! One implementation, two clocks: the simulator calls [`Policy::decide`]
//! in virtual time, the controller in real time, on the same object.

mod backfill;
mod composed;
mod cost;
mod order;
mod placement;
mod profile;
mod registry;

pub use backfill::{Backfill, CandidateOrder, easy_shadow};
pub use composed::ComposedPolicy;
pub use cost::{CostChoice, PoolOffer, cheapest_meeting};
pub use order::{OrderScratch, PriorityWeights, QueueOrder, ShareBy, slack};
pub use placement::{Placement, Tentative};
pub use profile::Profile;
pub use registry::{PolicySpec, UnknownPolicy};

use crate::state::{ClusterState, JobKey, Slot};

/// Start one pending job now on these slots.
#[derive(Debug, Clone, PartialEq)]
pub struct Start {
    /// The job.
    pub key: JobKey,
    /// Where it runs.
    pub slots: Vec<Slot>,
    /// True when it overtook a job ahead of it in the queue order.
    pub backfilled: bool,
}

/// What a policy decided for one state at one time. Nothing happens until
/// the caller applies it (the simulator to its state, the controller through
/// the orchestrator, or only to its log in shadow mode).
#[must_use = "a decision does nothing until it is applied"]
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decision {
    /// Jobs to start now, in the order they were chosen.
    pub starts: Vec<Start>,
    /// Running jobs to preempt (they go back to the queue).
    pub preempt: Vec<JobKey>,
    /// Ask again at this time even if nothing happens before.
    pub wake_at: Option<f64>,
}

impl Decision {
    /// True when the decision changes nothing.
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty() && self.preempt.is_empty() && self.wake_at.is_none()
    }
}

/// A scheduling policy.
///
/// `decide` must depend only on its arguments: the same state at the same
/// time gives the same decision. `&mut self` is there for scratch buffers
/// reused between calls, never for memory of earlier decisions.
pub trait Policy: Send {
    /// The name it is known by (`easy`, `easy++`, ...).
    fn name(&self) -> &str;

    /// The decision for `state` at `now`.
    fn decide(&mut self, state: &ClusterState, now: f64) -> Decision {
        let mut decision = Decision::default();
        self.decide_into(state, now, &mut decision);
        decision
    }

    /// [`Policy::decide`], written into `out` (whatever it held is
    /// replaced), so that a caller that decides often reuses one decision's
    /// memory (the simulator decides about twice per job).
    fn decide_into(&mut self, state: &ClusterState, now: f64, out: &mut Decision);

    /// Takes slot lists the caller no longer needs (those of jobs that
    /// ended) out of `spare`, so that later decisions fill them instead of
    /// allocating new ones. The default drops them.
    fn recycle(&mut self, spare: &mut Vec<Vec<Slot>>) {
        spare.clear();
    }

    /// Whether `decide` reads the state's fair-share usage
    /// ([`ClusterState::usage`]). When it does not, a caller may leave the
    /// usage uncharged: the simulator then skips the decay arithmetic at
    /// every job end (a twentieth of a KTH-SP2 replay under EASY).
    fn reads_usage(&self) -> bool {
        true
    }
}

/// Forwards every method, so that a runtime can own a policy or borrow one.
macro_rules! forward_policy {
    ($($t:ty),*) => {$(
        impl<P: Policy + ?Sized> Policy for $t {
            fn name(&self) -> &str {
                (**self).name()
            }

            fn decide(&mut self, state: &ClusterState, now: f64) -> Decision {
                (**self).decide(state, now)
            }

            #[inline]
            fn decide_into(&mut self, state: &ClusterState, now: f64, out: &mut Decision) {
                (**self).decide_into(state, now, out)
            }

            fn recycle(&mut self, spare: &mut Vec<Vec<Slot>>) {
                (**self).recycle(spare)
            }

            fn reads_usage(&self) -> bool {
                (**self).reads_usage()
            }
        }
    )*};
}

forward_policy!(Box<P>, &mut P);

#[cfg(test)]
mod tests;
