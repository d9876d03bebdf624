//! chinwagd, the chinwag chat server: the listeners and the wiring.
//!
//! The layers are crates (see `docs/ARCHITECTURE.md`): `chinwag-proto`
//! (the native wire format), `chinwag-core` (the chat, protocol-neutral and
//! without I/O), `chinwag-store` (SQLite and PostgreSQL), `chinwag-cluster`
//! (NATS), `chinwag-native` (the native protocol's driver), `chinwag-irc`
//! (the IRC front end), `chinwag-web` (the WebSocket front end and the web
//! client). This crate
//! binds what the configuration asks for and runs a front end's driver for
//! each connection:
//!
//! - [`server`]: the listeners (plain, TLS, PROXY protocol), admission at
//!   the door, the store and the cluster wired in, graceful shutdown.
//! - [`proxy`]: the PROXY protocol, the real client's address behind a
//!   trusted load balancer.
//! - [`tls`]: the TLS listener and `chinwagd cert`.
//! - [`metrics_http`]: `/metrics` and `/healthz`.
//!
//! The core's modules are re-exported under their own names
//! (`chinwag_server::state`, `chinwag_server::session`, ...), and so are the
//! other layers (`chinwag_server::store`, `::cluster`, `::native`, `::irc`,
//! `::web`).

pub mod metrics_http;
pub mod proxy;
pub mod server;
pub mod tls;

pub use chinwag_cluster as cluster;
pub use chinwag_core::{
    CmdError, Config, accounts, admission, auth, catchup, cmd, config, delivery, error, event,
    guard, inbox, metrics, node, ops, outbox, ratelimit, session, shutdown, state, store,
    store_wire,
};
pub use chinwag_irc as irc;
pub use chinwag_native as native;
pub use chinwag_web as web;
pub use server::{BindError, Handle, ListenAddr, Server};
