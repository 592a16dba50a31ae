//! Integration tests of the simulator, one file per behaviour.

mod common;
mod corrections;
mod determinism;
mod kth_literature;
mod passes;
mod properties;
