//! Versioned schema migrations. The database's `user_version` is the number
//! of migrations applied; each start applies the missing ones in order, each
//! in its own transaction. Append new migrations; never edit an old one.

use rusqlite::{Connection, params};

use crate::StoreError;
use crate::rows::skeleton_of_key;

/// Migration `i` brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "
    CREATE TABLE messages (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        ts        INTEGER NOT NULL,
        conv      TEXT NOT NULL,     -- '*' or the two folded names, 'a b'
        sender    TEXT NOT NULL,
        recipient TEXT NOT NULL,     -- '' for a broadcast
        text      TEXT NOT NULL
    );
    CREATE INDEX messages_by_conv ON messages (conv, id);
    CREATE TABLE inbox (
        user_key   TEXT NOT NULL,
        message_id INTEGER NOT NULL REFERENCES messages (id),
        PRIMARY KEY (user_key, message_id)
    ) WITHOUT ROWID;
    CREATE TABLE accounts (
        name_key      TEXT PRIMARY KEY,
        name          TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        admin         INTEGER NOT NULL DEFAULT 0,
        created_at    INTEGER NOT NULL
    );
    CREATE TABLE mutes (
        name_key TEXT PRIMARY KEY,
        until    INTEGER NOT NULL,   -- a mute state on the wire
        by       TEXT NOT NULL,
        reason   TEXT NOT NULL
    );
    CREATE TABLE bans (
        target TEXT PRIMARY KEY,     -- a folded name or an IP address
        kind   INTEGER NOT NULL,     -- 0 name, 1 address
        until  INTEGER NOT NULL,     -- a mute state on the wire
        by     TEXT NOT NULL,
        reason TEXT NOT NULL,
        at     INTEGER NOT NULL
    );
    CREATE TABLE audit (
        id     INTEGER PRIMARY KEY AUTOINCREMENT,
        ts     INTEGER NOT NULL,
        actor  TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        until  INTEGER NOT NULL,
        reason TEXT NOT NULL
    );
    ",
    // 2: rooms. Messages to a room go to `messages` under conv '#room'.
    "
    CREATE TABLE rooms (
        room_key TEXT PRIMARY KEY,   -- the folded name without '#'
        name     TEXT NOT NULL,      -- as created, with '#'
        topic    TEXT NOT NULL,
        mode     INTEGER NOT NULL,   -- ROOM_MODE flags
        password TEXT                -- NULL: none
    );
    CREATE TABLE room_members (
        room_key TEXT NOT NULL REFERENCES rooms (room_key) ON DELETE CASCADE,
        name_key TEXT NOT NULL,
        name     TEXT NOT NULL,
        role     INTEGER NOT NULL,   -- 1 member, 2 operator, 3 owner
        since    INTEGER NOT NULL,
        PRIMARY KEY (room_key, name_key)
    ) WITHOUT ROWID;
    CREATE TABLE room_mutes (
        room_key TEXT NOT NULL REFERENCES rooms (room_key) ON DELETE CASCADE,
        name_key TEXT NOT NULL,
        until    INTEGER NOT NULL,   -- a mute state on the wire
        PRIMARY KEY (room_key, name_key)
    ) WITHOUT ROWID;
    ",
    // 3: the confusable skeleton of each account's name (UTS #39), to
    // refuse a new name that looks like an account's. Existing rows are
    // filled in Rust right after: see `fill_skeletons`.
    "
    ALTER TABLE accounts ADD COLUMN name_skeleton TEXT NOT NULL DEFAULT '';
    CREATE INDEX accounts_by_skeleton ON accounts (name_skeleton);
    ",
    // 4: read markers: how far each account has read each conversation
    // (`conv` as in `messages`), so unread counts follow it from session
    // to session.
    "
    CREATE TABLE read_markers (
        account    TEXT NOT NULL,    -- the folded account name
        conv       TEXT NOT NULL,
        message_id INTEGER NOT NULL,
        PRIMARY KEY (account, conv)
    ) WITHOUT ROWID;
    ",
    // 5: whom each account ignores (IGNORE): kept for the account, so its
    // every session is spared them.
    "
    CREATE TABLE ignores (
        account TEXT NOT NULL,       -- the folded account name
        ignored TEXT NOT NULL,       -- the folded name ignored
        name    TEXT NOT NULL,       -- its spelling when ignored
        PRIMARY KEY (account, ignored)
    ) WITHOUT ROWID;
    ",
    // read markers by time (MARK_READ_AT, IRC's read-marker): the time
    // each marker reads up to, beside its message id; 0 for none.
    "
    ALTER TABLE read_markers ADD COLUMN ts INTEGER NOT NULL DEFAULT 0;
    ",
    // metadata (METADATA_SET, IRC's draft/metadata-3): each account's
    // keys and values.
    "
    CREATE TABLE metadata (
        account TEXT NOT NULL,       -- the folded account name
        key     TEXT NOT NULL,
        value   TEXT NOT NULL,
        PRIMARY KEY (account, key)
    ) WITHOUT ROWID;
    ",
    // message flags: 1 a NOTICE, 2 deleted (REDACT: the text is erased,
    // history skips it).
    "
    ALTER TABLE messages ADD COLUMN flags INTEGER NOT NULL DEFAULT 0;
    ",
    // the room settings that IRC's channel modes express: a member
    // limit, the creation time, who set the topic and when, voiced
    // members, and the ban, mute and exception masks. Stored rooms keep
    // what they did before the flags existed: members only sending (8)
    // and operators only setting the topic (32).
    "
    ALTER TABLE rooms ADD COLUMN member_limit INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rooms ADD COLUMN created INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rooms ADD COLUMN topic_by TEXT NOT NULL DEFAULT '';
    ALTER TABLE rooms ADD COLUMN topic_ts INTEGER NOT NULL DEFAULT 0;
    UPDATE rooms SET mode = mode | 40;
    ALTER TABLE room_members ADD COLUMN voiced INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE room_masks (
        room_key TEXT NOT NULL,
        list     INTEGER NOT NULL,   -- 0 ban, 1 ban exception, 2 invite exception, 3 mute, 4 mute exception
        mask     TEXT NOT NULL,      -- nick!user@host, folded to lower case
        set_by   TEXT NOT NULL,
        set_at   INTEGER NOT NULL,
        PRIMARY KEY (room_key, list, mask)
    ) WITHOUT ROWID;
    ",
];

