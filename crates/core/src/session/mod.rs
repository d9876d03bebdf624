//! One session, from accept to close, as a state machine without I/O.
//!
//! A front end's driver owns the socket and the wire format; this core owns
//! everything else a connection goes through: the handshake phases, flood
//! control, the router, the requests waiting for the store (answered
//! strictly in request order), the account's offline queue, the outbound
//! queue with its catch-up and overflow rules, timeouts, and departure.
//! Time is passed in, and what the session has to say goes to a [`Sink`]
//! that the driver renders in its own format, so the whole lifecycle is
//! tested without a socket (see the tests below) and every front end
//! (the native protocol in `chinwag-native`, and later IRC and WebSocket)
//! reuses it untouched.
//!
//! The driver's loop: feed decoded requests to [`Session::request`] while
//! [`Session::accepts_requests`]; wait on [`Session::wait`] together with
//! its socket and hand what it returns to [`Session::wake`]; call
//! [`Session::pull`] whenever its write buffer has room; arm a timer for
//! [`Session::deadline`] and call [`Session::on_timer`]; report written
//! offline messages with [`Session::acknowledge`]; stop once
//! [`Session::is_done`], then call [`Session::finish`].

use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use chinwag_proto::server::{MessageId, Notice, NoticeKind};
use chinwag_proto::{ByteString, ErrorCode, Request, RequestId, ServerFrame};
use futures::future::BoxFuture;
use futures::stream::FuturesOrdered;
use futures::{FutureExt, StreamExt};

use crate::auth::Throttle;
use crate::cmd::{self, CmdError, Completion, Ctx, Now, Outcome, Reply};
use crate::event::{Event, Shared};
use crate::guard::{Admit, Guard};
use crate::inbox::{self, Inbox};
use crate::ops;
use crate::outbox::{CatchUpStart, Outbox};
use crate::state::{ConnId, Peer, State};
use crate::store::{StoreError, StoreFuture, StoredMessage};
use crate::store_wire;

/// Stop taking queued events while this much is waiting to be written.
pub const HIGH_WATER: usize = 64 * 1024;
/// Most requests waiting for the store at once; no more are taken beyond.
const MAX_IN_FLIGHT: usize = 256;
/// Most wake-ups [`Session::wake_all`] acts on in one turn, so that a
/// session whose completions keep coming still lets the driver write.
const WAKES_AT_ONCE: usize = MAX_IN_FLIGHT;

/// A request waiting for its work: its id, whether it is exclusive, and
/// the work, which yields what to do when it is done. The work is already
/// boxed: wrapping it in a future of its own would box it again, once per
/// message sent.
struct Pending {
    id: RequestId,
    exclusive: bool,
    work: BoxFuture<'static, Completion>,
}

impl Future for Pending {
    type Output = (RequestId, bool, Completion);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let completion = ready!(self.work.as_mut().poll(cx));
        Poll::Ready((self.id, self.exclusive, completion))
    }
}

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
    /// LOGOUT, with the reason the user gave (empty: none).
    Logout(ByteString),
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
    pub fn text(&self) -> &'static str {
        match self {
            Leave::Logout(_) => "logout",
            Leave::Disconnected => "disconnected",
            Leave::TimedOut => "timed out",
            Leave::SlowConsumer => "too slow to read its messages",
            Leave::Kicked => "kicked",
            Leave::Shutdown => "server shutdown",
            Leave::Protocol(_) => "protocol error",
        }
    }

    /// What the others are told (NOTICE Left): [`Leave::text`], and after
    /// a LOGOUT with a reason, `logout: REASON`.
    pub fn describe(&self) -> String {
        match self {
            Leave::Logout(reason) if !reason.is_empty() => format!("logout: {reason}"),
            other => other.text().to_owned(),
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
    /// The server password the connection gave (HELLO, or IRC's PASS).
    pub server_password: chinwag_proto::ByteString,
    /// A PROFILE sent before REGISTER: the user comes online with it.
    pub profile: Option<crate::state::users::UserProfile>,
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
            server_password: chinwag_proto::ByteString::new(),
            profile: None,
        }
    }
}

