//! Training internals of the boosted trees: quantile binning into `u8`
//! columns, per-tree row samples, histograms built for the smaller child
//! only (the larger one is the parent's minus it), in-place stable row
//! partitioning, and buffers reused from tree to tree.
//!
//! Deterministic whatever the thread count: threads split the work by
//! feature (binning, histograms) or by row (prediction updates), and every
//! sum runs in row order within its feature.

use super::{GbtParams, Loss, Node};
use crate::matrix::Matrix;
use rayon::prelude::*;

/// Most bins of a feature (bin 0 is NaN).
pub(super) const MAX_BINS: usize = 255;
/// The stride of one feature's histogram.
const STRIDE: usize = 256;
/// Histograms of at least this many row-features are built in parallel.
const PARALLEL_WORK: usize = 1 << 18;
/// Nodes with at least this many rows derive the larger child's histogram
/// by subtraction; smaller ones sum both children's rows, which keeps
/// small models identical to summing every node's rows.
const SUBTRACT_ROWS: usize = 4096;
/// Rows per parallel chunk when predictions are updated.
const UPDATE_CHUNK: usize = 1 << 14;

/// Features cut into quantile bins: bin 0 is NaN, bin `b > 0` holds values
/// in `(edges[b-2], edges[b-1]]`.
pub(super) struct Binned {
    n: usize,
    width: usize,
    /// Column-major: feature `f` of row `i` at `cols[f * n + i]`.
    cols: Vec<u8>,
    /// Row-major: feature `f` of row `i` at `rows[i * width + f]`.
    rows: Vec<u8>,
    edges: Vec<Vec<f64>>,
}

/// The bin edges of one column: every distinct value but the last when
/// there are fewer than [`MAX_BINS`], else quantiles of the distinct values.
fn edges_of(column: &[f64]) -> Vec<f64> {
    let mut values: Vec<f64> = column.iter().copied().filter(|v| !v.is_nan()).collect();
    values.sort_unstable_by(f64::total_cmp);
    values.dedup();
    if values.len() < MAX_BINS {
        values.truncate(values.len().saturating_sub(1));
        values
    } else {
        let step = values.len() as f64 / (MAX_BINS - 1) as f64;
        let mut e: Vec<f64> = (1..MAX_BINS - 1).map(|i| values[(i as f64 * step) as usize]).collect();
        e.dedup();
        e
    }
}

fn bin_of(edges: &[f64], x: f64) -> u8 {
    if x.is_nan() { 0 } else { (1 + edges.partition_point(|e| *e < x)) as u8 }
}

impl Binned {
    /// Bins every column of `x` (columns in parallel).
    pub(super) fn new(x: &Matrix) -> Binned {
        let (n, width) = (x.len(), x.width());
        let mut values = vec![0.0; n * width];
        for (i, row) in x.rows().enumerate() {
            for (f, v) in row.iter().enumerate() {
                values[f * n + i] = *v;
            }
        }
        let per: Vec<(Vec<f64>, Vec<u8>)> = (0..width)
            .into_par_iter()
            .map(|f| {
                let column = &values[f * n..(f + 1) * n];
                let e = edges_of(column);
                let bins = column.iter().map(|v| bin_of(&e, *v)).collect();
                (e, bins)
            })
            .collect();
        drop(values);
        let mut cols = Vec::with_capacity(n * width);
        let mut edges = Vec::with_capacity(width);
        for (e, b) in per {
            cols.extend_from_slice(&b);
            edges.push(e);
        }
        let mut rows = vec![0u8; n * width];
        for f in 0..width {
            for (i, b) in cols[f * n..(f + 1) * n].iter().enumerate() {
                rows[i * width + f] = *b;
            }
        }
        Binned { n, width, cols, rows, edges }
    }

    /// The threshold of a split of feature `f` after bin `bin`: values at
    /// most it (and NaN) go left.
    pub(super) fn threshold(&self, f: usize, bin: usize) -> f64 {
        // The lowest finite number, not -inf, so that JSON keeps it.
        if bin == 0 { f64::MIN } else { self.edges[f][bin - 1] }
    }

    fn column(&self, f: usize) -> &[u8] {
        &self.cols[f * self.n..(f + 1) * self.n]
    }
}

