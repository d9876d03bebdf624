//! Versioned schema migrations, the PostgreSQL spelling of the SQLite
//! backend's (same tables, same columns). `schema_version` holds the number
//! of migrations applied; they run in one transaction under an advisory
//! lock, so nodes starting at once do not apply one twice. Append new
//! migrations; never edit an old one.

use crate::StoreError;
use crate::rows::skeleton_of_key;

use super::failed;

/// Migration `i` brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    r#"
    CREATE TABLE messages (
        id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        ts        BIGINT NOT NULL,
        conv      TEXT NOT NULL,     -- '*' or the two folded names, 'a b'
        sender    TEXT NOT NULL,
        recipient TEXT NOT NULL,     -- '' for a broadcast
        text      TEXT NOT NULL
    );
    CREATE INDEX messages_by_conv ON messages (conv, id);
    CREATE TABLE inbox (
        user_key   TEXT NOT NULL,
        message_id BIGINT NOT NULL REFERENCES messages (id),
        PRIMARY KEY (user_key, message_id)
    );
    CREATE INDEX inbox_by_message ON inbox (message_id);
    CREATE TABLE accounts (
        name_key      TEXT PRIMARY KEY,
        name          TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        admin         BOOLEAN NOT NULL DEFAULT FALSE,
        created_at    BIGINT NOT NULL
    );
    CREATE TABLE mutes (
        name_key TEXT PRIMARY KEY,
        "until"  BIGINT NOT NULL,    -- a mute state on the wire
        "by"     TEXT NOT NULL,
        reason   TEXT NOT NULL
    );
    CREATE TABLE bans (
        target  TEXT PRIMARY KEY,    -- a folded name or an IP address
        kind    SMALLINT NOT NULL,   -- 0 name, 1 address
        "until" BIGINT NOT NULL,     -- a mute state on the wire
        "by"    TEXT NOT NULL,
        reason  TEXT NOT NULL,
        "at"    BIGINT NOT NULL
    );
    CREATE TABLE audit (
        id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        ts      BIGINT NOT NULL,
        actor   TEXT NOT NULL,
        action  TEXT NOT NULL,
        target  TEXT NOT NULL,
        "until" BIGINT NOT NULL,
        reason  TEXT NOT NULL
    );
    "#,
    // 2: rooms. Messages to a room go to `messages` under conv '#room'.
    r#"
    CREATE TABLE rooms (
        room_key TEXT PRIMARY KEY,   -- the folded name without '#'
        name     TEXT NOT NULL,      -- as created, with '#'
        topic    TEXT NOT NULL,
        mode     SMALLINT NOT NULL,  -- ROOM_MODE flags
        password TEXT                -- NULL: none
    );
    CREATE TABLE room_members (
        room_key TEXT NOT NULL REFERENCES rooms (room_key) ON DELETE CASCADE,
        name_key TEXT NOT NULL,
        name     TEXT NOT NULL,
        role     SMALLINT NOT NULL,  -- 1 member, 2 operator, 3 owner
        since    BIGINT NOT NULL,
        PRIMARY KEY (room_key, name_key)
    );
    CREATE TABLE room_mutes (
        room_key TEXT NOT NULL REFERENCES rooms (room_key) ON DELETE CASCADE,
        name_key TEXT NOT NULL,
        "until"  BIGINT NOT NULL,    -- a mute state on the wire
        PRIMARY KEY (room_key, name_key)
    );
    "#,
    // 3: the confusable skeleton of each account's name (UTS #39), to
    // refuse a new name that looks like an account's. Existing rows are
    // filled in Rust right after: see `fill_skeletons`.
    r#"
    ALTER TABLE accounts ADD COLUMN name_skeleton TEXT NOT NULL DEFAULT '';
    CREATE INDEX accounts_by_skeleton ON accounts (name_skeleton);
    "#,
    // 4: read markers: how far each account has read each conversation
    // (`conv` as in `messages`).
    r#"
    CREATE TABLE read_markers (
        account    TEXT NOT NULL,
        conv       TEXT NOT NULL,
        message_id BIGINT NOT NULL,
        PRIMARY KEY (account, conv)
    );
    "#,
    // 5: whom each account ignores (IGNORE).
    r#"
    CREATE TABLE ignores (
        account TEXT NOT NULL,
        ignored TEXT NOT NULL,
        name    TEXT NOT NULL,
        PRIMARY KEY (account, ignored)
    );
    "#,
    // read markers by time (MARK_READ_AT, IRC's read-marker).
    r#"
    ALTER TABLE read_markers ADD COLUMN ts BIGINT NOT NULL DEFAULT 0;
    "#,
    // metadata (METADATA_SET, IRC's draft/metadata-3).
    r#"
    CREATE TABLE metadata (
        account TEXT NOT NULL,
        key     TEXT NOT NULL,
        value   TEXT NOT NULL,
        PRIMARY KEY (account, key)
    );
    "#,
    // message flags: 1 a NOTICE, 2 deleted (REDACT).
    r#"
    ALTER TABLE messages ADD COLUMN flags INTEGER NOT NULL DEFAULT 0;
    "#,
    // the room settings that IRC's channel modes express (as in the
    // SQLite migrations).
    r#"
    ALTER TABLE rooms ADD COLUMN member_limit BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE rooms ADD COLUMN created BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE rooms ADD COLUMN topic_by TEXT NOT NULL DEFAULT '';
    ALTER TABLE rooms ADD COLUMN topic_ts BIGINT NOT NULL DEFAULT 0;
    UPDATE rooms SET mode = mode | 40;
    ALTER TABLE room_members ADD COLUMN voiced BOOLEAN NOT NULL DEFAULT FALSE;
    CREATE TABLE room_masks (
        room_key TEXT NOT NULL,
        list     SMALLINT NOT NULL,
        mask     TEXT NOT NULL,
        set_by   TEXT NOT NULL,
        set_at   BIGINT NOT NULL,
        PRIMARY KEY (room_key, list, mask)
    );
    "#,
];

