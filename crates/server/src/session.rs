//! One connection, from accept to close.
//!
//! A single task owns the socket. It reads frames, runs each through the
//! router, writes the replies into its write buffer, and moves frames that
//! other connections queued in its [`Outbox`] into the same buffer. Reading,
//! writing and draining the outbox are branches of one `select!`, so a
//! client that does not read stalls only its own requests (reading pauses
//! while the write buffer is above a high-water mark), never anyone else.
//!
//! Requests that wait for the store (see [`cmd::Later`]) are polled
//! together in a [`FuturesOrdered`]: their work overlaps (pipelined sends
//! share a commit), but their results are applied and their replies written
//! strictly in request order. An account's offline queue is fetched and
//! written here too ([`Inbox`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use chinwag_proto::server::{Notice, NoticeKind};
use chinwag_proto::wire::Encode;
use chinwag_proto::{ErrorCode, FrameType, RequestId, ServerCodec, ServerFrame};
use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesOrdered;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_util::codec::Decoder;
use tracing::Instrument;

use crate::auth::Throttle;
use crate::cmd::{self, CmdError, Completion, Ctx, Now, Outcome};
use crate::event::{self, Shared};
use crate::guard::{Admit, Guard};
use crate::inbox::{self, Inbox};
use crate::ops;
use crate::outbox::{CatchUpStart, Outbox};
use crate::state::{ConnId, Peer, State};
use crate::store::{StoreFuture, StoredMessage};
use crate::store_wire;

/// Stop reading requests while this much is waiting to be written.
const HIGH_WATER: usize = 64 * 1024;
/// How long a closing connection may take to flush what it still has.
const CLOSE_FLUSH: Duration = Duration::from_secs(5);
/// Read at least this much at a time.
const READ_CHUNK: usize = 4096;
/// How long, and how much, to keep reading from a client the server has
/// closed, so that it sees the final error (see [`linger`]).
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 1024 * 1024;
/// Most requests waiting for the store at once; reading pauses beyond.
const MAX_IN_FLIGHT: usize = 256;

/// A request waiting for its work: its id, whether it is exclusive, and
/// what to do when the work is done.
type Pending = BoxFuture<'static, (RequestId, bool, Completion)>;

/// Where a connection is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    AwaitHello,
    AwaitRegister,
    Registered,
}

/// Why a connection ends; its text is what the others are told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Leave {
    Logout,
    Disconnected,
    TimedOut,
    SlowConsumer,
    /// Kicked: the kicking session already released the name and told
    /// everyone.
    Kicked,
    Shutdown,
    Protocol(&'static str),
}

impl Leave {
    fn text(&self) -> &'static str {
        match self {
            Leave::Logout => "logout",
            Leave::Disconnected => "disconnected",
            Leave::TimedOut => "timed out",
            Leave::SlowConsumer => "too slow to read its messages",
            Leave::Kicked => "kicked",
            Leave::Shutdown => "server shutdown",
            Leave::Protocol(_) => "protocol error",
        }
    }
}

/// The per-connection state the handlers see.
pub struct Conn {
    pub id: ConnId,
    pub addr: SocketAddr,
    pub outbox: Arc<Outbox>,
    pub phase: Phase,
    /// Set once REGISTER succeeds: the user, shared by its sessions.
    pub peer: Option<Arc<Peer>>,
    pub throttle: Throttle,
    /// Set to end the connection after what is queued has been written.
    pub leave: Option<Leave>,
    /// Set when logged in to an account: its offline queue.
    pub inbox: Option<Inbox>,
    bad_frames: u32,
}

impl Conn {
    /// A connection that has just been accepted: no HELLO yet.
    pub fn new(id: ConnId, addr: SocketAddr, outbox: Arc<Outbox>) -> Conn {
        Conn {
            id,
            addr,
            outbox,
            phase: Phase::AwaitHello,
            peer: None,
            throttle: Throttle::default(),
            leave: None,
            inbox: None,
            bad_frames: 0,
        }
    }
}

