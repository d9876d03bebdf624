//! Storage: accounts, roles, mutes, bans, the audit log, message history
//! and the offline queue.
//!
//! Handlers see only the [`Store`] trait. It is object safe and every
//! method returns a boxed future, so a handler never blocks its connection
//! task on the database and a second backend (PostgreSQL, for a cluster)
//! can be added without touching the handlers. [`sqlite`] is the embedded
//! backend used by `chinwagd`; [`postgres`] the shared one a cluster's
//! nodes use (`--database`).
//!
//! The promise every backend keeps: when a write's future resolves `Ok`,
//! the write is durable (committed, and synced as the durability setting
//! says). The server acknowledges nothing to a client before that.
//!
//! The two backends share their semantics; each keeps only its SQL
//! dialect and its way of running statements:
//! - [`conversation`]: the typed key a message is filed under, and its one
//!   encoding in the `conv` column;
//! - `query`: the rules of a history page and of the offline queue, as SQL
//!   both dialects run;
//! - `rows`: the mapping of a result row to a store record;
//! - `writes`: what a change to a stored room and pruning run.
//!
//! The store returns its own records; turning them into wire frames is the
//! server's business (`chinwag_server::store_wire`). This crate knows the
//! wire protocol's vocabulary (names, ids, timestamps) and nothing else of
//! chinwag: no sessions, no sockets, no cluster.

pub mod conversation;
pub mod postgres;
mod query;
pub mod rooms;
mod rows;
pub mod sqlite;
mod writes;

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use chinwag_proto::server::{MessageId, MuteState, Timestamp};
use chinwag_proto::{NameKey, RoomKey, UserName};
use futures::future::BoxFuture;

pub use conversation::{BadConversationKey, ConversationKey, DirectPair};
pub use postgres::PostgresStore;
pub use rooms::{MaskRecord, MemberRecord, NewRoomMessage, RoomMeta, RoomRecord, RoomWrite};
pub use sqlite::SqliteStore;

/// What every store method returns.
pub type StoreFuture<T> = BoxFuture<'static, Result<T, StoreError>>;

/// Why a store call failed. Nothing the call was asked to write was
/// written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The database refused the write or the read: full disk, I/O error,
    /// corruption.
    #[error("storage failure: {0}")]
    Failed(String),
    /// The store has been closed (the server is stopping).
    #[error("the store is closed")]
    Closed,
    /// The data directory holds a database from a newer chinwagd.
    #[error(
        "the database is at schema version {found}, newer than this chinwagd knows ({known}); \
         use a newer chinwagd"
    )]
    TooNew { found: i64, known: i64 },
    /// The data directory cannot be used.
    #[error("cannot use data directory {dir}: {error}")]
    DataDir { dir: String, error: String },
    /// Another process holds the data directory's lock.
    #[error(
        "data directory {dir} is in use by another chinwagd{}; stop it or use --data",
        pid.map(|pid| format!(" (pid {pid})")).unwrap_or_default()
    )]
    InUse { dir: String, pid: Option<u32> },
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> StoreError {
        StoreError::Failed(error.to_string())
    }
}

/// How hard a commit works to survive a crash.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// Every commit is synced to disk before it is acknowledged: survives
    /// a process crash and a power loss.
    #[default]
    Full,
    /// Commits are synced at checkpoints: survives a process crash
    /// (kill -9), but a power loss may take the last commits.
    Normal,
}

/// A message to store: a direct message (`to` set) or a broadcast.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMessage {
    pub ts: Timestamp,
    pub from: UserName,
    /// The recipient of a direct message; `None` for a broadcast.
    pub to: Option<UserName>,
    pub text: String,
    /// A NOTICE (protocol.md 7.9).
    pub notice: bool,
    /// Also put it in this account's offline queue, in the same commit.
    pub queue_for: Option<NameKey>,
}