/// Row indices for tree `seed`: all of them, or a deterministic sample of
/// about `max` of them, written into `out`.
pub(super) fn sample_rows(n: usize, max: usize, seed: u64, out: &mut Vec<u32>) {
    out.clear();
    if n <= max || max == 0 {
        out.extend(0..n as u32);
        return;
    }
    let threshold = (max as f64 / n as f64 * u32::MAX as f64) as u64;
    out.extend((0..n as u32).filter(|&i| {
        let mut z = (u64::from(i) << 20 ^ seed).wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) & 0xffff_ffff <= threshold
    }));
}

/// One histogram bin: sums of gradients, hessians and rows.
#[derive(Debug, Clone, Copy, Default)]
struct Bin {
    g: f64,
    h: f64,
    n: f64,
}

/// What a tree is grown from (shared, read-only).
pub(super) struct Ctx<'a> {
    pub(super) bins: &'a Binned,
    /// Gradients and hessians (only the sampled rows' are read).
    pub(super) g: &'a [f64],
    pub(super) h: &'a [f64],
    /// Targets and current predictions, for the quantile loss's leaves.
    pub(super) y: &'a [f64],
    pub(super) pred: &'a [f64],
    pub(super) params: &'a GbtParams,
}

/// Buffers reused from node to node and tree to tree.
#[derive(Default)]
pub(super) struct Workspace {
    /// The tree's rows; each node owns a range, partitioned in place.
    pub(super) rows: Vec<u32>,
    scratch: Vec<u32>,
    og: Vec<f64>,
    oh: Vec<f64>,
    values: Vec<f64>,
    pool: Vec<Vec<Bin>>,
    /// The tree being grown, and each split's bin.
    nodes: Vec<Node>,
    split_bins: Vec<u8>,
}

struct Split {
    feature: usize,
    bin: usize,
    gain: f64,
}

const LEAF: Node = Node { feature: u32::MAX, threshold: 0.0, left: 0, value: 0.0 };

impl Workspace {
    /// Grows one tree on `self.rows`; adds each split's gain to `gain`
    /// (per feature). Returns its nodes and each node's split bin.
    pub(super) fn tree(&mut self, ctx: &Ctx<'_>, gain: &mut [f64]) -> (Vec<Node>, Vec<u8>) {
        self.nodes.clear();
        self.nodes.push(LEAF);
        self.split_bins.clear();
        self.split_bins.push(0);
        let m = self.rows.len();
        let hist = self.needs_hist(ctx, 0, m).then(|| {
            let mut hist = self.take();
            self.build(ctx, 0, m, &mut hist);
            hist
        });
        self.grow(ctx, gain, 0, (0, m), 0, hist);
        (self.nodes.clone(), self.split_bins.clone())
    }

    fn needs_hist(&self, ctx: &Ctx<'_>, depth: usize, m: usize) -> bool {
        depth < ctx.params.depth && m >= 2 * ctx.params.min_leaf
    }

    fn take(&mut self) -> Vec<Bin> {
        self.pool.pop().unwrap_or_default()
    }

    /// The histogram of `rows[a..b]` into `hist`.
    fn build(&mut self, ctx: &Ctx<'_>, a: usize, b: usize, hist: &mut Vec<Bin>) {
        let idx = &self.rows[a..b];
        self.og.clear();
        self.og.extend(idx.iter().map(|&i| ctx.g[i as usize]));
        let unit = matches!(ctx.params.loss, Loss::Squared | Loss::Quantile { .. });
        self.oh.clear();
        if !unit {
            self.oh.extend(idx.iter().map(|&i| ctx.h[i as usize]));
        }
        let (og, oh) = (&self.og[..], if unit { &self.og[..] } else { &self.oh[..] });
        hist.resize(ctx.bins.width * STRIDE, Bin::default());
        let one = |(f, hf): (usize, &mut [Bin])| {
            let hf: &mut [Bin; STRIDE] = hf.try_into().expect("a histogram stride");
            let (column, nbins) = (ctx.bins.column(f), ctx.bins.edges[f].len() + 2);
            if unit { feature_hist::<true>(column, idx, og, oh, nbins, hf) } else { feature_hist::<false>(column, idx, og, oh, nbins, hf) }
        };
        if idx.len() * ctx.bins.width >= PARALLEL_WORK {
            hist.par_chunks_exact_mut(STRIDE).enumerate().for_each(one);
        } else {
            hist.chunks_exact_mut(STRIDE).enumerate().for_each(one);
        }
    }

