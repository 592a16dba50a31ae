//! `foresight serve`: a durable, multi-tenant task queue with a gRPC API
//! (tonic) that dispatches with foresight's own policies and predictions,
//! through the one scheduler runtime in `foresight-core`.

pub mod pb;
pub mod dispatch;
pub mod store;
pub mod auth;
pub mod queue;