/// Where a session's output goes: the driver renders each item in its own
/// wire format, in the order given.
pub trait Sink {
    /// The answer to request `id` (an error is an answer too).
    fn reply(&mut self, id: RequestId, reply: Reply);
    /// An event that answers no request; shared with its other recipients,
    /// so a driver can render it once for all of them.
    fn event(&mut self, event: &Shared);
    /// Once everything rendered so far has been written, the account's
    /// offline messages up to `id` are delivered: the driver then calls
    /// [`Session::acknowledge`] with it.
    fn delivered_up_to(&mut self, id: MessageId);
    /// How much is waiting to be written: the session takes no queued
    /// events beyond [`HIGH_WATER`].
    fn backlog(&self) -> usize;
    /// Drops what is waiting to be written (finishing only what the socket
    /// is in the middle of), so that what comes next is read first: the
    /// reason a slow reader is disconnected.
    fn discard_unwritten(&mut self);
}

/// What [`Session::wait`] woke up for.
pub enum Wake {
    /// A request's work is done.
    Completed(RequestId, bool, Completion),
    /// The offline queue was read.
    Fetched(Result<Vec<StoredMessage>, StoreError>),
    /// A message was queued for the account while online: fetch it.
    InboxWoken,
    /// Something was pushed to the outbound queue (or it overflowed or
    /// closed): pull it.
    Outbox,
}

/// Whether a front end greets before registering: the native protocol's
/// HELLO; other protocols start at registration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Greeting {
    Hello,
    None,
}

pub struct Session {
    state: Arc<State>,
    conn: Conn,
    /// Flood control and the REGISTER cap, checked before the router.
    guard: Guard,
    /// Requests waiting for their work, in request order.
    pending: FuturesOrdered<Pending>,
    /// How many of them are exclusive: while any is, no request is taken.
    exclusive: usize,
    /// A read of the offline queue under way.
    fetch: Option<StoreFuture<Vec<StoredMessage>>>,
    /// Undecodable requests so far.
    bad_frames: u32,
    started: Instant,
    /// When input last arrived (for the idle timeout).
    last_input: Instant,
    /// When the request now partly received began to arrive: a frame or
    /// line must be complete within the idle timeout of its first byte.
    partial_since: Option<Instant>,
    /// Set once leaving: by then what is queued must be written.
    close_by: Option<Instant>,
    /// Requests flood control holds back, each until its time, in order.
    delayed: VecDeque<Delayed>,
    /// Events taken from the outbox on their way to the sink (kept to
    /// reuse its allocation).
    drained: Vec<Shared>,
}

/// A request held back by flood control.
struct Delayed {
    id: RequestId,
    request: Request,
    until: Instant,
}

/// How long a closing connection may take to flush what it still has.
pub const CLOSE_FLUSH: Duration = Duration::from_secs(5);

impl Session {
    /// A session for a connection from `addr`, accepted at `now`.
    pub fn new(state: Arc<State>, addr: SocketAddr, greeting: Greeting, now: Instant) -> Session {
        let id = state.next_conn_id();
        let outbox = Arc::new(Outbox::new(
            state.config.outbox_frames,
            state.config.outbox_bytes,
        ));
        let mut conn = Conn {
            throttle: Throttle::with_free_attempts(state.config.password_free_attempts),
            ..Conn::new(id, addr, outbox)
        };
        if greeting == Greeting::None {
            conn.phase = Phase::AwaitRegister;
        }
        Session {
            guard: Guard::new(state.config.rate, state.config.max_register_attempts, now),
            state,
            conn,
            pending: FuturesOrdered::new(),
            exclusive: 0,
            fetch: None,
            bad_frames: 0,
            started: now,
            last_input: now,
            partial_since: None,
            close_by: None,
            delayed: VecDeque::new(),
            drained: Vec::new(),
        }
    }

