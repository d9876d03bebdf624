//! An async client for chinwag.
//!
//! [`Client::connect`] opens a connection, says HELLO and returns two
//! halves: a cheap, cloneable [`Client`] handle that sends requests and
//! waits for their replies, and an [`Events`] receiver for what the server
//! sends on its own (messages, notices, errors, and the end of the
//! connection).
//!
//! - [`client`] holds the handle, with one method per request; [`rooms`]
//!   adds the room requests to it.
//! - [`connection`] is the owner task that holds the socket, matches
//!   replies to requests by id, batches writes and sends heartbeats.
//! - [`catchup`] reads what a slow connection missed from history after
//!   NOTICE CatchUp, so a slow reader becomes a late reader.
//! - [`event`] has [`Event`] and the [`Events`] receiver.
//! - [`error`] has [`ClientError`].
//! - [`tls`] has the options of [`Client::connect_tls`], the pinning of
//!   a CA file's certificates, and the words for a failed handshake.
//!
//! ```no_run
//! # async fn demo() -> Result<(), chinwag_client::ClientError> {
//! use chinwag_client::{Client, ConnectOptions, Event};
//!
//! let (client, mut events) = Client::connect("127.0.0.1:7070", ConnectOptions::default()).await?;
//! client.register("alice", None).await?;
//! client.broadcast("hello, everyone").await?;
//! while let Some(event) = events.recv().await {
//!     if let Event::Message(m) = event {
//!         println!("{} says {}", m.from, m.text);
//!     }
//! }
//! # Ok(()) }
//! ```

pub mod catchup;
pub mod client;
pub mod connection;
pub mod error;
pub mod event;
pub mod rooms;
pub mod tls;

pub use chinwag_proto::room::{MemberInfo, RoomInfo, RoomMode, RoomNotice};
pub use chinwag_proto::server::{
    AuditEntry, DeliveryStatus, Message, MuteState, Notice, ReadMarker, Registered, Role, Sent,
    UserInfo, UserUpdate, Welcome, WhowasEntry, user_changed, user_flags,
};
pub use chinwag_proto::{
    ErrorCode, MessageKind, NoticeKind, Request, RoomRole, ServerFrame, Timestamp,
};
pub use client::{Client, ConnectOptions, Echo, HistoryQuery, RegisterOptions};
pub use error::ClientError;
pub use event::{Event, Events};
pub use tls::TlsOptions;
