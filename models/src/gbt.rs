//! A histogram gradient-boosted tree ensemble (the LightGBM/XGBoost-hist
//! recipe, small): features are cut into at most 255 quantile bins once,
//! each tree grows to a fixed depth from per-bin gradient sums (the
//! private `grow` module holds the training), and missing values (NaN) get
//! their own bin that always goes left. Losses: squared, asymmetric squared (an
//! under-prediction costs `under_weight` times an over-prediction of the
//! same size), pinball (quantile) and logistic for classifiers. Trained
//! trees are also kept as complete binary trees in flat arrays, walked
//! eight rows (or, for one row, eight trees) at a time without a branch
//! on the data. Deterministic: no random draws, and the same model on any
//! number of threads.
//!
//! Trees read from a file are checked (the private `check` module) before
//! they are flattened; whatever they hold, prediction never panics, never
//! recurses and never loops: a tree that cannot be walked gives NaN.

mod check;
mod grow;

use crate::matrix::Matrix;
use serde::{Deserialize, Serialize};

/// What a booster minimises.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Loss {
    /// Squared error.
    Squared,
    /// Squared error weighted `under_weight` where the prediction is below
    /// the target (an expectile above the mean when `under_weight > 1`).
    Asymmetric {
        /// The weight of under-predictions (over-predictions weigh 1).
        under_weight: f64,
    },
    /// Pinball loss of quantile `q`: leaves hold the `q`-quantile of the
    /// residuals of their rows (`q = 0.5` is the conditional median).
    Quantile {
        /// The quantile, in `(0, 1)`.
        q: f64,
    },
    /// Log loss on 0/1 targets; predictions are log-odds.
    Logistic,
}

/// How a booster is trained.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GbtParams {
    /// Number of trees.
    pub trees: usize,
    /// Depth of each tree.
    pub depth: usize,
    /// Shrinkage of each tree's values.
    pub learning_rate: f64,
    /// Fewest rows in a leaf.
    pub min_leaf: usize,
    /// L2 penalty on leaf values.
    pub l2: f64,
    /// The loss.
    pub loss: Loss,
    /// At most this many rows grow each tree (a deterministic sample of
    /// the rest, different for each tree: stochastic gradient boosting).
    pub max_rows_per_tree: usize,
}

impl Default for GbtParams {
    /// Fixed a priori (common defaults of histogram boosters), never tuned
    /// on an evaluated log: 100 trees of depth 6, rate 0.1.
    fn default() -> Self {
        Self { trees: 100, depth: 6, learning_rate: 0.1, min_leaf: 20, l2: 1.0, loss: Loss::Squared, max_rows_per_tree: 100_000 }
    }
}