    /// Grows the node at `at` over `rows[a..b]`; `hist` is its histogram
    /// when it may split.
    fn grow(&mut self, ctx: &Ctx<'_>, gain: &mut [f64], at: usize, (a, b): (usize, usize), depth: usize, hist: Option<Vec<Bin>>) {
        let p = ctx.params;
        let (gs, hs) = self.rows[a..b].iter().fold((0.0, 0.0), |(s, t), &i| (s + ctx.g[i as usize], t + ctx.h[i as usize]));
        let split = match &hist {
            Some(hist) if self.needs_hist(ctx, depth, b - a) => best_split(ctx, hist, gs, hs, b - a),
            _ => None,
        };
        let Some(split) = split else {
            if let Some(hist) = hist {
                self.pool.push(hist);
            }
            // A leaf: only leaves need a value (the quantile loss selects).
            let value = match p.loss {
                Loss::Quantile { q } => {
                    self.values.clear();
                    self.values.extend(self.rows[a..b].iter().map(|&i| ctx.y[i as usize] - ctx.pred[i as usize]));
                    quantile_in_place(&mut self.values, q)
                }
                _ => -gs / (hs + p.l2),
            } * p.learning_rate;
            self.nodes[at] = Node { value, ..LEAF };
            return;
        };
        gain[split.feature] += split.gain;
        let mid = self.partition(ctx, (a, b), &split);
        // Children are pushed as a pair so that the right one is `left + 1`.
        let left_at = self.nodes.len();
        self.nodes[at] =
            Node { feature: split.feature as u32, threshold: ctx.bins.threshold(split.feature, split.bin), left: left_at as u32, value: 0.0 };
        self.split_bins[at] = split.bin as u8;
        self.nodes.extend([LEAF, LEAF]);
        self.split_bins.extend([0, 0]);
        let parent = hist.expect("a node that splits has a histogram");
        let (hl, hr) = self.child_hists(ctx, depth + 1, (a, mid, b), parent);
        self.grow(ctx, gain, left_at, (a, mid), depth + 1, hl);
        self.grow(ctx, gain, left_at + 1, (mid, b), depth + 1, hr);
    }

    /// The children's histograms, where they may split: the smaller
    /// child's built from its rows, the larger's as the parent's minus it.
    fn child_hists(&mut self, ctx: &Ctx<'_>, depth: usize, (a, mid, b): (usize, usize, usize), mut parent: Vec<Bin>) -> (Option<Vec<Bin>>, Option<Vec<Bin>>) {
        let (need_l, need_r) = (self.needs_hist(ctx, depth, mid - a), self.needs_hist(ctx, depth, b - mid));
        if !need_l && !need_r {
            self.pool.push(parent);
            return (None, None);
        }
        let left_small = mid - a <= b - mid;
        let ((sa, sb), need_small, need_large) = if left_small { ((a, mid), need_l, need_r) } else { ((mid, b), need_r, need_l) };
        let (small, large) = if need_large && b - a < SUBTRACT_ROWS {
            // A small node: both children summed from their rows (exact
            // sums, and cheap at this size).
            let (la, lb) = if left_small { (mid, b) } else { (a, mid) };
            let small = need_small.then(|| {
                let mut small = self.take();
                self.build(ctx, sa, sb, &mut small);
                small
            });
            self.build(ctx, la, lb, &mut parent);
            (small, Some(parent))
        } else if need_large {
            let mut small = self.take();
            self.build(ctx, sa, sb, &mut small);
            for (p, s) in parent.iter_mut().zip(&small) {
                p.g -= s.g;
                p.h -= s.h;
                p.n -= s.n;
            }
            let small = if need_small {
                Some(small)
            } else {
                self.pool.push(small);
                None
            };
            (small, Some(parent))
        } else {
            self.build(ctx, sa, sb, &mut parent);
            (Some(parent), None)
        };
        if left_small { (small, large) } else { (large, small) }
    }

    /// Stable in-place partition of `rows[a..b]`: rows going left first.
    /// Returns where the right ones start.
    fn partition(&mut self, ctx: &Ctx<'_>, (a, b): (usize, usize), split: &Split) -> usize {
        let column = ctx.bins.column(split.feature);
        let seg = &mut self.rows[a..b];
        self.scratch.clear();
        let mut w = 0;
        for k in 0..seg.len() {
            let i = seg[k];
            if usize::from(column[i as usize]) <= split.bin {
                seg[w] = i;
                w += 1;
            } else {
                self.scratch.push(i);
            }
        }
        seg[w..].copy_from_slice(&self.scratch);
        a + w
    }
}

