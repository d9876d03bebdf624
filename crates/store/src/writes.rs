//! The writes whose rules both backends share: what a change to a stored
//! room does, and what pruning deletes. Each is built here as statements
//! that SQLite and PostgreSQL both run; a backend binds the [`Value`]s and
//! runs the statements in order, in one transaction.

use chinwag_proto::server::{MuteState, Timestamp};
use chinwag_proto::{NameKey, RoomKey};

use super::query::Placeholder;
use super::rows::mute_column;
use super::{Retention, RoomWrite};

/// A statement parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// Any integer column (the backend fits it to the column's width).
    Int(i64),
    Text(String),
    /// A text column that may be NULL.
    MaybeText(Option<String>),
    /// A flag (SQLite: an integer 0 or 1; PostgreSQL: a BOOLEAN).
    Bool(bool),
}

/// One statement and its parameters, in placeholder order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<Value>,
}

/// The first `count` placeholders, as a list: `?1, ?2, ?3`.
fn first(count: usize, placeholder: Placeholder) -> String {
    (1..=count).map(placeholder).collect::<Vec<_>>().join(", ")
}

/// What one [`RoomWrite`] runs.
pub fn room_write(write: &RoomWrite, placeholder: Placeholder) -> Vec<Statement> {
    let p = placeholder;
    let room = |key: &RoomKey| Value::Text(key.as_str().to_owned());
    let user = |key: &NameKey| Value::Text(key.as_str().to_owned());
    match write {
        RoomWrite::Meta(meta) => vec![Statement {
            sql: format!(
                "INSERT INTO rooms (room_key, name, topic, mode, password,
                   member_limit, created, topic_by, topic_ts)
                 VALUES ({})
                 ON CONFLICT (room_key) DO UPDATE SET
                   topic = excluded.topic, mode = excluded.mode, password = excluded.password,
                   member_limit = excluded.member_limit, topic_by = excluded.topic_by,
                   topic_ts = excluded.topic_ts",
                first(9, p)
            ),
            params: vec![
                // The server checks room names, so every one has a key.
                Value::Text(
                    RoomKey::fold(&meta.name).map_or(String::new(), |key| key.as_str().to_owned()),
                ),
                Value::Text(meta.name.clone()),
                Value::Text(meta.topic.clone()),
                Value::Int(i64::from(meta.mode)),
                Value::MaybeText(meta.password.clone()),
                Value::Int(i64::from(meta.limit)),
                Value::Int(meta.created.0 as i64),
                Value::Text(meta.topic_by.clone()),
                Value::Int(meta.topic_ts.0 as i64),
            ],
        }],
        // Members and mutes go with it: said explicitly rather than left to
        // ON DELETE CASCADE, which SQLite applies only with a pragma.
        RoomWrite::Delete(key) => ["room_members", "room_mutes", "room_masks", "rooms"]
            .into_iter()
            .map(|table| Statement {
                sql: format!("DELETE FROM {table} WHERE room_key = {}", p(1)),
                params: vec![room(key)],
            })
            .collect(),
        RoomWrite::Member(key, member) => vec![Statement {
            sql: format!(
                "INSERT INTO room_members (room_key, name_key, name, role, since, voiced)
                 VALUES ({})
                 ON CONFLICT (room_key, name_key) DO UPDATE SET
                   role = excluded.role, voiced = excluded.voiced",
                first(6, p)
            ),
            params: vec![
                room(key),
                Value::Text(
                    NameKey::fold(&member.name)
                        .map_or(String::new(), |key| key.as_str().to_owned()),
                ),
                Value::Text(member.name.clone()),
                Value::Int(i64::from(member.role as u8)),
                Value::Int(member.since as i64),
                Value::Bool(member.voiced),
            ],
        }],
        RoomWrite::RemoveMember(key, name) => vec![Statement {
            sql: format!(
                "DELETE FROM room_members WHERE room_key = {} AND name_key = {}",
                p(1),
                p(2)
            ),
            params: vec![room(key), user(name)],
        }],
        RoomWrite::Mute(key, name, MuteState::NotMuted) => vec![Statement {
            sql: format!(
                "DELETE FROM room_mutes WHERE room_key = {} AND name_key = {}",
                p(1),
                p(2)
            ),
            params: vec![room(key), user(name)],
        }],
        RoomWrite::Mute(key, name, until) => vec![Statement {
            sql: format!(
                r#"INSERT INTO room_mutes (room_key, name_key, "until") VALUES ({})
                   ON CONFLICT (room_key, name_key) DO UPDATE SET "until" = excluded."until""#,
                first(3, p)
            ),
            params: vec![room(key), user(name), Value::Int(mute_column(*until))],
        }],
        RoomWrite::Mask(key, mask) => vec![Statement {
            sql: format!(
                "INSERT INTO room_masks (room_key, list, mask, set_by, set_at) VALUES ({})
                 ON CONFLICT (room_key, list, mask) DO NOTHING",
                first(5, p)
            ),
            params: vec![
                room(key),
                Value::Int(i64::from(mask.list as u8)),
                Value::Text(mask.mask.clone()),
                Value::Text(mask.set_by.clone()),
                Value::Int(mask.set_at.0 as i64),
            ],
        }],
        RoomWrite::Unmask(key, list, mask) => vec![Statement {
            sql: format!(
                "DELETE FROM room_masks WHERE room_key = {} AND list = {} AND mask = {}",
                p(1),
                p(2),
                p(3)
            ),
            params: vec![
                room(key),
                Value::Int(i64::from(*list as u8)),
                Value::Text(mask.clone()),
            ],
        }],
    }
}

/// What pruning runs: `messages` delete history (their row counts are the
/// number pruned), `moderation` deletes ended mutes and bans.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrunePlan {
    pub messages: Vec<Statement>,
    pub moderation: Vec<Statement>,
}

/// The retention rules: messages older than `max_age`, and all but the
/// newest `max_count`, are deleted, except those still waiting in an
/// offline queue; a timed mute or ban ends at its `until` (-1, "for good",
/// never does).
pub fn prune(retention: &Retention, now: Timestamp, placeholder: Placeholder) -> PrunePlan {
    let p = placeholder;
    let not_queued = "id NOT IN (SELECT message_id FROM inbox)";
    let mut messages = Vec::new();
    if let Some(age) = retention.max_age {
        let cutoff = now.0.saturating_sub(age.as_millis() as u64) as i64;
        messages.push(Statement {
            sql: format!("DELETE FROM messages WHERE ts < {} AND {not_queued}", p(1)),
            params: vec![Value::Int(cutoff)],
        });
    }
    if let Some(count) = retention.max_count {
        messages.push(Statement {
            sql: format!(
                "DELETE FROM messages
                 WHERE id <= (SELECT id FROM messages ORDER BY id DESC LIMIT 1 OFFSET {})
                 AND {not_queued}",
                p(1)
            ),
            params: vec![Value::Int(count as i64)],
        });
    }
    let moderation = ["mutes", "bans"]
        .into_iter()
        .map(|table| Statement {
            sql: format!(
                r#"DELETE FROM {table} WHERE "until" > 0 AND "until" <= {}"#,
                p(1)
            ),
            params: vec![Value::Int(now.0 as i64)],
        })
        .collect();
    PrunePlan {
        messages,
        moderation,
    }
}
