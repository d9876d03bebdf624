//! The embedded backend: one SQLite database file, `chinwag.db`, in the
//! data directory.
//!
//! - `log`: the message log, where a message is durable before it is
//!   acknowledged, and what it holds after a crash.
//! - `appender`: the log thread, which every write enters in order.
//! - `writer`: the single writer thread with group commit.
//! - `append`: message rows, many to an INSERT.
//! - `readers`: read-only connections for queries.
//! - `migrations`: the versioned schema.
//! - `lock`: the data directory's lock, one process at a time.
//!
//! WAL mode lets queries run while the writer commits. `synchronous` is
//! FULL or NORMAL according to [`Durability`], and the message log is
//! synced on every group or not accordingly. A query that reads messages
//! first waits until every acknowledged one is in SQLite (`fenced`).

mod append;
mod appender;
mod lock;
mod log;
mod migrations;
mod readers;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use chinwag_proto::server::{MessageId, Timestamp};
use chinwag_proto::{NameKey, UserName};
use rusqlite::{Connection, Row, params};
use tokio::sync::oneshot;

use appender::Progress;
use lock::DataDirLock;
pub use lock::LOCK_FILE;
pub use log::LOG_DIR;
pub use migrations::LATEST as SCHEMA_VERSION;
use readers::Readers;
use writer::{Done, Job, Op};

use super::ConversationKey;
use super::query::{HistoryPlan, message_sql, pending_sql};
use super::rows::{
    self, ACCOUNT_COLUMNS, AUDIT_COLUMNS, BAN_COLUMNS, Columns, MEMBER_COLUMNS, MUTE_COLUMNS,
    READ_MARKER_COLUMNS, ROOM_COLUMNS, ROOM_MASK_COLUMNS, ROOM_MUTE_COLUMNS,
};
use super::{
    Account, AuditLogEntry, AuditRecord, BanRecord, BanTarget, Durability, HistoryQuery,
    MuteRecord, NewMessage, NewRoomMessage, ReadMarker, Retention, RoomRecord, RoomWrite, Store,
    StoreError, StoreFuture, StoredMessage,
};

/// The database file's name inside the data directory.
pub const DB_FILE: &str = "chinwag.db";

pub struct SqliteStore {
    /// To the log thread, which every write enters.
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    progress: Arc<Progress>,
    readers: Arc<Readers>,
    path: PathBuf,
    /// Held from open until closed (or dropped).
    lock: Mutex<Option<DataDirLock>>,
}

impl SqliteStore {
    /// Locks `dir` (see `lock`), opens (creating if needed) the database
    /// in it, applies the migrations and starts the writer thread.
    pub fn open(dir: &Path, durability: Durability) -> Result<SqliteStore, StoreError> {
        let data_dir_error = |error: std::io::Error| StoreError::DataDir {
            dir: dir.display().to_string(),
            error: error.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(data_dir_error)?;
        let lock = DataDirLock::acquire(dir)?;
        let path = dir.join(DB_FILE);
        let mut conn = Connection::open(&path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Failed(format!(
                "cannot switch {} to WAL mode (got {mode})",
                path.display()
            )));
        }
        let sync = match durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        };
        conn.pragma_update(None, "synchronous", sync)?;
        conn.pragma_update(None, "foreign_keys", true)?;
        migrations::apply(&mut conn)?;
        // Room for every statement the writer runs, the multi-row INSERTs
        // among them, so none is compiled twice.
        conn.set_prepared_statement_cache_capacity(64);

        let log_dir = dir.join(LOG_DIR);
        let next_id = recover(&mut conn, &log_dir)?;
        let log = log::Log::open(&log_dir, next_id, durability == Durability::Full)
            .map_err(data_dir_error)?;
        let progress = Arc::new(Progress::new(next_id - 1));

