//! foresight-controller: the live controller.
//!
//! It watches a real orchestrator through an [`adapter`], asks the candidate
//! policy (with its predictor) and the baseline what they would do on the
//! observed state, and, in shadow mode, only records: every cycle and every
//! finished job goes to the append-only decision [`log`].
//!
//! Architecture invariant: the controller reimplements no policy; it calls
//! the policies of `foresight-core` on the real clock, as the simulator
//! calls them on a virtual one.

pub mod log;
pub mod breaker;
pub mod obs;
pub mod adapter;
pub mod nvml;
pub mod model;
pub mod shadow;
pub mod event;
pub mod controller;
pub mod run;
