//! The shared backend for a cluster: a PostgreSQL database, reached
//! through a small connection pool.
//!
//! Same tables and the same promise as the SQLite backend: a write's future
//! resolves `Ok` only once PostgreSQL has committed it. Several nodes use
//! one database at once; every write is one statement or one transaction,
//! so they need no coordination of their own. When the database cannot be
//! reached, calls fail within [`TIMEOUT`] with [`StoreError::Failed`] and
//! nothing is acknowledged. Message appends are written in groups, one
//! statement and one commit for every append waiting (`append`).

mod append;
mod migrations;
mod tls;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use chinwag_proto::server::{MessageId, Timestamp};
use chinwag_proto::{NameKey, UserName};
use deadpool_postgres::{Pool, PoolConfig, Runtime, Timeouts};
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::NoTls;
use tokio_postgres::types::{IsNull, ToSql, Type};
use tokio_postgres_rustls::MakeRustlsConnect;

use append::Append;
pub use migrations::LATEST as SCHEMA_VERSION;

use super::ConversationKey;
use super::query::{HistoryPlan, message_sql, pending_sql};
use super::rows::{
    self, ACCOUNT_COLUMNS, AUDIT_COLUMNS, BAN_COLUMNS, Columns, MEMBER_COLUMNS, MUTE_COLUMNS,
    READ_MARKER_COLUMNS, ROOM_COLUMNS, ROOM_MASK_COLUMNS, ROOM_MUTE_COLUMNS, mute_column,
};
use super::writes::{self, Statement, Value};
use super::{
    Account, AuditLogEntry, AuditRecord, BanRecord, BanTarget, HistoryQuery, MuteRecord,
    NewMessage, NewRoomMessage, ReadMarker, Retention, RoomRecord, RoomWrite, Store, StoreError,
    StoreFuture, StoredMessage,
};

/// How long a call waits for a connection (or to open one) before it
/// fails.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// Most connections one node keeps open, unless told otherwise.
pub const DEFAULT_POOL: usize = 16;

pub struct PostgresStore {
    pool: Pool,
    closed: Arc<AtomicBool>,
    /// Message appends, written in groups by `append::run`.
    appends: mpsc::UnboundedSender<Append>,
}

