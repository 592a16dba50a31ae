//! The circuit breaker around the candidate's model, and the drift monitor
//! that feeds it.
//!
//! Closed: the candidate decides. A failure (model missing, error, missed
//! deadline, rolling error past its threshold) opens it: the baseline
//! decides, and after a cool-down one cycle tries the candidate again
//! (half-open); success closes the breaker, failure opens it again.
//! The breaker is pure: it is told the time, so paused-clock tests drive it.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;
use tokio::time::Instant;

/// Why the candidate was not trusted this cycle.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// No model is loaded (or it could not be read).
    ModelMissing(String),
    /// The predictor or policy returned an error.
    ModelError(String),
    /// A part of the candidate (its policy or its model) panicked.
    Panic(String),
    /// The candidate did not answer within the per-cycle deadline.
    Deadline {
        /// The deadline it missed.
        limit: Duration,
    },
    /// The rolling prediction error passed its threshold.
    Drift {
        /// The rolling error.
        error: f64,
        /// The threshold.
        threshold: f64,
    },
}

impl Failure {
    /// A short label for metrics (`model_missing`, `model_error`, `panic`, `deadline`, `drift`).
    pub fn label(&self) -> &'static str {
        match self {
            Failure::ModelMissing(_) => "model_missing",
            Failure::ModelError(_) => "model_error",
            Failure::Panic(_) => "panic",
            Failure::Deadline { .. } => "deadline",
            Failure::Drift { .. } => "drift",
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::ModelMissing(why) => write!(f, "model missing: {why}"),
            Failure::ModelError(why) => write!(f, "model error: {why}"),
            Failure::Panic(why) => write!(f, "panic: {why}"),
            Failure::Deadline { limit } => write!(f, "model missed its {} ms deadline", limit.as_millis()),
            Failure::Drift { error, threshold } => {
                write!(f, "rolling prediction error {error:.3} passed threshold {threshold:.3}")
            }
        }
    }
}

/// The breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// The candidate decides.
    Closed,
    /// The baseline decides until the cool-down ends.
    Open {
        /// When the next trial may happen.
        until: Instant,
    },
    /// One trial of the candidate is under way.
    HalfOpen,
}

impl BreakerState {
    /// `closed`, `open` or `half_open`.
    pub fn name(&self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open { .. } => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }

    /// The value of the breaker-state gauge: 0 closed, 1 half-open, 2 open.
    pub fn gauge(&self) -> i64 {
        match self {
            BreakerState::Closed => 0,
            BreakerState::HalfOpen => 1,
            BreakerState::Open { .. } => 2,
        }
    }
}

/// A change of state, for the log and the metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// The state before.
    pub from: &'static str,
    /// The state after.
    pub to: &'static str,
    /// Why.
    pub reason: String,
}

/// Whether to ask the candidate this cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Permit {
    /// Ask it; its answer stands.
    Candidate,
    /// Ask it as the half-open trial.
    Trial,
    /// Do not ask it; the baseline decides.
    Fallback,
}

/// A circuit breaker with a fixed cool-down.
#[derive(Debug, Clone)]
pub struct Breaker {
    state: BreakerState,
    cooldown: Duration,
}

impl Breaker {
    /// A closed breaker that waits `cooldown` before each half-open trial.
    pub fn new(cooldown: Duration) -> Self {
        Self { state: BreakerState::Closed, cooldown }
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// Decides whether the candidate may run at `now`; moves an open
    /// breaker whose cool-down has passed to half-open.
    pub fn permit(&mut self, now: Instant) -> (Permit, Option<Transition>) {
        match self.state {
            BreakerState::Closed => (Permit::Candidate, None),
            BreakerState::HalfOpen => (Permit::Trial, None),
            BreakerState::Open { until } if now >= until => {
                self.state = BreakerState::HalfOpen;
                (Permit::Trial, Some(self.transition("open", "cool-down over: trying the candidate")))
            }
            BreakerState::Open { .. } => (Permit::Fallback, None),
        }
    }

    /// The candidate answered in time and well.
    pub fn on_success(&mut self) -> Option<Transition> {
        match self.state {
            BreakerState::HalfOpen => {
                self.state = BreakerState::Closed;
                Some(self.transition("half_open", "trial succeeded"))
            }
            _ => None,
        }
    }

    /// The candidate failed at `now`: open (again) for a cool-down.
    pub fn on_failure(&mut self, now: Instant, failure: &Failure) -> Option<Transition> {
        let from = self.state.name();
        let was_open = matches!(self.state, BreakerState::Open { .. });
        self.state = BreakerState::Open { until: now + self.cooldown };
        (!was_open).then(|| self.transition(from, &failure.to_string()))
    }

    fn transition(&self, from: &'static str, reason: &str) -> Transition {
        Transition { from, to: self.state.name(), reason: reason.to_string() }
    }
}

/// The rolling prediction error of the last finished jobs.
///
/// The error of one job is `|predicted - actual| / max(actual, floor_s)`,
/// a relative error that does not explode for very short jobs; the rolling
/// error is the median of the window, so that one job predicted at a
/// year-long limit does not trip the breaker alone.
#[derive(Debug, Clone)]
pub struct DriftMonitor {
    window: usize,
    min_samples: usize,
    threshold: f64,
    floor_s: f64,
    errors: VecDeque<f64>,
}

impl DriftMonitor {
    /// A monitor over the last `window` jobs that trips when their mean
    /// relative error passes `threshold`, once it has `min_samples`.
    pub fn new(window: usize, min_samples: usize, threshold: f64) -> Self {
        Self { window: window.max(1), min_samples: min_samples.max(1), threshold, floor_s: 1.0, errors: VecDeque::new() }
    }

