//! `foresight serve`: a durable, multi-tenant task queue with a gRPC API
//! (tonic) that dispatches with foresight's own policies and predictions,
//! through the one scheduler runtime in `foresight-core`.
//!
//! `pb` is the protocol (`proto/foresight/v1`); `store` what is kept
//! (SQLite or PostgreSQL, behind a trait); `dispatch` the mapping of the queue onto
//! core's runtime and policy; `queue` the rules (idempotency, tenants,
//! leases, retries, dead letters); `auth` tokens and roles; `convert` and
//! `service` the gRPC side; `admin` the administration's service;
//! `metrics` the Prometheus endpoint; `spans` the tracing spans; `server` runs it; `client` is what the CLI
//! connects with.

pub mod admin;
pub mod auth;
pub mod client;
pub mod convert;
pub mod dispatch;
pub mod governance;
pub mod metrics;
pub mod pb;
pub mod queue;
pub mod server;
pub mod service;
pub mod spans;
pub mod store;
