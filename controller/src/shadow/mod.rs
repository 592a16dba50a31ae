//! Shadow mode: follow the orchestrator, ask the candidate and the baseline
//! what they would do, and measure the candidate against what happened.

pub mod build;
pub mod engine;
pub mod model_call;
pub mod states;
pub mod track;
pub mod worker;
