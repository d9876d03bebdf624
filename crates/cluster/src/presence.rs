//! Presence: who is online, on which node.
//!
//! The `chinwag_presence` key-value bucket maps the folded name of every
//! online user (see [`bucket_key`]) to a [`PresenceRecord`] naming the
//! nodes it is connected to: one for a guest, one or more for an account
//! (its sessions may sit on several nodes).
//! - A node claims a name with the bucket's atomic `create`: of any number
//!   of nodes racing for one name, exactly one succeeds. Nobody checks
//!   first and sets after. An account's login on a node where the record
//!   exists already, an account's too, adds the node to it with an update
//!   that expects the revision read (compare and set): of nodes adding
//!   themselves at once, each either gets in or reads again. One key per
//!   name keeps a guest and an account of the same name exclusive: a
//!   guest's claim is only ever a `create`, and an account joins only an
//!   account's record.
//! - It frees the name by taking itself out of the record, again with
//!   compare and set; the last node deletes the key, expecting the
//!   revision it read, so it never frees a claim made by someone else
//!   since.
//! - Every node keeps a mirror of the whole bucket, fed by a watch, so
//!   finding a user's node or listing everyone costs no round trip. The
//!   mirror lags the bucket by a message's flight time; claims do not rely
//!   on it.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use async_nats::jetstream::{
    self,
    kv::{self, CreateErrorKind, Operation},
};
use bytes::Bytes;
use chinwag_proto::NameKey;
use chinwag_proto::server::{MuteState, Role, Timestamp, UserInfo};
use dashmap::DashMap;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::{ClusterError, NodeId, unavailable};
use chinwag_core::state::{ConnId, Peer};

mod mirror;

use mirror::Mirror;

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
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceRecord {
    /// The node the user came online on (its address and connect time
    /// are of the session there), or, once that node let go, the next.
    pub node: String,
    /// The other nodes an account has sessions on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<String>,
    /// The spelling the user chose.
    pub name: String,
    pub admin: bool,
    /// Logged in to an account (which has an offline queue), not a guest.
    #[serde(default)]
    pub account: bool,
    /// The account's sessions accept more (REGISTER's multi-session
    /// option): only then may it log in on another node too.
    #[serde(default)]
    pub shared: bool,
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
            also: Vec::new(),
            account: peer.account,
            shared: peer.account && first.as_ref().is_some_and(|l| l.shared),
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

    /// The nodes holding the user.
    pub fn nodes(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.node.as_str()).chain(self.also.iter().map(String::as_str))
    }

    /// Whether `node` holds the user.
    pub fn holds(&self, node: &str) -> bool {
        self.nodes().any(|n| n == node)
    }

    /// The nodes other than `node` holding the user.
    pub fn besides(&self, node: &str) -> Vec<String> {
        self.nodes()
            .filter(|n| *n != node)
            .map(str::to_owned)
            .collect()
    }

    /// Whether `joining` (an account's claim made on another node) may
    /// add its node to this record: both are the same account's, and both
    /// sessions share it.
    fn admits(&self, joining: &PresenceRecord) -> bool {
        self.account && joining.account && self.shared && joining.shared
    }

    /// This record with `node` added.
    fn with(&self, node: &str) -> PresenceRecord {
        let mut joined = self.clone();
        if !joined.holds(node) {
            joined.also.push(node.to_owned());
        }
        joined
    }

    /// This record without `node`; `None` if no node is left.
    fn without(&self, node: &str) -> Option<PresenceRecord> {
        let mut rest = self.clone();
        rest.also.retain(|n| n != node);
        if rest.node == node {
            if rest.also.is_empty() {
                return None;
            }
            rest.node = rest.also.remove(0);
        }
        Some(rest)
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

/// A user online on other nodes (and maybe on this one too).
#[derive(Clone, Debug)]
pub struct Located {
    /// The other nodes holding it.
    pub nodes: Vec<NodeId>,
    pub record: PresenceRecord,
}

/// A name this node holds.
#[derive(Clone, Debug)]
struct Claim {
    conn: ConnId,
    /// What this node put in the record, to claim it again with.
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

/// What taking a node out of a name's record did.
#[derive(Debug, PartialEq, Eq)]
pub enum TakenOut {
    /// The record did not list the node (someone else took it out, or the
    /// name is someone else's now): nothing was done.
    NotThere,
    /// Other nodes still hold the user (an account).
    Others,
    /// The node was the last: the name is free, and this was its record.
    Last(PresenceRecord),
    /// The bucket could not be read or written (NATS went away, or the
    /// record kept changing): the node may still be listed, until it is
    /// reaped or its claims are re-checked.
    Failed,
}

/// Which of a dead node's names a reaper takes on in its first round: the
/// live nodes split them by a hash of the name, so that each name is
/// written once rather than once per live node. Whatever is still listed
/// a round later (a reaper died, or the nodes disagreed on who is alive)
/// any node takes, with [`Share::ALL`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Share {
    /// This node's place among the live nodes, sorted by id.
    pub index: usize,
    /// How many live nodes there are.
    pub of: usize,
}

impl Share {
    pub const ALL: Share = Share { index: 0, of: 1 };

    /// `me`'s share among `live` (which may or may not list `me`).
    pub fn among(me: &NodeId, live: &[NodeId]) -> Share {
        let mut ids: Vec<&str> = live.iter().map(NodeId::as_str).collect();
        if !ids.contains(&me.as_str()) {
            ids.push(me.as_str());
        }
        ids.sort_unstable();
        ids.dedup();
        let index = ids.iter().position(|id| *id == me.as_str()).unwrap_or(0);
        Share {
            index,
            of: ids.len(),
        }
    }

    fn covers(self, key: &NameKey) -> bool {
        // FNV-1a: the same on every node and every build.
        let hash = key
            .as_str()
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
                (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
            });
        self.of <= 1 || hash % self.of as u64 == self.index as u64
    }
}

