//! Runtime models over feature rows: a boosted tree ensemble on log
//! runtime (optionally penalising under-prediction), a ridge regression
//! baseline (smartcore), and the EASY++ user-history and requested-time
//! baselines read from the same rows. Every model predicts seconds, capped
//! by the requested time when there is one.

use crate::ModelError;
use crate::features::Schema;
use crate::gbt::{Gbt, GbtParams, Loss};
use crate::history::{HISTORY_NAMES, log_runtime};
use crate::invalid::{InvalidModel, Problem};
use crate::linear::Linear;
use crate::matrix::Matrix;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The runtime models foresight trains, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// Boosted trees on log runtime, squared loss (`gbt`).
    Gbt,
    /// Boosted trees on log runtime where an under-prediction costs four
    /// times an over-prediction (`gbt-under`).
    GbtUnder,
    /// Boosted trees on log runtime, pinball loss at the median: the
    /// conditional median (`gbt-median`).
    GbtMedian,
    /// Ridge regression on log runtime (`linear`).
    Linear,
    /// The mean of the user's last two runtimes (`easy++`).
    UserHistory,
    /// The requested time (`requested`).
    Requested,
    /// Ridge regression with a shrunk correction per job name
    /// (`linear-by-name`).
    LinearByName,
    /// `linear-by-name`, then boosted trees on its residuals (`linear+gbt`).
    Hybrid,
    /// Whichever of `gbt`, `gbt-median`, `linear`, `linear-by-name` and
    /// `linear+gbt` has the lowest mean
    /// absolute log error on the last fifth of the training window, by
    /// time, refitted on all of it (`auto`).
    Auto,
}

impl ModelKind {
    /// Every kind, in a fixed order.
    pub const ALL: [ModelKind; 9] = [
        ModelKind::Gbt,
        ModelKind::GbtUnder,
        ModelKind::GbtMedian,
        ModelKind::Linear,
        ModelKind::UserHistory,
        ModelKind::Requested,
        ModelKind::LinearByName,
        ModelKind::Hybrid,
        ModelKind::Auto,
    ];

    /// The canonical name.
    pub fn as_str(&self) -> &'static str {
        match self {
            ModelKind::Gbt => "gbt",
            ModelKind::GbtUnder => "gbt-under",
            ModelKind::GbtMedian => "gbt-median",
            ModelKind::Linear => "linear",
            ModelKind::UserHistory => "easy++",
            ModelKind::Requested => "requested",
            ModelKind::LinearByName => "linear-by-name",
            ModelKind::Hybrid => "linear+gbt",
            ModelKind::Auto => "auto",
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ModelKind {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ModelKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| ModelError::UnknownModel(s.to_string()))
    }
}

/// The under-prediction weight of `gbt-under`, fixed a priori: backfilling
/// pays for an under-prediction with a moved reservation, for an
/// over-prediction only with a missed backfill.
pub const UNDER_WEIGHT: f64 = 4.0;

/// A trained runtime model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum RuntimeModel {
    /// Boosted trees on log runtime.
    Gbt {
        /// The ensemble.
        model: Gbt,
    },
    /// Ridge regression on log runtime.
    Linear {
        /// The regression.
        model: Linear,
    },
    /// Ridge regression plus trees on its residuals.
    Hybrid {
        /// The regression.
        linear: Linear,
        /// The trees.
        trees: Gbt,
    },
    /// EASY++'s user history.
    UserHistory,
    /// The requested time.
    Requested,
}

/// The requested time of a row, seconds (infinite when none).
pub fn requested_s(row: &[f64]) -> f64 {
    let r = row[0];
    if r.is_finite() && r > 0.0 { r.exp_m1() } else { f64::INFINITY }
}

/// Rows per parallel chunk of [`RuntimeModel::predict_matrix`].
const PREDICT_CHUNK: usize = 4096;

impl RuntimeModel {
    /// Trains a model of `kind` on rows of `schema` (in submission order)
    /// and their runtimes.
    pub fn train(kind: ModelKind, schema: &Schema, rows: &[Vec<f64>], runtimes_s: &[f64]) -> Result<Self, ModelError> {
        if rows.len() != runtimes_s.len() {
            return Err(ModelError::Fit(format!("{} rows for {} runtimes", rows.len(), runtimes_s.len())));
        }
        Self::train_matrix(kind, schema, &Matrix::from_rows(rows), runtimes_s)
    }

