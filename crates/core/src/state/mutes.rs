//! Mutes (BANTALK), kept by name so that reconnecting does not lift one.
//!
//! The authoritative record is here; each online [`Peer`](super::Peer)
//! carries a copy in an atomic so that the per-message check takes no lock.
//! Writers update this map first and the peer second; REGISTER claims the
//! name first and reads this map second. Either interleaving leaves the
//! peer with the right state.

use std::collections::HashMap;
use std::sync::Mutex;

use chinwag_proto::NameKey;
use chinwag_proto::server::{MuteState, Timestamp};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mute {
    pub until: MuteState,
    pub by: String,
    pub reason: String,
}

#[derive(Default)]
pub struct Mutes {
    by_name: Mutex<HashMap<NameKey, Mute>>,
}

impl Mutes {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<NameKey, Mute>> {
        self.by_name.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set(&self, name: NameKey, mute: Mute) {
        self.lock().insert(name, mute);
    }

    /// Lifts a mute; returns whether there was one in force at `now`.
    pub fn lift(&self, name: &NameKey, now: Timestamp) -> bool {
        self.lock()
            .remove(name)
            .is_some_and(|m| m.until.at(now) != MuteState::NotMuted)
    }

    /// Removes the mute if it is still the one that ends at `until` (a
    /// newer mute or an explicit lift may have replaced it).
    pub fn expire(&self, name: &NameKey, until: MuteState) -> bool {
        let mut map = self.lock();
        if map.get(name).is_some_and(|m| m.until == until) {
            map.remove(name);
            true
        } else {
            false
        }
    }

    /// The mute in force for `name` at `now`.
    pub fn get(&self, name: &NameKey, now: Timestamp) -> MuteState {
        self.lock()
            .get(name)
            .map_or(MuteState::NotMuted, |m| m.until.at(now))
    }
}
