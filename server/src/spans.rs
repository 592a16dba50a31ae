//! Tracing spans (the `tracing` crate): one per RPC, named `rpc`, with the
//! service, the method, and, once known, the caller's tenant and the job's
//! id; the dispatcher opens one per decision, named `dispatch`
//! (`queue/admin.rs`). Both are at the debug level: a binary shows them with
//! `RUST_LOG=foresight_server=debug` (the subscriber is the binary's).

use tracing::field::Empty;

/// The span of one RPC, from its request's path (`/foresight.v1.Jobs/Submit`).
pub fn rpc_span<B>(req: &tonic::codegen::http::Request<B>) -> tracing::Span {
    let path = req.uri().path().trim_start_matches('/');
    let (service, method) = path.split_once('/').unwrap_or((path, ""));
    tracing::debug_span!("rpc", service, method, tenant = Empty, job_id = Empty)
}

/// Records the caller's tenant in the current RPC's span.
pub fn record_tenant(tenant: &str) {
    tracing::Span::current().record("tenant", tenant);
}

/// Records the job's id in the current RPC's span.
pub fn record_job(id: u64) {
    if id != 0 {
        tracing::Span::current().record("job_id", id);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_span_names_the_service_and_method() {
        let req = tonic::codegen::http::Request::builder().uri("/foresight.v1.Jobs/Submit").body(()).unwrap();
        // without a subscriber the span is disabled, but its metadata is built
        let span = super::rpc_span(&req);
        if let Some(m) = span.metadata() {
            assert_eq!(m.name(), "rpc");
            assert!(m.fields().field("method").is_some() && m.fields().field("tenant").is_some());
        }
    }
}
