//! Demand forecasts: per hour, the jobs submitted and the CPU and GPU hours
//! they request, for the whole cluster or one queue or tenant; forecast a
//! day ahead (from values at least 24 hours old) by boosted trees on daily
//! and weekly lags, and judged against the seasonal-naive forecasts (the
//! same hour a week before, and a day before) on the hours after the
//! split, by time. [`forecast_after`] keeps the hours of a test window
//! beside their forecasts, for a report's chart.

use crate::gbt::{Gbt, GbtParams};
use foresight_core::Job;
use serde::{Deserialize, Serialize};

/// Hours ahead a forecast is made.
pub const HORIZON_H: usize = 24;
/// Longest lag a forecast reads (a week).
pub(crate) const MAX_LAG_H: usize = 168;
/// Hours a forecaster must learn from, after the first week of lags.
pub(crate) const MIN_TRAIN_H: usize = 168;
/// Hours of a test window a [`DemandForecast`] keeps (its first two weeks).
pub const SHOWN_H: usize = 336;

/// What is counted per hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Quantity {
    /// Jobs submitted.
    Jobs,
    /// Requested CPU hours (CPUs times requested time).
    CpuHours,
    /// Requested GPU hours.
    GpuHours,
}

impl Quantity {
    /// Every quantity.
    pub const ALL: [Quantity; 3] = [Quantity::Jobs, Quantity::CpuHours, Quantity::GpuHours];

    fn of(&self, job: &Job) -> f64 {
        let hours = job.req_time_s.unwrap_or(0.0) / 3600.0;
        match self {
            Quantity::Jobs => 1.0,
            Quantity::CpuHours => f64::from(job.req_cpus.unwrap_or(0)) * hours,
            Quantity::GpuHours => f64::from(job.req_gpus.unwrap_or(0)) * hours,
        }
    }
}

/// An hourly series from the hour of the first submission.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Local calendar hour (hours since the Unix epoch) of the first value.
    pub first_hour: i64,
    /// One value per hour.
    pub values: Vec<f64>,
}

/// The hourly series of `quantity` over `jobs` (those `keep` accepts);
/// `calendar_offset_s` turns trace time into local time.
pub fn hourly(jobs: &[Job], quantity: Quantity, calendar_offset_s: f64, keep: impl Fn(&Job) -> bool) -> Series {
    let hour = |j: &Job| ((j.submit_s + calendar_offset_s) / 3600.0).floor() as i64;
    let first = jobs.iter().map(hour).min().unwrap_or(0);
    let last = jobs.iter().map(hour).max().unwrap_or(0);
    let mut values = vec![0.0; (last - first + 1).max(0) as usize];
    for j in jobs.iter().filter(|j| keep(j)) {
        values[(hour(j) - first) as usize] += quantity.of(j);
    }
    Series { first_hour: first, values }
}

fn features(s: &Series, t: usize) -> Vec<f64> {
    let v = &s.values;
    let lag = |h: usize| v[t - h];
    let last_day = (HORIZON_H..HORIZON_H + 24).map(lag).sum::<f64>() / 24.0;
    let last_week = (HORIZON_H..=168).map(lag).sum::<f64>() / (169 - HORIZON_H) as f64;
    let hour = (s.first_hour + t as i64).rem_euclid(24) as f64;
    // Hour 0 of the Unix epoch was on a Thursday: weekday 0 is Monday.
    let weekday = ((s.first_hour + t as i64).div_euclid(24) + 3).rem_euclid(7) as f64;
    [lag(24), lag(48), lag(72), lag(168), last_day, last_week, hour, weekday]
        .into_iter()
        .map(f64::ln_1p)
        .collect()
}

/// A forecast's and the seasonal-naive forecasts' errors on test hours.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DemandMetrics {
    /// Hours trained on.
    pub train_hours: usize,
    /// Hours tested on.
    pub test_hours: usize,
    /// MAE of the forecaster.
    pub mae: f64,
    /// MAE of the value a week before.
    pub mae_seasonal_naive_week: f64,
    /// MAE of the value a day before.
    pub mae_seasonal_naive_day: f64,
}

/// Trains on the first `train_fraction` of the hours and scores the rest;
/// `None` when the series is too short (under three weeks).
pub fn evaluate(series: &Series, train_fraction: f64) -> Option<DemandMetrics> {
    let n = series.values.len();
    let split = ((n as f64 * train_fraction) as usize).max(MAX_LAG_H);
    if n < MAX_LAG_H * 3 || split >= n {
        return None;
    }
    let model = fit(series, split);
    Some(metrics(series, split, &model))
}

/// The forecaster trained on the hours before `split` (from the first hour
/// with a week of lags).
pub(crate) fn fit(series: &Series, split: usize) -> Gbt {
    let train: Vec<usize> = (MAX_LAG_H..split).collect();
    let x: Vec<Vec<f64>> = train.iter().map(|&t| features(series, t)).collect();
    let y: Vec<f64> = train.iter().map(|&t| series.values[t].ln_1p()).collect();
    Gbt::fit(&x, &y, &GbtParams::for_rows(x.len()))
}

pub(crate) fn predict(model: &Gbt, series: &Series, t: usize) -> f64 {
    model.predict(&features(series, t)).exp_m1().max(0.0)
}

