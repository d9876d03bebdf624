//! The listeners: accept connections (plain TCP, TLS, or both), admit or
//! refuse each at the door, and run a session for each admitted one until
//! shutdown; then wait (up to the grace period) for them to finish. The
//! web listener (`chinwag-web`) runs beside them, its WebSocket sessions
//! waited for alike.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chinwag_proto::wire::Encode;
use chinwag_proto::{ErrorCode, RequestId, ServerFrame};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_util::task::TaskTracker;

use crate::admission::{Refusal, Ticket};
use crate::auth::AdminSecret;
use crate::config::Config;
use crate::state::State;
use crate::store::{PostgresStore, Retention, SqliteStore, Store, StoreError};
use crate::{irc, native, proxy, tls};

/// How often old history is pruned, when retention is configured.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// A bound server, ready to run.
pub struct Server {
    listeners: Vec<Listener>,
    metrics: Option<TcpListener>,
    web: Option<crate::web::Web>,
    state: Arc<State>,
    /// The data directory when none was configured; removed on drop, after
    /// the state (and its store) is gone.
    _scratch: Option<tempfile::TempDir>,
}

/// One listening socket; `tls` set: every connection on it is TLS.
struct Listener {
    tcp: TcpListener,
    tls: Option<TlsAcceptor>,
    protocol: Protocol,
}

/// The front end a listener serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Native,
    Irc,
}

/// What a server is listening on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListenAddr {
    pub addr: SocketAddr,
    pub tls: bool,
    pub protocol: Protocol,
}

/// Why the listeners could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("cannot listen on {addr}: {error}")]
    Listen { addr: String, error: std::io::Error },
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot join the cluster: {0}")]
    Cluster(#[from] crate::cluster::ClusterError),
    #[error("invalid configuration: {0}")]
    Web(String),
}

/// A handle to stop a running server from outside (signals, tests).
#[derive(Clone)]
pub struct Handle {
    state: Arc<State>,
}

impl Handle {
    /// Starts a graceful shutdown, as the SHUTDOWN command does.
    pub fn shut_down(&self, reason: &str) {
        self.state.shut_down("", reason);
    }

    /// How many connections are open now.
    pub fn connections(&self) -> usize {
        self.state.connection_count()
    }

    pub fn state(&self) -> &Arc<State> {
        &self.state
    }
}

impl Server {
    /// Wraps a bound listener and opens the database in
    /// `config.data_dir` (a temporary directory if it is `None`). Without
    /// a configured admin password, one is generated (read it with
    /// [`Server::admin_password`]).
    pub fn open(listener: TcpListener, config: Config) -> Result<Server, StoreError> {
        let (store, scratch) = open_sqlite(&config)?;
        let mut server = Server::with_store(listener, config, store);
        server._scratch = scratch;
        Ok(server)
    }

    /// Like [`Server::open`], but panics if the database cannot be opened.
    /// For tests and benchmarks, which run with a temporary data directory.
    pub fn new(listener: TcpListener, config: Config) -> Server {
        match Server::open(listener, config) {
            Ok(server) => server,
            Err(error) => panic!("cannot open the server's database: {error}"),
        }
    }

    /// Wraps a bound listener with a store opened by the caller.
    pub fn with_store(listener: TcpListener, config: Config, store: Arc<dyn Store>) -> Server {
        let admin = match &config.admin_password {
            Some(password) => AdminSecret::new(password.clone()),
            None => AdminSecret::generate(),
        };
        Server {
            listeners: vec![Listener {
                tcp: listener,
                tls: None,
                protocol: Protocol::Native,
            }],
            metrics: None,
            web: None,
            state: State::new(config, admin, store),
            _scratch: None,
        }
    }

