//! The message queries, once for both backends: which rows a history page
//! holds and in what order, and what the offline queue returns. A backend
//! only says how its SQL spells a placeholder (`?1` in SQLite, `$1` in
//! PostgreSQL), runs the statement and maps the rows with
//! [`super::rows::message`].

use super::conversation::{ConversationKey, reader_filter};
use super::rows::MESSAGE_COLUMNS;
use super::{Conversation, HistoryQuery};

/// How a backend writes the `n`th statement parameter (from 1).
pub type Placeholder = fn(usize) -> String;

/// A message by id, unless deleted. Parameter 1: the id.
pub fn message_sql(placeholder: Placeholder) -> String {
    format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = {} AND {}",
        placeholder(1),
        not_redacted()
    )
}

/// Deletes a message's text and marks it deleted. Parameter 1: the id.
pub fn redact_sql(placeholder: Placeholder) -> String {
    format!(
        "UPDATE messages SET text = '', flags = flags | {} WHERE id = {} AND {}",
        super::FLAG_REDACTED,
        placeholder(1),
        not_redacted()
    )
}

/// A history page as one statement and its parameters, in placeholder
/// order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryPlan {
    pub sql: String,
    /// 1: a conversation's column value, or the reader's folded name.
    pub scope: String,
    /// 2: only ids above this one (0: from the first).
    pub after: i64,
    /// 3: only ids below this one.
    pub before: i64,
    /// 4: at most this many rows.
    pub limit: i64,
    /// 5: direct messages only from this time on (ms; 0: all).
    pub direct_since: i64,
}

impl HistoryPlan {
    /// The rules of a page:
    /// - one conversation, or for [`Conversation::Reader`] every
    ///   conversation the reader may read (see [`reader_filter`]);
    /// - ids strictly between `after` and `before`;
    /// - the newest `limit` of them, newest first; but with `after` alone,
    ///   the `limit` right after it (a reader moving forward), still sent
    ///   newest first.
    pub fn new(query: &HistoryQuery, placeholder: Placeholder) -> HistoryPlan {
        let (filter, scope) = match &query.conversation {
            Conversation::Reader(me) => (reader_filter(&placeholder(1)), me.as_str().to_owned()),
            Conversation::Broadcast => one(ConversationKey::Broadcast, placeholder),
            Conversation::Room(room) => one(ConversationKey::Room(*room), placeholder),
            Conversation::Direct(a, b) => one(ConversationKey::direct(*a, *b), placeholder),
        };
        let (after, before, limit) = (placeholder(2), placeholder(3), placeholder(4));
        let since = placeholder(5);
        let not_direct = direct_excluded();
        let rows = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE {filter} AND id > {after} AND id < {before} \
             AND ({not_direct} OR ts >= {since}) AND {}",
            not_redacted()
        );
        let sql = if query.after.is_some() && query.before.is_none() {
            format!("SELECT * FROM ({rows} ORDER BY id ASC LIMIT {limit}) page ORDER BY id DESC")
        } else {
            format!("{rows} ORDER BY id DESC LIMIT {limit}")
        };
        HistoryPlan {
            sql,
            scope,
            after: query.after.map_or(0, |id| id.0 as i64),
            before: query.before.map_or(i64::MAX, |id| id.0 as i64),
            limit: i64::from(query.limit),
            direct_since: query.direct_since.0 as i64,
        }
    }
}

/// The rows that were not deleted (REDACT).
pub fn not_redacted() -> String {
    format!("(messages.flags & {}) = 0", super::FLAG_REDACTED)
}

/// The rows that are no direct message: a broadcast, or a room's.
fn direct_excluded() -> String {
    format!(
        "(conv = '{}' OR substr(conv, 1, 1) = '{}')",
        super::conversation::BROADCAST,
        super::conversation::ROOM_PREFIX
    )
}

/// The filter "in this one conversation" and its parameter.
fn one(conversation: ConversationKey, placeholder: Placeholder) -> (String, String) {
    (
        format!("conv = {}", placeholder(1)),
        conversation.to_column(),
    )
}

/// The offline queue, oldest first. Parameters: 1, the account's folded
/// name; 2, only ids above this one; 3, at most this many rows.
pub fn pending_sql(placeholder: Placeholder) -> String {
    format!(
        "SELECT {MESSAGE_COLUMNS} FROM inbox JOIN messages ON messages.id = inbox.message_id
         WHERE inbox.user_key = {} AND inbox.message_id > {} AND {} ORDER BY inbox.message_id ASC LIMIT {}",
        placeholder(1),
        placeholder(2),
        not_redacted(),
        placeholder(3)
    )
}

#[cfg(test)]
mod tests {
    use chinwag_proto::NameKey;
    use chinwag_proto::server::MessageId;

    use super::*;

    fn numbered(n: usize) -> String {
        format!("${n}")
    }

    fn query(conversation: Conversation) -> HistoryQuery {
        HistoryQuery {
            conversation,
            before: None,
            after: None,
            limit: 5,
            direct_since: chinwag_proto::server::Timestamp(0),
        }
    }

    #[test]
    fn a_page_is_bounded_on_both_sides_and_newest_first() {
        let key = NameKey::fold("alice").unwrap();
        let plan = HistoryPlan::new(
            &HistoryQuery {
                before: Some(MessageId(9)),
                ..query(Conversation::Direct(key, NameKey::fold("Bob").unwrap()))
            },
            numbered,
        );
        assert_eq!(
            (plan.scope.as_str(), plan.after, plan.before, plan.limit),
            ("alice bob", 0, 9, 5)
        );
        assert!(plan.sql.contains("conv = $1 AND id > $2 AND id < $3"));
        assert!(plan.sql.ends_with("ORDER BY id DESC LIMIT $4"));
    }

    #[test]
    fn after_alone_reads_forward_and_turns_the_page() {
        let plan = HistoryPlan::new(
            &HistoryQuery {
                after: Some(MessageId(3)),
                ..query(Conversation::Broadcast)
            },
            numbered,
        );
        assert_eq!(
            (plan.scope.as_str(), plan.after, plan.before),
            ("*", 3, i64::MAX)
        );
        assert!(
            plan.sql
                .contains("ORDER BY id ASC LIMIT $4) page ORDER BY id DESC")
        );
    }

    #[test]
    fn a_reader_is_bound_by_its_name() {
        let plan = HistoryPlan::new(
            &query(Conversation::Reader(NameKey::fold("Bob").unwrap())),
            numbered,
        );
        assert_eq!(plan.scope, "bob");
        assert!(plan.sql.contains("room_members"));
    }
}
