//! What can be wrong with a model file that parses: [`InvalidModel`] names
//! the part of the file (its JSON path, e.g. `runtime.model`) and the
//! [`Problem`] (the tree, node and field, or the list and its length).
//! [`crate::ModelFile::validate`] checks a file before anything predicts
//! with it, so that a malformed or hostile file (an empty tree, a child
//! index out of range or pointing back at an ancestor, a feature past the
//! schema's columns, a non-finite weight, lengths that disagree, absurd
//! sizes) is refused when loaded, never a panic, a loop or a stack overflow
//! later. The limits below are far above what training writes.

/// The largest model file read, bytes.
pub const MAX_FILE_BYTES: u64 = 256 << 20;
/// The most submitted features (numeric and text) a schema may hold: each
/// is a column of every row kept for a waiting job.
pub const MAX_SUBMITTED_FEATURES: usize = 4096;
/// The most trees an ensemble may hold.
pub const MAX_TREES: usize = 100_000;
/// The most nodes a tree may hold.
pub const MAX_NODES: usize = 1 << 20;
/// The most per-name regressions a `linear-by-name` model may hold.
pub const MAX_GROUPS: usize = 1 << 20;

/// A model file that parses but is not a model that can be served.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{part}: {problem}")]
pub struct InvalidModel {
    /// Where in the file: a JSON path such as `schema`, `runtime.model`,
    /// `runtime.trees`, `runtime.model.groups[3]` or `failure.model`.
    pub part: String,
    /// What is wrong there.
    pub problem: Problem,
}

impl InvalidModel {
    /// `problem` at `part`.
    pub fn new(part: impl Into<String>, problem: Problem) -> Self {
        Self { part: part.into(), problem }
    }
}

/// What is wrong with one part of a model file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Problem {
    /// A tree without any node.
    #[error("tree {tree} has no node")]
    EmptyTree {
        /// The tree's index.
        tree: usize,
    },
    /// A split whose children (`left` and `left + 1`) are not both nodes of
    /// its tree.
    #[error("tree {tree}, node {node}: children {left} and {left} + 1 are not both among the tree's {nodes} nodes")]
    ChildOutOfRange {
        /// The tree's index.
        tree: usize,
        /// The node's index in the tree.
        node: usize,
        /// Its left child's index.
        left: u32,
        /// Nodes in the tree.
        nodes: usize,
    },
    /// A split whose left child does not come after it: the walk down the
    /// tree could return to the node or an ancestor (a cycle).
    #[error("tree {tree}, node {node}: child {left} does not come after its parent (a cycle)")]
    ChildNotAfter {
        /// The tree's index.
        tree: usize,
        /// The node's index in the tree.
        node: usize,
        /// Its left child's index.
        left: u32,
    },
    /// A split on a feature the schema's rows do not have.
    #[error("tree {tree}, node {node}: feature {feature} is past the schema's {width} columns")]
    FeatureOutOfRange {
        /// The tree's index.
        tree: usize,
        /// The node's index in the tree.
        node: usize,
        /// The feature tested.
        feature: u32,
        /// Columns in the schema's rows.
        width: usize,
    },
    /// A column index (a regression's input, a group column) past the
    /// schema's rows.
    #[error("{field} refers to column {column}, past the schema's {width} columns")]
    ColumnOutOfRange {
        /// The field, e.g. `pooled.used[2]`.
        field: String,
        /// The column it names.
        column: usize,
        /// Columns in the schema's rows.
        width: usize,
    },
    /// A number that would poison predictions: NaN, infinite, or (a scale,
    /// a runtime floor) not positive.
    #[error("{field} is {value}, {expected}")]
    BadNumber {
        /// The field, e.g. `tree 3, node 7, threshold`.
        field: String,
        /// Its value.
        value: f64,
        /// What it must be.
        expected: &'static str,
    },
    /// Two lists that must agree in length do not.
    #[error("{field} has {found} entries, expected {expected}")]
    Length {
        /// The list.
        field: String,
        /// Its length.
        found: usize,
        /// The length it must have.
        expected: usize,
    },
    /// A list longer than a model file may hold.
    #[error("{field} has {found} entries, more than the {max} a model file may hold")]
    TooLarge {
        /// The list.
        field: String,
        /// Its length.
        found: usize,
        /// The most allowed.
        max: usize,
    },
    /// A column name that is not the schema's.
    #[error("feature_names[{index}] is `{found}`, the schema's column {index} is `{expected}`")]
    FeatureName {
        /// The column.
        index: usize,
        /// The name in the file.
        found: String,
        /// The schema's name for it.
        expected: String,
    },
    /// A model of another kind than the file says, or a loss that does not
    /// fit its use.
    #[error("{found}, expected {expected}")]
    Mismatch {
        /// What the file holds.
        found: String,
        /// What it must hold.
        expected: String,
    },
}

/// `Ok` when `value` is finite, else a [`Problem::BadNumber`] for `field`.
pub(crate) fn finite(field: impl FnOnce() -> String, value: f64) -> Result<(), Problem> {
    if value.is_finite() { Ok(()) } else { Err(Problem::BadNumber { field: field(), value, expected: "not a finite number" }) }
}

/// `Ok` when `found <= max`, else a [`Problem::TooLarge`] for `field`.
pub(crate) fn at_most(field: &str, found: usize, max: usize) -> Result<(), Problem> {
    if found <= max { Ok(()) } else { Err(Problem::TooLarge { field: field.to_string(), found, max }) }
}

/// `Ok` when `found == expected`, else a [`Problem::Length`] for `field`.
pub(crate) fn length(field: impl FnOnce() -> String, found: usize, expected: usize) -> Result<(), Problem> {
    if found == expected { Ok(()) } else { Err(Problem::Length { field: field(), found, expected }) }
}

/// `Ok` when `column < width`, else a [`Problem::ColumnOutOfRange`].
pub(crate) fn column(field: impl FnOnce() -> String, column: usize, width: usize) -> Result<(), Problem> {
    if column < width { Ok(()) } else { Err(Problem::ColumnOutOfRange { field: field(), column, width }) }
}
