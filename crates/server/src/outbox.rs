//! The bounded queue of frames waiting to be written to one connection.
//!
//! Anyone may push (a sender's session delivering a message, an admin's
//! session delivering a notice); only the connection's own session drains
//! it. A push never waits: when the queue is full the frame is refused and
//! the queue is marked overflowed, so a slow reader can never stall the
//! sender or grow the server's memory. The session then deals with its slow
//! reader.
//!
//! A `std::sync::Mutex` is right here: the critical sections are a few
//! pointer moves, never held across `.await` or I/O.

use std::collections::VecDeque;
use std::sync::Mutex;

use bytes::{Bytes, BytesMut};
use tokio::sync::Notify;

/// Why a frame was not queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushError {
    /// The queue is at its limit; the reader is too slow.
    Full,
    /// The connection is closing; nothing more is accepted.
    Closed,
}

#[derive(Debug)]
pub struct Outbox {
    inner: Mutex<Inner>,
    ready: Notify,
    max_frames: usize,
    max_bytes: usize,
}

#[derive(Debug, Default)]
struct Inner {
    frames: VecDeque<Bytes>,
    bytes: usize,
    closed: bool,
    overflowed: bool,
}

/// What a drain found besides frames.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Drained {
    pub frames: usize,
    /// `close` was called: finish writing and end the connection.
    pub closed: bool,
    /// A push was refused because the queue was full.
    pub overflowed: bool,
}

impl Outbox {
    pub fn new(max_frames: usize, max_bytes: usize) -> Outbox {
        Outbox {
            inner: Mutex::new(Inner::default()),
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

    /// Queues a frame for writing. Never waits.
    pub fn push(&self, frame: Bytes) -> Result<(), PushError> {
        let mut inner = self.lock();
        if inner.closed {
            return Err(PushError::Closed);
        }
        if inner.overflowed
            || inner.frames.len() >= self.max_frames
            || inner.bytes + frame.len() > self.max_bytes
        {
            let first = !inner.overflowed;
            inner.overflowed = true;
            drop(inner);
            if first {
                self.ready.notify_one();
            }
            return Err(PushError::Full);
        }
        let was_empty = inner.frames.is_empty();
        inner.bytes += frame.len();
        inner.frames.push_back(frame);
        drop(inner);
        // One wake-up per batch: the session drains everything at once.
        if was_empty {
            self.ready.notify_one();
        }
        Ok(())
    }

    /// Queues a last frame (if any) and refuses everything after it.
    pub fn close_with(&self, last: Option<Bytes>) {
        let mut inner = self.lock();
        if inner.closed {
            return;
        }
        if let Some(frame) = last {
            inner.bytes += frame.len();
            inner.frames.push_back(frame);
        }
        inner.closed = true;
        drop(inner);
        self.ready.notify_one();
    }

    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Moves every queued frame into `dst`, the connection's write buffer.
    pub fn drain_into(&self, dst: &mut BytesMut) -> Drained {
        let mut inner = self.lock();
        let frames = inner.frames.len();
        dst.reserve(inner.bytes);
        for frame in inner.frames.drain(..) {
            dst.extend_from_slice(&frame);
        }
        inner.bytes = 0;
        if inner.frames.capacity() > 64 {
            inner.frames.shrink_to(16);
        }
        Drained {
            frames,
            closed: inner.closed,
            overflowed: inner.overflowed,
        }
    }

    /// The flags a drain would report, without taking any frame.
    pub fn status(&self) -> Drained {
        let inner = self.lock();
        Drained {
            frames: 0,
            closed: inner.closed,
            overflowed: inner.overflowed,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_by_frames_and_bytes() {
        let outbox = Outbox::new(2, 10);
        assert_eq!(outbox.push(Bytes::from_static(b"abcd")), Ok(()));
        assert_eq!(outbox.push(Bytes::from_static(b"efgh")), Ok(()));
        assert_eq!(outbox.push(Bytes::from_static(b"i")), Err(PushError::Full));
        let mut buf = BytesMut::new();
        let drained = outbox.drain_into(&mut buf);
        assert_eq!(&buf[..], b"abcdefgh");
        assert_eq!(drained.frames, 2);
        assert!(drained.overflowed);

        let outbox = Outbox::new(100, 10);
        assert_eq!(outbox.push(Bytes::from_static(b"0123456789")), Ok(()));
        assert_eq!(outbox.push(Bytes::from_static(b"x")), Err(PushError::Full));
    }

    #[test]
    fn close_delivers_the_last_frame_then_refuses() {
        let outbox = Outbox::new(10, 100);
        outbox.push(Bytes::from_static(b"a")).unwrap();
        outbox.close_with(Some(Bytes::from_static(b"bye")));
        assert_eq!(
            outbox.push(Bytes::from_static(b"c")),
            Err(PushError::Closed)
        );
        let mut buf = BytesMut::new();
        let drained = outbox.drain_into(&mut buf);
        assert_eq!(&buf[..], b"abye");
        assert!(drained.closed);
    }

    #[tokio::test]
    async fn push_wakes_the_reader() {
        let outbox = std::sync::Arc::new(Outbox::new(10, 100));
        let pusher = outbox.clone();
        let waiter = tokio::spawn(async move { outbox.ready().await });
        tokio::task::yield_now().await;
        pusher.push(Bytes::from_static(b"x")).unwrap();
        waiter.await.unwrap();
    }
}
