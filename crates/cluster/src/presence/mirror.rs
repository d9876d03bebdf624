//! The mirror: this node's copy of the presence bucket, as its watch last
//! told it and as its own writes left it. Beside the records it counts,
//! per node, the records that list it, so that "which nodes have users"
//! and "does any record list this node" are answered without walking a
//! hundred thousand entries every maintenance round.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use chinwag_proto::NameKey;
use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use dashmap::mapref::one::Ref;

use super::PresenceRecord;

/// One entry of the mirror.
#[derive(Clone, Debug)]
pub(super) struct Mirrored {
    pub record: PresenceRecord,
    pub revision: u64,
}

#[derive(Default)]
pub(super) struct Mirror {
    entries: DashMap<NameKey, Mirrored>,
    /// How many entries list each node. Changed only while the entry's
    /// shard is locked (shard first, then this), so it always matches
    /// the entries.
    listing: Mutex<HashMap<String, usize>>,
}

impl Mirror {
    /// Notes `record` at `revision`, unless a newer one is there already.
    pub fn put(&self, key: NameKey, record: PresenceRecord, revision: u64) {
        match self.entries.entry(key) {
            Entry::Occupied(mut held) => {
                if held.get().revision < revision {
                    let mut listing = self.listing();
                    count(&mut listing, &held.get().record, false);
                    count(&mut listing, &record, true);
                    held.insert(Mirrored { record, revision });
                }
            }
            Entry::Vacant(free) => {
                count(&mut self.listing(), &record, true);
                free.insert(Mirrored { record, revision });
            }
        }
    }

    /// Removes the entry of `key` if `doomed` says so.
    pub fn remove_if(&self, key: &NameKey, doomed: impl FnOnce(&Mirrored) -> bool) {
        let listing = &self.listing;
        self.entries.remove_if(key, |_, entry| {
            let doomed = doomed(entry);
            if doomed {
                count(&mut lock(listing), &entry.record, false);
            }
            doomed
        });
    }

    /// Forgets everything.
    pub fn clear(&self) {
        let listing = &self.listing;
        self.entries.retain(|_, entry| {
            count(&mut lock(listing), &entry.record, false);
            false
        });
    }

    pub fn get(&self, key: &NameKey) -> Option<Ref<'_, NameKey, Mirrored>> {
        self.entries.get(key)
    }

    pub fn iter(&self) -> dashmap::iter::Iter<'_, NameKey, Mirrored> {
        self.entries.iter()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The nodes some record lists.
    pub fn nodes(&self) -> Vec<String> {
        self.listing().keys().cloned().collect()
    }

    /// How many records list `node`.
    pub fn listing_of(&self, node: &str) -> usize {
        self.listing().get(node).copied().unwrap_or(0)
    }

    fn listing(&self) -> MutexGuard<'_, HashMap<String, usize>> {
        lock(&self.listing)
    }
}

fn lock(listing: &Mutex<HashMap<String, usize>>) -> MutexGuard<'_, HashMap<String, usize>> {
    listing.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Counts `record`'s nodes in (`added`) or out.
fn count(listing: &mut HashMap<String, usize>, record: &PresenceRecord, added: bool) {
    for node in record.nodes() {
        if added {
            *listing.entry(node.to_owned()).or_insert(0) += 1;
        } else if let Some(n) = listing.get_mut(node) {
            *n -= 1;
            if *n == 0 {
                listing.remove(node);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(node: &str, also: &[&str]) -> PresenceRecord {
        PresenceRecord {
            node: node.to_owned(),
            also: also.iter().map(|n| (*n).to_owned()).collect(),
            ..PresenceRecord::default()
        }
    }

    fn key(name: &str) -> NameKey {
        NameKey::fold(name).unwrap()
    }

    #[test]
    fn the_count_per_node_follows_puts_removals_and_clears() {
        let mirror = Mirror::default();
        mirror.put(key("a"), record("n1", &[]), 1);
        mirror.put(key("b"), record("n1", &["n2"]), 2);
        assert_eq!((mirror.listing_of("n1"), mirror.listing_of("n2")), (2, 1));

        // An older write changes nothing; a newer one replaces.
        mirror.put(key("b"), record("n3", &[]), 1);
        assert_eq!(mirror.listing_of("n3"), 0);
        mirror.put(key("b"), record("n2", &[]), 3);
        assert_eq!((mirror.listing_of("n1"), mirror.listing_of("n2")), (1, 1));

        mirror.remove_if(&key("a"), |m| m.revision > 1);
        assert_eq!(mirror.listing_of("n1"), 1, "kept: not doomed");
        mirror.remove_if(&key("a"), |_| true);
        assert_eq!(mirror.listing_of("n1"), 0);
        let mut nodes = mirror.nodes();
        nodes.sort();
        assert_eq!(nodes, ["n2"]);

        mirror.clear();
        assert!(mirror.nodes().is_empty());
        assert_eq!(mirror.len(), 0);
    }
}