/// Serves one connection until it ends.
pub async fn run<S>(stream: S, addr: SocketAddr, state: Arc<State>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let id = state.next_conn_id();
    let span = tracing::info_span!("conn", %id, %addr, user = tracing::field::Empty);
    let outbox = Arc::new(Outbox::new(
        state.config.outbox_frames,
        state.config.outbox_bytes,
    ));
    let session = Session {
        codec: ServerCodec::new(state.config.limits.max_frame),
        conn: Conn {
            throttle: Throttle::with_free_attempts(state.config.password_free_attempts),
            ..Conn::new(id, addr, outbox)
        },
        guard: Guard::new(
            state.config.rate,
            state.config.max_register_attempts,
            Instant::now(),
        ),
        out: BytesMut::new(),
        drained: Vec::new(),
        pending: FuturesOrdered::new(),
        exclusive: 0,
        written: 0,
        state,
    };
    session.run(stream).instrument(span).await
}

struct Session {
    state: Arc<State>,
    conn: Conn,
    codec: ServerCodec,
    /// Flood control and the REGISTER cap, checked before the router.
    guard: Guard,
    /// Bytes waiting to be written to the socket.
    out: BytesMut,
    /// Events taken from the outbox, to be rendered into `out` (kept to
    /// reuse its allocation).
    drained: Vec<Shared>,
    /// Requests waiting for their work, in request order.
    pending: FuturesOrdered<Pending>,
    /// How many of them are exclusive: while any is, no request is read.
    exclusive: usize,
    /// Bytes written to the socket so far.
    written: u64,
}

