//! What others are told when a user changes: its profile, its flags, its
//! name. One USER_UPDATE event carries the user's whole public state after
//! the change; it goes to the user's other sessions and to everyone else
//! while the server announces presence (so that a client watching a name,
//! IRC's MONITOR, learns of it), or, beyond the presence limit, to those
//! who share a room with the user.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chinwag_proto::server::{MuteState, Timestamp, UserUpdate, user_changed};
use chinwag_proto::{ServerFrame, UserName};

use super::login::name_taken;
use super::mute::schedule_expiry;
use crate::error::CmdError;
use crate::event::{Event, Shared};
use crate::state::users::UserProfile;
use crate::state::{ConnId, Peer, State};

/// What differs from `before` to `after`, as USER_UPDATE's `changed`.
pub fn changes(before: &UserProfile, after: &UserProfile) -> u8 {
    let mut changed = 0;
    for (bit, was, is) in [
        (user_changed::USERNAME, &before.username, &after.username),
        (user_changed::REALNAME, &before.realname, &after.realname),
        (user_changed::AWAY, &before.away, &after.away),
    ] {
        if was != is {
            changed |= bit;
        }
    }
    changed
}

/// The USER_UPDATE event for `peer` as it is now.
pub fn update(peer: &Peer, changed: u8, old_name: &str, now: Timestamp) -> Shared {
    let profile = peer.profile();
    Event::new(ServerFrame::UserUpdate(UserUpdate {
        ts: now,
        name: peer.name.as_str().into(),
        old_name: old_name.into(),
        changed,
        flags: peer.flags(),
        username: profile.username,
        realname: profile.realname,
        away: profile.away,
    }))
}

/// Tells whom it concerns about a change of `peer` (see the module): its
/// sessions but `except` (the one that asked, which has its answer), and
/// the others.
pub fn tell_change(state: &State, peer: &Peer, event: &Shared, except: Option<ConnId>) {
    peer.push(event, except);
    let key = peer.name.key();
    if state.online() <= state.config.presence_limit {
        state.users.push_to_others(event, &key);
        state.delivery().presence(event, &key);
        return;
    }
    // Too many online to tell everyone: those who share a room, once each.
    let mut told = HashSet::from([key]);
    for room in state.rooms.rooms_of(&key) {
        for member in room.recipients().iter() {
            if told.insert(member.name.key()) {
                member.push(event, None);
            }
        }
        if let Err(error) = state.delivery().to_room(&room.name, event) {
            tracing::debug!(%error, room = %room.name, "user update not sent elsewhere");
        }
    }
}

/// Renames `peer` (a guest) to `name`, which passed every check (and was
/// claimed beyond this node when names are claimed there:
/// `claimed_elsewhere`). The old name is freed once, recorded for WHOWAS,
/// and everyone concerned is told (USER_UPDATE with the old name) but
/// session `conn`, which asked. Returns the user under its new name.
pub fn rename(
    state: &Arc<State>,
    peer: &Arc<Peer>,
    name: UserName,
    conn: ConnId,
    now: Timestamp,
    claimed_elsewhere: bool,
) -> Result<Arc<Peer>, CmdError> {
    let old = peer.name.clone();
    let moved = old.key() != name.key();
    let fresh = peer.renamed(name.clone());
    if moved {
        // Mutes belong to names: the new name's, if any, holds.
        let muted = state.mutes.get(&name.key(), now);
        fresh.set_muted(muted);
        if let MuteState::Until(end) = muted {
            let left = Duration::from_millis(end.0.saturating_sub(now.0));
            schedule_expiry(Arc::clone(state), name.key(), muted, left);
        }
    }
    let renamed = match state.users.rename(peer, fresh) {
        Ok(renamed) => renamed,
        Err(_) => {
            if claimed_elsewhere {
                state.delivery().release(name.key(), peer.id, None);
            }
            return Err(name_taken(&name));
        }
    };
    state.rooms.rename_member(&old.key(), &renamed);
    if moved {
        state.whowas.record(peer, now);
        state.delivery().release(old.key(), peer.id, None);
    }
    let event = update(&renamed, user_changed::NAME, old.as_str(), now);
    tell_change(state, &renamed, &event, Some(conn));
    Ok(renamed)
}
