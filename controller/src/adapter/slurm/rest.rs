//! A minimal HTTP/1.0 GET over a Unix socket, for `slurmrestd`.
//! HTTP/1.0 keeps the answer unchunked and ends it by closing.

use crate::adapter::AdapterError;
use std::path::Path;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

/// GETs `path` from the server on `socket`; the body of a 2xx answer.
pub async fn get(socket: &Path, path: &str) -> Result<String, AdapterError> {
    let endpoint = format!("unix:{}{path}", socket.display());
    let fail = |detail: String| AdapterError::Rest { endpoint: endpoint.clone(), detail };
    let mut stream = UnixStream::connect(socket).await.map_err(|e| fail(e.to_string()))?;
    let req = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\nAccept: application/json\r\n\r\n");
    stream.write_all(req.as_bytes()).await.map_err(|e| fail(e.to_string()))?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.map_err(|e| fail(e.to_string()))?;
    let raw = String::from_utf8(raw).map_err(|e| fail(e.to_string()))?;
    let (head, body) = raw.split_once("\r\n\r\n").ok_or_else(|| fail("no end of headers".into()))?;
    let status = head.split_whitespace().nth(1).unwrap_or("");
    if !status.starts_with('2') {
        return Err(fail(format!("status {status}: {}", body.chars().take(200).collect::<String>())));
    }
    Ok(body_of(head, body).to_string())
}

/// The body as long as `Content-Length` says: slurmrestd 22.05 writes a
/// stray `Connection: Close` line after the body of an HTTP/1.0 answer.
fn body_of<'a>(head: &str, body: &'a str) -> &'a str {
    let len = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim().eq_ignore_ascii_case("content-length").then(|| value.trim().parse::<usize>().ok())?
    });
    match len {
        Some(n) if n <= body.len() && body.is_char_boundary(n) => &body[..n],
        _ => body,
    }
}

#[cfg(test)]
mod tests {
    use super::body_of;

    #[test]
    fn the_body_stops_at_its_content_length() {
        let head = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json";
        assert_eq!(body_of(head, "{}Connection: Close\r\n"), "{}");
        assert_eq!(body_of("HTTP/1.0 200 OK", "{}"), "{}");
    }
}
