//! The WebSocket driver: one task per connection that owns the socket,
//! reads JSON text messages into requests for the protocol-neutral
//! [`Session`], and renders what the session says (replies, shared events)
//! as JSON text. The shape of `chinwag-native`'s driver: reading, writing
//! and waiting on the session are branches of one `select!`, and reading
//! pauses while more than [`HIGH_WATER`] bytes wait to be written, so a
//! browser that does not read stalls only itself, and the core's outbox
//! decides when it is too slow.
//!
//! Writing is cancel-safe: a message leaves the queue only once the socket
//! is ready to take it whole (`poll_ready`, then `start_send`), and the
//! socket is flushed in a branch of its own.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use chinwag_core::cmd::{CmdError, Now, Reply};
use chinwag_core::event::Shared;
use chinwag_core::session::{Greeting, HIGH_WATER, Leave, Session, Sink};
use chinwag_core::state::State;
use chinwag_proto::server::{MessageId, NoticeKind};
use chinwag_proto::{ErrorCode, RequestId, ServerFrame};
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use tracing::Instrument;

use crate::protocol::{self, close};

/// How long to wait for the client's answer to our close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// Longest close reason the WebSocket protocol allows, in bytes.
const MAX_CLOSE_REASON: usize = 123;

/// Serves one WebSocket until it ends.
pub async fn run(socket: WebSocket, addr: SocketAddr, state: Arc<State>) {
    // HELLO first, as on the native protocol: its WELCOME tells the client
    // the limits and the heartbeat.
    let session = Session::new(state, addr, Greeting::Hello, Instant::now());
    let span = tracing::info_span!("web", id = %session.id(), %addr);
    Driver {
        session,
        out: Outgoing::default(),
    }
    .run(socket)
    .instrument(span)
    .await
}

/// Tells a connection refused at the door why, and closes it.
pub async fn refuse(mut socket: WebSocket, code: ErrorCode, message: &str) {
    let text = protocol::render(RequestId::NONE, &ServerFrame::error(code, message));
    let _ = socket.send(Message::Text(text.into())).await;
    let _ = socket
        .send(close_message(close::after(code), message))
        .await;
}

/// The write side: JSON messages waiting for the socket, and where among
/// them the account's offline messages end.
#[derive(Default)]
struct Outgoing {
    queue: VecDeque<String>,
    /// Bytes in `queue`.
    bytes: usize,
    /// Messages handed to the socket so far, and of those flushed.
    handed: u64,
    flushed: u64,
    /// (messages flushed once this mark is out, the offline messages it
    /// delivers), oldest first.
    marks: VecDeque<(u64, MessageId)>,
    /// The close code and reason, once something decided them.
    last_word: Option<(u16, String)>,
}

impl Outgoing {
    fn push(&mut self, text: String) {
        self.bytes += text.len();
        self.queue.push_back(text);
    }

    /// The offline messages whose marks the socket has now passed: the
    /// newest of them.
    fn passed(&mut self) -> Option<MessageId> {
        let mut newest = None;
        while let Some(&(at, id)) = self.marks.front() {
            if self.flushed < at {
                break;
            }
            newest = Some(id);
            self.marks.pop_front();
        }
        newest
    }

    /// Remembers why the connection is closing, the first time it is said.
    fn closing(&mut self, code: u16, reason: &str) {
        self.last_word
            .get_or_insert_with(|| (code, reason.to_owned()));
    }

    /// Notes what in a frame about to go out ends the connection.
    fn note(&mut self, frame: &ServerFrame) {
        match frame {
            ServerFrame::Error { code, message } if code.closes_connection() => {
                self.closing(close::after(*code), message)
            }
            ServerFrame::Notice(notice) => match notice.kind {
                NoticeKind::Kicked => self.closing(close::KICKED, &notice.text),
                NoticeKind::Banned => self.closing(close::BANNED, &notice.text),
                NoticeKind::Shutdown => self.closing(close::GOING_AWAY, &notice.text),
                _ => {}
            },
            _ => {}
        }
    }

    /// The close frame for a session that ended for `leave`.
    fn close_frame(&self, leave: Option<&Leave>) -> Message {
        match (&self.last_word, leave) {
            (Some((code, reason)), _) => close_message(*code, reason),
            (None, Some(Leave::Logout(_))) => close_message(close::NORMAL, "logged out"),
            (None, Some(Leave::Shutdown)) => {
                close_message(close::GOING_AWAY, "the server is shutting down")
            }
            (None, _) => close_message(close::NORMAL, ""),
        }
    }
}

fn close_message(code: u16, reason: &str) -> Message {
    let mut end = reason.len().min(MAX_CLOSE_REASON);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    Message::Close(Some(CloseFrame {
        code,
        reason: reason[..end].into(),
    }))
}

impl Sink for Outgoing {
    fn reply(&mut self, id: RequestId, reply: Reply) {
        // The request id is attached here and nowhere else.
        let frame = match reply {
            Ok(frame) => frame,
            Err(CmdError { code, message }) => ServerFrame::error(code, message),
        };
        self.note(&frame);
        self.push(protocol::render(id, &frame));
    }

