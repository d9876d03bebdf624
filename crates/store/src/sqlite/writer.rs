//! The one writer: a thread that owns the write connection and commits
//! writes in groups.
//!
//! Callers send a [`Job`] and await its oneshot. The thread takes the first
//! job waiting, then every other job already queued (up to [`MAX_BATCH`]),
//! applies them all in one transaction (each inside its own savepoint, so
//! one failing write does not undo the others) and commits once: one sync
//! to disk pays for the whole group. Only then are the replies sent, so a
//! reply always means "durable". If the commit fails (a full disk), every
//! job of the group gets the error and nothing of it is kept.

use std::sync::mpsc;

use chinwag_proto::server::{MessageId, Timestamp};
use chinwag_proto::{NameKey, UserName};
use rusqlite::types::ToSqlOutput;
use rusqlite::{Connection, ToSql, TransactionBehavior, params, params_from_iter};
use tokio::sync::oneshot;

use super::{append, placeholder};
use crate::rows::mute_column;
use crate::writes::{self, Statement, Value};
use crate::{
    AuditRecord, BanRecord, BanTarget, ConversationKey, MuteRecord, NewMessage, NewRoomMessage,
    Retention, RoomWrite, StoreError,
};

/// Most jobs committed together.
const MAX_BATCH: usize = 512;

/// One write.
#[derive(Debug)]
pub enum Op {
    Append(NewMessage),
    AppendRoom(NewRoomMessage),
    Room(RoomWrite),
    Enqueue(NameKey, MessageId),
    Delivered(NameKey, MessageId),
    Redact(MessageId),
    MarkRead(NameKey, ConversationKey, MessageId),
    MarkReadAt(NameKey, ConversationKey, Timestamp),
    SetMetadata(NameKey, String, Option<String>),
    SetIgnore(NameKey, UserName, bool),
    CreateAccount {
        name: UserName,
        password_hash: String,
        now: Timestamp,
    },
    SetPassword(NameKey, String),
    SetAdmin(NameKey, bool, AuditRecord),
    SetMute(MuteRecord, AuditRecord),
    LiftMute(NameKey, AuditRecord),
    Ban(BanRecord, AuditRecord),
    Unban(BanTarget, AuditRecord),
    Record(AuditRecord),
    Prune(Retention, Timestamp),
    /// Caps the database's size, to test what a full disk does.
    LimitPages(u64),
    /// Ends the writer after this group.
    Close,
}

impl Op {
    /// The message row of a plain append (one that queues nothing), which
    /// goes into a multi-row INSERT with its neighbours.
    fn as_row(&self) -> Option<append::Row<'_>> {
        match self {
            Op::Append(m) if m.queue_for.is_none() => Some(append::Row::direct(m)),
            Op::AppendRoom(m) => Some(append::Row::room(m)),
            _ => None,
        }
    }

    /// Whether the write is one SQL statement, which SQLite applies or
    /// undoes as a whole by itself.
    fn is_one_statement(&self) -> bool {
        match self {
            Op::Append(m) => m.queue_for.is_none(),
            Op::AppendRoom(_) | Op::Enqueue(..) | Op::Delivered(..) | Op::Redact(_) => true,
            _ => false,
        }
    }
}

/// What a write returns.
#[derive(Debug)]
pub enum Done {
    Id(MessageId),
    Unit,
    Flag(bool),
    Count(u64),
}

pub struct Job {
    pub op: Op,
    pub reply: oneshot::Sender<Result<Done, StoreError>>,
}

/// Runs until every sender is gone or a [`Op::Close`] is committed.
pub fn run(mut conn: Connection, jobs: mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let closing = batch.iter().any(|job| matches!(job.op, Op::Close));
        commit(&mut conn, batch);
        if closing {
            break;
        }
    }
    // Fold the WAL back into the database file, so a backup of the file
    // alone is complete. Harmless if it fails: the WAL is replayed on open.
    if let Err(error) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);") {
        tracing::debug!(%error, "checkpoint on close failed");
    }
}

fn commit(conn: &mut Connection, batch: Vec<Job>) {
    let results = match apply_batch(conn, &batch) {
        Ok(results) => results,
        Err(error) => {
            tracing::error!(%error, writes = batch.len(), "commit failed; nothing of it was kept");
            batch.iter().map(|_| Err(error.clone())).collect()
        }
    };
    for (job, result) in batch.into_iter().zip(results) {
        // The caller may have gone away (its connection closed); the write
        // stands either way.
        let _ = job.reply.send(result);
    }
}

