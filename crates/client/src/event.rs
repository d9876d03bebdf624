//! What the server sends on its own: the [`Events`] receiver.

use std::pin::Pin;
use std::task::{Context, Poll};

use chinwag_proto::ErrorCode;
use chinwag_proto::room::RoomNotice;
use chinwag_proto::server::{Message, Notice, UserUpdate};
use tokio::sync::mpsc;

/// A frame the server sent without being asked (request id 0), or the end
/// of the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A message for this user.
    Message(Message),
    /// Something this user should know: a join, a leave, a kick, a mute,
    /// a shutdown.
    Notice(Notice),
    /// Something that happened in a room this user is in (or was put out
    /// of, or invited to): a join, a leave, a topic, a kick, a mute.
    RoomNotice(RoomNotice),
    /// A user changed its name, profile or flags (USER_UPDATE): a rename
    /// (`old_name` not empty), an away message, a real name.
    User(UserUpdate),
    /// A message this user may have seen was deleted (REDACT).
    Redacted(chinwag_proto::server::Redacted),
    /// An ERROR the server raised on its own, usually right before it
    /// closes the connection (`IdleTimeout`, `SlowConsumer`, ...).
    Error { code: ErrorCode, message: String },
    /// The connection ended. Sent once, last; `reason` is `None` when the
    /// server closed it cleanly (after LOGOUT, a kick or a shutdown).
    Closed { reason: Option<String> },
}

/// The receiving end of a connection's events.
///
/// The channel is bounded ([`ConnectOptions::event_buffer`]): while it is
/// full the connection stops reading the socket, so a consumer that falls
/// behind slows the server down rather than growing memory. Replies come
/// through the same socket, so they wait too. An application that does not
/// want events should drop `Events`: events are then discarded and replies
/// keep flowing. For the same reason, a task that awaits replies should
/// not be the only one draining `Events` while many events may arrive:
/// print events from a task of their own, as the CLI's line mode does.
///
/// [`ConnectOptions::event_buffer`]: crate::ConnectOptions::event_buffer
#[derive(Debug)]
pub struct Events {
    rx: mpsc::Receiver<Event>,
}

impl Events {
    pub(crate) fn new(rx: mpsc::Receiver<Event>) -> Events {
        Events { rx }
    }

    /// The next event; `None` after [`Event::Closed`].
    pub async fn recv(&mut self) -> Option<Event> {
        self.rx.recv().await
    }

    /// The next event if one is ready.
    pub fn try_recv(&mut self) -> Option<Event> {
        self.rx.try_recv().ok()
    }
}

impl futures::Stream for Events {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.rx.poll_recv(cx)
    }
}
