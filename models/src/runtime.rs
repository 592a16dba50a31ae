//! Runtime models over feature rows: a boosted tree ensemble on log
//! runtime (optionally penalising under-prediction), a ridge regression
//! baseline (smartcore), and the EASY++ user-history and requested-time
//! baselines read from the same rows. Every model predicts seconds, capped
//! by the requested time when there is one.

use crate::ModelError;
use crate::features::Schema;
use crate::gbt::{Gbt, GbtParams, Loss};
use crate::history::HISTORY_NAMES;
use serde::{Deserialize, Serialize};
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::ridge_regression::{RidgeRegression, RidgeRegressionParameters};
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
    /// Ridge regression on log runtime (`linear`).
    Linear,
    /// The mean of the user's last two runtimes (`easy++`).
    UserHistory,
    /// The requested time (`requested`).
    Requested,
}

impl ModelKind {
    /// Every kind, in a fixed order.
    pub const ALL: [ModelKind; 5] =
        [ModelKind::Gbt, ModelKind::GbtUnder, ModelKind::Linear, ModelKind::UserHistory, ModelKind::Requested];

    /// The canonical name.
    pub fn as_str(&self) -> &'static str {
        match self {
            ModelKind::Gbt => "gbt",
            ModelKind::GbtUnder => "gbt-under",
            ModelKind::Linear => "linear",
            ModelKind::UserHistory => "easy++",
            ModelKind::Requested => "requested",
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

/// A ridge regression on standardised rows (missing values at the mean).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Linear {
    means: Vec<f64>,
    scales: Vec<f64>,
    coefficients: Vec<f64>,
    intercept: f64,
}

impl Linear {
    /// Fits with smartcore's ridge regression (alpha 1, fixed a priori).
    pub fn fit(rows: &[Vec<f64>], y: &[f64]) -> Result<Linear, ModelError> {
        let width = rows.first().map_or(0, Vec::len);
        let mut means = vec![0.0; width];
        let mut scales = vec![1.0; width];
        for f in 0..width {
            let v: Vec<f64> = rows.iter().map(|r| r[f]).filter(|x| x.is_finite()).collect();
            if v.is_empty() {
                continue;
            }
            let m = v.iter().sum::<f64>() / v.len() as f64;
            let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64;
            means[f] = m;
            scales[f] = if var > 1e-12 { var.sqrt() } else { 1.0 };
        }
        let mut model = Linear { means, scales, coefficients: vec![0.0; width], intercept: 0.0 };
        let x: Vec<Vec<f64>> = rows.iter().map(|r| model.standardise(r)).collect();
        let x = DenseMatrix::from_2d_vec(&x).map_err(|e| ModelError::Fit(e.to_string()))?;
        // Columns are standardised here (smartcore's own rescaling refuses
        // constant columns), so the intercept is the mean of the target.
        let y_mean = y.iter().sum::<f64>() / y.len().max(1) as f64;
        let centred: Vec<f64> = y.iter().map(|v| v - y_mean).collect();
        let params = RidgeRegressionParameters::default().with_alpha(1.0).with_normalize(false);
        let fitted = RidgeRegression::fit(&x, &centred, params).map_err(|e| ModelError::Fit(e.to_string()))?;
        use smartcore::linalg::basic::arrays::Array;
        model.coefficients = (0..width).map(|f| *fitted.coefficients().get((f, 0))).collect();
        model.intercept = y_mean + *fitted.intercept();
        Ok(model)
    }

    fn standardise(&self, row: &[f64]) -> Vec<f64> {
        row.iter()
            .zip(self.means.iter().zip(&self.scales))
            .map(|(x, (m, s))| if x.is_finite() { (x - m) / s } else { 0.0 })
            .collect()
    }

    /// The predicted target of one row.
    pub fn predict(&self, row: &[f64]) -> f64 {
        self.intercept + self.standardise(row).iter().zip(&self.coefficients).map(|(x, c)| x * c).sum::<f64>()
    }
}

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
    /// Trains a model of `kind` on rows of `schema` and their runtimes.
    pub fn train(kind: ModelKind, schema: &Schema, rows: &[Vec<f64>], runtimes_s: &[f64]) -> Result<Self, ModelError> {
        if rows.len() != runtimes_s.len() {
            return Err(ModelError::Fit(format!("{} rows for {} runtimes", rows.len(), runtimes_s.len())));
        }
        if rows.is_empty() && matches!(kind, ModelKind::Gbt | ModelKind::GbtUnder | ModelKind::Linear) {
            return Err(ModelError::NoTrainingData);
        }
        let _ = schema;
        let y: Vec<f64> = runtimes_s.iter().map(|r| crate::history::log_runtime(*r)).collect();
        Ok(match kind {
            ModelKind::Gbt => RuntimeModel::Gbt { model: Gbt::fit(rows, &y, &GbtParams::default()) },
            ModelKind::GbtUnder => {
                let params = GbtParams { loss: Loss::Asymmetric { under_weight: UNDER_WEIGHT }, ..GbtParams::default() };
                RuntimeModel::Gbt { model: Gbt::fit(rows, &y, &params) }
            }
            ModelKind::Linear => RuntimeModel::Linear { model: Linear::fit(rows, &y)? },
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
        for kind in [ModelKind::Gbt, ModelKind::Linear] {
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
