//! Shared server state: what every connection may read and some may write.
//!
//! - [`users`]: who is online, and the handle to reach each of them.
//! - [`mutes`]: who may not talk, kept by name so a mute outlives the
//!   connection it was placed on.
//! - [`bans`]: who may not log in.
//! - [`account_names`]: which names are accounts', known without the
//!   database.
//! - the [`Store`]: everything that outlives the process. Mutes and bans
//!   are written through to it and loaded from it at start-up.
//!
//! Lock order, where more than one is taken: a `users` shard, then a
//! connection's outbox. Mutes, bans and the delivery marks are never held
//! together with either.
//! - [`rooms`]: named group conversations, their members and moderation.
//!
//! Lock order, where more than one is taken: a `users` shard, then a
//! connection's outbox. Mutes are never held together with either. Rooms
//! have their own order (see [`rooms`]); a room's lock is never taken
//! while a `users` shard is held.

pub mod account_names;
pub mod bans;
pub mod mutes;
pub mod rooms;
pub mod users;
pub mod whowas;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use chinwag_proto::server::{MessageId, Timestamp};
use chinwag_proto::{NameKey, ServerFrame, UserName};

use crate::admission::{Admission, AdmissionLimits};
use crate::auth::AdminSecret;
use crate::config::Config;
use crate::delivery::{Delivery, Local, Order, Unavailable};
use crate::event::Event;
use crate::metrics::Metrics;
use crate::secrets::SecretGuard;
use crate::shutdown::Shutdown;
use crate::store::{AuditAction, AuditRecord, Store, StoreError};
pub use account_names::AccountNames;
pub use bans::Bans;
pub use mutes::{Mute, Mutes};
pub use rooms::{Room, Rooms};
pub use users::{Claimed, Link, Peer, Released, Sender, Users};
pub use whowas::Whowas;

/// A connection's number, unique for the life of the process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

impl std::fmt::Display for ConnId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "c{}", self.0)
    }
}

/// Everything the connections share.
pub struct State {
    pub config: Config,
    pub users: Users,
    pub mutes: Mutes,
    pub rooms: Rooms,
    pub admin: AdminSecret,
    pub shutdown: Shutdown,
    /// Connection limits, in total and per address.
    pub admission: Arc<Admission>,
    pub metrics: Metrics,
    pub bans: Bans,
    /// Every account's name, for guests registering while the database
    /// cannot be reached.
    pub account_names: AccountNames,
    /// Recent departures, for WHOWAS.
    pub whowas: Whowas,
    pub store: Arc<dyn Store>,
    /// The limiter every secret check goes through.
    pub secrets: SecretGuard,
    /// For each account, the newest offline message already handed to its
    /// socket. The store learns it a moment later (its write is queued);
    /// this keeps a quick re-login from being handed it again meanwhile.
    delivered: Mutex<HashMap<NameKey, MessageId>>,
    /// How to reach the rest of the server: set in cluster mode, once,
    /// before the first connection; see [`State::delivery`].
    delivery: OnceLock<Arc<dyn Delivery>>,
    /// A single node's delivery, until (unless) the node joins a cluster.
    local: Arc<dyn Delivery>,
    next_conn: AtomicU64,
    /// The ids of messages that are not stored (tags alone).
    next_ephemeral: AtomicU64,
}

impl State {
    pub fn new(config: Config, admin: AdminSecret, store: Arc<dyn Store>) -> Arc<State> {
        Arc::new(State {
            users: Users::new(config.max_sessions),
            mutes: Mutes::default(),
            bans: Bans::default(),
            account_names: AccountNames::default(),
            whowas: Whowas::default(),
            rooms: Rooms::new(config.max_rooms, config.max_rooms_per_user)
                .with_store(Arc::clone(&store)),
            shutdown: Shutdown::new(config.shutdown_grace),
            secrets: SecretGuard::new(std::time::Instant::now()),
            delivered: Mutex::new(HashMap::new()),
            admin,
            admission: Admission::new(AdmissionLimits {
                max_total: config.max_connections,
                max_per_ip: config.max_connections_per_ip,
                limit_loopback: config.limit_loopback,
            }),
            metrics: Metrics::default(),
            config,
            store,
            delivery: OnceLock::new(),
            local: Arc::new(Local),
            next_conn: AtomicU64::new(1),
            next_ephemeral: AtomicU64::new(1),
        })
    }

    /// Loads what must be in memory before the first connection: mutes,
    /// bans, rooms and the accounts' names.
    pub async fn load(&self) -> Result<(), StoreError> {
        let now = Timestamp::now();
        for mute in self.store.mutes().await? {
            if mute.until.at(now) != chinwag_proto::server::MuteState::NotMuted {
                self.mutes.set(
                    mute.name,
                    Mute {
                        until: mute.until,
                        by: mute.by,
                        reason: mute.reason,
                    },
                );
            }
        }
        for ban in self.store.bans().await? {
            self.bans.set(ban);
        }
        self.rooms.restore(self.store.rooms().await?);
        // In cluster mode: the guests of other nodes and the invitations,
        // which the store does not keep.
        for change in self.delivery().room_snapshot().await {
            self.rooms.apply(change);
        }
        for name in self.store.account_names().await? {
            match UserName::parse(&name) {
                Ok(name) => self.account_names.insert(&name),
                Err(error) => tracing::warn!(%name, %error, "unreadable stored account name"),
            }
        }
        Ok(())
    }

