//! METADATA_SET, METADATA_GET, METADATA_SUB: key/value metadata on users
//! and rooms (IRC's `draft/metadata-3`, for every front end).
//!
//! A user's metadata lives on its `Peer` (an account's is the store's too,
//! loaded at login); a room's on the room. Subscriptions are a session's
//! (on its `Link`): a subscribed session is sent a METADATA event when a
//! user it shares a room with, its own user, or a room it is in changes a
//! subscribed key, and, when it joins a room, the room's and the members'
//! subscribed keys.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use chinwag_proto::request::{MetadataGet, MetadataSet, MetadataSub};
use chinwag_proto::server::{Metadata, MetadataEntry};
use chinwag_proto::{ErrorCode, ServerFrame};

use super::{CmdError, Ctx, Outcome, Reply, later, no_such_user};
use crate::event::Event;
use crate::state::rooms::Room;
use crate::state::{ConnId, Peer, State};

/// Most keys a user or a room has.
pub const MAX_KEYS: usize = 20;
/// Most bytes of a value.
pub const MAX_VALUE: usize = 300;
/// Most bytes of a key.
pub const MAX_KEY: usize = 64;
/// Most keys one session subscribes to.
pub const MAX_SUBS: usize = 50;

/// Whether `key` may name a metadata key: 1 to 64 bytes of `a-z 0-9 _ .
/// / : -`.
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_KEY
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_./:-".contains(&b))
}

/// Whose metadata a request names.
enum Owner {
    User(Arc<Peer>),
    Room(Arc<Room>),
}

fn owner(target: &str, ctx: &Ctx<'_>) -> Result<Owner, CmdError> {
    if target.starts_with('#') {
        ctx.state.rooms.get(target).map(Owner::Room).ok_or_else(|| {
            CmdError::new(
                ErrorCode::NoSuchRoom,
                format!("there is no room {target:?}"),
            )
        })
    } else {
        ctx.state
            .users
            .get(target)
            .map(Owner::User)
            .ok_or_else(|| no_such_user(target))
    }
}

fn check_key(key: &str) -> Result<(), CmdError> {
    if valid_key(key) {
        Ok(())
    } else {
        Err(CmdError::new(
            ErrorCode::InvalidArgument,
            format!("{key:?} is no metadata key (1 to {MAX_KEY} bytes of a-z 0-9 _ . / : -)"),
        ))
    }
}

/// What a change does to `map`: the keys changed with their new values
/// (empty: unset). `key` `*` with an empty value clears every key.
fn change(
    map: &mut BTreeMap<String, String>,
    key: &str,
    value: &str,
) -> Result<Vec<(String, String)>, CmdError> {
    if key == "*" {
        return Ok(std::mem::take(map)
            .into_keys()
            .map(|k| (k, String::new()))
            .collect());
    }
    if value.is_empty() {
        map.remove(key);
    } else {
        if !map.contains_key(key) && map.len() >= MAX_KEYS {
            return Err(CmdError::new(
                ErrorCode::InvalidArgument,
                format!("at most {MAX_KEYS} metadata keys"),
            ));
        }
        map.insert(key.to_owned(), value.to_owned());
    }
    Ok(vec![(key.to_owned(), value.to_owned())])
}

fn frame(target: &str, entries: Vec<(String, String)>) -> ServerFrame {
    ServerFrame::Metadata(Metadata {
        target: target.into(),
        entries: entries
            .into_iter()
            .map(|(key, value)| MetadataEntry {
                key: key.into(),
                value: value.into(),
            })
            .collect(),
    })
}

pub fn set(req: MetadataSet, ctx: &mut Ctx<'_>) -> Outcome {
    match set_checked(req, ctx) {
        Ok(outcome) => outcome,
        Err(error) => error.into(),
    }
}

