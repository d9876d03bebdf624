//! Typed events: what goes into a session's outbound queue.
//!
//! An event (a message, a notice, a room notice) is built once by whoever
//! causes it and shared, behind an `Arc`, by every recipient's queue. It
//! stays typed all the way to the edge: each front end renders it in its
//! own wire format when it drains its queue, and the rendering is cached in
//! the event, so a fan-out to a thousand native clients encodes it once.
//! Nothing reads fields back out of encoded bytes: the queue's catch-up
//! logic asks the event for its message id and kind.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use chinwag_proto::server::{Message, MessageId, MessageKind};
use chinwag_proto::wire::Encode;
use chinwag_proto::{RequestId, ServerFrame};

/// One event for one or many recipients.
#[derive(Debug)]
pub struct Event {
    frame: ServerFrame,
    /// What the event weighs in a queue's byte bound, from its content.
    size: usize,
    /// The native protocol's rendering, made by the first session that
    /// writes it and shared by the others.
    native: OnceLock<Bytes>,
    /// The WebSocket front end's rendering (JSON, by `chinwag-web`), made
    /// and shared the same way.
    json: OnceLock<Box<str>>,
    /// The IRC front end's rendering of what every IRC recipient sees
    /// alike (a room message's line without its per-connection tags),
    /// made and shared the same way.
    irc: OnceLock<Box<str>>,
    /// For a message: its sender's user flags when it was sent
    /// (`chinwag_proto::server::user_flags`), for front ends that show
    /// them with each message (IRC's `account` and `bot` tags). Not part
    /// of the native MESSAGE frame, whose clients ask USER_LIST.
    sender_flags: u8,
}

/// Two events are equal when they say the same thing.
impl PartialEq for Event {
    fn eq(&self, other: &Event) -> bool {
        self.frame == other.frame
    }
}

/// An event as queues hold it.
pub type Shared = Arc<Event>;

/// Fixed cost of an event in a queue, besides its strings: a frame header
/// and the numeric fields.
const OVERHEAD: usize = 32;

impl Event {
    /// An event that answers no request.
    pub fn new(frame: ServerFrame) -> Shared {
        Event::from_sender(frame, 0)
    }

    /// A message from a sender whose user flags are `sender_flags`.
    pub fn from_sender(frame: ServerFrame, sender_flags: u8) -> Shared {
        let size = OVERHEAD + text_size(&frame);
        Arc::new(Event {
            frame,
            size,
            native: OnceLock::new(),
            json: OnceLock::new(),
            irc: OnceLock::new(),
            sender_flags,
        })
    }

    /// The sender's user flags, for a message built with
    /// [`Event::from_sender`] (0 otherwise).
    pub fn sender_flags(&self) -> u8 {
        self.sender_flags
    }

    pub fn frame(&self) -> &ServerFrame {
        &self.frame
    }

    /// The message this event carries, if it is one.
    pub fn message(&self) -> Option<&Message> {
        match &self.frame {
            ServerFrame::Message(message) => Some(message),
            _ => None,
        }
    }

    /// The message id and kind, for the queue's catch-up rules. A message
    /// of tags alone has none: it is not in history, so it can be no
    /// resume point, and the queue holds it as it holds a notice.
    pub fn message_id(&self) -> Option<(MessageId, MessageKind)> {
        self.message()
            .filter(|m| !m.id.is_ephemeral())
            .map(|m| (m.id, m.kind))
    }

    /// The weight of the event in a queue's byte bound.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The event as a native protocol frame, encoded once.
    pub fn native(&self) -> &Bytes {
        self.native
            .get_or_init(|| encode(RequestId::NONE, &self.frame))
    }

    /// The native rendering, if some session made it already.
    pub fn native_if_rendered(&self) -> Option<&Bytes> {
        self.native.get()
    }

    /// The event as JSON text, rendered once by `render` (the WebSocket
    /// front end's, which the core does not know).
    pub fn json(&self, render: impl FnOnce(&ServerFrame) -> String) -> &str {
        self.json.get_or_init(|| render(&self.frame).into())
    }

    /// What the IRC front end shows every recipient alike, rendered once
    /// by `render` (`chinwag-irc`'s, which the core does not know).
    pub fn irc(&self, render: impl FnOnce(&ServerFrame) -> String) -> &str {
        self.irc.get_or_init(|| render(&self.frame).into())
    }
}

/// The bytes of the strings an event carries: what makes one event weigh
/// more than another.
fn text_size(frame: &ServerFrame) -> usize {
    match frame {
        ServerFrame::Message(m) => m.from.len() + m.to.len() + m.text.len(),
        ServerFrame::Notice(n) => n.actor.len() + n.subject.len() + n.text.len(),
        ServerFrame::RoomNotice(n) => n.room.len() + n.actor.len() + n.subject.len() + n.text.len(),
        ServerFrame::Error { message, .. } | ServerFrame::Ok { message } => message.len(),
        // Events are messages and notices; anything else is weighed by its
        // encoding, which it then keeps.
        other => encode(RequestId::NONE, other).len(),
    }
}

/// Encodes a server frame in the native protocol. Every string the server
/// sends is bounded by the limits it validated on the way in (names <= 32
/// bytes, text <= max_content, which `Config::validate` keeps below a
/// field's capacity), so encoding cannot fail; if it somehow did, the peer
/// gets an Internal error instead of a corrupt frame.
pub fn encode(id: RequestId, frame: &ServerFrame) -> Bytes {
    match frame.to_frame(id) {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::error!(%error, frame = frame.frame_type().name(), "cannot encode frame");
            ServerFrame::error(chinwag_proto::ErrorCode::Internal, "internal error")
                .to_frame(id)
                .unwrap_or_default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chinwag_proto::server::Timestamp;

    #[test]
    fn renders_once_and_knows_its_message() {
        let event = Event::new(ServerFrame::Message(Message {
            id: MessageId(7),
            ts: Timestamp(1),
            kind: MessageKind::Room,
            from: "alice".into(),
            to: "#general".into(),
            text: "hi".into(),
            ..Default::default()
        }));
        assert_eq!(event.message_id(), Some((MessageId(7), MessageKind::Room)));
        let first = event.native().clone();
        assert!(std::ptr::eq(first.as_ptr(), event.native().as_ptr()));
        assert_eq!(event.size(), OVERHEAD + 5 + 8 + 2);
        let notice = Event::new(ServerFrame::ok("fine"));
        assert_eq!(notice.message_id(), None);
        let typing = Event::new(ServerFrame::Message(Message {
            id: MessageId(MessageId::EPHEMERAL | 1),
            tags: "+typing=active".into(),
            ..Message::default()
        }));
        assert_eq!(typing.message_id(), None, "no resume point");
        assert_eq!(event.json(|_| "{}".into()), "{}");
        assert_eq!(event.json(|_| unreachable!("rendered once")), "{}");
    }
}
