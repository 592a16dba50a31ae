//! Integration tests of foresight-models on real data, one file per
//! behaviour.

mod calendar;
mod h100_runtime;
mod hostile_files;
mod leakage;
mod swf_logs;
