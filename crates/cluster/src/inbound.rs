//! What a node does with a message from another: the receiving half of
//! every cross-node command. A request read too late to be answered
//! before its sender gives up (`Chinwag-Deadline`) is refused unread; a
//! direct message is handed to a user once by id.

use std::sync::Arc;

use chinwag_proto::server::{MuteState, Notice, NoticeKind, Timestamp};
use chinwag_proto::{ErrorCode, NameKey, ServerFrame, UserName};
use futures::StreamExt;

use bytes::Bytes;

use super::routing::{self, NodeMessage, Order, RemoteReply, RoomChangeWire};
use super::{Cluster, Inbox};
use chinwag_core::error::{CmdError, no_such_user, undeliverable};
use chinwag_core::event::{Event, Shared};
use chinwag_core::ops;
use chinwag_core::secrets::{Secret, SecretOutcome};
use chinwag_core::state::rooms::deliver;
use chinwag_core::state::{ConnId, Mute, Peer, State};
use chinwag_core::store::{BanRecord, BanTarget};

/// Serves the other nodes' messages until shutdown.
pub async fn serve(cluster: Arc<Cluster>, state: Arc<State>, mut inbox: Inbox) {
    loop {
        let message = tokio::select! {
            () = state.shutdown.wait() => return,
            message = inbox.next() => match message {
                Some(message) => message,
                None => return,
            },
        };
        let Some((origin, decoded)) =
            NodeMessage::decode(message.headers.as_ref(), message.payload.clone())
        else {
            tracing::warn!(subject = %message.subject, "unreadable message from the cluster");
            continue;
        };
        // `chinwag.all` comes back to its sender too.
        if origin == cluster.node().as_str() {
            continue;
        }
        // A request its sender has given up on is refused, not carried
        // out: the sender told its client so already.
        let late = message.reply.is_some()
            && routing::too_late(message.headers.as_ref(), Timestamp::now());
        let reply = if late {
            tracing::warn!(%origin, "a request from another node came too late; refused");
            Some(
                RemoteReply::error(CmdError::new(
                    ErrorCode::ClusterUnavailable,
                    "the request came after its sender gave up; not carried out",
                ))
                .encode(),
            )
        } else {
            match decoded {
                NodeMessage::RoomSync { fresh } => Some(room_sync(&state, &origin, fresh)),
                other => apply(&state, other).map(|reply| reply.encode()),
            }
        };
        if let Some(reply) = reply
            && let Some(to) = message.reply
            && let Err(error) = cluster.client.publish(to, reply).await
        {
            tracing::debug!(%error, "cannot answer another node");
        }
    }
}

