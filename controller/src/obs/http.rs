//! The metrics and health endpoint, served by axum (HTTP/1.1 on tokio):
//! `GET /metrics` (Prometheus text) and `GET /healthz` (JSON: 200 while
//! healthy, 503 with the reason while the breaker is not closed, no cycle
//! has run for a while, or the orchestrator does not answer); any other
//! path is 404.
//!
//! Out of file handles (`EMFILE`), `accept` fails; `axum::serve` logs the
//! error and sleeps a second before it accepts again (its
//! `handle_accept_error`), so the loop neither dies nor spins
//! (`tests/accept_out_of_files.rs`). It sets no header-read timeout: a
//! client that connects and sends nothing holds its handle until it goes.

use super::metrics::{self, Metrics, Values};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::routing::get as route_get;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

/// No cycle for this long fails the health check: twelve of the
/// default timer's cycles (every 10 s), which run while the orchestrator
/// answers. [`serve_with`] takes another.
pub const STALE_AFTER: Duration = Duration::from_secs(120);

/// What the handlers share.
#[derive(Clone)]
struct App {
    metrics: Arc<Metrics>,
    stale_after: Duration,
}

/// Binds `addr` and serves until the task is dropped or aborted; returns
/// the bound address (useful with port 0) and the serving task. The health
/// check fails after [`STALE_AFTER`] without a cycle.
pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    serve_with(addr, metrics, STALE_AFTER).await
}

/// [`serve`], with the health check failing after `stale_after` without a
/// cycle (the controller's loop may pass a multiple of its timer).
pub async fn serve_with(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    stale_after: Duration,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    serve_beside(addr, metrics, stale_after, None).await
}

/// [`serve_with`], with more routes beside (the operators' API).
pub async fn serve_beside(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    stale_after: Duration,
    more: Option<axum::Router>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let mut app = axum::Router::new()
        .route("/metrics", route_get(scrape))
        .route("/healthz", route_get(healthz))
        .with_state(App { metrics, stale_after });
    if let Some(more) = more {
        app = app.merge(more);
    }
    let task = tokio::spawn(async move {
        // axum 0.8's serve never returns (it retries every failed accept);
        // should a later one give up, the log says so
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "metrics endpoint stopped");
        }
    });
    Ok((bound, task))
}

async fn scrape(State(app): State<App>) -> ([(header::HeaderName, &'static str); 1], String) {
    ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], app.metrics.render())
}

async fn healthz(State(app): State<App>) -> (StatusCode, [(header::HeaderName, &'static str); 1], String) {
    let (healthy, body) = health(&app.metrics, app.stale_after);
    let code = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, [(header::CONTENT_TYPE, "application/json")], body)
}

/// Why the controller fails its health check (`/healthz` answers 503), or
/// `None` while it passes: the breaker not closed (the baseline decides; a
/// missing model opens it, as a failing or late one does), or no cycle for
/// `stale_after` (`since_last_cycle` ago).
pub fn degraded(v: &Values, since_last_cycle: Duration, stale_after: Duration) -> Option<String> {
    let mut why = Vec::new();
    match v.breaker_state {
        0 => {}
        1 => why.push("circuit breaker half-open".to_string()),
        _ => why.push("circuit breaker open: the model is missing, failing or late".to_string()),
    }
    if since_last_cycle >= stale_after {
        why.push(format!("no cycle for {} s", since_last_cycle.as_secs()));
    }
    (!why.is_empty()).then(|| why.join("; "))
}

/// Whether the controller passes its health check, and the health
/// document: `status` is `degraded`, with the `reason`, and the check fails
/// (503), when the breaker is not closed, no cycle ran for `stale_after`,
/// or the orchestrator does not answer (the controller is sound and waits,
/// but sees nothing it could act on).
pub fn health(metrics: &Metrics, stale_after: Duration) -> (bool, String) {
    let v = metrics.snapshot();
    let since = metrics.since_last_cycle();
    let failing = degraded(&v, since, stale_after);
    let outage = (v.orchestrator_up != 1).then_some("orchestrator unreachable");
    let reason = match (&failing, outage) {
        (Some(f), Some(o)) => Some(format!("{f}; {o}")),
        (Some(f), None) => Some(f.clone()),
        (None, o) => o.map(str::to_string),
    };
    let breaker = match v.breaker_state {
        0 => "closed",
        1 => "half_open",
        _ => "open",
    };
    let doc = serde_json::json!({
        "status": if reason.is_none() { "ok" } else { "degraded" },
        "reason": reason,
        "orchestrator_up": v.orchestrator_up == 1,
        "breaker": breaker,
        "last_cycle_unix_s": v.last_cycle_unix_s,
        "since_last_cycle_s": since.as_secs_f64(),
    });
    (reason.is_none(), doc.to_string())
}

/// The health document with the default [`STALE_AFTER`].
pub fn health_json(metrics: &Metrics) -> String {
    health(metrics, STALE_AFTER).1
}

/// Fetches `path` from a local endpoint over one HTTP/1.1 connection
/// (hyper's client): for tests and for the CLI's own checks. Returns the
/// status code and the body.
pub async fn get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    request(addr, "GET", path, None, "").await
}

/// Sends one request with `method` to a local endpoint, with a bearer
/// token when given and `body` (text); returns the status and the body.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> std::io::Result<(u16, String)> {
    let stream = TcpStream::connect(addr).await?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(std::io::Error::other)?;
    let mut builder = hyper::Request::builder().method(method).uri(path).header(header::HOST, addr.to_string());
    if let Some(t) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let request = builder.body(Full::new(Bytes::from(body.to_string()))).map_err(std::io::Error::other)?;
    let exchange = async move {
        let response = sender.send_request(request).await?;
        let code = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        Ok::<_, hyper::Error>((code, body))
        // the sender drops here, which lets the connection end
    };
    let (answer, _) = tokio::join!(exchange, conn);
    let (code, body) = answer.map_err(std::io::Error::other)?;
    Ok((code, String::from_utf8_lossy(&body).into_owned()))
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
