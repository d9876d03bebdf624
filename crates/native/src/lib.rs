//! The native protocol's driver: one task per connection that owns the
//! socket, frames and decodes requests with `chinwag-proto`'s codec, hands
//! them to the protocol-neutral [`Session`], and renders what the session
//! says (replies, shared events) into binary frames.
//!
//! Reading, writing and waiting on the session are branches of one
//! `select!`, so a client that does not read stalls only its own requests
//! (reading pauses while the write buffer is above [`HIGH_WATER`]), never
//! anyone else.

use std::collections::VecDeque;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Poll, ready};
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use chinwag_proto::server::MessageId;
use chinwag_proto::wire::Encode;
use chinwag_proto::{ErrorCode, FrameType, RequestId, ServerCodec, ServerFrame};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio_util::codec::Decoder;
use tracing::Instrument;

use chinwag_core::cmd::{CmdError, Now, Reply};
use chinwag_core::event::{self, Shared};
use chinwag_core::session::{Greeting, HIGH_WATER, Leave, Session, Sink};
use chinwag_core::state::State;

/// Read at most this much at a time (on the stack, see `read_some`).
const READ_CHUNK: usize = 4096;
/// What the write buffer starts with when it has to hold anything.
const WRITE_CHUNK: usize = 4096;
/// How long, and how much, to keep reading from a client the server has
/// closed, so that it sees the final error (see [`linger`]).
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 1024 * 1024;

/// Serves one connection until it ends.
pub async fn run<S>(stream: S, addr: SocketAddr, state: Arc<State>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let session = Session::new(state, addr, Greeting::Hello, Instant::now());
    let span = tracing::info_span!("conn", id = %session.id(), %addr, user = tracing::field::Empty);
    Driver {
        codec: ServerCodec::new(session.state().config.limits.max_frame),
        session,
        out: Frames::default(),
    }
    .run(stream)
    .instrument(span)
    .await
}

/// The write side: bytes waiting for the socket, and where in them the
/// account's offline messages end.
#[derive(Default)]
struct Frames {
    buf: BytesMut,
    /// Bytes written to the socket so far.
    written: u64,
    /// (total bytes written once this mark is out, the offline messages it
    /// delivers), oldest first.
    marks: VecDeque<(u64, MessageId)>,
    /// Bytes of the frame at the head of `buf` still to be written (its
    /// start went out already); 0 when `buf` starts with a whole frame.
    head_left: usize,
}

impl Frames {
    /// Appends one frame; the request id is attached here and nowhere
    /// else.
    fn frame(&mut self, id: RequestId, frame: &ServerFrame) {
        self.make_room();
        if let Err(error) = frame.encode(id, &mut self.buf) {
            tracing::error!(%error, "cannot encode reply");
            self.buf.extend_from_slice(&event::encode(
                id,
                &ServerFrame::error(ErrorCode::Internal, "internal error"),
            ));
        }
    }

    /// The buffer is given back whenever it empties (see the driver): the
    /// first frame after that allocates a chunk at once, so that the frames
    /// of a burst do not grow it by reallocation one after the other.
    fn make_room(&mut self) {
        if self.buf.capacity() == 0 {
            self.buf.reserve(WRITE_CHUNK);
        }
    }

    /// The socket took the first `n` bytes of `buf`: keeps track of where
    /// the frame at the head now ends, walking the length prefixes of the
    /// frames that went out.
    fn advance(&mut self, n: usize) {
        if n < self.head_left {
            self.head_left -= n;
        } else {
            let mut at = self.head_left;
            self.head_left = 0;
            while at < n {
                let prefix: [u8; 4] = self.buf[at..at + 4].try_into().unwrap_or_default();
                let end = at + 4 + u32::from_be_bytes(prefix) as usize;
                if end > n {
                    self.head_left = end - n;
                }
                at = end;
            }
        }
        self.buf.advance(n);
        self.written += n as u64;
    }