    /// The id of a message that is not stored (tags alone): its top bit
    /// set, unique while this node runs, never in history.
    pub fn ephemeral_id(&self) -> MessageId {
        let n = self.next_ephemeral.fetch_add(1, Ordering::Relaxed);
        MessageId(MessageId::EPHEMERAL | (n & !MessageId::EPHEMERAL))
    }

    pub fn next_conn_id(&self) -> ConnId {
        ConnId(self.next_conn.fetch_add(1, Ordering::Relaxed))
    }

    /// The newest offline message already handed to `user`'s socket.
    pub fn delivered_mark(&self, user: &NameKey) -> MessageId {
        let marks = self.delivered.lock().unwrap_or_else(|p| p.into_inner());
        marks.get(user).copied().unwrap_or_default()
    }

    /// Records that `user`'s offline messages up to `id` reached its
    /// socket, and has the store drop them from the queue.
    pub fn mark_delivered(self: &Arc<Self>, user: NameKey, id: MessageId) {
        self.delivered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(user, id);
        let state = Arc::clone(self);
        let write = self.store.delivered(user, id);
        tokio::spawn(async move {
            match write.await {
                Ok(()) => {
                    // The store knows now; forget the mark unless a newer
                    // one replaced it.
                    let mut marks = state.delivered.lock().unwrap_or_else(|p| p.into_inner());
                    if marks.get(&user) == Some(&id) {
                        marks.remove(&user);
                    }
                }
                // The mark stays, so this process does not deliver them
                // twice; after a restart they are delivered again (see
                // docs/storage.md).
                Err(error) => {
                    tracing::error!(%error, "cannot drop delivered messages from the queue")
                }
            }
        });
    }

    /// An audit record of an action taken now.
    pub fn audit(
        &self,
        actor: &str,
        action: AuditAction,
        target: &str,
        until: u64,
        reason: &str,
    ) -> AuditRecord {
        AuditRecord {
            ts: Timestamp::now(),
            actor: actor.to_owned(),
            action,
            target: target.to_owned(),
            until,
            reason: reason.to_owned(),
        }
    }

    pub fn connection_count(&self) -> usize {
        self.admission.open()
    }

    /// Sends an event to every online session; returns how many users got
    /// it. The event is shared by every queue.
    pub fn announce(&self, event: ServerFrame) -> u32 {
        self.users.push_to_all(&Event::new(event), None)
    }

    /// Sends a join or leave notice about `subject` to everyone else, here
    /// and elsewhere, unless so many users are online that presence is no
    /// longer announced.
    pub fn announce_presence(&self, event: ServerFrame, subject: &NameKey) {
        if self.online() <= self.config.presence_limit {
            let event = Event::new(event);
            self.users.push_to_others(&event, subject);
            self.delivery().presence(&event, subject);
        }
    }

    /// How to reach the rest of the server: [`Local`] for a single node
    /// (nobody is elsewhere), the cluster's once the node joined one.
    pub fn delivery(&self) -> &Arc<dyn Delivery> {
        self.delivery.get().unwrap_or(&self.local)
    }

    /// Delivers through `delivery` from now on (a node joining a
    /// cluster). Only before serving.
    /// The secret budgets become cluster-wide: every outcome is told to
    /// the other nodes.
    pub fn deliver_through(&self, delivery: Arc<dyn Delivery>) {
        if self.delivery.set(Arc::clone(&delivery)).is_err() {
            tracing::error!("joined a cluster twice; keeping the first");
            return;
        }
        self.rooms
            .replicate_through(Arc::clone(&delivery), delivery.node().to_owned());
        self.secrets.share_with(move |outcome| {
            if let Err(Unavailable(why)) = delivery.order_all(Order::Secret(outcome)) {
                tracing::debug!(%why, "cannot share a secret check's outcome");
            }
        });
    }

    /// How many users are online: here, or in the whole cluster.
    pub fn online(&self) -> usize {
        self.users.len() + self.delivery().remote_count()
    }
}

impl State {
    /// Starts a graceful shutdown: tells everyone online, then signals every
    /// loop. Returns `false` if a shutdown had already started.
    pub fn shut_down(&self, actor: &str, reason: &str) -> bool {
        if !self.shutdown.begin(reason) {
            return false;
        }
        // Submitted before the store closes (the server closes it only once
        // every connection is done); a failure is logged, and the shutdown
        // goes ahead regardless.
        let record = self
            .store
            .record(self.audit(actor, AuditAction::Shutdown, "", 0, reason));
        tokio::spawn(async move {
            if let Err(error) = record.await {
                tracing::error!(%error, "cannot record the shutdown in the audit log");
            }
        });
        let notice = ServerFrame::Notice(chinwag_proto::server::Notice {
            kind: chinwag_proto::NoticeKind::Shutdown,
            ts: Timestamp::now(),
            actor: actor.into(),
            subject: "".into(),
            until: self.shutdown.deadline().0,
            text: reason.into(),
        });
        self.announce(notice);
        self.shutdown.trigger();
        true
    }
}

/// A peer's address as `ip:port`, for USER_LIST.
pub fn format_addr(addr: &SocketAddr) -> String {
    addr.to_string()
}
