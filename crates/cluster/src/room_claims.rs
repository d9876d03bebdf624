//! Room claims: which node creates a room that several nodes are creating
//! at once.
//!
//! A node that is about to create a room it does not know claims the
//! room's name in the `chinwag_rooms` key-value bucket with the bucket's
//! atomic `create`: of any number of nodes racing, exactly one succeeds
//! and creates the room; the others wait until its creation reaches them
//! and join it. A claim only has to outlive that flight, so the bucket
//! keeps a key for [`CLAIM_LIFE`]; the node whose room is left empty
//! deletes its own claim at once (expecting the revision it created), so
//! that the room can be created again right away.

use std::time::{Duration, Instant};

use async_nats::jetstream::kv::{self, CreateErrorKind};
use bytes::Bytes;
use chinwag_proto::RoomKey;
use dashmap::DashMap;

use super::{ClusterError, NodeId, unavailable};

pub const BUCKET: &str = "chinwag_rooms";

/// How long a claim lasts: far longer than a room's creation takes to
/// reach every node, and shorter than a join waits for it.
pub const CLAIM_LIFE: Duration = Duration::from_secs(2);

/// The bucket key of a room: bucket keys hold no `#`, so `=` and the hex
/// of the folded name's UTF-8.
fn bucket_key(room: &RoomKey) -> String {
    let mut key = String::with_capacity(1 + 2 * room.as_str().len());
    key.push('=');
    for byte in room.as_str().bytes() {
        key.push_str(&format!("{byte:02x}"));
    }
    key
}

pub struct RoomClaims {
    kv: kv::Store,
    node: NodeId,
    /// The revision of each claim this node made, and when, until it runs
    /// out.
    held: DashMap<RoomKey, (u64, Instant)>,
}

impl RoomClaims {
    pub fn new(kv: kv::Store, node: NodeId) -> RoomClaims {
        RoomClaims {
            kv,
            node,
            held: DashMap::new(),
        }
    }

    /// Claims `room`: `true` if this node won it, `false` if another node
    /// claimed it within the last [`CLAIM_LIFE`].
    pub async fn claim(&self, room: RoomKey) -> Result<bool, ClusterError> {
        let value = Bytes::from(self.node.as_str().to_owned());
        self.held.retain(|_, (_, at)| at.elapsed() < CLAIM_LIFE);
        match self.kv.create(bucket_key(&room), value).await {
            Ok(revision) => {
                self.held.insert(room, (revision, Instant::now()));
                Ok(true)
            }
            Err(e) if e.kind() == CreateErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Deletes this node's claim on `room`, if it still holds it; if
    /// another node's claim replaced it (it ran out), that one stays.
    pub async fn release(&self, room: RoomKey) {
        let Some((_, (revision, _))) = self.held.remove(&room) else {
            return;
        };
        if let Err(error) = self
            .kv
            .delete_expect_revision(bucket_key(&room), Some(revision))
            .await
        {
            tracing::debug!(%error, room = room.as_str(), "room claim not deleted; it runs out");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_keys_are_bucket_keys() {
        let key = RoomKey::fold("#Général").unwrap();
        let bucket = bucket_key(&key);
        assert!(bucket.starts_with('='));
        assert!(bucket[1..].bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(
            bucket_key(&RoomKey::fold("#Rust").unwrap()),
            bucket_key(&RoomKey::fold("#rUST").unwrap()),
            "one claim whatever the case"
        );
        assert_eq!(bucket_key(&RoomKey::fold("#a").unwrap()), "=61");
    }
}
