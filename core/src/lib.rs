//! foresight-core: the pure heart of foresight.
//!
//! It holds the canonical job type (one row of the job table of
//! `DESIGN.md`), resources, nodes and clusters, and the metadata of a trace.
//! Every other crate speaks these types.
//!
//! Architecture invariant: `core` does no I/O, knows no async runtime, no
//! Polars, no gRPC and no file system. It depends on `serde` only, so that
//! the types can be written by the crates that do I/O.

pub mod cluster;
pub mod job;
pub mod names;
pub mod policy;
pub mod predictor;
pub mod resources;
pub mod rng;
pub mod runtime;
pub mod state;
pub mod trace;

pub use cluster::{Cluster, NodeSpec};
pub use job::{FeatureValue, Job, JobStatus};
pub use names::{NameTables, Names};
pub use resources::Resources;
pub use trace::{Capacity, TraceMeta};
