//! chinwagd, the chinwag chat server.
//!
//! The seed's request flow, one module per step:
//! socket -> frame -> request -> router -> handler -> state -> outbound
//! queue -> socket.
//!
//! - [`server`]: the listeners; accept connections and run a front end's
//!   driver for each, until [`shutdown`].
//! - [`native`]: the native protocol's driver: owns the socket, frames and
//!   decodes requests (the codec is in `chinwag-proto`), and renders what
//!   its session says.
//! - [`session`]: one connection's life as a state machine without I/O,
//!   the same for every front end: hands each request to the router,
//!   answers in request order, and hands over whatever other connections
//!   queued in its [`outbox`].
//! - [`cmd`]: the router and one handler per command, with the
//!   preconditions (registered, admin, not muted) enforced in one place.
//!   Handlers map requests to operations; they answer with a [`CmdError`]
//!   ([`error`]), which every layer may use without importing the router.
//! - [`ops`]: the domain operations, whoever asks for them (a handler, or
//!   another node): login and departure, kick, mute, ban, role changes,
//!   and what the room operations share.
//! - [`delivery`]: what handlers ask of the rest of the server (a user, a
//!   room's members or everyone elsewhere, orders to the other nodes), as
//!   a trait: [`delivery::Local`] on a single node, the cluster's over
//!   NATS once the node joined one. Handlers never mention the cluster.
//! - [`state`]: who is online (each user with its sessions), muted or
//!   banned, shared by all connections.
//! - [`event`]: the typed events that queues hold, rendered by each
//!   session at the edge.
//! - [`store`]: what outlives the process (accounts, roles, mutes, bans,
//!   the audit log, history, offline queues) behind the `Store` trait,
//!   with the embedded SQLite backend and the shared PostgreSQL one;
//!   [`store_wire`] turns its records into wire frames.
//! - [`catchup`]: how often a slow reader may be caught up from history
//!   (the [`outbox`] switches it) before it is disconnected.
//! - [`inbox`]: an account's offline queue as its session delivers it.
//! - [`auth`]: the admin password and the throttle on guessing it;
//!   [`accounts`]: account passwords (argon2id) and the per-address
//!   throttle.
//! - [`config`]: defaults, config file, environment and flags.
//!
//! Hardening, each in its own module:
//! - [`admission`]: connection limits, in total and per address.
//! - [`proxy`]: the PROXY protocol, the real client's address behind a
//!   trusted load balancer.
//! - [`guard`]: what a request must pass before the router: the rate
//!   limit ([`ratelimit`]) and the cap on REGISTER attempts.
//! - [`tls`]: the TLS listener and `chinwagd cert`.
//! - [`metrics`]: counters, and the `/metrics` + `/healthz` endpoint.
//!
//! - [`cluster`]: cluster mode, many nodes as one server over NATS: the
//!   delivery layer across nodes, presence, and the node-to-node format.

pub mod accounts;
pub mod admission;
pub mod auth;
pub mod catchup;
pub mod cluster;
pub mod cmd;
pub mod config;
pub mod delivery;
pub mod error;
pub mod event;
pub mod guard;
pub mod inbox;
pub mod metrics;
pub mod native;
pub mod ops;
pub mod outbox;
pub mod proxy;
pub mod ratelimit;
pub mod server;
pub mod session;
pub mod shutdown;
pub mod state;
pub mod store_wire;
pub mod tls;

/// The storage layer, its own crate: the `Store` trait and its backends.
pub use chinwag_store as store;
pub use config::Config;
pub use error::CmdError;
pub use server::{BindError, Handle, ListenAddr, Server};
