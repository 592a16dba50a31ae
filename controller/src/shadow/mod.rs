//! Shadow mode: follow the orchestrator, keep the baseline's and the
//! candidate's scheduler runtimes up to date with what it reports, ask both
//! what they would do, and measure the candidate against what happened.

mod cycled;
pub mod engine;
pub mod feed;
pub mod track;
pub mod worker;