impl NewMessage {
    /// The conversation it is filed under.
    pub fn conversation(&self) -> ConversationKey {
        match &self.to {
            Some(to) => ConversationKey::direct(self.from.key(), to.key()),
            None => ConversationKey::Broadcast,
        }
    }

    /// What [`StoredMessage::to`] reads back.
    pub fn recipient(&self) -> &str {
        self.to.as_ref().map_or("", |to| to.as_str())
    }
}

/// A stored message, as history and the offline queue return it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMessage {
    pub id: MessageId,
    pub ts: Timestamp,
    /// The conversation it is filed under, which says its kind.
    pub conversation: ConversationKey,
    /// The sender's spelling.
    pub from: String,
    /// The recipient's spelling as it was sent to: a user name, a room
    /// name with its `#`, or empty for a broadcast.
    pub to: String,
    pub text: String,
    /// A NOTICE.
    pub notice: bool,
}

/// The `flags` column of `messages`: a NOTICE.
pub const FLAG_NOTICE: i64 = 1;
/// The `flags` column of `messages`: deleted (REDACT); its text is gone
/// and history and the offline queue skip it.
pub const FLAG_REDACTED: i64 = 2;

/// Which conversation a history query reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Conversation {
    /// The direct messages between two users, both ways.
    Direct(NameKey, NameKey),
    /// Every broadcast.
    Broadcast,
    /// Every message to a room.
    Room(RoomKey),
    /// Every conversation this account may read: the broadcast channel,
    /// its direct conversations and its rooms, in one id order. What a
    /// reader catching up fetches.
    Reader(NameKey),
}

/// A page of one conversation, newest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryQuery {
    pub conversation: Conversation,
    /// Only messages with a smaller id.
    pub before: Option<MessageId>,
    /// Only messages with a larger id. Given alone, the page is the
    /// `limit` messages right after it (still sent newest first).
    pub after: Option<MessageId>,
    pub limit: u32,
    /// Leave out direct messages older than this: the reader's account
    /// did not exist yet, so they were a guest's of the same name, and are
    /// not the account's to read. `Timestamp(0)`: no bound.
    pub direct_since: Timestamp,
}

/// An account: a name protected by a password.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    /// The spelling chosen when the account was created.
    pub name: String,
    /// An argon2id PHC string.
    pub password_hash: String,
    pub admin: bool,
    pub created_at: Timestamp,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("name", &self.name)
            .field("admin", &self.admin)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// A stored mute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MuteRecord {
    pub name: NameKey,
    pub until: MuteState,
    pub by: String,
    pub reason: String,
}

/// What a ban keeps out.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum BanTarget {
    /// A user name (an account or a guest name), any spelling.
    Name(NameKey),
    /// Every connection from an address.
    Addr(IpAddr),
}

impl BanTarget {
    /// A name or an IP address literal. Names cannot contain `.` or `:`,
    /// so the two never overlap.
    pub fn parse(text: &str) -> Option<BanTarget> {
        if let Ok(addr) = text.parse::<IpAddr>() {
            return Some(BanTarget::Addr(addr.to_canonical()));
        }
        NameKey::fold(text).map(BanTarget::Name)
    }
}

impl fmt::Display for BanTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BanTarget::Name(key) => f.write_str(key.as_str()),
            BanTarget::Addr(addr) => write!(f, "{addr}"),
        }
    }
}

/// A stored ban.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BanRecord {
    pub target: BanTarget,
    /// `Until(ts)` or `UntilLifted` (for good).
    pub until: MuteState,
    pub by: String,
    pub reason: String,
    pub at: Timestamp,
}

/// An administrator's action, for the audit log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    pub ts: Timestamp,
    pub actor: String,
    pub action: AuditAction,
    pub target: String,
    /// For mutes and bans: when it ends, as a mute state on the wire.
    pub until: u64,
    pub reason: String,
}

/// An entry of the audit log, as the log returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditLogEntry {
    /// Its place in the log: ids grow with every entry.
    pub id: u64,
    pub record: AuditRecord,
}

