//! A histogram gradient-boosted tree ensemble (the LightGBM/XGBoost-hist
//! recipe, small): features are cut into at most 255 quantile bins once,
//! each tree grows level by level from per-bin gradient sums, and missing
//! values (NaN) get their own bin that always goes left. Losses: squared,
//! asymmetric squared (an under-prediction costs `under_weight` times an
//! over-prediction of the same size), and logistic for classifiers.
//! Deterministic: no random draws.

use rayon::prelude::*;
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

/// A trained ensemble.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gbt {
    base: f64,
    trees: Vec<Vec<Node>>,
    loss: Loss,
}

const MAX_BINS: usize = 255;
/// Nodes with at least this many rows search their features in parallel.
const PARALLEL_ROWS: usize = 20_000;
const LEAF: Node = Node { feature: u32::MAX, threshold: 0.0, left: 0, value: 0.0 };

/// Column-major binned features: bin 0 is NaN, bin `b > 0` holds values
/// in `(edges[b-2], edges[b-1]]`.
struct Binned {
    bins: Vec<Vec<u8>>,
    edges: Vec<Vec<f64>>,
}

fn bin_features(rows: &[Vec<f64>], width: usize) -> Binned {
    let mut bins = Vec::with_capacity(width);
    let mut edges = Vec::with_capacity(width);
    for f in 0..width {
        let mut values: Vec<f64> = rows.iter().map(|r| r[f]).filter(|v| !v.is_nan()).collect();
        values.sort_by(f64::total_cmp);
        values.dedup();
        let e: Vec<f64> = if values.len() < MAX_BINS {
            values.iter().take(values.len().saturating_sub(1)).copied().collect()
        } else {
            let step = values.len() as f64 / (MAX_BINS - 1) as f64;
            let mut e: Vec<f64> = (1..MAX_BINS - 1).map(|i| values[(i as f64 * step) as usize]).collect();
            e.dedup();
            e
        };
        bins.push(rows.iter().map(|r| bin_of(&e, r[f])).collect());
        edges.push(e);
    }
    Binned { bins, edges }
}

fn bin_of(edges: &[f64], x: f64) -> u8 {
    if x.is_nan() { 0 } else { (1 + edges.partition_point(|e| *e < x)) as u8 }
}

/// Row indices for tree `seed`: all of them, or a deterministic sample of
/// about `max` of them.
fn sample_rows(n: usize, max: usize, seed: u64) -> Vec<u32> {
    if n <= max || max == 0 {
        return (0..n as u32).collect();
    }
    let threshold = (max as f64 / n as f64 * u32::MAX as f64) as u64;
    (0..n as u32)
        .filter(|&i| {
            let mut z = (u64::from(i) << 20 ^ seed).wrapping_add(0x9e37_79b9_7f4a_7c15);
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z ^ (z >> 31)) & 0xffff_ffff <= threshold
        })
        .collect()
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

/// The `q`-quantile of `values` (NaN when empty).
fn quantile(mut values: Vec<f64>, q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    values[((values.len() - 1) as f64 * q).round() as usize]
}

fn base_score(loss: Loss, y: &[f64]) -> f64 {
    let mean = y.iter().sum::<f64>() / y.len().max(1) as f64;
    match loss {
        Loss::Logistic => {
            let p = mean.clamp(1e-6, 1.0 - 1e-6);
            (p / (1.0 - p)).ln()
        }
        Loss::Quantile { q } => quantile(y.to_vec(), q),
        _ => mean,
    }
}