    /// The server password a front end without HELLO was given (IRC's
    /// PASS), checked at REGISTER as HELLO's is.
    pub fn set_server_password(&mut self, password: &str) {
        self.conn.server_password = password.into();
    }

    pub fn id(&self) -> ConnId {
        self.conn.id
    }

    pub fn phase(&self) -> Phase {
        self.conn.phase
    }

    /// The user this session is registered as.
    pub fn peer(&self) -> Option<&Arc<Peer>> {
        self.conn.peer.as_ref()
    }

    pub fn state(&self) -> &Arc<State> {
        &self.state
    }

    /// Whether the session is ending (its last output still to be written).
    pub fn is_leaving(&self) -> bool {
        self.conn.leave.is_some()
    }

    /// Why the session ends, once it does.
    pub fn leave_reason(&self) -> Option<&Leave> {
        self.conn.leave.as_ref()
    }

    /// Whether a further request may be taken now: not while leaving, nor
    /// while an exclusive request (REGISTER, a password check) or too many
    /// requests wait for their work.
    pub fn accepts_requests(&self) -> bool {
        self.conn.leave.is_none() && !self.blocked()
    }

    fn blocked(&self) -> bool {
        self.exclusive > 0 || self.pending.len() >= MAX_IN_FLIGHT
    }

    /// Whether the session has said all it will: it is leaving and nothing
    /// waits for its work. The driver writes what it has, then finishes.
    pub fn is_done(&self) -> bool {
        self.conn.leave.is_some() && self.pending.is_empty()
    }

    /// Ends the session (the peer went away, or the driver gave up on it).
    pub fn leave(&mut self, leave: Leave) {
        self.conn.leave.get_or_insert(leave);
    }

    /// Input arrived at `now`; `partial` says whether a request is now
    /// partly received (its remainder still to come).
    pub fn received(&mut self, now: Instant, partial: bool) {
        self.last_input = now;
        self.partial_since = match (partial, self.partial_since) {
            (false, _) => None,
            (true, Some(since)) => Some(since),
            (true, None) => Some(now),
        };
    }

    /// Handles one decoded request of `size` bytes on the wire.
    pub fn request(
        &mut self,
        now: Now,
        id: RequestId,
        req: Request,
        size: usize,
        sink: &mut dyn Sink,
    ) {
        if self.conn.outbox.is_closed() && self.conn.leave.is_none() {
            // Kicked while this request was on its way.
            self.conn.leave = Some(Leave::Kicked);
        }
        if !self.accepts_requests() {
            return;
        }
        let admin = self.conn.peer.as_ref().is_some_and(|p| p.is_admin());
        match self.guard.admit(&req, size, admin, now.mono) {
            // Requests keep their order: one that may go now still waits
            // behind those held back before it.
            Admit::Pass if self.delayed.is_empty() => self.dispatch(now, id, req, sink),
            Admit::Pass => self.hold(id, req, now.mono),
            Admit::Delay(until) => {
                self.state.metrics.rate_limited.inc();
                self.hold(id, req, until);
            }
            Admit::Close(error, why) => {
                if error.code == ErrorCode::RateLimited {
                    self.state.metrics.rate_limited.inc();
                    self.state.metrics.rate_limit_disconnects.inc();
                }
                tracing::info!(reason = why, "closing");
                self.answer(id, Outcome::Ready(Err(error)), sink);
                self.conn.leave = Some(Leave::Protocol(why));
            }
        }
    }

    fn dispatch(&mut self, now: Now, id: RequestId, req: Request, sink: &mut dyn Sink) {
        let mut ctx = Ctx {
            state: &self.state,
            conn: &mut self.conn,
            now,
        };
        let outcome = cmd::dispatch(&mut ctx, req);
        self.answer(id, outcome, sink);
    }

    /// Holds a request back until `until` (or until those before it went).
    fn hold(&mut self, id: RequestId, request: Request, until: Instant) {
        let until = self
            .delayed
            .back()
            .map_or(until, |last| last.until.max(until));
        self.delayed.push_back(Delayed { id, request, until });
    }

