//! The shared backend for a cluster: a PostgreSQL database, reached
//! through a small connection pool.
//!
//! Same tables and the same promise as the SQLite backend: a write's future
//! resolves `Ok` only once PostgreSQL has committed it. Several nodes use
//! one database at once; every write is one statement or one transaction,
//! so they need no coordination of their own. When the database cannot be
//! reached, calls fail within [`TIMEOUT`] with [`StoreError::Failed`] and
//! nothing is acknowledged.

mod migrations;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chinwag_proto::server::{AuditEntry, MessageId, MuteState, Timestamp};
use chinwag_proto::{NameKey, RoomKey, RoomRole, UserName};
use deadpool_postgres::{Pool, PoolConfig, Runtime, Timeouts};
use tokio_postgres::NoTls;
use tokio_postgres::types::ToSql;

pub use migrations::LATEST as SCHEMA_VERSION;

use super::{
    Account, AuditRecord, BanRecord, BanTarget, Conversation, HistoryQuery, MemberRecord,
    MuteRecord, NewMessage, NewRoomMessage, Retention, RoomMeta, RoomRecord, RoomWrite, Store,
    StoreError, StoreFuture, StoredMessage,
};

/// How long a call waits for a connection (or to open one) before it
/// fails.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// Most connections one node keeps open.
const POOL_SIZE: usize = 16;

pub struct PostgresStore {
    pool: Pool,
    closed: Arc<AtomicBool>,
}

