//! The directory of online users.
//!
//! A sharded concurrent map (`DashMap`): lookups by different connections
//! take read locks on one shard and do not serialise on each other, which
//! is the seed's lesson (readers need no exclusive lock; writers do).
//! Registration uses the map's entry API, so of many connections racing
//! for one name exactly one wins.
//!
//! A name online is a [`Peer`]: a guest from one session, or an account
//! from one or several (each a [`Link`], up to a configured limit, when
//! every one of them asked to share the account). Others see the user
//! come online with its first session and go with its last.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use chinwag_proto::server::{MessageId, MuteState, Role, Timestamp, UserInfo, user_flags};
use chinwag_proto::{ByteString, NameKey, UserName};
use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use tokio::sync::Notify;

use super::ConnId;
use crate::event::Shared;
use crate::outbox::{Outbox, PushError};

/// One session of an online user: a registered connection, and how to
/// reach it.
#[derive(Debug)]
pub struct Link {
    pub conn: ConnId,
    pub outbox: Arc<Outbox>,
    /// The address the server sees.
    pub addr: SocketAddr,
    /// The address the client advertised in REGISTER (`ip:port`), or "".
    pub advertised: String,
    pub connected_at: Timestamp,
    /// Woken when a message was queued for the account while this session
    /// is online, so that it fetches it (if it takes the offline queue).
    pub inbox: Arc<Notify>,
    /// The client asked to share its account with other sessions
    /// (REGISTER option MULTI_SESSION). A session that did not is alone.
    pub shared: bool,
    /// The metadata keys this session subscribed to (METADATA_SUB).
    pub metadata_subs: Mutex<Vec<String>>,
}

impl Link {
    pub fn new(
        conn: ConnId,
        outbox: Arc<Outbox>,
        addr: SocketAddr,
        advertised: String,
        connected_at: Timestamp,
    ) -> Link {
        Link {
            conn,
            outbox,
            addr,
            advertised,
            connected_at,
            inbox: Arc::new(Notify::new()),
            shared: false,
            metadata_subs: Mutex::new(Vec::new()),
        }
    }

    /// Whether this session subscribed to metadata key `key`.
    pub fn subscribes(&self, key: &str) -> bool {
        self.metadata_subs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|k| k == key)
    }

    /// Marks the session as willing to share its account.
    pub fn shared(mut self, shared: bool) -> Link {
        self.shared = shared;
        self
    }
}

/// One online user, as the rest of the server sees it: a name with its
/// role and mute, and the sessions it is online from (one for a guest;
/// up to the configured limit for an account).
#[derive(Debug)]
pub struct Peer {
    /// The connection that brought the name online. It identifies this
    /// stay online (a later login under the same name is another `Peer`),
    /// and keys the name's claim in a cluster.
    pub id: ConnId,
    pub name: UserName,
    /// Logged in to an account (with its password), not as a guest.
    pub account: bool,
    /// When the account was created (0 for a guest). Direct messages of
    /// the same name from before it were a guest's, not the account's.
    pub account_since: Timestamp,
    admin: AtomicBool,
    /// A `MuteState` in its wire form, so the hot path reads it without a
    /// lock.
    muted: AtomicU64,
    /// Copied on write: a login or a departure replaces the list, and a
    /// delivery reads a snapshot without holding the lock.
    sessions: RwLock<Arc<[Arc<Link>]>>,
    /// Whom the user ignores (IGNORE): their messages are not delivered
    /// to any of its sessions. `ignores_anyone` spares every delivery to
    /// the many who ignore nobody the lock.
    ignoring: RwLock<Vec<UserName>>,
    ignores_anyone: AtomicBool,
    /// When the user last sent a message (ms; 0: not yet).
    last_spoke: AtomicU64,
    /// What PROFILE set; read only to list users, so a plain lock held for
    /// a copy of three cheap strings.
    profile: Mutex<UserProfile>,
    /// A guest's read markers by time (MARK_READ_AT), by conversation
    /// column (`crate::store::ConversationKey::to_column`): an account's
    /// are the store's.
    read_at: Mutex<std::collections::HashMap<String, Timestamp>>,
    /// The user's metadata (METADATA_SET): an account's as stored.
    pub metadata: Mutex<std::collections::BTreeMap<String, String>>,
    /// What USER_MODE set: [`user_flags::BOT`] and
    /// [`user_flags::INVISIBLE`].
    modes: AtomicU8,
    /// The direct messages another node handed to this user live, newest
    /// last, so that a copy of one of them in the offline queue is not
    /// delivered again (see [`Peer::push_direct`]).
    live: Mutex<std::collections::VecDeque<MessageId>>,
}

