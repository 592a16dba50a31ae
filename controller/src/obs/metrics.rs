//! The controller's Prometheus metrics: a fixed set, rendered in the text
//! exposition format (version 0.0.4) by hand, with no registry crate.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// A cumulative histogram with fixed upper bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    bounds: Vec<f64>,
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    /// A histogram with the given bucket upper bounds (ascending).
    pub fn new(bounds: &[f64]) -> Self {
        Self { bounds: bounds.to_vec(), counts: vec![0; bounds.len()], sum: 0.0, count: 0 }
    }

    /// Adds one observation.
    pub fn observe(&mut self, v: f64) {
        for (b, c) in self.bounds.iter().zip(self.counts.iter_mut()) {
            if v <= *b {
                *c += 1;
            }
        }
        self.sum += v;
        self.count += 1;
    }

    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.count
    }

    fn render(&self, out: &mut String, name: &str) {
        for (b, c) in self.bounds.iter().zip(&self.counts) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {c}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum {}", self.sum);
        let _ = writeln!(out, "{name}_count {}", self.count);
    }
}

/// The values behind the metrics, read and written under one lock.
#[derive(Debug, Clone)]
pub struct Values {
    /// Pending jobs seen in the last observation.
    pub queue_depth: i64,
    /// Running jobs seen in the last observation.
    pub running_jobs: i64,
    /// Usable nodes seen in the last observation.
    pub nodes: i64,
    /// Decision-cycle latency, seconds.
    pub cycle_latency: Histogram,
    /// Absolute prediction error of finished jobs, seconds.
    pub prediction_error: Histogram,
    /// The drift monitor's rolling (median) relative error.
    pub rolling_error: f64,
    /// 0 closed, 1 half-open, 2 open.
    pub breaker_state: i64,
    /// Breaker transitions, by target state.
    pub breaker_transitions: BTreeMap<String, u64>,
    /// Decisions, by source (`candidate`, `fallback`).
    pub decisions: BTreeMap<String, u64>,
    /// Cycles where the candidate and the baseline would start different jobs.
    pub disagreements: u64,
    /// Cycles that fell back, by reason.
    pub fallbacks: BTreeMap<String, u64>,
    /// Jobs seen to finish.
    pub finished_jobs: u64,
    /// 1 while the orchestrator answers, 0 during an outage.
    pub orchestrator_up: i64,
    /// Failed observations of the orchestrator.
    pub orchestrator_errors: u64,
    /// Records appended to the decision log.
    pub log_records: u64,
    /// Unix time of the last completed cycle.
    pub last_cycle_unix_s: f64,
}

impl Default for Values {
    fn default() -> Self {
        Self {
            queue_depth: 0,
            running_jobs: 0,
            nodes: 0,
            cycle_latency: Histogram::new(&[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0]),
            prediction_error: Histogram::new(&[1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 14400.0]),
            rolling_error: 0.0,
            breaker_state: 0,
            breaker_transitions: BTreeMap::new(),
            decisions: BTreeMap::new(),
            disagreements: 0,
            fallbacks: BTreeMap::new(),
            finished_jobs: 0,
            orchestrator_up: 0,
            orchestrator_errors: 0,
            log_records: 0,
            last_cycle_unix_s: 0.0,
        }
    }
}

/// The metrics, shared between the loop and the HTTP endpoint.
#[derive(Debug, Default)]
pub struct Metrics {
    values: Mutex<Values>,
}

impl Metrics {
    /// Changes the values under the lock.
    pub fn update(&self, f: impl FnOnce(&mut Values)) {
        f(&mut self.values.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// A copy of the current values.
    pub fn snapshot(&self) -> Values {
        self.values.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let v = self.snapshot();
        let mut out = String::new();
        let gauge = |out: &mut String, name: &str, help: &str, value: String| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
        };
        let counter = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
        };
        let labelled = |out: &mut String, name: &str, help: &str, label: &str, map: &BTreeMap<String, u64>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (k, c) in map {
                let _ = writeln!(out, "{name}{{{label}=\"{k}\"}} {c}");
            }
        };
        gauge(&mut out, "foresight_queue_depth", "Pending jobs in the last observation.", v.queue_depth.to_string());
        gauge(&mut out, "foresight_running_jobs", "Running jobs in the last observation.", v.running_jobs.to_string());
        gauge(&mut out, "foresight_nodes", "Usable nodes in the last observation.", v.nodes.to_string());
        let _ = writeln!(out, "# HELP foresight_cycle_latency_seconds Time to decide one cycle.");
        let _ = writeln!(out, "# TYPE foresight_cycle_latency_seconds histogram");
        v.cycle_latency.render(&mut out, "foresight_cycle_latency_seconds");
        let _ = writeln!(out, "# HELP foresight_prediction_error_seconds Absolute runtime prediction error of finished jobs.");
        let _ = writeln!(out, "# TYPE foresight_prediction_error_seconds histogram");
        v.prediction_error.render(&mut out, "foresight_prediction_error_seconds");
        gauge(&mut out, "foresight_prediction_rolling_error", "Rolling median relative prediction error.", v.rolling_error.to_string());
        gauge(&mut out, "foresight_breaker_state", "Circuit breaker: 0 closed, 1 half-open, 2 open.", v.breaker_state.to_string());
        labelled(&mut out, "foresight_breaker_transitions_total", "Breaker transitions by target state.", "to", &v.breaker_transitions);
        labelled(&mut out, "foresight_decisions_total", "Decision cycles by whose decision stood.", "source", &v.decisions);
        labelled(&mut out, "foresight_fallbacks_total", "Cycles decided by the baseline, by reason.", "reason", &v.fallbacks);
        counter(&mut out, "foresight_disagreements_total", "Cycles where candidate and baseline differ.", v.disagreements);
        counter(&mut out, "foresight_finished_jobs_total", "Jobs seen to finish.", v.finished_jobs);
        gauge(&mut out, "foresight_orchestrator_up", "1 while the orchestrator answers.", v.orchestrator_up.to_string());
        counter(&mut out, "foresight_orchestrator_errors_total", "Failed observations of the orchestrator.", v.orchestrator_errors);
        counter(&mut out, "foresight_log_records_total", "Records appended to the decision log.", v.log_records);
        gauge(&mut out, "foresight_last_cycle_timestamp_seconds", "Unix time of the last cycle.", v.last_cycle_unix_s.to_string());
        out
    }
}

/// Adds one to a labelled counter.
pub fn bump(map: &mut BTreeMap<String, u64>, label: &str) {
    *map.entry(label.to_string()).or_default() += 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_text_exposition() {
        let m = Metrics::default();
        m.update(|v| {
            v.queue_depth = 7;
            v.cycle_latency.observe(0.002);
            bump(&mut v.decisions, "fallback");
            bump(&mut v.decisions, "fallback");
            v.breaker_state = 2;
        });
        let text = m.render();
        assert!(text.contains("foresight_queue_depth 7\n"));
        assert!(text.contains("foresight_cycle_latency_seconds_bucket{le=\"0.001\"} 0\n"));
        assert!(text.contains("foresight_cycle_latency_seconds_bucket{le=\"0.0025\"} 1\n"));
        assert!(text.contains("foresight_cycle_latency_seconds_count 1\n"));
        assert!(text.contains("foresight_decisions_total{source=\"fallback\"} 2\n"));
        assert!(text.contains("foresight_breaker_state 2\n"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert_eq!(line.split(' ').count(), 2, "sample line `{line}`");
        }
    }
}