impl Session {
    async fn run<S: AsyncRead + AsyncWrite + Unpin>(mut self, stream: S) {
        let (mut rd, mut wr) = tokio::io::split(stream);
        let mut rbuf = BytesMut::new();
        let state = Arc::clone(&self.state);
        let outbox = Arc::clone(&self.conn.outbox);
        let started = Instant::now();
        let mut last_read = started;
        let mut close_by: Option<Instant> = None;
        let timer = tokio::time::sleep_until(self.next_deadline(started, last_read).into());
        tokio::pin!(timer);
        let mut fetch: Option<StoreFuture<Vec<StoredMessage>>> = None;
        // Every connection waits on the same shutdown token, and creating,
        // polling and dropping its future takes the token's process-wide
        // locks. So the future is made once, polled last (only when the
        // session is about to sleep), and a busy session notices the
        // shutdown through a plain atomic load at the top of each turn.
        let shutdown = state.shutdown.wait();
        tokio::pin!(shutdown);

        loop {
            if self.conn.leave.is_none() && state.shutdown.is_triggered() {
                self.conn.leave = Some(Leave::Shutdown);
            }
            if self.conn.leave.is_some() {
                if close_by.is_none() {
                    let deadline = Instant::now() + CLOSE_FLUSH;
                    close_by = Some(deadline);
                    timer.as_mut().reset(deadline.into());
                }
                // What others queued before we stopped still goes out
                // (a kick notice, the shutdown notice), and so do the
                // answers to requests still waiting for the store.
                self.pull_outbox();
                if self.out.is_empty() && self.pending.is_empty() {
                    break;
                }
            } else if fetch.is_none() && self.out.len() < HIGH_WATER {
                fetch = self.start_fetch();
            }
            let reading =
                self.conn.leave.is_none() && self.out.len() < HIGH_WATER && !self.blocked();
            let wake = self
                .conn
                .inbox
                .as_ref()
                .map(|inbox| Arc::clone(&inbox.wake));
            tokio::select! {
                biased;
                written = wr.write_buf(&mut self.out), if !self.out.is_empty() => {
                    match written {
                        Ok(0) | Err(_) => {
                            self.conn.leave.get_or_insert(Leave::Disconnected);
                            break;
                        }
                        Ok(n) => {
                            self.written += n as u64;
                            self.acknowledge_inbox();
                            // Give an idle connection's buffer back: most
                            // connections are idle most of the time, and
                            // an allocation per write burst costs far less
                            // than the system call it goes with.
                            if self.out.is_empty() {
                                self.out = BytesMut::new();
                            }
                            // Room again: take what queued up meanwhile.
                            if self.out.len() < HIGH_WATER {
                                self.pull_outbox();
                            }
                        }
                    }
                }
                // Always watched, even while the write buffer is full, so
                // an overflow is noticed at once.
                () = outbox.ready() => self.pull_outbox(),
                Some((id, exclusive, completion)) = self.pending.next(), if !self.pending.is_empty() => {
                    if exclusive {
                        self.exclusive -= 1;
                    }
                    let outcome = {
                        let mut ctx = Ctx {
                            state: &self.state,
                            conn: &mut self.conn,
                            now: Now::current(),
                        };
                        completion(&mut ctx)
                    };
                    self.answer_first(id, exclusive, outcome);
                    // Frames that arrived while we waited.
                    if !self.blocked() {
                        self.handle_input(&mut rbuf);
                    }
                }
                fetched = async { fetch.as_mut().expect("guarded").await }, if fetch.is_some() => {
                    fetch = None;
                    self.deliver_inbox(fetched);
                }
                () = async { wake.as_ref().expect("guarded").notified().await }, if wake.is_some() => {
                    if let Some(inbox) = &mut self.conn.inbox {
                        inbox.wanted = true;
                    }
                }
                read = read_some(&mut rd, &mut rbuf), if reading => {
                    match read {
                        Ok(0) | Err(_) => {
                            self.conn.leave.get_or_insert(Leave::Disconnected);
                            break;
                        }
                        Ok(_) => {
                            last_read = Instant::now();
                            self.handle_input(&mut rbuf);
                            // As for `out`: no idle read buffer per
                            // connection.
                            if rbuf.is_empty() {
                                rbuf = BytesMut::new();
                            }
                            // Deliveries queued meanwhile leave with the
                            // replies, in the same write.
                            self.pull_outbox();
                        }
                    }
                }
                () = &mut timer => {
                    let now = Instant::now();
                    if close_by.is_some_and(|deadline| now >= deadline) {
                        tracing::debug!("gave up flushing a closing connection");
                        break;
                    }
                    if close_by.is_none() {
                        self.check_timeouts(now, started, last_read);
                        timer.as_mut().reset(self.next_deadline(started, last_read).into());
                    }
                }
                () = &mut shutdown, if self.conn.leave.is_none() => {
                    self.conn.leave = Some(Leave::Shutdown);
                }
            }
        }
        let _ = wr.shutdown().await;
        if !matches!(
            self.conn.leave,
            None | Some(Leave::Disconnected | Leave::Shutdown)
        ) {
            // The server ended it: free the name now, then linger. (Not on
            // shutdown: that has its own deadline.)
            self.conn.outbox.close_with(None);
            let leave = self.conn.leave.clone().unwrap_or(Leave::Disconnected);
            self.depart(leave);
            linger(&mut rd).await;
        }
        self.finish();
    }

    /// When the handshake or idle timeout would next expire.
    fn next_deadline(&self, started: Instant, last_read: Instant) -> Instant {
        let idle = last_read + self.state.config.idle_timeout();
        if self.conn.phase == Phase::Registered {
            idle
        } else {
            idle.min(started + self.state.config.handshake_timeout)
        }
    }

    fn check_timeouts(&mut self, now: Instant, started: Instant, last_read: Instant) {
        let config = &self.state.config;
        let (code, message) =
            if self.conn.phase != Phase::Registered && now >= started + config.handshake_timeout {
                (
                    ErrorCode::HandshakeTimeout,
                    format!(
                        "HELLO and REGISTER must complete within {}",
                        humantime::format_duration(config.handshake_timeout)
                    ),
                )
            } else if now >= last_read + config.idle_timeout() {
                (
                    ErrorCode::IdleTimeout,
                    format!(
                        "nothing received for {}",
                        humantime::format_duration(config.idle_timeout())
                    ),
                )
            } else {
                return;
            };
        tracing::info!(%message, "closing");
        self.write_frame(RequestId::NONE, &ServerFrame::error(code, message));
        self.conn.leave = Some(Leave::TimedOut);
    }

