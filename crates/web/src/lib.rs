//! chinwag's web front end: the web client, and the WebSocket it talks
//! over, on a listener of their own (`--web-listen`).
//!
//! - [`protocol`]: the WebSocket protocol without I/O: JSON text in, a
//!   `chinwag_proto::Request` out; replies and events out as JSON, the
//!   same types' serde form (`docs/websocket.md`); the close codes.
//! - [`driver`]: one task per WebSocket around the core's `Session`, as
//!   `chinwag-native` is for the binary protocol.
//! - [`http`]: the listener (plain or TLS), the pages with their security
//!   headers, and the WebSocket handshake: the Origin check ([`origin`]),
//!   the client's address behind a trusted proxy ([`forwarded`]) and the
//!   connection limits at the door.
//! - [`assets`]: the web client (HTML, CSS, JavaScript), embedded in the
//!   binary: nothing is fetched from anywhere else.

pub mod assets;
pub mod driver;
pub mod forwarded;
pub mod http;
pub mod irc;
pub mod origin;
pub mod protocol;

pub use forwarded::TrustedProxies;
pub use http::Web;
