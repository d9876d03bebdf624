//! Message appends in groups: one task takes every append waiting (up to
//! [`MAX_BATCH`]) and writes them with one multi-row INSERT (arrays bound
//! as parameters and `unnest`ed), so a group costs PostgreSQL one commit
//! and a few round trips instead of a transaction each. Appends that put
//! the message in an offline queue add one INSERT into `inbox` to the same
//! transaction. Answers go out once the group is committed, so an `Ok`
//! still means "committed".
//!
//! The ids are taken from the column's sequence first (one statement for
//! the whole group), so each append knows its row's id without relying on
//! the order in which a multi-row INSERT returns rows. If the database
//! refuses the group (an error in a row), each append is retried on its
//! own, so one bad message fails alone; if the database cannot be reached,
//! the whole group fails, and nothing of it was written.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chinwag_proto::server::MessageId;
use deadpool_postgres::Pool;
use tokio::sync::{mpsc, oneshot};

use super::failed;
use crate::{NewMessage, NewRoomMessage, StoreError};

/// Most appends written together.
const MAX_BATCH: usize = 512;

/// One message to store, as its row.
pub struct Append {
    pub ts: i64,
    pub conv: String,
    pub sender: String,
    pub recipient: String,
    pub text: String,
    /// The `flags` column.
    pub flags: i32,
    /// Also put it in this account's offline queue.
    pub queue_for: Option<String>,
    pub reply: oneshot::Sender<Result<MessageId, StoreError>>,
}

impl Append {
    pub fn direct(m: NewMessage, reply: oneshot::Sender<Result<MessageId, StoreError>>) -> Append {
        Append {
            ts: m.ts.0 as i64,
            conv: m.conversation().to_column(),
            sender: m.from.as_str().to_owned(),
            recipient: m.recipient().to_owned(),
            queue_for: m.queue_for.map(|key| key.as_str().to_owned()),
            flags: flags(m.notice),
            text: m.text,
            reply,
        }
    }

    pub fn room(
        m: NewRoomMessage,
        reply: oneshot::Sender<Result<MessageId, StoreError>>,
    ) -> Append {
        Append {
            ts: m.ts.0 as i64,
            conv: m.conversation().to_column(),
            sender: m.from.as_str().to_owned(),
            recipient: m.room.as_str().to_owned(),
            flags: flags(m.notice),
            text: m.text,
            queue_for: None,
            reply,
        }
    }
}

/// The `flags` column of a new message.
fn flags(notice: bool) -> i32 {
    if notice { crate::FLAG_NOTICE as i32 } else { 0 }
}

/// Writes appends until every sender is gone.
pub async fn run(
    pool: Pool,
    closed: Arc<AtomicBool>,
    mut appends: mpsc::UnboundedReceiver<Append>,
) {
    let mut batch = Vec::new();
    while appends.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let results = if closed.load(Ordering::Acquire) {
            vec![Err(StoreError::Closed); batch.len()]
        } else {
            write_group(&pool, &batch).await
        };
        for (append, result) in batch.drain(..).zip(results) {
            // The caller may have gone away; the write stands either way.
            let _ = append.reply.send(result);
        }
    }
}

/// Writes a group, or each of its appends alone if the database refuses
/// the group; one result per append, in order.
async fn write_group(pool: &Pool, batch: &[Append]) -> Vec<Result<MessageId, StoreError>> {
    let all_failed = |error: StoreError| vec![Err(error); batch.len()];
    let mut client = match pool.get().await {
        Ok(client) => client,
        Err(e) => return all_failed(StoreError::Failed(format!("cannot reach PostgreSQL: {e}"))),
    };
    let ids = match take_ids(&client, batch.len()).await {
        Ok(ids) => ids,
        Err(error) => return all_failed(failed(error)),
    };
    match insert(&mut client, batch, &ids).await {
        Ok(()) => return ids.into_iter().map(|id| Ok(MessageId(id as u64))).collect(),
        Err(error) if batch.len() == 1 || error.as_db_error().is_none() => {
            return all_failed(failed(error));
        }
        Err(error) => tracing::warn!(%error, "a group of appends was refused; retrying each alone"),
    }
    let mut results = Vec::with_capacity(batch.len());
    for (append, &id) in batch.iter().zip(&ids) {
        let one = insert(&mut client, std::slice::from_ref(append), &[id]).await;
        results.push(one.map(|()| MessageId(id as u64)).map_err(failed));
    }
    results
}

/// `count` new ids from the column's sequence, in increasing order.
async fn take_ids(
    client: &deadpool_postgres::Object,
    count: usize,
) -> Result<Vec<i64>, tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(
            "SELECT nextval(pg_get_serial_sequence('messages', 'id'))
             FROM generate_series(1, $1::bigint)",
        )
        .await?;
    let rows = client.query(&stmt, &[&(count as i64)]).await?;
    let mut ids: Vec<i64> = rows.iter().map(|row| row.get(0)).collect();
    ids.sort_unstable();
    Ok(ids)
}

/// Inserts the rows (and their offline-queue entries) with the given ids,
/// in one transaction.
async fn insert(
    client: &mut deadpool_postgres::Object,
    batch: &[Append],
    ids: &[i64],
) -> Result<(), tokio_postgres::Error> {
    let column = |pick: fn(&Append) -> &str| batch.iter().map(pick).collect::<Vec<_>>();
    let ts: Vec<i64> = batch.iter().map(|a| a.ts).collect();
    let conv = column(|a| &a.conv);
    let sender = column(|a| &a.sender);
    let recipient = column(|a| &a.recipient);
    let text = column(|a| &a.text);
    let flags: Vec<i32> = batch.iter().map(|a| a.flags).collect();
    let (queued_users, queued_ids): (Vec<&str>, Vec<i64>) = batch
        .iter()
        .zip(ids)
        .filter_map(|(a, &id)| Some((a.queue_for.as_deref()?, id)))
        .unzip();
    let tx = client.transaction().await?;
    let stmt = tx
        .prepare_cached(
            "INSERT INTO messages (id, ts, conv, sender, recipient, text, flags)
             OVERRIDING SYSTEM VALUE
             SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::integer[])",
        )
        .await?;
    tx.execute(
        &stmt,
        &[&ids, &ts, &conv, &sender, &recipient, &text, &flags],
    )
    .await?;
    if !queued_ids.is_empty() {
        let stmt = tx
            .prepare_cached(
                "INSERT INTO inbox (user_key, message_id)
                 SELECT * FROM unnest($1::text[], $2::bigint[])
                 ON CONFLICT DO NOTHING",
            )
            .await?;
        tx.execute(&stmt, &[&queued_users, &queued_ids]).await?;
    }
    tx.commit().await
}