    /// The kind `auto` trains on these rows: the one with the least
    /// absolute log error on their last fifth when trained on the rest.
    pub fn auto_choice(schema: &Schema, x: &Matrix, runtimes_s: &[f64]) -> ModelKind {
        let floor = schema.runtime_floor_s;
        let y: Vec<f64> = runtimes_s.iter().map(|r| log_runtime(*r, floor)).collect();
        let cut = x.len() * 4 / 5;
        let (head, tail) = (x.head(cut), x.tail(cut));
        let mut best = (f64::INFINITY, ModelKind::Gbt);
        for k in [ModelKind::Gbt, ModelKind::GbtMedian, ModelKind::Linear, ModelKind::LinearByName, ModelKind::Hybrid] {
            let Ok(m) = RuntimeModel::train_matrix(k, schema, &head, &runtimes_s[..cut]) else {
                continue;
            };
            let p = m.predict_matrix(schema, &tail);
            let err = p.iter().zip(&y[cut..]).map(|(p, y)| (log_runtime(*p, floor) - y).abs()).sum::<f64>();
            if err < best.0 {
                best = (err, k);
            }
        }
        best.1
    }

    /// [`RuntimeModel::train`] on the rows of a matrix.
    pub fn train_matrix(kind: ModelKind, schema: &Schema, x: &Matrix, runtimes_s: &[f64]) -> Result<Self, ModelError> {
        if x.len() != runtimes_s.len() {
            return Err(ModelError::Fit(format!("{} rows for {} runtimes", x.len(), runtimes_s.len())));
        }
        if x.is_empty() && !matches!(kind, ModelKind::UserHistory | ModelKind::Requested) {
            return Err(ModelError::NoTrainingData);
        }
        let floor = schema.runtime_floor_s;
        let y: Vec<f64> = runtimes_s.iter().map(|r| log_runtime(*r, floor)).collect();
        let trees = GbtParams::for_rows(x.len());
        let categorical = schema.categorical_columns();
        let by_name = Some(Schema::NAME_COLUMN);
        Ok(match kind {
            ModelKind::Gbt => RuntimeModel::Gbt { model: Gbt::fit_matrix(x, &y, &trees) },
            ModelKind::GbtUnder => {
                let params = GbtParams { loss: Loss::Asymmetric { under_weight: UNDER_WEIGHT }, ..trees };
                RuntimeModel::Gbt { model: Gbt::fit_matrix(x, &y, &params) }
            }
            ModelKind::GbtMedian => {
                let params = GbtParams { loss: Loss::Quantile { q: 0.5 }, ..trees };
                RuntimeModel::Gbt { model: Gbt::fit_matrix(x, &y, &params) }
            }
            ModelKind::Linear => RuntimeModel::Linear { model: Linear::fit_matrix(x, &y, &categorical, None)? },
            ModelKind::LinearByName => {
                RuntimeModel::Linear { model: Linear::fit_matrix(x, &y, &categorical, by_name)? }
            }
            ModelKind::Hybrid => {
                let linear = Linear::fit_matrix(x, &y, &categorical, by_name)?;
                let residual: Vec<f64> = x.rows().zip(&y).map(|(r, y)| y - linear.predict(r)).collect();
                RuntimeModel::Hybrid { trees: Gbt::fit_matrix(x, &residual, &trees), linear }
            }
            ModelKind::Auto => {
                RuntimeModel::train_matrix(Self::auto_choice(schema, x, runtimes_s), schema, x, runtimes_s)?
            }
            ModelKind::UserHistory => RuntimeModel::UserHistory,
            ModelKind::Requested => RuntimeModel::Requested,
        })
    }

