//! Cluster files: a what-if cluster in TOML, as node types with counts.
//!
//! ```toml
//! [[node]]
//! name = "gpu"      # nodes are named gpu1, gpu2, ...
//! count = 16
//! cpus = 64
//! gpus = 8
//! mem_gb = 512      # or mem_mb
//! gpu_type = "H100"
//! ```

use foresight_core::{Cluster, NodeSpec, Resources};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The error of reading a cluster file.
#[derive(Debug, thiserror::Error)]
pub enum ClusterFileError {
    /// The file could not be read.
    #[error("read cluster file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a valid cluster description.
    #[error("parse cluster file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    node: Vec<NodeType>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeType {
    name: String,
    count: u32,
    #[serde(default)]
    cpus: u32,
    #[serde(default)]
    gpus: u32,
    mem_mb: Option<u64>,
    mem_gb: Option<u64>,
    gpu_type: Option<String>,
}

/// Parses a cluster description.
pub fn parse(text: &str, path: &Path) -> Result<Cluster, ClusterFileError> {
    let err = |message: String| ClusterFileError::Parse { path: path.to_path_buf(), message };
    let file: File = toml::from_str(text).map_err(|e| err(e.to_string()))?;
    let mut nodes = Vec::new();
    for t in &file.node {
        if t.cpus == 0 && t.gpus == 0 {
            return Err(err(format!("node type `{}` has neither cpus nor gpus", t.name)));
        }
        let mem_mb = t.mem_mb.unwrap_or(0) + t.mem_gb.unwrap_or(0) * 1024;
        for i in 1..=t.count {
            nodes.push(NodeSpec {
                name: format!("{}{i}", t.name),
                capacity: Resources::new(t.cpus, t.gpus, mem_mb),
                gpu_type: t.gpu_type.clone(),
            });
        }
    }
    if nodes.is_empty() {
        return Err(err("the cluster has no node".into()));
    }
    Ok(Cluster { nodes })
}

/// Reads a cluster file.
pub fn read(path: &Path) -> Result<Cluster, ClusterFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| ClusterFileError::Io { path: path.to_path_buf(), source })?;
    parse(&text, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_types_expand_in_order() {
        let text = "[[node]]\nname = \"cpu\"\ncount = 2\ncpus = 32\nmem_gb = 1\n\n[[node]]\nname = \"gpu\"\ncount = 1\ncpus = 64\ngpus = 8\ngpu_type = \"H100\"\n";
        let c = parse(text, Path::new("c.toml")).unwrap();
        assert_eq!(c.nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(), ["cpu1", "cpu2", "gpu1"]);
        assert_eq!(c.total(), Resources::new(128, 8, 2048));
        let bad = parse("[[node]]\nname = \"x\"\ncount = 1\n", Path::new("c.toml")).unwrap_err();
        assert!(bad.to_string().contains("neither cpus nor gpus"));
        assert!(parse("[[node]]\nname = 1\n", Path::new("c.toml")).is_err());
    }
}
