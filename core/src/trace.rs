//! Trace metadata: what a log says about the machine it came from.

use crate::cluster::Cluster;
use crate::resources::Resources;
use serde::{Deserialize, Serialize};

/// The capacity of the system a trace was recorded on, as far as the trace
/// says. SWF logs give processors and nodes; GPU logs may give GPUs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capacity {
    /// Total processors (SWF `MaxProcs`).
    pub cpus: Option<u32>,
    /// Total nodes (SWF `MaxNodes`).
    pub nodes: Option<u32>,
    /// Total GPUs.
    pub gpus: Option<u32>,
}

/// Metadata of a trace: where it came from and on what machine.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TraceMeta {
    /// The format the trace was read from (`swf`, `sacct`, `h100-jobs`, ...).
    pub format: String,
    /// The file it was read from, as given.
    pub source: String,
    /// The installation or computer, when the header names it.
    pub computer: Option<String>,
    /// Unix time of the trace's time zero; every job time is relative to it.
    pub epoch_unix_s: Option<f64>,
    /// Offset of the site's time zone from UTC, in seconds (SWF `TimeZone`).
    pub tz_offset_s: Option<i32>,
    /// The site's time zone name (SWF `TimeZoneString`).
    pub tz_name: Option<String>,
    /// The machine's capacity.
    pub capacity: Capacity,
    /// Partitions (queues) the header declares, in order.
    pub partitions: Vec<String>,
    /// The longest runtime a job may ask for, when the header says (SWF
    /// `MaxRuntime`, seconds).
    #[serde(default)]
    pub max_runtime_s: Option<f64>,
    /// Free-form header notes, in order.
    pub notes: Vec<String>,
}

impl TraceMeta {
    /// A cluster for this trace when no cluster file is given: one node per
    /// declared node, with the processors shared out evenly, or a single
    /// node holding every processor and GPU when the node count is unknown
    /// or does not divide the processors.
    /// `None` when the trace declares no capacity at all.
    pub fn default_cluster(&self) -> Option<Cluster> {
        let cpus = self.capacity.cpus;
        let gpus = self.capacity.gpus.unwrap_or(0);
        if cpus.is_none() && gpus == 0 {
            return None;
        }
        let cpus = cpus.unwrap_or(0);
        match self.capacity.nodes {
            Some(n) if n > 0 && cpus.is_multiple_of(n) && gpus.is_multiple_of(n) => Some(Cluster::homogeneous(
                "node",
                n,
                Resources::new(cpus / n, gpus / n, 0),
            )),
            _ => Some(Cluster::homogeneous("node", 1, Resources::new(cpus, gpus, 0))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_cluster_follows_declared_nodes() {
        let meta = TraceMeta {
            capacity: Capacity { cpus: Some(100), nodes: Some(100), gpus: None },
            ..TraceMeta::default()
        };
        let c = meta.default_cluster().unwrap();
        assert_eq!(c.len(), 100);
        assert_eq!(c.total().cpus, 100);

        let uneven = TraceMeta {
            capacity: Capacity { cpus: Some(10), nodes: Some(3), gpus: None },
            ..TraceMeta::default()
        };
        assert_eq!(uneven.default_cluster().unwrap().len(), 1);
        assert_eq!(TraceMeta::default().default_cluster(), None);
    }
}