fn set_checked(req: MetadataSet, ctx: &mut Ctx<'_>) -> Result<Outcome, CmdError> {
    let me = Arc::clone(ctx.me()?);
    let (key, value) = (req.key.to_string(), req.value.to_string());
    if !(key == "*" && value.is_empty()) {
        check_key(&key)?;
    }
    if !value.is_empty() {
        chinwag_proto::text::validate(&value, MAX_VALUE)
            .map_err(|e| CmdError::new(ErrorCode::InvalidContent, format!("{key}: {e}")))?;
    }
    let conn = ctx.conn.id;
    match owner(&req.target, ctx)? {
        Owner::User(peer) => {
            if peer.name.key() != me.name.key() {
                return Err(CmdError::new(
                    ErrorCode::Forbidden,
                    "a user's metadata is its own to set",
                ));
            }
            // Checked before the store is asked, applied once it kept it.
            change(
                &mut peer
                    .metadata
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone(),
                &key,
                &value,
            )?;
            let apply = move |state: &Arc<State>| -> Reply {
                let changed = change(
                    &mut peer.metadata.lock().unwrap_or_else(|p| p.into_inner()),
                    &key,
                    &value,
                )?;
                notify_user(state, &peer, &changed, Some(conn));
                Ok(frame(peer.name.as_str(), changed))
            };
            if !me.account {
                return Ok(apply(ctx.state).into());
            }
            let stored = ctx.state.store.set_metadata(
                me.name.key(),
                req.key.to_string(),
                (!req.value.is_empty()).then(|| req.value.to_string()),
            );
            Ok(later(false, stored, move |done, ctx| match done {
                Ok(()) => apply(ctx.state).into(),
                Err(error) => CmdError::from(error).into(),
            }))
        }
        Owner::Room(room) => {
            let mut state = room.write();
            let role = state.role_of(&me.name.key());
            if !role.moderates() {
                return Err(if state.member(&me.name.key()).is_none() {
                    CmdError::new(
                        ErrorCode::NotAMember,
                        format!("you are not a member of {}", room.name),
                    )
                } else {
                    CmdError::new(
                        ErrorCode::NotRoomOperator,
                        format!("only {}'s operators set its metadata", room.name),
                    )
                });
            }
            let changed = change(&mut state.metadata, &key, &value)?;
            drop(state);
            notify_room(&room, &changed, Some(conn));
            Ok(Ok(frame(room.name.as_str(), changed)).into())
        }
    }
}

pub fn get(req: MetadataGet, ctx: &mut Ctx<'_>) -> Reply {
    let me = Arc::clone(ctx.me()?);
    for key in &req.keys {
        check_key(key)?;
    }
    let (target, map) = match owner(&req.target, ctx)? {
        Owner::User(peer) => (
            peer.name.to_string(),
            peer.metadata
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        ),
        Owner::Room(room) => {
            let state = room.read();
            let open = !state.mode.invite_only() && !state.mode.password();
            if !open && state.member(&me.name.key()).is_none() {
                return Err(CmdError::new(
                    ErrorCode::Forbidden,
                    format!("{}'s metadata is its members'", room.name),
                ));
            }
            (room.name.to_string(), state.metadata.clone())
        }
    };
    let entries = if req.keys.is_empty() {
        map.into_iter().collect()
    } else {
        req.keys
            .iter()
            .map(|k| (k.to_string(), map.get(&**k).cloned().unwrap_or_default()))
            .collect()
    };
    Ok(frame(&target, entries))
}

pub fn sub(req: MetadataSub, ctx: &mut Ctx<'_>) -> Reply {
    let me = Arc::clone(ctx.me()?);
    for key in req.add.iter().chain(&req.remove) {
        check_key(key)?;
    }
    let link = me
        .sessions()
        .iter()
        .find(|l| l.conn == ctx.conn.id)
        .cloned()
        .ok_or_else(|| CmdError::new(ErrorCode::Internal, "this session is not online"))?;
    let mut subs = link.metadata_subs.lock().unwrap_or_else(|p| p.into_inner());
    let mut added: Vec<&str> = Vec::new();
    for key in &req.add {
        let key: &str = key;
        if !subs.iter().any(|s| s == key) && !added.contains(&key) {
            added.push(key);
        }
    }
    if subs.len() + added.len() > MAX_SUBS {
        return Err(CmdError::new(
            ErrorCode::InvalidArgument,
            format!("at most {MAX_SUBS} metadata subscriptions"),
        ));
    }
    subs.extend(added.into_iter().map(str::to_owned));
    subs.retain(|s| !req.remove.iter().any(|k| &**k == s.as_str()));
    let entries = subs.iter().map(|k| (k.clone(), String::new())).collect();
    Ok(frame("", entries))
}

