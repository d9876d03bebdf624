//! The directory of online users.
//!
//! A sharded concurrent map (`DashMap`): lookups by different connections
//! take read locks on one shard and do not serialise on each other, which
//! is the seed's lesson (readers need no exclusive lock; writers do).
//! Registration uses the map's entry API, so of many connections racing
//! for one name exactly one wins.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use chinwag_proto::server::{MuteState, Role, Timestamp, UserInfo};
use chinwag_proto::{NameKey, UserName};
use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use tokio::sync::Notify;

use super::ConnId;
use crate::outbox::{Outbox, PushError};

/// One registered connection, as the rest of the server sees it.
#[derive(Debug)]
pub struct Peer {
    pub conn: ConnId,
    pub name: UserName,
    pub outbox: Arc<Outbox>,
    /// The address the server sees.
    pub addr: SocketAddr,
    /// The address the client advertised in REGISTER (`ip:port`), or "".
    pub advertised: String,
    pub connected_at: Timestamp,
    /// Logged in to an account (with its password), not as a guest.
    pub account: bool,
    /// Woken when a message was queued for this account while it is
    /// online, so its session fetches it.
    pub inbox: Arc<Notify>,
    admin: AtomicBool,
    /// A `MuteState` in its wire form, so the hot path reads it without a
    /// lock.
    muted: AtomicU64,
}

impl Peer {
    pub fn new(
        conn: ConnId,
        name: UserName,
        outbox: Arc<Outbox>,
        addr: SocketAddr,
        advertised: String,
        connected_at: Timestamp,
    ) -> Peer {
        Peer {
            conn,
            name,
            outbox,
            addr,
            advertised,
            connected_at,
            account: false,
            inbox: Arc::new(Notify::new()),
            admin: AtomicBool::new(false),
            muted: AtomicU64::new(0),
        }
    }

    /// Marks the peer as logged in to an account.
    pub fn with_account(mut self, account: bool) -> Peer {
        self.account = account;
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

    /// How this user appears in USER_LIST; addresses only for admins.
    pub fn info(&self, now: Timestamp, for_admin: bool) -> UserInfo {
        UserInfo {
            name: self.name.as_str().into(),
            role: self.role(),
            muted: self.muted(now),
            addr: if for_admin {
                self.addr.to_string().into()
            } else {
                "".into()
            },
            advertised: if for_admin {
                self.advertised.as_str().into()
            } else {
                "".into()
            },
            connected_at: if for_admin {
                self.connected_at
            } else {
                Timestamp(0)
            },
        }
    }
}

/// The name is in use by someone online.
#[derive(Debug)]
pub struct NameTaken;

#[derive(Default)]
pub struct Users {
    online: DashMap<NameKey, Arc<Peer>>,
}

impl Users {
    /// Claims the peer's name; fails if anyone online has it.
    pub fn claim(&self, peer: Arc<Peer>) -> Result<(), NameTaken> {
        match self.online.entry(peer.name.key()) {
            Entry::Occupied(_) => Err(NameTaken),
            Entry::Vacant(slot) => {
                slot.insert(peer);
                Ok(())
            }
        }
    }

    /// Frees the name if `conn` still holds it. Returns whether it did.
    pub fn release(&self, name: &UserName, conn: ConnId) -> bool {
        self.online
            .remove_if(&name.key(), |_, peer| peer.conn == conn)
            .is_some()
    }

    /// The online user called `name` (any case), if any.
    pub fn get(&self, name: &str) -> Option<Arc<Peer>> {
        let key = NameKey::fold(name)?;
        self.online.get(&key).map(|peer| Arc::clone(&peer))
    }

    pub fn len(&self) -> usize {
        self.online.len()
    }

    pub fn is_empty(&self) -> bool {
        self.online.is_empty()
    }

    /// Queues `frame` for every online user except `except`. Returns how
    /// many accepted it; a full queue marks that reader as slow and does not
    /// hold up anyone else.
    pub fn push_to_all(&self, frame: &Bytes, except: Option<ConnId>) -> u32 {
        let mut delivered = 0;
        for peer in self.online.iter() {
            if Some(peer.conn) == except {
                continue;
            }
            match peer.outbox.push(frame.clone()) {
                Ok(()) => delivered += 1,
                Err(PushError::Full | PushError::Closed) => {}
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

    /// Everyone online, sorted by name.
    pub fn list(&self, now: Timestamp, for_admin: bool) -> Vec<UserInfo> {
        let mut users: Vec<UserInfo> = self
            .online
            .iter()
            .map(|peer| peer.info(now, for_admin))
            .collect();
        users.sort_by_cached_key(|u| u.name.to_ascii_lowercase());
        users
    }
}
