//! Runtime models over feature rows: a boosted tree ensemble on log
//! runtime (optionally penalising under-prediction), a ridge regression
//! baseline (smartcore), and the EASY++ user-history and requested-time
//! baselines read from the same rows. Every model predicts seconds, capped
//! by the requested time when there is one.

use crate::ModelError;
use crate::features::Schema;
use crate::gbt::{Gbt, GbtParams, Loss};
use crate::history::{HISTORY_NAMES, log_runtime};
use serde::{Deserialize, Serialize};
use crate::linear::Linear;
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

impl RuntimeModel {
    /// Trains a model of `kind` on rows of `schema` (in submission order)
    /// and their runtimes.
    pub fn train(kind: ModelKind, schema: &Schema, rows: &[Vec<f64>], runtimes_s: &[f64]) -> Result<Self, ModelError> {
        if rows.len() != runtimes_s.len() {
            return Err(ModelError::Fit(format!("{} rows for {} runtimes", rows.len(), runtimes_s.len())));
        }
        if rows.is_empty() && !matches!(kind, ModelKind::UserHistory | ModelKind::Requested) {
            return Err(ModelError::NoTrainingData);
        }
        let floor = schema.runtime_floor_s;
        let y: Vec<f64> = runtimes_s.iter().map(|r| log_runtime(*r, floor)).collect();
        let trees = GbtParams::for_rows(rows.len());
        let categorical = schema.categorical_columns();
        let by_name = Some(Schema::NAME_COLUMN);
        Ok(match kind {
            ModelKind::Gbt => RuntimeModel::Gbt { model: Gbt::fit(rows, &y, &trees) },
            ModelKind::GbtUnder => {
                let params = GbtParams { loss: Loss::Asymmetric { under_weight: UNDER_WEIGHT }, ..trees };
                RuntimeModel::Gbt { model: Gbt::fit(rows, &y, &params) }
            }
            ModelKind::GbtMedian => {
                let params = GbtParams { loss: Loss::Quantile { q: 0.5 }, ..trees };
                RuntimeModel::Gbt { model: Gbt::fit(rows, &y, &params) }
            }
            ModelKind::Linear => RuntimeModel::Linear { model: Linear::fit(rows, &y, &categorical, None)? },
            ModelKind::LinearByName => RuntimeModel::Linear { model: Linear::fit(rows, &y, &categorical, by_name)? },
            ModelKind::Hybrid => {
                let linear = Linear::fit(rows, &y, &categorical, by_name)?;
                let residual: Vec<f64> = rows.iter().zip(&y).map(|(r, y)| y - linear.predict(r)).collect();
                RuntimeModel::Hybrid { trees: Gbt::fit(rows, &residual, &trees), linear }
            }
            ModelKind::Auto => {
                let cut = rows.len() * 4 / 5;
                let mut best = (f64::INFINITY, ModelKind::Gbt);
                for k in [ModelKind::Gbt, ModelKind::GbtMedian, ModelKind::Linear, ModelKind::LinearByName, ModelKind::Hybrid] {
                    let Ok(m) = RuntimeModel::train(k, schema, &rows[..cut], &runtimes_s[..cut]) else { continue };
                    let err = rows[cut..].iter().zip(&y[cut..]).map(|(r, y)| (log_runtime(m.predict(schema, r), floor) - y).abs()).sum::<f64>();
                    if err < best.0 {
                        best = (err, k);
                    }
                }
                RuntimeModel::train(best.1, schema, rows, runtimes_s)?
            }
            ModelKind::UserHistory => RuntimeModel::UserHistory,
            ModelKind::Requested => RuntimeModel::Requested,
        })
    }

    /// The predicted runtime of a row of `schema`, seconds, at most the
    /// requested time.
    pub fn predict(&self, schema: &Schema, row: &[f64]) -> f64 {
        let limit = requested_s(row);
        let raw = match self {
            RuntimeModel::Gbt { model } => model.predict(row).exp(),
            RuntimeModel::Linear { model } => model.predict(row).clamp(-10.0, 25.0).exp(),
            RuntimeModel::Hybrid { linear, trees } => (linear.predict(row) + trees.predict(row)).clamp(-10.0, 25.0).exp(),
            RuntimeModel::UserHistory => {
                let h = schema.history_offset();
                let count = row[h + 6];
                if count >= 2f64.ln_1p() { row[h + 1].exp() } else { limit }
            }
            RuntimeModel::Requested => limit,
        };
        raw.min(limit)
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
}
