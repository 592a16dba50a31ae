//! Observability: Prometheus metrics (`prometheus-client`) and a health
//! endpoint over HTTP (axum). Spans come from `tracing` in the loop itself.

pub mod http;
pub mod metrics;

pub use metrics::{Histogram, Metrics, Values};