        let (to_writer, writes) = mpsc::channel();
        let writer_progress = Arc::clone(&progress);
        std::thread::Builder::new()
            .name("chinwag-store-writer".into())
            .spawn(move || writer::run(conn, writes, writer_progress))
            .map_err(data_dir_error)?;
        let (tx, rx) = mpsc::channel();
        let log_progress = Arc::clone(&progress);
        std::thread::Builder::new()
            .name("chinwag-store-log".into())
            .spawn(move || appender::run(log, next_id, rx, to_writer, log_progress))
            .map_err(data_dir_error)?;
        Ok(SqliteStore {
            jobs: Mutex::new(Some(tx)),
            progress,
            readers: Arc::new(Readers::new(path.clone())),
            path,
            lock: Mutex::new(Some(lock)),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Caps the database at `pages` pages, so that writes fail as on a full
    /// disk. For tests.
    #[doc(hidden)]
    pub fn limit_pages(&self, pages: u64) -> StoreFuture<()> {
        unit(self.submit(Op::LimitPages(pages)))
    }

    /// Hands a write to the writer; resolves with its answer. Not boxed:
    /// each caller boxes the future once, with its answer's mapping inside
    /// (every message append goes through here).
    fn submit(&self, op: Op) -> impl Future<Output = Result<Done, StoreError>> + Send + 'static {
        let (reply, rx) = oneshot::channel();
        let sent = match &*self.jobs.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(jobs) => jobs.send(Job { op, reply }).is_ok(),
            None => false,
        };
        async move {
            if !sent {
                return Err(StoreError::Closed);
            }
            rx.await.map_err(|_| StoreError::Closed)?
        }
    }
}

impl SqliteStore {
    /// Runs a query that reads messages once every acknowledged message
    /// is in SQLite (they are durable in the log first, and committed to
    /// SQLite a moment later).
    fn fenced<T, F>(&self, query: F) -> StoreFuture<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        if !self.progress.behind() {
            return self.readers.run(query);
        }
        let flushed = self.submit(Op::Flush);
        let readers = Arc::clone(&self.readers);
        Box::pin(async move {
            flushed.await?;
            readers.run(query).await
        })
    }
}

/// Puts into SQLite what the message log at `dir` holds and SQLite does
/// not (the server stopped between the two); returns the id the next
/// message gets.
fn recover(conn: &mut Connection, dir: &Path) -> Result<i64, StoreError> {
    let entries = log::recover(dir).map_err(|error| StoreError::DataDir {
        dir: dir.display().to_string(),
        error: error.to_string(),
    })?;
    let tx = conn.transaction()?;
    let next = append::next_id(&tx)?;
    let missing: Vec<log::Entry> = entries.into_iter().filter(|e| e.id >= next).collect();
    let Some(last) = missing.last().map(|entry| entry.id) else {
        return Ok(next);
    };
    writer::index(&tx, &missing)?;
    tx.commit()?;
    tracing::info!(
        messages = missing.len(),
        "messages recovered from the message log"
    );
    Ok(last + 1)
}

fn unit(done: impl Future<Output = Result<Done, StoreError>> + Send + 'static) -> StoreFuture<()> {
    Box::pin(async move { done.await.map(drop) })
}

fn flag(
    done: impl Future<Output = Result<Done, StoreError>> + Send + 'static,
) -> StoreFuture<bool> {
    Box::pin(async move {
        match done.await? {
            Done::Flag(flag) => Ok(flag),
            other => Err(StoreError::Failed(format!("writer answered {other:?}"))),
        }
    })
}

/// SQLite's spelling of the `n`th parameter.
fn placeholder(n: usize) -> String {
    format!("?{n}")
}

impl Columns for Row<'_> {
    fn int(&self, index: usize) -> Result<i64, StoreError> {
        Ok(self.get(index)?)
    }

    fn text(&self, index: usize) -> Result<String, StoreError> {
        Ok(self.get(index)?)
    }

    fn optional_text(&self, index: usize) -> Result<Option<String>, StoreError> {
        Ok(self.get(index)?)
    }

    fn flag(&self, index: usize) -> Result<bool, StoreError> {
        Ok(self.get(index)?)
    }
}

/// Runs a prepared query and maps every row with `record`.
fn query_rows<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    record: fn(&dyn Columns) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let mut records = Vec::new();
    while let Some(row) = rows.next()? {
        records.push(record(row)?);
    }
    Ok(records)
}

impl Store for SqliteStore {
    fn append(&self, message: NewMessage) -> StoreFuture<MessageId> {
        let done = self.submit(Op::Append(message));
        Box::pin(async move {
            match done.await? {
                Done::Id(id) => Ok(id),
                other => Err(StoreError::Failed(format!("writer answered {other:?}"))),
            }
        })
    }