/// How many live direct messages from other nodes a user remembers. A
/// queued copy of one is fetched moments after its sender gave up, long
/// before this many more arrive.
const LIVE_REMEMBERED: usize = 256;

/// What others are shown about a user besides its name (PROFILE).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserProfile {
    pub username: ByteString,
    pub realname: ByteString,
    /// Empty: not away.
    pub away: ByteString,
}

impl Peer {
    /// A user coming online from its first session.
    pub fn new(name: UserName, first: Arc<Link>) -> Peer {
        Peer {
            id: first.conn,
            name,
            account: false,
            account_since: Timestamp(0),
            admin: AtomicBool::new(false),
            muted: AtomicU64::new(0),
            sessions: RwLock::new(Arc::from(vec![first])),
            ignoring: RwLock::new(Vec::new()),
            ignores_anyone: AtomicBool::new(false),
            last_spoke: AtomicU64::new(0),
            profile: Mutex::new(UserProfile::default()),
            read_at: Mutex::new(std::collections::HashMap::new()),
            metadata: Mutex::new(std::collections::BTreeMap::new()),
            modes: AtomicU8::new(0),
            live: Mutex::new(std::collections::VecDeque::new()),
        }
    }

    /// A guest's read marker by time for `conversation`, moved to `ts` if
    /// that is later (0: only read it); 0 for none.
    pub fn guest_read_at(&self, conversation: String, ts: Timestamp) -> Timestamp {
        let mut markers = self.read_at.lock().unwrap_or_else(|p| p.into_inner());
        if ts.0 == 0 {
            return markers.get(&conversation).copied().unwrap_or_default();
        }
        let marker = markers.entry(conversation).or_default();
        *marker = (*marker).max(ts);
        *marker
    }

    /// Starts with the account's metadata (from the store).
    pub fn with_metadata(self, metadata: Vec<(String, String)>) -> Peer {
        *self.metadata.lock().unwrap_or_else(|p| p.into_inner()) = metadata.into_iter().collect();
        self
    }

    /// The same user under another name (a guest's rename): the same stay
    /// online, sessions, role, mute, profile, flags and ignore list.
    pub fn renamed(&self, name: UserName) -> Peer {
        Peer {
            id: self.id,
            name,
            account: self.account,
            account_since: self.account_since,
            admin: AtomicBool::new(self.is_admin()),
            muted: AtomicU64::new(self.muted.load(Ordering::Acquire)),
            sessions: RwLock::new(self.sessions()),
            ignoring: RwLock::new(self.ignoring()),
            ignores_anyone: AtomicBool::new(self.ignores_anyone.load(Ordering::Acquire)),
            last_spoke: AtomicU64::new(self.last_spoke.load(Ordering::Relaxed)),
            profile: Mutex::new(self.profile()),
            modes: AtomicU8::new(self.modes.load(Ordering::Acquire)),
            read_at: Mutex::new(
                self.read_at
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone(),
            ),
            metadata: Mutex::new(
                self.metadata
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone(),
            ),
            live: Mutex::new(self.live.lock().unwrap_or_else(|p| p.into_inner()).clone()),
        }
    }

    /// Starts with `profile` (set before REGISTER).
    pub fn with_profile(self, profile: UserProfile) -> Peer {
        self.set_profile(profile);
        self
    }

    /// The user's flags as others see them ([`user_flags`]).
    pub fn flags(&self) -> u8 {
        let account = if self.account { user_flags::ACCOUNT } else { 0 };
        account | self.modes.load(Ordering::Acquire)
    }