    /// The offline messages whose marks the socket has now passed: the
    /// newest of them.
    fn passed(&mut self) -> Option<MessageId> {
        let mut newest = None;
        while let Some(&(at, id)) = self.marks.front() {
            if self.written < at {
                break;
            }
            newest = Some(id);
            self.marks.pop_front();
        }
        newest
    }
}

impl Sink for Frames {
    fn reply(&mut self, id: RequestId, reply: Reply) {
        match reply {
            Ok(frame) => self.frame(id, &frame),
            Err(CmdError { code, message }) => self.frame(id, &ServerFrame::error(code, message)),
        }
    }

    fn event(&mut self, event: &Shared) {
        self.make_room();
        // Rendered here, at the edge: the first session to write an event
        // encodes it, the others reuse its bytes. An event nobody else
        // holds any more (a direct message, most often) is encoded straight
        // into the write buffer, with no copy kept.
        match event.native_if_rendered() {
            Some(bytes) => self.buf.extend_from_slice(bytes),
            None if Arc::strong_count(event) == 1 => self.frame(RequestId::NONE, event.frame()),
            None => self.buf.extend_from_slice(event.native()),
        }
    }

    fn delivered_up_to(&mut self, id: MessageId) {
        let at = self.written + self.buf.len() as u64;
        self.marks.push_back((at, id));
    }

    fn backlog(&self) -> usize {
        self.buf.len()
    }

    fn discard_unwritten(&mut self) {
        // The frame the socket is in the middle of is finished; the others
        // are dropped, and so are the marks of offline messages among them
        // (they stay queued for the next login).
        self.buf.truncate(self.head_left);
        let end = self.written + self.head_left as u64;
        self.marks.retain(|&(at, _)| at <= end);
    }
}

struct Driver {
    session: Session,
    codec: ServerCodec,
    out: Frames,
}

