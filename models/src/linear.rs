//! The linear baseline: smartcore's ridge regression on standardised
//! numeric columns (missing values at the mean) and one-hot categorical
//! columns (user, queue, submitted text features), so that on log runtime
//! and log sizes it fits power laws.

use crate::ModelError;
use serde::{Deserialize, Serialize};
use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::ridge_regression::{RidgeRegression, RidgeRegressionParameters};

/// Most frequent values of a categorical column that get their own
/// coefficient; the rest share the baseline.
pub const MAX_LEVELS: usize = 32;

/// Fewest training rows of one job name for it to get its own regression.
pub const MIN_GROUP_ROWS: usize = 20;

/// The ridge penalty of the pooled regression (a priori).
pub const POOLED_ALPHA: f64 = 1.0;
/// The ridge penalty of a name's correction: larger, so that a name with
/// few jobs stays near the pooled fit (partial pooling, a priori).
pub const GROUP_ALPHA: f64 = 10.0;

/// A pooled ridge regression, plus for each job name with enough rows a
/// ridge regression of the pooled one's residuals (a power law per kind of
/// job, shrunk towards the shared one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Linear {
    pooled: Ridge,
    group_column: usize,
    groups: Vec<(f64, Ridge)>,
}

impl Linear {
    /// Fits the pooled regression and, when `group_column` is given, a
    /// correction for each of its values (NaN is never a group) that has
    /// [`MIN_GROUP_ROWS`] rows.
    pub fn fit(rows: &[Vec<f64>], y: &[f64], categorical: &[usize], group_column: Option<usize>) -> Result<Linear, ModelError> {
        let pooled = Ridge::fit(rows, y, categorical, POOLED_ALPHA)?;
        let Some(group_column) = group_column else { return Ok(Linear { pooled, group_column: usize::MAX, groups: Vec::new() }) };
        let mut values: Vec<f64> = rows.iter().filter_map(|r| at(r, group_column)).filter(|v| v.is_finite()).collect();
        values.sort_by(f64::total_cmp);
        values.dedup();
        let mut groups = Vec::new();
        for v in values {
            let idx: Vec<usize> = (0..rows.len()).filter(|&i| at(&rows[i], group_column) == Some(v)).collect();
            if idx.len() < MIN_GROUP_ROWS {
                continue;
            }
            let r: Vec<Vec<f64>> = idx.iter().map(|&i| rows[i].clone()).collect();
            let t: Vec<f64> = idx.iter().map(|&i| y[i] - pooled.predict(&rows[i])).collect();
            if let Ok(m) = Ridge::fit(&r, &t, categorical, GROUP_ALPHA) {
                groups.push((v, m));
            }
        }
        Ok(Linear { pooled, group_column, groups })
    }

    /// The predicted target of one row.
    pub fn predict(&self, row: &[f64]) -> f64 {
        let v = at(row, self.group_column).unwrap_or(f64::NAN);
        self.pooled.predict(row) + self.groups.iter().find(|(g, _)| *g == v).map_or(0.0, |(_, m)| m.predict(row))
    }
}

fn at(row: &[f64], column: usize) -> Option<f64> {
    (column < row.len()).then(|| row[column])
}

/// A ridge regression on standardised rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ridge {
    /// The numeric columns that vary in training (the others carry nothing).
    used: Vec<usize>,
    means: Vec<f64>,
    scales: Vec<f64>,
    /// Per categorical column: its index and its levels.
    levels: Vec<(usize, Vec<f64>)>,
    coefficients: Vec<f64>,
    intercept: f64,
}

