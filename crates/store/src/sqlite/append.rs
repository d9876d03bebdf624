//! Message rows, written many to a statement.
//!
//! The log thread gives every message its id itself (the next after the
//! highest ever used, which `sqlite_sequence` keeps for the AUTOINCREMENT
//! column), so that a run of logged messages goes into `messages` as a
//! few multi-row INSERTs, each with its ids known in advance. Measured, that halves the writer's instructions per message
//! against one INSERT each: a statement's setup, its AUTOINCREMENT
//! bookkeeping (a read and a write of `sqlite_sequence`) and the binding
//! machinery are paid once per chunk. A chunk that fails is undone by
//! SQLite as a whole; its rows are then inserted one at a time, so one bad
//! message fails alone, as it did with one INSERT each.

use std::sync::OnceLock;

use rusqlite::Connection;

use super::log::Entry;

/// The sizes of the multi-row statements, largest first; a run of rows is
/// cut into as many of the largest as fit, then the next, down to one row.
const CHUNKS: [usize; 3] = [64, 8, 1];
/// Columns of a row, as bound.
const COLUMNS: usize = 7;

/// One message to insert.
pub struct Row<'a> {
    pub ts: i64,
    pub conv: &'a str,
    pub sender: &'a str,
    pub recipient: &'a str,
    pub text: &'a str,
    pub flags: i64,
}

impl<'a> Row<'a> {
    /// The row of a message from the log.
    pub fn logged(entry: &'a Entry) -> Row<'a> {
        Row {
            ts: entry.ts,
            conv: &entry.conv,
            sender: &entry.sender,
            recipient: &entry.recipient,
            text: &entry.text,
            flags: entry.flags,
        }
    }
}

/// The id the next message gets: one more than any id `messages` ever
/// held (deleted rows included), read once per group commit.
pub fn next_id(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "SELECT max(
             coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0),
             coalesce((SELECT max(id) FROM messages), 0)
         ) + 1",
    )?
    .query_row([], |row| row.get(0))
}

/// Inserts `rows` with the ids `first..`, in order; calls `done` with each
/// row's index and outcome, in order.
pub fn insert(
    conn: &Connection,
    first: i64,
    rows: &[Row<'_>],
    mut done: impl FnMut(usize, rusqlite::Result<i64>),
) {
    let mut at = 0;
    while at < rows.len() {
        let size = CHUNKS
            .into_iter()
            .find(|&size| size <= rows.len() - at)
            .unwrap_or(1);
        let chunk = &rows[at..at + size];
        let chunk_first = first + at as i64;
        match insert_chunk(conn, chunk_first, chunk) {
            Ok(()) => {
                for i in 0..size {
                    done(at + i, Ok(chunk_first + i as i64));
                }
            }
            Err(error) if size == 1 => done(at, Err(error)),
            Err(_) => {
                for (i, row) in chunk.iter().enumerate() {
                    let id = chunk_first + i as i64;
                    done(
                        at + i,
                        insert_chunk(conn, id, std::slice::from_ref(row)).map(|()| id),
                    );
                }
            }
        }
        at += size;
    }
}

fn insert_chunk(conn: &Connection, first: i64, rows: &[Row<'_>]) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(sql(rows.len()))?;
    // Bound in place, without collecting the values first.
    for (i, (row, id)) in rows.iter().zip(first..).enumerate() {
        let at = i * COLUMNS;
        stmt.raw_bind_parameter(at + 1, id)?;
        stmt.raw_bind_parameter(at + 2, row.ts)?;
        stmt.raw_bind_parameter(at + 3, row.conv)?;
        stmt.raw_bind_parameter(at + 4, row.sender)?;
        stmt.raw_bind_parameter(at + 5, row.recipient)?;
        stmt.raw_bind_parameter(at + 6, row.text)?;
        stmt.raw_bind_parameter(at + 7, row.flags)?;
    }
    stmt.raw_execute()?;
    Ok(())
}

/// The INSERT of `rows` rows (one of [`CHUNKS`]).
fn sql(rows: usize) -> &'static str {
    static SQL: OnceLock<Vec<String>> = OnceLock::new();
    let all = SQL.get_or_init(|| {
        CHUNKS
            .iter()
            .map(|&size| {
                let values = (0..size)
                    .map(|row| {
                        let first = row * COLUMNS + 1;
                        let params = (first..first + COLUMNS)
                            .map(|n| format!("?{n}"))
                            .collect::<Vec<_>>()
                            .join(", ");
                        format!("({params})")
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                format!(
                    "INSERT INTO messages (id, ts, conv, sender, recipient, text, flags) VALUES {values}"
                )
            })
            .collect()
    });
    let index = CHUNKS.iter().position(|&size| size == rows).unwrap_or(0);
    &all[index]
}