    /// Carries out the held-back requests whose time has come, in order,
    /// while the session takes requests.
    fn release(&mut self, now: Instant, sink: &mut dyn Sink) {
        while self.accepts_requests()
            && let Some(next) = self.delayed.front()
            && next.until <= now
        {
            let Some(held) = self.delayed.pop_front() else {
                break;
            };
            self.dispatch(Now::current(), held.id, held.request, sink);
        }
    }

    /// A request that could not be decoded: answered with `code`; the
    /// connection closes if the code says so, if it was the very first
    /// request of a front end that greets, or after too many of them.
    pub fn malformed(
        &mut self,
        id: RequestId,
        code: ErrorCode,
        message: String,
        first_is_greeting: bool,
        sink: &mut dyn Sink,
    ) {
        self.state.metrics.frames_rejected.inc();
        self.bad_frames += 1;
        let before_hello = self.conn.phase == Phase::AwaitHello;
        let (code, message) = if before_hello && !first_is_greeting {
            (
                ErrorCode::HandshakeRequired,
                format!("the first frame must be HELLO ({message})"),
            )
        } else {
            (code, message)
        };
        self.answer(id, Outcome::Ready(Err(CmdError::new(code, message))), sink);
        if code.closes_connection() || before_hello {
            self.conn.leave = Some(Leave::Protocol("refused handshake"));
        } else if self.bad_frames >= self.state.config.max_bad_frames {
            self.say(
                RequestId::NONE,
                Err(CmdError::new(
                    ErrorCode::TooManyErrors,
                    "too many bad frames; closing",
                )),
                sink,
            );
            self.conn.leave = Some(Leave::Protocol("too many bad frames"));
        }
    }

    /// The input cannot be read any further (a length above the limit, a
    /// line too long to be one): say why and close.
    pub fn unreadable(&mut self, code: ErrorCode, message: String, sink: &mut dyn Sink) {
        self.state.metrics.frames_rejected.inc();
        tracing::info!(%message, "unreadable stream; closing");
        self.say(RequestId::NONE, Err(CmdError::new(code, message)), sink);
        self.conn.leave = Some(Leave::Protocol("bad frame length"));
    }

    /// Hands a reply to the sink, counted.
    fn say(&self, id: RequestId, reply: Reply, sink: &mut dyn Sink) {
        let metrics = &self.state.metrics;
        metrics.frames_out.inc();
        if let Err(error) = &reply {
            metrics.error_sent(error.code);
        }
        sink.reply(id, reply);
    }

    /// Hands an event to the sink, counted.
    fn tell(&self, event: &Shared, sink: &mut dyn Sink) {
        self.state.metrics.frames_out.inc();
        sink.event(event);
    }

    /// Answers a request: at once if nothing is waiting before it, else in
    /// its turn.
    fn answer(&mut self, id: RequestId, outcome: Outcome, sink: &mut dyn Sink) {
        match outcome {
            Outcome::Ready(reply) if self.pending.is_empty() => self.say(id, reply, sink),
            Outcome::Ready(reply) => {
                let done: Completion = Box::new(move |_| Outcome::Ready(reply));
                self.pending.push_back(Pending {
                    id,
                    exclusive: false,
                    work: Box::pin(std::future::ready(done)),
                });
            }
            Outcome::Later(later) => {
                if later.exclusive {
                    self.exclusive += 1;
                }
                self.pending.push_back(Pending {
                    id,
                    exclusive: later.exclusive,
                    work: later.work,
                });
            }
        }
    }

