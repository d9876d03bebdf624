//! Cluster mode: many `chinwagd` nodes that behave as one server.
//!
//! The nodes do not talk to each other directly and run no consensus of
//! their own: they share a NATS server (with JetStream) for routing and
//! presence, and (with persistence) a PostgreSQL database for everything
//! durable. See `docs/cluster.md` for the picture.
//!
//! - [`node`]: node ids.
//! - [`presence`]: who is online on which node: a key-value bucket claimed
//!   atomically, and each node's mirror of it.
//! - [`liveness`]: heartbeats, and freeing the names of a node that
//!   stopped beating.
//! - [`room_claims`]: which node creates a room several create at once.
//! - [`routing`]: the subjects and the messages between nodes.
//! - [`inbound`]: what a node does with a message from another.
//! - [`delivery`]: the delivery layer ([`chinwag_core::delivery::Delivery`])
//!   across nodes: what handlers ask of the rest of the server, answered
//!   through NATS.
//!
//! A single node (no `--cluster`) has no [`Cluster`]: it delivers through
//! [`chinwag_core::delivery::Local`], handlers find every user in the local
//! directory, and nothing of this module runs. Handlers never mention the
//! cluster: they turn to the delivery layer for a user who is not local,
//! and local deliveries never go through NATS.

pub mod delivery;
pub mod inbound;
pub mod liveness;
pub mod presence;
pub mod room_claims;
pub mod routing;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, kv};
use async_nats::{Client, ConnectOptions};
use bytes::Bytes;
use chinwag_proto::server::{Timestamp, UserInfo};
use chinwag_proto::{NameKey, UserName};
use tokio::sync::{Notify, mpsc};

use chinwag_core::event::Shared;
pub use chinwag_core::node::NodeId;
use chinwag_core::ops;
use chinwag_core::state::{ConnId, Peer, State};
pub use delivery::ClusterDelivery;
pub use liveness::Beat;
use presence::{Located, Presence, PresenceRecord, Recheck, TakenOut};
pub use routing::{NodeEvent, NodeMessage, Order, RemoteReply};

/// How a node joins a cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterConfig {
    /// NATS server URLs (`nats://host:port`); the client fails over between
    /// them.
    pub servers: Vec<String>,
    /// Certificate authorities (PEM) trusted for `tls://` servers, besides
    /// the system's.
    pub ca: Option<std::path::PathBuf>,
    pub node: NodeId,
    /// A node that has not beaten for this long is taken for dead and its
    /// users' names are freed.
    pub node_timeout: Duration,
    /// How long to wait for another node's answer.
    pub request_timeout: Duration,
}

impl ClusterConfig {
    pub const DEFAULT_NODE_TIMEOUT: Duration = chinwag_core::config::DEFAULT_NODE_TIMEOUT;
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

