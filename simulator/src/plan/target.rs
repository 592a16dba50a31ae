//! What a plan must achieve: a target on one wait metric (`p95-wait=1h`),
//! parsed with a precise error, and measured on replayed jobs.

use crate::metrics::{JobMetrics, percentile};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The measure a target bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Metric {
    /// 95th percentile of wait.
    P95Wait,
    /// 99th percentile of wait.
    P99Wait,
    /// Mean wait.
    MeanWait,
    /// Average bounded slowdown.
    AvgBsld,
}

impl Metric {
    /// Every metric, in the order the error lists them.
    pub const ALL: [Metric; 4] = [Metric::P95Wait, Metric::P99Wait, Metric::MeanWait, Metric::AvgBsld];

    /// The metric's name on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Metric::P95Wait => "p95-wait",
            Metric::P99Wait => "p99-wait",
            Metric::MeanWait => "mean-wait",
            Metric::AvgBsld => "avg-bsld",
        }
    }

    /// True for the waits (seconds); false for the slowdown (no unit).
    pub fn is_wait(&self) -> bool {
        !matches!(self, Metric::AvgBsld)
    }

    /// The metric over these jobs' metrics (0 when there is none).
    pub fn of(&self, jobs: &[JobMetrics]) -> f64 {
        if jobs.is_empty() {
            return 0.0;
        }
        let mean = |f: fn(&JobMetrics) -> f64| jobs.iter().map(f).sum::<f64>() / jobs.len() as f64;
        match self {
            Metric::MeanWait => mean(|j| j.wait_s),
            Metric::AvgBsld => mean(|j| j.bsld),
            Metric::P95Wait | Metric::P99Wait => {
                let mut waits: Vec<f64> = jobs.iter().map(|j| j.wait_s).collect();
                waits.sort_by(f64::total_cmp);
                percentile(&waits, if *self == Metric::P95Wait { 0.95 } else { 0.99 })
            }
        }
    }

    /// A value of this metric in words (`1.5 h`, `42 s`, `3.20`).
    pub fn show(&self, v: f64) -> String {
        if !v.is_finite() {
            return "a job does not fit".into();
        }
        if !self.is_wait() {
            return format!("{v:.2}");
        }
        match v {
            v if v >= 3600.0 => format!("{:.2} h", v / 3600.0),
            v if v >= 60.0 => format!("{:.1} min", v / 60.0),
            v => format!("{v:.0} s"),
        }
    }
}

/// A bound on one metric: met when the metric is at most `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// The metric.
    pub metric: Metric,
    /// Its bound (seconds for waits).
    pub limit: f64,
}

impl Target {
    /// True when `value` meets the target.
    pub fn met(&self, value: f64) -> bool {
        value <= self.limit
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} <= {}", self.metric.name(), self.metric.show(self.limit))
    }
}

/// Why a target or a duration does not parse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BadTarget {
    /// No `=`.
    #[error("target `{0}`: expected METRIC=VALUE, e.g. p95-wait=1h")]
    Form(String),
    /// An unknown metric.
    #[error("target `{0}`: unknown metric `{1}`; expected one of p95-wait, p99-wait, mean-wait, avg-bsld")]
    Metric(String, String),
    /// A value that is not a positive number or duration.
    #[error("target `{0}`: bad value `{1}`: expected {2}")]
    Value(String, String, &'static str),
}

/// A duration as `90`, `90s`, `30m`, `1.5h`, `7d` or `2w`, in seconds
/// (`None` when it is not one, or not positive and finite).
pub fn parse_duration(s: &str) -> Option<f64> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let scale = match unit {
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        "w" => 604_800.0,
        _ => return None,
    };
    let v: f64 = num.trim().parse().ok()?;
    (v.is_finite() && v > 0.0).then_some(v * scale)
}

impl FromStr for Target {
    type Err = BadTarget;

    fn from_str(s: &str) -> Result<Self, BadTarget> {
        let (name, value) = s.split_once('=').ok_or_else(|| BadTarget::Form(s.into()))?;
        let metric = Metric::ALL
            .into_iter()
            .find(|m| m.name() == name.trim())
            .ok_or_else(|| BadTarget::Metric(s.into(), name.into()))?;
        let limit = if metric.is_wait() {
            parse_duration(value)
                .ok_or_else(|| BadTarget::Value(s.into(), value.into(), "a positive duration (90s, 30m, 1h, 2d)"))?
        } else {
            value
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 1.0)
                .ok_or_else(|| BadTarget::Value(s.into(), value.into(), "a slowdown of at least 1"))?
        };
        Ok(Target { metric, limit })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_bad_ones_say_why() {
        assert_eq!("p95-wait=1h".parse(), Ok(Target { metric: Metric::P95Wait, limit: 3600.0 }));
        assert_eq!("mean-wait=90".parse(), Ok(Target { metric: Metric::MeanWait, limit: 90.0 }));
        assert_eq!("p99-wait=30m".parse(), Ok(Target { metric: Metric::P99Wait, limit: 1800.0 }));
        assert_eq!("avg-bsld=2.5".parse(), Ok(Target { metric: Metric::AvgBsld, limit: 2.5 }));
        assert!(matches!("p95-wait".parse::<Target>(), Err(BadTarget::Form(_))));
        assert!(matches!("p50-wait=1h".parse::<Target>(), Err(BadTarget::Metric(..))));
        assert!(matches!("p95-wait=1y".parse::<Target>(), Err(BadTarget::Value(..))));
        assert!(matches!("p95-wait=-1h".parse::<Target>(), Err(BadTarget::Value(..))));
        assert!(matches!("avg-bsld=0.5".parse::<Target>(), Err(BadTarget::Value(..))));
        assert_eq!(parse_duration("7d"), Some(604_800.0));
        assert_eq!(parse_duration("nan"), None);
    }

    #[test]
    fn metrics_are_measured_on_jobs() {
        let jobs: Vec<JobMetrics> =
            (0..=100).map(|i| JobMetrics::new(0.0, f64::from(i), f64::from(i) + 100.0)).collect();
        assert_eq!(Metric::P95Wait.of(&jobs), 95.0);
        assert_eq!(Metric::MeanWait.of(&jobs), 50.0);
        assert_eq!(Metric::P99Wait.of(&[]), 0.0);
        assert!(Metric::AvgBsld.of(&jobs) > 1.0);
    }
}