    /// Like [`Session::answer`], for the request at the head of the line,
    /// whose completion asked for more work: it stays first.
    fn answer_first(
        &mut self,
        id: RequestId,
        exclusive: bool,
        outcome: Outcome,
        sink: &mut dyn Sink,
    ) {
        match outcome {
            Outcome::Ready(reply) => self.say(id, reply, sink),
            Outcome::Later(later) => {
                let exclusive = exclusive || later.exclusive;
                if exclusive {
                    self.exclusive += 1;
                }
                self.pending.push_front(Pending {
                    id,
                    exclusive,
                    work: later.work,
                });
            }
        }
    }

    /// Waits for the next thing the session must act on besides input:
    /// a request's work, the offline queue, the outbound queue. Cancel-safe:
    /// the driver selects on it together with its socket.
    pub async fn wait(&mut self) -> Wake {
        let outbox = Arc::clone(&self.conn.outbox);
        let wake = self
            .conn
            .inbox
            .as_ref()
            .map(|inbox| Arc::clone(&inbox.wake));
        tokio::select! {
            biased;
            // Always watched, even while the driver's buffer is full, so an
            // overflow is noticed at once.
            () = outbox.ready() => Wake::Outbox,
            Some((id, exclusive, completion)) = self.pending.next(), if !self.pending.is_empty() => {
                Wake::Completed(id, exclusive, completion)
            }
            fetched = async { self.fetch.as_mut().expect("guarded").await }, if self.fetch.is_some() => {
                self.fetch = None;
                Wake::Fetched(fetched)
            }
            () = async { wake.as_ref().expect("guarded").notified().await }, if wake.is_some() => {
                Wake::InboxWoken
            }
        }
    }

    /// Acts on what [`Session::wait`] returned, then on every further
    /// wake-up that is already due (at most [`WAKES_AT_ONCE`]): the writes
    /// of one group commit complete together, and their answers then go to
    /// the sink in one turn, so the driver writes them in one system call
    /// instead of one each.
    pub fn wake_all(&mut self, first: Wake, now: Now, sink: &mut dyn Sink) {
        self.wake(first, now, sink);
        for _ in 1..WAKES_AT_ONCE {
            match self.wait().now_or_never() {
                Some(wake) => self.wake(wake, now, sink),
                None => break,
            }
        }
    }

    /// Acts on what [`Session::wait`] returned.
    pub fn wake(&mut self, wake: Wake, now: Now, sink: &mut dyn Sink) {
        match wake {
            Wake::Outbox => self.pull(sink),
            Wake::Completed(id, exclusive, completion) => {
                if exclusive {
                    self.exclusive -= 1;
                }
                let outcome = {
                    let mut ctx = Ctx {
                        state: &self.state,
                        conn: &mut self.conn,
                        now,
                    };
                    completion(&mut ctx)
                };
                self.answer_first(id, exclusive, outcome, sink);
                self.release(now.mono, sink);
            }
            Wake::Fetched(fetched) => self.deliver_inbox(fetched, sink),
            Wake::InboxWoken => {
                if let Some(inbox) = &mut self.conn.inbox {
                    inbox.wanted = true;
                }
            }
        }
    }

    /// The next read of the offline queue, if one is wanted.
    fn start_fetch(&mut self) -> Option<StoreFuture<Vec<StoredMessage>>> {
        let inbox = self.conn.inbox.as_mut().filter(|inbox| inbox.wanted)?;
        inbox.wanted = false;
        Some(
            self.state
                .store
                .pending(inbox.user, inbox.last_sent, inbox::BATCH),
        )
    }

    /// Hands fetched offline messages to the sink, in order, with their
    /// original ids and timestamps.
    fn deliver_inbox(
        &mut self,
        fetched: Result<Vec<StoredMessage>, StoreError>,
        sink: &mut dyn Sink,
    ) {
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
        let me = self.conn.peer.as_ref().map(Arc::clone);
        for message in &messages {
            if me
                .as_ref()
                .is_some_and(|me| me.ignores(message.from.as_str()) || me.got_live(message.id))
            {
                // Acknowledged with the rest: it leaves the queue unseen
                // (ignored, or already delivered live: its sender queued
                // it too after giving up on the other node's answer).
                continue;
            }
            let event = Event::new(ServerFrame::Message(store_wire::message(message)));
            self.tell(&event, sink);
        }
        sink.delivered_up_to(last);
        if let Some(inbox) = &mut self.conn.inbox {
            tracing::debug!(count = messages.len(), "delivering offline messages");
            inbox.last_sent = last;
            inbox.wanted = messages.len() as u32 == inbox::BATCH;
        }
    }

