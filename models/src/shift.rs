//! A point estimate moved to a chosen quantile of the model's own recent
//! errors, by the estimate's magnitude.
//!
//! A model trained on log runtimes predicts something like a conditional
//! median (or a geometric mean): on a log whose jobs either stop early or
//! run long, it is biased low for long jobs, and an under-predicted
//! backfill is what delays the first blocked job. [`QuantileShift`] learns,
//! causally (only from jobs that have ended), the `q`-quantile of
//! `ln(actual / predicted)` among the recent jobs whose prediction fell in
//! the same magnitude band, and multiplies a new prediction by its
//! exponential: with `q = 0.5` the estimate is median-unbiased in its band,
//! with a larger `q` it errs long that share of the time.

use std::collections::VecDeque;

/// The bands' upper edges, in seconds of predicted runtime: under a
/// minute, ten minutes, an hour, four hours, a day, and longer.
const BAND_EDGES_S: [f64; 5] = [60.0, 600.0, 3_600.0, 14_400.0, 86_400.0];

/// Errors a band needs before its own quantile is used (else the pooled
/// one is, else none).
pub const MIN_BAND_ERRORS: usize = 30;

/// New errors in a window before its quantile is taken again.
const REFRESH_EVERY: usize = 16;

/// One sliding window of log errors and its quantile, taken lazily.
#[derive(Debug, Clone)]
struct Window {
    errors: VecDeque<f64>,
    capacity: usize,
    since: usize,
    quantile: Option<f64>,
    scratch: Vec<f64>,
}

impl Window {
    fn new(capacity: usize) -> Self {
        Self { errors: VecDeque::new(), capacity: capacity.max(1), since: 0, quantile: None, scratch: Vec::new() }
    }

    fn push(&mut self, e: f64) {
        if self.errors.len() == self.capacity {
            self.errors.pop_front();
        }
        self.errors.push_back(e);
        self.since += 1;
    }

    fn quantile(&mut self, q: f64, min: usize) -> Option<f64> {
        if self.errors.len() < min {
            return None;
        }
        if self.quantile.is_none() || self.since >= REFRESH_EVERY {
            self.scratch.clear();
            self.scratch.extend(self.errors.iter().copied());
            let k = ((q * self.scratch.len() as f64).ceil() as usize).clamp(1, self.scratch.len()) - 1;
            let (_, v, _) = self.scratch.select_nth_unstable_by(k, f64::total_cmp);
            self.quantile = Some(*v);
            self.since = 0;
        }
        self.quantile
    }
}

/// The shift (see the module's documentation).
#[derive(Debug, Clone)]
pub struct QuantileShift {
    q: f64,
    bands: Vec<Window>,
    pooled: Window,
}

fn band(predicted_s: f64) -> usize {
    BAND_EDGES_S.iter().position(|&e| predicted_s < e).unwrap_or(BAND_EDGES_S.len())
}

impl QuantileShift {
    /// A shift to quantile `q` (in `(0, 1)`) of the last `window` errors of
    /// each band.
    pub fn new(q: f64, window: usize) -> Self {
        Self { q, bands: (0..=BAND_EDGES_S.len()).map(|_| Window::new(window)).collect(), pooled: Window::new(window) }
    }

    /// The quantile the estimates are moved to.
    pub fn q(&self) -> f64 {
        self.q
    }

    /// A job predicted `predicted_s` ended; `error` is
    /// [`crate::interval::log_error`] of that prediction.
    pub fn observe(&mut self, predicted_s: f64, error: f64) {
        if !error.is_finite() || !predicted_s.is_finite() {
            return;
        }
        self.bands[band(predicted_s)].push(error);
        self.pooled.push(error);
    }

    /// `predicted_s` moved by its band's quantile (the pooled one while the
    /// band has too few errors; unmoved before any).
    pub fn apply(&mut self, predicted_s: f64) -> f64 {
        let b = band(predicted_s);
        let shift =
            self.bands[b].quantile(self.q, MIN_BAND_ERRORS).or_else(|| self.pooled.quantile(self.q, MIN_BAND_ERRORS));
        match shift {
            Some(s) => predicted_s * s.exp(),
            None => predicted_s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_band_biased_low_is_moved_up_to_its_quantile_and_the_others_keep_theirs() {
        let mut s = QuantileShift::new(0.5, 1000);
        assert_eq!(s.apply(1000.0), 1000.0, "no error seen: unmoved");
        // jobs predicted 1000 s ran 2000 s; jobs predicted 10 s ran 10 s
        for _ in 0..40 {
            s.observe(1000.0, 2f64.ln());
            s.observe(10.0, 0.0);
        }
        assert!((s.apply(1500.0) - 3000.0).abs() < 1e-6);
        assert!((s.apply(20.0) - 20.0).abs() < 1e-9);
        // a band with no errors of its own takes the pooled median: half
        // the errors are ln 2, half 0, the median rank is the 40th: 0
        assert!((s.apply(50_000.0) - 50_000.0).abs() < 1e-6);
    }

    #[test]
    fn a_higher_quantile_errs_long_more_often() {
        let mut lo = QuantileShift::new(0.5, 1000);
        let mut hi = QuantileShift::new(0.8, 1000);
        for i in 0..100 {
            let e = (i as f64 / 100.0) - 0.5;
            lo.observe(100.0, e);
            hi.observe(100.0, e);
        }
        assert!(hi.apply(100.0) > lo.apply(100.0));
    }
}
