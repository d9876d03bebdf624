//! A minimal HTTP/1.1 endpoint for `/metrics` (Prometheus text format) and
//! `/healthz`. Hand-rolled: two fixed GET routes do not justify an HTTP
//! framework. Each request is read with a size cap and a timeout, answered,
//! and the connection closed.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::state::State;

/// The most a request head may take; longer requests get 431.
const MAX_HEAD: usize = 8 * 1024;
/// A scraper that has not sent its request by then is dropped.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves `/metrics` and `/healthz` on `listener` until shutdown.
pub async fn serve(listener: TcpListener, state: Arc<State>) {
    loop {
        let stream = tokio::select! {
            () = state.shutdown.wait() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "metrics: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            if let Err(error) = answer(stream, &state).await {
                tracing::debug!(%error, "metrics request failed");
            }
        });
    }
}

async fn answer(mut stream: TcpStream, state: &State) -> std::io::Result<()> {
    let head = match tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream)).await {
        Ok(head) => head?,
        Err(_) => return Ok(()),
    };
    let (status, content_type, body) = match head {
        None => (
            "431 Request Header Fields Too Large",
            "text/plain",
            String::new(),
        ),
        Some(head) => route(&head, state),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// The status, content type and body for a request head.
fn route(head: &str, state: &State) -> (&'static str, &'static str, String) {
    let mut words = head.split_ascii_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    match (method, path) {
        ("GET", "/metrics") => (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            state
                .metrics
                .render(state.connection_count(), state.users.len()),
        ),
        ("GET", "/healthz") if state.shutdown.is_started() => (
            "503 Service Unavailable",
            "text/plain",
            "shutting down\n".into(),
        ),
        ("GET", "/healthz") => ("200 OK", "text/plain", "ok\n".into()),
        ("GET", _) => ("404 Not Found", "text/plain", "not found\n".into()),
        _ => (
            "405 Method Not Allowed",
            "text/plain",
            "only GET is served\n".into(),
        ),
    }
}

/// Reads up to the end of the request head. `None`: it is too long.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<Option<String>> {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
        if buf.len() > MAX_HEAD {
            return Ok(None);
        }
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}