fn failed(error: impl std::fmt::Display) -> StoreError {
    StoreError::Failed(format!("PostgreSQL: {error}"))
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user@host/db`) and
    /// brings its schema up to date.
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        let mut config = deadpool_postgres::Config::new();
        config.url = Some(url.to_owned());
        config.connect_timeout = Some(TIMEOUT);
        config.pool = Some(PoolConfig {
            max_size: POOL_SIZE,
            timeouts: Timeouts {
                wait: Some(TIMEOUT),
                create: Some(TIMEOUT),
                recycle: Some(TIMEOUT),
            },
            ..PoolConfig::default()
        });
        let pool = config
            .create_pool(Some(Runtime::Tokio1), NoTls)
            .map_err(|e| StoreError::Failed(format!("invalid database URL: {e}")))?;
        let store = PostgresStore {
            pool,
            closed: Arc::new(AtomicBool::new(false)),
        };
        let mut client = store.pool.get().await.map_err(|e| {
            StoreError::Failed(format!("cannot reach PostgreSQL at {}: {e}", redact(url)))
        })?;
        migrations::apply(&mut client).await?;
        Ok(store)
    }

    /// A pooled connection, or why there is none.
    fn client(
        &self,
    ) -> impl std::future::Future<Output = Result<deadpool_postgres::Object, StoreError>> + Send + 'static
    {
        let pool = self.pool.clone();
        let closed = self.closed.load(Ordering::Acquire);
        async move {
            if closed {
                return Err(StoreError::Closed);
            }
            pool.get()
                .await
                .map_err(|e| StoreError::Failed(format!("cannot reach PostgreSQL: {e}")))
        }
    }

    /// Runs one statement that changes rows; returns how many.
    fn execute(
        &self,
        sql: &'static str,
        params: Vec<Box<dyn ToSql + Send + Sync>>,
    ) -> StoreFuture<u64> {
        let client = self.client();
        Box::pin(async move {
            let client = client.await?;
            let params: Vec<&(dyn ToSql + Sync)> = params
                .iter()
                .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                .collect();
            let stmt = client.prepare_cached(sql).await.map_err(failed)?;
            client.execute(&stmt, &params).await.map_err(failed)
        })
    }

    /// Runs one query.
    fn query<T: Send + 'static>(
        &self,
        sql: String,
        params: Vec<Box<dyn ToSql + Send + Sync>>,
        row: fn(&tokio_postgres::Row) -> Result<T, tokio_postgres::Error>,
    ) -> StoreFuture<Vec<T>> {
        let client = self.client();
        Box::pin(async move {
            let client = client.await?;
            let params: Vec<&(dyn ToSql + Sync)> = params
                .iter()
                .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                .collect();
            let stmt = client.prepare_cached(&sql).await.map_err(failed)?;
            let rows = client.query(&stmt, &params).await.map_err(failed)?;
            rows.iter()
                .map(row)
                .collect::<Result<Vec<T>, _>>()
                .map_err(failed)
        })
    }

    /// Runs a write and its audit record in one transaction; the record is
    /// written only when `audit_if` says so of the write's row count.
    fn audited(
        &self,
        sql: &'static str,
        params: Vec<Box<dyn ToSql + Send + Sync>>,
        audit: AuditRecord,
        audit_if: fn(u64) -> bool,
    ) -> StoreFuture<u64> {
        let client = self.client();
        Box::pin(async move {
            let mut client = client.await?;
            let tx = client.transaction().await.map_err(failed)?;
            let params: Vec<&(dyn ToSql + Sync)> = params
                .iter()
                .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                .collect();
            let changed = tx.execute(sql, &params).await.map_err(failed)?;
            if audit_if(changed) {
                record(&tx, &audit).await?;
            }
            tx.commit().await.map_err(failed)?;
            Ok(changed)
        })
    }
}

/// The URL without its password, for error messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}@{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

async fn record(
    tx: &deadpool_postgres::Transaction<'_>,
    audit: &AuditRecord,
) -> Result<(), StoreError> {
    tx.execute(
        r#"INSERT INTO audit (ts, actor, action, target, "until", reason)
           VALUES ($1, $2, $3, $4, $5, $6)"#,
        &[
            &(audit.ts.0 as i64),
            &audit.actor,
            &audit.action.as_str(),
            &audit.target,
            &(audit.until as i64),
            &audit.reason,
        ],
    )
    .await
    .map_err(failed)?;
    Ok(())
}

fn boxed<T: ToSql + Send + Sync + 'static>(value: T) -> Box<dyn ToSql + Send + Sync> {
    Box::new(value)
}

fn message(row: &tokio_postgres::Row) -> Result<StoredMessage, tokio_postgres::Error> {
    Ok(StoredMessage {
        id: MessageId(row.try_get::<_, i64>(0)? as u64),
        ts: Timestamp(row.try_get::<_, i64>(1)? as u64),
        from: row.try_get(2)?,
        to: row.try_get(3)?,
        text: row.try_get(4)?,
    })
}

/// Mute states are stored as their wire `u64` in a BIGINT: "until lifted"
/// (`u64::MAX`) reads back as -1, as in SQLite.
fn mute_state(value: i64) -> MuteState {
    MuteState::from_wire(value as u64)
}

const MESSAGE_COLUMNS: &str = "id, ts, sender, recipient, text";

impl Store for PostgresStore {
    fn append(&self, m: NewMessage) -> StoreFuture<MessageId> {
        let client = self.client();
        Box::pin(async move {
            let mut client = client.await?;
            let conversation = match &m.to {
                Some(to) => Conversation::Direct(m.from.key(), to.key()),
                None => Conversation::Broadcast,
            };
            let tx = client.transaction().await.map_err(failed)?;
            let row = tx
                .query_one(
                    "INSERT INTO messages (ts, conv, sender, recipient, text)
                     VALUES ($1, $2, $3, $4, $5) RETURNING id",
                    &[
                        &(m.ts.0 as i64),
                        &conversation.key(),
                        &m.from.as_str(),
                        &m.to.as_ref().map_or("", |to| to.as_str()),
                        &m.text,
                    ],
                )
                .await
                .map_err(failed)?;
            let id: i64 = row.get(0);
            if let Some(user) = &m.queue_for {
                tx.execute(
                    "INSERT INTO inbox (user_key, message_id) VALUES ($1, $2)
                     ON CONFLICT DO NOTHING",
                    &[&user.as_str(), &id],
                )
                .await
                .map_err(failed)?;
            }
            tx.commit().await.map_err(failed)?;
            Ok(MessageId(id as u64))
        })
    }

    fn enqueue(&self, user: NameKey, id: MessageId) -> StoreFuture<()> {
        let done = self.execute(
            "INSERT INTO inbox (user_key, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            vec![boxed(user.as_str().to_owned()), boxed(id.0 as i64)],
        );
        Box::pin(async move { done.await.map(drop) })
    }

    fn history(&self, query: HistoryQuery) -> StoreFuture<Vec<StoredMessage>> {
        let conv = query.conversation.key();
        // As in the SQLite store: a reader's conversations are `*`, the
        // direct keys (`lo hi`) with its name on either side, and its rooms.
        let filter = match query.conversation {
            Conversation::Reader(_) => {
                "(conv = '*' OR left(conv, length($1) + 1) = $1 || ' '
                  OR right(conv, length($1) + 1) = ' ' || $1
                  OR conv IN (SELECT '#' || room_key FROM room_members
                              WHERE name_key = $1))"
            }
            Conversation::Broadcast | Conversation::Direct(..) | Conversation::Room(_) => {
                "conv = $1"
            }
        };
        let limit = i64::from(query.limit);
        let after = query.after.map_or(0, |id| id.0 as i64);
        if let (None, Some(_)) = (query.before, query.after) {
            // The page right after `after`, turned newest first.
            return self.query(
                format!(
                    "SELECT * FROM (SELECT {MESSAGE_COLUMNS} FROM messages
                     WHERE {filter} AND id > $2 ORDER BY id ASC LIMIT $3) page
                     ORDER BY id DESC"
                ),
                vec![boxed(conv), boxed(after), boxed(limit)],
                message,
            );
        }
        let before = query.before.map_or(i64::MAX, |id| id.0 as i64);
        self.query(
            format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages
                 WHERE {filter} AND id < $2 AND id > $3 ORDER BY id DESC LIMIT $4"
            ),
            vec![boxed(conv), boxed(before), boxed(after), boxed(limit)],
            message,
        )
    }

    fn pending(
        &self,
        user: NameKey,
        after: MessageId,
        limit: u32,
    ) -> StoreFuture<Vec<StoredMessage>> {
        self.query(
            "SELECT m.id, m.ts, m.sender, m.recipient, m.text
             FROM inbox i JOIN messages m ON m.id = i.message_id
             WHERE i.user_key = $1 AND i.message_id > $2
             ORDER BY i.message_id ASC LIMIT $3"
                .to_owned(),
            vec![
                boxed(user.as_str().to_owned()),
                boxed(after.0 as i64),
                boxed(i64::from(limit)),
            ],
            message,
        )
    }

    fn delivered(&self, user: NameKey, up_to: MessageId) -> StoreFuture<()> {
        let done = self.execute(
            "DELETE FROM inbox WHERE user_key = $1 AND message_id <= $2",
            vec![boxed(user.as_str().to_owned()), boxed(up_to.0 as i64)],
        );
        Box::pin(async move { done.await.map(drop) })
    }

    fn account(&self, name: NameKey) -> StoreFuture<Option<Account>> {
        let rows = self.query(
            "SELECT name, password_hash, admin, created_at FROM accounts WHERE name_key = $1"
                .to_owned(),
            vec![boxed(name.as_str().to_owned())],
            |row| {
                Ok(Account {
                    name: row.try_get(0)?,
                    password_hash: row.try_get(1)?,
                    admin: row.try_get(2)?,
                    created_at: Timestamp(row.try_get::<_, i64>(3)? as u64),
                })
            },
        );
        Box::pin(async move { Ok(rows.await?.into_iter().next()) })
    }

    fn create_account(
        &self,
        name: UserName,
        password_hash: String,
        now: Timestamp,
    ) -> StoreFuture<bool> {
        let done = self.execute(
            "INSERT INTO accounts (name_key, name, password_hash, admin, created_at)
             VALUES ($1, $2, $3, FALSE, $4) ON CONFLICT DO NOTHING",
            vec![
                boxed(name.key().as_str().to_owned()),
                boxed(name.as_str().to_owned()),
                boxed(password_hash),
                boxed(now.0 as i64),
            ],
        );
        Box::pin(async move { Ok(done.await? == 1) })
    }

    fn set_password(&self, name: NameKey, password_hash: String) -> StoreFuture<bool> {
        let done = self.execute(
            "UPDATE accounts SET password_hash = $2 WHERE name_key = $1",
            vec![boxed(name.as_str().to_owned()), boxed(password_hash)],
        );
        Box::pin(async move { Ok(done.await? == 1) })
    }

    fn set_admin(&self, name: NameKey, admin: bool, audit: AuditRecord) -> StoreFuture<bool> {
        let done = self.audited(
            "UPDATE accounts SET admin = $2 WHERE name_key = $1",
            vec![boxed(name.as_str().to_owned()), boxed(admin)],
            audit,
            |changed| changed == 1,
        );
        Box::pin(async move { Ok(done.await? == 1) })
    }

    fn admins(&self) -> StoreFuture<Vec<String>> {
        self.query(
            "SELECT name FROM accounts WHERE admin ORDER BY name_key".to_owned(),
            Vec::new(),
            |row| row.try_get(0),
        )
    }

    fn set_mute(&self, mute: MuteRecord, audit: AuditRecord) -> StoreFuture<()> {
        let done = self.audited(
            r#"INSERT INTO mutes (name_key, "until", "by", reason) VALUES ($1, $2, $3, $4)
               ON CONFLICT (name_key) DO UPDATE
               SET "until" = EXCLUDED."until", "by" = EXCLUDED."by", reason = EXCLUDED.reason"#,
            vec![
                boxed(mute.name.as_str().to_owned()),
                boxed(mute.until.to_wire() as i64),
                boxed(mute.by),
                boxed(mute.reason),
            ],
            audit,
            |_| true,
        );
        Box::pin(async move { done.await.map(drop) })
    }

    fn lift_mute(&self, name: NameKey, audit: AuditRecord) -> StoreFuture<bool> {
        let done = self.audited(
            "DELETE FROM mutes WHERE name_key = $1",
            vec![boxed(name.as_str().to_owned())],
            audit,
            |_| true,
        );
        Box::pin(async move { Ok(done.await? == 1) })
    }

    fn mutes(&self) -> StoreFuture<Vec<MuteRecord>> {
        let rows = self.query(
            r#"SELECT name_key, "until", "by", reason FROM mutes"#.to_owned(),
            Vec::new(),
            |row| {
                Ok((
                    row.try_get::<_, String>(0)?,
                    mute_state(row.try_get(1)?),
                    row.try_get::<_, String>(2)?,
                    row.try_get::<_, String>(3)?,
                ))
            },
        );
        Box::pin(async move {
            // A row that is not a valid name was not written by us: skip
            // it rather than refuse to start.
            Ok(rows
                .await?
                .into_iter()
                .filter_map(|(key, until, by, reason)| {
                    Some(MuteRecord {
                        name: NameKey::fold(&key)?,
                        until,
                        by,
                        reason,
                    })
                })
                .collect())
        })
    }

    fn ban(&self, ban: BanRecord, audit: AuditRecord) -> StoreFuture<()> {
        let kind: i16 = match ban.target {
            BanTarget::Name(_) => 0,
            BanTarget::Addr(_) => 1,
        };
        let done = self.audited(
            r#"INSERT INTO bans (target, kind, "until", "by", reason, "at")
               VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT (target) DO UPDATE
               SET kind = EXCLUDED.kind, "until" = EXCLUDED."until", "by" = EXCLUDED."by",
                   reason = EXCLUDED.reason, "at" = EXCLUDED."at""#,
            vec![
                boxed(ban.target.to_string()),
                boxed(kind),
                boxed(ban.until.to_wire() as i64),
                boxed(ban.by),
                boxed(ban.reason),
                boxed(ban.at.0 as i64),
            ],
            audit,
            |_| true,
        );
        Box::pin(async move { done.await.map(drop) })
    }

    fn unban(&self, target: BanTarget, audit: AuditRecord) -> StoreFuture<bool> {
        let done = self.audited(
            "DELETE FROM bans WHERE target = $1",
            vec![boxed(target.to_string())],
            audit,
            |removed| removed == 1,
        );
        Box::pin(async move { Ok(done.await? == 1) })
    }

    fn bans(&self) -> StoreFuture<Vec<BanRecord>> {
        let rows = self.query(
            r#"SELECT target, "until", "by", reason, "at" FROM bans"#.to_owned(),
            Vec::new(),
            |row| {
                Ok((
                    row.try_get::<_, String>(0)?,
                    mute_state(row.try_get(1)?),
                    row.try_get::<_, String>(2)?,
                    row.try_get::<_, String>(3)?,
                    Timestamp(row.try_get::<_, i64>(4)? as u64),
                ))
            },
        );
        Box::pin(async move {
            Ok(rows
                .await?
                .into_iter()
                .filter_map(|(target, until, by, reason, at)| {
                    Some(BanRecord {
                        target: BanTarget::parse(&target)?,
                        until,
                        by,
                        reason,
                        at,
                    })
                })
                .collect())
        })
    }

    fn record(&self, audit: AuditRecord) -> StoreFuture<()> {
        let client = self.client();
        Box::pin(async move {
            let mut client = client.await?;
            let tx = client.transaction().await.map_err(failed)?;
            record(&tx, &audit).await?;
            tx.commit().await.map_err(failed)
        })
    }

    fn audit_log(&self, before: Option<u64>, limit: u32) -> StoreFuture<Vec<AuditEntry>> {
        let before = before.map_or(i64::MAX, |id| id as i64);
        self.query(
            r#"SELECT id, ts, actor, action, target, "until", reason FROM audit
               WHERE id < $1 ORDER BY id DESC LIMIT $2"#
                .to_owned(),
            vec![boxed(before), boxed(i64::from(limit))],
            |row| {
                Ok(AuditEntry {
                    id: row.try_get::<_, i64>(0)? as u64,
                    ts: Timestamp(row.try_get::<_, i64>(1)? as u64),
                    actor: row.try_get::<_, String>(2)?.into(),
                    action: row.try_get::<_, String>(3)?.into(),
                    target: row.try_get::<_, String>(4)?.into(),
                    until: row.try_get::<_, i64>(5)? as u64,
                    reason: row.try_get::<_, String>(6)?.into(),
                })
            },
        )
    }

    fn prune(&self, retention: Retention, now: Timestamp) -> StoreFuture<u64> {
        let client = self.client();
        Box::pin(async move {
            let mut client = client.await?;
            let tx = client.transaction().await.map_err(failed)?;
            let mut deleted = 0;
            // Never delete what an offline user is still waiting for.
            if let Some(age) = retention.max_age {
                let cutoff = now.0.saturating_sub(age.as_millis() as u64) as i64;
                deleted += tx
                    .execute(
                        "DELETE FROM messages WHERE ts < $1
                         AND id NOT IN (SELECT message_id FROM inbox)",
                        &[&cutoff],
                    )
                    .await
                    .map_err(failed)?;
            }
            if let Some(count) = retention.max_count {
                deleted += tx
                    .execute(
                        "DELETE FROM messages
                         WHERE id <= (SELECT id FROM messages ORDER BY id DESC LIMIT 1 OFFSET $1)
                         AND id NOT IN (SELECT message_id FROM inbox)",
                        &[&(count as i64)],
                    )
                    .await
                    .map_err(failed)?;
            }
            // Ended mutes and bans: a timed one ends at `until`; -1 is
            // "for good".
            let now = now.0 as i64;
            tx.execute(
                r#"DELETE FROM mutes WHERE "until" > 0 AND "until" <= $1"#,
                &[&now],
            )
            .await
            .map_err(failed)?;
            tx.execute(
                r#"DELETE FROM bans WHERE "until" > 0 AND "until" <= $1"#,
                &[&now],
            )
            .await
            .map_err(failed)?;
            tx.commit().await.map_err(failed)?;
            Ok(deleted)
        })
    }

    fn append_room(&self, m: NewRoomMessage) -> StoreFuture<MessageId> {
        let client = self.client();
        Box::pin(async move {
            let client = client.await?;
            let row = client
                .query_one(
                    "INSERT INTO messages (ts, conv, sender, recipient, text)
                     VALUES ($1, $2, $3, $4, $5) RETURNING id",
                    &[
                        &(m.ts.0 as i64),
                        &Conversation::Room(m.room.key()).key(),
                        &m.from.as_str(),
                        &m.room.as_str(),
                        &m.text,
                    ],
                )
                .await
                .map_err(failed)?;
            Ok(MessageId(row.get::<_, i64>(0) as u64))
        })
    }

    fn write_room(&self, write: RoomWrite) -> StoreFuture<()> {
        let client = self.client();
        Box::pin(async move {
            let mut client = client.await?;
            let tx = client.transaction().await.map_err(failed)?;
            room_write(&tx, &write).await.map_err(failed)?;
            tx.commit().await.map_err(failed)
        })
    }

    fn rooms(&self) -> StoreFuture<Vec<RoomRecord>> {
        let client = self.client();
        Box::pin(async move {
            let client = client.await?;
            let rows = client
                .query(
                    "SELECT room_key, name, topic, mode, password FROM rooms",
                    &[],
                )
                .await
                .map_err(failed)?;
            let mut rooms = Vec::with_capacity(rows.len());
            for row in rows {
                let key: String = row.get(0);
                let meta = RoomMeta {
                    name: row.get(1),
                    topic: row.get(2),
                    mode: row.get::<_, i16>(3) as u8,
                    password: row.get(4),
                };
                let members = client
                    .query(
                        "SELECT name, role, since FROM room_members WHERE room_key = $1
                         ORDER BY since",
                        &[&key],
                    )
                    .await
                    .map_err(failed)?
                    .iter()
                    .filter_map(|m| {
                        // A row we did not write (a bad role) is skipped.
                        let role = RoomRole::from_u8(m.get::<_, i16>(1) as u8)
                            .filter(|r| *r != RoomRole::None)?;
                        Some(MemberRecord {
                            name: m.get(0),
                            role,
                            since: m.get::<_, i64>(2) as u64,
                        })
                    })
                    .collect();
                let mutes = client
                    .query(
                        r#"SELECT name_key, "until" FROM room_mutes WHERE room_key = $1"#,
                        &[&key],
                    )
                    .await
                    .map_err(failed)?
                    .iter()
                    .filter_map(|m| Some((NameKey::fold(m.get(0))?, mute_state(m.get(1)))))
                    .collect();
                rooms.push(RoomRecord {
                    meta,
                    members,
                    mutes,
                });
            }
            Ok(rooms)
        })
    }

    fn close(&self) -> StoreFuture<()> {
        self.closed.store(true, Ordering::Release);
        // Calls already holding a connection finish; waiting ones fail.
        self.pool.close();
        Box::pin(async { Ok(()) })
    }
}

/// One change to a stored room, as the SQLite backend writes it.
async fn room_write(
    tx: &deadpool_postgres::Transaction<'_>,
    write: &RoomWrite,
) -> Result<(), tokio_postgres::Error> {
    match write {
        RoomWrite::Meta(meta) => {
            let key = RoomKey::fold(&meta.name);
            tx.execute(
                "INSERT INTO rooms (room_key, name, topic, mode, password)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (room_key) DO UPDATE SET
                   topic = EXCLUDED.topic, mode = EXCLUDED.mode, password = EXCLUDED.password",
                &[
                    &key.as_ref().map_or("", |k| k.as_str()),
                    &meta.name,
                    &meta.topic,
                    &i16::from(meta.mode),
                    &meta.password,
                ],
            )
            .await?;
        }
        RoomWrite::Delete(room) => {
            for table in ["room_members", "room_mutes", "rooms"] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE room_key = $1"),
                    &[&room.as_str()],
                )
                .await?;
            }
        }
        RoomWrite::Member(room, m) => {
            let key = NameKey::fold(&m.name);
            tx.execute(
                "INSERT INTO room_members (room_key, name_key, name, role, since)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (room_key, name_key) DO UPDATE SET role = EXCLUDED.role",
                &[
                    &room.as_str(),
                    &key.as_ref().map_or("", |k| k.as_str()),
                    &m.name,
                    &i16::from(m.role as u8),
                    &(m.since as i64),
                ],
            )
            .await?;
        }
        RoomWrite::RemoveMember(room, user) => {
            tx.execute(
                "DELETE FROM room_members WHERE room_key = $1 AND name_key = $2",
                &[&room.as_str(), &user.as_str()],
            )
            .await?;
        }
        RoomWrite::Mute(room, user, MuteState::NotMuted) => {
            tx.execute(
                "DELETE FROM room_mutes WHERE room_key = $1 AND name_key = $2",
                &[&room.as_str(), &user.as_str()],
            )
            .await?;
        }
        RoomWrite::Mute(room, user, until) => {
            tx.execute(
                r#"INSERT INTO room_mutes (room_key, name_key, "until") VALUES ($1, $2, $3)
                   ON CONFLICT (room_key, name_key) DO UPDATE SET "until" = EXCLUDED."until""#,
                &[&room.as_str(), &user.as_str(), &(until.to_wire() as i64)],
            )
            .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_passwords() {
        assert_eq!(
            redact("postgres://chinwag:s3cret@db:5432/chat"),
            "postgres://chinwag@db:5432/chat"
        );
        assert_eq!(redact("postgres://db/chat"), "postgres://db/chat");
    }
}
