//! Rooms: the registry of named group conversations, their members, topics
//! and moderation state.
//!
//! Locking, and why it is cheap:
//! - The registry is a sharded map (`DashMap`) from room key to
//!   `Arc<Room>`, like the directory of users: looking a room up takes a
//!   read lock on one shard only.
//! - Each room has its own `RwLock`. Sending to a room takes the read lock
//!   just long enough to check the sender and clone an `Arc` of the room's
//!   recipient list (built once and kept until membership or presence
//!   changes), so senders in one room never wait on each other.
//! - The frame is pushed to the recipients' outboxes after the lock is
//!   released. Pushing never waits (see [`Outbox`](crate::outbox::Outbox)),
//!   and only each connection's own session writes to its socket, so no lock
//!   is ever held while writing to a socket.
//!
//! Lock order: a room's lock, then a registry shard (when an empty room is
//! deleted), then a shard of the per-user index. Nobody takes a room's lock
//! while holding a registry or index shard.
//!
//! Persistence: a room's settings, its accounts' memberships and its mutes
//! are written through to the [`Store`] while the room's lock is held (the
//! submission is synchronous, so writes reach the store in the order the
//! changes happened). A guest's membership ends with its connection and is
//! never written; an account's lasts until it leaves, across disconnects
//! (its member entry is then offline) and restarts.
//!
//! Across nodes (cluster mode), every change is also handed to the other
//! nodes, which apply it to their copy: see [`replica`].

mod replica;

pub use replica::{Change, Membership, RoomChange, Stamp};

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

use chinwag_proto::room::{MaskEntry, MaskList, MemberInfo, RoomInfo, RoomMode};
use chinwag_proto::server::{MuteState, Timestamp};
use chinwag_proto::{NameKey, RoomKey, RoomName, RoomRole, UserName};
use dashmap::DashMap;

use super::ConnId;
use super::users::{Peer, Sender};
use crate::event::Shared;
use crate::store::{MaskRecord, MemberRecord, RoomMeta, RoomRecord, RoomWrite, Store};

/// Longest topic, in bytes.
pub const MAX_TOPIC: usize = 256;
/// Longest room password, in bytes.
pub const MAX_PASSWORD: usize = 64;
/// Most invitations a room keeps at once.
pub const MAX_INVITATIONS: usize = 1000;
/// Most masks in each of a room's mask lists.
pub const MAX_MASKS: usize = 100;
/// Longest mask, in bytes.
pub const MAX_MASK: usize = 128;
/// The host part of every user's `nick!user@host` mask: chinwag keeps no
/// host names of its own (and shows no addresses), so every user has
/// this one.
pub const USER_HOST: &str = "chinwag";

/// The connections a room message goes to, shared by every send until the
/// membership or someone's presence changes.
pub type Recipients = Arc<[Arc<Peer>]>;

/// One member of a room.
#[derive(Clone, Debug)]
pub struct Member {
    pub name: UserName,
    pub role: RoomRole,
    /// Order of joining, to pick a new owner when the owner leaves.
    since: u64,
    /// The member's connection while online.
    pub peer: Option<Arc<Peer>>,
    /// An account's membership (kept while offline, and stored); else a
    /// guest's (ends with its connection).
    pub account: bool,
    /// May talk whatever the room's moderation and mute masks.
    pub voiced: bool,
    /// The node of a guest connected to another node (cluster mode): its
    /// membership ends with that node. `None` for an account or a guest
    /// of this node.
    pub home: Option<String>,
}

impl Member {
    fn record(&self) -> MemberRecord {
        MemberRecord {
            name: self.name.as_str().to_owned(),
            role: self.role,
            since: self.since,
            voiced: self.voiced,
        }
    }

    /// Operators and voiced members talk whatever the moderation.
    pub fn may_always_talk(&self) -> bool {
        self.voiced || self.role.moderates()
    }
}

/// Who a mask is matched against: a user's name and the user name its
/// profile gives (its name when it gives none), as `name!user@chinwag`.
#[derive(Clone, Debug)]
pub struct Subject {
    /// `name!user@host`, folded to lower case.
    full: String,
}

impl Subject {
    pub fn new(name: &str, username: &str) -> Subject {
        let user = if username.is_empty() { name } else { username };
        Subject {
            full: format!("{name}!{user}@{USER_HOST}").to_ascii_lowercase(),
        }
    }

    /// The subject for an online user.
    pub fn of(peer: &Peer) -> Subject {
        Subject::new(peer.name.as_str(), &peer.profile().username)
    }

    /// Whether `mask` (as [`normalize_mask`] leaves it) matches.
    pub fn matches(&self, mask: &str) -> bool {
        glob(mask.as_bytes(), self.full.as_bytes())
    }
}

/// `*` any run of bytes, `?` any one byte; iterative, so a long run of
/// stars costs no deep recursion.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == b'*')
}

/// A mask in the form the lists keep: `nick!user@host`, lower case. A
/// bare `nick` is `nick!*@*`, `user@host` is `*!user@host`, `nick!user`
/// is `nick!user@*`.
pub fn normalize_mask(mask: &str) -> Result<String, String> {
    if mask.is_empty() {
        return Err("a mask cannot be empty".into());
    }
    if mask.len() > MAX_MASK {
        return Err(format!(
            "a mask is at most {MAX_MASK} bytes, this one is {}",
            mask.len()
        ));
    }
    if let Some(bad) = mask
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || *c == ',')
    {
        return Err(format!("a mask cannot contain {bad:?}"));
    }
    let mask = mask.to_ascii_lowercase();
    Ok(match (mask.find('!'), mask.find('@')) {
        (None, None) => format!("{mask}!*@*"),
        (None, Some(_)) => format!("*!{mask}"),
        (Some(_), None) => format!("{mask}@*"),
        (Some(_), Some(_)) => mask,
    })
}

/// Why a member (or, in a room open to them, a non-member) may not talk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Silenced {
    /// Muted in the room, by name.
    Muted(MuteState),
    /// The room is moderated and the user neither voiced nor an operator.
    Moderated,
    /// A mute mask matches (and no mute exception does).
    Masked,
}