    /// Binds what `config` asks for: `listen` (TLS when a certificate is
    /// configured and `tls_listen` is not), `tls_listen`, `metrics_listen`,
    /// `web_listen` (TLS too when a certificate is configured).
    pub async fn bind(config: Config) -> Result<Server, BindError> {
        let acceptor = config.tls().as_ref().map(tls::acceptor).transpose()?;
        // The store before the port: a second chinwagd with the same
        // settings is then told that the data directory is in use, and by
        // which process, rather than that the address is.
        let (store, scratch): (Arc<dyn Store>, _) = match &config.database {
            Some(url) => (
                Arc::new(
                    PostgresStore::connect_pooled(
                        url,
                        config.database_ca.as_deref(),
                        config.database_pool,
                    )
                    .await?,
                ),
                None,
            ),
            None => open_sqlite(&config)?,
        };
        let main = listen(&config.listen).await?;
        let tls_listen = config.tls_listen.clone();
        let metrics_listen = config.metrics_listen.clone();
        let web = match config.web {
            true => listen_web(&config.web_listen).await?,
            false => None,
        };
        let trusted_proxies = config.web_trusted_proxies.clone();
        let irc_listener = listen_irc(config.irc_listen.as_deref()).await?;
        let irc_tls_listen = config.irc_tls_listen.clone();
        let mut server = Server::with_store(main, config, store);
        server._scratch = scratch;
        if let Some(listener) = irc_listener {
            server.add_listener(listener, None, Protocol::Irc);
        }
        if let (Some(acceptor), Some(addr)) = (&acceptor, irc_tls_listen) {
            let listener = listen(&addr).await?;
            server.add_listener(listener, Some(acceptor.clone()), Protocol::Irc);
        }
        if let Some(listener) = web {
            server.add_web_listener(listener, acceptor.clone(), &trusted_proxies)?;
        }
        match (acceptor, tls_listen) {
            (Some(acceptor), Some(addr)) => {
                let listener = listen(&addr).await?;
                server.add_tls_listener(listener, acceptor);
            }
            (Some(acceptor), None) => server.listeners[0].tls = Some(acceptor),
            (None, _) => {}
        }
        if let Some(addr) = metrics_listen {
            server.metrics = Some(listen(&addr).await?);
        }
        server.join_cluster().await?;
        Ok(server)
    }

    /// In cluster mode, connects to NATS and starts following the other
    /// nodes, before the first connection is accepted.
    pub async fn join_cluster(&mut self) -> Result<(), BindError> {
        let Some(config) = crate::cluster::ClusterConfig::of(&self.state.config) else {
            return Ok(());
        };
        let listen = self.local_addr().map(|a| a.to_string()).unwrap_or_default();
        let cluster = crate::cluster::Cluster::connect(config, &listen).await?;
        cluster.start(Arc::clone(&self.state)).await?;
        self.state
            .deliver_through(Arc::new(crate::cluster::ClusterDelivery::new(cluster)));
        Ok(())
    }

    /// Also serves TLS on `listener`.
    pub fn add_tls_listener(&mut self, listener: TcpListener, acceptor: TlsAcceptor) {
        self.add_listener(listener, Some(acceptor), Protocol::Native);
    }

    /// Also serves `protocol` on `listener` (over TLS with `tls`).
    pub fn add_listener(
        &mut self,
        listener: TcpListener,
        tls: Option<TlsAcceptor>,
        protocol: Protocol,
    ) {
        self.listeners.push(Listener {
            tcp: listener,
            tls,
            protocol,
        });
    }

    /// Also serves `/metrics` and `/healthz` on `listener`.
    pub fn add_metrics_listener(&mut self, listener: TcpListener) {
        self.metrics = Some(listener);
    }

    /// Also serves the web client and its WebSocket on `listener` (TLS
    /// when `tls` is given), believing `X-Forwarded-For` from
    /// `trusted_proxies`.
    pub fn add_web_listener(
        &mut self,
        listener: TcpListener,
        tls: Option<TlsAcceptor>,
        trusted_proxies: &[String],
    ) -> Result<(), BindError> {
        let web = crate::web::Web::new(listener, tls, trusted_proxies).map_err(BindError::Web)?;
        self.web = Some(web);
        Ok(())
    }

    /// The web client's address, if the web listener is on.
    pub fn web_url(&self) -> Option<String> {
        self.web.as_ref().and_then(|web| web.url().ok())
    }