    fn enqueue(&self, user: NameKey, id: MessageId) -> StoreFuture<()> {
        unit(self.submit(Op::Enqueue(user, id)))
    }

    fn history(&self, query: HistoryQuery) -> StoreFuture<Vec<StoredMessage>> {
        self.fenced(move |conn| {
            let plan = HistoryPlan::new(&query, placeholder);
            query_rows(
                conn,
                &plan.sql,
                params![
                    plan.scope,
                    plan.after,
                    plan.before,
                    plan.limit,
                    plan.direct_since
                ],
                rows::message,
            )
        })
    }

    fn pending(
        &self,
        user: NameKey,
        after: MessageId,
        limit: u32,
    ) -> StoreFuture<Vec<StoredMessage>> {
        self.fenced(move |conn| {
            query_rows(
                conn,
                &pending_sql(placeholder),
                params![user.as_str(), after.0 as i64, i64::from(limit)],
                rows::message,
            )
        })
    }

    fn message(&self, id: MessageId) -> StoreFuture<Option<StoredMessage>> {
        self.fenced(move |conn| {
            let found = query_rows(
                conn,
                &message_sql(placeholder),
                params![id.0 as i64],
                rows::message,
            )?;
            Ok(found.into_iter().next())
        })
    }

    fn redact(&self, id: MessageId) -> StoreFuture<bool> {
        flag(self.submit(Op::Redact(id)))
    }

    fn delivered(&self, user: NameKey, up_to: MessageId) -> StoreFuture<()> {
        unit(self.submit(Op::Delivered(user, up_to)))
    }

    fn account(&self, name: NameKey) -> StoreFuture<Option<Account>> {
        self.readers.run(move |conn| {
            let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE name_key = ?1");
            let accounts = query_rows(conn, &sql, params![name.as_str()], rows::account)?;
            Ok(accounts.into_iter().next())
        })
    }

    fn account_like(&self, name: NameKey) -> StoreFuture<Option<Account>> {
        self.readers.run(move |conn| {
            let sql = format!(
                "SELECT {ACCOUNT_COLUMNS} FROM accounts
                 WHERE name_skeleton = ?1 AND name_key <> ?2 LIMIT 1"
            );
            let params = params![name.skeleton(), name.as_str()];
            let accounts = query_rows(conn, &sql, params, rows::account)?;
            Ok(accounts.into_iter().next())
        })
    }

    fn create_account(
        &self,
        name: UserName,
        password_hash: String,
        now: Timestamp,
    ) -> StoreFuture<bool> {
        flag(self.submit(Op::CreateAccount {
            name,
            password_hash,
            now,
        }))
    }

    fn set_password(&self, name: NameKey, password_hash: String) -> StoreFuture<bool> {
        flag(self.submit(Op::SetPassword(name, password_hash)))
    }

    fn set_admin(&self, name: NameKey, admin: bool, audit: AuditRecord) -> StoreFuture<bool> {
        flag(self.submit(Op::SetAdmin(name, admin, audit)))
    }

    fn account_names(&self) -> StoreFuture<Vec<String>> {
        self.readers.run(|conn| {
            let sql = "SELECT name FROM accounts ORDER BY name_key";
            query_rows(conn, sql, [], |row| row.text(0))
        })
    }

    fn sole_writer(&self) -> bool {
        true
    }

    fn admins(&self) -> StoreFuture<Vec<String>> {
        self.readers.run(|conn| {
            let sql = "SELECT name FROM accounts WHERE admin ORDER BY name_key";
            query_rows(conn, sql, [], |row| row.text(0))
        })
    }

    fn set_mute(&self, mute: MuteRecord, audit: AuditRecord) -> StoreFuture<()> {
        unit(self.submit(Op::SetMute(mute, audit)))
    }

    fn lift_mute(&self, name: NameKey, audit: AuditRecord) -> StoreFuture<bool> {
        flag(self.submit(Op::LiftMute(name, audit)))
    }