/// What a room holds besides its name; read and written under its lock.
#[derive(Debug, Default)]
pub struct RoomState {
    pub topic: String,
    /// Who set the topic, and when.
    pub topic_by: String,
    pub topic_ts: Timestamp,
    pub mode: RoomMode,
    /// Most members it lets in (0: no limit).
    pub limit: u32,
    /// When it was created (0: before rooms kept it).
    pub created: Timestamp,
    password: Option<String>,
    /// The mask lists, each in the order the masks were added.
    masks: Vec<MaskRecord>,
    members: HashMap<NameKey, Member>,
    invited: HashSet<NameKey>,
    /// Mutes by name, so that leaving and joining again lifts none.
    mutes: HashMap<NameKey, MuteState>,
    next_since: u64,
    /// Built on demand; `None` after any change that affects it.
    recipients: Option<Recipients>,
    /// Set when the last member left and the room left the registry: a
    /// joiner that looked it up just before must look again.
    deleted: bool,
    /// The room's metadata (METADATA_SET), kept while the room exists.
    pub metadata: std::collections::BTreeMap<String, String>,
    /// When each element was last changed, and where (cluster mode; see
    /// [`replica`]).
    stamps: HashMap<replica::Slot, Stamp>,
}

impl RoomState {
    /// How the room looks to `viewer`, for ROOM_LIST.
    pub fn info(&self, name: &RoomName, viewer: &NameKey) -> RoomInfo {
        RoomInfo {
            room: name.as_str().into(),
            topic: self.topic.as_str().into(),
            members: u32::try_from(self.len()).unwrap_or(u32::MAX),
            mode: self.mode,
            role: self.role_of(viewer),
            limit: self.limit,
            created: self.created,
            topic_by: self.topic_by.as_str().into(),
            topic_ts: self.topic_ts,
            invited: self.is_invited(viewer),
        }
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn member(&self, user: &NameKey) -> Option<&Member> {
        self.members.get(user)
    }

    /// `user`'s role: [`RoomRole::None`] when not a member.
    pub fn role_of(&self, user: &NameKey) -> RoomRole {
        self.members.get(user).map_or(RoomRole::None, |m| m.role)
    }

    /// Changes a member's role; `false` if `user` is not a member. The
    /// caller saves it ([`Rooms::save_member`]).
    pub fn set_role(&mut self, user: &NameKey, role: RoomRole) -> bool {
        let Some(member) = self.members.get_mut(user) else {
            return false;
        };
        member.role = role;
        true
    }

    /// Voices `user` or takes its voice; `false` if not a member. The
    /// caller saves it ([`Rooms::save_member`]).
    pub fn set_voice(&mut self, user: &NameKey, voiced: bool) -> bool {
        let Some(member) = self.members.get_mut(user) else {
            return false;
        };
        member.voiced = voiced;
        true
    }

    /// The settings to store.
    pub fn meta(&self, name: &RoomName) -> RoomMeta {
        RoomMeta {
            name: name.as_str().to_owned(),
            topic: self.topic.clone(),
            mode: self.mode.bits(),
            password: self.password.clone(),
            limit: self.limit,
            created: self.created,
            topic_by: self.topic_by.clone(),
            topic_ts: self.topic_ts,
        }
    }

    /// Whether a mask of `list` matches `who`.
    pub fn listed(&self, list: MaskList, who: &Subject) -> bool {
        self.masks
            .iter()
            .any(|m| m.list == list && who.matches(&m.mask))
    }

    /// One mask list, oldest first.
    pub fn mask_list(&self, list: MaskList) -> Vec<MaskEntry> {
        self.masks
            .iter()
            .filter(|m| m.list == list)
            .map(|m| MaskEntry {
                mask: m.mask.as_str().into(),
                set_by: m.set_by.as_str().into(),
                set_at: m.set_at,
            })
            .collect()
    }

    /// Adds a mask (normalised); `Ok(false)` if it is there already,
    /// `Err` if the list is full.
    pub fn add_mask(&mut self, record: MaskRecord) -> Result<bool, usize> {
        let same = |m: &&MaskRecord| m.list == record.list && m.mask == record.mask;
        if self.masks.iter().any(|m| same(&m)) {
            return Ok(false);
        }
        if self.masks.iter().filter(|m| m.list == record.list).count() >= MAX_MASKS {
            return Err(MAX_MASKS);
        }
        self.masks.push(record);
        Ok(true)
    }

    /// Removes a mask (normalised); whether it was there.
    pub fn remove_mask(&mut self, list: MaskList, mask: &str) -> bool {
        let before = self.masks.len();
        self.masks.retain(|m| !(m.list == list && m.mask == mask));
        self.masks.len() != before
    }

    /// Whether `user` may put text in front of the room's members now: a
    /// mute by name holds anyone back; the moderation and the mute masks
    /// hold back whoever is neither voiced nor an operator. `who` gives the
    /// user as masks see it; it is asked for only when the room has mute
    /// masks (most rooms have none, and a message should not pay for it).
    pub fn silenced(
        &self,
        user: &NameKey,
        who: impl FnOnce() -> Subject,
        now: Timestamp,
    ) -> Option<Silenced> {
        let muted = self.muted(user, now);
        if muted != MuteState::NotMuted {
            return Some(Silenced::Muted(muted));
        }
        if self.member(user).is_some_and(Member::may_always_talk) {
            return None;
        }
        if self.mode.moderated() {
            return Some(Silenced::Moderated);
        }
        if !self.masks.iter().any(|m| m.list == MaskList::Mute) {
            return None;
        }
        let who = who();
        if self.listed(MaskList::Mute, &who) && !self.listed(MaskList::MuteException, &who) {
            return Some(Silenced::Masked);
        }
        None
    }

    /// Whether `viewer` (not an administrator) may see the room in lists
    /// and its members: a secret room shows itself to its members (and to
    /// those it invited) only.
    pub fn visible_to(&self, viewer: &NameKey) -> bool {
        !self.mode.secret() || self.members.contains_key(viewer) || self.is_invited(viewer)
    }

    /// `user`'s mute in this room at `now`.
    pub fn muted(&self, user: &NameKey, now: Timestamp) -> MuteState {
        self.mutes
            .get(user)
            .map_or(MuteState::NotMuted, |m| m.at(now))
    }

    pub fn mute(&mut self, user: NameKey, until: MuteState, now: Timestamp) {
        // Mutes that ran out are dropped here rather than by a timer.
        self.mutes.retain(|_, m| m.at(now) != MuteState::NotMuted);
        self.mutes.insert(user, until);
    }

    /// Lifts a mute; returns whether one was in force at `now`.
    pub fn unmute(&mut self, user: &NameKey, now: Timestamp) -> bool {
        self.mutes
            .remove(user)
            .is_some_and(|m| m.at(now) != MuteState::NotMuted)
    }

    pub fn has_password(&self) -> bool {
        self.password.is_some()
    }

    /// Compares in constant time, like the admin password.
    pub fn password_matches(&self, given: &str) -> bool {
        use subtle::ConstantTimeEq;
        self.password
            .as_deref()
            .is_some_and(|p| bool::from(p.as_bytes().ct_eq(given.as_bytes())))
    }

    /// Sets the mode; `password` is the new one (`None`: keep the current
    /// one if the mode still has a password, else drop it).
    pub fn set_mode(&mut self, mode: RoomMode, password: Option<String>) {
        self.mode = mode;
        if !mode.password() {
            self.password = None;
        } else if password.is_some() {
            self.password = password;
        }
    }

    /// Records an invitation; `false` if too many are pending. Handlers
    /// go through [`Rooms::invite`], which tells the other nodes.
    fn invite(&mut self, user: NameKey) -> bool {
        if self.invited.len() >= MAX_INVITATIONS && !self.invited.contains(&user) {
            return false;
        }
        self.invited.insert(user);
        true
    }

    pub fn is_invited(&self, user: &NameKey) -> bool {
        self.invited.contains(user)
    }

    /// The connections of the online members, built once per change.
    fn recipients(&mut self) -> Recipients {
        if let Some(list) = &self.recipients {
            return Arc::clone(list);
        }
        let list: Recipients = self
            .members
            .values()
            .filter_map(|m| m.peer.clone())
            .collect();
        self.recipients = Some(Arc::clone(&list));
        list
    }

    /// The owner, then operators, then members, each by name. A member
    /// not connected here is online if `online_elsewhere` says so.
    pub fn member_list(
        &self,
        now: Timestamp,
        online_elsewhere: impl Fn(&str) -> bool,
    ) -> Vec<MemberInfo> {
        let mut members: Vec<&Member> = self.members.values().collect();
        members.sort_by_cached_key(|m| {
            (
                std::cmp::Reverse(m.role),
                m.name.as_str().to_ascii_lowercase(),
            )
        });
        members
            .into_iter()
            .map(|m| MemberInfo {
                name: m.name.as_str().into(),
                role: m.role,
                online: m.peer.is_some() || online_elsewhere(m.name.as_str()),
                muted: self.muted(&m.name.key(), now),
                voiced: m.voiced,
            })
            .collect()
    }

    fn add(&mut self, peer: &Arc<Peer>, role: RoomRole) {
        let since = self.next_since;
        self.next_since += 1;
        self.invited.remove(&peer.name.key());
        self.members.insert(
            peer.name.key(),
            Member {
                name: peer.name.clone(),
                role,
                since,
                peer: Some(Arc::clone(peer)),
                account: peer.account,
                voiced: false,
                home: None,
            },
        );
        self.recipients = None;
    }

    /// The owner gives the room up and becomes a plain member: the
    /// longest-standing operator, if there is one, owns it now (returned);
    /// if not, the room has no owner (and no operators) until its members
    /// change. The caller saves both ([`Rooms::save_member`]).
    pub fn step_down(&mut self, owner: &NameKey) -> Option<UserName> {
        self.set_role(owner, RoomRole::Member);
        let heir = self
            .members
            .values()
            .filter(|m| m.role == RoomRole::Operator)
            .min_by_key(|m| (m.since, m.name.key()))
            .map(|m| m.name.clone());
        if let Some(heir) = &heir {
            self.set_role(&heir.key(), RoomRole::Owner);
        }
        heir
    }

    /// Removes a member. If it was the owner, the longest-standing
    /// operator, else the longest-standing member, becomes owner; returns
    /// the removed member and the new owner.
    fn remove(&mut self, user: &NameKey) -> Option<(Member, Option<UserName>)> {
        let gone = self.members.remove(user)?;
        self.recipients = None;
        let mut heir = None;
        if gone.role == RoomRole::Owner
            && let Some(next) = self
                .members
                .values_mut()
                .max_by_key(|m| (m.role, std::cmp::Reverse((m.since, m.name.key()))))
        {
            next.role = RoomRole::Owner;
            heir = Some(next.name.clone());
        }
        Some((gone, heir))
    }
}

/// One room.
#[derive(Debug)]
pub struct Room {
    pub name: RoomName,
    state: RwLock<RoomState>,
}

impl Room {
    pub(crate) fn new(name: RoomName) -> Room {
        Room {
            name,
            state: RwLock::new(RoomState::default()),
        }
    }

