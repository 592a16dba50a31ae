//! The controller's Prometheus metrics. The loop writes plain [`Values`]
//! under one lock ([`Metrics::update`]); a scrape reads a copy of them
//! through a `prometheus-client` collector, and the library writes the
//! text exposition (version 0.0.4): names, types, help, label escaping,
//! histogram buckets.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, prometheus_text};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The `Content-Type` of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// A cumulative histogram with fixed upper bounds: `prometheus-client`'s,
/// shared between its clones (a [`Metrics::snapshot`] sees it live).
#[derive(Debug, Clone)]
pub struct Histogram(prometheus_client::metrics::histogram::Histogram);

impl Histogram {
    /// A histogram with the given bucket upper bounds (ascending).
    pub fn new(bounds: &[f64]) -> Self {
        Self(prometheus_client::metrics::histogram::Histogram::new(bounds.iter().copied()))
    }

    /// Adds one observation.
    pub fn observe(&mut self, v: f64) {
        self.0.observe(v);
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
    /// The mode: 0 shadow, 1 advise, 2 enforce.
    pub mode: i64,
    /// Gates foresight holds on pending jobs.
    pub gates_open: i64,
    /// Actions that took effect, by kind (`gate`, `lift`, `site_factor`).
    pub actions_taken: BTreeMap<String, u64>,
    /// Actions that failed, by kind.
    pub actions_failed: BTreeMap<String, u64>,
    /// Seconds from a job's submission to foresight's first decision on it
    /// carried out (enforce) or proposed (advise).
    pub decision_delay: Histogram,
    /// Advise mode's proposals and verdicts, by verdict.
    pub advice: BTreeMap<String, u64>,
    /// Accepted mode switches.
    pub mode_switches: u64,
    /// Changes refused for want of an operator's credential.
    pub refused: u64,
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
            mode: 0,
            gates_open: 0,
            actions_taken: BTreeMap::new(),
            actions_failed: BTreeMap::new(),
            decision_delay: Histogram::new(&[0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0]),
            advice: BTreeMap::new(),
            mode_switches: 0,
            refused: 0,
        }
    }
}

/// The values and when a cycle last changed `last_cycle_unix_s`, on the
/// monotonic clock (the cycle's own time is the orchestrator's).
#[derive(Debug)]
struct Shared {
    values: Values,
    last_cycle: Instant,
}

/// The metrics, shared between the loop and the HTTP endpoint.
#[derive(Debug)]
pub struct Metrics {
    shared: Arc<Mutex<Shared>>,
    registry: Registry,
}

impl Default for Metrics {
    fn default() -> Self {
        let shared = Arc::new(Mutex::new(Shared { values: Values::default(), last_cycle: Instant::now() }));
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Collect(shared.clone())));
        Self { shared, registry }
    }
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the values under the lock.
    pub fn update(&self, f: impl FnOnce(&mut Values)) {
        let mut shared = self.lock();
        let before = shared.values.last_cycle_unix_s;
        f(&mut shared.values);
        if shared.values.last_cycle_unix_s.to_bits() != before.to_bits() {
            shared.last_cycle = Instant::now();
        }
    }

    /// A copy of the current values (the histograms are shared, not copied).
    pub fn snapshot(&self) -> Values {
        self.lock().values.clone()
    }

    /// How long since a cycle last completed, or since these metrics were
    /// made when none has: wall time on the monotonic clock.
    pub fn since_last_cycle(&self) -> Duration {
        self.lock().last_cycle.elapsed()
    }

    /// The text exposition of every metric ([`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

/// Adds one to a labelled counter.
pub fn bump(map: &mut BTreeMap<String, u64>, label: &str) {
    if let Some(c) = map.get_mut(label) {
        *c += 1;
    } else {
        map.insert(label.to_string(), 1);
    }
}

/// The collector a scrape asks: it encodes a copy of the values, taken
/// under the lock, as the library's constant metrics and label families.
#[derive(Debug)]
struct Collect(Arc<Mutex<Shared>>);

impl Collector for Collect {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let v = self.0.lock().unwrap_or_else(|e| e.into_inner()).values.clone();
        for (name, help, value) in [
            ("foresight_queue_depth", "Pending jobs in the last observation.", v.queue_depth),
            ("foresight_running_jobs", "Running jobs in the last observation.", v.running_jobs),
            ("foresight_nodes", "Usable nodes in the last observation.", v.nodes),
            ("foresight_breaker_state", "Circuit breaker: 0 closed, 1 half-open, 2 open.", v.breaker_state),
            ("foresight_orchestrator_up", "1 while the orchestrator answers.", v.orchestrator_up),
            ("foresight_mode", "Mode: 0 shadow, 1 advise, 2 enforce.", v.mode),
            ("foresight_gates_open", "Gates foresight holds on pending jobs.", v.gates_open),
        ] {
            one(&mut enc, name, help, &ConstGauge::new(value))?;
        }
        for (name, help, value) in [
            ("foresight_prediction_rolling_error", "Rolling median relative prediction error.", v.rolling_error),
            ("foresight_last_cycle_timestamp_seconds", "Unix time of the last cycle.", v.last_cycle_unix_s),
        ] {
            one(&mut enc, name, help, &ConstGauge::new(value))?;
        }
        // counters are named without `_total`: the library adds it
        for (name, help, value) in [
            ("foresight_disagreements", "Cycles where candidate and baseline differ.", v.disagreements),
            ("foresight_finished_jobs", "Jobs seen to finish.", v.finished_jobs),
            ("foresight_orchestrator_errors", "Failed observations of the orchestrator.", v.orchestrator_errors),
            ("foresight_log_records", "Records appended to the decision log.", v.log_records),
            ("foresight_mode_switches", "Accepted mode switches.", v.mode_switches),
            ("foresight_operator_refused", "Changes refused for want of an operator's credential.", v.refused),
        ] {
            one(&mut enc, name, help, &ConstCounter::new(value))?;
        }
        for (name, help, label, map) in [
            ("foresight_breaker_transitions", "Breaker transitions by target state.", "to", &v.breaker_transitions),
            ("foresight_decisions", "Decision cycles by whose decision stood.", "source", &v.decisions),
            ("foresight_fallbacks", "Cycles decided by the baseline, by reason.", "reason", &v.fallbacks),
            ("foresight_actions_taken", "Actions on the orchestrator that took effect, by kind.", "act", &v.actions_taken),
            ("foresight_actions_failed", "Actions on the orchestrator that failed, by kind.", "act", &v.actions_failed),
            ("foresight_advice", "Advise-mode proposals and verdicts, by verdict.", "verdict", &v.advice),
        ] {
            let mut family = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
            for (value, &count) in map {
                ConstCounter::new(count).encode(family.encode_family(&[(label, value.as_str())])?)?;
            }
        }
        for (name, help, h) in [
            ("foresight_cycle_latency_seconds", "Time to decide one cycle.", &v.cycle_latency),
            ("foresight_prediction_error_seconds", "Absolute runtime prediction error of finished jobs.", &v.prediction_error),
            ("foresight_decision_delay_seconds", "From a job's submission to foresight's first decision on it carried out or proposed.", &v.decision_delay),
        ] {
            one(&mut enc, name, help, &h.0)?;
        }
        Ok(())
    }
}

/// Encodes one unlabelled metric under its descriptor.
fn one(enc: &mut DescriptorEncoder, name: &str, help: &str, metric: &impl EncodeMetric) -> Result<(), std::fmt::Error> {
    metric.encode(enc.encode_descriptor(name, help, None, metric.metric_type())?)
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