    /// Whether no further request may be read for now.
    fn blocked(&self) -> bool {
        self.exclusive > 0 || self.pending.len() >= MAX_IN_FLIGHT
    }

    /// Answers a request: at once if nothing is waiting before it, else in
    /// its turn.
    fn answer(&mut self, id: RequestId, outcome: Outcome) {
        match outcome {
            Outcome::Ready(reply) if self.pending.is_empty() => self.write_reply(id, reply),
            Outcome::Ready(reply) => {
                let done: Completion = Box::new(move |_| Outcome::Ready(reply));
                self.pending
                    .push_back(Box::pin(std::future::ready((id, false, done))));
            }
            Outcome::Later(later) => {
                if later.exclusive {
                    self.exclusive += 1;
                }
                let exclusive = later.exclusive;
                self.pending
                    .push_back(Box::pin(async move { (id, exclusive, later.work.await) }));
            }
        }
    }

    /// Like [`Session::answer`], for the request at the head of the line,
    /// whose completion asked for more work: it stays first.
    fn answer_first(&mut self, id: RequestId, exclusive: bool, outcome: Outcome) {
        match outcome {
            Outcome::Ready(reply) => self.write_reply(id, reply),
            Outcome::Later(later) => {
                let exclusive = exclusive || later.exclusive;
                if exclusive {
                    self.exclusive += 1;
                }
                self.pending
                    .push_front(Box::pin(async move { (id, exclusive, later.work.await) }));
            }
        }
    }

    /// The next fetch of the offline queue, if one is wanted.
    fn start_fetch(&mut self) -> Option<StoreFuture<Vec<StoredMessage>>> {
        let inbox = self.conn.inbox.as_mut().filter(|inbox| inbox.wanted)?;
        inbox.wanted = false;
        Some(
            self.state
                .store
                .pending(inbox.user, inbox.last_sent, inbox::BATCH),
        )
    }

    /// Writes fetched offline messages, in order, with their original ids
    /// and timestamps.
    fn deliver_inbox(&mut self, fetched: Result<Vec<StoredMessage>, crate::store::StoreError>) {
        let messages = match fetched {
            Ok(messages) => messages,
            Err(error) => {
                // They stay queued for the next login (or the next wake).
                tracing::error!(%error, "cannot read the offline queue");
                return;
            }
        };
        let Some(last) = messages.last().map(|m| m.id) else {
            return;
        };
        for message in &messages {
            self.write_frame(
                RequestId::NONE,
                &ServerFrame::Message(store_wire::message(message)),
            );
        }
        let mark = self.written + self.out.len() as u64;
        if let Some(inbox) = &mut self.conn.inbox {
            tracing::debug!(count = messages.len(), "delivering offline messages");
            inbox.last_sent = last;
            inbox.unacked = Some((mark, last));
            inbox.wanted = messages.len() as u32 == inbox::BATCH;
        }
    }

    /// Tells the store which offline messages the socket has taken.
    fn acknowledge_inbox(&mut self) {
        let Some(inbox) = &mut self.conn.inbox else {
            return;
        };
        if let Some(up_to) = inbox.take_due(self.written) {
            self.state.mark_delivered(inbox.user, up_to);
        }
    }