/// Pushes `target`'s `entries` to each of `peers`' sessions (but
/// `except`) subscribed to them, one event per key.
fn tell(peers: &[Arc<Peer>], target: &str, entries: &[(String, String)], except: Option<ConnId>) {
    for (key, value) in entries {
        let mut event = None;
        for peer in peers {
            for link in peer.sessions().iter() {
                if Some(link.conn) == except || !link.subscribes(key) {
                    continue;
                }
                let event = event.get_or_insert_with(|| {
                    Event::new(frame(target, vec![(key.clone(), value.clone())]))
                });
                let _ = link.outbox.push(Arc::clone(event));
            }
        }
    }
}

/// Everyone who shares a room with `peer`, and `peer`.
fn neighbours(state: &State, peer: &Arc<Peer>) -> Vec<Arc<Peer>> {
    let mut seen = HashSet::from([peer.name.key()]);
    let mut peers = vec![Arc::clone(peer)];
    for room in state.rooms.rooms_of(&peer.name.key()) {
        for other in room.recipients().iter() {
            if seen.insert(other.name.key()) {
                peers.push(Arc::clone(other));
            }
        }
    }
    peers
}

fn notify_user(
    state: &Arc<State>,
    peer: &Arc<Peer>,
    entries: &[(String, String)],
    except: Option<ConnId>,
) {
    tell(
        &neighbours(state, peer),
        peer.name.as_str(),
        entries,
        except,
    );
}

fn notify_room(room: &Room, entries: &[(String, String)], except: Option<ConnId>) {
    tell(&room.recipients(), room.name.as_str(), entries, except);
}

/// `me` (session `conn`) joined `room`: the session is sent the room's
/// and the members' subscribed keys, and the members' subscribed sessions
/// `me`'s.
pub fn joined(room: &Room, me: &Arc<Peer>, conn: ConnId) {
    let members = room.recipients();
    let mine: Vec<(String, String)> = me
        .metadata
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let others: Vec<Arc<Peer>> = members
        .iter()
        .filter(|p| p.name.key() != me.name.key())
        .cloned()
        .collect();
    tell(&others, me.name.as_str(), &mine, None);
    let Some(link) = me.sessions().iter().find(|l| l.conn == conn).cloned() else {
        return;
    };
    let subs = link
        .metadata_subs
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    if subs.is_empty() {
        return;
    }
    let pick = |map: &BTreeMap<String, String>| -> Vec<(String, String)> {
        map.iter()
            .filter(|(k, _)| subs.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let send = |target: &str, entries: Vec<(String, String)>| {
        if !entries.is_empty() {
            let _ = link.outbox.push(Event::new(frame(target, entries)));
        }
    };
    let room_entries = pick(&room.read().metadata);
    send(room.name.as_str(), room_entries);
    for other in &others {
        let entries = pick(&other.metadata.lock().unwrap_or_else(|p| p.into_inner()));
        send(other.name.as_str(), entries);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_lowercase_and_short() {
        assert!(valid_key("display-name"));
        assert!(valid_key("avatar"));
        assert!(valid_key("x/y:z_1.2"));
        assert!(!valid_key(""));
        assert!(!valid_key("Display"));
        assert!(!valid_key("a b"));
        assert!(!valid_key("*"));
        assert!(!valid_key(&"k".repeat(MAX_KEY + 1)));
    }

    #[test]
    fn changes_set_unset_clear_and_bound() {
        let mut map = BTreeMap::new();
        assert_eq!(
            change(&mut map, "color", "red").unwrap(),
            [("color".to_owned(), "red".to_owned())]
        );
        assert_eq!(
            change(&mut map, "color", "").unwrap(),
            [("color".to_owned(), String::new())]
        );
        assert!(map.is_empty());
        for i in 0..MAX_KEYS {
            change(&mut map, &format!("k{i}"), "v").unwrap();
        }
        assert!(change(&mut map, "one-more", "v").is_err());
        assert!(
            change(&mut map, "k0", "replaced").is_ok(),
            "replacing is no new key"
        );
        let cleared = change(&mut map, "*", "").unwrap();
        assert_eq!(cleared.len(), MAX_KEYS);
        assert!(cleared.iter().all(|(_, v)| v.is_empty()));
        assert!(map.is_empty());
    }
}
