//! Integration tests of foresight-models on real data, one file per
//! behaviour.

mod calendar;
mod h100_runtime;
mod leakage;
mod swf_logs;
