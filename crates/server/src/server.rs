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

/// A bound server, ready to run.
pub struct Server {
    listener: TcpListener,
    state: Arc<State>,
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
    /// Wraps a bound listener. Without a configured admin password, one is
    /// generated (read it with [`Server::admin_password`]).
    pub fn new(listener: TcpListener, config: Config) -> Server {
        let admin = match &config.admin_password {
            Some(password) => AdminSecret::new(password.clone()),
            None => AdminSecret::generate(),
        };
        Server {
            listener,
            state: State::new(config, admin),
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

    /// Serves until a shutdown is triggered, then drains and returns.
    pub async fn run(self) {
        let Server { listener, state } = self;
        let sessions = TaskTracker::new();
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
        tracing::info!("server stopped");
    }
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
