//! The bounded queue of events waiting to be written to one connection.
//!
//! Anyone may push (a sender's session delivering a message, an admin's
//! session delivering a notice); only the connection's own session drains
//! it. A push never waits, so a slow reader can never stall the sender or
//! grow the server's memory. When the queue is full:
//!
//! - a reader that has shown it can catch up (it sent `HISTORY @me`)
//!   and whose queued messages are all in history it may
//!   read is switched to **catch-up**, under the lock, by the push that
//!   found it full: every queued MESSAGE is dropped (other frames stay, in
//!   order), the resume point is set just below the smallest dropped (or
//!   refused) message id, and from then on messages above the resume point
//!   are refused until the reader asks for history (`HISTORY @me`, see
//!   [`Outbox::reader_fetches_history`]). The session sends NOTICE CatchUp.
//! - otherwise (a guest's direct message would be lost, the catch-up budget
//!   is spent, nothing but notices fill the queue, or it overflows while
//!   catching up) the frame is refused and the queue marked overflowed;
//!   the session disconnects the reader with SlowConsumer.
//!
//! A `std::sync::Mutex` is right here: the critical sections are a few
//! pointer moves, never held across `.await` or I/O.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use chinwag_proto::MessageKind;
use chinwag_proto::server::MessageId;
use tokio::sync::Notify;

use crate::catchup::Budget;
use crate::event::Shared;

/// Why a frame was not queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushError {
    /// The queue is at its limit, or the reader is catching up; the reader
    /// is too slow.
    Full,
    /// The connection is closing; nothing more is accepted.
    Closed,
}

#[derive(Debug)]
pub struct Outbox {
    inner: Mutex<Inner>,
    /// `Inner::closed`, readable without the lock (the session asks before
    /// each request).
    closed: AtomicBool,
    ready: Notify,
    max_frames: usize,
    max_bytes: usize,
}

#[derive(Debug, Default)]
struct Inner {
    frames: VecDeque<Queued>,
    bytes: usize,
    closed: bool,
    overflowed: bool,
    /// `None` until the reader shows it can catch up (HISTORY `@me`).
    catch_up: Option<CatchUpState>,
}

#[derive(Debug, Default)]
struct CatchUpState {
    /// The reader may read its direct messages in history (an account).
    direct_in_history: bool,
    budget: Budget,
    /// While catching up: messages above this id are refused.
    resume: Option<MessageId>,
    /// A catch-up began and the session has not sent its notice yet.
    started: Option<CatchUpStart>,
}

#[derive(Debug)]
struct Queued {
    event: Shared,
    /// Set for a message: its id, and whether the reader can read it in
    /// history.
    message: Option<(MessageId, bool)>,
}

/// A catch-up the session must announce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CatchUpStart {
    /// Every message above this id may be missing; the reader reads them
    /// from history.
    pub resume: MessageId,
    /// How many queued or refused messages were dropped.
    pub dropped: usize,
}

/// What a drain found besides frames.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Drained {
    pub frames: usize,
    /// `close` was called: finish writing and end the connection.
    pub closed: bool,
    /// A push was refused and the reader cannot catch up: disconnect it.
    pub overflowed: bool,
    /// The reader was switched to catch-up: tell it.
    pub catch_up: Option<CatchUpStart>,
}

/// The id of a message event, and whether a reader who can (or cannot)
/// read its direct conversations finds it in history; `None` for any
/// other event.
fn message_of(event: &Shared, direct_in_history: bool) -> Option<(MessageId, bool)> {
    let (id, kind) = event.message_id()?;
    let in_history = match kind {
        MessageKind::Broadcast => true,
        // An account's rooms are stored with it, so `@me` finds them; a
        // guest's are not.
        MessageKind::Direct | MessageKind::Room => direct_in_history,
        // Not stored at all.
        MessageKind::RoomOperators | MessageKind::Other(_) => false,
    };
    Some((id, in_history))
}

