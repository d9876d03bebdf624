//! The one writer: a thread that owns the write connection and commits
//! writes in groups.
//!
//! Every write reaches it through the log thread (`appender`), in the
//! order it was submitted; callers await their job's oneshot. The thread
//! takes the first job waiting, then every other job already queued (up
//! to [`MAX_BATCH`]), applies them all in one transaction (each inside
//! its own savepoint, so one failing write does not undo the others) and
//! commits once: one sync to disk pays for the whole group. Only then are
//! the replies sent, so a reply always means "durable". If the commit
//! fails (a full disk), every job of the group gets the error and nothing
//! of it is kept.
//!
//! Messages are the exception: they are durable in the message log
//! before they get here, and arrive as [`Op::Index`] runs of rows nobody
//! waits for. A group of only those waits up to [`INDEX_DELAY`] for more,
//! so that one commit writes each index page once for many messages; any
//! other write (a read's [`Op::Flush`] among them) ends the wait. Rows
//! SQLite refuses are kept and tried again, first, until it takes them.

use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use chinwag_proto::server::{MessageId, Timestamp};
use chinwag_proto::{NameKey, UserName};
use rusqlite::types::ToSqlOutput;
use rusqlite::{Connection, ToSql, TransactionBehavior, params, params_from_iter};
use tokio::sync::oneshot;

use super::appender::Progress;
use super::log::Entry;
use super::{append, placeholder};
use crate::rows::mute_column;
use crate::writes::{self, Statement, Value};
use crate::{
    AuditRecord, BanRecord, BanTarget, ConversationKey, MuteRecord, NewMessage, NewRoomMessage,
    Retention, RoomWrite, StoreError,
};

/// Most jobs taken together.
pub const MAX_BATCH: usize = 512;
/// How long a group of only message rows waits for more.
const INDEX_DELAY: Duration = Duration::from_millis(20);
/// Rows that end that wait at once.
const INDEX_ROWS: usize = 8192;
/// How soon rows SQLite refused are tried again when nothing else comes.
const RETRY: Duration = Duration::from_millis(500);

/// One write.
#[derive(Debug)]
pub enum Op {
    /// A message, for the log thread.
    Append(NewMessage),
    /// A room message, for the log thread.
    AppendRoom(NewRoomMessage),
    /// Logged messages, to insert (with their ids) into `messages`, and
    /// `inbox` where they are queued.
    Index(Vec<Entry>),
    /// Answered once every row logged before it is committed: what a
    /// query waits for to see every acknowledged message.
    Flush,
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
    /// Whether the write is one SQL statement, which SQLite applies or
    /// undoes as a whole by itself.
    fn is_one_statement(&self) -> bool {
        matches!(
            self,
            Op::Enqueue(..) | Op::Delivered(..) | Op::Redact(_) | Op::Flush
        )
    }