/// How often a write to a name's record is tried again when another
/// node changed the record between its read and its write.
const CONTENDED: usize = 16;

pub struct Presence {
    kv: kv::Store,
    /// For the deletes whose acknowledgement `kv` would drop.
    js: jetstream::Context,
    node: NodeId,
    /// The whole bucket, as the watch last told it.
    mirror: Mirror,
    /// The names this node holds.
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
    pub fn new(kv: kv::Store, js: jetstream::Context, node: NodeId) -> Presence {
        Presence {
            kv,
            js,
            node,
            mirror: Mirror::default(),
            claims: DashMap::new(),
            claiming: DashMap::new(),
            strays: Default::default(),
            updating: Default::default(),
            released: Default::default(),
        }
    }

    /// Claims `record.name` for `conn`, atomically across the cluster.
    /// Returns whether the user was online nowhere else (`false`: an
    /// account's sessions on other nodes hold it too).
    pub async fn claim(
        &self,
        key: NameKey,
        conn: ConnId,
        record: PresenceRecord,
    ) -> Result<bool, ClusterError> {
        let _on_its_way = Claiming::new(&self.claiming, key);
        let alone = self.enter(&key, &record, false).await?;
        self.claims.insert(
            key,
            Claim {
                conn,
                record,
                at: Instant::now(),
            },
        );
        Ok(alone)
    }