/// The schema version this build creates.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

/// "chinwag" in ASCII, the same in every chinwagd: the advisory lock that
/// serialises migrations.
const LOCK: i64 = 0x0063_6869_6e77_6167;

/// Brings the database up to [`LATEST`]; refuses one from a newer build.
/// Returns the version found.
pub async fn apply(client: &mut deadpool_postgres::Object) -> Result<i64, StoreError> {
    let tx = client.transaction().await.map_err(failed)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK])
        .await
        .map_err(failed)?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
        .await
        .map_err(failed)?;
    let found: i64 = tx
        .query_opt("SELECT version FROM schema_version", &[])
        .await
        .map_err(failed)?
        .map_or(0, |row| row.get(0));
    if found > LATEST {
        return Err(StoreError::TooNew {
            found,
            known: LATEST,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.batch_execute(sql).await.map_err(failed)?;
        if index + 1 == WITH_SKELETONS {
            fill_skeletons(&tx).await?;
        }
        tracing::info!(version = index + 1, "applied schema migration");
    }
    if found < LATEST {
        tx.execute("DELETE FROM schema_version", &[])
            .await
            .map_err(failed)?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES ($1)",
            &[&LATEST],
        )
        .await
        .map_err(failed)?;
    }
    tx.commit().await.map_err(failed)?;
    Ok(found)
}

/// The migration that adds `accounts.name_skeleton`.
const WITH_SKELETONS: usize = 3;

/// Computes the skeleton of every account stored before the column existed.
async fn fill_skeletons(tx: &deadpool_postgres::Transaction<'_>) -> Result<(), StoreError> {
    let rows = tx
        .query("SELECT name_key FROM accounts", &[])
        .await
        .map_err(failed)?;
    for row in rows {
        let key: String = row.get(0);
        tx.execute(
            "UPDATE accounts SET name_skeleton = $2 WHERE name_key = $1",
            &[&key, &skeleton_of_key(&key)],
        )
        .await
        .map_err(failed)?;
    }
    Ok(())
}
