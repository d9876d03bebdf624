//! chinwag's core: the chat itself, protocol-neutral and without I/O of
//! its own. No sockets, no wire bytes, no SQL, no NATS: front ends (the
//! native protocol in `chinwag-native`, and later IRC and WebSocket) drive
//! its [`session`]s, the store is a trait (`chinwag-store`), and the rest
//! of a cluster is reached through the [`delivery`] trait
//! (`chinwag-cluster` implements it).
//!
//! The seed's request flow, one module per step:
//! request -> router -> handler -> state -> outbound queue.
//!
//! - [`session`]: one connection's life as a state machine, time passed
//!   in: hands each request to the router, answers in request order, and
//!   hands over whatever other connections queued in its [`outbox`], all
//!   to a sink its front end renders.
//! - [`cmd`]: the router and one handler per command, with the
//!   preconditions (registered, admin, not muted) in one table. Handlers
//!   map requests to operations; they answer with a [`CmdError`]
//!   ([`error`]), which every layer may use without importing the router.
//! - [`ops`]: the domain operations, whoever asks for them (a handler, or
//!   another node): login and departure, kick, mute, ban, role changes,
//!   and what the room operations share.
//! - [`delivery`]: what handlers ask of the rest of the server (a user, a
//!   room's members or everyone elsewhere, orders to the other nodes), as
//!   a trait: [`delivery::Local`] on a single node.
//! - [`state`]: who is online (each user with its sessions), muted or
//!   banned, shared by all connections.
//! - [`event`]: the typed events that queues hold, rendered by each front
//!   end at the edge.
//! - [`store`] (re-exported `chinwag-store`): what outlives the process;
//!   [`store_wire`] turns its records into wire frames.
//! - [`catchup`]: how often a slow reader may be caught up from history
//!   (the [`outbox`] switches it) before it is disconnected.
//! - [`inbox`]: an account's offline queue as its session delivers it.
//! - [`auth`]: the admin password and the throttle on guessing it;
//!   [`accounts`]: account passwords (argon2id); [`secrets`]: the one
//!   limiter every secret check goes through (per address, per account,
//!   server-wide).
//! - [`config`]: every setting, declared once, and its layers (defaults,
//!   file, environment, flags).
//! - [`node`]: a node's id in a cluster.
//!
//! Hardening, each in its own module:
//! - [`admission`]: connection limits, in total and per address.
//! - [`guard`]: what a request must pass before the router: flood control
//!   ([`ratelimit`]) and the cap on REGISTER attempts.
//! - [`metrics`]: the counters (`chinwag-server` serves them over HTTP).
//! - [`shutdown`]: the graceful shutdown every session watches.

pub mod accounts;
pub mod admission;
pub mod auth;
pub mod catchup;
pub mod cmd;
pub mod config;
pub mod delivery;
pub mod error;
pub mod event;
pub mod guard;
pub mod inbox;
pub mod metrics;
pub mod node;
pub mod ops;
pub mod outbox;
pub mod ratelimit;
pub mod secrets;
pub mod session;
pub mod shutdown;
pub mod state;
pub mod store_wire;

/// The storage layer: the `Store` trait and its backends.
pub use chinwag_store as store;
pub use config::Config;
pub use error::CmdError;