    /// The offline messages up to `id` reached the socket: the store drops
    /// them from the queue.
    pub fn acknowledge(&mut self, id: MessageId) {
        if let Some(inbox) = &self.conn.inbox {
            self.state.mark_delivered(inbox.user, id);
        }
    }

    /// Moves what others queued for this session to the sink (while the
    /// driver has room, or regardless when leaving), and deals with a
    /// catch-up, an overflow or a kick.
    pub fn pull(&mut self, sink: &mut dyn Sink) {
        let drained = if sink.backlog() < HIGH_WATER || self.conn.leave.is_some() {
            let drained = self.conn.outbox.drain_into(&mut self.drained);
            // One at a time, each dropped once rendered, so that the sink
            // sees whether anyone else still holds it.
            for event in self.drained.drain(..) {
                sink.event(&event);
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
            self.on_catch_up(start, sink);
        }
        if drained.overflowed && self.conn.leave.is_none() {
            self.on_outbox_overflow(sink);
        }
        if drained.closed && self.conn.leave.is_none() {
            self.conn.leave = Some(Leave::Kicked);
        }
    }

    /// The outbox switched this reader to catch-up: its queued messages
    /// were dropped. Every message up to the resume point is already in
    /// the sink (or, pushed late, still queued), so the notice goes right
    /// after them; the reader then reads the rest from history (HISTORY
    /// `@me` after the resume point), which resumes live delivery.
    fn on_catch_up(&mut self, start: CatchUpStart, sink: &mut dyn Sink) {
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
        let notice = Event::new(ServerFrame::Notice(Notice {
            kind: NoticeKind::CatchUp,
            ts: chinwag_proto::Timestamp::now(),
            actor: "".into(),
            subject,
            until: start.resume.0,
            text: format!("{} messages dropped", start.dropped).into(),
        }));
        self.tell(&notice, sink);
    }

    /// The one place that decides what happens to a reader whose outbound
    /// queue overflowed (by frames or by bytes) and that the outbox could
    /// not switch to catch-up (see [`crate::outbox`]: a guest whose direct
    /// messages would be lost, a queue full of notices, an overflow while
    /// catching up, or too many catch-ups): drop what is queued, say why,
    /// and disconnect.
    fn on_outbox_overflow(&mut self, sink: &mut dyn Sink) {
        // The reason jumps the queue: what waits in the driver and in the
        // outbox is dropped before it.
        sink.discard_unwritten();
        let dropped = self.conn.outbox.discard();
        self.state.metrics.slow_consumer_disconnects.inc();
        tracing::warn!(dropped, "slow consumer; closing");
        self.say(
            RequestId::NONE,
            Err(CmdError::new(
                ErrorCode::SlowConsumer,
                "you did not read your messages fast enough; some were dropped",
            )),
            sink,
        );
        // Free the name now: the flush that follows may take until its
        // deadline, and nobody should be sending to this reader meanwhile.
        self.depart(Leave::SlowConsumer);
    }

    /// When the session next has to look at the clock: the handshake, idle
    /// or partial-request timeout, or the flush deadline when leaving.
    pub fn deadline(&self) -> Instant {
        if let Some(close_by) = self.close_by {
            return close_by;
        }
        let config = &self.state.config;
        let mut deadline = self.last_input + config.idle_timeout();
        if self.conn.phase != Phase::Registered {
            deadline = deadline.min(self.started + config.handshake_timeout);
        }
        if let Some(since) = self.partial_since {
            deadline = deadline.min(since + config.idle_timeout());
        }
        // While a request's work blocks the session, its completion (not
        // the clock) lets the held-back requests go.
        if let Some(held) = self.delayed.front()
            && !self.blocked()
        {
            deadline = deadline.min(held.until);
        }
        deadline
    }

    /// Looks at the clock: ends a session whose time ran out. Returns
    /// `false` once a leaving session's flush deadline has passed: the
    /// driver then stops writing and closes.
    pub fn on_timer(&mut self, now: Instant, sink: &mut dyn Sink) -> bool {
        if let Some(close_by) = self.close_by {
            return now < close_by;
        }
        if self.conn.leave.is_some() {
            return true;
        }
        self.release(now, sink);
        let config = &self.state.config;
        let (code, message) = if self.conn.phase != Phase::Registered
            && now >= self.started + config.handshake_timeout
        {
            (
                ErrorCode::HandshakeTimeout,
                format!(
                    "HELLO and REGISTER must complete within {}",
                    humantime::format_duration(config.handshake_timeout)
                ),
            )
        } else if now >= self.last_input + config.idle_timeout() {
            (
                ErrorCode::IdleTimeout,
                format!(
                    "nothing received for {}",
                    humantime::format_duration(config.idle_timeout())
                ),
            )
        } else if self
            .partial_since
            .is_some_and(|since| now >= since + config.idle_timeout())
        {
            (
                ErrorCode::IdleTimeout,
                format!(
                    "a request was started and not finished within {}",
                    humantime::format_duration(config.idle_timeout())
                ),
            )
        } else {
            return true;
        };
        tracing::info!(%message, "closing");
        self.say(RequestId::NONE, Err(CmdError::new(code, message)), sink);
        self.conn.leave = Some(Leave::TimedOut);
        true
    }

    /// The driver calls this at the top of each turn, with how much it
    /// has waiting to be written: notes that the server is shutting down,
    /// starts the flush deadline of a session that is leaving, and starts
    /// reading the offline queue if it is wanted and there is room.
    pub fn check(&mut self, now: Instant, backlog: usize) {
        if self.conn.leave.is_none() && self.state.shutdown.is_triggered() {
            self.conn.leave = Some(Leave::Shutdown);
        }
        if self.conn.leave.is_some() {
            if self.close_by.is_none() {
                self.close_by = Some(now + CLOSE_FLUSH);
            }
        } else if self.fetch.is_none() && backlog < HIGH_WATER {
            self.fetch = self.start_fetch();
        }
    }

    /// Whether the server (not the client) ended this session, with a
    /// reason the client should read before the socket closes: the driver
    /// then lingers (see `native::linger`).
    pub fn closed_by_server(&self) -> bool {
        !matches!(
            self.conn.leave,
            None | Some(Leave::Disconnected | Leave::Shutdown)
        )
    }

    /// Ends the session now: frees the name (if this was the user's last
    /// session) before the driver lingers, so that nobody sends to it
    /// meanwhile.
    pub fn depart_now(&mut self) {
        self.conn.outbox.close_with(None);
        let leave = self.conn.leave.clone().unwrap_or(Leave::Disconnected);
        self.depart(leave);
    }

    /// Marks the connection as leaving and ends its session; when it was
    /// the user's last, frees the name and tells the others (unless a kick
    /// or the shutdown already took care of that).
    fn depart(&mut self, leave: Leave) {
        if let Some(peer) = self.conn.peer.take() {
            ops::login::depart(&self.state, &peer, self.conn.id, &leave.describe());
        }
        self.conn.leave.get_or_insert(leave);
    }

    /// The session is over: releases what it holds.
    pub fn finish(mut self) {
        self.conn.outbox.close_with(None);
        let leave = self.conn.leave.clone().unwrap_or(Leave::Disconnected);
        self.depart(leave.clone());
        match &leave {
            Leave::Protocol(why) => tracing::info!(reason = why, "closed"),
            other => tracing::info!(reason = other.text(), "closed"),
        }
    }
}

#[cfg(test)]
mod tests;
