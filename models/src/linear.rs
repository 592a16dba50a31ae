//! The linear baseline: smartcore's ridge regression on standardised
//! numeric columns (missing values at the mean) and one-hot categorical
//! columns (user, queue, submitted text features), so that on log runtime
//! and log sizes it fits power laws.

use crate::ModelError;
use crate::invalid::{InvalidModel, MAX_GROUPS, Problem, at_most, column, finite, length};
use crate::matrix::Matrix;
use serde::{Deserialize, Serialize};
use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::ridge_regression::{RidgeRegression, RidgeRegressionParameters};
use std::collections::HashMap;

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
        Self::fit_matrix(&Matrix::from_rows(rows), y, categorical, group_column)
    }

    /// [`Linear::fit`] on the rows of a matrix.
    pub fn fit_matrix(x: &Matrix, y: &[f64], categorical: &[usize], group_column: Option<usize>) -> Result<Linear, ModelError> {
        let pooled = Ridge::fit_matrix(x, y, categorical, POOLED_ALPHA)?;
        let Some(group_column) = group_column.filter(|&c| c < x.width()) else {
            return Ok(Linear { pooled, group_column: group_column.unwrap_or(usize::MAX), groups: Vec::new() });
        };
        // Rows by group value, then by row: each group's rows in order.
        let mut by_value: Vec<usize> = (0..x.len()).filter(|&i| x.get(i, group_column).is_finite()).collect();
        by_value.sort_by(|&a, &b| x.get(a, group_column).total_cmp(&x.get(b, group_column)).then(a.cmp(&b)));
        let mut groups = Vec::new();
        for idx in by_value.chunk_by(|&a, &b| x.get(a, group_column) == x.get(b, group_column)) {
            if idx.len() < MIN_GROUP_ROWS {
                continue;
            }
            let r = x.select(idx);
            let t: Vec<f64> = idx.iter().map(|&i| y[i] - pooled.predict(x.row(i))).collect();
            if let Ok(m) = Ridge::fit_matrix(&r, &t, categorical, GROUP_ALPHA) {
                groups.push((x.get(idx[0], group_column), m));
            }
        }
        Ok(Linear { pooled, group_column, groups })
    }

    /// The predicted target of one row.
    pub fn predict(&self, row: &[f64]) -> f64 {
        let v = at(row, self.group_column).unwrap_or(f64::NAN);
        self.pooled.predict(row) + self.groups.iter().find(|(g, _)| *g == v).map_or(0.0, |(_, m)| m.predict(row))
    }

    /// The pooled regression's coefficients on standardised columns, by
    /// column of the row (one-hot levels of a categorical column summed in
    /// absolute value), `width` long.
    pub fn abs_coefficients(&self, width: usize) -> Vec<f64> {
        self.pooled.abs_coefficients(width)
    }

    /// Checks a regression read from a file (at `part` of it) against rows
    /// `width` wide: the pooled one's and every group's (see
    /// [`Ridge::check`]), the group column within the rows, finite group
    /// values, and at most [`MAX_GROUPS`] groups.
    pub(crate) fn check(&self, part: &str, width: usize) -> Result<(), InvalidModel> {
        self.pooled.check(width).map_err(|p| InvalidModel::new(format!("{part}.pooled"), p))?;
        let whole = |p| InvalidModel::new(part, p);
        at_most("groups", self.groups.len(), MAX_GROUPS).map_err(whole)?;
        if !self.groups.is_empty() {
            column(|| "group_column".into(), self.group_column, width).map_err(whole)?;
        }
        for (i, (value, ridge)) in self.groups.iter().enumerate() {
            finite(|| format!("groups[{i}] value"), *value).map_err(whole)?;
            ridge.check(width).map_err(|p| InvalidModel::new(format!("{part}.groups[{i}]"), p))?;
        }
        Ok(())
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
        Self::fit_matrix(&Matrix::from_rows(rows), y, categorical, alpha)
    }

    /// [`Ridge::fit`] on the rows of a matrix.
    pub fn fit_matrix(x: &Matrix, y: &[f64], categorical: &[usize], alpha: f64) -> Result<Ridge, ModelError> {
        let (n, width) = (x.len(), x.width());
        let mut model =
            Ridge { used: Vec::new(), means: Vec::new(), scales: Vec::new(), levels: Vec::new(), coefficients: Vec::new(), intercept: 0.0 };
        for f in (0..width).filter(|f| !categorical.contains(f)) {
            let (mut sum, mut count) = (0.0, 0usize);
            for v in x.rows().map(|r| r[f]).filter(|v| v.is_finite()) {
                sum += v;
                count += 1;
            }
            if count == 0 {
                continue;
            }
            let m = sum / count as f64;
            let var = x.rows().map(|r| r[f]).filter(|v| v.is_finite()).map(|v| (v - m).powi(2)).sum::<f64>() / count as f64;
            if var > 1e-12 {
                model.used.push(f);
                model.means.push(m);
                model.scales.push(var.sqrt());
            }
        }
        for &c in categorical.iter().filter(|&&c| c < width) {
            // Counts by value (0 and -0 are one value, as `==` says).
            let mut counts: HashMap<u64, (f64, usize)> = HashMap::new();
            for v in x.rows().map(|r| r[c]).filter(|v| v.is_finite()) {
                counts.entry((v + 0.0).to_bits()).or_insert((v, 0)).1 += 1;
            }
            let mut counts: Vec<(f64, usize)> = counts.into_values().collect();
            counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.total_cmp(&b.0)));
            if counts.len() > 1 {
                model.levels.push((c, counts.into_iter().take(MAX_LEVELS).map(|(v, _)| v).collect()));
            }
        }
        let p = model.used.len() + model.levels.iter().map(|l| l.1.len()).sum::<usize>();
        if p >= n {
            return Err(ModelError::Fit(format!("{n} rows are too few for the columns")));
        }
        // Column-major, as smartcore keeps it.
        let mut values = vec![0.0; n * p];
        let mut expanded = vec![0.0; p];
        for (i, row) in x.rows().enumerate() {
            model.expand_into(row, &mut expanded);
            for (j, v) in expanded.iter().enumerate() {
                values[j * n + i] = *v;
            }
        }
        let x = DenseMatrix::new(n, p, values, true).map_err(|e| ModelError::Fit(e.to_string()))?;
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

    /// The standardised, one-hot encoded form of `row` into `out`.
    fn expand_into(&self, row: &[f64], out: &mut [f64]) {
        let mut j = 0;
        for (&f, (m, s)) in self.used.iter().zip(self.means.iter().zip(&self.scales)) {
            out[j] = if row[f].is_finite() { (row[f] - m) / s } else { 0.0 };
            j += 1;
        }
        for (c, levels) in &self.levels {
            for l in levels {
                out[j] = f64::from(row[*c] == *l);
                j += 1;
            }
        }
    }

    /// The predicted target of one row (no allocation). A column past the
    /// row's end counts as missing (possible only for a regression
    /// deserialised on its own: [`crate::ModelFile::load`] refuses a file
    /// that holds one).
    pub fn predict(&self, row: &[f64]) -> f64 {
        let mut sum = 0.0;
        let mut coef = self.coefficients.iter();
        for (&f, (m, s)) in self.used.iter().zip(self.means.iter().zip(&self.scales)) {
            let v = row.get(f).copied().unwrap_or(f64::NAN);
            let x = if v.is_finite() { (v - m) / s } else { 0.0 };
            sum += x * coef.next().copied().unwrap_or(0.0);
        }
        for (c, levels) in &self.levels {
            let v = row.get(*c).copied().unwrap_or(f64::NAN);
            for l in levels {
                sum += f64::from(v == *l) * coef.next().copied().unwrap_or(0.0);
            }
        }
        self.intercept + sum
    }

    /// Checks a regression read from a file against rows `width` wide:
    /// one mean and one positive scale per numeric column used, every
    /// column within the rows, at most [`MAX_LEVELS`] finite levels per
    /// categorical column, one coefficient per expanded column, and every
    /// number finite.
    pub(crate) fn check(&self, width: usize) -> Result<(), Problem> {
        length(|| "means".into(), self.means.len(), self.used.len())?;
        length(|| "scales".into(), self.scales.len(), self.used.len())?;
        for (i, ((&f, &m), &s)) in self.used.iter().zip(&self.means).zip(&self.scales).enumerate() {
            column(|| format!("used[{i}]"), f, width)?;
            finite(|| format!("means[{i}]"), m)?;
            if !(s.is_finite() && s > 0.0) {
                return Err(Problem::BadNumber { field: format!("scales[{i}]"), value: s, expected: "not a positive finite number" });
            }
        }
        let mut expanded = self.used.len();
        for (i, (c, levels)) in self.levels.iter().enumerate() {
            column(|| format!("levels[{i}] column"), *c, width)?;
            at_most(&format!("levels[{i}]"), levels.len(), MAX_LEVELS)?;
            for (j, l) in levels.iter().enumerate() {
                finite(|| format!("levels[{i}] level {j}"), *l)?;
            }
            expanded += levels.len();
        }
        length(|| "coefficients".into(), self.coefficients.len(), expanded)?;
        for (i, c) in self.coefficients.iter().enumerate() {
            finite(|| format!("coefficients[{i}]"), *c)?;
        }
        finite(|| "intercept".into(), self.intercept)
    }

    /// Absolute coefficients on standardised columns, by column of the row
    /// (a categorical column's levels summed), `width` long.
    pub fn abs_coefficients(&self, width: usize) -> Vec<f64> {
        let mut out = vec![0.0; width];
        let mut coef = self.coefficients.iter();
        for &f in &self.used {
            let c = coef.next().copied().unwrap_or(0.0).abs();
            if let Some(o) = out.get_mut(f) {
                *o += c;
            }
        }
        for (c, levels) in &self.levels {
            for _ in levels {
                let v = coef.next().copied().unwrap_or(0.0).abs();
                if let Some(o) = out.get_mut(*c) {
                    *o += v;
                }
            }
        }
        out
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