impl Driver {
    async fn run<S: AsyncRead + AsyncWrite + Unpin>(mut self, stream: S) {
        let (mut rd, mut wr) = tokio::io::split(stream);
        let mut rbuf = BytesMut::new();
        let state = Arc::clone(self.session.state());
        let mut armed = self.session.deadline();
        let timer = tokio::time::sleep_until(armed.into());
        tokio::pin!(timer);
        // Every connection waits on the same shutdown token, and creating,
        // polling and dropping its future takes the token's process-wide
        // locks. So the future is made once, polled last (only when the
        // session is about to sleep), and a busy session notices the
        // shutdown through a plain atomic load at the top of each turn.
        let shutdown = state.shutdown.wait();
        tokio::pin!(shutdown);

        loop {
            let now = Instant::now();
            self.session.check(now, self.out.backlog());
            // The session's next deadline moves (a request held back by
            // flood control, a flush when leaving): re-arm only then.
            if self.session.deadline() != armed {
                armed = self.session.deadline();
                timer.as_mut().reset(armed.into());
            }
            if self.session.is_leaving() {
                // What others queued before we stopped still goes out (a
                // kick notice, the shutdown notice), and so do the answers
                // to requests still waiting for the store.
                self.session.pull(&mut self.out);
                if self.out.buf.is_empty() && self.session.is_done() {
                    break;
                }
            }
            let reading = self.session.accepts_requests() && self.out.backlog() < HIGH_WATER;
            tokio::select! {
                biased;
                written = wr.write(&self.out.buf), if !self.out.buf.is_empty() => {
                    match written {
                        Ok(0) | Err(_) => {
                            self.session.leave(Leave::Disconnected);
                            break;
                        }
                        Ok(n) => {
                            self.out.advance(n);
                            if let Some(id) = self.out.passed() {
                                self.session.acknowledge(id);
                            }
                            // Give an idle connection's buffer back: most
                            // connections are idle most of the time, and
                            // an allocation per write burst costs far less
                            // than the system call it goes with.
                            if self.out.buf.is_empty() {
                                self.out.buf = BytesMut::new();
                            }
                            // Room again: take what queued up meanwhile.
                            if self.out.backlog() < HIGH_WATER {
                                self.session.pull(&mut self.out);
                            }
                        }
                    }
                }
                wake = self.session.wait() => {
                    self.session.wake_all(wake, Now::current(), &mut self.out);
                    // Frames that arrived while a request waited.
                    self.handle_input(&mut rbuf);
                }
                read = read_some(&mut rd, &mut rbuf), if reading => {
                    match read {
                        Ok(0) | Err(_) => {
                            self.session.leave(Leave::Disconnected);
                            break;
                        }
                        Ok(_) => {
                            self.handle_input(&mut rbuf);
                            // Bytes left over while the session takes
                            // requests are a frame begun and not finished.
                            let partial = !rbuf.is_empty() && self.session.accepts_requests();
                            self.session.received(Instant::now(), partial);
                            // As for `out`: no idle read buffer per
                            // connection.
                            if rbuf.is_empty() {
                                rbuf = BytesMut::new();
                            }
                            // Deliveries queued meanwhile leave with the
                            // replies, in the same write.
                            self.session.pull(&mut self.out);
                        }
                    }
                }
                () = &mut timer => {
                    if !self.session.on_timer(Instant::now(), &mut self.out) {
                        tracing::debug!("gave up flushing a closing connection");
                        break;
                    }
                    armed = self.session.deadline();
                    timer.as_mut().reset(armed.into());
                    // Held-back requests just went: frames behind them too.
                    self.handle_input(&mut rbuf);
                    self.session.pull(&mut self.out);
                }
                () = &mut shutdown, if !self.session.is_leaving() => {
                    self.session.leave(Leave::Shutdown);
                }
            }
        }
        let _ = wr.shutdown().await;
        if self.session.closed_by_server() {
            // The server ended it: free the name now, then linger. (Not on
            // shutdown: that has its own deadline.)
            self.session.depart_now();
            linger(&mut rd).await;
        }
        self.session.finish();
    }

    /// Decodes and hands every whole frame in `rbuf` to the session, until
    /// it takes no more for now.
    fn handle_input(&mut self, rbuf: &mut BytesMut) {
        let mut now = Now::current();
        while self.session.accepts_requests() {
            let before = rbuf.len();
            let decoded = self.codec.decode(rbuf);
            let frame_len = before - rbuf.len();
            if frame_len > 0 {
                let metrics = &self.session.state().metrics;
                metrics.frames_in.inc();
                metrics.bytes_in.add(frame_len as u64);
            }
            match decoded {
                Ok(None) => break,
                Ok(Some(Ok(packet))) => {
                    self.session
                        .request(now, packet.id, packet.body, frame_len, &mut self.out);
                }
                Ok(Some(Err(rejected))) => {
                    tracing::debug!(%rejected, "bad frame");
                    let hello = rejected.frame_type == FrameType::Hello as u8;
                    self.session.malformed(
                        rejected.id,
                        rejected.error.code(),
                        rejected.error.to_string(),
                        hello,
                        &mut self.out,
                    );
                }
                Err(error) => {
                    self.session
                        .unreadable(error.code(), error.to_string(), &mut self.out);
                }
            }
            // A long pipelined batch should not run on a stale clock.
            now = Now::current();
        }
        if self.session.is_leaving() {
            rbuf.clear();
        }
    }
}

