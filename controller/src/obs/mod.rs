//! Observability: Prometheus metrics and a health endpoint over a tiny
//! local HTTP server. Spans come from `tracing` in the loop itself.

pub mod http;
pub mod metrics;

pub use metrics::{Histogram, Metrics, Values};