    fn event(&mut self, event: &Shared) {
        self.note(event.frame());
        // Rendered at the edge, once for every WebSocket recipient.
        let text = event.json(|frame| protocol::render(RequestId::NONE, frame));
        self.push(text.to_owned());
    }

    fn delivered_up_to(&mut self, id: MessageId) {
        let at = self.handed + self.queue.len() as u64;
        self.marks.push_back((at, id));
    }

    fn backlog(&self) -> usize {
        self.bytes
    }

    fn discard_unwritten(&mut self) {
        // Messages go whole: nothing is half written. The offline
        // messages among those dropped stay queued for the next login.
        self.queue.clear();
        self.bytes = 0;
        let end = self.handed;
        self.marks.retain(|&(at, _)| at <= end);
    }
}

struct Driver {
    session: Session,
    out: Outgoing,
}

/// What became of one message read from the socket.
enum Read {
    Taken,
    /// The client went away (or the socket failed).
    Gone,
}

impl Driver {
    async fn run(mut self, socket: WebSocket) {
        let (mut tx, mut rx) = socket.split();
        let state = Arc::clone(self.session.state());
        let mut armed = self.session.deadline();
        let timer = tokio::time::sleep_until(armed.into());
        tokio::pin!(timer);
        let shutdown = state.shutdown.wait();
        tokio::pin!(shutdown);
        let mut unflushed = false;

        loop {
            self.session.check(Instant::now(), self.out.backlog());
            if self.session.deadline() != armed {
                armed = self.session.deadline();
                timer.as_mut().reset(armed.into());
            }
            if self.session.is_leaving() {
                self.session.pull(&mut self.out);
                if self.out.queue.is_empty() && !unflushed && self.session.is_done() {
                    break;
                }
            }
            let reading = self.session.accepts_requests() && self.out.backlog() < HIGH_WATER;
            let queued = !self.out.queue.is_empty();
            tokio::select! {
                biased;
                step = poll_fn(|cx| write_step(&mut tx, cx, queued, unflushed)), if queued || unflushed => {
                    match step {
                        WriteStep::Ready(Ok(())) => {
                            let Some(text) = self.out.queue.pop_front() else { continue };
                            self.out.bytes -= text.len();
                            if tx.start_send_unpin(Message::Text(text.into())).is_err() {
                                self.session.leave(Leave::Disconnected);
                                break;
                            }
                            self.out.handed += 1;
                            unflushed = true;
                        }
                        WriteStep::Flushed(Ok(())) => {
                            unflushed = false;
                            self.out.flushed = self.out.handed;
                            if let Some(id) = self.out.passed() {
                                self.session.acknowledge(id);
                            }
                            if self.out.backlog() < HIGH_WATER {
                                self.session.pull(&mut self.out);
                            }
                        }
                        WriteStep::Ready(Err(_)) | WriteStep::Flushed(Err(_)) => {
                            self.session.leave(Leave::Disconnected);
                            break;
                        }
                    }
                }
                wake = self.session.wait() => {
                    self.session.wake(wake, Now::current(), &mut self.out);
                }
                message = rx.next(), if reading => {
                    if let Read::Gone = self.take(message) {
                        self.session.leave(Leave::Disconnected);
                        break;
                    }
                    self.session.pull(&mut self.out);
                }
                () = &mut timer => {
                    if !self.session.on_timer(Instant::now(), &mut self.out) {
                        tracing::debug!("gave up flushing a closing connection");
                        break;
                    }
                    armed = self.session.deadline();
                    timer.as_mut().reset(armed.into());
                    self.session.pull(&mut self.out);
                }
                () = &mut shutdown, if !self.session.is_leaving() => {
                    self.session.leave(Leave::Shutdown);
                }
            }
        }
        self.close(&mut tx, &mut rx).await;
        self.session.finish();
    }

    /// Hands one message from the client to the session.
    fn take(&mut self, message: Option<Result<Message, axum::Error>>) -> Read {
        let now = Instant::now();
        let message = match message {
            None => return Read::Gone,
            Some(Ok(message)) => message,
            Some(Err(error)) if too_big(&error) => {
                self.session.received(now, false);
                let max = protocol::max_message(self.session.state().config.limits.max_frame);
                self.session.unreadable(
                    ErrorCode::FrameTooLarge,
                    format!("a message is limited to {max} bytes"),
                    &mut self.out,
                );
                return Read::Taken;
            }
            Some(Err(error)) => {
                tracing::debug!(%error, "WebSocket read failed");
                return Read::Gone;
            }
        };
        self.session.received(now, false);
        match message {
            Message::Text(text) => {
                let size = text.len();
                self.count_in(size);
                match protocol::parse(text.as_str()) {
                    Ok((id, request)) => {
                        self.session
                            .request(Now::current(), id, request, size, &mut self.out)
                    }
                    Err(rejected) => {
                        tracing::debug!(message = %rejected.message, "bad message");
                        self.session.malformed(
                            rejected.id,
                            rejected.code,
                            rejected.message,
                            rejected.hello,
                            &mut self.out,
                        );
                    }
                }
            }
            Message::Binary(bytes) => {
                self.count_in(bytes.len());
                self.out.closing(
                    close::UNSUPPORTED_DATA,
                    "binary messages are not spoken here: send JSON text",
                );
                self.session.unreadable(
                    ErrorCode::MalformedFrame,
                    "binary messages are not spoken here: send JSON text".into(),
                    &mut self.out,
                );
            }
            // The WebSocket layer answers pings itself; both keep the
            // connection from being idle, as any input does.
            Message::Ping(_) | Message::Pong(_) => {}
            Message::Close(_) => return Read::Gone,
        }
        Read::Taken
    }