/// What an administrator did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditAction {
    Elevate,
    Kick,
    Mute,
    Unmute,
    Ban,
    Unban,
    Grant,
    Revoke,
    Shutdown,
}

impl AuditAction {
    const ALL: [AuditAction; 9] = [
        AuditAction::Elevate,
        AuditAction::Kick,
        AuditAction::Mute,
        AuditAction::Unmute,
        AuditAction::Ban,
        AuditAction::Unban,
        AuditAction::Grant,
        AuditAction::Revoke,
        AuditAction::Shutdown,
    ];

    /// The action [`AuditAction::as_str`] names.
    pub fn parse(text: &str) -> Option<AuditAction> {
        AuditAction::ALL
            .into_iter()
            .find(|action| action.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Elevate => "elevate",
            AuditAction::Kick => "kick",
            AuditAction::Mute => "mute",
            AuditAction::Unmute => "unmute",
            AuditAction::Ban => "ban",
            AuditAction::Unban => "unban",
            AuditAction::Grant => "grant",
            AuditAction::Revoke => "revoke",
            AuditAction::Shutdown => "shutdown",
        }
    }
}

/// How far an account has read a conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadMarker {
    pub conversation: ConversationKey,
    pub up_to: MessageId,
    /// The time read up to (0: only an id was ever marked before times
    /// were kept).
    pub ts: Timestamp,
}

/// How much history to keep. Messages still waiting in an offline queue
/// are kept whatever their age.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Retention {
    pub max_age: Option<Duration>,
    pub max_count: Option<u64>,
}