    /// Records one finished job; returns its relative error.
    pub fn record(&mut self, predicted_s: f64, actual_s: f64) -> f64 {
        let err = (predicted_s - actual_s).abs() / actual_s.max(self.floor_s);
        if self.errors.len() == self.window {
            self.errors.pop_front();
        }
        self.errors.push_back(err);
        err
    }

    /// The median relative error of the window, when it holds any sample.
    pub fn rolling_error(&self) -> Option<f64> {
        let mut v: Vec<f64> = self.errors.iter().copied().collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
    }

    /// A drift failure when the window is full enough and past the threshold.
    pub fn check(&self) -> Option<Failure> {
        let error = self.rolling_error()?;
        (self.errors.len() >= self.min_samples && error > self.threshold)
            .then_some(Failure::Drift { error, threshold: self.threshold })
    }

    /// Forgets the window (after the breaker opened on drift, so that the
    /// trial is judged on fresh jobs).
    pub fn reset(&mut self) {
        self.errors.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_on_failure_falls_back_then_half_opens_and_closes() {
        let t0 = Instant::now();
        let mut b = Breaker::new(Duration::from_secs(10));
        assert_eq!(b.permit(t0).0, Permit::Candidate);
        let tr = b.on_failure(t0, &Failure::Deadline { limit: Duration::from_millis(50) }).unwrap();
        assert_eq!((tr.from, tr.to), ("closed", "open"));
        assert!(tr.reason.contains("50 ms deadline"));
        assert_eq!(b.permit(t0 + Duration::from_secs(5)), (Permit::Fallback, None));
        let (p, tr) = b.permit(t0 + Duration::from_secs(10));
        assert_eq!((p, tr.unwrap().to), (Permit::Trial, "half_open"));
        assert_eq!(b.on_success().unwrap().to, "closed");
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn a_failed_trial_opens_again_for_a_new_cool_down() {
        let t0 = Instant::now();
        let mut b = Breaker::new(Duration::from_secs(10));
        let fail = Failure::ModelError("boom".into());
        b.on_failure(t0, &fail);
        let _ = b.permit(t0 + Duration::from_secs(11));
        let tr = b.on_failure(t0 + Duration::from_secs(11), &fail).unwrap();
        assert_eq!((tr.from, tr.to), ("half_open", "open"));
        assert_eq!(b.permit(t0 + Duration::from_secs(20)).0, Permit::Fallback);
        assert_eq!(b.on_failure(t0 + Duration::from_secs(20), &fail), None, "already open: no new transition");
    }

    #[test]
    fn drift_trips_past_threshold_with_enough_samples() {
        let mut d = DriftMonitor::new(4, 2, 0.5);
        assert_eq!(d.record(10.0, 10.0), 0.0);
        assert_eq!(d.check(), None);
        d.record(30.0, 10.0); // error 2.0
        let Some(Failure::Drift { error, .. }) = d.check() else { panic!("should trip") };
        assert!((error - 1.0).abs() < 1e-9);
        for _ in 0..4 {
            d.record(10.0, 10.0);
        }
        assert_eq!(d.check(), None, "old errors leave the window");
        assert_eq!(d.record(0.5, 0.1), 0.4, "floor of one second for tiny jobs");
        d.record(1e6, 1.0);
        assert!(d.rolling_error().unwrap() < 0.5, "one outlier does not move the median");
        d.reset();
        assert_eq!(d.rolling_error(), None);
    }
}
