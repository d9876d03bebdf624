//! Routing: the subjects nodes talk on and the messages they send.
//!
//! - `chinwag.node.<id>`: what is for one node: a direct message for one of
//!   its users, an order about one of its users (kick). These are requests:
//!   the node answers with a [`RemoteReply`]. Each carries its sender's
//!   deadline (`Chinwag-Deadline`): one that arrives too late to be
//!   answered in time is refused, not carried out, so that what the
//!   sender told its client (it gave up) stays true. Also, unanswered:
//!   a wake-up for a user whose offline queue got a message.
//! - `chinwag.all`: what is for every node: broadcasts, room messages and
//!   presence notices (one NATS message reaches every node: the NATS
//!   server makes one copy per node, never one per user), mute, ban and
//!   role changes, the outcome of every secret check (so that the
//!   password budgets are cluster-wide), new accounts' names, the
//!   cluster-wide shutdown, and every change to a room's state
//!   ([`RoomChangeWire`]).
//! - A node that starts asks each other node, on its subject, for the
//!   rooms' state it cannot read from the database (`room_sync`); the
//!   answer is a JSON list of room changes.
//!
//! A message says what it is in the `Chinwag-Op` header and which version
//! of this format it is in `Chinwag-Version`. Messages for users carry the
//! typed event ([`NodeEvent`], JSON), never a client protocol's frame: the
//! receiving node queues it as an event, and each of its front ends renders
//! it for its clients. Orders carry JSON too.

use std::time::Duration;

use async_nats::HeaderMap;
use bytes::Bytes;
use chinwag_proto::room::RoomNotice;
use chinwag_proto::server::{
    Message, MessageId, MessageKind, Notice, NoticeKind, Redacted, Timestamp,
};
use chinwag_proto::{ErrorCode, ServerFrame};
use serde::{Deserialize, Serialize};

use super::NodeId;
use chinwag_core::delivery;
use chinwag_core::error::{CmdError, Reply};
use chinwag_core::event::{Event, Shared};
use chinwag_core::secrets::Secret;
use chinwag_core::state::rooms::{Change, Membership, RoomChange, Stamp};
use chinwag_core::store::{MaskRecord, MemberRecord, RoomMeta};
use chinwag_proto::room::MaskList;
use chinwag_proto::server::MuteState;
use chinwag_proto::{NameKey, RoomRole};

/// The subject every node listens on.
pub const ALL: &str = "chinwag.all";

/// The subject of one node.
pub fn node_subject(node: &NodeId) -> String {
    format!("chinwag.node.{node}")
}

/// The version of this format. A node ignores messages of another.
pub const VERSION: &str = "1";

const OP: &str = "Chinwag-Op";
const VERSION_HEADER: &str = "Chinwag-Version";
const USER: &str = "Chinwag-User";
const ORIGIN: &str = "Chinwag-Origin";
const ROOM: &str = "Chinwag-Room";
const DEADLINE: &str = "Chinwag-Deadline";

/// How long before a request's deadline its receiver stops carrying it
/// out: the time its answer may take to reach the sender, plus what the
/// nodes' clocks may disagree by (nothing on one machine; NTP keeps
/// machines within milliseconds).
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(500);

/// Marks a request with the time its sender gives up waiting for the
/// answer (ms since the Unix epoch, the sender's clock).
pub fn set_deadline(headers: &mut HeaderMap, deadline: Timestamp) {
    headers.insert(DEADLINE, deadline.0.to_string().as_str());
}

/// Whether a request arrived too late to be carried out at `now`: its
/// sender has given up (or will have by the time an answer reaches it),
/// and told its client so; carrying it out would contradict that. A
/// request without a deadline is never late.
pub fn too_late(headers: Option<&HeaderMap>, now: Timestamp) -> bool {
    let deadline = headers
        .and_then(|h| h.get(DEADLINE))
        .and_then(|v| v.as_str().parse::<u64>().ok());
    deadline.is_some_and(|deadline| {
        now.0.saturating_add(DEADLINE_MARGIN.as_millis() as u64) >= deadline
    })
}

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
    /// A password was checked (for every node: each counts it in its
    /// budgets). `account` is the folded name, `None` for the admin
    /// password.
    Secret {
        account: Option<String>,
        addr: std::net::IpAddr,
        failed: bool,
    },
    /// An account was created (for every node: each keeps the names of
    /// the accounts, for guests registering while the database is away).
    Account { name: String },
}

