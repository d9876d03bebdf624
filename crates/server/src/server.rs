//! The listener: accepts connections and runs a session for each until
//! shutdown, then waits (up to the grace period) for them to finish.

use std::sync::Arc;
use std::time::Duration;

use chinwag_proto::wire::Encode;
use chinwag_proto::{ErrorCode, RequestId, ServerFrame};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::task::TaskTracker;

use crate::auth::AdminSecret;
use crate::config::Config;
use crate::session;
use crate::state::State;
use crate::store::{Retention, SqliteStore, Store, StoreError};

/// How often old history is pruned, when retention is configured.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// A bound server, ready to run.
pub struct Server {
    listener: TcpListener,
    state: Arc<State>,
    /// The data directory when none was configured; removed on drop, after
    /// the state (and its store) is gone.
    _scratch: Option<tempfile::TempDir>,
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
        let mut server = Server::with_store(listener, config, Arc::new(store));
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
            listener,
            state: State::new(config, admin, store),
            _scratch: None,
        }
    }

    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
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
            listener,
            state,
            _scratch,
        } = self;
        state.load().await?;
        let sessions = TaskTracker::new();
        spawn_pruning(&state, &sessions);
        let mut accept_backoff = Duration::from_millis(10);
        loop {
            let accepted = tokio::select! {
                () = state.shutdown.wait() => break,
                accepted = listener.accept() => accepted,
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
            if !state.try_open_connection() {
                sessions.spawn(refuse_busy(stream));
                continue;
            }
            let _ = stream.set_nodelay(true);
            let state = Arc::clone(&state);
            sessions.spawn(async move {
                session::run(stream, addr, Arc::clone(&state)).await;
                state.close_connection();
            });
        }
        drop(listener);
        sessions.close();
        let grace = state.shutdown.grace() + Duration::from_secs(1);
        if tokio::time::timeout(grace, sessions.wait()).await.is_err() {
            tracing::warn!(
                left = sessions.len(),
                "some connections did not close in time"
            );
        }
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

/// Tells a connection over the limit why it is refused, then closes it.
async fn refuse_busy(mut stream: TcpStream) {
    let frame = ServerFrame::error(
        ErrorCode::ServerBusy,
        "the server is at its connection limit; try again later",
    );
    if let Ok(bytes) = frame.to_frame(RequestId::NONE) {
        let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(&bytes)).await;
    }
    let _ = stream.shutdown().await;
}
