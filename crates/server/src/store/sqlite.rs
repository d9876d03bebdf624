//! The embedded backend: one SQLite database file, `chinwag.db`, in the
//! data directory.
//!
//! - `writer`: the single writer thread with group commit.
//! - `readers`: read-only connections for queries.
//! - `migrations`: the versioned schema.
//!
//! WAL mode lets queries run while the writer commits. `synchronous` is
//! FULL or NORMAL according to [`Durability`].

mod migrations;
mod readers;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use chinwag_proto::server::{AuditEntry, MessageId, Timestamp};
use chinwag_proto::{NameKey, RoomRole, UserName};
use rusqlite::{Connection, Row, params};
use tokio::sync::oneshot;

pub use migrations::LATEST as SCHEMA_VERSION;
use readers::Readers;
use writer::{Done, Job, Op, mute_from_column};

use super::{
    Account, AuditRecord, BanRecord, BanTarget, Conversation, Durability, HistoryQuery,
    MemberRecord, MuteRecord, NewMessage, NewRoomMessage, Retention, RoomMeta, RoomRecord,
    RoomWrite, Store, StoreError, StoreFuture, StoredMessage,
};

/// The database file's name inside the data directory.
pub const DB_FILE: &str = "chinwag.db";

pub struct SqliteStore {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    readers: Arc<Readers>,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (creating if needed) the database in `dir`, applies the
    /// migrations and starts the writer thread.
    pub fn open(dir: &Path, durability: Durability) -> Result<SqliteStore, StoreError> {
        let data_dir_error = |error: std::io::Error| StoreError::DataDir {
            dir: dir.display().to_string(),
            error: error.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(data_dir_error)?;
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

        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("chinwag-store-writer".into())
            .spawn(move || writer::run(conn, rx))
            .map_err(data_dir_error)?;
        Ok(SqliteStore {
            jobs: Mutex::new(Some(tx)),
            readers: Arc::new(Readers::new(path.clone())),
            path,
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

    fn submit(&self, op: Op) -> StoreFuture<Done> {
        let (reply, rx) = oneshot::channel();
        let sent = match &*self.jobs.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(jobs) => jobs.send(Job { op, reply }).is_ok(),
            None => false,
        };
        Box::pin(async move {
            if !sent {
                return Err(StoreError::Closed);
            }
            rx.await.map_err(|_| StoreError::Closed)?
        })
    }
}

fn unit(done: StoreFuture<Done>) -> StoreFuture<()> {
    Box::pin(async move { done.await.map(drop) })
}

fn flag(done: StoreFuture<Done>) -> StoreFuture<bool> {
    Box::pin(async move {
        match done.await? {
            Done::Flag(flag) => Ok(flag),
            other => Err(StoreError::Failed(format!("writer answered {other:?}"))),
        }
    })
}

fn message(row: &Row<'_>) -> rusqlite::Result<StoredMessage> {
    Ok(StoredMessage {
        id: MessageId(row.get::<_, i64>(0)? as u64),
        ts: Timestamp(row.get::<_, i64>(1)? as u64),
        from: row.get(2)?,
        to: row.get(3)?,
        text: row.get(4)?,
    })
}

const MESSAGE_COLUMNS: &str = "id, ts, sender, recipient, text";

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
        self.readers.run(move |conn| {
            let conv = query.conversation.key();
            // Direct keys are `lo hi` and names hold no space, so a
            // reader's conversations are `*`, the keys that start or end
            // with its name and a space, and `#room` for its rooms.
            let filter = match query.conversation {
                Conversation::Reader(_) => {
                    "(conv = '*' OR substr(conv, 1, length(?1) + 1) = ?1 || ' '
                      OR substr(conv, -length(?1) - 1) = ' ' || ?1
                      OR conv IN (SELECT '#' || room_key FROM room_members
                                  WHERE name_key = ?1))"
                }
                Conversation::Broadcast | Conversation::Direct(..) | Conversation::Room(_) => {
                    "conv = ?1"
                }
            };
            let limit = i64::from(query.limit);
            let after = query.after.map_or(0, |id| id.0 as i64);
            let rows = if let (None, Some(_)) = (query.before, query.after) {
                // The page right after `after`, turned newest first.
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT * FROM (SELECT {MESSAGE_COLUMNS} FROM messages
                     WHERE {filter} AND id > ?2 ORDER BY id ASC LIMIT ?3)
                     ORDER BY id DESC"
                ))?;
                stmt.query_map(params![conv, after, limit], message)?
                    .collect::<rusqlite::Result<Vec<_>>>()?
            } else {
                let before = query.before.map_or(i64::MAX, |id| id.0 as i64);
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages
                     WHERE {filter} AND id < ?2 AND id > ?3 ORDER BY id DESC LIMIT ?4"
                ))?;
                stmt.query_map(params![conv, before, after, limit], message)?
                    .collect::<rusqlite::Result<Vec<_>>>()?
            };
            Ok(rows)
        })
    }

    fn pending(
        &self,
        user: NameKey,
        after: MessageId,
        limit: u32,
    ) -> StoreFuture<Vec<StoredMessage>> {
        self.readers.run(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT m.id, m.ts, m.sender, m.recipient, m.text
                 FROM inbox i JOIN messages m ON m.id = i.message_id
                 WHERE i.user_key = ?1 AND i.message_id > ?2
                 ORDER BY i.message_id ASC LIMIT ?3",
            )?;
            stmt.query_map(
                params![user.as_str(), after.0 as i64, i64::from(limit)],
                message,
            )?
            .collect()
        })
    }

    fn delivered(&self, user: NameKey, up_to: MessageId) -> StoreFuture<()> {
        unit(self.submit(Op::Delivered(user, up_to)))
    }

    fn account(&self, name: NameKey) -> StoreFuture<Option<Account>> {
        self.readers.run(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT name, password_hash, admin, created_at FROM accounts WHERE name_key = ?1",
            )?;
            let mut rows = stmt.query_map(params![name.as_str()], |row| {
                Ok(Account {
                    name: row.get(0)?,
                    password_hash: row.get(1)?,
                    admin: row.get(2)?,
                    created_at: Timestamp(row.get::<_, i64>(3)? as u64),
                })
            })?;
            rows.next().transpose()
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

    fn admins(&self) -> StoreFuture<Vec<String>> {
        self.readers.run(|conn| {
            let mut stmt =
                conn.prepare_cached("SELECT name FROM accounts WHERE admin ORDER BY name_key")?;
            stmt.query_map([], |row| row.get(0))?.collect()
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
            let mut stmt = conn.prepare_cached("SELECT name_key, until, by, reason FROM mutes")?;
            let rows = stmt.query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    mute_from_column(row.get(1)?),
                    row.get(2)?,
                    row.get(3)?,
                ))
            })?;
            let mut mutes = Vec::new();
            for row in rows {
                let (key, until, by, reason) = row?;
                // A row that is not a valid name was not written by us:
                // skip it rather than refuse to start.
                if let Some(name) = NameKey::fold(&key) {
                    mutes.push(MuteRecord {
                        name,
                        until,
                        by,
                        reason,
                    });
                }
            }
            Ok(mutes)
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
            let mut stmt = conn.prepare_cached("SELECT target, until, by, reason, at FROM bans")?;
            let rows = stmt.query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    mute_from_column(row.get(1)?),
                    row.get(2)?,
                    row.get(3)?,
                    Timestamp(row.get::<_, i64>(4)? as u64),
                ))
            })?;
            let mut bans = Vec::new();
            for row in rows {
                let (target, until, by, reason, at) = row?;
                if let Some(target) = BanTarget::parse(&target) {
                    bans.push(BanRecord {
                        target,
                        until,
                        by,
                        reason,
                        at,
                    });
                }
            }
            Ok(bans)
        })
    }

    fn record(&self, audit: AuditRecord) -> StoreFuture<()> {
        unit(self.submit(Op::Record(audit)))
    }

    fn audit_log(&self, before: Option<u64>, limit: u32) -> StoreFuture<Vec<AuditEntry>> {
        self.readers.run(move |conn| {
            let before = before.map_or(i64::MAX, |id| id as i64);
            let mut stmt = conn.prepare_cached(
                "SELECT id, ts, actor, action, target, until, reason FROM audit
                 WHERE id < ?1 ORDER BY id DESC LIMIT ?2",
            )?;
            stmt.query_map(params![before, i64::from(limit)], |row| {
                Ok(AuditEntry {
                    id: row.get::<_, i64>(0)? as u64,
                    ts: Timestamp(row.get::<_, i64>(1)? as u64),
                    actor: row.get::<_, String>(2)?.into(),
                    action: row.get::<_, String>(3)?.into(),
                    target: row.get::<_, String>(4)?.into(),
                    until: row.get::<_, i64>(5)? as u64,
                    reason: row.get::<_, String>(6)?.into(),
                })
            })?
            .collect()
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
            let mut rooms: Vec<(String, RoomRecord)> = Vec::new();
            let mut stmt =
                conn.prepare_cached("SELECT room_key, name, topic, mode, password FROM rooms")?;
            for row in stmt.query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    RoomMeta {
                        name: row.get(1)?,
                        topic: row.get(2)?,
                        mode: row.get(3)?,
                        password: row.get(4)?,
                    },
                ))
            })? {
                let (key, meta) = row?;
                let mut members = Vec::new();
                let mut stmt = conn.prepare_cached(
                    "SELECT name, role, since FROM room_members WHERE room_key = ?1 ORDER BY since",
                )?;
                for m in stmt.query_map(params![key], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, u8>(1)?,
                        row.get::<_, i64>(2)?,
                    ))
                })? {
                    let (name, role, since) = m?;
                    // A row we did not write (a bad role) is skipped.
                    if let Some(role) = RoomRole::from_u8(role).filter(|r| *r != RoomRole::None) {
                        members.push(MemberRecord {
                            name,
                            role,
                            since: since as u64,
                        });
                    }
                }
                let mut mutes = Vec::new();
                let mut stmt = conn
                    .prepare_cached("SELECT name_key, until FROM room_mutes WHERE room_key = ?1")?;
                for m in stmt.query_map(params![key], |row| {
                    Ok((row.get::<_, String>(0)?, mute_from_column(row.get(1)?)))
                })? {
                    let (name, until) = m?;
                    if let Some(name) = NameKey::fold(&name) {
                        mutes.push((name, until));
                    }
                }
                rooms.push((
                    key,
                    RoomRecord {
                        meta,
                        members,
                        mutes,
                    },
                ));
            }
            Ok(rooms.into_iter().map(|(_, r)| r).collect())
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
        Box::pin(async move {
            match done.await {
                Ok(_) | Err(StoreError::Closed) => Ok(()),
                Err(error) => Err(error),
            }
        })
    }
}