    /// Checks a model read from a file against rows `width` wide (its
    /// trees' shapes, features and numbers, its regressions' columns,
    /// lengths and numbers), and that a file of `kind` may hold it.
    pub(crate) fn check(&self, kind: ModelKind, width: usize) -> Result<(), InvalidModel> {
        let fits = match self {
            RuntimeModel::Gbt { .. } => matches!(kind, ModelKind::Gbt | ModelKind::GbtUnder | ModelKind::GbtMedian),
            RuntimeModel::Linear { .. } => {
                matches!(kind, ModelKind::Linear | ModelKind::LinearByName)
            }
            RuntimeModel::Hybrid { .. } => kind == ModelKind::Hybrid,
            RuntimeModel::UserHistory => kind == ModelKind::UserHistory,
            RuntimeModel::Requested => kind == ModelKind::Requested,
        };
        if !fits && kind != ModelKind::Auto {
            let variant = match self {
                RuntimeModel::Gbt { .. } => "gbt",
                RuntimeModel::Linear { .. } => "linear",
                RuntimeModel::Hybrid { .. } => "hybrid",
                RuntimeModel::UserHistory => "user-history",
                RuntimeModel::Requested => "requested",
            };
            let problem = Problem::Mismatch {
                found: format!("a runtime model of kind `{variant}`"),
                expected: format!("one of kind `{kind}`"),
            };
            return Err(InvalidModel::new("runtime", problem));
        }
        match self {
            RuntimeModel::Gbt { model } => model.check(width).map_err(|p| InvalidModel::new("runtime.model", p)),
            RuntimeModel::Linear { model } => model.check("runtime.model", width),
            RuntimeModel::Hybrid { linear, trees } => {
                linear.check("runtime.linear", width)?;
                trees.check(width).map_err(|p| InvalidModel::new("runtime.trees", p))
            }
            RuntimeModel::UserHistory | RuntimeModel::Requested => Ok(()),
        }
    }

    /// The predicted runtime of a row of `schema`, seconds, at most the
    /// requested time.
    pub fn predict(&self, schema: &Schema, row: &[f64]) -> f64 {
        let raw = match self {
            RuntimeModel::Gbt { model } => model.predict(row),
            RuntimeModel::Linear { model } => model.predict(row),
            RuntimeModel::Hybrid { linear, trees } => linear.predict(row) + trees.predict(row),
            _ => f64::NAN,
        };
        self.finish(schema, row, raw)
    }

    /// Seconds from a model's raw log-scale output, capped by the request
    /// (the baselines read the row instead).
    fn finish(&self, schema: &Schema, row: &[f64], raw: f64) -> f64 {
        let limit = requested_s(row);
        let seconds = match self {
            RuntimeModel::Gbt { .. } => raw.exp(),
            RuntimeModel::Linear { .. } | RuntimeModel::Hybrid { .. } => raw.clamp(-10.0, 25.0).exp(),
            RuntimeModel::UserHistory => {
                let h = schema.history_offset();
                let count = row[h + 6];
                if count >= 2f64.ln_1p() { row[h + 1].exp() } else { limit }
            }
            RuntimeModel::Requested => limit,
        };
        seconds.min(limit)
    }

    /// The predicted runtimes of the rows of `x` into `out` (one per row),
    /// on this thread: equal to [`RuntimeModel::predict`]'s, with the trees
    /// walked a block of rows at a time.
    pub fn predict_into(&self, schema: &Schema, x: &Matrix, out: &mut [f64]) {
        assert_eq!(x.len(), out.len(), "one output per row");
        self.predict_rows(schema, x.as_slice(), x.width(), out);
    }

    /// [`RuntimeModel::predict_into`] on rows `width` wide, back to back.
    fn predict_rows(&self, schema: &Schema, rows: &[f64], width: usize, out: &mut [f64]) {
        match self {
            RuntimeModel::Gbt { model } => model.predict_rows(rows, width, out),
            RuntimeModel::Hybrid { trees, .. } => trees.predict_rows(rows, width, out),
            _ => out.fill(0.0),
        }
        for (o, row) in out.iter_mut().zip(rows.chunks_exact(width.max(1))) {
            let raw = match self {
                RuntimeModel::Linear { model } => model.predict(row),
                RuntimeModel::Hybrid { linear, .. } => linear.predict(row) + *o,
                _ => *o,
            };
            *o = self.finish(schema, row, raw);
        }
    }

    /// The predicted runtimes of the rows of `x`, chunks of rows on all
    /// threads (the same values as on one).
    pub fn predict_matrix(&self, schema: &Schema, x: &Matrix) -> Vec<f64> {
        let mut out = vec![0.0; x.len()];
        let w = x.width();
        out.par_chunks_mut(PREDICT_CHUNK).enumerate().for_each(|(c, chunk)| {
            let start = c * PREDICT_CHUNK;
            self.predict_rows(schema, &x.as_slice()[start * w..(start + chunk.len()) * w], w, chunk);
        });
        out
    }

