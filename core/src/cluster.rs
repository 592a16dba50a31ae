//! Nodes and clusters: the machines a trace ran on, or a what-if.

use crate::resources::Resources;
use serde::{Deserialize, Serialize};

/// One node (machine) of a cluster and what it offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeSpec {
    /// Node name, unique within the cluster.
    pub name: String,
    /// CPUs, GPUs and memory the node offers.
    pub capacity: Resources,
    /// GPU model, when known (for example `H100`).
    pub gpu_type: Option<String>,
}

/// A cluster: a list of nodes. Node order is significant: placement policies
/// such as first fit walk it in order, which keeps results deterministic.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cluster {
    /// The nodes, in a fixed order.
    pub nodes: Vec<NodeSpec>,
}

impl Cluster {
    /// `count` identical nodes named `{prefix}{i}` (from 1).
    pub fn homogeneous(prefix: &str, count: u32, capacity: Resources) -> Self {
        let nodes = (1..=count)
            .map(|i| NodeSpec { name: format!("{prefix}{i}"), capacity, gpu_type: None })
            .collect();
        Self { nodes }
    }

    /// The sum of every node's capacity.
    pub fn total(&self) -> Resources {
        self.nodes.iter().fold(Resources::default(), |acc, n| acc.saturating_add(&n.capacity))
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when the cluster has no node.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn homogeneous_cluster_sums_capacity() {
        let c = Cluster::homogeneous("n", 3, Resources::new(4, 1, 2000));
        assert_eq!(c.len(), 3);
        assert_eq!(c.nodes[2].name, "n3");
        assert_eq!(c.total(), Resources::new(12, 3, 6000));
    }
}