    /// Decodes and handles every whole frame in `rbuf`, until a request
    /// must be waited for.
    fn handle_input(&mut self, rbuf: &mut BytesMut) {
        let mut ctx_now = Now::current();
        if self.conn.outbox.is_closed() && self.conn.leave.is_none() {
            // Kicked while these frames were on their way.
            self.conn.leave = Some(Leave::Kicked);
        }
        while self.conn.leave.is_none() && !self.blocked() {
            let before = rbuf.len();
            let decoded = self.codec.decode(rbuf);
            let frame_len = before - rbuf.len();
            if frame_len > 0 {
                self.state.metrics.frames_in.inc();
                self.state.metrics.bytes_in.add(frame_len as u64);
            }
            match decoded {
                Ok(None) => break,
                Ok(Some(Ok(packet))) => {
                    let admin = self.conn.peer.as_ref().is_some_and(|p| p.is_admin());
                    match self
                        .guard
                        .admit(&packet.body, frame_len, admin, ctx_now.mono)
                    {
                        Admit::Pass => {
                            let mut ctx = Ctx {
                                state: &self.state,
                                conn: &mut self.conn,
                                now: ctx_now,
                            };
                            let outcome = cmd::dispatch(&mut ctx, packet.body);
                            self.answer(packet.id, outcome);
                        }
                        Admit::Refuse(error) => {
                            if error.code == ErrorCode::RateLimited {
                                self.state.metrics.rate_limited.inc();
                            }
                            self.answer(packet.id, Outcome::Ready(Err(error)));
                        }
                        Admit::Close(error, why) => {
                            if error.code == ErrorCode::RateLimited {
                                self.state.metrics.rate_limited.inc();
                                self.state.metrics.rate_limit_disconnects.inc();
                            }
                            tracing::info!(reason = why, "closing");
                            self.answer(packet.id, Outcome::Ready(Err(error)));
                            self.conn.leave = Some(Leave::Protocol(why));
                        }
                    }
                }
                Ok(Some(Err(rejected))) => {
                    self.state.metrics.frames_rejected.inc();
                    tracing::debug!(%rejected, "bad frame");
                    self.conn.bad_frames += 1;
                    let mut code = rejected.error.code();
                    let mut message = rejected.error.to_string();
                    let before_hello = self.conn.phase == Phase::AwaitHello;
                    // The first frame must be a HELLO: anything else that
                    // comes first, readable or not, ends the connection.
                    if before_hello && rejected.frame_type != FrameType::Hello as u8 {
                        code = ErrorCode::HandshakeRequired;
                        message = format!("the first frame must be HELLO ({message})");
                    }
                    self.answer(
                        rejected.id,
                        Outcome::Ready(Err(CmdError::new(code, message))),
                    );
                    if code.closes_connection() || before_hello {
                        self.conn.leave = Some(Leave::Protocol("refused handshake"));
                    } else if self.conn.bad_frames >= self.state.config.max_bad_frames {
                        self.write_frame(
                            RequestId::NONE,
                            &ServerFrame::error(
                                ErrorCode::TooManyErrors,
                                "too many bad frames; closing",
                            ),
                        );
                        self.conn.leave = Some(Leave::Protocol("too many bad frames"));
                    }
                }
                Err(error) => {
                    self.state.metrics.frames_rejected.inc();
                    tracing::info!(%error, "unreadable stream; closing");
                    self.write_frame(
                        RequestId::NONE,
                        &ServerFrame::error(error.code(), error.to_string()),
                    );
                    self.conn.leave = Some(Leave::Protocol("bad frame length"));
                }
            }
            // A long pipelined batch should not run on a stale clock.
            ctx_now = Now::current();
        }
        if self.conn.leave.is_some() {
            rbuf.clear();
        }
    }

    fn write_reply(&mut self, id: RequestId, reply: Result<ServerFrame, CmdError>) {
        match reply {
            Ok(frame) => self.write_frame(id, &frame),
            Err(CmdError { code, message }) => {
                self.write_frame(id, &ServerFrame::error(code, message))
            }
        }
    }

    /// Appends one frame to the write buffer; the request id is attached
    /// here and nowhere else.
    fn write_frame(&mut self, id: RequestId, frame: &ServerFrame) {
        self.state.metrics.frames_out.inc();
        if let ServerFrame::Error { code, .. } = frame {
            self.state.metrics.error_sent(*code);
        }
        if let Err(error) = frame.encode(id, &mut self.out) {
            tracing::error!(%error, "cannot encode reply");
            self.out.extend_from_slice(&event::encode(
                id,
                &ServerFrame::error(ErrorCode::Internal, "internal error"),
            ));
        }
    }