impl Ridge {
    /// Fits with smartcore's ridge regression of penalty `alpha`;
    /// `categorical` lists the columns to one-hot encode.
    pub fn fit(rows: &[Vec<f64>], y: &[f64], categorical: &[usize], alpha: f64) -> Result<Ridge, ModelError> {
        let width = rows.first().map_or(0, Vec::len);
        let mut model =
            Ridge { used: Vec::new(), means: Vec::new(), scales: Vec::new(), levels: Vec::new(), coefficients: Vec::new(), intercept: 0.0 };
        for f in 0..width {
            let v: Vec<f64> = rows.iter().map(|r| r[f]).filter(|x| x.is_finite()).collect();
            if v.is_empty() || categorical.contains(&f) {
                continue;
            }
            let m = v.iter().sum::<f64>() / v.len() as f64;
            let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64;
            if var > 1e-12 {
                model.used.push(f);
                model.means.push(m);
                model.scales.push(var.sqrt());
            }
        }
        for &c in categorical.iter().filter(|&&c| c < width) {
            let mut counts: Vec<(f64, usize)> = Vec::new();
            for r in rows.iter().filter(|r| r[c].is_finite()) {
                match counts.iter_mut().find(|(v, _)| *v == r[c]) {
                    Some(e) => e.1 += 1,
                    None => counts.push((r[c], 1)),
                }
            }
            counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.total_cmp(&b.0)));
            if counts.len() > 1 {
                model.levels.push((c, counts.into_iter().take(MAX_LEVELS).map(|(v, _)| v).collect()));
            }
        }
        if model.used.len() + model.levels.iter().map(|l| l.1.len()).sum::<usize>() >= rows.len() {
            return Err(ModelError::Fit(format!("{} rows are too few for the columns", rows.len())));
        }
        let x: Vec<Vec<f64>> = rows.iter().map(|r| model.expand(r)).collect();
        let x = DenseMatrix::from_2d_vec(&x).map_err(|e| ModelError::Fit(e.to_string()))?;
        // Columns are standardised here (smartcore's own rescaling refuses
        // constant columns), so the intercept is the mean of the target.
        let y_mean = y.iter().sum::<f64>() / y.len().max(1) as f64;
        let centred: Vec<f64> = y.iter().map(|v| v - y_mean).collect();
        let params = RidgeRegressionParameters::default().with_alpha(alpha).with_normalize(false);
        let fitted = RidgeRegression::fit(&x, &centred, params).map_err(|e| ModelError::Fit(e.to_string()))?;
        let (p, _) = fitted.coefficients().shape();
        model.coefficients = (0..p).map(|f| *fitted.coefficients().get((f, 0))).collect();
        model.intercept = y_mean + *fitted.intercept();
        Ok(model)
    }

    fn expand(&self, row: &[f64]) -> Vec<f64> {
        let mut x: Vec<f64> = self
            .used
            .iter()
            .zip(self.means.iter().zip(&self.scales))
            .map(|(&f, (m, s))| if row[f].is_finite() { (row[f] - m) / s } else { 0.0 })
            .collect();
        for (c, levels) in &self.levels {
            x.extend(levels.iter().map(|l| f64::from(row[*c] == *l)));
        }
        x
    }

    /// The predicted target of one row.
    pub fn predict(&self, row: &[f64]) -> f64 {
        self.intercept + self.expand(row).iter().zip(&self.coefficients).map(|(x, c)| x * c).sum::<f64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ridge_fits_a_power_law_and_a_category() {
        let rows: Vec<Vec<f64>> = (0..200).map(|i| vec![f64::from(i % 20 + 1).ln(), f64::from(i % 3 * 7)]).collect();
        let y: Vec<f64> = rows.iter().map(|r| 2.0 * r[0] + if r[1] == 7.0 { 1.0 } else { 0.0 }).collect();
        let m = Linear::fit(&rows, &y, &[1], None).unwrap();
        assert!((m.predict(&[10f64.ln(), 7.0]) - (2.0 * 10f64.ln() + 1.0)).abs() < 0.05);
        assert!((m.predict(&[10f64.ln(), 14.0]) - 2.0 * 10f64.ln()).abs() < 0.05);
    }
}
