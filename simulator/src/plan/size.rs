//! Cluster sizes: a cluster of several nodes is sized in nodes (its node
//! types kept in proportion), a cluster of one node in CPUs (its GPUs and
//! memory scaled with them).

use foresight_core::{Cluster, NodeSpec, Resources};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The unit `base` is sized in and its size today.
pub fn size_of(base: &Cluster) -> (&'static str, u32) {
    if base.len() > 1 { ("nodes", base.len() as u32) } else { ("CPUs", base.total().cpus) }
}

/// A cluster like `base` of size `n` in [`size_of`]'s unit: `n` nodes
/// walking `base`'s node list in proportion (the same mix of types), or one
/// node of `n` CPUs with GPUs and memory scaled alike.
pub fn resize(base: &Cluster, n: u32) -> Cluster {
    if base.len() > 1 {
        let len = base.len() as u64;
        let nodes = (0..u64::from(n))
            .map(|i| {
                let like = &base.nodes[(i * len / u64::from(n.max(1))) as usize];
                NodeSpec { name: format!("node{}", i + 1), capacity: like.capacity, gpu_type: like.gpu_type.clone() }
            })
            .collect();
        return Cluster { nodes };
    }
    let Some(one) = base.nodes.first() else { return Cluster::homogeneous("node", 1, Resources::new(n, 0, 0)) };
    let cpus = one.capacity.cpus.max(1);
    let scale = |v: u64| (v as f64 * f64::from(n) / f64::from(cpus)).round() as u64;
    let capacity = Resources::new(n, scale(u64::from(one.capacity.gpus)) as u32, scale(one.capacity.mem_mb));
    Cluster { nodes: vec![NodeSpec { name: one.name.clone(), capacity, gpu_type: one.gpu_type.clone() }] }
}

/// What a cluster holds, for a report.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Sized {
    /// Nodes.
    pub nodes: u32,
    /// CPUs.
    pub cpus: u32,
    /// GPUs.
    pub gpus: u32,
    /// GPUs by type (`untyped` for GPUs of no declared type).
    pub gpus_by_type: BTreeMap<String, u32>,
}

impl Sized {
    /// What `c` holds.
    pub fn of(c: &Cluster) -> Self {
        let mut gpus_by_type = BTreeMap::new();
        for n in c.nodes.iter().filter(|n| n.capacity.gpus > 0) {
            *gpus_by_type.entry(n.gpu_type.clone().unwrap_or_else(|| "untyped".into())).or_insert(0) += n.capacity.gpus;
        }
        let t = c.total();
        Self { nodes: c.len() as u32, cpus: t.cpus, gpus: t.gpus, gpus_by_type }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_keep_the_mix_of_node_types() {
        let mut base = Cluster::homogeneous("a", 3, Resources::new(32, 0, 0));
        base.nodes.push(NodeSpec {
            name: "g".into(),
            capacity: Resources::new(16, 4, 0),
            gpu_type: Some("H100".into()),
        });
        assert_eq!(size_of(&base), ("nodes", 4));
        let big = resize(&base, 8);
        let s = Sized::of(&big);
        assert_eq!((s.nodes, s.cpus, s.gpus), (8, 6 * 32 + 2 * 16, 8));
        assert_eq!(s.gpus_by_type.get("H100"), Some(&8));
        let one = Cluster::homogeneous("n", 1, Resources::new(100, 10, 1000));
        assert_eq!(size_of(&one), ("CPUs", 100));
        assert_eq!(resize(&one, 50).total(), Resources::new(50, 5, 500));
    }
}
