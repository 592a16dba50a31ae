//! The server's Prometheus metrics and their HTTP endpoint (`--metrics
//! ADDR`, `GET /metrics`), as the controller's `obs` module does them:
//! `prometheus-client` writes the text exposition (version 0.0.4), axum
//! serves it. Latencies and the size of each group commit are histograms
//! the services observe as they answer; the depth of the queue and the
//! leases held per tenant and pool are read from the store at each scrape,
//! and the counters (submits, leases granted, retries, dead letters, every
//! change by kind) are the queue's own counts since the server started.

use crate::service::Shared;
use crate::store::{JobState, Store};
use axum::extract::State;
use axum::http::{StatusCode, header};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, prometheus_text};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// The `Content-Type` of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// Latency buckets, seconds.
const LATENCY_S: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

/// What a scrape reads from the queue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueView {
    /// Queued and leased jobs by tenant, pool and state.
    pub active: Vec<(String, String, JobState, u64)>,
    /// Changes the queue made since it started, by event kind.
    pub changes: BTreeMap<String, u64>,
    /// Submits refused by tenants' limits since it started, by tenant and
    /// reason.
    pub refusals: BTreeMap<(String, String), u64>,
}

/// The server's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    view: Arc<Mutex<QueueView>>,
    /// From a submit's arrival to its answer (its group's commit
    /// included), seconds; acknowledged submits only.
    pub submit_latency: Histogram,
    /// A `Lease` call's time, seconds: the wait for the lock, the policy's
    /// decision and the commit of its leases.
    pub dispatch_latency: Histogram,
    /// Submits committed together, per group commit.
    pub commit_batch: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        let view = Arc::new(Mutex::new(QueueView::default()));
        let submit_latency = Histogram::new(LATENCY_S);
        let dispatch_latency = Histogram::new(LATENCY_S);
        let commit_batch = Histogram::new([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0]);
        let mut registry = Registry::default();
        registry.register(
            "foresight_serve_submit_latency_seconds",
            "From a submit's arrival to its answer, its commit included.",
            submit_latency.clone(),
        );
        registry.register(
            "foresight_serve_dispatch_latency_seconds",
            "Time to answer a Lease call: the policy's decision and the commit of its leases.",
            dispatch_latency.clone(),
        );
        registry.register("foresight_serve_commit_batch_size", "Submits committed together.", commit_batch.clone());
        registry.register_collector(Box::new(Collect(view.clone())));
        Self { registry, view, submit_latency, dispatch_latency, commit_batch }
    }
}

impl Metrics {
    /// Sets what the next render reports of the queue.
    pub fn set_view(&self, view: QueueView) {
        *self.view.lock().unwrap_or_else(|e| e.into_inner()) = view;
    }