/// Carries out one message; returns the answer for a request.
fn apply(state: &Arc<State>, message: NodeMessage) -> Option<RemoteReply> {
    match message {
        NodeMessage::Direct { user, event } => Some(match state.users.get(&user) {
            None => RemoteReply::error(no_such_user(&user)),
            Some(peer) => match handed_over(&peer, &event.into_event()) {
                0 => RemoteReply::error(undeliverable(peer.name.as_str())),
                _ => RemoteReply::ok("delivered"),
            },
        }),
        NodeMessage::Wake { user } => {
            if let Some(peer) = state.users.get(&user) {
                peer.wake_inboxes();
            }
            None
        }
        NodeMessage::Fanout { except, event } => {
            let event = event.into_event();
            match NameKey::fold(&except) {
                Some(except) => state.users.push_to_others(&event, &except),
                None => state.users.push_to_all(&event, None),
            };
            None
        }
        NodeMessage::Room { room, event } => {
            if let Some(room) = state.rooms.get(&room) {
                deliver(&room.recipients(), &event.into_event(), None);
            }
            None
        }
        NodeMessage::Order(Order::Kick {
            user,
            admin,
            reason,
            ts,
        }) => Some(match state.users.get(&user) {
            // The node that ordered the kick tells everyone, once.
            Some(victim)
                if ops::kick::kick(
                    state,
                    &victim,
                    &admin,
                    &reason,
                    Timestamp(ts),
                    ops::login::Tell::Nobody,
                ) =>
            {
                RemoteReply::ok(format!("kicked {}", victim.name))
            }
            _ => RemoteReply::error(no_such_user(&user)),
        }),
        NodeMessage::Order(Order::Mute {
            user,
            admin,
            reason,
            until,
            secs,
            ts,
        }) => {
            let key = NameKey::fold(&user)?;
            let mute = Mute {
                until: MuteState::from_wire(until),
                by: admin,
                reason,
            };
            ops::mute::mute(state, key, mute, secs, Timestamp(ts));
            None
        }
        NodeMessage::Order(Order::Unmute { user, admin, ts }) => {
            let key = NameKey::fold(&user)?;
            ops::mute::unmute(state, key, &admin, Timestamp(ts));
            None
        }
        NodeMessage::Order(Order::Ban {
            target,
            until,
            admin,
            reason,
            at,
        }) => {
            let ban = BanRecord {
                target: BanTarget::parse(&target)?,
                until: MuteState::from_wire(until),
                by: admin,
                reason,
                at: Timestamp(at),
            };
            ops::ban::ban(state, ban, None, Timestamp::now());
            None
        }
        NodeMessage::Order(Order::Unban { target }) => {
            state.bans.lift(&BanTarget::parse(&target)?);
            None
        }
        NodeMessage::Order(Order::Role { user, admin }) => {
            ops::role::set_role(state, &user, admin);
            None
        }
        NodeMessage::Order(Order::Secret {
            account,
            addr,
            failed,
        }) => {
            let secret = match account {
                Some(name) => Secret::Account(NameKey::fold(&name)?),
                None => Secret::Admin,
            };
            let outcome = SecretOutcome {
                secret,
                addr,
                failed,
            };
            state.secrets.heard(outcome, std::time::Instant::now());
            None
        }
        NodeMessage::Order(Order::Account { name }) => {
            state.account_names.insert(&UserName::parse(&name).ok()?);
            None
        }
        NodeMessage::Order(Order::Shutdown { admin, reason }) => {
            tracing::warn!(%admin, %reason, "cluster-wide shutdown");
            state.shut_down(&admin, &reason);
            None
        }
        NodeMessage::RoomChange(change) => {
            match change.into_change() {
                Some(change) => {
                    state.rooms.apply(change);
                }
                None => tracing::warn!("unreadable room change from another node"),
            }
            None
        }
        NodeMessage::RoomSync { .. } => None,
    }
}

/// Another node (`origin`) starts (`fresh`) or comes back after it was
/// cut off: the guests it had before are dropped, and it gets this node's
/// share of the rooms' state (see
/// [`chinwag_core::state::Rooms::snapshot`]).
fn room_sync(state: &Arc<State>, origin: &str, fresh: bool) -> Bytes {
    let dropped = state.rooms.drop_guests_of(origin);
    if fresh {
        ops::rooms::guests_dropped(state, dropped);
    }
    let changes: Vec<RoomChangeWire> = state
        .rooms
        .snapshot()
        .into_iter()
        .map(RoomChangeWire::from)
        .collect();
    serde_json::to_vec(&changes)
        .map(Bytes::from)
        .unwrap_or_default()
}

/// Hands an event for one user to all its sessions; a stored message, by
/// id once (see [`chinwag_core::state::Peer::push_direct`]). What is not
/// stored (tags alone, a deletion) is never queued, so never twice.
fn handed_over(peer: &Peer, event: &Shared) -> u32 {
    match event.message() {
        Some(message) if !message.id.is_ephemeral() => peer.push_direct(message.id, event),
        _ => peer.push(event, None),
    }
}

/// A local user whose name another node holds now (this node was cut off
/// long enough to be taken for dead): it must go, with every session, and
/// is told why.
pub fn lost_name(state: &Arc<State>, name: NameKey, conn: ConnId) {
    let Some(peer) = state.users.get(name.as_str()).filter(|p| p.id == conn) else {
        return;
    };
    if !state.users.remove(&peer.name, conn) {
        return;
    }
    tracing::warn!(user = %peer.name, "name lost to another node while cut off from the cluster");
    ops::rooms::disconnected(state, &peer, "lost to another node");
    peer.close_all(&Event::new(ServerFrame::Notice(Notice {
        kind: NoticeKind::Kicked,
        ts: Timestamp::now(),
        actor: "".into(),
        subject: peer.name.as_str().into(),
        until: 0,
        text: "this server lost touch with the cluster and your name was taken on another node; \
                   reconnect"
            .into(),
    })));
}
