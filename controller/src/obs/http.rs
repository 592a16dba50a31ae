//! A tiny HTTP/1.1 endpoint on a local address: `GET /metrics` (Prometheus
//! text) and `GET /healthz` (JSON). One request per connection; anything
//! else is 404. Enough for a scraper and a probe, without a web framework.

use super::metrics::Metrics;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Binds `addr` and serves until the task is dropped or aborted; returns
/// the bound address (useful with port 0) and the serving task.
pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let metrics = metrics.clone();
            tokio::spawn(async move {
                if let Err(e) = handle(stream, &metrics).await {
                    tracing::debug!(error = %e, "metrics connection failed");
                }
            });
        }
    });
    Ok((bound, task))
}

/// The health document: the process is up; whether the orchestrator
/// answers, the breaker's state and the last cycle's time say how well.
pub fn health_json(metrics: &Metrics) -> String {
    let v = metrics.snapshot();
    let breaker = match v.breaker_state {
        0 => "closed",
        1 => "half_open",
        _ => "open",
    };
    let status = if v.orchestrator_up == 1 && v.breaker_state == 0 { "ok" } else { "degraded" };
    serde_json::json!({
        "status": status,
        "orchestrator_up": v.orchestrator_up == 1,
        "breaker": breaker,
        "last_cycle_unix_s": v.last_cycle_unix_s,
    })
    .to_string()
}

async fn handle(mut stream: TcpStream, metrics: &Metrics) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut chunk))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "request timed out"))??;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let request = String::from_utf8_lossy(&buf);
    let mut words = request.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let (status, ctype, body) = match (method, path) {
        ("GET", "/metrics") => ("200 OK", "text/plain; version=0.0.4", metrics.render()),
        ("GET", "/healthz") => ("200 OK", "application/json", health_json(metrics)),
        _ => ("404 Not Found", "text/plain", "not found\n".to_string()),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

/// Fetches `path` from a local endpoint: a minimal client for tests and for
/// the CLI's own checks. Returns the status code and the body.
pub async fn get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes()).await?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await?;
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "malformed http response");
    let (head, body) = raw.split_once("\r\n\r\n").ok_or_else(bad)?;
    let code = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).ok_or_else(bad)?;
    Ok((code, body.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serves_metrics_health_and_404() {
        let metrics = Arc::new(Metrics::default());
        metrics.update(|v| {
            v.queue_depth = 3;
            v.orchestrator_up = 1;
        });
        let (addr, task) = serve("127.0.0.1:0".parse().unwrap(), metrics).await.unwrap();
        let (code, body) = get(addr, "/metrics").await.unwrap();
        assert_eq!(code, 200);
        assert!(body.contains("foresight_queue_depth 3"));
        let (code, body) = get(addr, "/healthz").await.unwrap();
        assert_eq!(code, 200);
        let health: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(health["status"], "ok");
        assert_eq!(get(addr, "/nope").await.unwrap().0, 404);
        task.abort();
    }
}