fn apply_batch(
    conn: &mut Connection,
    batch: &[Job],
) -> Result<Vec<Result<Done, StoreError>>, StoreError> {
    let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut ids = append::next_id(&tx)?;
    let mut results = Vec::with_capacity(batch.len());
    let mut at = 0;
    while at < batch.len() {
        // A run of plain appends goes in as multi-row INSERTs.
        let rows: Vec<append::Row<'_>> = batch[at..]
            .iter()
            .map_while(|job| job.op.as_row())
            .collect();
        if !rows.is_empty() {
            append::insert(&tx, ids, &rows, |i, inserted| {
                results.push(match inserted {
                    Ok(id) => Ok(Done::Id(MessageId(id as u64))),
                    Err(error) => {
                        tracing::warn!(%error, op = ?batch[at + i].op, "write failed");
                        Err(StoreError::from(error))
                    }
                });
            });
            ids += rows.len() as i64;
            at += rows.len();
            continue;
        }
        let job = &batch[at];
        at += 1;
        // A single statement is undone on its own if it fails; only a
        // write of several statements needs a savepoint around it (which
        // costs a copy of every page it touches: measured, the biggest
        // share of a message append).
        if job.op.is_one_statement() {
            match apply(&tx, &job.op, &mut ids) {
                Ok(done) => results.push(Ok(done)),
                Err(error) => {
                    tracing::warn!(%error, op = ?job.op, "write failed");
                    results.push(Err(StoreError::from(error)));
                }
            }
            continue;
        }
        let mut sp = tx.savepoint()?;
        match apply(&sp, &job.op, &mut ids) {
            Ok(done) => {
                sp.commit()?;
                results.push(Ok(done));
            }
            Err(error) => {
                tracing::warn!(%error, op = ?job.op, "write failed");
                sp.rollback()?;
                drop(sp);
                results.push(Err(StoreError::from(error)));
            }
        }
    }
    tx.commit()?;
    Ok(results)
}

/// Applies one write; a message it stores takes the id `ids` (which then
/// moves on).
fn apply(conn: &Connection, op: &Op, ids: &mut i64) -> rusqlite::Result<Done> {
    Ok(match op {
        Op::Append(m) => {
            let id = insert_one(conn, ids, append::Row::direct(m))?;
            if let Some(user) = &m.queue_for {
                enqueue(conn, user, id)?;
            }
            Done::Id(MessageId(id as u64))
        }
        Op::AppendRoom(m) => Done::Id(MessageId(
            insert_one(conn, ids, append::Row::room(m))? as u64
        )),
        Op::Room(write) => {
            write_room(conn, write)?;
            Done::Unit
        }
        Op::Enqueue(user, id) => {
            enqueue(conn, user, id.0 as i64)?;
            Done::Unit
        }
        Op::Delivered(user, up_to) => {
            conn.prepare_cached("DELETE FROM inbox WHERE user_key = ?1 AND message_id <= ?2")?
                .execute(params![user.as_str(), up_to.0 as i64])?;
            Done::Unit
        }
        Op::Redact(id) => Done::Flag(
            conn.prepare_cached(&crate::query::redact_sql(|n| format!("?{n}")))?
                .execute(params![id.0 as i64])?
                > 0,
        ),
        Op::MarkRead(account, conversation, up_to) => {
            conn.prepare_cached(
                "INSERT INTO read_markers (account, conv, message_id, ts)
                 VALUES (?1, ?2, ?3, COALESCE((SELECT ts FROM messages WHERE id = ?3), 0))
                 ON CONFLICT (account, conv)
                 DO UPDATE SET message_id = MAX(message_id, excluded.message_id),
                               ts = MAX(ts, excluded.ts)",
            )?
            .execute(params![
                account.as_str(),
                conversation.to_column(),
                up_to.0 as i64
            ])?;
            Done::Unit
        }
        Op::SetMetadata(account, key, Some(value)) => {
            conn.prepare_cached(
                "INSERT INTO metadata (account, key, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (account, key) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![account.as_str(), key, value])?;
            Done::Unit
        }
        Op::SetMetadata(account, key, None) if key == "*" => {
            conn.prepare_cached("DELETE FROM metadata WHERE account = ?1")?
                .execute(params![account.as_str()])?;
            Done::Unit
        }
        Op::SetMetadata(account, key, None) => {
            conn.prepare_cached("DELETE FROM metadata WHERE account = ?1 AND key = ?2")?
                .execute(params![account.as_str(), key])?;
            Done::Unit
        }
        Op::MarkReadAt(account, conversation, ts) => {
            conn.prepare_cached(
                "INSERT INTO read_markers (account, conv, message_id, ts)
                 VALUES (?1, ?2,
                         COALESCE((SELECT MAX(id) FROM messages WHERE conv = ?2 AND ts <= ?3), 0),
                         ?3)
                 ON CONFLICT (account, conv)
                 DO UPDATE SET message_id = MAX(message_id, excluded.message_id),
                               ts = MAX(ts, excluded.ts)",
            )?
            .execute(params![
                account.as_str(),
                conversation.to_column(),
                ts.0 as i64
            ])?;
            Done::Unit
        }
        Op::SetIgnore(account, user, true) => Done::Flag(
            conn.prepare_cached(
                "INSERT OR IGNORE INTO ignores (account, ignored, name) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![
                account.as_str(),
                user.key().as_str(),
                user.as_str()
            ])? > 0,
        ),
        Op::SetIgnore(account, user, false) => Done::Flag(
            conn.prepare_cached("DELETE FROM ignores WHERE account = ?1 AND ignored = ?2")?
                .execute(params![account.as_str(), user.key().as_str()])?
                > 0,
        ),
        Op::CreateAccount {
            name,
            password_hash,
            now,
        } => {
            let added = conn.execute(
                "INSERT OR IGNORE INTO accounts
                     (name_key, name, password_hash, admin, created_at, name_skeleton)
                 VALUES (?1, ?2, ?3, 0, ?4, ?5)",
                params![
                    name.key().as_str(),
                    name.as_str(),
                    password_hash,
                    now.0 as i64,
                    name.key().skeleton()
                ],
            )?;
            Done::Flag(added == 1)
        }
        Op::SetPassword(name, hash) => {
            let changed = conn.execute(
                "UPDATE accounts SET password_hash = ?2 WHERE name_key = ?1",
                params![name.as_str(), hash],
            )?;
            Done::Flag(changed == 1)
        }
        Op::SetAdmin(name, admin, audit) => {
            let changed = conn.execute(
                "UPDATE accounts SET admin = ?2 WHERE name_key = ?1",
                params![name.as_str(), *admin],
            )?;
            if changed == 1 {
                record(conn, audit)?;
            }
            Done::Flag(changed == 1)
        }
        Op::SetMute(mute, audit) => {
            conn.execute(
                "INSERT OR REPLACE INTO mutes (name_key, until, by, reason) VALUES (?1, ?2, ?3, ?4)",
                params![
                    mute.name.as_str(),
                    mute_column(mute.until),
                    mute.by,
                    mute.reason
                ],
            )?;
            record(conn, audit)?;
            Done::Unit
        }
        Op::LiftMute(name, audit) => {
            let removed = conn.execute(
                "DELETE FROM mutes WHERE name_key = ?1",
                params![name.as_str()],
            )?;
            record(conn, audit)?;
            Done::Flag(removed == 1)
        }
        Op::Ban(ban, audit) => {
            let kind = match ban.target {
                BanTarget::Name(_) => 0,
                BanTarget::Addr(_) => 1,
            };
            conn.execute(
                "INSERT OR REPLACE INTO bans (target, kind, until, by, reason, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    ban.target.to_string(),
                    kind,
                    mute_column(ban.until),
                    ban.by,
                    ban.reason,
                    ban.at.0 as i64
                ],
            )?;
            record(conn, audit)?;
            Done::Unit
        }
        Op::Unban(target, audit) => {
            let removed = conn.execute(
                "DELETE FROM bans WHERE target = ?1",
                params![target.to_string()],
            )?;
            if removed == 1 {
                record(conn, audit)?;
            }
            Done::Flag(removed == 1)
        }
        Op::Record(audit) => {
            record(conn, audit)?;
            Done::Unit
        }
        Op::Prune(retention, now) => Done::Count(prune(conn, retention, *now)?),
        Op::LimitPages(pages) => {
            conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))?;
            Done::Unit
        }
        Op::Close => Done::Unit,
    })
}