impl Gbt {
    /// Trains on `rows` (all of the same width) and targets `y`.
    pub fn fit(rows: &[Vec<f64>], y: &[f64], params: &GbtParams) -> Gbt {
        let width = rows.first().map_or(0, Vec::len);
        let binned = bin_features(rows, width);
        let base = base_score(params.loss, y);
        let mut pred = vec![base; y.len()];
        let mut trees = Vec::with_capacity(params.trees);
        let mut g = vec![0.0; y.len()];
        let mut h = vec![0.0; y.len()];
        for _ in 0..params.trees {
            for i in 0..y.len() {
                (g[i], h[i]) = grad_hess(params.loss, pred[i], y[i]);
            }
            let residual: Vec<f64> = match params.loss {
                Loss::Quantile { .. } => y.iter().zip(&pred).map(|(y, p)| y - p).collect(),
                _ => Vec::new(),
            };
            let mut builder = TreeBuilder { binned: &binned, g: &g, h: &h, residual: &residual, params, nodes: vec![LEAF] };
            builder.grow(0, sample_rows(y.len(), params.max_rows_per_tree, trees.len() as u64), 0);
            let tree = builder.nodes;
            for (i, p) in pred.iter_mut().enumerate() {
                *p += eval_tree(&tree, |f| rows[i][f]);
            }
            trees.push(tree);
        }
        Gbt { base, trees, loss: params.loss }
    }

    /// The raw score of one row (log-odds for the logistic loss).
    pub fn predict(&self, row: &[f64]) -> f64 {
        self.base + self.trees.iter().map(|t| eval_tree(t, |f| row[f])).sum::<f64>()
    }

    /// The probability of the positive class (logistic loss only; other
    /// losses return the raw score).
    pub fn predict_proba(&self, row: &[f64]) -> f64 {
        let s = self.predict(row);
        if self.loss == Loss::Logistic { 1.0 / (1.0 + (-s).exp()) } else { s }
    }

    /// Number of trees.
    pub fn len(&self) -> usize {
        self.trees.len()
    }

    /// True when the ensemble has no tree.
    pub fn is_empty(&self) -> bool {
        self.trees.is_empty()
    }
}

fn eval_tree(tree: &[Node], x: impl Fn(usize) -> f64) -> f64 {
    let mut n = 0usize;
    loop {
        let node = &tree[n];
        if node.feature == u32::MAX {
            return node.value;
        }
        let v = x(node.feature as usize);
        n = if v.is_nan() || v <= node.threshold { node.left as usize } else { node.left as usize + 1 };
    }
}

struct TreeBuilder<'a> {
    binned: &'a Binned,
    g: &'a [f64],
    h: &'a [f64],
    /// Targets minus predictions, for the quantile loss's leaf values.
    residual: &'a [f64],
    params: &'a GbtParams,
    nodes: Vec<Node>,
}

struct Split {
    feature: usize,
    bin: usize,
    gain: f64,
}