/// Sub-histograms a large node's rows are spread over, so that rows in
/// the same bin one after another do not wait on each other's sums.
const WAYS: usize = 4;
/// Nodes with at least this many rows use [`WAYS`] sub-histograms.
const SPREAD_ROWS: usize = 2048;

/// One feature's histogram of the rows `idx` (gradients `og`, hessians
/// `oh` in the same order) into `out` (its first `nbins` bins; the others
/// stay zero). With `UNIT` (a hessian of 1 for every row) the hessian sum
/// is the row count and is not added up. In a large node row `k` goes to
/// sub-histogram `k % WAYS`, and they are summed in order.
fn feature_hist<const UNIT: bool>(column: &[u8], idx: &[u32], og: &[f64], oh: &[f64], nbins: usize, out: &mut [Bin; STRIDE]) {
    let add = |e: &mut Bin, g: f64, h: f64| {
        e.g += g;
        if !UNIT {
            e.h += h;
        }
        e.n += 1.0;
    };
    let out = &mut out[..nbins];
    out.fill(Bin::default());
    if idx.len() < SPREAD_ROWS {
        for ((&i, &g), &h) in idx.iter().zip(og).zip(oh) {
            add(&mut out[usize::from(column[i as usize])], g, h);
        }
    } else {
        let mut sub = vec![[Bin::default(); WAYS]; STRIDE];
        let mut quads = idx.chunks_exact(WAYS).zip(og.chunks_exact(WAYS).zip(oh.chunks_exact(WAYS)));
        for (i, (g, h)) in quads.by_ref() {
            for w in 0..WAYS {
                add(&mut sub[usize::from(column[i[w] as usize])][w], g[w], h[w]);
            }
        }
        let done = idx.len() / WAYS * WAYS;
        for k in done..idx.len() {
            add(&mut sub[usize::from(column[idx[k] as usize])][k - done], og[k], oh[k]);
        }
        for (o, s) in out.iter_mut().zip(&sub) {
            for e in s {
                o.g += e.g;
                o.h += e.h;
                o.n += e.n;
            }
        }
    }
    if UNIT {
        for o in out.iter_mut() {
            o.h = o.n;
        }
    }
}

/// The best split over all features; ties go to the lower feature, then
/// the lower bin.
fn best_split(ctx: &Ctx<'_>, hist: &[Bin], gs: f64, hs: f64, m: usize) -> Option<Split> {
    let l2 = ctx.params.l2;
    let parent = gs * gs / (hs + l2);
    let min_leaf = ctx.params.min_leaf as f64;
    let mut best: Option<Split> = None;
    for (f, e) in ctx.bins.edges.iter().enumerate() {
        let nbins = e.len() + 2;
        let (mut gl, mut hl, mut nl) = (0.0, 0.0, 0.0);
        for (bin, e) in hist[f * STRIDE..f * STRIDE + nbins - 1].iter().enumerate() {
            gl += e.g;
            hl += e.h;
            nl += e.n;
            let nr = m as f64 - nl;
            if nl < min_leaf || nr < min_leaf {
                continue;
            }
            let (gr, hr) = (gs - gl, hs - hl);
            let gain = gl * gl / (hl + l2) + gr * gr / (hr + l2) - parent;
            if gain > 1e-9 && best.as_ref().is_none_or(|s| gain > s.gain) {
                best = Some(Split { feature: f, bin, gain });
            }
        }
    }
    best
}

/// The `q`-quantile of `values` (NaN when empty), reordering them.
pub(super) fn quantile_in_place(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let k = ((values.len() - 1) as f64 * q).round() as usize;
    *values.select_nth_unstable_by(k, f64::total_cmp).1
}

/// Adds the tree to every row's prediction, reading the binned rows (a
/// value at most a split's threshold is exactly one in a bin at most the
/// split's bin). Rows in parallel chunks.
pub(super) fn add_tree(bins: &Binned, tree: &super::Heap<u8>, pred: &mut [f64]) {
    let w = bins.width;
    pred.par_chunks_mut(UPDATE_CHUNK).enumerate().for_each(|(c, chunk)| {
        let start = c * UPDATE_CHUNK;
        for (k, p) in chunk.iter_mut().enumerate() {
            let i = start + k;
            *p += tree.eval(0, &bins.rows[i * w..(i + 1) * w]);
        }
    });
}
