//! Demand outlooks for capacity plans: the hours after a series' end
//! forecast recursively by the demand forecaster (each forecast hour fed
//! back as a lag of the next), or by the seasonal-naive forecast while the
//! series is too short to train it; and the band around a horizon's total,
//! from the ratios of actual totals to the forecasts made for them over the
//! last periods of the history (a forecaster trained before them).

use crate::demand::{MAX_LAG_H, MIN_TRAIN_H, Series, fit, predict};
use crate::gbt::Gbt;
use serde::{Deserialize, Serialize};

/// A forecaster trained on a prefix of a series, or none when it is too
/// short (then the seasonal-naive forecast stands in).
#[derive(Debug, Clone)]
pub struct Ahead {
    model: Option<Gbt>,
}

impl Ahead {
    /// Trained on the first `split` hours of `series` (when there are
    /// enough: a week of lags and a week to learn from).
    pub fn train(series: &Series, split: usize) -> Self {
        Self { model: (split >= MAX_LAG_H + MIN_TRAIN_H && split <= series.values.len()).then(|| fit(series, split)) }
    }

    /// True when the boosted trees were trained.
    pub fn trained(&self) -> bool {
        self.model.is_some()
    }

    /// The `hours` after the first `known` hours of `series` (later
    /// values are not read).
    pub fn forecast(&self, series: &Series, known: usize, hours: usize) -> Vec<f64> {
        let mut ext =
            Series { first_hour: series.first_hour, values: series.values[..known.min(series.values.len())].to_vec() };
        let n = ext.values.len();
        for t in n..n + hours {
            let v = match (&self.model, t >= MAX_LAG_H) {
                (Some(m), true) => predict(m, &ext, t),
                _ => seasonal_naive(&ext.values, t),
            };
            ext.values.push(v);
        }
        ext.values.split_off(n)
    }
}

/// The same hour a week before, else a day before, else the mean so far.
fn seasonal_naive(v: &[f64], t: usize) -> f64 {
    if t >= 168 {
        v[t - 168]
    } else if t >= 24 {
        v[t - 24]
    } else if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// A horizon's forecast with its band.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HorizonForecast {
    /// Point forecast per hour.
    pub hours: Vec<f64>,
    /// Quantile level of the band's upper edge.
    pub level: f64,
    /// Lower edge of the total over the point total.
    pub lower_factor: f64,
    /// Upper edge of the total over the point total.
    pub upper_factor: f64,
    /// Actual over forecast totals on the calibration periods.
    pub ratios: Vec<f64>,
    /// How it was made, in words.
    pub method: String,
}

/// The `hours` after the end of `series`, with the band at `level` from
/// the last `periods` horizons of the history.
pub fn horizon(series: &Series, hours: usize, level: f64, periods: usize) -> HorizonForecast {
    let n = series.values.len();
    let model = Ahead::train(series, n);
    let point = model.forecast(series, n, hours);
    let back = periods.min(n / hours.max(1));
    let split = n - back * hours;
    let calib = Ahead::train(series, split);
    let ratios: Vec<f64> = (0..back)
        .filter_map(|i| {
            let start = split + i * hours;
            let forecast: f64 = calib.forecast(series, start, hours).iter().sum();
            let actual: f64 = series.values[start..start + hours].iter().sum();
            (forecast > 0.0).then(|| actual / forecast)
        })
        .collect();
    let quantile = |q: f64| {
        let mut r = ratios.clone();
        r.sort_by(f64::total_cmp);
        match r.len() {
            0 => 1.0,
            len => {
                let pos = q.clamp(0.0, 1.0) * (len - 1) as f64;
                let lo = pos.floor() as usize;
                let hi = (lo + 1).min(len - 1);
                r[lo] + (r[hi] - r[lo]) * (pos - lo as f64)
            }
        }
    };
    let how = |a: &Ahead| {
        if a.trained() {
            "boosted trees on daily and weekly lags"
        } else {
            "seasonal-naive (too little history to train)"
        }
    };
    let method = format!(
        "{} hours ahead, recursively, by {}; band from {} earlier horizon(s) forecast by {}",
        hours,
        how(&model),
        ratios.len(),
        how(&calib)
    );
    HorizonForecast {
        hours: point,
        level,
        lower_factor: quantile(1.0 - level),
        upper_factor: quantile(level),
        ratios,
        method,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_weekly_cycle_is_continued_and_the_band_holds_the_noise() {
        let mut state = 11u64;
        let values: Vec<f64> = (0..24 * 7 * 10)
            .map(|h| {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                let noise = (state >> 61) as f64;
                if h % 24 >= 8 && h % 24 < 18 { 20.0 + noise } else { 2.0 + noise }
            })
            .collect();
        let series = Series { first_hour: 0, values };
        let f = horizon(&series, 168, 0.9, 4);
        assert_eq!((f.hours.len(), f.ratios.len()), (168, 4));
        assert!(f.method.contains("boosted trees"), "{}", f.method);
        let total: f64 = f.hours.iter().sum();
        let week: f64 = series.values[series.values.len() - 168..].iter().sum();
        assert!((total / week - 1.0).abs() < 0.15, "{total} against {week}");
        assert!(f.hours[10] > 3.0 * f.hours[2], "day hours stay busier than night hours: {:?}", &f.hours[..24]);
        assert!(f.lower_factor <= 1.0 + 0.2 && f.upper_factor >= f.lower_factor);
        let short = Series { first_hour: 0, values: series.values[..200].to_vec() };
        let s = horizon(&short, 24, 0.9, 2);
        assert!(s.method.contains("seasonal-naive") && s.hours.len() == 24);
        assert_eq!(s.hours[0], short.values[200 - 168]);
    }
}