impl TreeBuilder<'_> {
    /// Grows the subtree of `rows` at `depth` into the node at `at`.
    fn grow(&mut self, at: usize, rows: Vec<u32>, depth: usize) {
        let (gs, hs) = rows.iter().fold((0.0, 0.0), |(a, b), &i| (a + self.g[i as usize], b + self.h[i as usize]));
        let split = if depth >= self.params.depth || rows.len() < 2 * self.params.min_leaf {
            None
        } else {
            self.best_split(&rows, gs, hs)
        };
        let Some(split) = split else {
            // A leaf: only leaves need a value (the quantile loss sorts).
            let value = match self.params.loss {
                Loss::Quantile { q } => quantile(rows.iter().map(|&i| self.residual[i as usize]).collect(), q),
                _ => -gs / (hs + self.params.l2),
            } * self.params.learning_rate;
            self.nodes[at] = Node { feature: u32::MAX, threshold: 0.0, left: 0, value };
            return;
        };
        let column = &self.binned.bins[split.feature];
        let (left, right): (Vec<u32>, Vec<u32>) = rows.iter().partition(|&&i| usize::from(column[i as usize]) <= split.bin);
        drop(rows);
        let edges = &self.binned.edges[split.feature];
        // The lowest finite number, not -inf, so that JSON keeps it.
        let threshold = if split.bin == 0 { f64::MIN } else { edges[split.bin - 1] };
        // Children are pushed as a pair so that the right one is `left + 1`.
        let left_at = self.nodes.len();
        self.nodes[at] = Node { feature: split.feature as u32, threshold, left: left_at as u32, value: 0.0 };
        self.nodes.extend([LEAF, LEAF]);
        self.grow(left_at, left, depth + 1);
        self.grow(left_at + 1, right, depth + 1);
    }

    /// The best split of `rows` over all features (in parallel when the
    /// node is large); ties go to the lower feature.
    fn best_split(&self, rows: &[u32], gs: f64, hs: f64) -> Option<Split> {
        let features = 0..self.binned.bins.len();
        let better = |a: Option<Split>, b: Option<Split>| match (a, b) {
            (Some(a), Some(b)) => Some(if b.gain > a.gain { b } else { a }),
            (a, b) => a.or(b),
        };
        if rows.len() >= PARALLEL_ROWS {
            let per: Vec<Option<Split>> = features.into_par_iter().map(|f| self.best_split_on(f, rows, gs, hs)).collect();
            per.into_iter().fold(None, better)
        } else {
            features.map(|f| self.best_split_on(f, rows, gs, hs)).fold(None, better)
        }
    }

    fn best_split_on(&self, f: usize, rows: &[u32], gs: f64, hs: f64) -> Option<Split> {
        let l2 = self.params.l2;
        let parent = gs * gs / (hs + l2);
        let min_leaf = self.params.min_leaf as f64;
        let mut best: Option<Split> = None;
        let mut hist = [(0.0f64, 0.0f64, 0.0f64); MAX_BINS + 1];
        let column = &self.binned.bins[f];
        {
            let nbins = self.binned.edges[f].len() + 2;
            for &i in rows {
                let e = &mut hist[usize::from(column[i as usize])];
                e.0 += self.g[i as usize];
                e.1 += self.h[i as usize];
                e.2 += 1.0;
            }
            let (mut gl, mut hl, mut nl) = (0.0, 0.0, 0.0);
            for (b, e) in hist[..nbins - 1].iter().enumerate() {
                gl += e.0;
                hl += e.1;
                nl += e.2;
                let nr = rows.len() as f64 - nl;
                if nl < min_leaf || nr < min_leaf {
                    continue;
                }
                let (gr, hr) = (gs - gl, hs - hl);
                let gain = gl * gl / (hl + l2) + gr * gr / (hr + l2) - parent;
                if gain > 1e-9 && best.as_ref().is_none_or(|s| gain > s.gain) {
                    best = Some(Split { feature: f, bin: b, gain });
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boosting_learns_a_step_with_missing_values_and_classes() {
        let rows: Vec<Vec<f64>> =
            (0..400).map(|i| vec![if i % 10 == 0 { f64::NAN } else { f64::from(i % 100) }, f64::from(i % 7)]).collect();
        let y: Vec<f64> = rows.iter().map(|r| if r[0].is_nan() { -5.0 } else if r[0] < 50.0 { 1.0 } else { 3.0 }).collect();
        let m = Gbt::fit(&rows, &y, &GbtParams { min_leaf: 5, ..GbtParams::default() });
        assert!((m.predict(&[10.0, 0.0]) - 1.0).abs() < 0.05);
        assert!((m.predict(&[90.0, 0.0]) - 3.0).abs() < 0.05);
        assert!((m.predict(&[f64::NAN, 0.0]) + 5.0).abs() < 0.1);
        let asym = Gbt::fit(&rows, &y, &GbtParams { loss: Loss::Asymmetric { under_weight: 4.0 }, ..GbtParams::default() });
        assert!(asym.predict(&[10.0, 0.0]) >= m.predict(&[10.0, 0.0]) - 1e-9);
        let median = Gbt::fit(&rows, &y, &GbtParams { loss: Loss::Quantile { q: 0.5 }, ..GbtParams::default() });
        assert!((median.predict(&[90.0, 0.0]) - 3.0).abs() < 0.05);
        let classes: Vec<f64> = y.iter().map(|v| f64::from(*v > 2.0)).collect();
        let c = Gbt::fit(&rows, &classes, &GbtParams { loss: Loss::Logistic, ..GbtParams::default() });
        assert!(c.predict_proba(&[90.0, 0.0]) > 0.9 && c.predict_proba(&[10.0, 0.0]) < 0.1);
    }
}