    /// Sets and clears USER_MODE flags; returns the flags before and after.
    pub fn change_modes(&self, set: u8, clear: u8) -> (u8, u8) {
        let set = set & user_flags::SETTABLE;
        let clear = clear & user_flags::SETTABLE;
        let before = self
            .modes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |m| {
                Some((m | set) & !clear)
            })
            .unwrap_or_else(|m| m);
        let account = self.flags() & user_flags::ACCOUNT;
        (before | account, ((before | set) & !clear) | account)
    }

    pub fn is_invisible(&self) -> bool {
        self.modes.load(Ordering::Acquire) & user_flags::INVISIBLE != 0
    }

    /// Starts with the users the account ignores (from the store).
    pub fn with_ignoring(self, users: Vec<UserName>) -> Peer {
        self.ignores_anyone
            .store(!users.is_empty(), Ordering::Release);
        *self.ignoring.write().unwrap_or_else(|p| p.into_inner()) = users;
        self
    }

    /// Whether the user ignores `name`.
    pub fn ignores(&self, name: &str) -> bool {
        if !self.ignores_anyone.load(Ordering::Acquire) {
            return false;
        }
        let Some(key) = NameKey::fold(name) else {
            return false;
        };
        self.ignoring
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|u| u.key() == key)
    }

    /// Ignores `user` (or no longer does); returns whether that changed
    /// anything.
    pub fn set_ignoring(&self, user: &UserName, ignore: bool) -> bool {
        let mut ignoring = self.ignoring.write().unwrap_or_else(|p| p.into_inner());
        let at = ignoring.iter().position(|u| u.key() == user.key());
        let changed = match (at, ignore) {
            (None, true) => {
                ignoring.push(user.clone());
                true
            }
            (Some(at), false) => {
                ignoring.remove(at);
                true
            }
            _ => false,
        };
        self.ignores_anyone
            .store(!ignoring.is_empty(), Ordering::Release);
        changed
    }

    /// The users ignored, as spelled when ignored.
    pub fn ignoring(&self) -> Vec<UserName> {
        self.ignoring
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Marks the peer as logged in to an account.
    pub fn with_account(mut self, account: bool) -> Peer {
        self.account = account;
        self
    }

    /// Records when the peer's account was created.
    pub fn with_account_since(mut self, since: Timestamp) -> Peer {
        self.account_since = since;
        self
    }

    pub fn is_admin(&self) -> bool {
        self.admin.load(Ordering::Acquire)
    }

    pub fn set_admin(&self, admin: bool) {
        self.admin.store(admin, Ordering::Release);
    }

    pub fn role(&self) -> Role {
        if self.is_admin() {
            Role::Admin
        } else {
            Role::User
        }
    }

    /// The mute in force at `now`.
    pub fn muted(&self, now: Timestamp) -> MuteState {
        MuteState::from_wire(self.muted.load(Ordering::Acquire)).at(now)
    }

    pub fn set_muted(&self, state: MuteState) {
        self.muted.store(state.to_wire(), Ordering::Release);
    }

    /// The sessions online now.
    pub fn sessions(&self) -> Arc<[Arc<Link>]> {
        Arc::clone(&self.sessions.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// The session that has been online longest: what others are shown
    /// of the user (its address, since when).
    pub fn first(&self) -> Option<Arc<Link>> {
        self.sessions().first().cloned()
    }

    /// Queues `event` for every session but `except`; returns how many
    /// took it. A full queue marks that session as slow and does not hold
    /// up the others.
    pub fn push(&self, event: &Shared, except: Option<ConnId>) -> u32 {
        if event.message().is_some_and(|m| self.ignores(&m.from)) {
            // Dropped as if taken: whom one ignores is not told so.
            return self.sessions().len() as u32;
        }
        let mut took = 0;
        // The read lock is held for the pushes (a push never waits): no
        // copy of the list per delivery. Lock order: a `Users` shard, then
        // this list, then an outbox; nobody takes them the other way.
        let sessions = self.sessions.read().unwrap_or_else(|p| p.into_inner());
        for link in sessions.iter() {
            if Some(link.conn) == except {
                continue;
            }
            match link.outbox.push(Arc::clone(event)) {
                Ok(()) => took += 1,
                Err(PushError::Full | PushError::Closed) => {}
            }
        }
        took
    }

    /// Ends every session: each gets `last` as its final event.
    pub fn close_all(&self, last: &Shared) {
        for link in self.sessions().iter() {
            link.outbox.close_with(Some(Arc::clone(last)));
        }
    }

    /// Hands a direct message from another node (`id`, stored) to every
    /// session, once: a second copy of an id already handed over (a request
    /// the sender repeated) is taken without being delivered again. The
    /// id is remembered, so the offline queue skips a copy the sender
    /// queued after giving up on this one ([`Peer::got_live`]).
    pub fn push_direct(&self, id: MessageId, event: &Shared) -> u32 {
        // Held across the push, so that of two copies arriving together
        // one is delivered. Lock order: this, then the session list.
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        if live.contains(&id) {
            return self.sessions().len() as u32;
        }
        let took = self.push(event, None);
        if took > 0 {
            if live.len() == LIVE_REMEMBERED {
                live.pop_front();
            }
            live.push_back(id);
        }
        took
    }

    /// Whether the direct message `id` already reached this user live
    /// from another node.
    pub fn got_live(&self, id: MessageId) -> bool {
        self.live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&id)
    }

    /// Wakes the sessions that take the offline queue.
    pub fn wake_inboxes(&self) {
        for link in self.sessions().iter() {
            link.inbox.notify_one();
        }
    }

    pub fn profile(&self) -> UserProfile {
        self.profile
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn set_profile(&self, profile: UserProfile) {
        *self.profile.lock().unwrap_or_else(|p| p.into_inner()) = profile;
    }

    /// How this user appears in USER_LIST; addresses only for admins.
    pub fn info(&self, now: Timestamp, for_admin: bool) -> UserInfo {
        let first = self.first().filter(|_| for_admin);
        let profile = self.profile();
        UserInfo {
            name: self.name.as_str().into(),
            role: self.role(),
            muted: self.muted(now),
            addr: first
                .as_ref()
                .map_or_else(|| "".into(), |l| l.addr.to_string().into()),
            advertised: first
                .as_ref()
                .map_or_else(|| "".into(), |l| l.advertised.as_str().into()),
            connected_at: first.as_ref().map_or(Timestamp(0), |l| l.connected_at),
            username: profile.username,
            realname: profile.realname,
            away: profile.away,
            sessions: u16::try_from(self.sessions().len()).unwrap_or(u16::MAX),
            last_spoke: Timestamp(self.last_spoke.load(Ordering::Relaxed)),
            flags: self.flags(),
        }
    }

    /// The user sent a message at `now` (for USER_LIST's idle time).
    pub fn spoke(&self, now: Timestamp) {
        self.last_spoke.store(now.0, Ordering::Relaxed);
    }

    fn with_session(&self, link: Arc<Link>) {
        let mut sessions = self.sessions.write().unwrap_or_else(|p| p.into_inner());
        let mut list = sessions.to_vec();
        list.push(link);
        *sessions = Arc::from(list);
    }

    /// Removes session `conn`; returns how many remain, or `None` if it
    /// was not one of them.
    fn without_session(&self, conn: ConnId) -> Option<usize> {
        let mut sessions = self.sessions.write().unwrap_or_else(|p| p.into_inner());
        if !sessions.iter().any(|l| l.conn == conn) {
            return None;
        }
        let list: Vec<Arc<Link>> = sessions
            .iter()
            .filter(|l| l.conn != conn)
            .cloned()
            .collect();
        let left = list.len();
        *sessions = Arc::from(list);
        Some(left)
    }
}

/// Who sent something: its user and the session it came from. The
/// session already knows what it sent; the user's other sessions are told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sender {
    pub user: NameKey,
    pub conn: ConnId,
}

/// The name is in use by someone online.
#[derive(Debug)]
pub struct NameTaken;

/// How a login found the name.
#[derive(Debug)]
pub enum Claimed {
    /// The user came online with this session.
    First(Arc<Peer>),
    /// The account was online already; this session joined it.
    Joined(Arc<Peer>),
}

impl Claimed {
    pub fn peer(&self) -> &Arc<Peer> {
        match self {
            Claimed::First(peer) | Claimed::Joined(peer) => peer,
        }
    }
}

/// What a session's departure left behind.
#[derive(Debug, PartialEq, Eq)]
pub enum Released {
    /// The session was not (or no longer) online: a kick or a newer login
    /// already took care of it.
    NotHeld,
    /// Other sessions of the account are still online.
    OthersRemain,
    /// It was the last: the user went offline.
    Last,
}

/// The online users, by name.
pub struct Users {
    online: DashMap<NameKey, Arc<Peer>>,
    /// The keys online by confusable skeleton, so that a new name that
    /// looks like one online is found in O(1), not by a scan of everyone.
    /// Usually one key per skeleton; more only for accounts that predate
    /// the confusable check. Kept in step with `online` by `claim`,
    /// `release` and `remove` (updated just after it: a registration racing
    /// another's may miss the lookalike, and the store check still holds
    /// for accounts).
    by_skeleton: DashMap<String, Vec<NameKey>>,
    /// Most sessions one account may have online at once.
    max_sessions: usize,
}

impl Default for Users {
    fn default() -> Users {
        Users::new(DEFAULT_MAX_SESSIONS)
    }
}

/// Most sessions per account unless configured otherwise.
pub const DEFAULT_MAX_SESSIONS: usize = 8;

impl Users {
    pub fn new(max_sessions: usize) -> Users {
        Users {
            online: DashMap::new(),
            by_skeleton: DashMap::new(),
            max_sessions: max_sessions.max(1),
        }
    }

    /// Brings `peer` online, or, when its account is online already and
    /// every session involved agreed to share it, adds `peer`'s session to
    /// the one online. Fails if the name is held otherwise.
    pub fn claim(&self, peer: Peer) -> Result<Claimed, NameTaken> {
        match self.online.entry(peer.name.key()) {
            Entry::Vacant(slot) => {
                let peer = Arc::new(peer);
                slot.insert(Arc::clone(&peer));
                self.index_skeleton(peer.name.key());
                Ok(Claimed::First(peer))
            }
            Entry::Occupied(slot) => {
                let online = slot.get();
                let link = peer.first().ok_or(NameTaken)?;
                if !self.may_join(online, &peer, &link) {
                    return Err(NameTaken);
                }
                online.with_session(link);
                Ok(Claimed::Joined(Arc::clone(online)))
            }
        }
    }

    /// Whether a new session of `peer` may join `online`: both are the
    /// account, every session asked to share it, and there is room.
    fn may_join(&self, online: &Peer, peer: &Peer, link: &Link) -> bool {
        let sessions = online.sessions();
        online.account
            && peer.account
            && link.shared
            && sessions.iter().all(|l| l.shared)
            && sessions.len() < self.max_sessions
    }

    /// Whether a login of `name` as the account, from a session that
    /// shares (`shared`), would find a place: the name is offline, or
    /// online as the account with room for one more shared session.
    pub fn may_log_in(&self, name: &str, shared: bool) -> bool {
        match self.get(name) {
            None => true,
            Some(online) => {
                let sessions = online.sessions();
                online.account
                    && shared
                    && sessions.iter().all(|l| l.shared)
                    && sessions.len() < self.max_sessions
            }
        }
    }

    /// Ends session `conn` of the user `name`, whose stay online is
    /// `peer_id`; removes the user when it was the last.
    pub fn release(&self, name: &UserName, peer_id: ConnId, conn: ConnId) -> Released {
        let key = name.key();
        let Some(peer) = self.online.get(&key).map(|p| Arc::clone(&p)) else {
            return Released::NotHeld;
        };
        if peer.id != peer_id {
            return Released::NotHeld;
        }
        match peer.without_session(conn) {
            None => Released::NotHeld,
            Some(0) => {
                // Removed only if it is still the same stay (and still
                // empty): a login racing this departure may have joined.
                let removed = self
                    .online
                    .remove_if(&key, |_, p| p.id == peer_id && p.sessions().is_empty());
                if removed.is_some() {
                    self.unindex_skeleton(key);
                    Released::Last
                } else {
                    Released::OthersRemain
                }
            }
            Some(_) => Released::OthersRemain,
        }
    }

    /// Takes the user offline with every session (a kick, a ban), if
    /// `peer_id` still holds the name. Returns whether it did.
    pub fn remove(&self, name: &UserName, peer_id: ConnId) -> bool {
        let removed = self
            .online
            .remove_if(&name.key(), |_, peer| peer.id == peer_id)
            .is_some();
        if removed {
            self.unindex_skeleton(name.key());
        }
        removed
    }

    /// Puts `renamed` (see [`Peer::renamed`]) in the place of `old`, which
    /// must still hold its name: under the same key for a change of case,
    /// else under the new name, which must be free. Exactly one of several
    /// racing for a name gets it; the old name is freed once.
    pub fn rename(&self, old: &Arc<Peer>, renamed: Peer) -> Result<Arc<Peer>, NameTaken> {
        let (old_key, new_key) = (old.name.key(), renamed.name.key());
        let renamed = Arc::new(renamed);
        if old_key == new_key {
            return match self.online.entry(old_key) {
                Entry::Occupied(mut slot) if slot.get().id == old.id => {
                    slot.insert(Arc::clone(&renamed));
                    Ok(renamed)
                }
                _ => Err(NameTaken),
            };
        }
        match self.online.entry(new_key) {
            Entry::Vacant(slot) => {
                slot.insert(Arc::clone(&renamed));
            }
            Entry::Occupied(_) => return Err(NameTaken),
        }
        if self
            .online
            .remove_if(&old_key, |_, p| p.id == old.id)
            .is_none()
        {
            // Gone meanwhile (a kick): the new name is not kept either.
            self.online
                .remove_if(&new_key, |_, p| Arc::ptr_eq(p, &renamed));
            return Err(NameTaken);
        }
        self.unindex_skeleton(old_key);
        self.index_skeleton(new_key);
        Ok(renamed)
    }

    /// An online user whose name looks like `name` (the same confusable
    /// skeleton) but is another name.
    pub fn lookalike(&self, name: &UserName) -> Option<Arc<Peer>> {
        let key = name.key();
        let keys = self.by_skeleton.get(&key.skeleton())?;
        let other = keys.iter().find(|k| **k != key)?;
        self.online.get(other).map(|peer| Arc::clone(&peer))
    }

    fn index_skeleton(&self, key: NameKey) {
        self.by_skeleton
            .entry(key.skeleton())
            .or_default()
            .push(key);
    }

    fn unindex_skeleton(&self, key: NameKey) {
        let skeleton = key.skeleton();
        if let Entry::Occupied(mut keys) = self.by_skeleton.entry(skeleton) {
            keys.get_mut().retain(|k| *k != key);
            if keys.get().is_empty() {
                keys.remove();
            }
        }
    }

    /// The online user called `name` (any case), if any.
    pub fn get(&self, name: &str) -> Option<Arc<Peer>> {
        let key = NameKey::fold(name)?;
        self.online.get(&key).map(|peer| Arc::clone(&peer))
    }

    /// How many users are online (not sessions).
    pub fn len(&self) -> usize {
        self.online.len()
    }

    pub fn is_empty(&self) -> bool {
        self.online.is_empty()
    }

    /// Queues `event` for every session of every online user except the
    /// sending session, if any (its user's other sessions get it too).
    /// Returns how many other users it reached; a full queue marks that
    /// reader as slow and does not hold up anyone else.
    pub fn push_to_all(&self, event: &Shared, sender: Option<&Sender>) -> u32 {
        let mut delivered = 0;
        for peer in self.online.iter() {
            let took = peer.push(event, sender.map(|s| s.conn));
            if took > 0 && sender.is_none_or(|s| s.user != *peer.key()) {
                delivered += 1;
            }
        }
        delivered
    }

    /// Queues `event` for every online user but `except` (all its
    /// sessions): presence notices, which a user's own sessions do not
    /// need.
    pub fn push_to_others(&self, event: &Shared, except: &NameKey) -> u32 {
        let mut delivered = 0;
        for peer in self.online.iter() {
            if peer.key() != except && peer.push(event, None) > 0 {
                delivered += 1;
            }
        }
        delivered
    }

    /// Everyone online for whom `pick` is true.
    pub fn find(&self, pick: impl Fn(&Peer) -> bool) -> Vec<Arc<Peer>> {
        self.online
            .iter()
            .filter(|peer| pick(peer))
            .map(|peer| Arc::clone(&peer))
            .collect()
    }

    /// Everyone online for whom `visible` is true, sorted by name.
    pub fn list(
        &self,
        now: Timestamp,
        for_admin: bool,
        visible: impl Fn(&Peer) -> bool,
    ) -> Vec<UserInfo> {
        let mut users: Vec<UserInfo> = self
            .online
            .iter()
            .filter(|peer| visible(peer))
            .map(|peer| peer.info(now, for_admin))
            .collect();
        users.sort_by_cached_key(|u| u.name.to_ascii_lowercase());
        users
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(conn: u64, name: &str) -> Peer {
        let link = Link::new(
            ConnId(conn),
            Arc::new(Outbox::new(4, 4096)),
            "127.0.0.1:1".parse().unwrap(),
            String::new(),
            Timestamp(0),
        );
        Peer::new(UserName::parse(name).unwrap(), Arc::new(link))
    }

    #[test]
    fn a_direct_message_from_another_node_is_handed_over_once_by_id() {
        let bob = peer(1, "bob");
        let outbox = Arc::clone(&bob.sessions()[0].outbox);
        let event = crate::event::Event::new(chinwag_proto::ServerFrame::ok("hi"));
        assert!(!bob.got_live(MessageId(7)));
        assert_eq!(bob.push_direct(MessageId(7), &event), 1);
        assert_eq!(bob.push_direct(MessageId(7), &event), 1, "taken again");
        assert!(bob.got_live(MessageId(7)));
        assert!(!bob.got_live(MessageId(8)));
        let mut drained = Vec::new();
        outbox.drain_into(&mut drained);
        assert_eq!(drained.len(), 1, "but delivered once");
    }

    #[test]
    fn a_rename_takes_a_free_name_once_and_frees_the_old_one() {
        let users = Users::default();
        let Ok(Claimed::First(bob)) = users.claim(peer(1, "bob")) else {
            panic!("claimed")
        };
        let Ok(Claimed::First(alice)) = users.claim(peer(2, "alice")) else {
            panic!("claimed")
        };
        let taken = users.rename(&bob, bob.renamed(UserName::parse("Alice").unwrap()));
        assert!(taken.is_err(), "alice's");
        assert!(users.get("bob").is_some());
        let robert = users
            .rename(&bob, bob.renamed(UserName::parse("robert").unwrap()))
            .unwrap();
        assert!(users.get("bob").is_none());
        assert_eq!(users.get("ROBERT").unwrap().id, bob.id);
        // The stale old peer cannot rename again: its name is gone.
        assert!(
            users
                .rename(&bob, bob.renamed(UserName::parse("bobby").unwrap()))
                .is_err()
        );
        assert!(users.get("bobby").is_none(), "nothing left behind");
        // A change of case keeps the key.
        let again = users
            .rename(&robert, robert.renamed(UserName::parse("Robert").unwrap()))
            .unwrap();
        assert_eq!(again.name.as_str(), "Robert");
        assert_eq!(users.len(), 2);
        assert!(
            users
                .lookalike(&UserName::parse("robert").unwrap())
                .is_none()
        );
        let _ = alice;
    }

    #[test]
    fn modes_are_bot_and_invisible_and_the_account_bit_is_not_theirs() {
        let bob = peer(1, "bob").with_account(true);
        assert_eq!(bob.flags(), user_flags::ACCOUNT);
        let (before, after) = bob.change_modes(user_flags::BOT | user_flags::ACCOUNT, 0);
        assert_eq!(before, user_flags::ACCOUNT);
        assert_eq!(after, user_flags::ACCOUNT | user_flags::BOT);
        let (_, after) =
            bob.change_modes(user_flags::INVISIBLE, user_flags::BOT | user_flags::ACCOUNT);
        assert_eq!(after, user_flags::ACCOUNT | user_flags::INVISIBLE);
        assert!(bob.is_invisible());
        assert_eq!(bob.info(Timestamp(0), false).flags, after);
    }
}
