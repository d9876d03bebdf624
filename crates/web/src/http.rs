//! The web listener: HTTP/1.1 (plain, or TLS with the server's
//! certificate), the web client's files with their security headers, and
//! the WebSocket handshake at `/ws`, and IRC over WebSocket at `/` and
//! `/irc` (`crate::irc`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State as Extract};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chinwag_core::state::State;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::forwarded::TrustedProxies;
use crate::{assets, driver, origin, protocol};

/// What every page and file is sent with: nothing but this server's own
/// files may run or be loaded, no other site may frame it, and no address
/// leaks in a Referer.
const SECURITY_HEADERS: &[(&str, &str)] = &[
    (
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
         connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    (
        "permissions-policy",
        "camera=(), microphone=(), geolocation=()",
    ),
];

/// Time allowed to send a request's headers (a connection that dawdles is
/// closed) and to finish a TLS handshake.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The web listener, bound and configured, ready to serve.
pub struct Web {
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    proxies: TrustedProxies,
}

/// What the handlers share.
#[derive(Clone)]
struct App {
    state: Arc<State>,
    proxies: Arc<TrustedProxies>,
    sessions: TaskTracker,
}

impl Web {
    /// Serves the web on `listener` (TLS when `tls` is given), with the
    /// trusted proxies of `trusted_proxies` (`web_trusted_proxies`).
    pub fn new(
        listener: TcpListener,
        tls: Option<TlsAcceptor>,
        trusted_proxies: &[String],
    ) -> Result<Web, String> {
        Ok(Web {
            listener,
            tls,
            proxies: TrustedProxies::parse(trusted_proxies)?,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The address to open in a browser.
    pub fn url(&self) -> std::io::Result<String> {
        let addr = self.local_addr()?;
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let host = match addr.ip() {
            ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_owned(),
            ip if ip.is_unspecified() => "[::1]".to_owned(),
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        };
        Ok(format!("{scheme}://{host}:{}/", addr.port()))
    }

    /// Serves until the server shuts down. Every WebSocket session is
    /// tracked by `sessions`, so that the shutdown waits for it as it does
    /// for the other front ends' connections.
    pub async fn serve(self, state: Arc<State>, sessions: TaskTracker) {
        let app = App {
            state: Arc::clone(&state),
            proxies: Arc::new(self.proxies),
            sessions,
        };
        let router = Router::new()
            .route("/ws", get(websocket))
            .route("/", get(irc_or_file))
            .route("/irc", get(irc_or_file))
            .fallback(file)
            .layer(axum::middleware::map_response(security_headers))
            .with_state(app);
        loop {
            let (stream, addr) = tokio::select! {
                () = state.shutdown.wait() => break,
                accepted = self.listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(error) => {
                        tracing::warn!(%error, "web accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            let router = router.clone();
            let tls = self.tls.clone();
            let state = Arc::clone(&state);
            tokio::spawn(async move {
                match tls {
                    None => connection(stream, addr, router, &state).await,
                    Some(acceptor) => {
                        match tokio::time::timeout(HEADER_TIMEOUT, acceptor.accept(stream)).await {
                            Ok(Ok(stream)) => connection(stream, addr, router, &state).await,
                            Ok(Err(error)) => {
                                state.metrics.tls_handshake_failures.inc();
                                tracing::debug!(%addr, %error, "web TLS handshake failed");
                            }
                            Err(_) => {
                                state.metrics.tls_handshake_failures.inc();
                                tracing::debug!(%addr, "web TLS handshake timed out");
                            }
                        }
                    }
                }
            });
        }
    }
}

/// Serves HTTP on one connection until it ends, or the server shuts down.
async fn connection<S>(stream: S, addr: SocketAddr, router: Router, state: &State)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = router.map_request(move |mut request: axum::extract::Request<_>| {
        request.extensions_mut().insert(ConnectInfo(addr));
        request
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    let conn = http
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        served = conn.as_mut() => {
            if let Err(error) = served {
                tracing::debug!(%addr, %error, "web connection ended");
            }
        }
        () = state.shutdown.wait() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(HEADER_TIMEOUT, conn).await;
        }
    }
}

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.insert(*name, HeaderValue::from_static(value));
    }
    response
}

/// The web client's files.
async fn file(method: Method, uri: Uri) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return (StatusCode::METHOD_NOT_ALLOWED, "GET only\n").into_response();
    }
    let Some(asset) = assets::find(uri.path()) else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    let mut response = Response::new(Body::from(asset.body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    // Always asked again: after an upgrade of chinwagd the page and its
    // script must not be of two versions.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// `/` and `/irc`: a WebSocket asking for an IRC subprotocol (or none) is
/// an IRC client; anything else is a request for the web client's page.
async fn irc_or_file(
    Extract(app): Extract<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: axum::extract::Request,
) -> Response {
    use axum::extract::FromRequestParts;
    let (mut parts, _) = request.into_parts();
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(upgrade) => upgrade,
        Err(_) => return file(parts.method, parts.uri).await,
    };
    let headers = parts.headers;
    let offered = headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok());
    let chosen = crate::irc::choose(offered);
    if offered.is_some() && chosen.is_none() {
        let body = "IRC over WebSocket speaks text.ircv3.net or binary.ircv3.net\n";
        return (StatusCode::BAD_REQUEST, body).into_response();
    }
    let Some((client, token)) = handshake(&app, peer, &headers) else {
        return forbidden();
    };
    let upgrade = match chosen {
        Some(protocol) => upgrade.protocols([protocol]),
        None => upgrade,
    };
    let binary = chosen == Some(crate::irc::BINARY);
    upgrade
        .max_message_size(crate::irc::MAX_MESSAGE)
        .max_frame_size(crate::irc::MAX_MESSAGE)
        .on_upgrade(move |socket| async move {
            let state = app.state;
            match state.admission.admit(client.ip()) {
                Ok(ticket) => {
                    state.metrics.connections_accepted.inc();
                    crate::irc::run(socket, client, state, binary).await;
                    drop(ticket);
                }
                Err(refusal) => {
                    state.metrics.connections_refused.inc();
                    tracing::info!(addr = %client, "refused: {}", refusal.message());
                    state.metrics.error_sent(refusal.code());
                    let mut socket = socket;
                    let line = format!("ERROR :{}", refusal.message());
                    let message = if binary {
                        axum::extract::ws::Message::Binary(line.into_bytes().into())
                    } else {
                        axum::extract::ws::Message::Text(line.into())
                    };
                    let _ = socket.send(message).await;
                }
            }
            drop(token);
        })
}

/// What every WebSocket handshake checks and takes: the Origin check, the
/// client's address (through trusted proxies), and a place among the
/// tracked sessions. `None`: the origin is refused.
fn handshake(
    app: &App,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Option<(SocketAddr, tokio_util::task::task_tracker::TaskTrackerToken)> {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if !origin::allowed(
        text(header::ORIGIN),
        text(header::HOST),
        &app.state.config.web_origins,
    ) {
        tracing::info!(%peer, origin = ?text(header::ORIGIN), "cross-site WebSocket refused");
        return None;
    }
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    Some((app.proxies.client(peer, &forwarded), app.sessions.token()))
}

fn forbidden() -> Response {
    let body = "this page may not open a WebSocket to this server \
                (its origin is not the server's, nor in web_origins)\n";
    (StatusCode::FORBIDDEN, body).into_response()
}

/// The WebSocket handshake: the Origin check, the client's address, the
/// door; then the driver.
async fn websocket(
    Extract(app): Extract<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let Some((client, token)) = handshake(&app, peer, &headers) else {
        return forbidden();
    };
    let max = protocol::max_message(app.state.config.limits.max_frame);
    upgrade
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| async move {
            let state = app.state;
            match state.admission.admit(client.ip()) {
                Ok(ticket) => {
                    state.metrics.connections_accepted.inc();
                    driver::run(socket, client, state).await;
                    drop(ticket);
                }
                Err(refusal) => {
                    state.metrics.connections_refused.inc();
                    tracing::info!(addr = %client, "refused: {}", refusal.message());
                    state.metrics.error_sent(refusal.code());
                    driver::refuse(socket, refusal.code(), &refusal.message()).await;
                }
            }
            drop(token);
        })
}