    fn mutes(&self) -> StoreFuture<Vec<MuteRecord>> {
        self.readers.run(|conn| {
            let sql = format!("SELECT {MUTE_COLUMNS} FROM mutes");
            let mutes = query_rows(conn, &sql, [], rows::mute)?;
            Ok(mutes.into_iter().flatten().collect())
        })
    }

    fn mark_read(
        &self,
        account: NameKey,
        conversation: ConversationKey,
        up_to: MessageId,
    ) -> StoreFuture<()> {
        unit(self.submit(Op::MarkRead(account, conversation, up_to)))
    }

    fn mark_read_at(
        &self,
        account: NameKey,
        conversation: ConversationKey,
        ts: Timestamp,
    ) -> StoreFuture<()> {
        unit(self.submit(Op::MarkReadAt(account, conversation, ts)))
    }

    fn set_metadata(
        &self,
        account: NameKey,
        key: String,
        value: Option<String>,
    ) -> StoreFuture<()> {
        unit(self.submit(Op::SetMetadata(account, key, value)))
    }

    fn metadata(&self, account: NameKey) -> StoreFuture<Vec<(String, String)>> {
        self.readers.run(move |conn| {
            let sql = "SELECT key, value FROM metadata WHERE account = ?1 ORDER BY key";
            query_rows(conn, sql, params![account.as_str()], rows::metadata)
        })
    }

    fn read_markers(&self, account: NameKey) -> StoreFuture<Vec<ReadMarker>> {
        self.readers.run(move |conn| {
            let sql = format!("SELECT {READ_MARKER_COLUMNS} FROM read_markers WHERE account = ?1");
            let markers = query_rows(conn, &sql, params![account.as_str()], rows::read_marker)?;
            Ok(markers.into_iter().flatten().collect())
        })
    }

    fn set_ignore(&self, account: NameKey, user: UserName, ignore: bool) -> StoreFuture<bool> {
        flag(self.submit(Op::SetIgnore(account, user, ignore)))
    }

    fn ignores(&self, account: NameKey) -> StoreFuture<Vec<UserName>> {
        self.readers.run(move |conn| {
            let sql = "SELECT name FROM ignores WHERE account = ?1 ORDER BY ignored";
            let names = query_rows(conn, sql, params![account.as_str()], rows::user_name)?;
            Ok(names.into_iter().flatten().collect())
        })
    }

    fn ban(&self, ban: BanRecord, audit: AuditRecord) -> StoreFuture<()> {
        unit(self.submit(Op::Ban(ban, audit)))
    }

    fn unban(&self, target: BanTarget, audit: AuditRecord) -> StoreFuture<bool> {
        flag(self.submit(Op::Unban(target, audit)))
    }

    fn bans(&self) -> StoreFuture<Vec<BanRecord>> {
        self.readers.run(|conn| {
            let sql = format!("SELECT {BAN_COLUMNS} FROM bans");
            let bans = query_rows(conn, &sql, [], rows::ban)?;
            Ok(bans.into_iter().flatten().collect())
        })
    }

    fn record(&self, audit: AuditRecord) -> StoreFuture<()> {
        unit(self.submit(Op::Record(audit)))
    }

    fn audit_log(&self, before: Option<u64>, limit: u32) -> StoreFuture<Vec<AuditLogEntry>> {
        self.readers.run(move |conn| {
            let before = before.map_or(i64::MAX, |id| id as i64);
            let sql = format!(
                "SELECT {AUDIT_COLUMNS} FROM audit WHERE id < ?1 ORDER BY id DESC LIMIT ?2"
            );
            query_rows(
                conn,
                &sql,
                params![before, i64::from(limit)],
                rows::audit_entry,
            )
        })
    }

    fn append_room(&self, message: NewRoomMessage) -> StoreFuture<MessageId> {
        let done = self.submit(Op::AppendRoom(message));
        Box::pin(async move {
            match done.await? {
                Done::Id(id) => Ok(id),
                other => Err(StoreError::Failed(format!("writer answered {other:?}"))),
            }
        })
    }

    fn write_room(&self, write: RoomWrite) -> StoreFuture<()> {
        unit(self.submit(Op::Room(write)))
    }

