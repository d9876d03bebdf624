//! Presence: who is online, on which node.
//!
//! The `chinwag_presence` key-value bucket maps the folded name of every
//! online user (see [`bucket_key`]) to a [`PresenceRecord`] naming the node
//! it is connected to.
//! - A node claims a name with the bucket's atomic `create`: of any number
//!   of nodes racing for one name, exactly one succeeds. Nobody checks
//!   first and sets after.
//! - It frees the name with a delete that expects the revision it created,
//!   so it never frees a claim made by someone else since.
//! - Every node keeps a mirror of the whole bucket, fed by a watch, so
//!   finding a user's node or listing everyone costs no round trip. The
//!   mirror lags the bucket by a message's flight time; claims do not rely
//!   on it.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use async_nats::jetstream::kv::{self, CreateErrorKind, Operation};
use bytes::Bytes;
use chinwag_proto::NameKey;
use chinwag_proto::server::{MuteState, Role, Timestamp, UserInfo};
use dashmap::DashMap;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::{ClusterError, NodeId, unavailable};
use chinwag_core::state::{ConnId, Peer};

pub const BUCKET: &str = "chinwag_presence";

/// How many names of a dead node one node deletes at the same time.
const REAP_CONCURRENCY: usize = 256;

/// The bucket key of a name. Bucket keys may hold only ASCII letters,
/// digits and `-/_=.`: an ASCII name's key is used as it is (as it always
/// was), a Unicode one as `=` and the hex of its UTF-8. No name holds `=`,
/// so the two never meet.
fn bucket_key(key: &NameKey) -> String {
    let name = key.as_str();
    if name.is_ascii() {
        return name.to_owned();
    }
    let mut hex = String::with_capacity(1 + 2 * name.len());
    hex.push('=');
    for byte in name.bytes() {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

/// The name key a bucket key stands for, if it is one.
fn name_key_of(bucket_key: &str) -> Option<NameKey> {
    let Some(hex) = bucket_key.strip_prefix('=') else {
        return NameKey::fold(bucket_key);
    };
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(hex.get(at..at + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    NameKey::fold(std::str::from_utf8(&bytes).ok()?)
}

/// What the bucket says about one online user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceRecord {
    /// The node the user is connected to.
    pub node: String,
    /// The spelling the user chose.
    pub name: String,
    pub admin: bool,
    /// Logged in to an account (which has an offline queue), not a guest.
    #[serde(default)]
    pub account: bool,
    /// A `MuteState` in its wire form.
    pub muted: u64,
    pub addr: String,
    pub advertised: String,
    pub since: u64,
}

impl PresenceRecord {
    pub fn of(peer: &Peer, node: &NodeId, now: Timestamp) -> PresenceRecord {
        let first = peer.first();
        PresenceRecord {
            node: node.as_str().to_owned(),
            name: peer.name.as_str().to_owned(),
            admin: peer.is_admin(),
            account: peer.account,
            muted: peer.muted(now).to_wire(),
            addr: first
                .as_ref()
                .map_or_else(String::new, |l| l.addr.to_string()),
            advertised: first
                .as_ref()
                .map_or_else(String::new, |l| l.advertised.clone()),
            since: first.as_ref().map_or(0, |l| l.connected_at.0),
        }
    }

    /// How the user appears in USER_LIST, as [`Peer::info`] shows a local
    /// one.
    pub fn info(&self, now: Timestamp, for_admin: bool) -> UserInfo {
        let shown = |text: &str| if for_admin { text.into() } else { "".into() };
        UserInfo {
            name: self.name.as_str().into(),
            role: if self.admin { Role::Admin } else { Role::User },
            muted: MuteState::from_wire(self.muted).at(now),
            addr: shown(&self.addr),
            advertised: shown(&self.advertised),
            connected_at: Timestamp(if for_admin { self.since } else { 0 }),
            // A profile, the sessions and the last message stay on the
            // user's own node.
            username: "".into(),
            realname: "".into(),
            away: "".into(),
            sessions: 0,
            last_spoke: Timestamp(0),
            // Bot and invisible stay on the user's node too.
            flags: if self.account {
                chinwag_proto::server::user_flags::ACCOUNT
            } else {
                0
            },
        }
    }

    fn encode(&self) -> Bytes {
        serde_json::to_vec(self)
            .map(Bytes::from)
            .unwrap_or_default()
    }

    fn decode(value: &[u8]) -> Option<PresenceRecord> {
        serde_json::from_slice(value).ok()
    }
}

/// One entry of the mirror.
#[derive(Clone, Debug)]
pub struct Located {
    pub node: NodeId,
    pub record: PresenceRecord,
    pub revision: u64,
}

/// A name this node holds.
#[derive(Clone, Debug)]
struct Claim {
    conn: ConnId,
    revision: u64,
    record: PresenceRecord,
    /// When it was made: a claim is made before the connection shows up
    /// in the local directory, so a young one without a user is not yet
    /// a leftover.
    at: Instant,
}

/// What became of a claim this node re-checked (see [`Presence::reconcile`]).
#[derive(Debug, PartialEq, Eq)]
pub enum Recheck {
    Held,
    /// Another node holds the name now: the local user must go.
    Lost {
        name: NameKey,
        conn: ConnId,
    },
}

pub struct Presence {
    kv: kv::Store,
    node: NodeId,
    /// The whole bucket, as the watch last told it.
    mirror: DashMap<NameKey, Located>,
    /// The names this node holds, with the revision of each claim.
    claims: DashMap<NameKey, Claim>,
    /// Names this node is claiming right now, with how many claims of
    /// each are on their way: their records may reach the mirror before
    /// the claim is remembered, and are not strays.
    claiming: DashMap<NameKey, u32>,
    /// Records that name this node without a claim of it, as the last
    /// [`Presence::free_strays`] saw them: the revision of each.
    strays: std::sync::Mutex<HashMap<NameKey, u64>>,
    /// Held while a record is rewritten (see [`Presence::update`]).
    updating: tokio::sync::Mutex<()>,
    /// Bucket keys this node freed, and when: their delete markers, for
    /// [`Presence::sweep`].
    released: std::sync::Mutex<std::collections::VecDeque<(String, u64, Instant)>>,
}

impl Presence {
    pub fn new(kv: kv::Store, node: NodeId) -> Presence {
        Presence {
            kv,
            node,
            mirror: DashMap::new(),
            claims: DashMap::new(),
            claiming: DashMap::new(),
            strays: Default::default(),
            updating: Default::default(),
            released: Default::default(),
        }
    }

    /// Claims `record.name` for `conn`, atomically across the cluster.
    pub async fn claim(
        &self,
        key: NameKey,
        conn: ConnId,
        record: PresenceRecord,
    ) -> Result<(), ClusterError> {
        let _on_its_way = Claiming::new(&self.claiming, key);
        match self.kv.create(bucket_key(&key), record.encode()).await {
            Ok(revision) => {
                self.remember(key, conn, revision, record);
                Ok(())
            }
            Err(e) if e.kind() == CreateErrorKind::AlreadyExists => Err(ClusterError::Taken),
            Err(e) => Err(unavailable(e)),
        }
    }

    fn remember(&self, key: NameKey, conn: ConnId, revision: u64, record: PresenceRecord) {
        self.mirror.insert(
            key,
            Located {
                node: self.node.clone(),
                record: record.clone(),
                revision,
            },
        );
        self.claims.insert(
            key,
            Claim {
                conn,
                revision,
                record,
                at: Instant::now(),
            },
        );
    }

    /// Frees the name if `conn` holds it. The delete expects the claim's
    /// revision: if the reaper or a resync replaced it, nothing is lost.
    pub async fn release(&self, key: NameKey, conn: ConnId) {
        let Some((_, claim)) = self.claims.remove_if(&key, |_, c| c.conn == conn) else {
            return;
        };
        self.mirror
            .remove_if(&key, |_, l| l.revision == claim.revision);
        // If this fails, the reaper of another node frees it.
        self.free(&key, claim.revision).await;
    }

    /// Deletes the record of `key` if it is still at `revision`; whether
    /// it did. The delete marker JetStream keeps for the key is noted, to
    /// be purged by [`Presence::sweep`].
    async fn free(&self, key: &NameKey, revision: u64) -> bool {
        let bucket_key = bucket_key(key);
        if let Err(error) = self
            .kv
            .delete_expect_revision(&bucket_key, Some(revision))
            .await
        {
            tracing::debug!(%error, user = key.as_str(), "cannot release a name");
            return false;
        }
        // The sequence up to which the key's history can go: its marker,
        // or, if the name was claimed again already, all before that claim.
        let upto = match self.kv.entry(bucket_key.as_str()).await {
            Ok(Some(entry)) if entry.operation == Operation::Put => entry.revision,
            Ok(Some(entry)) => entry.revision + 1,
            Ok(None) => return true,
            Err(error) => {
                tracing::debug!(%error, user = key.as_str(), "cannot read a released name");
                return true;
            }
        };
        self.released
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push_back((bucket_key, upto, Instant::now()));
        true
    }

    /// How many entries the bucket's stream holds.
    pub async fn stored(&self) -> Result<u64, ClusterError> {
        let mut stream = self.kv.stream.clone();
        let info = stream.info().await.map_err(unavailable)?;
        Ok(info.state.messages)
    }

    /// Drops the delete markers of names freed more than `grace` ago, and
    /// everything before them on their keys (never a later claim).
    ///
    /// JetStream keeps a marker for every key ever deleted: without this
    /// the bucket would grow by an entry for every name ever used. A
    /// marker is kept for `grace` first, so that every node's watch (even
    /// one that lagged) has seen the delete; a node that far behind has
    /// long been taken for dead by the others. The
    /// purge removes the marker and what came before it on that key only:
    /// a claim made since (a later sequence) stays.
    pub async fn sweep(&self, grace: Duration) {
        let due: Vec<(String, u64)> = {
            let mut released = self
                .released
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let mut due = Vec::new();
            while released
                .front()
                .is_some_and(|(_, _, at)| at.elapsed() >= grace)
            {
                due.extend(released.pop_front().map(|(key, upto, _)| (key, upto)));
            }
            due
        };
        for (bucket_key, upto) in due {
            let purged = self
                .kv
                .stream
                .purge()
                .filter(format!("$KV.{BUCKET}.{bucket_key}"))
                .sequence(upto)
                .await;
            if let Err(error) = purged {
                // Only space: the next release of the name purges it too.
                tracing::debug!(%error, key = bucket_key, "cannot purge a released name");
            }
        }
    }

    /// Rewrites the record of a local user whose role or mute changed,
    /// with the role and mute it has now. One update at a time, each
    /// reading the peer as it writes: two at once would start from the
    /// same revision and one would fail, and one that ran late would
    /// write an old change over a newer one.
    pub async fn update(&self, peer: &Peer) {
        let key = peer.name.key();
        let _one_at_a_time = self.updating.lock().await;
        let Some(mut claim) = self
            .claims
            .get(&key)
            .filter(|c| c.conn == peer.id)
            .map(|c| c.clone())
        else {
            return;
        };
        claim.record.admin = peer.is_admin();
        claim.record.muted = peer.muted(Timestamp::now()).to_wire();
        match self
            .kv
            .update(bucket_key(&key), claim.record.encode(), claim.revision)
            .await
        {
            Ok(revision) => {
                let still_held = match self.claims.get_mut(&key) {
                    Some(mut held) if held.conn == claim.conn => {
                        held.revision = revision;
                        held.record = claim.record;
                        true
                    }
                    _ => false,
                };
                if !still_held {
                    // Released while this update was on its way: the
                    // release's delete expected the old revision and
                    // missed, which left a ghost (listed, and the name
                    // taken, until this node stopped). This frees it.
                    self.free(&key, revision).await;
                }
            }
            Err(error) => tracing::debug!(%error, user = key.as_str(), "cannot update presence"),
        }
    }

    /// The node another user is on, if the mirror knows one.
    pub fn locate(&self, name: &str) -> Option<Located> {
        let key = NameKey::fold(name)?;
        let found = self.mirror.get(&key)?;
        (found.node != self.node).then(|| found.clone())
    }

    /// The users of the other nodes.
    pub fn remote(&self) -> Vec<PresenceRecord> {
        self.mirror
            .iter()
            .filter(|l| l.node != self.node)
            .map(|l| l.record.clone())
            .collect()
    }

    /// How many users the other nodes have: the mirror less this node's
    /// own claims. Called for every broadcast and presence notice, so it
    /// counts rather than walks the mirror; it can be off by a claim in
    /// flight.
    pub fn remote_count(&self) -> usize {
        self.mirror.len().saturating_sub(self.claims.len())
    }

    /// The other nodes that have users on them.
    pub fn remote_nodes(&self) -> HashSet<NodeId> {
        self.mirror
            .iter()
            .filter(|l| l.node != self.node)
            .map(|l| l.node.clone())
            .collect()
    }

    /// Follows the bucket into the mirror until the watch ends (the
    /// connection dropped, or the server restarted); the caller then
    /// starts over.
    pub async fn follow(&self) -> Result<(), ClusterError> {
        let mut watch = self.kv.watch_with_history(">").await.map_err(unavailable)?;
        // Whatever the mirror held may be stale by now (this node's own
        // entries too: NATS may have lost them): start from the bucket's
        // own history. The next re-check claims again what is missing.
        self.mirror.clear();
        while let Some(entry) = watch.next().await {
            let entry = entry.map_err(unavailable)?;
            let Some(key) = name_key_of(&entry.key) else {
                continue;
            };
            match entry.operation {
                Operation::Put => {
                    let Some(record) = PresenceRecord::decode(&entry.value) else {
                        tracing::warn!(key = entry.key, "unreadable presence record");
                        continue;
                    };
                    let Ok(node) = NodeId::parse(&record.node) else {
                        continue;
                    };
                    let newer = self
                        .mirror
                        .get(&key)
                        .is_none_or(|l| l.revision < entry.revision);
                    if newer {
                        self.mirror.insert(
                            key,
                            Located {
                                node,
                                record,
                                revision: entry.revision,
                            },
                        );
                    }
                }
                Operation::Delete | Operation::Purge => {
                    self.mirror
                        .remove_if(&key, |_, l| l.revision < entry.revision);
                }
            }
        }
        Ok(())
    }

    /// Makes sure the bucket still says this node holds every name it
    /// holds. After a partition or a NATS restart another node may have
    /// reaped them: each is claimed again, unless someone else holds it
    /// by now.
    pub async fn reconcile(&self) -> Vec<Recheck> {
        let held: Vec<(NameKey, Claim)> = self
            .claims
            .iter()
            .map(|c| (*c.key(), c.value().clone()))
            .collect();
        let mut lost = Vec::new();
        for (key, claim) in held {
            let intact = self
                .mirror
                .get(&key)
                .is_some_and(|l| l.node == self.node && l.revision == claim.revision);
            if intact {
                continue;
            }
            match self.recheck(key, &claim).await {
                Ok(Recheck::Held) => {}
                Ok(lost_one) => lost.push(lost_one),
                Err(error) => {
                    tracing::debug!(%error, "cannot re-check presence");
                    break;
                }
            }
        }
        lost
    }

    async fn recheck(&self, key: NameKey, claim: &Claim) -> Result<Recheck, ClusterError> {
        match self.kv.entry(bucket_key(&key)).await.map_err(unavailable)? {
            Some(entry) if entry.operation == Operation::Put => {
                let owner = PresenceRecord::decode(&entry.value).map(|r| r.node);
                if owner.as_deref() == Some(self.node.as_str()) {
                    if self.claims.get(&key).is_some_and(|c| c.conn == claim.conn) {
                        self.remember(key, claim.conn, entry.revision, claim.record.clone());
                    }
                    return Ok(Recheck::Held);
                }
            }
            _ if self.claims.get(&key).is_none_or(|c| c.conn != claim.conn) => {
                // Released meanwhile: nothing to claim again.
                return Ok(Recheck::Held);
            }
            _ => match self.claim(key, claim.conn, claim.record.clone()).await {
                Ok(()) => {
                    tracing::info!(user = key.as_str(), "claimed again after losing it");
                    return Ok(Recheck::Held);
                }
                Err(ClusterError::Taken) => {}
                Err(error) => return Err(error),
            },
        }
        self.claims.remove_if(&key, |_, c| c.conn == claim.conn);
        Ok(Recheck::Lost {
            name: key,
            conn: claim.conn,
        })
    }

    /// Frees every name the mirror says `node` holds: it has stopped
    /// beating. Each delete expects the revision seen, so a name claimed
    /// again meanwhile stays, and of several nodes reaping at once only
    /// one frees each name. Returns the records this node freed.
    ///
    /// Every live node reaps at once, each walking the names in its own
    /// order (its mirror's) and skipping those its watch already shows
    /// freed by another, so they share the work more than repeat it; the
    /// deletes go out [`REAP_CONCURRENCY`] at a time, so a node with
    /// thousands of users is freed in a few round trips' time rather than
    /// thousands.
    pub async fn reap(&self, node: &NodeId) -> Vec<PresenceRecord> {
        let doomed: Vec<(NameKey, u64, PresenceRecord)> = self
            .mirror
            .iter()
            .filter(|l| &l.node == node)
            .map(|l| (*l.key(), l.revision, l.record.clone()))
            .collect();
        self.free_many(doomed).await
    }

    /// Frees each of `doomed` (name, revision seen, record) that the
    /// mirror still shows at that revision, [`REAP_CONCURRENCY`] at a
    /// time; returns the records this node freed.
    async fn free_many(&self, doomed: Vec<(NameKey, u64, PresenceRecord)>) -> Vec<PresenceRecord> {
        futures::stream::iter(doomed)
            .map(|(key, revision, record)| async move {
                let unchanged = self
                    .mirror
                    .get(&key)
                    .is_some_and(|l| l.revision == revision);
                if !(unchanged && self.free(&key, revision).await) {
                    return None;
                }
                self.mirror.remove_if(&key, |_, l| l.revision == revision);
                Some(record)
            })
            .buffer_unordered(REAP_CONCURRENCY)
            .filter_map(std::future::ready)
            .collect()
            .await
    }

    /// Frees the records that name this node but that it holds no claim
    /// for, and returns them. Nobody else would: the others free a node's
    /// names only when it stops beating. They are left by an earlier run
    /// of this node (killed, and started again under the same id before
    /// the others took it for dead), or by a REGISTER abandoned while its
    /// claim was on the way. A record is freed only when two calls in a
    /// row (a beat apart) saw it unclaimed at the same revision, and the
    /// delete expects that revision.
    pub async fn free_strays(&self) -> Vec<PresenceRecord> {
        let unclaimed: Vec<(NameKey, u64, PresenceRecord)> = self
            .mirror
            .iter()
            .filter(|l| {
                l.node == self.node
                    && !self.claims.contains_key(l.key())
                    && !self.claiming.contains_key(l.key())
            })
            .map(|l| (*l.key(), l.revision, l.record.clone()))
            .collect();
        let seen_before = std::mem::replace(
            &mut *self
                .strays
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
            unclaimed.iter().map(|(key, rev, _)| (*key, *rev)).collect(),
        );
        let strays = unclaimed
            .into_iter()
            .filter(|(key, revision, _)| seen_before.get(key) == Some(revision))
            .collect();
        self.free_many(strays).await
    }

    /// The names this node holds, with the connection holding each.
    pub fn held(&self) -> Vec<(NameKey, ConnId)> {
        self.claims.iter().map(|c| (*c.key(), c.conn)).collect()
    }

    /// The names this node has held for at least `age`.
    pub fn held_for(&self, age: Duration) -> Vec<(NameKey, ConnId)> {
        self.claims
            .iter()
            .filter(|c| c.at.elapsed() >= age)
            .map(|c| (*c.key(), c.conn))
            .collect()
    }
}

/// Marks a name as being claimed by this node while the claim is on its
/// way, until dropped (also when the REGISTER is abandoned half-way).
struct Claiming<'a> {
    claiming: &'a DashMap<NameKey, u32>,
    key: NameKey,
}

impl<'a> Claiming<'a> {
    fn new(claiming: &'a DashMap<NameKey, u32>, key: NameKey) -> Claiming<'a> {
        *claiming.entry(key).or_insert(0) += 1;
        Claiming { claiming, key }
    }
}

impl Drop for Claiming<'_> {
    fn drop(&mut self) {
        if let Some(mut count) = self.claiming.get_mut(&self.key) {
            *count -= 1;
        }
        self.claiming.remove_if(&self.key, |_, count| *count == 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_keys_are_valid_nats_keys_and_read_back() {
        for name in ["alice", "Bob_2-x", "小明", "José", "Ærøskøbing"] {
            let key = chinwag_proto::UserName::parse(name).unwrap().key();
            let in_bucket = bucket_key(&key);
            assert!(
                in_bucket
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-/_=.".contains(c)),
                "{in_bucket}"
            );
            assert_eq!(name_key_of(&in_bucket), Some(key), "{name}");
        }
        assert_eq!(bucket_key(&NameKey::fold("Alice").unwrap()), "alice");
        assert_eq!(name_key_of("=zz"), None);
        assert_eq!(name_key_of("=e5b0"), None, "not whole UTF-8");
    }
}