    /// How much each column of `schema` matters to the model, largest
    /// first, summing to 1: the total split gain per feature for trees
    /// (the trees' of `linear+gbt`), the absolute coefficient on the
    /// standardised column for ridge regressions (a categorical column's
    /// levels summed; the pooled regression's for `linear-by-name`).
    /// Empty for the baselines, and for a model without any split or
    /// non-zero coefficient (or from a file written before gains were kept).
    pub fn feature_importances(&self, schema: &Schema) -> Vec<(String, f64)> {
        let names = schema.names();
        let raw: Vec<f64> = match self {
            RuntimeModel::Gbt { model } | RuntimeModel::Hybrid { trees: model, .. } => model.gains().to_vec(),
            RuntimeModel::Linear { model } => model.abs_coefficients(names.len()),
            RuntimeModel::UserHistory | RuntimeModel::Requested => Vec::new(),
        };
        let total: f64 = raw.iter().filter(|v| v.is_finite()).sum();
        if total <= 0.0 {
            return Vec::new();
        }
        let mut out: Vec<(String, f64)> =
            names.into_iter().zip(raw).map(|(n, v)| (n, if v.is_finite() { v / total } else { 0.0 })).collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out
    }
}

const _: () = assert!(HISTORY_NAMES.len() > 6);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_learn_a_power_law_and_baselines_read_rows() {
        let schema = Schema::default();
        let w = schema.width();
        let mut rows = Vec::new();
        let mut rts = Vec::new();
        for i in 0..300 {
            let mut r = vec![f64::NAN; w];
            r[0] = 1000f64.ln_1p();
            r[1] = f64::from(i % 30 + 1).ln();
            rows.push(r);
            rts.push(f64::from(i % 30 + 1) * 10.0);
        }
        let mut probe = rows[5].clone();
        for kind in [ModelKind::Gbt, ModelKind::Linear, ModelKind::Hybrid, ModelKind::Auto] {
            let m = RuntimeModel::train(kind, &schema, &rows, &rts).unwrap();
            let p = m.predict(&schema, &probe);
            assert!(p > 30.0 && p < 120.0, "{kind}: {p}");
        }
        let under = RuntimeModel::train(ModelKind::GbtUnder, &schema, &rows, &rts).unwrap();
        assert!(under.predict(&schema, &probe) >= 55.0);
        assert!((RuntimeModel::Requested.predict(&schema, &probe) - 1000.0).abs() < 1e-6);
        let h = schema.history_offset();
        probe[h + 6] = 5f64.ln_1p();
        probe[h + 1] = 42f64.ln();
        assert!((RuntimeModel::UserHistory.predict(&schema, &probe) - 42.0).abs() < 1e-9);
        assert!("gbt-under".parse::<ModelKind>().is_ok() && "nope".parse::<ModelKind>().is_err());
    }

    #[test]
    fn the_one_feature_that_matters_has_the_top_importance() {
        let schema = Schema::default();
        let w = schema.width();
        let mut x = Matrix::new(w);
        let mut rts = Vec::new();
        let mut z = 0x9e37_79b9_7f4a_7c15u64;
        for i in 0..600 {
            let mut r = vec![0.0; w];
            for v in r.iter_mut().skip(1) {
                z ^= z << 13;
                z ^= z >> 7;
                z ^= z << 17;
                *v = (z % 1000) as f64 / 100.0;
            }
            r[0] = f64::NAN;
            let cpus = f64::from(i % 40 + 1);
            r[1] = cpus.ln();
            x.push_row(&r);
            rts.push(cpus * 60.0);
        }
        for kind in [ModelKind::Gbt, ModelKind::Linear, ModelKind::Hybrid] {
            let m = RuntimeModel::train_matrix(kind, &schema, &x, &rts).unwrap();
            let imp = m.feature_importances(&schema);
            assert_eq!(imp.len(), w, "{kind}");
            assert_eq!(imp[0].0, "log_req_cpus", "{kind}: {imp:?}");
            assert!(imp[0].1 > 0.5, "{kind}: {imp:?}");
            assert!((imp.iter().map(|(_, v)| v).sum::<f64>() - 1.0).abs() < 1e-9);
            assert!(imp.windows(2).all(|p| p[0].1 >= p[1].1), "sorted");
            let batch = m.predict_matrix(&schema, &x);
            for (i, row) in x.rows().enumerate().step_by(37) {
                assert_eq!(batch[i].to_bits(), m.predict(&schema, row).to_bits(), "{kind} row {i}");
            }
        }
        assert!(RuntimeModel::UserHistory.feature_importances(&schema).is_empty());
        assert!(RuntimeModel::Requested.feature_importances(&schema).is_empty());
    }
}
