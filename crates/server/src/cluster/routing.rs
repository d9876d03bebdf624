//! Routing: the subjects nodes talk on and the messages they send.
//!
//! - `chinwag.node.<id>`: what is for one node: a direct message for one of
//!   its users, an order about one of its users (kick). These are requests:
//!   the node answers with a [`RemoteReply`].
//! - `chinwag.all`: what is for every node: broadcasts, room messages and
//!   presence notices (one NATS message reaches every node: the NATS
//!   server makes one copy per node, never one per user), mute, ban and
//!   role changes, the cluster-wide shutdown.
//!
//! A message says what it is in the `Chinwag-Op` header. Messages for
//! users carry the MESSAGE or NOTICE frame already encoded, as the body,
//! so the receiving node queues the very bytes it got, without decoding
//! or encoding anything; orders carry JSON.

use async_nats::HeaderMap;
use bytes::Bytes;
use chinwag_proto::ErrorCode;
use serde::{Deserialize, Serialize};

use super::NodeId;
use crate::cmd::{CmdError, Reply};
use crate::store::BanRecord;

/// The subject every node listens on.
pub const ALL: &str = "chinwag.all";

/// The subject of one node.
pub fn node_subject(node: &NodeId) -> String {
    format!("chinwag.node.{node}")
}

const OP: &str = "Chinwag-Op";
const USER: &str = "Chinwag-User";
const ORIGIN: &str = "Chinwag-Origin";
const ROOM: &str = "Chinwag-Room";

/// An order about a user, carried as JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Order {
    /// Kick the user out (for `chinwag.node.<id>`, the node it is on).
    Kick {
        user: String,
        admin: String,
        reason: String,
        ts: u64,
    },
    /// Set a mute (for every node: each keeps the mutes by name).
    Mute {
        user: String,
        admin: String,
        reason: String,
        until: u64,
        secs: u32,
        ts: u64,
    },
    /// Lift a mute (for every node).
    Unmute {
        user: String,
        admin: String,
        ts: u64,
    },
    /// Keep a name or an address out (for every node: each keeps the bans,
    /// and disconnects the users of its own that the ban matches).
    Ban {
        target: String,
        until: u64,
        admin: String,
        reason: String,
        at: u64,
    },
    /// Lift a ban (for every node).
    Unban { target: String },
    /// An account holder gained or lost the admin role (for every node).
    Role { user: String, admin: bool },
    /// Stop every node.
    Shutdown { admin: String, reason: String },
}

impl Order {
    pub fn ban(ban: &BanRecord) -> Order {
        Order::Ban {
            target: ban.target.to_string(),
            until: ban.until.to_wire(),
            admin: ban.by.clone(),
            reason: ban.reason.clone(),
            at: ban.at.0,
        }
    }
}

/// A message between nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeMessage {
    /// An encoded frame for one user of the receiving node.
    Direct {
        user: String,
        frame: Bytes,
    },
    /// An encoded frame for every user of the receiving node except
    /// `except` (a name; empty: nobody).
    Fanout {
        except: String,
        frame: Bytes,
    },
    /// An encoded room message for the receiving node's members of
    /// `room`.
    Room {
        room: String,
        frame: Bytes,
    },
    Order(Order),
}

impl NodeMessage {
    /// The headers and body that carry this message; `origin` is the
    /// sending node, so that a node can ignore what it sent itself.
    pub fn encode(&self, origin: &NodeId) -> (HeaderMap, Bytes) {
        let mut headers = HeaderMap::new();
        headers.insert(ORIGIN, origin.as_str());
        let body = match self {
            NodeMessage::Direct { user, frame } => {
                headers.insert(OP, "direct");
                headers.insert(USER, user.as_str());
                frame.clone()
            }
            NodeMessage::Fanout { except, frame } => {
                headers.insert(OP, "fanout");
                headers.insert(USER, except.as_str());
                frame.clone()
            }
            NodeMessage::Room { room, frame } => {
                headers.insert(OP, "room");
                headers.insert(ROOM, room.as_str());
                frame.clone()
            }
            NodeMessage::Order(order) => {
                headers.insert(OP, "order");
                serde_json::to_vec(order)
                    .map(Bytes::from)
                    .unwrap_or_default()
            }
        };
        (headers, body)
    }