/// The storage interface. See the module documentation for the durability
/// promise.
pub trait Store: Send + Sync + 'static {
    /// Stores a message and returns its id. Ids grow with every append
    /// and are never reused, across restarts too.
    fn append(&self, message: NewMessage) -> StoreFuture<MessageId>;
    /// Puts an already stored message in an account's offline queue.
    fn enqueue(&self, user: NameKey, id: MessageId) -> StoreFuture<()>;
    /// A page of one conversation, newest first.
    fn history(&self, query: HistoryQuery) -> StoreFuture<Vec<StoredMessage>>;
    /// Up to `limit` messages waiting for `user` with an id above `after`,
    /// oldest first.
    fn pending(
        &self,
        user: NameKey,
        after: MessageId,
        limit: u32,
    ) -> StoreFuture<Vec<StoredMessage>>;
    /// A stored message that was not deleted, by id.
    fn message(&self, id: MessageId) -> StoreFuture<Option<StoredMessage>>;
    /// Deletes a message (REDACT): its text is erased and history no
    /// longer returns it. `false` if there is no such message left.
    fn redact(&self, id: MessageId) -> StoreFuture<bool>;
    /// Removes the messages up to `up_to` from `user`'s offline queue:
    /// they have been handed to the user's socket.
    fn delivered(&self, user: NameKey, up_to: MessageId) -> StoreFuture<()>;

    fn account(&self, name: NameKey) -> StoreFuture<Option<Account>>;
    /// An account whose name looks like `name` (the same confusable
    /// skeleton, see [`NameKey::skeleton`]) but is another name.
    fn account_like(&self, name: NameKey) -> StoreFuture<Option<Account>>;
    /// Creates an account; `false` if the name already has one.
    fn create_account(
        &self,
        name: UserName,
        password_hash: String,
        now: Timestamp,
    ) -> StoreFuture<bool>;
    /// `false` if there is no such account.
    fn set_password(&self, name: NameKey, password_hash: String) -> StoreFuture<bool>;
    /// Grants or revokes the admin role and logs it; `false` if there is
    /// no such account (nothing is logged then).
    fn set_admin(&self, name: NameKey, admin: bool, audit: AuditRecord) -> StoreFuture<bool>;
    /// The name of every account, as spelled at its creation.
    fn account_names(&self) -> StoreFuture<Vec<String>>;
    /// Whether this process is the only one that writes the database
    /// (the embedded SQLite, whose data directory one process locks):
    /// then the accounts it created and read at start are all there are,
    /// and a guest's name can be checked against them without a query.
    fn sole_writer(&self) -> bool {
        false
    }
    /// The names of the accounts that hold the admin role.
    fn admins(&self) -> StoreFuture<Vec<String>>;

    /// Sets (or replaces) a mute and logs it.
    fn set_mute(&self, mute: MuteRecord, audit: AuditRecord) -> StoreFuture<()>;
    /// Removes a mute and logs it. `false` if there was none.
    fn lift_mute(&self, name: NameKey, audit: AuditRecord) -> StoreFuture<bool>;
    /// Every stored mute.
    fn mutes(&self) -> StoreFuture<Vec<MuteRecord>>;

    /// Sets (or replaces) a ban and logs it.
    fn ban(&self, ban: BanRecord, audit: AuditRecord) -> StoreFuture<()>;
    /// Lifts a ban and logs it; `false` (nothing logged) if there was none.
    fn unban(&self, target: BanTarget, audit: AuditRecord) -> StoreFuture<bool>;
    /// Every stored ban.
    fn bans(&self) -> StoreFuture<Vec<BanRecord>>;

    /// Logs an action that changes nothing else in the store.
    fn record(&self, audit: AuditRecord) -> StoreFuture<()>;
    /// A page of the audit log, newest first: entries with an id below
    /// `before` (all when `None`).
    fn audit_log(&self, before: Option<u64>, limit: u32) -> StoreFuture<Vec<AuditLogEntry>>;

    /// Deletes history beyond the retention limits, and mutes and bans
    /// that have ended. Returns how many messages were deleted.
    fn prune(&self, retention: Retention, now: Timestamp) -> StoreFuture<u64>;
    /// Stores a message to a room (history under [`ConversationKey::Room`]) and returns its
    /// id, from the same sequence as [`Store::append`].
    fn append_room(&self, message: NewRoomMessage) -> StoreFuture<MessageId>;
    /// Writes one change to a room's stored state.
    fn write_room(&self, write: RoomWrite) -> StoreFuture<()>;
    /// Every stored room, with its account members and mutes.
    fn rooms(&self) -> StoreFuture<Vec<RoomRecord>>;
    /// `account` has read `conversation` up to `up_to`. A marker only
    /// moves forward: an older id leaves it where it is. Its time moves to
    /// that of message `up_to`, if that is later.
    fn mark_read(
        &self,
        account: NameKey,
        conversation: ConversationKey,
        up_to: MessageId,
    ) -> StoreFuture<()>;
    /// `account` has read `conversation` up to the time `ts`: the marker's
    /// time moves to `ts` and its id to the newest message of the
    /// conversation at or before `ts`, each only if that is later.
    fn mark_read_at(
        &self,
        account: NameKey,
        conversation: ConversationKey,
        ts: Timestamp,
    ) -> StoreFuture<()>;
    /// Sets `key` of `account`'s metadata to `value`, or deletes it
    /// (`None`); `key` `*` with `None` deletes every key.
    fn set_metadata(&self, account: NameKey, key: String, value: Option<String>)
    -> StoreFuture<()>;
    /// `account`'s metadata, by key.
    fn metadata(&self, account: NameKey) -> StoreFuture<Vec<(String, String)>>;
    /// Every read marker of `account`.
    fn read_markers(&self, account: NameKey) -> StoreFuture<Vec<ReadMarker>>;
    /// `account` ignores `user` (`ignore`), or no longer does; returns
    /// whether that changed anything.
    fn set_ignore(&self, account: NameKey, user: UserName, ignore: bool) -> StoreFuture<bool>;
    /// The users `account` ignores, as they were spelled.
    fn ignores(&self, account: NameKey) -> StoreFuture<Vec<UserName>>;

    /// Finishes every write already submitted, then refuses new ones.
    fn close(&self) -> StoreFuture<()>;
}