    // A panic under a room's lock cannot leave its state half-written in a
    // way that matters more than losing the room would; carry on.
    pub fn read(&self) -> RwLockReadGuard<'_, RoomState> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn write(&self) -> RwLockWriteGuard<'_, RoomState> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The connections a message to this room goes to. Usually a read lock
    /// and an `Arc` clone; after a change, the list is rebuilt once.
    pub fn recipients(&self) -> Recipients {
        if let Some(list) = &self.read().recipients {
            return Arc::clone(list);
        }
        self.write().recipients()
    }

    /// How the room looks to `viewer`, for ROOM_LIST.
    pub fn info(&self, viewer: &NameKey) -> RoomInfo {
        self.read().info(&self.name, viewer)
    }
}

/// Queues an event for every session of every recipient but the sending
/// session (the sender's other sessions get it too); returns how many
/// other members took it. A full queue marks that reader as slow (its
/// session cuts it off) and holds up nobody else.
pub fn deliver(recipients: &[Arc<Peer>], event: &Shared, sender: Option<&Sender>) -> u32 {
    let mut delivered = 0;
    for peer in recipients {
        let took = peer.push(event, sender.map(|s| s.conn));
        if took > 0 && sender.is_none_or(|s| s.user != peer.name.key()) {
            delivered += 1;
        }
    }
    delivered
}

/// Why a JOIN was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinRefused {
    InviteOnly,
    BadPassword,
    /// A ban mask matches the joiner (and no ban exception does).
    Banned,
    /// The room has as many members as its limit.
    Full(u32),
    /// The user is in `max_rooms_per_user` rooms already.
    UserLimit(usize),
    /// The server holds `max_rooms` rooms already.
    ServerLimit(usize),
}

