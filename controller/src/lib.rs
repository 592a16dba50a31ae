//! foresight-controller: the live controller.
//!
//! It watches a real orchestrator through an [`adapter`], asks the candidate
//! policy (with its predictor) and the baseline what they would do on the
//! observed state, and, in shadow mode, only records: every cycle and every
//! finished job goes to the append-only decision [`log`].
//!
//! Codemap:
//! - [`adapter`]: the `Orchestrator` trait (read the cluster; act on it:
//!   priority, hold, release, start) and the Slurm adapter (commands or
//!   slurmrestd).
//! - [`event`]: the closed `Event` enum and the tasks that produce events.
//! - [`controller`]: the loop that consumes them (shadow mode), resumes
//!   from its log, and stops cleanly.
//! - [`shadow`]: one decision cycle: tracker, kept cluster states, the model
//!   under its deadline, baseline and candidate, measurement.
//! - [`enforce`]: the acting half: modes (shadow, advise, enforce), the
//!   operators' tokens and API, the gates (`BeginTime` leases) and site
//!   factors it keeps in Slurm, and the ledger a restart reconciles.
//! - [`breaker`]: circuit breaker and drift monitor; [`model`]: the model
//!   the breaker guards.
//! - [`log`]: checksummed, torn-tail-safe, rotated decision log; its reader,
//!   filters and shadow summary.
//! - [`obs`]: Prometheus metrics (prometheus-client) and health over HTTP (axum).
//! - [`nvml`]: GPU telemetry sampling; [`run`]: entry points for the binary.
//!
//! Architecture invariant: the controller reimplements no policy; it calls
//! the policies of `foresight-core` on the real clock, as the simulator
//! calls them on a virtual one. It never acts in shadow mode; in advise
//! mode only on an operator's approval.

pub mod adapter;
pub mod breaker;
pub mod clock;
pub mod controller;
pub mod enforce;
pub mod event;
pub mod log;
pub mod model;
pub mod nvml;
pub mod obs;
pub mod run;
pub mod shadow;