    /// The message rows of an [`Op::Index`].
    fn rows(&self) -> usize {
        match self {
            Op::Index(rows) => rows.len(),
            _ => 0,
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
pub fn run(mut conn: Connection, jobs: mpsc::Receiver<Job>, progress: Arc<Progress>) {
    // Message rows SQLite refused, to try again before anything newer.
    let mut refused: Vec<Job> = Vec::new();
    loop {
        let first = if refused.is_empty() {
            jobs.recv().ok()
        } else {
            match jobs.recv_timeout(RETRY) {
                Ok(job) => Some(job),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        };
        if first.is_none() && refused.is_empty() {
            break;
        }
        let mut batch = std::mem::take(&mut refused);
        batch.extend(first);
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        gather_rows(&jobs, &mut batch);
        let closing = batch.iter().any(|job| matches!(job.op, Op::Close));
        refused = commit(&mut conn, batch, &progress);
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

/// A group of only message rows waits a moment for more (nobody waits
/// for it: the messages were answered from the log), until any other
/// write comes or enough rows are there.
fn gather_rows(jobs: &mpsc::Receiver<Job>, batch: &mut Vec<Job>) {
    if !batch.iter().all(|job| matches!(job.op, Op::Index(_))) {
        return;
    }
    let deadline = Instant::now() + INDEX_DELAY;
    let mut rows: usize = batch.iter().map(|job| job.op.rows()).sum();
    while rows < INDEX_ROWS {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
            return;
        };
        match jobs.recv_timeout(left) {
            Ok(job) => {
                let more = matches!(job.op, Op::Index(_));
                rows += job.op.rows();
                batch.push(job);
                if !more {
                    return;
                }
            }
            Err(_) => return,
        }
    }
}

/// Commits a group and answers its jobs; returns its message rows if
/// SQLite refused them (they are answered already, from the log).
fn commit(conn: &mut Connection, batch: Vec<Job>, progress: &Progress) -> Vec<Job> {
    let outcome = apply_batch(conn, &batch);
    let Err(error) = outcome else {
        let results = outcome.unwrap_or_default();
        if let Some(last) = batch.iter().filter_map(last_row).max() {
            progress.set_indexed(last);
        }
        answer(batch, results);
        return Vec::new();
    };
    tracing::error!(%error, writes = batch.len(), "commit failed; nothing of it was kept");
    let (rows, others): (Vec<Job>, Vec<Job>) = batch
        .into_iter()
        .partition(|job| matches!(job.op, Op::Index(_)));
    if rows.is_empty() {
        let failed = others.iter().map(|_| Err(error.clone())).collect();
        answer(others, failed);
        return Vec::new();
    }
    // The other writes of the group go on without the rows (so that, for
    // one, a write that makes room can be made), but a flush cannot: what
    // it waits for is not there.
    progress.set_refused(error.clone());
    if others.is_empty() {
        return rows;
    }
    let results = match apply_batch(conn, &others) {
        Ok(results) => results,
        Err(error) => others.iter().map(|_| Err(error.clone())).collect(),
    };
    // Made room? Then the rows go in now, before anyone hears of it.
    let rows = match apply_batch(conn, &rows) {
        Ok(_) => {
            if let Some(last) = rows.iter().filter_map(last_row).max() {
                progress.set_indexed(last);
            }
            answer(rows, Vec::new());
            Vec::new()
        }
        Err(_) => rows,
    };
    let results = others
        .iter()
        .zip(results)
        .map(|(job, result)| match job.op {
            Op::Flush if !rows.is_empty() => Err(error.clone()),
            _ => result,
        })
        .collect();
    answer(others, results);
    rows
}

fn answer(batch: Vec<Job>, results: Vec<Result<Done, StoreError>>) {
    for (job, result) in batch.into_iter().zip(results) {
        // The caller may have gone away (its connection closed); the write
        // stands either way.
        let _ = job.reply.send(result);
    }
}

/// The highest message id of an [`Op::Index`].
fn last_row(job: &Job) -> Option<i64> {
    match &job.op {
        Op::Index(rows) => rows.last().map(|row| row.id),
        _ => None,
    }
}

fn apply_batch(
    conn: &mut Connection,
    batch: &[Job],
) -> Result<Vec<Result<Done, StoreError>>, StoreError> {
    let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut results = Vec::with_capacity(batch.len());
    for job in batch {
        if let Op::Index(entries) = &job.op {
            // Acknowledged already: a row that does not go in fails the
            // whole group, to be tried again.
            index(&tx, entries)?;
            results.push(Ok(Done::Unit));
            continue;
        }
        // A single statement is undone on its own if it fails; only a
        // write of several statements needs a savepoint around it (which
        // costs a copy of every page it touches).
        if job.op.is_one_statement() {
            match apply(&tx, &job.op) {
                Ok(done) => results.push(Ok(done)),
                Err(error) => {
                    tracing::warn!(%error, op = ?job.op, "write failed");
                    results.push(Err(StoreError::from(error)));
                }
            }
            continue;
        }
        let mut sp = tx.savepoint()?;
        match apply(&sp, &job.op) {
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

/// Inserts logged messages as multi-row INSERTs (their ids given), and
/// the offline-queue entries of those queued.
pub fn index(conn: &Connection, entries: &[Entry]) -> rusqlite::Result<()> {
    let rows: Vec<append::Row<'_>> = entries.iter().map(append::Row::logged).collect();
    let mut failed = None;
    for run in contiguous(entries) {
        append::insert(conn, entries[run.start].id, &rows[run], |_, inserted| {
            if let Err(error) = inserted
                && failed.is_none()
            {
                failed = Some(error);
            }
        });
    }
    if let Some(error) = failed {
        return Err(error);
    }
    for entry in entries {
        if let Some(user) = &entry.queue_for {
            enqueue(conn, user, entry.id)?;
        }
    }
    Ok(())
}

/// The index ranges of `entries` whose ids follow one another.
fn contiguous(entries: &[Entry]) -> Vec<std::ops::Range<usize>> {
    let mut runs = Vec::new();
    let mut start = 0;
    for i in 1..=entries.len() {
        if i == entries.len() || entries[i].id != entries[i - 1].id + 1 {
            runs.push(start..i);
            start = i;
        }
    }
    runs.retain(|run| !run.is_empty());
    runs
}

/// Applies one write.
fn apply(conn: &Connection, op: &Op) -> rusqlite::Result<Done> {
    Ok(match op {
        Op::Append(_) | Op::AppendRoom(_) | Op::Index(_) => {
            // The log thread turns appends into `Index` runs, which
            // `apply_batch` inserts itself.
            return Err(rusqlite::Error::InvalidQuery);
        }
        Op::Flush => Done::Unit,
        Op::Room(write) => {
            write_room(conn, write)?;
            Done::Unit
        }
        Op::Enqueue(user, id) => {
            enqueue(conn, user.as_str(), id.0 as i64)?;
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

fn enqueue(conn: &Connection, user: &str, id: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT OR IGNORE INTO inbox (user_key, message_id) VALUES (?1, ?2)")?
        .execute(params![user, id])?;
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
