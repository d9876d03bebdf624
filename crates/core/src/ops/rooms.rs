//! What the room operations share: their notices, whether joins and
//! leaves are announced, and what a user's departure does to its rooms.

use std::sync::Arc;

use chinwag_proto::room::RoomNotice;
use chinwag_proto::server::Timestamp;
use chinwag_proto::{NoticeKind, RoomRole, ServerFrame, UserName};

use crate::event::{Event, Shared};
use crate::state::rooms::{Departure, Recipients, deliver};
use crate::state::{Peer, Room, Sender, State};

/// A ROOM_NOTICE, one event shared by every member it goes to.
pub fn notice(
    kind: NoticeKind,
    ts: Timestamp,
    room: &Room,
    actor: &str,
    subject: &str,
    until: u64,
    text: &str,
) -> Shared {
    Event::new(ServerFrame::RoomNotice(RoomNotice {
        kind,
        ts,
        room: room.name.as_str().into(),
        actor: actor.into(),
        subject: subject.into(),
        until,
        text: text.into(),
    }))
}

/// Tells a room's members: those online here (`recipients`) but the
/// session that caused it, and those elsewhere; returns how many here took
/// it. Members elsewhere miss a notice when the rest of the server cannot
/// be reached, as presence notices are missed.
pub fn tell_members(
    state: &State,
    room: &Room,
    recipients: &[Arc<Peer>],
    event: &Shared,
    sender: Option<&Sender>,
) -> u32 {
    let delivered = deliver(recipients, event, sender);
    if let Err(error) = state.delivery().to_room(&room.name, event) {
        tracing::debug!(%error, room = %room.name, "room notice not sent elsewhere");
    }
    delivered
}

/// Whether joins and leaves in a room of `members` are announced.
pub fn announces_presence(state: &State, members: usize) -> bool {
    members <= state.config.presence_limit
}

/// After a member left: tell the others (within the presence limit) and
/// announce an inherited ownership.
pub fn announce_departure(
    state: &State,
    room: &Room,
    departure: &Departure,
    actor: &str,
    why: &str,
    now: Timestamp,
) {
    if announces_presence(state, departure.members + 1) {
        let left = notice(
            NoticeKind::RoomLeft,
            now,
            room,
            actor,
            departure.member.name.as_str(),
            0,
            why,
        );
        tell_members(state, room, &departure.remaining, &left, None);
    }
    if let Some(owner) = &departure.new_owner {
        let role = notice(
            NoticeKind::RoomRole,
            now,
            room,
            "",
            owner.as_str(),
            RoomRole::Owner as u64,
            "",
        );
        tell_members(state, room, &departure.remaining, &role, None);
    }
}

/// A user went offline: a guest's memberships end with it (not announced
/// during a shutdown: everyone got NOTICE Shutdown); an account's go
/// offline and stay.
pub fn disconnected(state: &State, peer: &Peer, why: &str) {
    let user = peer.name.key();
    let now = Timestamp::now();
    for room in state.rooms.rooms_of(&user) {
        if state.rooms.detach(&room, &user, peer.id) {
            continue;
        }
        let Some(departure) = state.rooms.leave(&room, &user, Some(peer.id)) else {
            continue;
        };
        if !state.shutdown.is_started() {
            announce_departure(state, &room, &departure, "", why, now);
        }
    }
}

/// A guest of another node that stopped without saying goodbye (this node
/// freed its name): it leaves its rooms, as it would have on its own
/// node, and their members everywhere are told. An account stays a
/// member (offline).
pub fn gone_with_its_node(state: &State, name: &UserName) {
    let user = name.key();
    let now = Timestamp::now();
    for room in state.rooms.rooms_of(&user) {
        let elsewhere = room.read().member(&user).is_some_and(|m| m.home.is_some());
        if !elsewhere {
            continue;
        }
        if let Some(departure) = state.rooms.leave(&room, &user, None) {
            announce_departure(state, &room, &departure, "", "its server node stopped", now);
        }
    }
}

/// Guests of a node that started afresh were dropped from rooms here
/// (see [`crate::state::Rooms::drop_guests_of`]): each node tells its own
/// members.
pub fn guests_dropped(state: &State, dropped: Vec<(Arc<Room>, UserName, Recipients)>) {
    let now = Timestamp::now();
    for (room, name, remaining) in dropped {
        if !announces_presence(state, room.read().len() + 1) {
            continue;
        }
        let left = notice(
            NoticeKind::RoomLeft,
            now,
            &room,
            "",
            name.as_str(),
            0,
            "its server node restarted",
        );
        deliver(&remaining, &left, None);
    }
}