/// After closing our side, reads and discards what the client still sends,
/// until it closes too (or for [`LINGER`] / [`LINGER_BYTES`] at most).
/// Closing a socket that has unread input makes the kernel send a reset,
/// and a reset can make the client lose what we sent last: the error
/// that says why it was closed.
async fn linger<R: AsyncRead + Unpin>(rd: &mut R) {
    let drain = async {
        // Read through `read_some`, whose buffer is on the stack only while
        // polled: a buffer in this future would be part of every
        // connection's future, lingering or not.
        let mut sink = BytesMut::new();
        let mut total = 0;
        while total < LINGER_BYTES {
            match read_some(rd, &mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
            sink.clear();
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

/// Reads whatever is available (one chunk at most) and appends it to
/// `buf`. The bytes land first in a buffer on the stack, which exists only
/// while the read is polled: a connection waiting for input holds no read
/// buffer (reserving one before waiting kept 4 KB on every idle
/// connection, the largest part of its memory).
async fn read_some<R: AsyncRead + Unpin>(rd: &mut R, buf: &mut BytesMut) -> std::io::Result<usize> {
    std::future::poll_fn(|cx| {
        let mut scratch = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
        let mut read = ReadBuf::uninit(&mut scratch);
        ready!(Pin::new(&mut *rd).poll_read(cx, &mut read))?;
        buf.extend_from_slice(read.filled());
        Poll::Ready(Ok(read.filled().len()))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(len: usize) -> Vec<u8> {
        let mut frame = (len as u32).to_be_bytes().to_vec();
        frame.resize(4 + len, 0xAB);
        frame
    }

    #[test]
    fn a_discard_keeps_the_frame_being_written_and_drops_the_rest() {
        let mut out = Frames::default();
        for len in [10, 20, 30] {
            out.buf.extend_from_slice(&frame(len));
        }
        out.delivered_up_to(MessageId(5));
        // The first frame (14 bytes) and 3 bytes of the second went out.
        out.advance(17);
        assert_eq!(out.head_left, 21);
        out.discard_unwritten();
        assert_eq!(out.buf.len(), 21, "the rest of the second frame");
        assert!(
            out.marks.is_empty(),
            "the offline messages were not written"
        );
        // What comes next starts on a frame boundary.
        out.buf.extend_from_slice(&frame(1));
        out.advance(21);
        assert_eq!((out.head_left, out.buf.len()), (0, 5));
        out.advance(5);
        assert_eq!((out.head_left, out.written), (0, 43));

        // Nothing half written: everything goes.
        let mut out = Frames::default();
        out.buf.extend_from_slice(&frame(8));
        out.advance(12);
        out.buf.extend_from_slice(&frame(8));
        out.discard_unwritten();
        assert!(out.buf.is_empty());
    }

    #[test]
    fn offline_messages_are_acknowledged_only_once_written() {
        let mut out = Frames::default();
        out.buf.extend_from_slice(&[0; 500]);
        out.delivered_up_to(MessageId(7));
        out.buf.extend_from_slice(&[0; 100]);
        out.delivered_up_to(MessageId(9));
        out.written = 499;
        assert_eq!(out.passed(), None);
        out.written = 500;
        assert_eq!(out.passed(), Some(MessageId(7)));
        assert_eq!(out.passed(), None, "once");
        out.written = 10_000;
        assert_eq!(out.passed(), Some(MessageId(9)));
    }

    /// Every connection's task holds this future, idle or not: no buffer
    /// belongs in it (a 4 KB one for lingering was there, unused by all but
    /// closing connections). 2,632 bytes in a debug build when written.
    #[tokio::test]
    async fn the_future_of_a_connection_is_small() {
        use chinwag_core::auth::AdminSecret;
        use chinwag_core::config::Config;
        use chinwag_core::store::{Durability, SqliteStore};

        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path(), Durability::Normal).unwrap();
        let state = State::new(
            Config::default(),
            AdminSecret::new("pw".into()),
            Arc::new(store),
        );
        let (server, _client) = tokio::io::duplex(64);
        let connection = run(server, "127.0.0.1:1".parse().unwrap(), state);
        let size = std::mem::size_of_val(&connection);
        assert!(
            size <= 3 * 1024,
            "the future of a connection is {size} bytes"
        );
    }
}
