//! Store records as the native protocol sends them. The store returns its
//! own records; the server turns them into frames here, where a history
//! page, the offline queue or an audit page is written to a client.

use chinwag_proto::server::{AuditEntry, Message, MessageKind};

use crate::store::{AuditLogEntry, ConversationKey, StoredMessage};

/// A stored message as a MESSAGE (or a HISTORY_PAGE's entry).
pub fn message(stored: &StoredMessage) -> Message {
    Message {
        id: stored.id,
        ts: stored.ts,
        kind: kind(&stored.conversation),
        from: stored.from.as_str().into(),
        to: stored.to.as_str().into(),
        text: stored.text.as_str().into(),
        notice: stored.notice,
        // Client tags are relayed, not stored.
        tags: Default::default(),
    }
}

pub fn kind(conversation: &ConversationKey) -> MessageKind {
    match conversation {
        ConversationKey::Broadcast => MessageKind::Broadcast,
        ConversationKey::Direct(_) => MessageKind::Direct,
        ConversationKey::Room(_) => MessageKind::Room,
    }
}

/// An entry of the audit log as an AUDIT_PAGE's entry.
pub fn audit_entry(logged: &AuditLogEntry) -> AuditEntry {
    let record = &logged.record;
    AuditEntry {
        id: logged.id,
        ts: record.ts,
        actor: record.actor.as_str().into(),
        action: record.action.as_str().into(),
        target: record.target.as_str().into(),
        until: record.until,
        reason: record.reason.as_str().into(),
    }
}