    /// Moves what other connections queued for us into the write buffer
    /// (while there is room), and deals with a catch-up, an overflow or a
    /// kick.
    fn pull_outbox(&mut self) {
        let drained = if self.out.len() < HIGH_WATER || self.conn.leave.is_some() {
            let drained = self.conn.outbox.drain_into(&mut self.drained);
            // Rendered here, at the edge: the first session to write an
            // event encodes it, the others reuse its bytes.
            for event in self.drained.drain(..) {
                self.out.extend_from_slice(event.native());
            }
            if self.drained.capacity() > 64 {
                self.drained = Vec::new();
            }
            drained
        } else {
            self.conn.outbox.status()
        };
        self.state.metrics.frames_out.add(drained.frames as u64);
        if let Some(start) = drained.catch_up
            && self.conn.leave.is_none()
        {
            self.on_catch_up(start);
        }
        if drained.overflowed && self.conn.leave.is_none() {
            self.on_outbox_overflow();
        }
        if drained.closed && self.conn.leave.is_none() {
            self.conn.leave = Some(Leave::Kicked);
        }
    }

    /// The outbox switched this reader to catch-up: its queued messages
    /// were dropped. Every message up to the resume point is already in
    /// the write buffer (or, pushed late, still queued), so the notice goes
    /// right after them; the reader then reads the rest from history
    /// (HISTORY `@me` after the resume point), which resumes live delivery.
    fn on_catch_up(&mut self, start: CatchUpStart) {
        self.state.metrics.catch_ups.inc();
        self.state
            .metrics
            .catch_up_dropped
            .add(start.dropped as u64);
        tracing::info!(
            dropped = start.dropped,
            resume = start.resume.0,
            "slow reader; catching up from history"
        );
        let subject = self
            .conn
            .peer
            .as_ref()
            .map(|peer| peer.name.as_str().into())
            .unwrap_or_default();
        self.write_frame(
            RequestId::NONE,
            &ServerFrame::Notice(Notice {
                kind: NoticeKind::CatchUp,
                ts: chinwag_proto::Timestamp::now(),
                actor: "".into(),
                subject,
                until: start.resume.0,
                text: format!("{} messages dropped", start.dropped).into(),
            }),
        );
    }

    /// The one place that decides what happens to a reader whose outbound
    /// queue overflowed (by frames or by bytes) and that the outbox could
    /// not switch to catch-up (see [`crate::outbox`]: a guest whose direct
    /// messages would be lost, a queue full of notices, an overflow while
    /// catching up, or too many catch-ups): drop what is queued, say why,
    /// and disconnect.
    fn on_outbox_overflow(&mut self) {
        let dropped = self.conn.outbox.discard();
        self.state.metrics.slow_consumer_disconnects.inc();
        tracing::warn!(dropped, "slow consumer; closing");
        self.write_frame(
            RequestId::NONE,
            &ServerFrame::error(
                ErrorCode::SlowConsumer,
                "you did not read your messages fast enough; some were dropped",
            ),
        );
        // Free the name now: the flush that follows may take until its
        // deadline, and nobody should be sending to this reader meanwhile.
        self.depart(Leave::SlowConsumer);
    }

    /// Marks the connection as leaving and ends its session; when it was
    /// the user's last, frees the name and tells the others (unless a kick
    /// or the shutdown already took care of that).
    fn depart(&mut self, leave: Leave) {
        if let Some(peer) = self.conn.peer.take() {
            ops::login::depart(&self.state, &peer, self.conn.id, leave.text());
        }
        self.conn.leave.get_or_insert(leave);
    }

    fn finish(mut self) {
        self.conn.outbox.close_with(None);
        let leave = self.conn.leave.clone().unwrap_or(Leave::Disconnected);
        self.depart(leave.clone());
        match &leave {
            Leave::Protocol(why) => tracing::info!(reason = why, "closed"),
            other => tracing::info!(reason = other.text(), "closed"),
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
        let mut sink = [0u8; READ_CHUNK];
        let mut total = 0;
        while total < LINGER_BYTES {
            match rd.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

/// Reads whatever is available, making room for at least one chunk.
async fn read_some<R: AsyncRead + Unpin>(rd: &mut R, buf: &mut BytesMut) -> std::io::Result<usize> {
    if buf.capacity() - buf.len() < READ_CHUNK / 4 {
        buf.reserve(READ_CHUNK);
    }
    rd.read_buf(buf).await
}