/// An order from the delivery layer, in this format's own terms.
impl From<delivery::Order> for Order {
    fn from(order: delivery::Order) -> Order {
        match order {
            delivery::Order::Kick {
                user,
                admin,
                reason,
                at,
            } => Order::Kick {
                user,
                admin,
                reason,
                ts: at.0,
            },
            delivery::Order::Mute {
                user,
                mute,
                secs,
                at,
            } => Order::Mute {
                user,
                admin: mute.by,
                reason: mute.reason,
                until: mute.until.to_wire(),
                secs,
                ts: at.0,
            },
            delivery::Order::Unmute { user, admin, at } => Order::Unmute {
                user,
                admin,
                ts: at.0,
            },
            delivery::Order::Ban(ban) => Order::Ban {
                target: ban.target.to_string(),
                until: ban.until.to_wire(),
                admin: ban.by,
                reason: ban.reason,
                at: ban.at.0,
            },
            delivery::Order::Unban(target) => Order::Unban {
                target: target.to_string(),
            },
            delivery::Order::Role { user, admin } => Order::Role { user, admin },
            delivery::Order::Shutdown { admin, reason } => Order::Shutdown { admin, reason },
            delivery::Order::Secret(outcome) => Order::Secret {
                account: match outcome.secret {
                    Secret::Account(key) => Some(key.as_str().to_owned()),
                    Secret::Admin => None,
                },
                addr: outcome.addr,
                failed: outcome.failed,
            },
            delivery::Order::Account(name) => Order::Account {
                name: name.to_string(),
            },
        }
    }
}

/// An event for users of another node, in this format's own terms.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum NodeEvent {
    Message {
        id: u64,
        ts: u64,
        kind: u8,
        from: String,
        to: String,
        text: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        notice: bool,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        tags: String,
        /// The sender's user flags (absent from older nodes: 0).
        #[serde(default)]
        sender_flags: u8,
    },
    Redacted {
        id: u64,
        ts: u64,
        kind: u8,
        actor: String,
        from: String,
        to: String,
        reason: String,
    },
    Notice {
        kind: u8,
        ts: u64,
        actor: String,
        subject: String,
        until: u64,
        text: String,
    },
    RoomNotice {
        kind: u8,
        ts: u64,
        room: String,
        actor: String,
        subject: String,
        until: u64,
        text: String,
    },
    /// A user's change (USER_UPDATE).
    UserUpdate {
        ts: u64,
        name: String,
        old_name: String,
        changed: u8,
        flags: u8,
        username: String,
        realname: String,
        away: String,
    },
}