impl Outbox {
    pub fn new(max_frames: usize, max_bytes: usize) -> Outbox {
        Outbox {
            inner: Mutex::new(Inner::default()),
            closed: AtomicBool::new(false),
            ready: Notify::new(),
            max_frames,
            max_bytes,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave `Inner` half-updated
        // in a way that matters (counters are advisory), so carry on.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The reader asked for history of all its conversations (HISTORY
    /// `@me`), so it knows how to catch up: from now on an overflow
    /// switches it to catch-up rather than disconnecting it. An account
    /// reads its direct messages in history; a guest only broadcasts.
    ///
    /// If it was catching up, that ends: messages are queued again.
    /// Whatever was refused before this was stored before it was refused,
    /// so the history reads that follow find it. Returns whether it was
    /// catching up.
    pub fn reader_fetches_history(&self, direct_in_history: bool) -> bool {
        let mut inner = self.lock();
        let state = inner.catch_up.get_or_insert_with(CatchUpState::default);
        state.direct_in_history = direct_in_history;
        state.resume.take().is_some()
    }

    /// Queues an event for writing. Never waits.
    pub fn push(&self, event: Shared) -> Result<(), PushError> {
        let mut inner = self.lock();
        if inner.closed {
            return Err(PushError::Closed);
        }
        let message = message_of(&event, inner.direct_in_history());
        if inner.refuses(message) {
            return Err(PushError::Full);
        }
        if !inner.overflowed && !self.fits(&inner, &event) {
            self.begin_catch_up(&mut inner, message, Instant::now());
            // The message that found the queue full is above the new
            // resume point: it is read from history too.
            if inner.refuses(message) {
                return Err(PushError::Full);
            }
        }
        if inner.overflowed || !self.fits(&inner, &event) {
            let first = !inner.overflowed;
            inner.overflowed = true;
            drop(inner);
            if first {
                self.ready.notify_one();
            }
            return Err(PushError::Full);
        }
        let was_empty = inner.frames.is_empty();
        inner.bytes += event.size();
        inner.frames.push_back(Queued { event, message });
        drop(inner);
        // One wake-up per batch: the session drains everything at once.
        if was_empty {
            self.ready.notify_one();
        }
        Ok(())
    }

    fn fits(&self, inner: &Inner, event: &Shared) -> bool {
        inner.frames.len() < self.max_frames && inner.bytes + event.size() <= self.max_bytes
    }

    /// Switches a full queue to catch-up, if the reader can catch up:
    /// it knows how, is not catching up already, within its budget, and every
    /// message it would lose (the queued ones and `incoming`) in history
    /// it may read. Otherwise leaves everything as it is.
    fn begin_catch_up(&self, inner: &mut Inner, incoming: Option<(MessageId, bool)>, now: Instant) {
        let Inner {
            frames,
            bytes,
            catch_up: Some(state),
            ..
        } = inner
        else {
            return;
        };
        if state.resume.is_some() {
            return;
        }
        let lost = || frames.iter().filter_map(|q| q.message).chain(incoming);
        if lost().any(|(_, in_history)| !in_history) {
            return;
        }
        // A queue full of notices alone is not helped by dropping messages.
        let Some(oldest) = lost().map(|(id, _)| id).min() else {
            return;
        };
        if !state.budget.try_start(now) {
            return;
        }
        let dropped = lost().count();
        frames.retain(|q| q.message.is_none());
        *bytes = frames.iter().map(|q| q.event.size()).sum();
        let resume = MessageId(oldest.0.saturating_sub(1));
        state.resume = Some(resume);
        state.started = Some(CatchUpStart { resume, dropped });
        self.ready.notify_one();
    }

    /// Queues a last event (if any) and refuses everything after it.
    pub fn close_with(&self, last: Option<Shared>) {
        let mut inner = self.lock();
        if inner.closed {
            return;
        }
        if let Some(event) = last {
            inner.bytes += event.size();
            inner.frames.push_back(Queued {
                event,
                message: None,
            });
        }
        inner.closed = true;
        self.closed.store(true, Ordering::Release);
        drop(inner);
        self.ready.notify_one();
    }

    /// How many frames, and bytes, are queued now.
    pub fn queued(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.frames.len(), inner.bytes)
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Moves every queued event into `dst`, for the session to render.
    pub fn drain_into(&self, dst: &mut Vec<Shared>) -> Drained {
        let mut inner = self.lock();
        let frames = inner.frames.len();
        dst.reserve(frames);
        dst.extend(inner.frames.drain(..).map(|queued| queued.event));
        inner.bytes = 0;
        // A queue that grew for a burst (presence notices of many logins,
        // a room's traffic) gives its memory back once drained; one sized
        // for a steady window of direct messages is kept.
        if inner.frames.capacity() > 16 {
            inner.frames = VecDeque::new();
        }
        Drained {
            frames,
            ..inner.flags()
        }
    }

    /// The flags a drain would report, without taking any frame.
    pub fn status(&self) -> Drained {
        self.lock().flags()
    }

    /// Drops whatever is queued (for a reader that fell too far behind).
    pub fn discard(&self) -> usize {
        let mut inner = self.lock();
        let dropped = inner.frames.len();
        inner.frames = VecDeque::new();
        inner.bytes = 0;
        dropped
    }

    /// Waits until something was pushed, the queue overflowed or it closed.
    pub async fn ready(&self) {
        self.ready.notified().await
    }
}

impl Inner {
    fn direct_in_history(&self) -> bool {
        self.catch_up.as_ref().is_some_and(|s| s.direct_in_history)
    }

    /// Whether `message` is refused because the reader is catching up:
    /// it is above the resume point. (A message at or below it, pushed
    /// late by a slow sender, is not in what the reader will fetch, so it
    /// is still queued.)
    fn refuses(&self, message: Option<(MessageId, bool)>) -> bool {
        let resume = self.catch_up.as_ref().and_then(|s| s.resume);
        matches!((resume, message), (Some(resume), Some((id, _))) if id > resume)
    }

    /// The flags of a drain; hands a catch-up start to the session once.
    fn flags(&mut self) -> Drained {
        Drained {
            frames: 0,
            closed: self.closed,
            overflowed: self.overflowed,
            catch_up: self.catch_up.as_mut().and_then(|s| s.started.take()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::event::Event;
    use chinwag_proto::ServerFrame;

    /// An OK event whose text is `text`: weighs the overhead plus its length.
    fn text(text: &str) -> Shared {
        Event::new(ServerFrame::ok(text.to_owned()))
    }

    #[test]
    fn bounded_by_frames_and_bytes() {
        let a = text("abcd").size();
        let outbox = Outbox::new(2, 2 * a + 1);
        assert_eq!(outbox.push(text("abcd")), Ok(()));
        assert_eq!(outbox.push(text("efgh")), Ok(()));
        assert_eq!(outbox.push(text("i")), Err(PushError::Full));
        let (events, drained) = drain(&outbox);
        assert_eq!(events, vec![text("abcd"), text("efgh")]);
        assert_eq!(drained.frames, 2);
        assert!(drained.overflowed);

        let outbox = Outbox::new(100, text("0123456789").size());
        assert_eq!(outbox.push(text("0123456789")), Ok(()));
        assert_eq!(outbox.push(text("x")), Err(PushError::Full));
    }

    #[test]
    fn close_delivers_the_last_frame_then_refuses() {
        let outbox = Outbox::new(10, 1000);
        outbox.push(text("a")).unwrap();
        outbox.close_with(Some(text("bye")));
        assert_eq!(outbox.push(text("c")), Err(PushError::Closed));
        let (events, drained) = drain(&outbox);
        assert_eq!(events, vec![text("a"), text("bye")]);
        assert!(drained.closed);
    }

    fn message(id: u64, kind: MessageKind) -> Shared {
        Event::new(ServerFrame::Message(chinwag_proto::server::Message {
            id: MessageId(id),
            ts: chinwag_proto::Timestamp(1),
            kind,
            from: "alice".into(),
            to: if kind == MessageKind::Direct {
                "bob".into()
            } else {
                "".into()
            },
            text: "hi".into(),
            ..Default::default()
        }))
    }

    fn notice() -> Shared {
        Event::new(ServerFrame::Notice(chinwag_proto::server::Notice {
            kind: chinwag_proto::NoticeKind::Joined,
            ts: chinwag_proto::Timestamp(1),
            actor: "".into(),
            subject: "carol".into(),
            until: 0,
            text: "".into(),
        }))
    }

    /// The events drained, compared by what they say.
    fn drain(outbox: &Outbox) -> (Vec<Shared>, Drained) {
        let mut events = Vec::new();
        let drained = outbox.drain_into(&mut events);
        (events, drained)
    }

    #[test]
    fn reads_the_id_of_a_message_frame_only() {
        assert_eq!(
            message_of(&message(7, MessageKind::Broadcast), false),
            Some((MessageId(7), true))
        );
        assert_eq!(
            message_of(&message(8, MessageKind::Direct), false),
            Some((MessageId(8), false))
        );
        assert_eq!(
            message_of(&message(8, MessageKind::Direct), true),
            Some((MessageId(8), true))
        );
        assert_eq!(
            message_of(&message(9, MessageKind::Other(5)), true),
            Some((MessageId(9), false))
        );
        assert_eq!(message_of(&notice(), true), None);
        assert_eq!(message_of(&text("hi"), true), None);
    }

    #[test]
    fn an_overflow_switches_a_registered_reader_to_catch_up() {
        let outbox = Outbox::new(3, 10_000);
        outbox.reader_fetches_history(false);
        outbox.push(message(11, MessageKind::Broadcast)).unwrap();
        outbox.push(notice()).unwrap();
        outbox.push(message(10, MessageKind::Broadcast)).unwrap();
        // Full: the two queued messages and this one are dropped, the
        // notice stays, and the resume point is below the oldest of them.
        assert_eq!(
            outbox.push(message(12, MessageKind::Broadcast)),
            Err(PushError::Full)
        );
        // Room again for notices, not for messages above the resume point.
        outbox.push(notice()).unwrap();
        assert_eq!(
            outbox.push(message(13, MessageKind::Broadcast)),
            Err(PushError::Full)
        );
        // A message at or below it, pushed late, is not in what the reader
        // will fetch: it is still queued.
        outbox.push(message(9, MessageKind::Broadcast)).unwrap();
        let (frames, drained) = drain(&outbox);
        assert_eq!(
            frames,
            vec![notice(), notice(), message(9, MessageKind::Broadcast)]
        );
        assert_eq!(
            drained.catch_up,
            Some(CatchUpStart {
                resume: MessageId(9),
                dropped: 3
            })
        );
        assert!(!drained.overflowed);
        assert_eq!(outbox.status().catch_up, None, "announced once");

        assert!(outbox.reader_fetches_history(false));
        assert!(!outbox.reader_fetches_history(false));
        outbox.push(message(14, MessageKind::Broadcast)).unwrap();
        assert_eq!(drain(&outbox).0, vec![message(14, MessageKind::Broadcast)]);
    }

    #[test]
    fn a_reader_that_cannot_catch_up_overflows() {
        // Never asked for HISTORY @me: does not know how to catch up.
        let outbox = Outbox::new(1, 10_000);
        outbox.push(message(1, MessageKind::Broadcast)).unwrap();
        assert!(outbox.push(message(2, MessageKind::Broadcast)).is_err());
        assert!(outbox.status().overflowed);

        // A guest would lose a direct message it cannot read in history.
        let outbox = Outbox::new(1, 10_000);
        outbox.reader_fetches_history(false);
        outbox.push(message(1, MessageKind::Direct)).unwrap();
        assert!(outbox.push(message(2, MessageKind::Broadcast)).is_err());
        assert!(outbox.status().overflowed);

        // An account would not.
        let outbox = Outbox::new(1, 10_000);
        outbox.reader_fetches_history(true);
        outbox.push(message(1, MessageKind::Direct)).unwrap();
        assert!(outbox.push(message(2, MessageKind::Broadcast)).is_err());
        let status = outbox.status();
        assert!(!status.overflowed);
        assert_eq!(status.catch_up.map(|c| c.resume), Some(MessageId(0)));

        // Only notices queued: dropping messages does not help.
        let outbox = Outbox::new(1, 10_000);
        outbox.reader_fetches_history(true);
        outbox.push(notice()).unwrap();
        assert!(outbox.push(notice()).is_err());
        assert!(outbox.status().overflowed);

        // Overflowing while catching up.
        let outbox = Outbox::new(1, 10_000);
        outbox.reader_fetches_history(true);
        outbox.push(message(1, MessageKind::Broadcast)).unwrap();
        assert!(outbox.push(message(2, MessageKind::Broadcast)).is_err());
        outbox.push(notice()).unwrap();
        assert!(!outbox.status().overflowed);
        assert!(outbox.push(notice()).is_err());
        assert!(outbox.status().overflowed);
    }

    #[test]
    fn catch_ups_are_budgeted() {
        let outbox = Outbox::new(1, 10_000);
        outbox.reader_fetches_history(true);
        let mut id = 0;
        for _ in 0..crate::catchup::MAX_CATCH_UPS {
            id += 2;
            outbox.push(message(id, MessageKind::Broadcast)).unwrap();
            assert!(
                outbox
                    .push(message(id + 1, MessageKind::Broadcast))
                    .is_err()
            );
            let (_, drained) = drain(&outbox);
            assert!(drained.catch_up.is_some() && !drained.overflowed);
            assert!(outbox.reader_fetches_history(true));
        }
        outbox.push(message(100, MessageKind::Broadcast)).unwrap();
        assert!(outbox.push(message(101, MessageKind::Broadcast)).is_err());
        let drained = outbox.status();
        assert!(drained.overflowed && drained.catch_up.is_none());
    }

    #[tokio::test]
    async fn push_wakes_the_reader() {
        let outbox = std::sync::Arc::new(Outbox::new(10, 100));
        let pusher = outbox.clone();
        let waiter = tokio::spawn(async move { outbox.ready().await });
        tokio::task::yield_now().await;
        pusher.push(text("x")).unwrap();
        waiter.await.unwrap();
    }
}