    fn count_in(&self, size: usize) {
        let metrics = &self.session.state().metrics;
        metrics.frames_in.inc();
        metrics.bytes_in.add(size as u64);
    }

    /// Says why with a close frame, waits (briefly) for the client's, and
    /// frees the name before that wait when the server ended the session.
    async fn close(
        &mut self,
        tx: &mut SplitSink<WebSocket, Message>,
        rx: &mut SplitStream<WebSocket>,
    ) {
        let frame = self.out.close_frame(self.session.leave_reason());
        let _ = tokio::time::timeout(CLOSE_WAIT, tx.send(frame)).await;
        if self.session.closed_by_server() {
            self.session.depart_now();
        }
        let drain = async { while let Some(Ok(_)) = rx.next().await {} };
        let _ = tokio::time::timeout(CLOSE_WAIT, drain).await;
    }
}

/// What the socket is ready for.
enum WriteStep {
    /// To take the next message whole.
    Ready(Result<(), axum::Error>),
    /// Everything handed to it is flushed.
    Flushed(Result<(), axum::Error>),
}

/// Waits until the socket takes another message (when some are `queued`)
/// or has flushed what it took (when `unflushed`). Cancel-safe: nothing
/// leaves the queue here.
fn write_step(
    tx: &mut SplitSink<WebSocket, Message>,
    cx: &mut std::task::Context<'_>,
    queued: bool,
    unflushed: bool,
) -> std::task::Poll<WriteStep> {
    use std::task::Poll;
    if queued && let Poll::Ready(ready) = tx.poll_ready_unpin(cx) {
        return Poll::Ready(WriteStep::Ready(ready));
    }
    if unflushed && let Poll::Ready(flushed) = tx.poll_flush_unpin(cx) {
        return Poll::Ready(WriteStep::Flushed(flushed));
    }
    Poll::Pending
}

/// Whether a read failed because the message was above the limit.
fn too_big(error: &axum::Error) -> bool {
    use tokio_tungstenite::tungstenite::Error;
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = source {
        if let Some(Error::Capacity(_)) = error.downcast_ref::<Error>() {
            return true;
        }
        source = error.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offline_messages_are_acknowledged_only_once_flushed() {
        let mut out = Outgoing::default();
        out.push("a".into());
        out.delivered_up_to(MessageId(7));
        out.push("b".into());
        out.delivered_up_to(MessageId(9));
        out.handed = 1;
        assert_eq!(out.passed(), None, "handed is not flushed");
        out.flushed = 1;
        assert_eq!(out.passed(), Some(MessageId(7)));
        assert_eq!(out.passed(), None, "once");
        out.flushed = 2;
        assert_eq!(out.passed(), Some(MessageId(9)));
    }

    #[test]
    fn a_discard_drops_what_is_queued_and_its_marks() {
        let mut out = Outgoing::default();
        out.push("x".repeat(10));
        out.delivered_up_to(MessageId(3));
        out.handed = 1;
        out.push("y".repeat(10));
        out.delivered_up_to(MessageId(4));
        out.discard_unwritten();
        assert_eq!((out.queue.len(), out.backlog()), (0, 0));
        assert_eq!(out.marks, [(1, MessageId(3))], "the handed one stays");
    }

    #[test]
    fn the_first_reason_to_close_is_the_one_given() {
        let mut out = Outgoing::default();
        out.note(&ServerFrame::error(ErrorCode::NoSuchUser, "nobody"));
        assert!(out.last_word.is_none(), "not a closing error");
        out.note(&ServerFrame::error(ErrorCode::RateLimited, "excess flood"));
        out.note(&ServerFrame::error(ErrorCode::TooManyErrors, "later"));
        let Message::Close(Some(frame)) = out.close_frame(Some(&Leave::Disconnected)) else {
            panic!("a close frame")
        };
        assert_eq!((frame.code, frame.reason.as_str()), (4400, "excess flood"));

        let out = Outgoing::default();
        let Message::Close(Some(frame)) = out.close_frame(Some(&Leave::Logout(Default::default())))
        else {
            panic!("a close frame")
        };
        assert_eq!(frame.code, close::NORMAL);
    }

    #[test]
    fn close_reasons_are_cut_on_a_character_boundary() {
        let Message::Close(Some(frame)) = close_message(4001, &"é".repeat(100)) else {
            panic!("a close frame")
        };
        assert_eq!(frame.reason.len(), 122);
    }
}