impl NodeEvent {
    /// The event in this format; `None` for what never crosses nodes
    /// (replies).
    pub fn of(event: &Event) -> Option<NodeEvent> {
        Some(match event.frame() {
            ServerFrame::Message(m) => NodeEvent::Message {
                id: m.id.0,
                ts: m.ts.0,
                kind: m.kind.to_u8(),
                from: m.from.to_string(),
                to: m.to.to_string(),
                text: m.text.to_string(),
                notice: m.notice,
                tags: m.tags.to_string(),
                sender_flags: event.sender_flags(),
            },
            ServerFrame::UserUpdate(u) => NodeEvent::UserUpdate {
                ts: u.ts.0,
                name: u.name.to_string(),
                old_name: u.old_name.to_string(),
                changed: u.changed,
                flags: u.flags,
                username: u.username.to_string(),
                realname: u.realname.to_string(),
                away: u.away.to_string(),
            },
            ServerFrame::Redacted(r) => NodeEvent::Redacted {
                id: r.id.0,
                ts: r.ts.0,
                kind: r.kind.to_u8(),
                actor: r.actor.to_string(),
                from: r.from.to_string(),
                to: r.to.to_string(),
                reason: r.reason.to_string(),
            },
            ServerFrame::Notice(n) => NodeEvent::Notice {
                kind: n.kind.to_u8(),
                ts: n.ts.0,
                actor: n.actor.to_string(),
                subject: n.subject.to_string(),
                until: n.until,
                text: n.text.to_string(),
            },
            ServerFrame::RoomNotice(n) => NodeEvent::RoomNotice {
                kind: n.kind.to_u8(),
                ts: n.ts.0,
                room: n.room.to_string(),
                actor: n.actor.to_string(),
                subject: n.subject.to_string(),
                until: n.until,
                text: n.text.to_string(),
            },
            _ => return None,
        })
    }

    /// The event for this node's queues.
    pub fn into_event(self) -> Shared {
        Event::new(match self {
            NodeEvent::Message {
                id,
                ts,
                kind,
                from,
                to,
                text,
                sender_flags,
                notice,
                tags,
            } => {
                return Event::from_sender(
                    ServerFrame::Message(Message {
                        id: MessageId(id),
                        ts: Timestamp(ts),
                        kind: MessageKind::from_u8(kind),
                        from: from.into(),
                        to: to.into(),
                        text: text.into(),
                        notice,
                        tags: tags.into(),
                    }),
                    sender_flags,
                );
            }
            NodeEvent::UserUpdate {
                ts,
                name,
                old_name,
                changed,
                flags,
                username,
                realname,
                away,
            } => ServerFrame::UserUpdate(chinwag_proto::server::UserUpdate {
                ts: Timestamp(ts),
                name: name.into(),
                old_name: old_name.into(),
                changed,
                flags,
                username: username.into(),
                realname: realname.into(),
                away: away.into(),
            }),
            NodeEvent::Redacted {
                id,
                ts,
                kind,
                actor,
                from,
                to,
                reason,
            } => ServerFrame::Redacted(Redacted {
                id: MessageId(id),
                ts: Timestamp(ts),
                kind: MessageKind::from_u8(kind),
                actor: actor.into(),
                from: from.into(),
                to: to.into(),
                reason: reason.into(),
            }),
            NodeEvent::Notice {
                kind,
                ts,
                actor,
                subject,
                until,
                text,
            } => ServerFrame::Notice(Notice {
                kind: NoticeKind::from_u8(kind),
                ts: Timestamp(ts),
                actor: actor.into(),
                subject: subject.into(),
                until,
                text: text.into(),
            }),
            NodeEvent::RoomNotice {
                kind,
                ts,
                room,
                actor,
                subject,
                until,
                text,
            } => ServerFrame::RoomNotice(RoomNotice {
                kind: NoticeKind::from_u8(kind),
                ts: Timestamp(ts),
                room: room.into(),
                actor: actor.into(),
                subject: subject.into(),
                until,
                text: text.into(),
            }),
        })
    }
}

/// A message between nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeMessage {
    /// An event for one user of the receiving node (all its sessions).
    Direct {
        user: String,
        event: NodeEvent,
    },
    /// An event for every user of the receiving node except `except` (a
    /// name; empty: nobody).
    Fanout {
        except: String,
        event: NodeEvent,
    },
    /// A room event for the receiving node's members of `room`.
    Room {
        room: String,
        event: NodeEvent,
    },
    Order(Order),
    /// A change to a room's state, for every node's copy.
    RoomChange(RoomChangeWire),
    /// A node that starts (`fresh`), or that comes back after it was cut
    /// off, asks another for its rooms' state (a request; the answer is a
    /// JSON list of [`RoomChangeWire`]). The node asked drops the guests
    /// the asking node had before: a fresh node's are gone (their rooms
    /// are told), a returning one's come again in its own snapshot.
    RoomSync {
        fresh: bool,
    },
    /// A message was put in the offline queue of `user`, online on the
    /// receiving node: its sessions fetch it.
    Wake {
        user: String,
    },
}