/// Inserts one message with the next id.
fn insert_one(conn: &Connection, ids: &mut i64, row: append::Row<'_>) -> rusqlite::Result<i64> {
    let id = *ids;
    // Taken even if the insert fails: ids need only grow.
    *ids += 1;
    let mut outcome = Ok(id);
    append::insert(conn, id, std::slice::from_ref(&row), |_, inserted| {
        outcome = inserted
    });
    outcome
}

fn write_room(conn: &Connection, write: &RoomWrite) -> rusqlite::Result<()> {
    for statement in writes::room_write(write, placeholder) {
        execute(conn, &statement)?;
    }
    Ok(())
}

/// Runs one shared statement; returns how many rows it changed.
fn execute(conn: &Connection, statement: &Statement) -> rusqlite::Result<usize> {
    conn.prepare_cached(&statement.sql)?
        .execute(params_from_iter(&statement.params))
}

impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        match self {
            Value::Int(value) => value.to_sql(),
            Value::Text(text) => text.to_sql(),
            Value::MaybeText(text) => text.to_sql(),
            Value::Bool(flag) => flag.to_sql(),
        }
    }
}

fn enqueue(conn: &Connection, user: &NameKey, id: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT OR IGNORE INTO inbox (user_key, message_id) VALUES (?1, ?2)")?
        .execute(params![user.as_str(), id])?;
    Ok(())
}

fn record(conn: &Connection, audit: &AuditRecord) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO audit (ts, actor, action, target, until, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            audit.ts.0 as i64,
            audit.actor,
            audit.action.as_str(),
            audit.target,
            audit.until as i64,
            audit.reason
        ],
    )?;
    Ok(())
}

fn prune(conn: &Connection, retention: &Retention, now: Timestamp) -> rusqlite::Result<u64> {
    let plan = writes::prune(retention, now, placeholder);
    let mut deleted = 0;
    for statement in &plan.messages {
        deleted += execute(conn, statement)? as u64;
    }
    for statement in &plan.moderation {
        execute(conn, statement)?;
    }
    Ok(deleted)
}
