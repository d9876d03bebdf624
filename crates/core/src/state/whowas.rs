//! WHOWAS: a bounded record of recent departures (a user going offline,
//! or leaving a name by renaming), newest last, so that others can ask
//! who had a name. Only what every user was shown anyway is kept: the
//! name, the profile's user and real names, the flags, and when.

use std::collections::VecDeque;
use std::sync::Mutex;

use chinwag_proto::NameKey;
use chinwag_proto::server::{Timestamp, WhowasEntry};

use super::users::Peer;

/// Most departures kept, for all names together.
pub const MAX_WHOWAS: usize = 1024;

/// The departures, oldest first.
pub struct Whowas {
    entries: Mutex<VecDeque<(NameKey, WhowasEntry)>>,
    max: usize,
}

impl Default for Whowas {
    fn default() -> Whowas {
        Whowas::new(MAX_WHOWAS)
    }
}

impl Whowas {
    pub fn new(max: usize) -> Whowas {
        Whowas {
            entries: Mutex::new(VecDeque::new()),
            max: max.max(1),
        }
    }

    /// `peer` left its name at `gone`; the oldest record goes when full.
    pub fn record(&self, peer: &Peer, gone: Timestamp) {
        let profile = peer.profile();
        let entry = WhowasEntry {
            name: peer.name.as_str().into(),
            username: profile.username,
            realname: profile.realname,
            flags: peer.flags(),
            gone,
        };
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= self.max {
            entries.pop_front();
        }
        entries.push_back((peer.name.key(), entry));
    }

    /// Who had the name `key`, newest first; at most `limit` (0: all).
    pub fn find(&self, key: &NameKey, limit: usize) -> Vec<WhowasEntry> {
        let limit = if limit == 0 { usize::MAX } else { limit };
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .iter()
            .rev()
            .filter(|(k, _)| k == key)
            .take(limit)
            .map(|(_, e)| e.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chinwag_proto::UserName;

    use super::*;
    use crate::outbox::Outbox;
    use crate::state::{ConnId, Link};

    fn peer(name: &str, realname: &str) -> Peer {
        let link = Link::new(
            ConnId(1),
            Arc::new(Outbox::new(4, 4096)),
            "127.0.0.1:1".parse().unwrap(),
            String::new(),
            Timestamp(0),
        );
        let peer = Peer::new(UserName::parse(name).unwrap(), Arc::new(link));
        peer.set_profile(crate::state::users::UserProfile {
            username: "u".into(),
            realname: realname.into(),
            away: "".into(),
        });
        peer
    }

    #[test]
    fn newest_first_bounded_and_by_folded_name() {
        let whowas = Whowas::new(3);
        whowas.record(&peer("bob", "first"), Timestamp(1));
        whowas.record(&peer("alice", "a"), Timestamp(2));
        whowas.record(&peer("Bob", "second"), Timestamp(3));
        let bob = NameKey::fold("BOB").unwrap();
        let found = whowas.find(&bob, 0);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].realname, "second");
        assert_eq!(found[0].name, "Bob", "the spelling it had");
        assert_eq!(whowas.find(&bob, 1).len(), 1);
        // A fourth record pushes out the oldest.
        whowas.record(&peer("carol", "c"), Timestamp(4));
        let found = whowas.find(&bob, 0);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].realname, "second");
        assert!(whowas.find(&NameKey::fold("dave").unwrap(), 0).is_empty());
    }
}