    /// The address of the first listener.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listeners[0].tcp.local_addr()
    }

    /// Every listener, of either protocol.
    pub fn listen_addrs(&self) -> std::io::Result<Vec<ListenAddr>> {
        self.listeners
            .iter()
            .map(|l| {
                Ok(ListenAddr {
                    addr: l.tcp.local_addr()?,
                    tls: l.tls.is_some(),
                    protocol: l.protocol,
                })
            })
            .collect()
    }

    /// The metrics listener's address, if there is one.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|l| l.local_addr().ok())
    }

    pub fn admin_password(&self) -> &str {
        self.state.admin.reveal()
    }

    pub fn handle(&self) -> Handle {
        Handle {
            state: Arc::clone(&self.state),
        }
    }

    /// Serves until a shutdown is triggered, then drains, closes the store
    /// and returns. See [`Server::serve`] for the one way it can fail,
    /// which this only logs.
    pub async fn run(self) {
        if let Err(error) = self.serve().await {
            tracing::error!(%error, "the server could not start");
        }
    }

    /// [`Server::run`], failing if the stored mutes and bans cannot be
    /// loaded (then no connection is accepted).
    pub async fn serve(self) -> Result<(), StoreError> {
        let Server {
            listeners,
            metrics,
            web,
            state,
            _scratch,
        } = self;
        // What the server keeps in memory, before the first connection;
        // a stop asked for meanwhile is not kept waiting by it.
        tokio::select! {
            loaded = state.load() => loaded?,
            () = state.shutdown.wait() => {
                tracing::info!("stopped while loading");
                return Ok(());
            }
        }
        if let Some(listener) = metrics {
            tokio::spawn(crate::metrics_http::serve(listener, Arc::clone(&state)));
        }
        let sessions = TaskTracker::new();
        spawn_pruning(&state, &sessions);
        let mut accepting = tokio::task::JoinSet::new();
        for listener in listeners {
            accepting.spawn(accept_loop(listener, Arc::clone(&state), sessions.clone()));
        }
        if let Some(web) = web {
            accepting.spawn(web.serve(Arc::clone(&state), sessions.clone()));
        }
        while accepting.join_next().await.is_some() {}
        sessions.close();
        let grace = state.shutdown.grace() + Duration::from_secs(1);
        if tokio::time::timeout(grace, sessions.wait()).await.is_err() {
            tracing::warn!(
                left = sessions.len(),
                "some connections did not close in time"
            );
        }
        state.delivery().leave().await;
        // Every write already submitted is committed before this returns.
        if let Err(error) = state.store.close().await {
            tracing::error!(%error, "closing the store failed");
        }
        tracing::info!("server stopped");
        Ok(())
    }
}

/// Deletes history beyond the retention limits (and ended mutes and bans)
/// at start-up and every [`PRUNE_EVERY`] while the server runs.
fn spawn_pruning(state: &Arc<State>, tasks: &TaskTracker) {
    let retention = Retention {
        max_age: state.config.history_max_age,
        max_count: state.config.history_max_count,
    };
    let state = Arc::clone(state);
    tasks.spawn(async move {
        loop {
            match state
                .store
                .prune(retention, chinwag_proto::Timestamp::now())
                .await
            {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "pruned old messages"),
                Err(error) => tracing::warn!(%error, "pruning failed"),
            }
            tokio::select! {
                () = tokio::time::sleep(PRUNE_EVERY) => {}
                () = state.shutdown.wait() => return,
            }
        }
    });
}

async fn listen(addr: &str) -> Result<TcpListener, BindError> {
    TcpListener::bind(addr)
        .await
        .map_err(|error| BindError::Listen {
            addr: addr.to_owned(),
            error,
        })
}

/// The IRC listener `irc_listen` asks for: none when it is `off`; when
/// it is not set, the default address if that is free (a second server on
/// the machine then runs without IRC, and says so).
async fn listen_irc(configured: Option<&str>) -> Result<Option<TcpListener>, BindError> {
    match configured {
        Some(crate::config::IRC_OFF) => Ok(None),
        Some(addr) => listen(addr).await.map(Some),
        None => match listen(crate::config::DEFAULT_IRC_LISTEN).await {
            Ok(listener) => Ok(Some(listener)),
            Err(error) => {
                tracing::warn!(%error, "no IRC listener; set --irc-listen to serve IRC elsewhere");
                Ok(None)
            }
        },
    }
}