    /// Puts this node's `record` of `key` in the bucket: creates the key,
    /// or adds this node to the record of the same account online on
    /// other nodes. Whether the user was online nowhere else. A record
    /// that lists this node already is another claim of this node's (two
    /// logins racing here: the local directory takes one, so the other
    /// must fail), unless this is the `recheck` of this node's own.
    async fn enter(
        &self,
        key: &NameKey,
        record: &PresenceRecord,
        recheck: bool,
    ) -> Result<bool, ClusterError> {
        let bucket_key = bucket_key(key);
        let me = self.node.as_str();
        for _ in 0..CONTENDED {
            match self.kv.create(&bucket_key, record.encode()).await {
                Ok(revision) => {
                    self.mirror_put(*key, record.clone(), revision);
                    return Ok(true);
                }
                Err(e) if e.kind() == CreateErrorKind::AlreadyExists => {}
                Err(e) => return Err(unavailable(e)),
            }
            let entry = match self.kv.entry(bucket_key.as_str()).await {
                Ok(Some(entry)) if entry.operation == Operation::Put => entry,
                // Freed between the create and the read: create again.
                Ok(_) => continue,
                Err(e) => return Err(unavailable(e)),
            };
            let Some(held) = PresenceRecord::decode(&entry.value) else {
                return Err(ClusterError::Taken);
            };
            if held.holds(me) {
                if !recheck {
                    return Err(ClusterError::Taken);
                }
                let alone = held.besides(me).is_empty();
                self.mirror_put(*key, held, entry.revision);
                return Ok(alone);
            }
            if !held.admits(record) {
                return Err(ClusterError::Taken);
            }
            let joined = held.with(me);
            match self
                .kv
                .update(&bucket_key, joined.encode(), entry.revision)
                .await
            {
                Ok(revision) => {
                    self.mirror_put(*key, joined, revision);
                    return Ok(false);
                }
                // Most likely another node changed the record meanwhile:
                // read it again.
                Err(error) => {
                    tracing::debug!(%error, user = key.as_str(), "presence record changed; again")
                }
            }
        }
        Err(ClusterError::Unavailable(format!(
            "the presence record of {} kept changing",
            key.as_str()
        )))
    }

    /// Notes a record this node wrote, unless the watch brought a newer
    /// one already.
    fn mirror_put(&self, key: NameKey, record: PresenceRecord, revision: u64) {
        self.mirror.put(key, record, revision);
    }

    /// Frees the name if `conn` holds it: takes this node out of its
    /// record (see [`Presence::take_out`]).
    pub async fn release(&self, key: NameKey, conn: ConnId) -> TakenOut {
        if self.claims.remove_if(&key, |_, c| c.conn == conn).is_none() {
            return TakenOut::NotThere;
        }
        // If this fails, the reaper of another node frees it.
        self.take_out(&key, self.node.as_str(), None).await
    }

    /// Takes `node` out of the record of `key`, deleting the key if it was
    /// the last node. Each write expects the revision read, so of several
    /// nodes doing this at once (reapers, or an account's nodes leaving)
    /// each change lands once, and a claim made since by someone else
    /// (a record without `node`) is never touched. With `expected`, only
    /// the record at that revision is changed.
    async fn take_out(&self, key: &NameKey, node: &str, expected: Option<u64>) -> TakenOut {
        let bucket_key = bucket_key(key);
        for _ in 0..CONTENDED {
            let entry = match self.kv.entry(bucket_key.as_str()).await {
                Ok(Some(entry)) if entry.operation == Operation::Put => entry,
                Ok(_) => return TakenOut::NotThere,
                Err(error) => {
                    tracing::debug!(%error, user = key.as_str(), "cannot read a name to release");
                    return TakenOut::Failed;
                }
            };
            if expected.is_some_and(|revision| revision != entry.revision) {
                return TakenOut::NotThere;
            }
            let Some(held) = PresenceRecord::decode(&entry.value).filter(|r| r.holds(node)) else {
                return TakenOut::NotThere;
            };
            match held.without(node) {
                None => {
                    if self.free(key, entry.revision).await {
                        self.mirror.remove_if(key, |m| m.revision <= entry.revision);
                        return TakenOut::Last(held);
                    }
                }
                Some(rest) => match self
                    .kv
                    .update(&bucket_key, rest.encode(), entry.revision)
                    .await
                {
                    Ok(revision) => {
                        self.mirror_put(*key, rest, revision);
                        return TakenOut::Others;
                    }
                    Err(error) => {
                        tracing::debug!(%error, user = key.as_str(), "cannot leave a name's record")
                    }
                },
            }
        }
        TakenOut::Failed
    }

