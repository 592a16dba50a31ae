//! foresight-simulator: replays a job trace, in virtual time, under any
//! policy of `foresight_core::policy` with any predictor, on the trace's
//! cluster or a what-if one, with injected node failures; reports per-job
//! and aggregated metrics as JSON and Parquet; runs comparisons and sweeps
//! in parallel.
//!
//! Architecture invariant: the simulator never reads the wall clock and
//! never reimplements a policy: it calls the same `Policy` object the live
//! controller calls. Same inputs and seed, same results.

pub mod cluster_file;
pub mod engine;
pub mod evidence;
pub mod faults;
pub mod metrics;
pub mod output;
pub mod plan;
pub mod robustness;
pub mod run;
pub mod sweep;
pub mod workload;

pub use engine::{EngineError, EngineStats, JobOutcome, SimOptions, SimResult, simulate, simulate_observed};
pub use evidence::{Evidence, EvidenceMeta, RunEvidence, StepTiming, Verdict, compare_evidence};
pub use faults::{FaultConfig, FaultRate, NodeOutage, OnFailure};
pub use metrics::{JobMetrics, Report, Summary};
pub use run::{Comparison, RunSpec, SimError, compare, run};
pub use sweep::{BadShard, Grid, Placed, Shard, SweepPoint, grid_len, sweep, sweep_shard, sweep_shard_with};
pub use workload::{Filter, Workload, WorkloadBuilder, WorkloadOptions};