    /// The text exposition of every metric ([`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

/// The collector of what is read from the queue at each scrape.
#[derive(Debug)]
struct Collect(Arc<Mutex<QueueView>>);

impl Collector for Collect {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let v = self.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for (name, help, state) in [
            ("foresight_serve_queue_depth", "Queued jobs, by tenant and pool.", JobState::Queued),
            ("foresight_serve_leases_active", "Leased jobs, by tenant and pool.", JobState::Leased),
        ] {
            let mut family = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for (tenant, pool, _, n) in v.active.iter().filter(|a| a.2 == state) {
                let labels = [("tenant", tenant.as_str()), ("pool", pool.as_str())];
                ConstGauge::new(*n as i64).encode(family.encode_family(&labels)?)?;
            }
        }
        // counters are named without `_total`: the library adds it
        for (name, help, kind) in [
            ("foresight_serve_submits", "Jobs created by a submit since the server started.", "submitted"),
            ("foresight_serve_leases_granted", "Leases granted since the server started.", "leased"),
            ("foresight_serve_retries", "Attempts that failed or expired and were retried.", "retry"),
            ("foresight_serve_dead_letters", "Jobs dead-lettered after their last attempt.", "dead"),
        ] {
            let n = v.changes.get(kind).copied().unwrap_or(0);
            ConstCounter::new(n).encode(enc.encode_descriptor(name, help, None, MetricType::Counter)?)?;
        }
        let mut family = enc.encode_descriptor(
            "foresight_serve_changes",
            "Changes the queue wrote since the server started, by kind.",
            None,
            MetricType::Counter,
        )?;
        for (kind, &n) in &v.changes {
            ConstCounter::new(n).encode(family.encode_family(&[("kind", kind.as_str())])?)?;
        }
        let mut family = enc.encode_descriptor(
            "foresight_serve_refusals",
            "Submits refused by a tenant's rate limit or GPU budget since the server started, by tenant and reason.",
            None,
            MetricType::Counter,
        )?;
        for ((tenant, reason), &n) in &v.refusals {
            let labels = [("tenant", tenant.as_str()), ("reason", reason.as_str())];
            ConstCounter::new(n).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

/// Binds `addr` and serves `GET /metrics` for `shared` until the task is
/// aborted; returns the bound address (useful with port 0) and the task.
pub async fn serve_metrics(
    addr: SocketAddr,
    shared: Arc<Shared>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = axum::Router::new().route("/metrics", axum::routing::get(scrape)).with_state(shared);
    let task = tokio::spawn(async move {
        // axum 0.8's serve retries failed accepts and does not return
        let _ = axum::serve(listener, app).await;
    });
    Ok((bound, task))
}

async fn scrape(State(shared): State<Arc<Shared>>) -> (StatusCode, [(header::HeaderName, &'static str); 1], String) {
    let s = shared.clone();
    let view = tokio::task::spawn_blocking(move || {
        let mut q = s.queue.lock().unwrap_or_else(|p| p.into_inner());
        let (changes, refusals) = (q.changes().clone(), q.refusals().counts().clone());
        q.store().active_counts().map(|active| QueueView { active, changes, refusals })
    })
    .await;
    match view {
        Ok(Ok(view)) => {
            shared.metrics.set_view(view);
            (StatusCode::OK, [(header::CONTENT_TYPE, CONTENT_TYPE)], shared.metrics.render())
        }
        Ok(Err(e)) => (StatusCode::INTERNAL_SERVER_ERROR, [(header::CONTENT_TYPE, "text/plain")], e.to_string()),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, [(header::CONTENT_TYPE, "text/plain")], e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_depth_per_tenant_and_pool_counters_and_histograms() {
        let m = Metrics::default();
        m.submit_latency.observe(0.003);
        m.commit_batch.observe(40.0);
        m.set_view(QueueView {
            active: vec![
                ("acme".into(), "gpu".into(), JobState::Queued, 3),
                ("acme".into(), "gpu".into(), JobState::Leased, 1),
                ("globex".into(), "default".into(), JobState::Queued, 2),
            ],
            changes: [("submitted".to_string(), 6), ("dead".to_string(), 1)].into_iter().collect(),
            refusals: [(("acme".to_string(), "rate_limit".to_string()), 2)].into_iter().collect(),
        });
        let text = m.render();
        for want in [
            "foresight_serve_queue_depth{tenant=\"acme\",pool=\"gpu\"} 3",
            "foresight_serve_queue_depth{tenant=\"globex\",pool=\"default\"} 2",
            "foresight_serve_leases_active{tenant=\"acme\",pool=\"gpu\"} 1",
            "foresight_serve_submits_total 6",
            "foresight_serve_dead_letters_total 1",
            "foresight_serve_retries_total 0",
            "foresight_serve_changes_total{kind=\"dead\"} 1",
            "foresight_serve_refusals_total{tenant=\"acme\",reason=\"rate_limit\"} 2",
            "foresight_serve_submit_latency_seconds_count 1",
            "foresight_serve_submit_latency_seconds_bucket{le=\"0.005\"} 1",
            "foresight_serve_commit_batch_size_sum 40.0",
            "# TYPE foresight_serve_dispatch_latency_seconds histogram",
        ] {
            assert!(text.contains(want), "{want} not in\n{text}");
        }
        assert!(!text.contains("leases_active{tenant=\"globex\""), "no row where nothing is leased");
    }
}