    /// Deletes the record of `key` if it is still at `revision`; whether
    /// it did. The delete marker JetStream keeps for the key is noted (its
    /// sequence, from the write's acknowledgement: no second trip), to be
    /// purged by [`Presence::sweep`].
    async fn free(&self, key: &NameKey, revision: u64) -> bool {
        let bucket_key = bucket_key(key);
        // What `kv::Store::delete_expect_revision` sends, keeping the
        // acknowledgement it drops.
        let subject = format!(
            "{}{bucket_key}",
            self.kv.put_prefix.as_ref().unwrap_or(&self.kv.prefix)
        );
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("KV-Operation", "DEL");
        headers.insert(
            async_nats::header::NATS_EXPECTED_LAST_SUBJECT_SEQUENCE,
            async_nats::HeaderValue::from(revision),
        );
        let deleted = async {
            self.js
                .publish_with_headers(subject, headers, Bytes::new())
                .await?
                .await
        };
        match deleted.await {
            Ok(ack) => {
                // The key's history can go up to and with its marker.
                self.released
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push_back((bucket_key, ack.sequence + 1, Instant::now()));
                true
            }
            Err(error) => {
                tracing::debug!(%error, user = key.as_str(), "cannot release a name");
                false
            }
        }
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
    /// with the role and mute it has now (the account's, so the same for
    /// all its nodes). One update at a time, each reading the peer as it
    /// writes: one that ran late would otherwise write an old change over
    /// a newer one. Each write expects the revision read, so a change
    /// another node made meanwhile (joining or leaving the record) is
    /// read again, and a release that raced this one still frees the name.
    pub async fn update(&self, peer: &Peer) {
        let key = peer.name.key();
        let _one_at_a_time = self.updating.lock().await;
        let change = |record: &mut PresenceRecord| {
            record.admin = peer.is_admin();
            record.muted = peer.muted(Timestamp::now()).to_wire();
        };
        match self.claims.get_mut(&key) {
            Some(mut claim) => change(&mut claim.record),
            None => return,
        }
        let bucket_key = bucket_key(&key);
        for _ in 0..CONTENDED {
            let entry = match self.kv.entry(bucket_key.as_str()).await {
                Ok(Some(entry)) if entry.operation == Operation::Put => entry,
                _ => return,
            };
            // Released meanwhile (the record no longer lists this node):
            // nothing of it to change.
            let Some(mut record) = PresenceRecord::decode(&entry.value)
                .filter(|r| r.holds(self.node.as_str()) && self.claims.contains_key(&key))
            else {
                return;
            };
            change(&mut record);
            match self
                .kv
                .update(&bucket_key, record.encode(), entry.revision)
                .await
            {
                Ok(revision) => {
                    self.mirror_put(key, record, revision);
                    return;
                }
                Err(error) => {
                    tracing::debug!(%error, user = key.as_str(), "cannot update presence; again")
                }
            }
        }
    }

    /// Where another user is online besides this node, if the mirror
    /// knows.
    pub fn locate(&self, name: &str) -> Option<Located> {
        let key = NameKey::fold(name)?;
        let found = self.mirror.get(&key)?;
        let nodes: Vec<NodeId> = found
            .record
            .besides(self.node.as_str())
            .iter()
            .filter_map(|n| NodeId::parse(n).ok())
            .collect();
        (!nodes.is_empty()).then(|| Located {
            nodes,
            record: found.record.clone(),
        })
    }

    /// The users online on other nodes only (one held here too is listed
    /// with this node's users).
    pub fn remote(&self) -> Vec<PresenceRecord> {
        self.mirror
            .iter()
            .filter(|m| !m.record.holds(self.node.as_str()))
            .map(|m| m.record.clone())
            .collect()
    }

    /// How many users the other nodes have and this one has not: the
    /// mirror less this node's own claims. Called for every broadcast and
    /// presence notice, so it counts rather than walks the mirror; it can
    /// be off by a claim in flight.
    pub fn remote_count(&self) -> usize {
        self.mirror.len().saturating_sub(self.claims.len())
    }

    /// The other nodes that have users on them (the mirror counts them:
    /// this is called every maintenance round).
    pub fn remote_nodes(&self) -> HashSet<NodeId> {
        self.mirror
            .nodes()
            .iter()
            .filter(|n| *n != self.node.as_str())
            .filter_map(|n| NodeId::parse(n).ok())
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
                    self.mirror_put(key, record, entry.revision);
                }
                Operation::Delete | Operation::Purge => {
                    self.mirror.remove_if(&key, |m| m.revision < entry.revision);
                }
            }
        }
        Ok(())
    }

    /// Makes sure the bucket still says this node holds every name it
    /// holds. After a partition or a NATS restart another node may have
    /// reaped them: each is claimed again, unless someone else holds it
    /// by now (an account's record on other nodes is joined again).
    pub async fn reconcile(&self) -> Vec<Recheck> {
        // Runs every round over every claim: only the missing ones are
        // copied out.
        let missing: Vec<(NameKey, Claim)> = self
            .claims
            .iter()
            .filter(|c| {
                !self
                    .mirror
                    .get(c.key())
                    .is_some_and(|m| m.record.holds(self.node.as_str()))
            })
            .map(|c| (*c.key(), c.value().clone()))
            .collect();
        let mut lost = Vec::new();
        for (key, claim) in missing {
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
        let still_mine = || self.claims.get(&key).is_some_and(|c| c.conn == claim.conn);
        if !still_mine() {
            // Released meanwhile: nothing to claim again.
            return Ok(Recheck::Held);
        }
        match self.enter(&key, &claim.record, true).await {
            Ok(_) => {
                if !still_mine() {
                    // Released while this claimed it again.
                    self.take_out(&key, self.node.as_str(), None).await;
                }
                Ok(Recheck::Held)
            }
            Err(ClusterError::Taken) => {
                self.claims.remove_if(&key, |_, c| c.conn == claim.conn);
                Ok(Recheck::Lost {
                    name: key,
                    conn: claim.conn,
                })
            }
            Err(error) => Err(error),
        }
    }

    /// Takes `node` out of every record the mirror says it is in: it has
    /// stopped beating. Each write expects the revision read, so a name
    /// claimed again meanwhile stays, and of several nodes reaping at
    /// once only one takes the node out of each record. Returns the
    /// records of the users this left online nowhere (an account still
    /// online on other nodes stays online).
    ///
    /// Every live node reaps at once, each walking the names in its own
    /// order (its mirror's) and skipping those its watch already shows
    /// without the node, so they share the work more than repeat it; the
    /// writes go out [`REAP_CONCURRENCY`] at a time, so a node with
    /// thousands of users is freed in a few round trips' time rather than
    /// thousands.
    pub async fn reap(&self, node: &NodeId, share: Share) -> Vec<PresenceRecord> {
        let doomed: Vec<NameKey> = self
            .mirror
            .iter()
            .filter(|m| m.record.holds(node.as_str()) && share.covers(m.key()))
            .map(|m| *m.key())
            .collect();
        futures::stream::iter(doomed)
            .map(|key| async move {
                let seen = self
                    .mirror
                    .get(&key)
                    .filter(|m| m.record.holds(node.as_str()))
                    .map(|m| (m.record.clone(), m.revision))?;
                match self.take_out_seen(&key, node.as_str(), seen).await {
                    TakenOut::Last(record) => Some(record),
                    _ => None,
                }
            })
            .buffer_unordered(REAP_CONCURRENCY)
            .filter_map(std::future::ready)
            .collect()
            .await
    }

    /// [`Presence::take_out`], trying first with the record and revision
    /// the mirror shows (one trip instead of two when nobody changed it
    /// since); reads the record again only if that write is refused.
    async fn take_out_seen(
        &self,
        key: &NameKey,
        node: &str,
        (record, revision): (PresenceRecord, u64),
    ) -> TakenOut {
        match record.without(node) {
            None => {
                if self.free(key, revision).await {
                    self.mirror.remove_if(key, |m| m.revision <= revision);
                    return TakenOut::Last(record);
                }
            }
            Some(rest) => {
                let written = self
                    .kv
                    .update(bucket_key(key), rest.encode(), revision)
                    .await;
                if let Ok(revision) = written {
                    self.mirror_put(*key, rest, revision);
                    return TakenOut::Others;
                }
            }
        }
        self.take_out(key, node, None).await
    }

    /// Takes this node out of the records that list it but that it holds
    /// no claim for, and returns those it freed. Nobody else would: the
    /// others take a node out only when it stops beating. They are left by
    /// an earlier run of this node (killed, and started again under the
    /// same id before the others took it for dead), or by a REGISTER
    /// abandoned while its claim was on the way. A record is changed only
    /// when two calls in a row (a beat apart) saw it unclaimed at the same
    /// revision, and the write expects that revision.
    pub async fn free_strays(&self) -> Vec<PresenceRecord> {
        let me = self.node.as_str();
        // No more records list this node than it has claims, and none was
        // suspect last time: nothing to look for among the mirror's
        // entries (a stray hidden by a claim missing from the bucket is
        // found once the re-check has claimed that again).
        let suspects = !self
            .strays
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_empty();
        if !suspects && self.mirror.listing_of(me) <= self.claims.len() {
            return Vec::new();
        }
        let unclaimed: Vec<(NameKey, u64)> = self
            .mirror
            .iter()
            .filter(|m| {
                m.record.holds(me)
                    && !self.claims.contains_key(m.key())
                    && !self.claiming.contains_key(m.key())
            })
            .map(|m| (*m.key(), m.revision))
            .collect();
        let seen_before = std::mem::replace(
            &mut *self
                .strays
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
            unclaimed.iter().copied().collect(),
        );
        futures::stream::iter(
            unclaimed
                .into_iter()
                .filter(|(key, revision)| seen_before.get(key) == Some(revision)),
        )
        .map(|(key, revision)| async move {
            match self.take_out(&key, me, Some(revision)).await {
                TakenOut::Last(record) => Some(record),
                _ => None,
            }
        })
        .buffer_unordered(REAP_CONCURRENCY)
        .filter_map(std::future::ready)
        .collect()
        .await
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

    fn record(node: &str, account: bool, shared: bool) -> PresenceRecord {
        PresenceRecord {
            node: node.into(),
            also: Vec::new(),
            name: "alice".into(),
            admin: false,
            account,
            shared,
            muted: 0,
            addr: String::new(),
            advertised: String::new(),
            since: 0,
        }
    }

    #[test]
    fn nodes_join_and_leave_a_record_and_the_last_empties_it() {
        let first = record("n1", true, true);
        assert!(first.admits(&record("n2", true, true)));
        assert!(!first.admits(&record("n2", false, false)), "a guest");
        assert!(!first.admits(&record("n2", true, false)), "not shared");
        assert!(!record("n1", false, false).admits(&record("n2", true, true)));
        let both = first.with("n2").with("n3").with("n2");
        assert_eq!(both.nodes().collect::<Vec<_>>(), ["n1", "n2", "n3"]);
        assert_eq!(both.besides("n2"), ["n1", "n3"]);
        // The first node leaves: the next one is the record's node.
        let rest = both.without("n1").unwrap();
        assert_eq!(
            (rest.node.as_str(), rest.also.as_slice()),
            ("n2", &["n3".to_owned()][..])
        );
        assert!(!rest.holds("n1"));
        let last = rest.without("n3").unwrap();
        assert_eq!(last.nodes().collect::<Vec<_>>(), ["n2"]);
        assert_eq!(
            last.without("n9"),
            Some(last.clone()),
            "not there: unchanged"
        );
        assert_eq!(last.without("n2"), None);
        // One node's record reads as it always did.
        let json = String::from_utf8(first.encode().to_vec()).unwrap();
        assert!(!json.contains("also"), "{json}");
        assert_eq!(PresenceRecord::decode(json.as_bytes()), Some(first));
    }

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
