//! The checks of trees read from a model file: every tree has a node, every
//! split's children are nodes of its tree that come after it (so a walk
//! down a tree moves forward and ends within as many steps as the tree has
//! nodes: no cycle), every number is finite, every feature tested is a
//! column of the schema's rows, and no list is absurdly long. Training
//! writes trees that pass (children are appended after their parent).

use super::{Gbt, Node};
use crate::invalid::{MAX_NODES, MAX_TREES, Problem, at_most, finite};

/// The checks that need no schema: sizes, shape and finite numbers. Trees
/// that pass can be walked and flattened without a bounds failure or a
/// cycle.
pub(super) fn structure(base: f64, trees: &[Vec<Node>]) -> Result<(), Problem> {
    finite(|| "base".into(), base)?;
    at_most("trees", trees.len(), MAX_TREES)?;
    for (t, tree) in trees.iter().enumerate() {
        if tree.is_empty() {
            return Err(Problem::EmptyTree { tree: t });
        }
        at_most(&format!("tree {t}"), tree.len(), MAX_NODES)?;
        for (n, node) in tree.iter().enumerate() {
            if node.is_leaf() {
                finite(|| format!("tree {t}, node {n}, value"), node.value)?;
                continue;
            }
            finite(|| format!("tree {t}, node {n}, threshold"), node.threshold)?;
            let left = node.left as usize;
            if left <= n {
                return Err(Problem::ChildNotAfter { tree: t, node: n, left: node.left });
            }
            if left + 1 >= tree.len() {
                return Err(Problem::ChildOutOfRange { tree: t, node: n, left: node.left, nodes: tree.len() });
            }
        }
    }
    Ok(())
}

impl Gbt {
    /// Checks the ensemble against rows `width` wide: the
    /// [`structure`] checks, every feature tested below `width`, and one
    /// gain per column (or none, in files from before gains were kept).
    pub(crate) fn check(&self, width: usize) -> Result<(), Problem> {
        structure(self.base, &self.trees)?;
        for (t, tree) in self.trees.iter().enumerate() {
            for (n, node) in tree.iter().enumerate() {
                if !node.is_leaf() && node.feature as usize >= width {
                    return Err(Problem::FeatureOutOfRange { tree: t, node: n, feature: node.feature, width });
                }
            }
        }
        if !self.gain.is_empty() && self.gain.len() != width {
            return Err(Problem::Length { field: "gain".into(), found: self.gain.len(), expected: width });
        }
        Ok(())
    }
}