/// What a successful JOIN did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Joined {
    /// The room did not exist; the joiner owns it.
    Created,
    Joined,
    /// The joiner was a member already; nothing changed.
    AlreadyMember,
}

/// What a departure changed.
#[derive(Debug)]
pub struct Departure {
    pub member: Member,
    /// Who owns the room now, if the owner left and someone inherited it.
    pub new_owner: Option<UserName>,
    /// The online members who remain, to tell.
    pub remaining: Recipients,
    /// How many members remain.
    pub members: usize,
}

/// Every room on the server.
pub struct Rooms {
    registry: DashMap<RoomKey, Arc<Room>>,
    /// Where rooms are written through; none in unit tests.
    store: Option<Arc<dyn Store>>,
    /// The rooms each user is in: to leave them all on disconnect and to
    /// count them against the per-user limit.
    joined: DashMap<NameKey, HashSet<RoomKey>>,
    max_rooms: usize,
    max_per_user: usize,
    /// Where changes go besides the store: the other nodes, in cluster
    /// mode (see [`replica`]).
    replica: OnceLock<replica::Replica>,
}

impl Rooms {
    pub fn new(max_rooms: usize, max_per_user: usize) -> Rooms {
        Rooms {
            registry: DashMap::new(),
            store: None,
            joined: DashMap::new(),
            max_rooms,
            max_per_user,
            replica: OnceLock::new(),
        }
    }

    /// Writes rooms through to `store`.
    pub fn with_store(mut self, store: Arc<dyn Store>) -> Rooms {
        self.store = Some(store);
        self
    }

