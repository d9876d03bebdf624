//! Shared server state: what every connection may read and some may write.
//!
//! - [`users`]: who is online, and the handle to reach each of them.
//! - [`mutes`]: who may not talk, kept by name so a mute outlives the
//!   connection it was placed on.
//! - [`rooms`]: named group conversations, their members and moderation.
//!
//! Lock order, where more than one is taken: a `users` shard, then a
//! connection's outbox. Mutes are never held together with either. Rooms
//! have their own order (see [`rooms`]); a room's lock is never taken
//! while a `users` shard is held.

pub mod mutes;
pub mod rooms;
pub mod users;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use chinwag_proto::server::{MessageId, Timestamp};
use chinwag_proto::wire::Encode;
use chinwag_proto::{RequestId, ServerFrame};

use crate::admission::{Admission, AdmissionLimits};
use crate::auth::AdminSecret;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;
pub use mutes::{Mute, Mutes};
pub use rooms::{Room, Rooms};
pub use users::{Peer, Users};

/// A connection's number, unique for the life of the process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

impl std::fmt::Display for ConnId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "c{}", self.0)
    }
}

/// Everything the connections share.
pub struct State {
    pub config: Config,
    pub users: Users,
    pub mutes: Mutes,
    pub rooms: Rooms,
    pub admin: AdminSecret,
    pub shutdown: Shutdown,
    /// Connection limits, in total and per address.
    pub admission: Arc<Admission>,
    pub metrics: Metrics,
    next_conn: AtomicU64,
    next_message: AtomicU64,
}

impl State {
    pub fn new(config: Config, admin: AdminSecret) -> Arc<State> {
        // Message ids start from the clock (in microseconds) so that they
        // keep growing across restarts.
        let first_id = Timestamp::now().0.saturating_mul(1000);
        Arc::new(State {
            users: Users::default(),
            mutes: Mutes::default(),
            rooms: Rooms::new(config.max_rooms, config.max_rooms_per_user),
            shutdown: Shutdown::new(config.shutdown_grace),
            admin,
            admission: Admission::new(AdmissionLimits {
                max_total: config.max_connections,
                max_per_ip: config.max_connections_per_ip,
                limit_loopback: config.limit_loopback,
            }),
            metrics: Metrics::default(),
            config,
            next_conn: AtomicU64::new(1),
            next_message: AtomicU64::new(first_id),
        })
    }

    pub fn next_conn_id(&self) -> ConnId {
        ConnId(self.next_conn.fetch_add(1, Ordering::Relaxed))
    }

    pub fn next_message_id(&self) -> MessageId {
        MessageId(self.next_message.fetch_add(1, Ordering::Relaxed))
    }

    pub fn connection_count(&self) -> usize {
        self.admission.open()
    }

    /// Sends an event to every online user except `except`; returns how
    /// many got it. The frame is encoded once and its bytes shared.
    pub fn announce(&self, event: &ServerFrame, except: Option<ConnId>) -> u32 {
        let frame = encode_event(event);
        self.users.push_to_all(&frame, except)
    }

    /// Sends a join or leave notice, unless so many users are online that
    /// presence is no longer announced server-wide.
    pub fn announce_presence(&self, event: &ServerFrame, except: Option<ConnId>) {
        if self.users.len() <= self.config.presence_limit {
            self.announce(event, except);
        }
    }
}

impl State {
    /// Starts a graceful shutdown: tells everyone online, then signals every
    /// loop. Returns `false` if a shutdown had already started.
    pub fn shut_down(&self, actor: &str, reason: &str) -> bool {
        if !self.shutdown.begin(reason) {
            return false;
        }
        let notice = ServerFrame::Notice(chinwag_proto::server::Notice {
            kind: chinwag_proto::NoticeKind::Shutdown,
            ts: Timestamp::now(),
            actor: actor.into(),
            subject: "".into(),
            until: self.shutdown.deadline().0,
            text: reason.into(),
        });
        self.announce(&notice, None);
        self.shutdown.trigger();
        true
    }
}

/// Encodes a server frame that answers no request.
pub fn encode_event(event: &ServerFrame) -> Bytes {
    encode(RequestId::NONE, event)
}

/// Encodes a server frame. Every string the server sends is bounded by the
/// limits it validated on the way in (names <= 32 bytes, text <=
/// max_content, which `Config::validate` keeps below a field's capacity), so
/// encoding cannot fail; if it somehow did, the peer gets an Internal error
/// instead of a corrupt frame.
pub fn encode(id: RequestId, frame: &ServerFrame) -> Bytes {
    match frame.to_frame(id) {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::error!(%error, frame = frame.frame_type().name(), "cannot encode frame");
            ServerFrame::error(chinwag_proto::ErrorCode::Internal, "internal error")
                .to_frame(id)
                .unwrap_or_default()
        }
    }
}

/// A peer's address as `ip:port`, for USER_LIST.
pub fn format_addr(addr: &SocketAddr) -> String {
    addr.to_string()
}