/// Errors on the hours from `split` (at least [`MAX_LAG_H`]) to the end.
fn metrics(series: &Series, split: usize, model: &Gbt) -> DemandMetrics {
    let test = split..series.values.len();
    let mae = |f: &dyn Fn(usize) -> f64| test.clone().map(|t| (f(t) - series.values[t]).abs()).sum::<f64>() / test.len() as f64;
    DemandMetrics {
        train_hours: split - MAX_LAG_H,
        test_hours: test.len(),
        mae: mae(&|t| predict(model, series, t)),
        mae_seasonal_naive_week: mae(&|t| series.values[t - 168]),
        mae_seasonal_naive_day: mae(&|t| series.values[t - 24]),
    }
}

/// One hour of a test window: what arrived and what was forecast for it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DemandHour {
    /// Hours since the test window's first hour.
    pub hour: usize,
    /// The value that hour.
    pub actual: f64,
    /// The forecaster's, a day ahead (none when it could not be trained).
    pub forecast: Option<f64>,
    /// The value of the same hour a week before (none in the first week).
    pub seasonal_naive_week: Option<f64>,
    /// The value of the same hour a day before (none in the first day).
    pub seasonal_naive_day: Option<f64>,
}

/// A test window's hourly values beside the forecasts made for them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DemandForecast {
    /// What is counted.
    pub quantity: Quantity,
    /// Local calendar hour (hours since the Unix epoch) of the window's first hour.
    pub first_hour: i64,
    /// Hours of history before the window.
    pub history_hours: usize,
    /// Hours in the window (at least one; only the first [`SHOWN_H`] are kept).
    pub test_hours: usize,
    /// The window's first hours.
    pub hours: Vec<DemandHour>,
    /// Errors over the whole window, when the forecaster could be trained.
    pub metrics: Option<DemandMetrics>,
    /// Why something is missing, when it is.
    pub note: Option<String>,
}

/// The hours of `series` (of `quantity`) from `split` on against the forecaster trained on
/// the hours before it and against the seasonal-naive forecasts. Without
/// two weeks before `split` (a week of lags, a week to learn from) the
/// forecaster is not trained and the note says so. `None` when no hour is
/// left from `split`.
pub fn forecast_after(series: &Series, quantity: Quantity, split: usize) -> Option<DemandForecast> {
    let n = series.values.len();
    if split >= n {
        return None;
    }
    let model = (split >= MAX_LAG_H + MIN_TRAIN_H).then(|| fit(series, split));
    let v = &series.values;
    let back = |t: usize, lag: usize| t.checked_sub(lag).map(|s| v[s]);
    let hours = (split..n.min(split + SHOWN_H))
        .map(|t| DemandHour {
            hour: t - split,
            actual: v[t],
            forecast: model.as_ref().map(|m| predict(m, series, t)),
            seasonal_naive_week: back(t, 168),
            seasonal_naive_day: back(t, 24),
        })
        .collect();
    let note = model.is_none().then(|| {
        let history = if split == 1 { "1 hour".to_string() } else { format!("{split} hours") };
        format!(
            "{history} of history before the test window; the forecaster needs {} (a week of lags and a week to learn from), so it is not trained.",
            MAX_LAG_H + MIN_TRAIN_H
        )
    });
    Some(DemandForecast {
        quantity,
        first_hour: series.first_hour + split as i64,
        history_hours: split,
        test_hours: n - split,
        hours,
        metrics: model.as_ref().map(|m| metrics(series, split, m)),
        note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_noisy_daily_cycle_is_forecast_better_than_a_week_ago() {
        let mut jobs = Vec::new();
        let mut state = 7u64;
        for h in 0..(24 * 7 * 16) {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let noise = (state >> 60) as usize;
            let n = if h % 24 >= 8 && h % 24 < 18 { 10 } else { 2 } + noise;
            for _ in 0..n {
                jobs.push(Job { submit_s: h as f64 * 3600.0 + 1.0, req_cpus: Some(4), req_time_s: Some(1800.0), ..Job::default() });
            }
        }
        let s = hourly(&jobs, Quantity::CpuHours, 0.0, |_| true);
        assert_eq!(s.values.iter().sum::<f64>(), jobs.len() as f64 * 2.0, "4 CPUs for half an hour each");
        let m = evaluate(&hourly(&jobs, Quantity::Jobs, 0.0, |_| true), 0.7).unwrap();
        assert!(m.mae < m.mae_seasonal_naive_week, "{m:?}");
        let series = hourly(&jobs, Quantity::Jobs, 0.0, |_| true);
        let f = forecast_after(&series, Quantity::Jobs, 2000).unwrap();
        assert_eq!((f.test_hours, f.hours.len(), f.note), (series.values.len() - 2000, SHOWN_H, None));
        assert_eq!(f.hours[0].seasonal_naive_week, Some(series.values[2000 - 168]));
        assert!(f.hours.iter().all(|h| h.forecast.is_some_and(f64::is_finite)) && f.metrics.is_some());
        let short = forecast_after(&series, Quantity::Jobs, 30).unwrap();
        assert!(short.metrics.is_none() && short.note.is_some() && short.hours[0].seasonal_naive_week.is_none());
        assert_eq!(short.hours[0].seasonal_naive_day, Some(series.values[6]));
        assert!(forecast_after(&series, Quantity::Jobs, series.values.len()).is_none());
    }
}