    fn rooms(&self) -> StoreFuture<Vec<RoomRecord>> {
        self.readers.run(|conn| {
            let rooms = query_rows(
                conn,
                &format!("SELECT {ROOM_COLUMNS} FROM rooms"),
                [],
                rows::room,
            )?;
            let members = format!(
                "SELECT {MEMBER_COLUMNS} FROM room_members WHERE room_key = ?1 ORDER BY since"
            );
            let mutes = format!("SELECT {ROOM_MUTE_COLUMNS} FROM room_mutes WHERE room_key = ?1");
            let masks = format!(
                "SELECT {ROOM_MASK_COLUMNS} FROM room_masks WHERE room_key = ?1 ORDER BY set_at"
            );
            let mut records = Vec::with_capacity(rooms.len());
            for (key, meta) in rooms {
                let mut record = RoomRecord {
                    meta,
                    members: Vec::new(),
                    mutes: Vec::new(),
                    masks: Vec::new(),
                };
                let found = query_rows(conn, &masks, params![key], rows::room_mask)?;
                record.masks.extend(found.into_iter().flatten());
                let found = query_rows(conn, &members, params![key], rows::member)?;
                record.members.extend(found.into_iter().flatten());
                let found = query_rows(conn, &mutes, params![key], rows::room_mute)?;
                record.mutes.extend(found.into_iter().flatten());
                records.push(record);
            }
            Ok(records)
        })
    }

    fn prune(&self, retention: Retention, now: Timestamp) -> StoreFuture<u64> {
        let done = self.submit(Op::Prune(retention, now));
        Box::pin(async move {
            match done.await? {
                Done::Count(n) => Ok(n),
                other => Err(StoreError::Failed(format!("writer answered {other:?}"))),
            }
        })
    }

    fn close(&self) -> StoreFuture<()> {
        let done = self.submit(Op::Close);
        // Refuse anything submitted from now on.
        self.jobs.lock().unwrap_or_else(|p| p.into_inner()).take();
        let lock = self.lock.lock().unwrap_or_else(|p| p.into_inner()).take();
        Box::pin(async move {
            let closed = done.await;
            // The writer is done with the database: another process may open it.
            drop(lock);
            match closed {
                Ok(_) | Err(StoreError::Closed) => Ok(()),
                Err(error) => Err(error),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn direct(from: &str, to: &str, text: &str, queue: bool) -> NewMessage {
        let to = UserName::parse(to).unwrap();
        NewMessage {
            ts: Timestamp(1_700_000_000_000),
            from: UserName::parse(from).unwrap(),
            queue_for: queue.then(|| to.key()),
            to: Some(to),
            text: text.into(),
            notice: false,
        }
    }

    /// The process stopped after logging two messages and before SQLite
    /// took them: on open they are in SQLite, the queued one in the
    /// offline queue too, and ids go on after them.
    #[tokio::test]
    async fn messages_only_in_the_log_are_there_after_open() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path(), Durability::Full).unwrap();
        let first = store
            .append(direct("alice", "bob", "one", false))
            .await
            .unwrap()
            .0 as i64;
        store.close().await.unwrap();
        drop(store);

        let mut log = log::Log::open(&dir.path().join(LOG_DIR), first + 1, true).unwrap();
        let mut records = Vec::new();
        for (i, (text, queue)) in [("two", false), ("three", true)].into_iter().enumerate() {
            let mut entry = log::Entry::direct(direct("alice", "bob", text, queue));
            entry.id = first + 1 + i as i64;
            entry.encode(&mut records);
        }
        log.append(first + 1, &records).unwrap();
        drop(log);

        let store = SqliteStore::open(dir.path(), Durability::Full).unwrap();
        let two = store.message(MessageId(first as u64 + 1)).await.unwrap();
        assert_eq!(two.map(|m| m.text).as_deref(), Some("two"));
        let bob = UserName::parse("bob").unwrap().key();
        let queued = store.pending(bob, MessageId(0), 10).await.unwrap();
        let texts: Vec<&str> = queued.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(texts, ["three"]);
        let next = store
            .append(direct("alice", "bob", "four", false))
            .await
            .unwrap();
        assert_eq!(next.0 as i64, first + 3);
        // And a query sees an append at once, though SQLite takes it a
        // moment later.
        let four = store.message(next).await.unwrap();
        assert_eq!(four.map(|m| m.text).as_deref(), Some("four"));
    }
}
