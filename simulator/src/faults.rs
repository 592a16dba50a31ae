//! Fault injection: node outages from a schedule or drawn at a seeded rate,
//! and what happens to the jobs on a node that fails.

use foresight_core::rng::SplitMix64;
use serde::{Deserialize, Serialize};

/// What happens to the jobs running on a node when it fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFailure {
    /// They go back to the queue (keeping their place) and start over.
    #[default]
    Requeue,
    /// They end, failed, at the time of the failure.
    Fail,
}

/// One planned outage of one node.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NodeOutage {
    /// Node index, in cluster order.
    pub node: u32,
    /// When it goes down, seconds.
    pub at_s: f64,
    /// How long it stays down, seconds.
    pub duration_s: f64,
}

/// Random outages: every node fails after exponentially distributed times
/// with mean `mtbf_s` and is repaired after ones with mean `mttr_s`, drawn
/// from the simulation's seed (one stream per node).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FaultRate {
    /// Mean time between failures of one node, seconds.
    pub mtbf_s: f64,
    /// Mean time to repair, seconds.
    pub mttr_s: f64,
}

/// The faults of one simulation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultConfig {
    /// Planned outages.
    #[serde(default)]
    pub schedule: Vec<NodeOutage>,
    /// Random outages, if any.
    #[serde(default)]
    pub rate: Option<FaultRate>,
    /// What happens to the jobs on a failed node.
    #[serde(default)]
    pub on_failure: OnFailure,
}

impl FaultConfig {
    /// True when no fault is injected.
    pub fn is_none(&self) -> bool {
        self.schedule.is_empty() && self.rate.is_none()
    }
}

/// The random outage streams, one per node.
#[derive(Debug, Clone)]
pub(crate) struct FaultStreams {
    rate: Option<FaultRate>,
    rngs: Vec<SplitMix64>,
}

impl FaultStreams {
    pub fn new(rate: Option<FaultRate>, nodes: usize, seed: u64) -> Self {
        let rngs = match rate {
            Some(_) => (0..nodes as u64).map(|n| SplitMix64::derive(seed, n)).collect(),
            None => Vec::new(),
        };
        Self { rate, rngs }
    }

    /// Seconds until the node's next random failure.
    pub fn time_to_failure(&mut self, node: u32) -> Option<f64> {
        let rate = self.rate?;
        Some(self.rngs[node as usize].exponential(rate.mtbf_s))
    }

    /// Seconds the node's random failure lasts.
    pub fn time_to_repair(&mut self, node: u32) -> Option<f64> {
        let rate = self.rate?;
        Some(self.rngs[node as usize].exponential(rate.mttr_s))
    }
}