impl NodeMessage {
    /// The headers and body that carry this message; `origin` is the
    /// sending node, so that a node can ignore what it sent itself.
    pub fn encode(&self, origin: &NodeId) -> (HeaderMap, Bytes) {
        let mut headers = HeaderMap::new();
        headers.insert(ORIGIN, origin.as_str());
        headers.insert(VERSION_HEADER, VERSION);
        let body = match self {
            NodeMessage::Direct { user, event } => {
                headers.insert(OP, "direct");
                headers.insert(USER, user.as_str());
                json(event)
            }
            NodeMessage::Fanout { except, event } => {
                headers.insert(OP, "fanout");
                headers.insert(USER, except.as_str());
                json(event)
            }
            NodeMessage::Room { room, event } => {
                headers.insert(OP, "room");
                headers.insert(ROOM, room.as_str());
                json(event)
            }
            NodeMessage::Order(order) => {
                headers.insert(OP, "order");
                json(order)
            }
            NodeMessage::RoomChange(change) => {
                headers.insert(OP, "room_change");
                json(change)
            }
            NodeMessage::RoomSync { fresh } => {
                headers.insert(OP, "room_sync");
                json(&RoomSyncWire { fresh: *fresh })
            }
            NodeMessage::Wake { user } => {
                headers.insert(OP, "wake");
                headers.insert(USER, user.as_str());
                Bytes::new()
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
        if get(VERSION_HEADER)?.as_str() != VERSION {
            return None;
        }
        let event = || serde_json::from_slice::<NodeEvent>(&body).ok();
        let message = match get(OP)?.as_str() {
            "direct" => NodeMessage::Direct {
                user: get(USER)?,
                event: event()?,
            },
            "fanout" => NodeMessage::Fanout {
                except: get(USER).unwrap_or_default(),
                event: event()?,
            },
            "room" => NodeMessage::Room {
                room: get(ROOM)?,
                event: event()?,
            },
            "order" => NodeMessage::Order(serde_json::from_slice(&body).ok()?),
            "room_change" => NodeMessage::RoomChange(serde_json::from_slice(&body).ok()?),
            "room_sync" => {
                let sync: RoomSyncWire = serde_json::from_slice(&body).ok()?;
                NodeMessage::RoomSync { fresh: sync.fresh }
            }
            "wake" => NodeMessage::Wake { user: get(USER)? },
            _ => return None,
        };
        Some((origin, message))
    }
}

#[derive(Serialize, Deserialize)]
struct RoomSyncWire {
    fresh: bool,
}

/// A change to a room, in this format's own terms.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomChangeWire {
    pub room: String,
    /// The change's stamp: when (ms) and on which node.
    pub ts: u64,
    pub node: String,
    #[serde(flatten)]
    pub change: ChangeWire,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum ChangeWire {
    Created {
        meta: MetaWire,
        owner: MemberWire,
    },
    Settings {
        meta: MetaWire,
    },
    Member {
        member: MemberWire,
    },
    Left {
        user: String,
    },
    /// `until`: a `MuteState` in its wire form (0 lifts the mute).
    Mute {
        user: String,
        until: u64,
    },
    Mask {
        list: u8,
        mask: String,
        set_by: String,
        set_at: u64,
    },
    Unmask {
        list: u8,
        mask: String,
    },
    Invited {
        user: String,
    },
}

/// A room's settings. The password crosses too: every node checks it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaWire {
    pub name: String,
    pub topic: String,
    pub mode: u8,
    pub password: Option<String>,
    pub limit: u32,
    pub created: u64,
    pub topic_by: String,
    pub topic_ts: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberWire {
    pub name: String,
    pub role: u8,
    pub since: u64,
    pub voiced: bool,
    pub account: bool,
    /// A guest's node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home: Option<String>,
}

impl From<RoomMeta> for MetaWire {
    fn from(meta: RoomMeta) -> MetaWire {
        MetaWire {
            name: meta.name,
            topic: meta.topic,
            mode: meta.mode,
            password: meta.password,
            limit: meta.limit,
            created: meta.created.0,
            topic_by: meta.topic_by,
            topic_ts: meta.topic_ts.0,
        }
    }
}

impl From<MetaWire> for RoomMeta {
    fn from(meta: MetaWire) -> RoomMeta {
        RoomMeta {
            name: meta.name,
            topic: meta.topic,
            mode: meta.mode,
            password: meta.password,
            limit: meta.limit,
            created: Timestamp(meta.created),
            topic_by: meta.topic_by,
            topic_ts: Timestamp(meta.topic_ts),
        }
    }
}

impl From<Membership> for MemberWire {
    fn from(m: Membership) -> MemberWire {
        MemberWire {
            name: m.record.name,
            role: m.record.role as u8,
            since: m.record.since,
            voiced: m.record.voiced,
            account: m.account,
            home: m.home,
        }
    }
}

impl MemberWire {
    fn into_membership(self) -> Option<Membership> {
        Some(Membership {
            record: MemberRecord {
                name: self.name,
                role: RoomRole::from_u8(self.role)?,
                since: self.since,
                voiced: self.voiced,
            },
            account: self.account,
            home: self.home,
        })
    }
}

impl From<RoomChange> for RoomChangeWire {
    fn from(change: RoomChange) -> RoomChangeWire {
        let user = |key: NameKey| key.as_str().to_owned();
        RoomChangeWire {
            room: change.room,
            ts: change.stamp.ts,
            node: change.stamp.node,
            change: match change.change {
                Change::Created { meta, owner } => ChangeWire::Created {
                    meta: meta.into(),
                    owner: owner.into(),
                },
                Change::Settings(meta) => ChangeWire::Settings { meta: meta.into() },
                Change::Member(member) => ChangeWire::Member {
                    member: member.into(),
                },
                Change::Left(key) => ChangeWire::Left { user: user(key) },
                Change::Mute(key, until) => ChangeWire::Mute {
                    user: user(key),
                    until: until.to_wire(),
                },
                Change::Mask(mask) => ChangeWire::Mask {
                    list: mask.list as u8,
                    mask: mask.mask,
                    set_by: mask.set_by,
                    set_at: mask.set_at.0,
                },
                Change::Unmask(list, mask) => ChangeWire::Unmask {
                    list: list as u8,
                    mask,
                },
                Change::Invited(key) => ChangeWire::Invited { user: user(key) },
            },
        }
    }
}

impl RoomChangeWire {
    /// The change for this node's rooms; `None` if it does not read.
    pub fn into_change(self) -> Option<RoomChange> {
        let user = |name: &str| NameKey::fold(name);
        let change = match self.change {
            ChangeWire::Created { meta, owner } => Change::Created {
                meta: meta.into(),
                owner: owner.into_membership()?,
            },
            ChangeWire::Settings { meta } => Change::Settings(meta.into()),
            ChangeWire::Member { member } => Change::Member(member.into_membership()?),
            ChangeWire::Left { user: name } => Change::Left(user(&name)?),
            ChangeWire::Mute { user: name, until } => {
                Change::Mute(user(&name)?, MuteState::from_wire(until))
            }
            ChangeWire::Mask {
                list,
                mask,
                set_by,
                set_at,
            } => Change::Mask(MaskRecord {
                list: MaskList::from_u8(list)?,
                mask,
                set_by,
                set_at: Timestamp(set_at),
            }),
            ChangeWire::Unmask { list, mask } => Change::Unmask(MaskList::from_u8(list)?, mask),
            ChangeWire::Invited { user: name } => Change::Invited(user(&name)?),
        };
        Some(RoomChange {
            room: self.room,
            stamp: Stamp {
                ts: self.ts,
                node: self.node,
            },
            change,
        })
    }
}

/// A body in JSON.
fn json<T: Serialize>(value: &T) -> Bytes {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .unwrap_or_default()
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
    use chinwag_proto::server::MuteState;

    use chinwag_core::store::{BanRecord, BanTarget};

    #[test]
    fn messages_round_trip() {
        let origin = NodeId::parse("n1").unwrap();
        let messages = [
            NodeMessage::Direct {
                user: "bob".into(),
                event: NodeEvent::Message {
                    id: 7,
                    ts: 1,
                    kind: 0,
                    from: "alice".into(),
                    to: "bob".into(),
                    text: "hi".into(),
                    notice: false,
                    tags: String::new(),
                    sender_flags: 3,
                },
            },
            NodeMessage::Fanout {
                except: "bob".into(),
                event: NodeEvent::UserUpdate {
                    ts: 3,
                    name: "Robert".into(),
                    old_name: "bob".into(),
                    changed: 1,
                    flags: 2,
                    username: "rob".into(),
                    realname: "Robert B.".into(),
                    away: "".into(),
                },
            },
            NodeMessage::Fanout {
                except: "".into(),
                event: NodeEvent::Notice {
                    kind: 0,
                    ts: 2,
                    actor: "".into(),
                    subject: "carol".into(),
                    until: 0,
                    text: "".into(),
                },
            },
            NodeMessage::Room {
                room: "#rust".into(),
                event: NodeEvent::RoomNotice {
                    kind: 9,
                    ts: 3,
                    room: "#rust".into(),
                    actor: "alice".into(),
                    subject: "bob".into(),
                    until: 0,
                    text: "topic".into(),
                },
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
            NodeMessage::Order(Order::Account {
                name: "Alice".into(),
            }),
            NodeMessage::Wake { user: "bob".into() },
        ];
        for message in messages {
            let (headers, body) = message.encode(&origin);
            let (from, back) = NodeMessage::decode(Some(&headers), body).unwrap();
            assert_eq!(from, "n1");
            assert_eq!(back, message);
        }
        assert_eq!(NodeMessage::decode(None, Bytes::new()), None);
        // Another version of the format is not read.
        let (mut headers, body) = messages_of_another_version(&origin);
        headers.insert(VERSION_HEADER, "2");
        assert_eq!(NodeMessage::decode(Some(&headers), body), None);
    }

    fn messages_of_another_version(origin: &NodeId) -> (HeaderMap, Bytes) {
        NodeMessage::Order(Order::Unban {
            target: "bob".into(),
        })
        .encode(origin)
    }

    #[test]
    fn events_cross_unchanged() {
        let event = Event::new(ServerFrame::Message(Message {
            id: MessageId(9),
            ts: Timestamp(5),
            kind: MessageKind::Room,
            from: "alice".into(),
            to: "#rust".into(),
            text: "hello".into(),
            notice: true,
            tags: "+typing=active".into(),
        }));
        let crossed = NodeEvent::of(&event).unwrap().into_event();
        assert_eq!(crossed, event);
        let redacted = Event::new(ServerFrame::Redacted(Redacted {
            id: MessageId(9),
            ts: Timestamp(6),
            kind: MessageKind::Room,
            actor: "alice".into(),
            from: "bob".into(),
            to: "#rust".into(),
            reason: "spam".into(),
        }));
        assert_eq!(NodeEvent::of(&redacted).unwrap().into_event(), redacted);
        assert_eq!(NodeEvent::of(&Event::new(ServerFrame::ok("fine"))), None);
    }

    #[test]
    fn room_changes_cross_unchanged() {
        let origin = NodeId::parse("n2").unwrap();
        let meta = RoomMeta {
            name: "#Rust".into(),
            topic: "crabs".into(),
            mode: 5,
            password: Some("pw".into()),
            limit: 9,
            created: Timestamp(3),
            topic_by: "alice".into(),
            topic_ts: Timestamp(4),
        };
        let guest = Membership {
            record: MemberRecord {
                name: "Gus".into(),
                role: RoomRole::Operator,
                since: 7,
                voiced: true,
            },
            account: false,
            home: Some("n2".into()),
        };
        let bob = NameKey::fold("bob").unwrap();
        let changes = [
            Change::Created {
                meta: meta.clone(),
                owner: guest.clone(),
            },
            Change::Settings(meta),
            Change::Member(guest),
            Change::Left(bob),
            Change::Mute(bob, MuteState::Until(Timestamp(99))),
            Change::Mute(bob, MuteState::NotMuted),
            Change::Mask(MaskRecord {
                list: MaskList::MuteException,
                mask: "b*!*@*".into(),
                set_by: "alice".into(),
                set_at: Timestamp(5),
            }),
            Change::Unmask(MaskList::Ban, "x!*@*".into()),
            Change::Invited(bob),
        ];
        for change in changes {
            let change = RoomChange {
                room: "#Rust".into(),
                stamp: Stamp {
                    ts: 11,
                    node: "n2".into(),
                },
                change,
            };
            let (headers, body) = NodeMessage::RoomChange(change.clone().into()).encode(&origin);
            let Some((_, NodeMessage::RoomChange(back))) =
                NodeMessage::decode(Some(&headers), body)
            else {
                panic!("a room change did not come back as one");
            };
            assert_eq!(back.into_change(), Some(change));
        }
        let (headers, body) = NodeMessage::RoomSync { fresh: true }.encode(&origin);
        assert_eq!(
            NodeMessage::decode(Some(&headers), body).map(|(_, m)| m),
            Some(NodeMessage::RoomSync { fresh: true })
        );
    }

    #[test]
    fn a_request_is_late_from_its_deadline_less_the_margin() {
        let origin = NodeId::parse("n1").unwrap();
        let (mut headers, _) = NodeMessage::Wake { user: "bob".into() }.encode(&origin);
        assert!(!too_late(Some(&headers), Timestamp(1_000)), "no deadline");
        assert!(!too_late(None, Timestamp(1_000)));
        set_deadline(&mut headers, Timestamp(10_000));
        let margin = DEADLINE_MARGIN.as_millis() as u64;
        assert!(!too_late(Some(&headers), Timestamp(10_000 - margin - 1)));
        assert!(too_late(Some(&headers), Timestamp(10_000 - margin)));
        assert!(too_late(Some(&headers), Timestamp(20_000)));
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

    #[test]
    fn delivery_orders_carry_what_the_receiving_node_reads() {
        let mute = chinwag_core::state::Mute {
            until: MuteState::Until(Timestamp(9_000)),
            by: "root".into(),
            reason: "spam".into(),
        };
        let order = Order::from(delivery::Order::Mute {
            user: "Bob".into(),
            mute,
            secs: 8,
            at: Timestamp(1_000),
        });
        assert_eq!(
            order,
            Order::Mute {
                user: "Bob".into(),
                admin: "root".into(),
                reason: "spam".into(),
                until: MuteState::Until(Timestamp(9_000)).to_wire(),
                secs: 8,
                ts: 1_000,
            }
        );
        let ban = BanRecord {
            target: BanTarget::parse("10.0.0.7").unwrap(),
            until: MuteState::UntilLifted,
            by: "root".into(),
            reason: "flood".into(),
            at: Timestamp(3),
        };
        let Order::Ban {
            target,
            until,
            admin,
            reason,
            at,
        } = Order::from(delivery::Order::Ban(ban.clone()))
        else {
            panic!("a ban order became another order");
        };
        assert_eq!(BanTarget::parse(&target), Some(ban.target.clone()));
        assert_eq!(MuteState::from_wire(until), ban.until);
        assert_eq!((admin, reason, at), (ban.by, ban.reason, ban.at.0));
        assert_eq!(
            Order::from(delivery::Order::Unban(ban.target)),
            Order::Unban {
                target: "10.0.0.7".into()
            }
        );
    }
}