    /// How a node with `config` joins its cluster; `None` for a single
    /// node. `config::resolve` gives every cluster node an id; a config
    /// built by hand without one gets a fresh one here.
    pub fn of(config: &chinwag_core::Config) -> Option<ClusterConfig> {
        if config.cluster.is_empty() {
            return None;
        }
        let node = match &config.node_id {
            Some(id) => NodeId::parse(id).ok()?,
            None => NodeId::generate(),
        };
        Some(ClusterConfig {
            servers: config.cluster.clone(),
            ca: config.cluster_ca.clone(),
            node,
            node_timeout: config.node_timeout,
            request_timeout: ClusterConfig::DEFAULT_REQUEST_TIMEOUT,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    /// NATS cannot be reached, or did not answer in time.
    #[error("the cluster is unavailable: {0}")]
    Unavailable(String),
    /// A name claim lost: someone holds the name.
    #[error("the name is taken")]
    Taken,
}

pub(crate) fn unavailable(error: impl std::fmt::Display) -> ClusterError {
    ClusterError::Unavailable(error.to_string())
}

/// This node's membership of a cluster.
pub struct Cluster {
    config: ClusterConfig,
    client: Client,
    /// For setting the buckets up again after NATS lost them.
    js: jetstream::Context,
    presence: Presence,
    liveness: liveness::Liveness,
    rooms: room_claims::RoomClaims,
    /// When this run of the node joined.
    started: Timestamp,
    /// Woken when the connection to NATS comes back: the mirror is
    /// rebuilt and the claims re-checked.
    reconnected: Arc<Notify>,
    /// Woken likewise, but not by the first connection: the rooms are
    /// brought up to date.
    rejoined: Arc<Notify>,
    /// Messages for every node, waiting for the publisher task.
    outgoing: mpsc::Sender<NodeMessage>,
    queued: std::sync::Mutex<Option<mpsc::Receiver<NodeMessage>>>,
    /// The node's state, once [`Cluster::start`] was given it.
    state: std::sync::OnceLock<std::sync::Weak<State>>,
}

/// How many node timeouts the delete marker of a freed name is kept,
/// so that every node's watch sees the delete before it is purged: a node
/// lagging that far behind has long been taken for dead.
const MARKER_GRACE: u32 = 10;

/// Most messages for all nodes waiting to be published; beyond that NATS
/// is too slow and senders are told the cluster is unavailable.
const OUTGOING: usize = 16 * 1024;

impl Cluster {
    /// Connects to NATS, sets up the buckets and beats once, so that the
    /// node is known before its first user registers. Fails if NATS cannot
    /// be reached now; later outages are survived (see [`Cluster::start`]).
    pub async fn connect(
        config: ClusterConfig,
        listen: &str,
    ) -> Result<Arc<Cluster>, ClusterError> {
        let reconnected = Arc::new(Notify::new());
        let rejoined = Arc::new(Notify::new());
        let wake = Arc::clone(&reconnected);
        let rejoin = Arc::clone(&rejoined);
        let first = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let node = config.node.clone();
        let mut options = ConnectOptions::new();
        if let Some(ca) = &config.ca {
            options = options.add_root_certificates(ca.clone());
        }
        let client = options
            .name(format!("chinwagd {node}"))
            .connection_timeout(config.request_timeout)
            .request_timeout(Some(config.request_timeout))
            // Retry for ever, but quickly: a node without NATS serves only
            // its own users.
            .reconnect_delay_callback(|attempts| {
                Duration::from_millis((100 * attempts as u64).min(1000))
            })
            .event_callback(move |event| {
                let wake = Arc::clone(&wake);
                let rejoin = Arc::clone(&rejoin);
                let first = Arc::clone(&first);
                async move {
                    match event {
                        async_nats::Event::Connected => {
                            tracing::info!("connected to NATS");
                            wake.notify_one();
                            if !first.swap(false, std::sync::atomic::Ordering::Relaxed) {
                                rejoin.notify_one();
                            }
                        }
                        async_nats::Event::Disconnected => {
                            tracing::warn!("lost the connection to NATS; serving local users only")
                        }
                        other => tracing::debug!(event = %other, "NATS"),
                    }
                }
            })
            .connect(config.servers.as_slice())
            .await
            .map_err(|e| {
                ClusterError::Unavailable(format!(
                    "cannot connect to NATS at {}: {e}",
                    config.servers.join(",")
                ))
            })?;
        let js = jetstream::ContextBuilder::new()
            .timeout(config.request_timeout)
            .build(client.clone());
        let (presence_kv, nodes_kv, rooms_kv) = buckets(&js, config.node_timeout).await?;
        let started = Timestamp::now();
        let beat = Beat {
            listen: listen.to_owned(),
            started: started.0,
        };
        let (outgoing, queued) = mpsc::channel(OUTGOING);
        let cluster = Cluster {
            outgoing,
            queued: std::sync::Mutex::new(Some(queued)),
            state: std::sync::OnceLock::new(),
            presence: Presence::new(presence_kv, js.clone(), node.clone()),
            liveness: liveness::Liveness::new(nodes_kv, node.clone(), &beat),
            rooms: room_claims::RoomClaims::new(rooms_kv, node),
            started,
            client,
            js,
            config,
            reconnected,
            rejoined,
        };
        cluster.liveness.beat().await?;
        Ok(Arc::new(cluster))
    }

    pub fn node(&self) -> &NodeId {
        &self.config.node
    }

    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    /// Whether NATS can be reached now.
    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// Fails at once when NATS is down, rather than queueing a request
    /// that nobody will answer in time.
    pub fn ensure_reachable(&self) -> Result<(), ClusterError> {
        if self.is_connected() {
            Ok(())
        } else {
            Err(ClusterError::Unavailable("not connected to NATS".into()))
        }
    }

    /// Starts what keeps this node in the cluster, until shutdown: the
    /// listeners for the other nodes' messages, the presence mirror, the
    /// heartbeat, and the re-check of claims and the reaper.
    pub async fn start(self: &Arc<Self>, state: Arc<State>) -> Result<(), ClusterError> {
        let _ = self.state.set(Arc::downgrade(&state));
        let mine = self
            .client
            .subscribe(routing::node_subject(self.node()))
            .await
            .map_err(unavailable)?;
        let all = self
            .client
            .subscribe(routing::ALL)
            .await
            .map_err(unavailable)?;
        // Both are flushed before the first user can register, so nothing
        // sent to this node after that is missed.
        self.client.flush().await.map_err(unavailable)?;
        let inbox = futures::stream::select(mine, all);
        tokio::spawn(inbound::serve(Arc::clone(self), Arc::clone(&state), inbox));
        tokio::spawn(Arc::clone(self).follow(Arc::clone(&state)));
        tokio::spawn(Arc::clone(self).rejoin_rooms(Arc::clone(&state)));
        let queued = self.queued.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(queued) = queued {
            tokio::spawn(Arc::clone(self).publish(Arc::clone(&state), queued));
        }
        tokio::spawn(Arc::clone(self).beat(Arc::clone(&state)));
        tokio::spawn(Arc::clone(self).maintain(state));
        Ok(())
    }

    /// Keeps the presence mirror up to date, starting over whenever the
    /// watch ends or NATS comes back.
    async fn follow(self: Arc<Self>, state: Arc<State>) {
        loop {
            tokio::select! {
                () = state.shutdown.wait() => return,
                () = self.reconnected.notified() => continue,
                followed = self.presence.follow() => {
                    if let Err(error) = followed {
                        tracing::debug!(%error, "presence watch ended");
                    }
                }
            }
            tokio::select! {
                () = state.shutdown.wait() => return,
                () = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
    }

    /// Brings the rooms up to date whenever NATS comes back: while this
    /// node was cut off, the others may have changed rooms (they wrote the
    /// changes to the database) and dropped this node's guests, and this
    /// node's guests may have left. So: the store's state for the
    /// accounts, the others' snapshots for their guests, and this node's
    /// guests told to the others again.
    async fn rejoin_rooms(self: Arc<Self>, state: Arc<State>) {
        loop {
            tokio::select! {
                () = state.shutdown.wait() => return,
                () = self.rejoined.notified() => {}
            }
            match state.store.rooms().await {
                Ok(records) => state.rooms.reload(records),
                Err(error) => tracing::warn!(%error, "cannot read the rooms back from the store"),
            }
            for change in self.room_snapshot(false).await {
                state.rooms.apply(change);
            }
            state.rooms.reannounce_guests();
            tracing::info!("rooms brought up to date after a NATS outage");
        }
    }

    /// Beats several times per node timeout, in a task of its own: no
    /// other work (reaping the thousands of names of a dead node takes
    /// seconds) may delay a beat past the timeout and get this node taken
    /// for dead too.
    async fn beat(self: Arc<Self>, state: Arc<State>) {
        let mut rounds = Rounds::new(self.config.node_timeout);
        while rounds.next(&state).await {
            if !self.is_connected() {
                continue;
            }
            if let Err(error) = self.liveness.beat().await {
                // Connected but the beat failed: NATS may have come back
                // without its JetStream data. Set the buckets up again;
                // the next round of `maintain` claims this node's names
                // anew.
                tracing::debug!(%error, "heartbeat failed");
                if let Err(error) = buckets(&self.js, self.config.node_timeout).await {
                    tracing::debug!(%error, "cannot set the buckets up");
                }
            }
        }
    }

    /// Re-checks this node's claims and frees the names of dead nodes,
    /// several times per node timeout.
    async fn maintain(self: Arc<Self>, state: Arc<State>) {
        let mut rounds = Rounds::new(self.config.node_timeout);
        // Dead nodes this node has reaped its share of already.
        let mut reaping = HashSet::new();
        while rounds.next(&state).await {
            if !self.is_connected() {
                continue;
            }
            // The dead first: their users wait for their names.
            self.reap_dead(&state, &mut reaping).await;
            for lost in self.presence.reconcile().await {
                if let Recheck::Lost { name, conn } = lost {
                    inbound::lost_name(&state, name, conn);
                }
            }
            self.forget_departed(&state).await;
            // Names an earlier run of this node held, if it was killed and
            // started again before the others took it for dead: they show
            // users who left with that run.
            let strays = self.presence.free_strays().await;
            tell_gone(
                &state,
                strays.iter().filter(|record| record.since < self.started.0),
            );
            self.presence
                .sweep(MARKER_GRACE * self.config.node_timeout)
                .await;
        }
    }

    /// Frees the names of the nodes that stopped beating: in the first
    /// round after a node is found dead, this node's share of them (see
    /// [`presence::Share`]); in the next, whatever is still listed.
    async fn reap_dead(&self, state: &State, reaping: &mut HashSet<NodeId>) {
        let mut dead = Vec::new();
        for node in self.presence.remote_nodes() {
            if let Ok(false) = self.liveness.is_alive(&node).await {
                dead.push(node);
            }
        }
        reaping.retain(|node| dead.contains(node));
        if dead.is_empty() {
            return;
        }
        let live = self
            .liveness
            .nodes(self.config.request_timeout)
            .await
            .unwrap_or_default();
        for node in dead {
            let started = Instant::now();
            let share = if reaping.insert(node.clone()) {
                presence::Share::among(self.node(), &live)
            } else {
                presence::Share::ALL
            };
            let freed = self.presence.reap(&node, share).await;
            if !freed.is_empty() {
                tracing::warn!(
                    %node,
                    freed = freed.len(),
                    share = format!("{} of {}", share.index + 1, share.of),
                    took_ms = started.elapsed().as_millis() as u64,
                    "node stopped beating; freed its names"
                );
            }
            tell_gone(state, &freed);
        }
    }

    /// Leaves the cluster on a clean shutdown: frees the names still held
    /// and the heartbeat, so the others need not wait for the timeout.
    pub async fn leave(&self) {
        let leaving = async {
            for (name, conn) in self.presence.held() {
                self.presence.release(name, conn).await;
            }
            self.liveness.leave().await;
            let _ = self.client.flush().await;
        };
        if tokio::time::timeout(self.config.request_timeout, leaving)
            .await
            .is_err()
        {
            tracing::warn!(
                "could not leave the cluster in time; the others will time this node out"
            );
        }
    }

    /// Releases claims whose connection has gone: a release that raced a
    /// re-check, or a REGISTER whose connection closed while its claim was
    /// on the way. Young claims are left alone: their REGISTER may still
    /// be finishing.
    async fn forget_departed(&self, state: &State) {
        for (name, conn) in self.presence.held_for(self.config.request_timeout * 2) {
            let online = state.users.get(name.as_str()).is_some_and(|p| p.id == conn);
            if !online {
                self.presence.release(name, conn).await;
            }
        }
    }

    /// Claims `peer`'s name cluster-wide; whether the user was online
    /// nowhere else (see [`Presence::claim`]).
    pub async fn claim(
        &self,
        record: PresenceRecord,
        key: NameKey,
        conn: ConnId,
    ) -> Result<bool, ClusterError> {
        self.ensure_reachable()?;
        self.presence.claim(key, conn, record).await
    }

    /// Purges the delete markers of names freed more than `grace` ago
    /// (done by the node itself every beat, for those freed more than
    /// ten node timeouts ago).
    pub async fn sweep_freed_names(&self, grace: Duration) {
        self.presence.sweep(grace).await;
    }

    /// How many entries the presence bucket stores: one per online user,
    /// plus the markers of names freed and not yet swept.
    pub async fn presence_entries(&self) -> Result<u64, ClusterError> {
        self.presence.stored().await
    }

    /// The record a peer claims its name with.
    pub fn record(&self, peer: &Peer, now: Timestamp) -> PresenceRecord {
        PresenceRecord::of(peer, self.node(), now)
    }

    /// Frees a name this node claimed (in the background), and gives
    /// `departure` if this node was the last holding the user (or if the
    /// bucket could not be told: the user left here in any case). See
    /// [`chinwag_core::delivery::Delivery::release`].
    pub fn release(
        self: &Arc<Self>,
        key: NameKey,
        conn: ConnId,
        departure: Option<chinwag_core::delivery::Departure>,
    ) {
        let cluster = Arc::clone(self);
        tokio::spawn(async move {
            let taken_out = cluster.presence.release(key, conn).await;
            let last = matches!(taken_out, TakenOut::Last(_) | TakenOut::Failed);
            if let Some(departure) = departure.filter(|_| last)
                && let Some(state) = cluster.state.get().and_then(std::sync::Weak::upgrade)
            {
                ops::login::left(
                    &state,
                    &departure.name,
                    &departure.actor,
                    Timestamp::now(),
                    &departure.why,
                );
            }
        });
    }

    /// Publishes a change of a local user's role or mute (in the
    /// background), for the others' GETALLUSER.
    pub fn republish(self: &Arc<Self>, peer: &Arc<Peer>) {
        let cluster = Arc::clone(self);
        let peer = Arc::clone(peer);
        tokio::spawn(async move { cluster.presence.update(&peer).await });
    }

    /// The node a user who is not local is on.
    pub fn locate(&self, name: &str) -> Option<Located> {
        self.presence.locate(name)
    }

    /// The users of the other nodes, as USER_LIST shows them.
    pub fn remote_users(&self, now: Timestamp, for_admin: bool) -> Vec<UserInfo> {
        self.presence
            .remote()
            .iter()
            .map(|record| record.info(now, for_admin))
            .collect()
    }

    /// How many users of the other nodes a ban on `target` matches.
    pub fn matching(&self, target: &chinwag_core::store::BanTarget) -> u32 {
        use chinwag_core::store::BanTarget;
        self.presence
            .remote()
            .iter()
            .filter(|record| match target {
                BanTarget::Name(key) => NameKey::fold(&record.name).as_ref() == Some(key),
                BanTarget::Addr(ip) => record
                    .addr
                    .parse::<std::net::SocketAddr>()
                    .is_ok_and(|a| a.ip().to_canonical() == *ip),
            })
            .count() as u32
    }

    /// How many users the other nodes have.
    pub fn remote_count(&self) -> usize {
        self.presence.remote_count()
    }

    /// Sends a request to one node and waits for its answer, for at most
    /// the request timeout. The request carries that deadline: a node that
    /// gets it too late (it was frozen, or swamped) refuses it rather than
    /// carry out what this node has given up on.
    pub async fn request(
        &self,
        node: &NodeId,
        message: NodeMessage,
    ) -> Result<RemoteReply, ClusterError> {
        let answer = self.ask(node, message).await?;
        RemoteReply::decode(&answer).map_err(|e| ClusterError::Unavailable(e.message))
    }

    /// Claims the name of a room about to be created here (see
    /// [`room_claims`]).
    pub async fn claim_room(&self, room: chinwag_proto::RoomKey) -> Result<bool, ClusterError> {
        self.ensure_reachable()?;
        self.rooms.claim(room).await
    }

    /// Lets go of this node's claim on a room (in the background).
    pub fn release_room(self: &Arc<Self>, room: chinwag_proto::RoomKey) {
        let cluster = Arc::clone(self);
        tokio::spawn(async move { cluster.rooms.release(room).await });
    }

    /// Asks every other live node for the rooms' state this node cannot
    /// read from the database (see [`NodeMessage::RoomSync`]). A node that
    /// does not answer is skipped: its guests arrive as they join.
    pub async fn room_snapshot(&self, fresh: bool) -> Vec<chinwag_core::state::rooms::RoomChange> {
        let mut changes = Vec::new();
        let nodes = match self.liveness.nodes(self.config.request_timeout).await {
            Ok(nodes) => nodes,
            Err(error) => {
                tracing::warn!(%error, "cannot list the other nodes for their rooms");
                return changes;
            }
        };
        for node in nodes.iter().filter(|n| *n != self.node()) {
            match self.ask(node, NodeMessage::RoomSync { fresh }).await {
                Ok(answer) => {
                    match serde_json::from_slice::<Vec<routing::RoomChangeWire>>(&answer) {
                        Ok(list) => {
                            changes.extend(list.into_iter().filter_map(|c| c.into_change()))
                        }
                        Err(error) => tracing::warn!(%node, %error, "unreadable rooms from a node"),
                    }
                }
                Err(error) => tracing::warn!(%node, %error, "no rooms from a node"),
            }
        }
        changes
    }

    /// Sends a request to one node and waits for its answer, as sent.
    async fn ask(&self, node: &NodeId, message: NodeMessage) -> Result<Bytes, ClusterError> {
        self.ensure_reachable()?;
        let (mut headers, body) = message.encode(self.node());
        let wait = self.config.request_timeout;
        let deadline = Timestamp(Timestamp::now().0.saturating_add(wait.as_millis() as u64));
        routing::set_deadline(&mut headers, deadline);
        let request = self
            .client
            .request_with_headers(routing::node_subject(node), headers, body);
        let answer = tokio::time::timeout(wait, request)
            .await
            .map_err(|_| ClusterError::Unavailable(format!("no answer from node {node} in time")))?
            .map_err(|e| match e.kind() {
                async_nats::RequestErrorKind::NoResponders => {
                    ClusterError::Unavailable(format!("node {node} does not answer"))
                }
                _ => ClusterError::Unavailable(format!("no answer from node {node}: {e}")),
            })?;
        Ok(answer.payload)
    }

    /// Sends a message to one node without waiting for an answer (in the
    /// background; dropped if NATS cannot be reached).
    pub fn tell(self: &Arc<Self>, node: &NodeId, message: NodeMessage) {
        if self.ensure_reachable().is_err() {
            return;
        }
        let cluster = Arc::clone(self);
        let subject = routing::node_subject(node);
        let (headers, body) = message.encode(self.node());
        tokio::spawn(async move {
            if let Err(error) = cluster
                .client
                .publish_with_headers(subject, headers, body)
                .await
            {
                tracing::debug!(%error, "cannot tell another node");
            }
        });
    }

    /// Sends a message to every other node (one NATS message; the NATS
    /// server copies it once per node).
    pub async fn publish_all(&self, message: NodeMessage) -> Result<(), ClusterError> {
        self.ensure_reachable()?;
        let (headers, body) = message.encode(self.node());
        self.client
            .publish_with_headers(routing::ALL, headers, body)
            .await
            .map_err(unavailable)
    }

    /// [`Cluster::publish_all`] from a handler that does not wait for it:
    /// fails at once if NATS is down, else queues the message for the
    /// publisher task, which sends in queue order (one user's broadcasts
    /// arrive in the order they were sent).
    pub fn tell_all(&self, message: NodeMessage) -> Result<(), ClusterError> {
        self.ensure_reachable()?;
        self.outgoing.try_send(message).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => {
                ClusterError::Unavailable("too many messages waiting for NATS".into())
            }
            mpsc::error::TrySendError::Closed(_) => {
                ClusterError::Unavailable("this node is leaving the cluster".into())
            }
        })
    }

    /// Presence notices for the other nodes' users but `except` (a name);
    /// dropped if NATS is down.
    pub fn announce(&self, event: Shared, except: &str) {
        if let Some(event) = NodeEvent::of(&event) {
            let _ = self.tell_all(NodeMessage::Fanout {
                except: except.to_owned(),
                event,
            });
        }
    }

    /// Sends what [`Cluster::tell_all`] queued, in order.
    async fn publish(self: Arc<Self>, state: Arc<State>, mut queue: mpsc::Receiver<NodeMessage>) {
        loop {
            let message = tokio::select! {
                // What was queued before the shutdown (the cluster-wide
                // shutdown order itself) still goes out.
                () = state.shutdown.wait() => {
                    while let Ok(message) = queue.try_recv() {
                        let _ = self.publish_all(message).await;
                    }
                    break;
                }
                message = queue.recv() => match message {
                    Some(message) => message,
                    None => break,
                },
            };
            if let Err(error) = self.publish_all(message).await {
                tracing::warn!(%error, "cannot tell the cluster");
            }
        }
    }
}

/// The rounds of the heartbeat and of the maintenance: several per node
/// timeout (see [`liveness::beat_interval`]), a late one not made up for.
struct Rounds(tokio::time::Interval);

impl Rounds {
    fn new(node_timeout: Duration) -> Rounds {
        let mut tick = tokio::time::interval(liveness::beat_interval(node_timeout));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Rounds(tick)
    }

    /// Waits for the next round; `false` once the node shuts down.
    async fn next(&mut self, state: &State) -> bool {
        tokio::select! {
            () = state.shutdown.wait() => false,
            _ = self.0.tick() => true,
        }
    }
}

/// Tells everyone that the users of `records` left with their node.
fn tell_gone<'a>(state: &State, records: impl IntoIterator<Item = &'a PresenceRecord>) {
    for record in records {
        if let Ok(name) = UserName::parse(&record.name) {
            ops::login::gone_with_its_node(state, &name);
            ops::rooms::gone_with_its_node(state, &name);
        }
    }
}

/// Opens (creating them the first time) the presence, the nodes and the
/// room claims buckets.
async fn buckets(
    js: &jetstream::Context,
    node_timeout: Duration,
) -> Result<(kv::Store, kv::Store, kv::Store), ClusterError> {
    Ok((
        bucket(js, presence::BUCKET, Duration::ZERO).await?,
        bucket(js, liveness::BUCKET, node_timeout).await?,
        bucket(js, room_claims::BUCKET, room_claims::CLAIM_LIFE).await?,
    ))
}

/// Opens a key-value bucket, creating it the first time. The bucket's
/// stream is set up here, as a key-value bucket's stream is, rather than
/// with `create_key_value`, whose account-info query this client cannot
/// read from nats-server 2.9.
async fn bucket(
    js: &jetstream::Context,
    name: &str,
    max_age: Duration,
) -> Result<kv::Store, ClusterError> {
    let opened = async {
        js.get_or_create_stream(jetstream::stream::Config {
            name: format!("KV_{name}"),
            subjects: vec![format!("$KV.{name}.>")],
            max_messages_per_subject: 1,
            max_age,
            discard: jetstream::stream::DiscardPolicy::New,
            allow_rollup: true,
            deny_delete: true,
            allow_direct: true,
            storage: jetstream::stream::StorageType::File,
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
        js.get_key_value(name).await.map_err(|e| e.to_string())
    };
    opened
        .await
        .map_err(|e| ClusterError::Unavailable(format!("cannot open the {name} bucket: {e}")))
}

/// What a node listens on: its own subject and the one for all.
pub(crate) type Inbox = futures::stream::Select<async_nats::Subscriber, async_nats::Subscriber>;
