//! Store records as the native protocol sends them. The store returns its
//! own records; the server turns them into frames here, where a history
//! page or the offline queue is written to a client.

use chinwag_proto::server::{Message, MessageKind};

use crate::store::{ConversationKey, StoredMessage};

/// A stored message as a MESSAGE (or a HISTORY_PAGE's entry).
pub fn message(stored: &StoredMessage) -> Message {
    Message {
        id: stored.id,
        ts: stored.ts,
        kind: kind(&stored.conversation),
        from: stored.from.as_str().into(),
        to: stored.to.as_str().into(),
        text: stored.text.as_str().into(),
    }
}

fn kind(conversation: &ConversationKey) -> MessageKind {
    match conversation {
        ConversationKey::Broadcast => MessageKind::Broadcast,
        ConversationKey::Direct(_) => MessageKind::Direct,
        ConversationKey::Room(_) => MessageKind::Room,
    }
}