/// The web listener: at an address given, or else there; at the default
/// address only if it is free (like IRC's: a second server on the
/// machine, or another program on 8080, leaves chinwagd running without
/// the web client, and it says so).
async fn listen_web(addr: &str) -> Result<Option<TcpListener>, BindError> {
    match listen(addr).await {
        Ok(listener) => Ok(Some(listener)),
        Err(error) if addr == crate::config::DEFAULT_WEB_LISTEN => {
            tracing::warn!(%error, "no web listener; set --web-listen to serve the web client elsewhere");
            Ok(None)
        }
        Err(error) => Err(error),
    }
}

/// Accepts on one listener until shutdown.
async fn accept_loop(listener: Listener, state: Arc<State>, sessions: TaskTracker) {
    let mut accept_backoff = Duration::from_millis(10);
    loop {
        let accepted = tokio::select! {
            () = state.shutdown.wait() => break,
            accepted = listener.tcp.accept() => accepted,
        };
        let (stream, addr) = match accepted {
            Ok(pair) => {
                accept_backoff = Duration::from_millis(10);
                pair
            }
            Err(error) => {
                // Out of file descriptors and the like: wait rather
                // than spin, and keep serving the connections we have.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(accept_backoff).await;
                accept_backoff = (accept_backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let state = Arc::clone(&state);
        let tls = listener.tls.clone();
        let protocol = listener.protocol;
        sessions.spawn(async move {
            // The PROXY header, the TLS handshake and HELLO each have the
            // handshake timeout from here.
            let deadline = Instant::now() + state.config.handshake_timeout;
            let arrived = arrive(stream, addr, tls.is_some(), protocol, deadline, &state).await;
            let Some((stream, addr, admitted)) = arrived else {
                return;
            };
            match tls {
                None => serve(stream, addr, admitted, protocol, state).await,
                // Boxed: a TLS stream and its handshake are large, and
                // inline they would make every connection's task that
                // large, plain ones too (measured: 8 KB per idle plain
                // connection).
                Some(acceptor) => {
                    Box::pin(async move {
                        let handshake = acceptor.accept(stream);
                        match tokio::time::timeout_at(deadline, handshake).await {
                            Ok(Ok(stream)) => serve(stream, addr, admitted, protocol, state).await,
                            Ok(Err(error)) => {
                                state.metrics.tls_handshake_failures.inc();
                                tracing::debug!(%addr, %error, "TLS handshake failed");
                            }
                            Err(_) => {
                                state.metrics.tls_handshake_failures.inc();
                                tracing::debug!(%addr, "TLS handshake timed out");
                            }
                        }
                    })
                    .await
                }
            }
        });
    }
}

/// The SQLite store in `config.data_dir`, or in a temporary directory
/// (returned too, to be removed with the server) if it is `None`.
fn open_sqlite(config: &Config) -> Result<(Arc<dyn Store>, Option<tempfile::TempDir>), StoreError> {
    let (dir, scratch) = match &config.data_dir {
        Some(dir) => (dir.clone(), None),
        None => {
            let scratch = tempfile::Builder::new()
                .prefix("chinwag-data-")
                .tempdir()
                .map_err(|e| StoreError::DataDir {
                    dir: std::env::temp_dir().display().to_string(),
                    error: e.to_string(),
                })?;
            (scratch.path().to_owned(), Some(scratch))
        }
    };
    let store = SqliteStore::open(&dir, config.durability)?;
    Ok((Arc::new(store), scratch))
}

/// The PROXY protocol step and the place at the door, in the order the
/// listener needs; `None` when the connection was closed on the way.
///
/// Behind a trusted proxy the socket's address is the proxy's: the place
/// is taken once the header has named the real client. Elsewhere it is
/// taken at once, so that connections that have not spoken yet count
/// against the limits too, and a refused one is told without having to
/// speak first.
async fn arrive(
    stream: TcpStream,
    peer: SocketAddr,
    tls: bool,
    protocol: Protocol,
    deadline: Instant,
    state: &Arc<State>,
) -> Option<(TcpStream, SocketAddr, Result<Ticket, Refusal>)> {
    let trusted = state.config.proxy_protocol;
    let admitted_early = if trusted {
        None
    } else {
        let admitted = admit(peer, state);
        if admitted.is_err() {
            return Some((stream, peer, admitted));
        }
        Some(admitted)
    };
    match proxy::arrive(stream, peer, trusted, deadline).await {
        proxy::Arrival::Client {
            stream,
            client,
            tls_hello,
        } => {
            if client != peer {
                tracing::debug!(proxy = %peer, %client, "the PROXY protocol header names the client");
            }
            if tls_hello && !tls {
                // Its ClientHello reads as a huge frame length: the session
                // answers FrameTooLarge, which the client cannot read.
                tracing::info!(addr = %client, "a TLS client connected to the plain listener");
            }
            let admitted = admitted_early.unwrap_or_else(|| admit(client, state));
            Some((stream, client, admitted))
        }
        // Nothing decisive by the deadline: answered as the session
        // answers a client that never started its handshake.
        proxy::Arrival::Silent(stream) => {
            if tls {
                state.metrics.tls_handshake_failures.inc();
                tracing::debug!(addr = %peer, "TLS handshake timed out");
            } else {
                let message = format!(
                    "HELLO and REGISTER must complete within {}",
                    humantime::format_duration(state.config.handshake_timeout)
                );
                tell_and_close(
                    stream,
                    protocol,
                    ErrorCode::HandshakeTimeout,
                    &message,
                    state,
                )
                .await;
            }
            None
        }
        // Gone before it said anything: a port scan, a health check.
        proxy::Arrival::Refused(gone @ (proxy::Refused::Closed | proxy::Refused::Io(_))) => {
            tracing::debug!(addr = %peer, "{gone}");
            None
        }
        proxy::Arrival::Refused(refused) => {
            tracing::warn!(addr = %peer, "{refused}");
            None
        }
    }
}

/// Takes a place for a connection from `addr`, counting the outcome.
fn admit(addr: SocketAddr, state: &State) -> Result<Ticket, Refusal> {
    let admitted = state.admission.admit(addr.ip());
    match &admitted {
        Ok(_) => state.metrics.connections_accepted.inc(),
        Err(refusal) => {
            state.metrics.connections_refused.inc();
            tracing::info!(%addr, "refused: {}", refusal.message());
        }
    }
    admitted
}

/// Runs the session of an admitted connection, or tells a refused one why.
async fn serve<S>(
    stream: S,
    addr: SocketAddr,
    admitted: Result<Ticket, Refusal>,
    protocol: Protocol,
    state: Arc<State>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match admitted {
        Ok(ticket) => {
            match protocol {
                Protocol::Native => native::run(stream, addr, state).await,
                // Boxed, as the TLS path is: inline, the larger driver's
                // future would make every connection's task that large.
                Protocol::Irc => Box::pin(irc::run(stream, addr, state)).await,
            }
            drop(ticket);
        }
        Err(refusal) => {
            tell_and_close(stream, protocol, refusal.code(), &refusal.message(), &state).await;
        }
    }
}

/// Sends one ERROR (a frame with id 0, or an IRC `ERROR` line), then
/// closes the stream.
async fn tell_and_close<S: AsyncWrite + Unpin>(
    mut stream: S,
    protocol: Protocol,
    code: ErrorCode,
    message: &str,
    state: &State,
) {
    let bytes = match protocol {
        Protocol::Native => ServerFrame::error(code, message)
            .to_frame(RequestId::NONE)
            .ok(),
        Protocol::Irc => Some(format!("ERROR :{message}\r\n").into_bytes().into()),
    };
    if let Some(bytes) = bytes {
        state.metrics.error_sent(code);
        let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(&bytes)).await;
    }
    let _ = stream.shutdown().await;
}