/// The schema version this build creates.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

/// Brings the database up to [`LATEST`]; refuses one from a newer build.
pub fn apply(conn: &mut Connection) -> Result<i64, StoreError> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if found > LATEST {
        return Err(StoreError::TooNew {
            found,
            known: LATEST,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        if index + 1 == WITH_SKELETONS {
            fill_skeletons(&tx)?;
        }
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
        tracing::info!(version = index + 1, "applied schema migration");
    }
    Ok(found)
}

/// The migration that adds `accounts.name_skeleton`.
const WITH_SKELETONS: usize = 3;

/// Computes the skeleton of every account stored before the column existed.
fn fill_skeletons(tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
    let keys = tx
        .prepare("SELECT name_key FROM accounts")?
        .query_map([], |row| row.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    let mut fill = tx.prepare("UPDATE accounts SET name_skeleton = ?2 WHERE name_key = ?1")?;
    for key in keys {
        fill.execute(params![key, skeleton_of_key(&key)])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_once_and_refuses_newer() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(apply(&mut conn).unwrap(), 0);
        assert_eq!(apply(&mut conn).unwrap(), LATEST, "nothing to do twice");
        conn.pragma_update(None, "user_version", LATEST + 1)
            .unwrap();
        assert_eq!(
            apply(&mut conn).unwrap_err(),
            StoreError::TooNew {
                found: LATEST + 1,
                known: LATEST
            }
        );
    }
}