    /// Reads a message; `None` for one this version does not understand.
    /// Also returns the node that sent it.
    pub fn decode(headers: Option<&HeaderMap>, body: Bytes) -> Option<(String, NodeMessage)> {
        let headers = headers?;
        let get = |name: &str| headers.get(name).map(|v| v.as_str().to_owned());
        let origin = get(ORIGIN)?;
        let message = match get(OP)?.as_str() {
            "direct" => NodeMessage::Direct {
                user: get(USER)?,
                frame: body,
            },
            "fanout" => NodeMessage::Fanout {
                except: get(USER).unwrap_or_default(),
                frame: body,
            },
            "room" => NodeMessage::Room {
                room: get(ROOM)?,
                frame: body,
            },
            "order" => NodeMessage::Order(serde_json::from_slice(&body).ok()?),
            _ => return None,
        };
        Some((origin, message))
    }
}

/// A node's answer to a request: the reply the requesting client gets,
/// in a form that crosses the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteReply {
    /// 0: success, and `message` is the OK text; else an error code.
    pub code: u16,
    pub message: String,
}

impl RemoteReply {
    pub fn ok(message: impl Into<String>) -> RemoteReply {
        RemoteReply {
            code: 0,
            message: message.into(),
        }
    }

    pub fn error(error: CmdError) -> RemoteReply {
        RemoteReply {
            code: error.code.as_u16(),
            message: error.message,
        }
    }

    pub fn encode(&self) -> Bytes {
        serde_json::to_vec(self)
            .map(Bytes::from)
            .unwrap_or_default()
    }

    pub fn decode(body: &[u8]) -> Result<RemoteReply, CmdError> {
        serde_json::from_slice(body).map_err(|e| {
            CmdError::new(
                ErrorCode::Internal,
                format!("another node sent an unreadable answer: {e}"),
            )
        })
    }

    /// As the requesting node answers its client: OK with the text, or
    /// the error.
    pub fn into_reply(self) -> Reply {
        if self.code == 0 {
            Ok(chinwag_proto::ServerFrame::ok(self.message))
        } else {
            Err(CmdError::new(ErrorCode::from_u16(self.code), self.message))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let origin = NodeId::parse("n1").unwrap();
        let messages = [
            NodeMessage::Direct {
                user: "bob".into(),
                frame: Bytes::from_static(b"\x00\x00\x00\x05frame"),
            },
            NodeMessage::Fanout {
                except: "".into(),
                frame: Bytes::from_static(b"x"),
            },
            NodeMessage::Room {
                room: "#rust".into(),
                frame: Bytes::from_static(b"y"),
            },
            NodeMessage::Order(Order::Kick {
                user: "bob".into(),
                admin: "root".into(),
                reason: "spam".into(),
                ts: 7,
            }),
            NodeMessage::Order(Order::Shutdown {
                admin: "root".into(),
                reason: "".into(),
            }),
        ];
        for message in messages {
            let (headers, body) = message.encode(&origin);
            let (from, back) = NodeMessage::decode(Some(&headers), body).unwrap();
            assert_eq!(from, "n1");
            assert_eq!(back, message);
        }
        assert_eq!(NodeMessage::decode(None, Bytes::new()), None);
    }

    #[test]
    fn replies_round_trip() {
        let ok = RemoteReply::ok("kicked bob");
        assert_eq!(RemoteReply::decode(&ok.encode()).unwrap(), ok);
        let reply = RemoteReply::error(CmdError::new(ErrorCode::NoSuchUser, "gone"))
            .into_reply()
            .unwrap_err();
        assert_eq!(reply.code, ErrorCode::NoSuchUser);
        assert!(RemoteReply::decode(b"nonsense").is_err());
    }
}