    /// Writes a change through to the store. Called under the room's lock:
    /// the write is submitted at once (so in order); its result is only
    /// logged, since the change has been made in memory already. Handlers
    /// call [`Rooms::save`], which tells the other nodes too.
    fn store(&self, write: RoomWrite) {
        let Some(store) = &self.store else { return };
        let done = store.write_room(write);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(error) = done.await {
                    tracing::error!(%error, "cannot store a room change");
                }
            });
        }
    }

    /// Rebuilds the stored rooms at start-up, every member offline. A room
    /// with no members left (only guests were in it) is deleted; in
    /// cluster mode it is left alone, as guests of other nodes may still
    /// be in it (they arrive with the other nodes' snapshots, and whoever
    /// creates the room afresh clears what is left of it).
    pub fn restore(&self, records: Vec<RoomRecord>) {
        let records = records
            .into_iter()
            .filter(|record| {
                if record.members.is_empty()
                    && !self.replicated()
                    && let Some(key) = RoomKey::fold(&record.meta.name)
                {
                    self.store(RoomWrite::Delete(key));
                }
                !record.members.is_empty()
            })
            .collect();
        self.reload(records);
    }

    /// Takes what the store says of the rooms (at start-up, or after this
    /// node was cut off from the others, who wrote their changes there):
    /// the settings, masks, mutes and the accounts' memberships. The
    /// guests' memberships stay as they are, as do the connections of the
    /// accounts online here. A room the store has no record of keeps its
    /// guests only; a record without members brings back only a room
    /// that still has some here.
    pub fn reload(&self, records: Vec<RoomRecord>) {
        let mut stored = HashSet::new();
        for record in records {
            let Ok(name) = RoomName::parse(&record.meta.name) else {
                tracing::warn!(room = %record.meta.name, "skipping a stored room with a bad name");
                continue;
            };
            let key = name.key();
            stored.insert(key);
            loop {
                let room = match self.registry.get(&key).map(|r| Arc::clone(&r)) {
                    Some(room) => room,
                    None if record.members.is_empty() => break,
                    None => {
                        // Filled before it is registered (see
                        // [`Rooms::apply`]).
                        let room = Arc::new(Room::new(name.clone()));
                        self.take_record(&room, &mut room.write(), record.clone());
                        if room.read().is_empty() || self.register(key, room) {
                            break;
                        }
                        continue;
                    }
                };
                let mut state = room.write();
                if state.deleted {
                    continue;
                }
                self.take_record(&room, &mut state, record.clone());
                if state.is_empty() {
                    self.delete(&room, &mut state);
                }
                break;
            }
        }
        for room in self.all() {
            if stored.contains(&room.name.key()) {
                continue;
            }
            let mut state = room.write();
            let accounts: Vec<NameKey> = state
                .members
                .iter()
                .filter(|(_, m)| m.account)
                .map(|(key, _)| *key)
                .collect();
            for key in accounts {
                state.members.remove(&key);
                state.recipients = None;
                self.unjoin(&key, &room);
            }
            if state.is_empty() {
                self.delete(&room, &mut state);
            }
        }
    }

    /// Makes `state` what `record` says, but for the guests.
    fn take_record(&self, room: &Room, state: &mut RoomState, record: RoomRecord) {
        state.set_settings(record.meta);
        state.masks = record.masks;
        state.mutes = record.mutes.into_iter().collect();
        let mut accounts = HashSet::new();
        for m in record.members {
            let Ok(user) = UserName::parse(&m.name) else {
                continue;
            };
            let key = user.key();
            accounts.insert(key);
            state.next_since = state.next_since.max(m.since + 1);
            let peer = state.members.get(&key).and_then(|old| old.peer.clone());
            state.members.insert(
                key,
                Member {
                    name: user,
                    role: m.role,
                    since: m.since,
                    peer,
                    account: true,
                    voiced: m.voiced,
                    home: None,
                },
            );
            self.joined.entry(key).or_default().insert(room.name.key());
        }
        let gone: Vec<NameKey> = state
            .members
            .iter()
            .filter(|(key, m)| m.account && !accounts.contains(*key))
            .map(|(key, _)| *key)
            .collect();
        for key in gone {
            state.members.remove(&key);
            self.unjoin(&key, room);
        }
        state.recipients = None;
    }

    /// An account logged in: its memberships reach this connection now.
    pub fn attach(&self, peer: &Arc<Peer>) {
        let user = peer.name.key();
        for room in self.rooms_of(&user) {
            let mut state = room.write();
            if let Some(member) = state.members.get_mut(&user)
                && member.account
            {
                member.peer = Some(Arc::clone(peer));
                state.recipients = None;
            }
        }
    }

    /// The stay online `conn` (a [`Peer::id`]) ended: an account member in
    /// `room` goes offline (and stays a member); returns `false` then.
    /// Anyone else is not touched here.
    pub fn detach(&self, room: &Room, user: &NameKey, conn: ConnId) -> bool {
        let mut state = room.write();
        let Some(member) = state.members.get_mut(user) else {
            return false;
        };
        if !member.account {
            return false;
        }
        if member.peer.as_ref().is_some_and(|p| p.id == conn) {
            member.peer = None;
            state.recipients = None;
        }
        true
    }

    /// The user once called `old` is `peer` now (a guest's rename): its
    /// memberships, roles and room mutes follow it to the new name.
    pub fn rename_member(&self, old: &NameKey, peer: &Arc<Peer>) {
        let new = peer.name.key();
        for room in self.rooms_of(old) {
            let mut state = room.write();
            let Some(mut member) = state.members.remove(old) else {
                continue;
            };
            member.name = peer.name.clone();
            member.peer = Some(Arc::clone(peer));
            state.members.insert(new, member);
            state.recipients = None;
            if *old != new {
                self.share(&room, &mut state, Change::Left(*old));
            }
            self.save_member(&room, &mut state, &new);
            if let Some(mute) = state.mutes.remove(old) {
                state.mutes.insert(new, mute);
                if *old != new {
                    self.share(&room, &mut state, Change::Mute(*old, MuteState::NotMuted));
                    self.share(&room, &mut state, Change::Mute(new, mute));
                }
            }
        }
        if *old != new
            && let Some((_, keys)) = self.joined.remove(old)
        {
            self.joined.entry(new).or_default().extend(keys);
        }
    }

    /// The room called `name` (any case), if it exists.
    pub fn get(&self, name: &str) -> Option<Arc<Room>> {
        let key = RoomKey::fold(name)?;
        self.registry.get(&key).map(|room| Arc::clone(&room))
    }

    pub fn len(&self) -> usize {
        self.registry.len()
    }

    pub fn is_empty(&self) -> bool {
        self.registry.is_empty()
    }

    /// Every room, sorted by name.
    pub fn all(&self) -> Vec<Arc<Room>> {
        let mut rooms: Vec<Arc<Room>> = self.registry.iter().map(|r| Arc::clone(&r)).collect();
        rooms.sort_by_cached_key(|r| r.name.as_str().to_ascii_lowercase());
        rooms
    }

    /// The rooms `user` is a member of.
    pub fn rooms_of(&self, user: &NameKey) -> Vec<Arc<Room>> {
        let keys: Vec<RoomKey> = match self.joined.get(user) {
            Some(keys) => keys.iter().copied().collect(),
            None => return Vec::new(),
        };
        keys.iter()
            .filter_map(|key| self.registry.get(key).map(|r| Arc::clone(&r)))
            .collect()
    }

    fn count_of(&self, user: &NameKey) -> usize {
        self.joined.get(user).map_or(0, |keys| keys.len())
    }

    /// Joins `peer` to the room `name`, creating it (owned by `peer`, with
    /// `password` if not empty) if it does not exist. An administrator
    /// (`admin`) gets past the room's mode, bans and limit; so does an
    /// invitation.
    pub fn join(
        &self,
        name: &RoomName,
        peer: &Arc<Peer>,
        password: &str,
        admin: bool,
        now: Timestamp,
    ) -> Result<(Arc<Room>, Joined), JoinRefused> {
        let user = peer.name.key();
        let who = Subject::of(peer);
        let key = name.key();
        loop {
            let existing = self.registry.get(&key).map(|r| Arc::clone(&r));
            let room = match existing {
                Some(room) => room,
                None => {
                    if self.count_of(&user) >= self.max_per_user {
                        return Err(JoinRefused::UserLimit(self.max_per_user));
                    }
                    if self.registry.len() >= self.max_rooms {
                        return Err(JoinRefused::ServerLimit(self.max_rooms));
                    }
                    // The shard guard is dropped at the end of this
                    // statement, before the room's lock is taken.
                    Arc::clone(
                        &self
                            .registry
                            .entry(key)
                            .or_insert_with(|| Arc::new(Room::new(name.clone()))),
                    )
                }
            };
            let mut state = room.write();
            if state.deleted {
                continue;
            }
            if state.members.contains_key(&user) {
                return Ok((Arc::clone(&room), Joined::AlreadyMember));
            }
            if self.count_of(&user) >= self.max_per_user {
                return Err(self.refuse_into(
                    &room,
                    state,
                    JoinRefused::UserLimit(self.max_per_user),
                ));
            }
            let outcome = if state.is_empty() {
                // A new room (or one whose last member left while we
                // looked it up and was not yet deleted): the joiner owns it.
                state.set_mode(
                    RoomMode::NEW.with(RoomMode::PASSWORD, !password.is_empty()),
                    (!password.is_empty()).then(|| password.to_owned()),
                );
                state.created = now;
                state.add(peer, RoomRole::Owner);
                self.created(&room, &mut state, &user);
                Joined::Created
            } else {
                let let_in = admin || state.is_invited(&user);
                if !let_in
                    && state.listed(MaskList::Ban, &who)
                    && !state.listed(MaskList::BanException, &who)
                {
                    return Err(JoinRefused::Banned);
                }
                if state.mode.invite_only()
                    && !let_in
                    && !state.listed(MaskList::InviteException, &who)
                {
                    return Err(JoinRefused::InviteOnly);
                }
                if state.limit > 0 && state.len() >= state.limit as usize && !let_in {
                    return Err(JoinRefused::Full(state.limit));
                }
                if state.mode.password() && !let_in && !state.password_matches(password) {
                    return Err(JoinRefused::BadPassword);
                }
                state.add(peer, RoomRole::Member);
                self.save_member(&room, &mut state, &user);
                Joined::Joined
            };
            self.joined.entry(user).or_default().insert(key);
            drop(state);
            return Ok((room, outcome));
        }
    }

    /// Refuses a join into a room that this join may have created: an
    /// empty room is deleted again rather than left behind.
    fn refuse_into(
        &self,
        room: &Arc<Room>,
        mut state: RwLockWriteGuard<'_, RoomState>,
        why: JoinRefused,
    ) -> JoinRefused {
        if state.is_empty() {
            self.delete(room, &mut state);
        }
        why
    }

    /// Registers a room built (and filled) off the registry; `false` if
    /// one of that name was registered meanwhile.
    fn register(&self, key: RoomKey, room: Arc<Room>) -> bool {
        match self.registry.entry(key) {
            dashmap::mapref::entry::Entry::Vacant(vacant) => {
                vacant.insert(room);
                true
            }
            dashmap::mapref::entry::Entry::Occupied(_) => false,
        }
    }

    /// `user` is no longer in `room`, for the per-user index.
    fn unjoin(&self, user: &NameKey, room: &Room) {
        if let Some(mut keys) = self.joined.get_mut(user) {
            keys.remove(&room.name.key());
        }
        self.joined.remove_if(user, |_, keys| keys.is_empty());
    }

    fn delete(&self, room: &Arc<Room>, state: &mut RoomState) {
        state.deleted = true;
        self.registry
            .remove_if(&room.name.key(), |_, r| Arc::ptr_eq(r, room));
    }

    /// Removes `user` from `room`. With `conn` (a [`Peer::id`]), only if
    /// the membership is held by that stay online (a guest's connection
    /// ending must not remove a newer connection's membership under the
    /// same name).
    /// Deletes the room when it is left empty.
    pub fn leave(
        &self,
        room: &Arc<Room>,
        user: &NameKey,
        conn: Option<ConnId>,
    ) -> Option<Departure> {
        let mut state = room.write();
        if let Some(conn) = conn {
            let held = state
                .member(user)
                .and_then(|m| m.peer.as_ref())
                .is_some_and(|p| p.id == conn);
            if !held {
                return None;
            }
        }
        let (member, new_owner) = state.remove(user)?;
        self.unjoin(user, room);
        if member.account && !state.is_empty() {
            self.save(
                room,
                &mut state,
                RoomWrite::RemoveMember(room.name.key(), *user),
            );
        } else {
            self.share(room, &mut state, Change::Left(*user));
        }
        if state.is_empty() {
            self.delete(room, &mut state);
            self.store(RoomWrite::Delete(room.name.key()));
            self.emptied(room);
        } else if let Some(heir) = &new_owner {
            self.save_member(room, &mut state, &heir.key());
        }
        let remaining = state.recipients();
        Some(Departure {
            member,
            new_owner,
            remaining,
            members: state.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::Outbox;

    fn peer(conn: u64, name: &str) -> Arc<Peer> {
        let link = crate::state::Link::new(
            ConnId(conn),
            Arc::new(Outbox::new(16, 4096)),
            "127.0.0.1:1".parse().unwrap(),
            String::new(),
            Timestamp(0),
        );
        Arc::new(Peer::new(UserName::parse(name).unwrap(), Arc::new(link)))
    }

    fn room(name: &str) -> RoomName {
        RoomName::parse(name).unwrap()
    }

    #[test]
    fn the_creator_owns_the_room_and_others_join_as_members() {
        let rooms = Rooms::new(10, 10);
        let (alice, bob) = (peer(1, "alice"), peer(2, "bob"));
        let (r, how) = rooms
            .join(&room("#General"), &alice, "", false, Timestamp(0))
            .unwrap();
        assert_eq!(how, Joined::Created);
        let (r2, how) = rooms
            .join(&room("#general"), &bob, "", false, Timestamp(0))
            .unwrap();
        assert_eq!(how, Joined::Joined);
        assert!(Arc::ptr_eq(&r, &r2), "one room, whatever the case");
        assert_eq!(r.name.as_str(), "#General", "the creator's spelling");
        assert_eq!(r.read().role_of(&alice.name.key()), RoomRole::Owner);
        assert_eq!(r.read().role_of(&bob.name.key()), RoomRole::Member);
        assert_eq!(
            rooms
                .join(&room("#general"), &bob, "", false, Timestamp(0))
                .unwrap()
                .1,
            Joined::AlreadyMember
        );
        assert_eq!(r.recipients().len(), 2);
        assert_eq!(rooms.rooms_of(&bob.name.key()).len(), 1);
    }

    #[test]
    fn ownership_passes_to_the_oldest_operator_then_member_and_empty_rooms_go() {
        let rooms = Rooms::new(10, 10);
        let people: Vec<_> = ["a", "b", "c", "d"]
            .iter()
            .enumerate()
            .map(|(i, n)| peer(i as u64, n))
            .collect();
        let (r, _) = rooms
            .join(&room("#x"), &people[0], "", false, Timestamp(0))
            .unwrap();
        for p in &people[1..] {
            rooms.join(&room("#x"), p, "", false, Timestamp(0)).unwrap();
        }
        r.write()
            .set_role(&people[3].name.key(), RoomRole::Operator);
        let gone = rooms.leave(&r, &people[0].name.key(), None).unwrap();
        assert_eq!(gone.new_owner.unwrap().as_str(), "d", "the operator first");
        let gone = rooms.leave(&r, &people[3].name.key(), None).unwrap();
        assert_eq!(
            gone.new_owner.unwrap().as_str(),
            "b",
            "then the oldest member"
        );
        assert_eq!(gone.remaining.len(), 2);
        rooms.leave(&r, &people[1].name.key(), None).unwrap();
        rooms.leave(&r, &people[2].name.key(), None).unwrap();
        assert!(rooms.get("#x").is_none(), "the empty room is deleted");
        assert!(rooms.rooms_of(&people[2].name.key()).is_empty());
        // Joining again creates it afresh.
        let (_, how) = rooms
            .join(&room("#x"), &people[2], "", false, Timestamp(0))
            .unwrap();
        assert_eq!(how, Joined::Created);
    }

    #[test]
    fn a_leave_for_an_old_connection_spares_the_new_one() {
        let rooms = Rooms::new(10, 10);
        let (r, _) = rooms
            .join(&room("#x"), &peer(7, "alice"), "", false, Timestamp(0))
            .unwrap();
        assert!(
            rooms
                .leave(&r, &NameKey::fold("alice").unwrap(), Some(ConnId(6)))
                .is_none()
        );
        assert!(
            rooms
                .leave(&r, &NameKey::fold("alice").unwrap(), Some(ConnId(7)))
                .is_some()
        );
    }

    #[test]
    fn a_renamed_member_keeps_its_role_and_mute() {
        let rooms = Rooms::new(10, 10);
        let (alice, bob) = (peer(1, "alice"), peer(2, "bob"));
        let (r, _) = rooms
            .join(&room("#x"), &alice, "", false, Timestamp(0))
            .unwrap();
        rooms
            .join(&room("#x"), &bob, "", false, Timestamp(0))
            .unwrap();
        r.write()
            .mute(bob.name.key(), MuteState::UntilLifted, Timestamp(0));
        let robert = Arc::new(bob.renamed(UserName::parse("Robert").unwrap()));
        rooms.rename_member(&bob.name.key(), &robert);
        let state = r.read();
        assert!(state.member(&bob.name.key()).is_none());
        let member = state.member(&robert.name.key()).unwrap();
        assert_eq!(member.name.as_str(), "Robert");
        assert_eq!(member.role, RoomRole::Member);
        assert_eq!(
            state.muted(&robert.name.key(), Timestamp(1)),
            MuteState::UntilLifted
        );
        drop(state);
        assert!(rooms.rooms_of(&bob.name.key()).is_empty());
        assert_eq!(rooms.rooms_of(&robert.name.key()).len(), 1);
        assert!(r.recipients().iter().any(|p| Arc::ptr_eq(p, &robert)));
    }

    #[test]
    fn modes_gate_joining() {
        let rooms = Rooms::new(10, 10);
        let (owner, bob, carol, root) = (
            peer(1, "o"),
            peer(2, "bob"),
            peer(3, "carol"),
            peer(4, "root"),
        );
        let (r, _) = rooms
            .join(&room("#k"), &owner, "pw", false, Timestamp(0))
            .unwrap();
        assert!(r.read().mode.password());
        assert_eq!(
            rooms
                .join(&room("#k"), &bob, "nope", false, Timestamp(0))
                .unwrap_err(),
            JoinRefused::BadPassword
        );
        rooms
            .join(&room("#k"), &bob, "pw", false, Timestamp(0))
            .unwrap();
        r.write().set_mode(RoomMode::new(true, true), None);
        assert!(r.read().password_matches("pw"), "the password is kept");
        assert_eq!(
            rooms
                .join(&room("#k"), &carol, "pw", false, Timestamp(0))
                .unwrap_err(),
            JoinRefused::InviteOnly
        );
        r.write().invite(carol.name.key());
        rooms
            .join(&room("#k"), &carol, "", false, Timestamp(0))
            .unwrap();
        assert!(!r.read().is_invited(&carol.name.key()), "used up");
        rooms
            .join(&room("#k"), &root, "", true, Timestamp(0))
            .unwrap();
        r.write().set_mode(RoomMode::default(), None);
        assert!(!r.read().has_password());
    }

    #[test]
    fn limits_hold_and_refused_creations_leave_nothing_behind() {
        let rooms = Rooms::new(2, 1);
        let (a, b) = (peer(1, "a"), peer(2, "b"));
        rooms
            .join(&room("#one"), &a, "", false, Timestamp(0))
            .unwrap();
        assert_eq!(
            rooms
                .join(&room("#two"), &a, "", false, Timestamp(0))
                .unwrap_err(),
            JoinRefused::UserLimit(1)
        );
        assert!(rooms.get("#two").is_none());
        rooms
            .join(&room("#two"), &b, "", false, Timestamp(0))
            .unwrap();
        assert_eq!(
            rooms
                .join(&room("#three"), &peer(3, "c"), "", false, Timestamp(0))
                .unwrap_err(),
            JoinRefused::ServerLimit(2)
        );
        assert_eq!(rooms.len(), 2);
    }

    #[test]
    fn room_mutes_outlive_membership_and_run_out() {
        let mut state = RoomState::default();
        let bob = NameKey::fold("bob").unwrap();
        state.mute(bob, MuteState::Until(Timestamp(1000)), Timestamp(0));
        assert_eq!(
            state.muted(&bob, Timestamp(999)),
            MuteState::Until(Timestamp(1000))
        );
        assert_eq!(state.muted(&bob, Timestamp(1000)), MuteState::NotMuted);
        assert!(!state.unmute(&bob, Timestamp(2000)), "it had run out");
    }

    fn mask(list: MaskList, mask: &str) -> MaskRecord {
        MaskRecord {
            list,
            mask: normalize_mask(mask).unwrap(),
            set_by: "o".into(),
            set_at: Timestamp(0),
        }
    }

    #[test]
    fn masks_are_normalised_and_match_name_user_and_host() {
        assert_eq!(normalize_mask("Bar").unwrap(), "bar!*@*");
        assert_eq!(normalize_mask("*evan@*").unwrap(), "*!*evan@*");
        assert_eq!(normalize_mask("bar!x").unwrap(), "bar!x@*");
        assert_eq!(normalize_mask("B!u@H").unwrap(), "b!u@h");
        assert!(normalize_mask("").is_err());
        assert!(normalize_mask("a b").is_err());
        assert!(normalize_mask("a,b").is_err());
        assert!(normalize_mask(&"x".repeat(MAX_MASK + 1)).is_err());

        let qux = Subject::new("Qux", "evan");
        assert!(qux.matches("qux!*@*"));
        assert!(qux.matches("*!*evan@*"));
        assert!(qux.matches("q?x!evan@chinwag"));
        assert!(!qux.matches("bar!*@*"));
        assert!(!qux.matches("*!*evan@elsewhere"));
        // No profile user name: the name stands in.
        assert!(Subject::new("bar", "").matches("*!bar@*"));
        assert!(glob(b"*a*b*c*", b"xaybzc"));
        assert!(!glob(b"*a*b*c*", b"xaybz"));
        assert!(glob(b"**", b""));
    }

    #[test]
    fn bans_exceptions_limits_and_invitations_gate_joining() {
        let rooms = Rooms::new(10, 10);
        let now = Timestamp(5);
        let (owner, bar, baz, qux) = (peer(1, "o"), peer(2, "bar"), peer(3, "baz"), peer(4, "qux"));
        let (r, _) = rooms.join(&room("#b"), &owner, "", false, now).unwrap();
        assert_eq!(r.read().created, now, "the creation time is kept");
        assert_eq!(r.read().mode, RoomMode::NEW);
        r.write().add_mask(mask(MaskList::Ban, "ba*")).unwrap();
        assert_eq!(
            rooms.join(&room("#b"), &bar, "", false, now).unwrap_err(),
            JoinRefused::Banned
        );
        r.write()
            .add_mask(mask(MaskList::BanException, "bar"))
            .unwrap();
        rooms.join(&room("#b"), &bar, "", false, now).unwrap();
        assert_eq!(
            rooms.join(&room("#b"), &baz, "", false, now).unwrap_err(),
            JoinRefused::Banned
        );
        r.write().invite(baz.name.key());
        rooms.join(&room("#b"), &baz, "", false, now).unwrap();

        // A limit of 3 with 3 members: full, unless invited.
        r.write().limit = 3;
        assert_eq!(
            rooms.join(&room("#b"), &qux, "", false, now).unwrap_err(),
            JoinRefused::Full(3)
        );
        r.write().invite(qux.name.key());
        rooms.join(&room("#b"), &qux, "", false, now).unwrap();
        rooms.leave(&r, &qux.name.key(), None).unwrap();

        // Invite-only: an invite exception lets in uninvited.
        r.write().limit = 0;
        r.write()
            .set_mode(RoomMode::NEW.with(RoomMode::INVITE_ONLY, true), None);
        assert_eq!(
            rooms.join(&room("#b"), &qux, "", false, now).unwrap_err(),
            JoinRefused::InviteOnly
        );
        r.write()
            .add_mask(mask(MaskList::InviteException, "qux"))
            .unwrap();
        rooms.join(&room("#b"), &qux, "", false, now).unwrap();

        // Lists: no duplicates, removal by the normalised mask.
        let mut state = r.write();
        assert_eq!(state.add_mask(mask(MaskList::Ban, "BA*")), Ok(false));
        assert!(state.remove_mask(MaskList::Ban, "ba*!*@*"));
        assert!(!state.remove_mask(MaskList::Ban, "ba*!*@*"));
        assert_eq!(state.mask_list(MaskList::BanException).len(), 1);
    }

    #[test]
    fn moderation_and_mute_masks_spare_the_voiced_and_operators() {
        let rooms = Rooms::new(10, 10);
        let now = Timestamp(0);
        let (owner, bar) = (peer(1, "o"), peer(2, "bar"));
        let (r, _) = rooms.join(&room("#m"), &owner, "", false, now).unwrap();
        rooms.join(&room("#m"), &bar, "", false, now).unwrap();
        let (o, b) = (owner.name.key(), bar.name.key());
        let (who_o, who_b) = (Subject::of(&owner), Subject::of(&bar));
        let mut state = r.write();
        assert_eq!(state.silenced(&b, || who_b.clone(), now), None);
        state.mode = state.mode.with(RoomMode::MODERATED, true);
        assert_eq!(
            state.silenced(&b, || who_b.clone(), now),
            Some(Silenced::Moderated)
        );
        assert_eq!(
            state.silenced(&o, || who_o.clone(), now),
            None,
            "the owner talks"
        );
        state.set_voice(&b, true);
        assert_eq!(state.silenced(&b, || who_b.clone(), now), None, "voiced");
        state.set_voice(&b, false);
        state.mode = state.mode.with(RoomMode::MODERATED, false);
        state.add_mask(mask(MaskList::Mute, "bar")).unwrap();
        assert_eq!(
            state.silenced(&b, || who_b.clone(), now),
            Some(Silenced::Masked)
        );
        state
            .add_mask(mask(MaskList::MuteException, "*!bar@*"))
            .unwrap();
        assert_eq!(state.silenced(&b, || who_b.clone(), now), None, "excepted");
        // A mute by name holds even the voiced.
        state.set_voice(&b, true);
        state.mute(b, MuteState::UntilLifted, now);
        assert_eq!(
            state.silenced(&b, || who_b.clone(), now),
            Some(Silenced::Muted(MuteState::UntilLifted))
        );
    }

    #[test]
    fn an_owner_steps_down_to_the_oldest_operator_or_to_nobody() {
        let rooms = Rooms::new(10, 10);
        let now = Timestamp(0);
        let people: Vec<_> = ["o", "a", "b"]
            .iter()
            .enumerate()
            .map(|(i, n)| peer(i as u64, n))
            .collect();
        let (r, _) = rooms.join(&room("#s"), &people[0], "", false, now).unwrap();
        let heir = r.write().step_down(&people[0].name.key());
        assert_eq!(heir, None, "no operator: no owner");
        assert_eq!(r.read().role_of(&people[0].name.key()), RoomRole::Member);
        for p in &people[1..] {
            rooms.join(&room("#s"), p, "", false, now).unwrap();
        }
        r.write().set_role(&people[2].name.key(), RoomRole::Owner);
        r.write()
            .set_role(&people[1].name.key(), RoomRole::Operator);
        let heir = r.write().step_down(&people[2].name.key());
        assert_eq!(heir.unwrap().as_str(), "a");
        assert_eq!(r.read().role_of(&people[1].name.key()), RoomRole::Owner);
        assert_eq!(r.read().role_of(&people[2].name.key()), RoomRole::Member);
    }

    #[test]
    fn secret_rooms_show_themselves_to_members_only() {
        let rooms = Rooms::new(10, 10);
        let (owner, other) = (peer(1, "o"), peer(2, "x"));
        let (r, _) = rooms
            .join(&room("#s"), &owner, "", false, Timestamp(0))
            .unwrap();
        assert!(r.read().visible_to(&other.name.key()));
        r.write().mode = RoomMode::NEW.with(RoomMode::SECRET, true);
        assert!(!r.read().visible_to(&other.name.key()));
        assert!(r.read().visible_to(&owner.name.key()));
    }
}