impl GbtParams {
    /// The defaults, with the smallest leaf scaled to the data: a hundredth
    /// of the rows, between 3 and 20 (a priori, so that a few hundred jobs
    /// still grow trees).
    pub fn for_rows(n: usize) -> Self {
        Self { min_leaf: (n / 100).clamp(3, 20), ..Self::default() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Node {
    /// Feature tested, or `u32::MAX` for a leaf.
    feature: u32,
    /// Go left when the value is NaN or at most this.
    threshold: f64,
    /// Index of the left child (the right one follows it).
    left: u32,
    /// Leaf value.
    value: f64,
}

impl Node {
    fn is_leaf(&self) -> bool {
        self.feature == u32::MAX
    }
}

/// A trained ensemble. Its trees are kept as nodes (the model file's form)
/// and, for prediction, as complete binary trees in flat arrays.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "GbtData", into = "GbtData")]
pub struct Gbt {
    base: f64,
    trees: Vec<Vec<Node>>,
    loss: Loss,
    /// Total split gain per feature (empty in files from before it).
    gain: Vec<f64>,
    /// The trees for prediction; `None` when one is too deep to flatten.
    flat: Option<Heap<f64>>,
}

/// The serialised form of [`Gbt`].
#[derive(Serialize, Deserialize)]
struct GbtData {
    base: f64,
    trees: Vec<Vec<Node>>,
    loss: Loss,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    gain: Vec<f64>,
}

impl From<GbtData> for Gbt {
    /// Flattens the trees only when their shape passes the checks (those
    /// of [`crate::ModelFile::validate`] that need no schema); others are
    /// walked node by node, with bounds.
    fn from(d: GbtData) -> Self {
        let flat = check::structure(d.base, &d.trees)
            .ok()
            .and_then(|()| Heap::new(&d.trees, |t, n| d.trees[t][n].threshold, f64::INFINITY));
        Gbt { base: d.base, trees: d.trees, loss: d.loss, gain: d.gain, flat }
    }
}

impl From<Gbt> for GbtData {
    fn from(g: Gbt) -> Self {
        GbtData { base: g.base, trees: g.trees, loss: g.loss, gain: g.gain }
    }
}

impl PartialEq for Gbt {
    /// The same trees (the flat copy follows from them).
    fn eq(&self, other: &Self) -> bool {
        self.base == other.base && self.trees == other.trees && self.loss == other.loss && self.gain == other.gain
    }
}

/// Trees deeper than this are walked node by node instead (a complete tree
/// of depth `d` has `2^d` leaves).
const MAX_FLAT_DEPTH: usize = 12;
/// Ensembles whose flat form would hold more slots than this (trees times
/// `2^depth`: 24 MB) are walked node by node instead, so that a small file
/// of many one-leaf trees beside one deep tree cannot make a huge one.
const MAX_FLAT_SLOTS: usize = 1 << 20;

/// Complete binary trees of one depth in heap order (node `k`'s children
/// are `2k + 1` and `2k + 2`), one tree after another: go right when the
/// value is above the threshold (NaN never is). A leaf above the bottom
/// becomes nodes that always go left, its value at the leftmost bottom slot.
#[derive(Debug, Clone, PartialEq)]
struct Heap<T> {
    depth: usize,
    /// `2^depth - 1` nodes that split; each tree's `split` holds `2^depth`
    /// (one unused) so that a masked index needs no bounds check.
    internal: usize,
    /// Each node's threshold and feature.
    split: Vec<(T, u32)>,
    leaf: Vec<f64>,
    /// One more than the largest feature tested.
    min_width: usize,
}

/// The depth of a tree whose children come after their parents (checked
/// by `check::structure`, or grown so): one pass from the last node back,
/// no recursion.
fn depth_of(tree: &[Node]) -> usize {
    let mut depth = vec![0usize; tree.len()];
    for n in (0..tree.len()).rev() {
        let node = &tree[n];
        if !node.is_leaf() {
            let left = node.left as usize;
            depth[n] = 1 + depth[left].max(depth[left + 1]);
        }
    }
    depth.first().copied().unwrap_or(0)
}

/// Rows predicted together, tree by tree (so a tree stays in cache).
const BLOCK: usize = 64;
/// The widest rows predicted through a transposed block (wider ones are
/// walked row by row).
const BLOCK_WIDTH: usize = 64;
/// Rows of a block walked down a tree side by side.
const LANES: usize = 8;
/// A block of rows, transposed by groups of [`LANES`] rows: feature `f`
/// of row `j` at `[j / LANES][f][j % LANES]`.
type Block<T> = [[[T; LANES]; BLOCK_WIDTH]; BLOCK / LANES];

impl<T: Copy + PartialOrd> Heap<T> {
    /// The heap form of `trees` (of the shape `check::structure` accepts),
    /// with `threshold(tree, node)` at each split and `always_left` at
    /// padding nodes; `None` when too deep or too large.
    fn new(trees: &[Vec<Node>], threshold: impl Fn(usize, usize) -> T, always_left: T) -> Option<Self> {
        let depth = trees.iter().map(|t| depth_of(t)).max().unwrap_or(0);
        if depth > MAX_FLAT_DEPTH || trees.len().saturating_mul(1 << depth) > MAX_FLAT_SLOTS {
            return None;
        }
        let internal = (1 << depth) - 1;
        let mut heap = Heap {
            depth,
            internal,
            split: vec![(always_left, 0); (internal + 1) * trees.len()],
            leaf: vec![0.0; (internal + 1) * trees.len()],
            min_width: 0,
        };
        let mut stack = Vec::new();
        for (t, tree) in trees.iter().enumerate() {
            heap.place(t, tree, &threshold, &mut stack);
        }
        Some(heap)
    }

    /// Writes tree `t` into its slots, depth first with an explicit stack
    /// of (node, heap slot, level) (at most `depth + 1` deep).
    fn place(&mut self, t: usize, tree: &[Node], threshold: &impl Fn(usize, usize) -> T, stack: &mut Vec<(usize, usize, usize)>) {
        let stride = self.internal + 1;
        stack.clear();
        stack.push((0, 0, 0));
        while let Some((n, k, level)) = stack.pop() {
            let node = &tree[n];
            if node.is_leaf() {
                let bottom = (0..self.depth - level).fold(k, |k, _| 2 * k + 1);
                self.leaf[t * stride + bottom - self.internal] = node.value;
                continue;
            }
            self.split[t * stride + k] = (threshold(t, n), node.feature);
            self.min_width = self.min_width.max(node.feature as usize + 1);
            stack.push((node.left as usize + 1, 2 * k + 2, level + 1));
            stack.push((node.left as usize, 2 * k + 1, level + 1));
        }
    }

    /// Tree `t`'s value for `row`: `depth` steps, no branch on the data.
    #[inline]
    fn eval(&self, t: usize, row: &[T]) -> f64 {
        let stride = self.internal + 1;
        let split = &self.split[t * stride..(t + 1) * stride];
        let mut k = 0;
        for _ in 0..self.depth {
            let (threshold, feature) = split[k & self.internal];
            k = 2 * k + 1 + usize::from(row[feature as usize] > threshold);
        }
        self.leaf[t * stride + k - self.internal]
    }

    /// Adds tree `t`'s values for the first `acc.len()` rows of `block` to
    /// `acc`.
    fn add_block(&self, t: usize, block: &Block<T>, acc: &mut [f64]) {
        match self.internal + 1 {
            1 => self.add_block_n::<1>(t, block, acc),
            2 => self.add_block_n::<2>(t, block, acc),
            4 => self.add_block_n::<4>(t, block, acc),
            8 => self.add_block_n::<8>(t, block, acc),
            16 => self.add_block_n::<16>(t, block, acc),
            32 => self.add_block_n::<32>(t, block, acc),
            64 => self.add_block_n::<64>(t, block, acc),
            128 => self.add_block_n::<128>(t, block, acc),
            256 => self.add_block_n::<256>(t, block, acc),
            512 => self.add_block_n::<512>(t, block, acc),
            1024 => self.add_block_n::<1024>(t, block, acc),
            2048 => self.add_block_n::<2048>(t, block, acc),
            _ => self.add_block_n::<4096>(t, block, acc),
        }
    }

    /// [`Heap::add_block`] for trees of `N` (`2^depth`) slots: [`LANES`]
    /// rows walk down together, each step independent of the other lanes',
    /// and every index is masked into a fixed-size array (no bounds check).
    fn add_block_n<const N: usize>(&self, t: usize, block: &Block<T>, acc: &mut [f64]) {
        let split: &[(T, u32); N] = self.split[t * N..(t + 1) * N].try_into().expect("a tree of N slots");
        let leaf: &[f64; N] = self.leaf[t * N..(t + 1) * N].try_into().expect("a tree of N slots");
        for (columns, acc) in block.iter().zip(acc.chunks_mut(LANES)) {
            let mut k = [0usize; LANES];
            for _ in 0..self.depth {
                for (j, k) in k.iter_mut().enumerate() {
                    let (threshold, feature) = split[*k % N];
                    let v = columns[feature as usize % BLOCK_WIDTH][j];
                    *k = 2 * *k + 1 + usize::from(v > threshold);
                }
            }
            for (a, k) in acc.iter_mut().zip(k) {
                *a += leaf[(k - self.internal) % N];
            }
        }
    }

    /// The sum of every tree's value for one row, in tree order:
    /// [`LANES`] trees walk down together.
    fn sum_row(&self, row: &[T]) -> f64 {
        match self.internal + 1 {
            1 => self.sum_row_n::<1>(row),
            2 => self.sum_row_n::<2>(row),
            4 => self.sum_row_n::<4>(row),
            8 => self.sum_row_n::<8>(row),
            16 => self.sum_row_n::<16>(row),
            32 => self.sum_row_n::<32>(row),
            64 => self.sum_row_n::<64>(row),
            128 => self.sum_row_n::<128>(row),
            256 => self.sum_row_n::<256>(row),
            512 => self.sum_row_n::<512>(row),
            1024 => self.sum_row_n::<1024>(row),
            2048 => self.sum_row_n::<2048>(row),
            _ => self.sum_row_n::<4096>(row),
        }
    }

    fn sum_row_n<const N: usize>(&self, row: &[T]) -> f64 {
        let mut sum = 0.0;
        for (split, leaf) in self.split.chunks(LANES * N).zip(self.leaf.chunks(LANES * N)) {
            let lanes = leaf.len() / N;
            // Lanes past the last tree walk the group's first tree again,
            // unread.
            let mut trees = [<&[(T, u32); N]>::try_from(&split[..N]).expect("a tree of N slots"); LANES];
            for (t, s) in trees.iter_mut().zip(split.chunks_exact(N)) {
                *t = s.try_into().expect("a tree of N slots");
            }
            let mut k = [0usize; LANES];
            for _ in 0..self.depth {
                for (k, split) in k.iter_mut().zip(trees) {
                    let (threshold, feature) = split[*k % N];
                    *k = 2 * *k + 1 + usize::from(row[feature as usize] > threshold);
                }
            }
            for (k, leaf) in k.iter().zip(leaf.chunks_exact(N)).take(lanes) {
                sum += leaf[(k - self.internal) % N];
            }
        }
        sum
    }

    fn trees(&self) -> usize {
        self.leaf.len() / (self.internal + 1)
    }
}

fn grad_hess(loss: Loss, pred: f64, y: f64) -> (f64, f64) {
    match loss {
        Loss::Squared => (pred - y, 1.0),
        Loss::Asymmetric { under_weight } => {
            let w = if pred < y { under_weight } else { 1.0 };
            (w * (pred - y), w)
        }
        Loss::Quantile { q } => (if pred >= y { 1.0 - q } else { -q }, 1.0),
        Loss::Logistic => {
            let p = 1.0 / (1.0 + (-pred).exp());
            (p - y, (p * (1.0 - p)).max(1e-6))
        }
    }
}

fn base_score(loss: Loss, y: &[f64]) -> f64 {
    let mean = y.iter().sum::<f64>() / y.len().max(1) as f64;
    match loss {
        Loss::Logistic => {
            let p = mean.clamp(1e-6, 1.0 - 1e-6);
            (p / (1.0 - p)).ln()
        }
        Loss::Quantile { q } => grow::quantile_in_place(&mut y.to_vec(), q),
        _ => mean,
    }
}

impl Gbt {
    /// Trains on `rows` (all of the same width) and targets `y`.
    pub fn fit(rows: &[Vec<f64>], y: &[f64], params: &GbtParams) -> Gbt {
        Self::fit_matrix(&Matrix::from_rows(rows), y, params)
    }

    /// Trains on the rows of `x` and targets `y`. The same data and
    /// parameters give the same model, bit for bit, on any number of
    /// threads.
    pub fn fit_matrix(x: &Matrix, y: &[f64], params: &GbtParams) -> Gbt {
        assert_eq!(x.len(), y.len(), "one target per row");
        let binned = grow::Binned::new(x);
        let base = base_score(params.loss, y);
        let mut pred = vec![base; y.len()];
        let mut trees = Vec::with_capacity(params.trees);
        let mut gain = vec![0.0; x.width()];
        let (mut g, mut h) = (vec![0.0; y.len()], vec![0.0; y.len()]);
        let mut ws = grow::Workspace::default();
        for t in 0..params.trees {
            grow::sample_rows(y.len(), params.max_rows_per_tree, t as u64, &mut ws.rows);
            for &i in &ws.rows {
                let i = i as usize;
                (g[i], h[i]) = grad_hess(params.loss, pred[i], y[i]);
            }
            let ctx = grow::Ctx { bins: &binned, g: &g, h: &h, y, pred: &pred, params };
            let (tree, bins) = ws.tree(&ctx, &mut gain);
            let one = std::slice::from_ref(&tree);
            if let Some(heap) = Heap::new(one, |_, n| bins[n], u8::MAX) {
                grow::add_tree(&binned, &heap, &mut pred);
            } else {
                for (i, p) in pred.iter_mut().enumerate() {
                    *p += eval_tree(&tree, x.row(i));
                }
            }
            trees.push(tree);
        }
        GbtData { base, trees, loss: params.loss, gain }.into()
    }

    /// The raw score of one row (log-odds for the logistic loss). NaN when
    /// a tree cannot be walked on it: a row narrower than a feature tested,
    /// or a malformed tree (possible only for an ensemble deserialised on
    /// its own: [`crate::ModelFile::load`] refuses a file that holds one).
    pub fn predict(&self, row: &[f64]) -> f64 {
        let sum = match &self.flat {
            Some(heap) if row.len() >= heap.min_width => heap.sum_row(row),
            _ => self.trees.iter().fold(0.0, |s, t| s + eval_tree(t, row)),
        };
        self.base + sum
    }

    /// The raw scores of the rows of `x` into `out` (one per row), equal to
    /// [`Gbt::predict`]'s, computed a block of rows at a time.
    pub fn predict_into(&self, x: &Matrix, out: &mut [f64]) {
        assert_eq!(x.len(), out.len(), "one output per row");
        self.predict_rows(x.as_slice(), x.width(), out);
    }

    /// [`Gbt::predict_into`] on rows `width` wide, back to back.
    pub(crate) fn predict_rows(&self, rows: &[f64], width: usize, out: &mut [f64]) {
        let heap = match &self.flat {
            Some(heap) if width > 0 && width <= BLOCK_WIDTH && heap.min_width <= width => heap,
            _ => {
                for (i, o) in out.iter_mut().enumerate() {
                    *o = self.predict(&rows[i * width..(i + 1) * width]);
                }
                return;
            }
        };
        let mut block: Box<Block<f64>> = Box::new([[[0.0; LANES]; BLOCK_WIDTH]; BLOCK / LANES]);
        for (acc, rows) in out.chunks_mut(BLOCK).zip(rows.chunks(BLOCK * width)) {
            for (j, row) in rows.chunks_exact(width).enumerate() {
                for (f, v) in row.iter().enumerate() {
                    block[j / LANES][f][j % LANES] = *v;
                }
            }
            acc.fill(0.0);
            for t in 0..heap.trees() {
                heap.add_block(t, &block, acc);
            }
            for a in acc.iter_mut() {
                *a += self.base;
            }
        }
    }

    /// The probability of the positive class (logistic loss only; other
    /// losses return the raw score).
    pub fn predict_proba(&self, row: &[f64]) -> f64 {
        let s = self.predict(row);
        if self.loss == Loss::Logistic { 1.0 / (1.0 + (-s).exp()) } else { s }
    }

    /// Total split gain per feature (the loss reduction of every split on
    /// it, over all trees); empty for a model from a file written before
    /// gains were kept.
    pub fn gains(&self) -> &[f64] {
        &self.gain
    }

    /// Number of trees.
    pub fn len(&self) -> usize {
        self.trees.len()
    }

    /// True when the ensemble has no tree.
    pub fn is_empty(&self) -> bool {
        self.trees.is_empty()
    }

    /// The loss it was trained with.
    pub fn loss(&self) -> Loss {
        self.loss
    }
}

/// One tree's value for `row`, walked node by node: NaN when the walk
/// leaves the tree or the row, or takes more steps than the tree has nodes
/// (a cycle; a checked tree's children come after their parents).
fn eval_tree(tree: &[Node], row: &[f64]) -> f64 {
    let mut n = 0usize;
    for _ in 0..tree.len() {
        let Some(node) = tree.get(n) else { return f64::NAN };
        if node.is_leaf() {
            return node.value;
        }
        let Some(&v) = row.get(node.feature as usize) else { return f64::NAN };
        n = if v.is_nan() || v <= node.threshold { node.left as usize } else { node.left as usize + 1 };
    }
    f64::NAN
}

#[cfg(test)]
mod tests;