fn failed(error: impl std::fmt::Display) -> StoreError {
    StoreError::Failed(format!("PostgreSQL: {error}"))
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user@host/db`) and
    /// brings its schema up to date; over TLS when the URL says
    /// `sslmode=require`, trusting the system's certificate authorities.
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        PostgresStore::connect_trusting(url, None).await
    }

    /// [`PostgresStore::connect`], trusting also the certificate
    /// authorities in the PEM file `ca` for a URL with `sslmode=require`.
    ///
    /// With `sslmode=require` every connection is TLS and the server's
    /// certificate must be valid for the URL's host and signed by a trusted
    /// authority (what libpq calls `verify-full`): a database reached over
    /// a network is authenticated, not only encrypted. Without it
    /// (`disable`, or `prefer`, the default) connections are plain, as on
    /// a trusted local socket or loopback.
    pub async fn connect_trusting(
        url: &str,
        ca: Option<&std::path::Path>,
    ) -> Result<PostgresStore, StoreError> {
        PostgresStore::connect_pooled(url, ca, DEFAULT_POOL).await
    }

    /// [`PostgresStore::connect_trusting`], keeping at most `pool`
    /// connections open (the nodes of a cluster share the database's
    /// `max_connections`).
    pub async fn connect_pooled(
        url: &str,
        ca: Option<&std::path::Path>,
        pool: usize,
    ) -> Result<PostgresStore, StoreError> {
        let parsed: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Failed(format!("invalid database URL: {e}")))?;
        let tls = match parsed.get_ssl_mode() {
            tokio_postgres::config::SslMode::Require => Some(tls::client_config(ca)?),
            _ if ca.is_some() => {
                return Err(StoreError::Failed(
                    "a database CA file is given but the database URL does not ask for TLS: \
                     add sslmode=require to it"
                        .into(),
                ));
            }
            _ => None,
        };
        let mut config = deadpool_postgres::Config::new();
        config.url = Some(url.to_owned());
        config.connect_timeout = Some(TIMEOUT);
        config.pool = Some(PoolConfig {
            max_size: pool.max(1),
            timeouts: Timeouts {
                wait: Some(TIMEOUT),
                create: Some(TIMEOUT),
                recycle: Some(TIMEOUT),
            },
            ..PoolConfig::default()
        });
        let pool = match tls {
            Some(tls) => config.create_pool(Some(Runtime::Tokio1), MakeRustlsConnect::new(tls)),
            None => config.create_pool(Some(Runtime::Tokio1), NoTls),
        }
        .map_err(|e| StoreError::Failed(format!("invalid database URL: {e}")))?;
        let closed = Arc::new(AtomicBool::new(false));
        let (appends, queued) = mpsc::unbounded_channel();
        tokio::spawn(append::run(pool.clone(), Arc::clone(&closed), queued));
        let store = PostgresStore {
            pool,
            closed,
            appends,
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

    /// Hands a message to the group writer (`append`); resolves once its
    /// group is committed.
    fn submit(
        &self,
        append: impl FnOnce(oneshot::Sender<Result<MessageId, StoreError>>) -> Append,
    ) -> StoreFuture<MessageId> {
        let (reply, answer) = oneshot::channel();
        let sent = !self.closed.load(Ordering::Acquire) && self.appends.send(append(reply)).is_ok();
        Box::pin(async move {
            if !sent {
                return Err(StoreError::Closed);
            }
            answer.await.map_err(|_| StoreError::Closed)?
        })
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
        record: fn(&dyn Columns) -> Result<T, StoreError>,
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
            rows.iter().map(|row| record(row)).collect()
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

/// PostgreSQL's spelling of the `n`th parameter.
fn placeholder(n: usize) -> String {
    format!("${n}")
}

impl Columns for tokio_postgres::Row {
    fn int(&self, index: usize) -> Result<i64, StoreError> {
        // Small numbers (a room's mode, a member's role) are SMALLINTs.
        let column = self.columns().get(index).map(|c| c.type_().clone());
        match column {
            Some(Type::INT2) => self.try_get::<_, i16>(index).map(i64::from),
            Some(Type::INT4) => self.try_get::<_, i32>(index).map(i64::from),
            _ => self.try_get::<_, i64>(index),
        }
        .map_err(failed)
    }

    fn text(&self, index: usize) -> Result<String, StoreError> {
        self.try_get(index).map_err(failed)
    }

    fn optional_text(&self, index: usize) -> Result<Option<String>, StoreError> {
        self.try_get(index).map_err(failed)
    }

    fn flag(&self, index: usize) -> Result<bool, StoreError> {
        self.try_get(index).map_err(failed)
    }
}

impl Store for PostgresStore {
    fn append(&self, m: NewMessage) -> StoreFuture<MessageId> {
        self.submit(|reply| Append::direct(m, reply))
    }

    fn enqueue(&self, user: NameKey, id: MessageId) -> StoreFuture<()> {
        let done = self.execute(
            "INSERT INTO inbox (user_key, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            vec![boxed(user.as_str().to_owned()), boxed(id.0 as i64)],
        );
        Box::pin(async move { done.await.map(drop) })
    }

    fn history(&self, query: HistoryQuery) -> StoreFuture<Vec<StoredMessage>> {
        let plan = HistoryPlan::new(&query, placeholder);
        self.query(
            plan.sql,
            vec![
                boxed(plan.scope),
                boxed(plan.after),
                boxed(plan.before),
                boxed(plan.limit),
                boxed(plan.direct_since),
            ],
            rows::message,
        )
    }

    fn pending(
        &self,
        user: NameKey,
        after: MessageId,
        limit: u32,
    ) -> StoreFuture<Vec<StoredMessage>> {
        self.query(
            pending_sql(placeholder),
            vec![
                boxed(user.as_str().to_owned()),
                boxed(after.0 as i64),
                boxed(i64::from(limit)),
            ],
            rows::message,
        )
    }

    fn message(&self, id: MessageId) -> StoreFuture<Option<StoredMessage>> {
        let found = self.query(
            message_sql(placeholder),
            vec![boxed(id.0 as i64)],
            rows::message,
        );
        Box::pin(async move { Ok(found.await?.into_iter().next()) })
    }

    fn redact(&self, id: MessageId) -> StoreFuture<bool> {
        // The SQL of `crate::query::redact_sql`, in this dialect.
        let done = self.execute(
            "UPDATE messages SET text = '', flags = flags | 2 WHERE id = $1 AND (messages.flags & 2) = 0",
            vec![boxed(id.0 as i64)],
        );
        Box::pin(async move { Ok(done.await? > 0) })
    }

    fn delivered(&self, user: NameKey, up_to: MessageId) -> StoreFuture<()> {
        let done = self.execute(
            "DELETE FROM inbox WHERE user_key = $1 AND message_id <= $2",
            vec![boxed(user.as_str().to_owned()), boxed(up_to.0 as i64)],
        );
        Box::pin(async move { done.await.map(drop) })
    }

    fn mark_read(
        &self,
        account: NameKey,
        conversation: ConversationKey,
        up_to: MessageId,
    ) -> StoreFuture<()> {
        let done = self.execute(
            "INSERT INTO read_markers (account, conv, message_id, ts)
             VALUES ($1, $2, $3, COALESCE((SELECT ts FROM messages WHERE id = $3), 0))
             ON CONFLICT (account, conv)
             DO UPDATE SET message_id = GREATEST(read_markers.message_id, excluded.message_id),
                           ts = GREATEST(read_markers.ts, excluded.ts)",
            vec![
                boxed(account.as_str().to_owned()),
                boxed(conversation.to_column()),
                boxed(up_to.0 as i64),
            ],
        );
        Box::pin(async move { done.await.map(drop) })
    }

    fn mark_read_at(
        &self,
        account: NameKey,
        conversation: ConversationKey,
        ts: Timestamp,
    ) -> StoreFuture<()> {
        let done = self.execute(
            "INSERT INTO read_markers (account, conv, message_id, ts)
             VALUES ($1, $2,
                     COALESCE((SELECT MAX(id) FROM messages WHERE conv = $2 AND ts <= $3), 0),
                     $3)
             ON CONFLICT (account, conv)
             DO UPDATE SET message_id = GREATEST(read_markers.message_id, excluded.message_id),
                           ts = GREATEST(read_markers.ts, excluded.ts)",
            vec![
                boxed(account.as_str().to_owned()),
                boxed(conversation.to_column()),
                boxed(ts.0 as i64),
            ],
        );
        Box::pin(async move { done.await.map(drop) })
    }

    fn set_metadata(
        &self,
        account: NameKey,
        key: String,
        value: Option<String>,
    ) -> StoreFuture<()> {
        let done = match value {
            Some(value) => self.execute(
                "INSERT INTO metadata (account, key, value) VALUES ($1, $2, $3)
                 ON CONFLICT (account, key) DO UPDATE SET value = excluded.value",
                vec![boxed(account.as_str().to_owned()), boxed(key), boxed(value)],
            ),
            None if key == "*" => self.execute(
                "DELETE FROM metadata WHERE account = $1",
                vec![boxed(account.as_str().to_owned())],
            ),
            None => self.execute(
                "DELETE FROM metadata WHERE account = $1 AND key = $2",
                vec![boxed(account.as_str().to_owned()), boxed(key)],
            ),
        };
        Box::pin(async move { done.await.map(drop) })
    }

    fn metadata(&self, account: NameKey) -> StoreFuture<Vec<(String, String)>> {
        self.query(
            "SELECT key, value FROM metadata WHERE account = $1 ORDER BY key".to_owned(),
            vec![boxed(account.as_str().to_owned())],
            rows::metadata,
        )
    }

    fn read_markers(&self, account: NameKey) -> StoreFuture<Vec<ReadMarker>> {
        let markers = self.query(
            format!("SELECT {READ_MARKER_COLUMNS} FROM read_markers WHERE account = $1"),
            vec![boxed(account.as_str().to_owned())],
            rows::read_marker,
        );
        Box::pin(async move { Ok(markers.await?.into_iter().flatten().collect()) })
    }

    fn set_ignore(&self, account: NameKey, user: UserName, ignore: bool) -> StoreFuture<bool> {
        let done = if ignore {
            self.execute(
                "INSERT INTO ignores (account, ignored, name) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
                vec![
                    boxed(account.as_str().to_owned()),
                    boxed(user.key().as_str().to_owned()),
                    boxed(user.as_str().to_owned()),
                ],
            )
        } else {
            self.execute(
                "DELETE FROM ignores WHERE account = $1 AND ignored = $2",
                vec![
                    boxed(account.as_str().to_owned()),
                    boxed(user.key().as_str().to_owned()),
                ],
            )
        };
        Box::pin(async move { Ok(done.await? > 0) })
    }

    fn ignores(&self, account: NameKey) -> StoreFuture<Vec<UserName>> {
        let names = self.query(
            "SELECT name FROM ignores WHERE account = $1 ORDER BY ignored".to_owned(),
            vec![boxed(account.as_str().to_owned())],
            rows::user_name,
        );
        Box::pin(async move { Ok(names.await?.into_iter().flatten().collect()) })
    }

    fn account(&self, name: NameKey) -> StoreFuture<Option<Account>> {
        let accounts = self.query(
            format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE name_key = $1"),
            vec![boxed(name.as_str().to_owned())],
            rows::account,
        );
        Box::pin(async move { Ok(accounts.await?.into_iter().next()) })
    }

    fn account_like(&self, name: NameKey) -> StoreFuture<Option<Account>> {
        let accounts = self.query(
            format!(
                "SELECT {ACCOUNT_COLUMNS} FROM accounts
                 WHERE name_skeleton = $1 AND name_key <> $2 LIMIT 1"
            ),
            vec![boxed(name.skeleton()), boxed(name.as_str().to_owned())],
            rows::account,
        );
        Box::pin(async move { Ok(accounts.await?.into_iter().next()) })
    }

    fn create_account(
        &self,
        name: UserName,
        password_hash: String,
        now: Timestamp,
    ) -> StoreFuture<bool> {
        let done = self.execute(
            "INSERT INTO accounts (name_key, name, password_hash, admin, created_at, name_skeleton)
             VALUES ($1, $2, $3, FALSE, $4, $5) ON CONFLICT DO NOTHING",
            vec![
                boxed(name.key().as_str().to_owned()),
                boxed(name.as_str().to_owned()),
                boxed(password_hash),
                boxed(now.0 as i64),
                boxed(name.key().skeleton()),
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

    fn account_names(&self) -> StoreFuture<Vec<String>> {
        self.query(
            "SELECT name FROM accounts ORDER BY name_key".to_owned(),
            Vec::new(),
            |row| row.text(0),
        )
    }

    fn admins(&self) -> StoreFuture<Vec<String>> {
        self.query(
            "SELECT name FROM accounts WHERE admin ORDER BY name_key".to_owned(),
            Vec::new(),
            |row| row.text(0),
        )
    }

    fn set_mute(&self, mute: MuteRecord, audit: AuditRecord) -> StoreFuture<()> {
        let done = self.audited(
            r#"INSERT INTO mutes (name_key, "until", "by", reason) VALUES ($1, $2, $3, $4)
               ON CONFLICT (name_key) DO UPDATE
               SET "until" = EXCLUDED."until", "by" = EXCLUDED."by", reason = EXCLUDED.reason"#,
            vec![
                boxed(mute.name.as_str().to_owned()),
                boxed(mute_column(mute.until)),
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
        let mutes = self.query(
            format!("SELECT {MUTE_COLUMNS} FROM mutes"),
            Vec::new(),
            rows::mute,
        );
        Box::pin(async move { Ok(mutes.await?.into_iter().flatten().collect()) })
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
                boxed(mute_column(ban.until)),
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
        let bans = self.query(
            format!("SELECT {BAN_COLUMNS} FROM bans"),
            Vec::new(),
            rows::ban,
        );
        Box::pin(async move { Ok(bans.await?.into_iter().flatten().collect()) })
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

    fn audit_log(&self, before: Option<u64>, limit: u32) -> StoreFuture<Vec<AuditLogEntry>> {
        let before = before.map_or(i64::MAX, |id| id as i64);
        self.query(
            format!("SELECT {AUDIT_COLUMNS} FROM audit WHERE id < $1 ORDER BY id DESC LIMIT $2"),
            vec![boxed(before), boxed(i64::from(limit))],
            rows::audit_entry,
        )
    }

    fn prune(&self, retention: Retention, now: Timestamp) -> StoreFuture<u64> {
        let plan = writes::prune(&retention, now, placeholder);
        let client = self.client();
        Box::pin(async move {
            let mut client = client.await?;
            let tx = client.transaction().await.map_err(failed)?;
            let mut deleted = 0;
            for statement in &plan.messages {
                deleted += run(&tx, statement).await?;
            }
            for statement in &plan.moderation {
                run(&tx, statement).await?;
            }
            tx.commit().await.map_err(failed)?;
            Ok(deleted)
        })
    }

    fn append_room(&self, m: NewRoomMessage) -> StoreFuture<MessageId> {
        self.submit(|reply| Append::room(m, reply))
    }

    fn write_room(&self, write: RoomWrite) -> StoreFuture<()> {
        let client = self.client();
        Box::pin(async move {
            let mut client = client.await?;
            let tx = client.transaction().await.map_err(failed)?;
            for statement in writes::room_write(&write, placeholder) {
                run(&tx, &statement).await?;
            }
            tx.commit().await.map_err(failed)
        })
    }

    fn rooms(&self) -> StoreFuture<Vec<RoomRecord>> {
        let client = self.client();
        Box::pin(async move {
            let client = client.await?;
            let rooms = client
                .query(&format!("SELECT {ROOM_COLUMNS} FROM rooms"), &[])
                .await
                .map_err(failed)?;
            let members = format!(
                "SELECT {MEMBER_COLUMNS} FROM room_members WHERE room_key = $1 ORDER BY since"
            );
            let mutes = format!("SELECT {ROOM_MUTE_COLUMNS} FROM room_mutes WHERE room_key = $1");
            let masks = format!(
                "SELECT {ROOM_MASK_COLUMNS} FROM room_masks WHERE room_key = $1 ORDER BY set_at"
            );
            let mut records = Vec::with_capacity(rooms.len());
            for row in &rooms {
                let (key, meta) = rows::room(row)?;
                let mut record = RoomRecord {
                    meta,
                    members: Vec::new(),
                    mutes: Vec::new(),
                    masks: Vec::new(),
                };
                for row in client.query(&masks, &[&key]).await.map_err(failed)? {
                    record.masks.extend(rows::room_mask(&row)?);
                }
                for row in client.query(&members, &[&key]).await.map_err(failed)? {
                    record.members.extend(rows::member(&row)?);
                }
                for row in client.query(&mutes, &[&key]).await.map_err(failed)? {
                    record.mutes.extend(rows::room_mute(&row)?);
                }
                records.push(record);
            }
            Ok(records)
        })
    }

    fn close(&self) -> StoreFuture<()> {
        self.closed.store(true, Ordering::Release);
        // Calls already holding a connection finish; waiting ones fail.
        self.pool.close();
        Box::pin(async { Ok(()) })
    }
}

/// Runs one shared statement; returns how many rows it changed.
async fn run(
    tx: &deadpool_postgres::Transaction<'_>,
    statement: &Statement,
) -> Result<u64, StoreError> {
    let params: Vec<&(dyn ToSql + Sync)> = statement
        .params
        .iter()
        .map(|value| value as &(dyn ToSql + Sync))
        .collect();
    tx.execute(&statement.sql, &params).await.map_err(failed)
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            // Small numbers (a room's mode, a member's role) are SMALLINTs.
            Value::Int(value) if *ty == Type::INT2 => i16::try_from(*value)?.to_sql(ty, out),
            Value::Int(value) if *ty == Type::INT4 => i32::try_from(*value)?.to_sql(ty, out),
            Value::Int(value) => value.to_sql(ty, out),
            Value::Text(text) => text.to_sql(ty, out),
            Value::MaybeText(text) => text.to_sql(ty, out),
            Value::Bool(flag) => flag.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        <bool as ToSql>::accepts(ty)
            || <i16 as ToSql>::accepts(ty)
            || <i32 as ToSql>::accepts(ty)
            || <i64 as ToSql>::accepts(ty)
            || <String as ToSql>::accepts(ty)
    }

    tokio_postgres::types::to_sql_checked!();
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
