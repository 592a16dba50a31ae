//! What a simulation is given besides the policy and predictor, and what it
//! gives back.

use crate::faults::FaultConfig;
use foresight_core::state::StateError;
use serde::{Deserialize, Serialize};

/// Options of one simulation besides the policy and predictor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimOptions {
    /// Faults to inject.
    pub faults: FaultConfig,
    /// Seed of every random draw.
    pub seed: u64,
    /// Half-life of fair-share usage, seconds.
    pub usage_half_life_s: f64,
    /// Ask the policy again at an instant where only predictions were
    /// corrected. Off by default, as in Tsafrir's EASY++ and the predictsim
    /// simulator: a correction moves the reservation, and the next
    /// submission or end acts on it. (On KTH-SP2, deciding at corrections
    /// raises EASY++'s average bounded slowdown from 63.4 to 68.5.)
    pub decide_on_correction: bool,
    /// Ask the policy after every submission and every end, in the order
    /// of the events, rather than once per instant after all of them. Off
    /// by default; on, the predictsim figures on KTH-SP2 are reproduced to
    /// within 0.03 % (its simulator decides after each event).
    pub decide_per_event: bool,
    /// Decide only at multiples of this many seconds (0: at every instant
    /// with an event): a scheduler that runs in passes, as Slurm's backfill
    /// every `bf_interval` or a controller every poll. Events between two
    /// passes wait for the next; jobs that arrived between them are then
    /// ordered together by the policy. Ignored with `decide_per_event`.
    pub decision_period_s: f64,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            faults: FaultConfig::default(),
            seed: 0,
            usage_half_life_s: foresight_core::runtime::USAGE_HALF_LIFE_S,
            decide_on_correction: false,
            decide_per_event: false,
            decision_period_s: 0.0,
        }
    }
}

/// What happened to one job. Times are NaN when it never started.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct JobOutcome {
    /// Start of its last attempt.
    pub start_s: f64,
    /// End of its last attempt.
    pub end_s: f64,
    /// The estimate its predictor made at submission.
    pub estimate_s: f64,
    /// Times it went back to the queue (node failure or preemption).
    pub requeues: u16,
    /// Times its estimate was corrected.
    pub corrections: u16,
    /// Killed at its time limit.
    pub killed: bool,
    /// Ended by a node failure.
    pub failed: bool,
    /// Its last start overtook a job ahead of it.
    pub backfilled: bool,
}

impl JobOutcome {
    pub(crate) const NOT_STARTED: JobOutcome = JobOutcome {
        start_s: f64::NAN,
        end_s: f64::NAN,
        estimate_s: f64::NAN,
        requeues: 0,
        corrections: 0,
        killed: false,
        failed: false,
        backfilled: false,
    };

    /// True when the job ran to an end.
    pub fn ended(&self) -> bool {
        !self.end_s.is_nan()
    }
}

/// Counters of one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineStats {
    /// Events handled (submissions included).
    pub events: u64,
    /// Times the policy was asked.
    pub decisions: u64,
    /// Prediction corrections.
    pub corrections: u64,
    /// Node failures.
    pub node_failures: u64,
    /// Jobs sent back to the queue.
    pub requeues: u64,
    /// Jobs that never started (stranded when the run ended).
    pub never_started: u64,
}

/// The result of one simulation.
#[derive(Debug, Clone, PartialEq)]
pub struct SimResult {
    /// Per job, by key.
    pub outcomes: Vec<JobOutcome>,
    /// Counters.
    pub stats: EngineStats,
}

/// Why a simulation stopped early. The run cannot go on after any of them.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    /// The policy asked for something the state refuses.
    #[error("policy `{policy}` made an invalid decision at t={at_s}: {source}")]
    InvalidDecision {
        /// The policy.
        policy: String,
        /// When.
        at_s: f64,
        /// What the state refused.
        source: StateError,
    },
}
