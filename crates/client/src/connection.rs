//! The owner task: the one place that touches the socket.
//!
//! Every [`Client`](crate::Client) handle sends [`Command`]s over a bounded
//! channel; this task gives each request an id, encodes it into a write
//! buffer, and completes the request's oneshot when the reply with that id
//! comes back. Frames with id 0 become [`Event`]s.
//!
//! Reading and writing never wait for each other: one `select!` loop polls
//! the socket for frames, the write buffer for progress, the command
//! channel and the heartbeat timer. All commands that are already queued are
//! drained into the write buffer before it is written, so pipelined requests
//! leave in few system calls.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use chinwag_proto::request::{History, MY_CONVERSATIONS};
use chinwag_proto::server::Welcome;
use chinwag_proto::wire::Encode;
use chinwag_proto::{
    ClientCodec, ErrorCode, NoticeKind, Packet, Rejected, Request, RequestId, ServerFrame,
};
use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::codec::FramedRead;

use crate::catchup::{self, CatchUp, Deliver, Step};
use crate::error::ClientError;
use crate::event::Event;

/// Stop taking commands while this much is waiting to be written: the
/// command channel then fills up and callers wait (backpressure).
const WRITE_HIGH_WATER: usize = 64 * 1024;

/// How often, and how far apart, a page of catch-up that the server
/// refused (RateLimited, StorageFailure) is asked for again before the
/// catch-up gives up.
const PAGE_RETRIES: u32 = 5;
const PAGE_RETRY_DELAY: Duration = Duration::from_millis(500);

/// How long a closing connection may take to flush what is left.
const CLOSE_FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

pub(crate) type Reply = oneshot::Sender<Result<ServerFrame, ClientError>>;

/// What a handle asks the owner task to do.
pub(crate) enum Command {
    /// Send a request with the next free id and answer with its reply.
    Request { request: Request, reply: Reply },
    /// Write pre-encoded bytes and answer with the reply that carries `id`.
    RawRequest {
        id: RequestId,
        bytes: Bytes,
        reply: Reply,
    },
    /// Write bytes as they are; answer once they have been flushed.
    Raw {
        bytes: Bytes,
        done: oneshot::Sender<Result<(), ClientError>>,
    },
}

/// State the handles share with the owner task.
pub(crate) struct Shared {
    pub welcome: Welcome,
    /// The registered name, once REGISTERED arrived.
    pub name: Mutex<Option<String>>,
    /// Set when the connection has ended.
    pub closed: AtomicBool,
    /// The id-0 ERROR that preceded the end of the connection, if any.
    pub close_error: OnceLock<(ErrorCode, String)>,
    /// Messages delivered from history after NOTICE CatchUp, in total.
    pub caught_up: AtomicU64,
}

impl Shared {
    pub fn new(welcome: Welcome) -> Shared {
        Shared {
            welcome,
            name: Mutex::new(None),
            closed: AtomicBool::new(false),
            close_error: OnceLock::new(),
            caught_up: AtomicU64::new(0),
        }
    }

    /// The error for a request that found the connection gone.
    pub fn closed_error(&self) -> ClientError {
        closed_error(self.close_error.get())
    }
}

fn closed_error(server_error: Option<&(ErrorCode, String)>) -> ClientError {
    match server_error {
        Some((code, message)) => ClientError::server(*code, message.clone()),
        None => ClientError::Closed,
    }
}

/// Request ids: a counter starting at 1 that skips 0 when it wraps, and
/// any id still waiting for its reply.
#[derive(Debug)]
pub(crate) struct IdGen {
    next: u32,
}

impl IdGen {
    pub fn starting_at(next: u32) -> IdGen {
        IdGen { next: next.max(1) }
    }

    pub fn next(&mut self, in_use: impl Fn(u32) -> bool) -> RequestId {
        loop {
            let id = self.next;
            self.next = match self.next.wrapping_add(1) {
                0 => 1,
                n => n,
            };
            if !in_use(id) {
                return RequestId(id);
            }
        }
    }
}

/// A request the connection sends on its own behalf.
#[derive(Clone, Copy, Debug)]
enum Internal {
    /// `HISTORY @me` right after REGISTERED: tells the server this client
    /// catches up rather than being disconnected when it falls behind.
    OptIn,
    /// A page of what was missed, after this id.
    Page { after: u64 },
}

/// How the loop ended.
enum End {
    /// The server closed the connection.
    Eof,
    /// The socket failed or the stream could not be decoded.
    Failed(String),
    /// Every handle and the events receiver were dropped.
    Abandoned,
}

pub(crate) struct Connection<S> {
    reader: FramedRead<ReadHalf<S>, ClientCodec>,
    writer: WriteHalf<S>,
    write_buf: BytesMut,
    /// Bytes were written since the last flush.
    needs_flush: bool,
    /// `Raw` commands waiting for their bytes to be flushed.
    flush_waiters: Vec<oneshot::Sender<Result<(), ClientError>>>,
    commands: mpsc::Receiver<Command>,
    commands_open: bool,
    events: mpsc::Sender<Event>,
    events_open: bool,
    /// Events that found the channel full, in order; reading waits until
    /// they are sent.
    backlog: VecDeque<Event>,
    pending: HashMap<u32, Reply>,
    /// Requests of the connection's own (catch-up), by id.
    internal: HashMap<u32, Internal>,
    /// Whether to catch up after NOTICE CatchUp (and to tell the server so).
    catch_up_enabled: bool,
    catch_up: CatchUp,
    /// A refused catch-up page to ask for again, when, and how many times
    /// in a row pages were refused.
    page_retry: Option<(Instant, u64)>,
    page_failures: u32,
    ids: IdGen,
    heartbeat: Option<Duration>,
    last_write: Instant,
    /// The last id-0 ERROR, which usually explains why the server closes.
    server_error: Option<(ErrorCode, String)>,
    shared: Arc<Shared>,
}

impl<S: AsyncRead + AsyncWrite + Send + 'static> Connection<S> {
    pub fn new(
        reader: FramedRead<ReadHalf<S>, ClientCodec>,
        writer: WriteHalf<S>,
        commands: mpsc::Receiver<Command>,
        events: mpsc::Sender<Event>,
        heartbeat: Option<Duration>,
        first_id: u32,
        shared: Arc<Shared>,
    ) -> Self {
        Connection {
            reader,
            writer,
            write_buf: BytesMut::with_capacity(8 * 1024),
            needs_flush: false,
            flush_waiters: Vec::new(),
            commands,
            commands_open: true,
            events,
            events_open: true,
            backlog: VecDeque::new(),
            pending: HashMap::new(),
            internal: HashMap::new(),
            catch_up_enabled: false,
            catch_up: CatchUp::default(),
            page_retry: None,
            page_failures: 0,
            ids: IdGen::starting_at(first_id),
            heartbeat,
            last_write: Instant::now(),
            server_error: None,
            shared,
        }
    }

    /// Catch up after NOTICE CatchUp (see [`crate::catchup`]).
    pub fn with_catch_up(mut self, on: bool) -> Self {
        self.catch_up_enabled = on;
        self
    }

    pub async fn run(mut self) {
        let end = loop {
            let ping_at = self
                .heartbeat
                .map(|every| self.last_write + every)
                .unwrap_or_else(far_future);
            let retry_at = self.page_retry.map_or_else(far_future, |(at, _)| at);
            // Not `biased`: under a flood of incoming frames the write and
            // command branches must still get their turn.
            tokio::select! {
                delivered = deliver(&self.events, &mut self.backlog),
                    if !self.backlog.is_empty() =>
                {
                    if !delivered {
                        self.drop_events();
                    }
                }
                frame = self.reader.next(), if self.backlog.is_empty() => match frame {
                    Some(Ok(Ok(packet))) => self.on_frame(packet),
                    Some(Ok(Err(rejected))) => self.on_rejected(rejected),
                    Some(Err(error)) => break End::Failed(format!("bad frame from server: {error}")),
                    None => break End::Eof,
                },
                written = write_some(&mut self.writer, &mut self.write_buf),
                    if !self.write_buf.is_empty() || self.needs_flush =>
                {
                    match written {
                        Ok(Written::Some) => self.needs_flush = true,
                        Ok(Written::Flushed) => self.on_flushed(),
                        Err(error) => break End::Failed(format!("write failed: {error}")),
                    }
                }
                command = self.commands.recv(),
                    if self.commands_open && self.write_buf.len() < WRITE_HIGH_WATER =>
                {
                    match command {
                        Some(command) => self.on_commands(command),
                        None => self.commands_open = false,
                    }
                }
                _ = self.events.closed(), if !self.commands_open => break End::Abandoned,
                _ = tokio::time::sleep_until(retry_at), if self.page_retry.is_some() => {
                    if let Some((_, after)) = self.page_retry.take() {
                        self.send_internal(Internal::Page { after });
                    }
                }
                _ = tokio::time::sleep_until(ping_at), if self.heartbeat.is_some() => {
                    self.send_heartbeat();
                }
            }
        };
        self.finish(end).await;
    }

    fn on_frame(&mut self, packet: Packet<ServerFrame>) {
        if packet.id != RequestId::NONE {
            if let Some(internal) = self.internal.remove(&packet.id.0) {
                self.on_internal_reply(internal, Ok(packet.body));
                return;
            }
            if self.catch_up_enabled && matches!(packet.body, ServerFrame::Registered(_)) {
                self.send_internal(Internal::OptIn);
            }
            match self.pending.remove(&packet.id.0) {
                Some(reply) => {
                    // The caller may have given up waiting: nothing to do.
                    let _ = reply.send(Ok(packet.body));
                }
                None => tracing::debug!(id = %packet.id, "reply to no pending request"),
            }
            return;
        }
        match packet.body {
            ServerFrame::Message(message) if self.catch_up_enabled => {
                if let Some(message) = self.catch_up.on_live(message) {
                    self.push_event(Event::Message(message));
                }
            }
            ServerFrame::Message(message) => self.push_event(Event::Message(message)),
            ServerFrame::Notice(notice)
                if self.catch_up_enabled && notice.kind == NoticeKind::CatchUp =>
            {
                let step = self.catch_up.on_notice(notice);
                self.apply(step);
            }
            ServerFrame::Notice(notice) => self.push_event(Event::Notice(notice)),
            ServerFrame::RoomNotice(notice) => self.push_event(Event::RoomNotice(notice)),
            ServerFrame::UserUpdate(update) => self.push_event(Event::User(update)),
            ServerFrame::Redacted(redacted) => self.push_event(Event::Redacted(redacted)),
            ServerFrame::Error { code, message } => {
                let message = message.to_string();
                self.server_error = Some((code, message.clone()));
                self.push_event(Event::Error { code, message });
            }
            other => tracing::debug!(frame = other.frame_type().name(), "unexpected event"),
        }
    }

    /// A free request id: not waited for by a caller nor by catch-up.
    fn next_id(&mut self) -> RequestId {
        let (pending, internal) = (&self.pending, &self.internal);
        self.ids
            .next(|id| pending.contains_key(&id) || internal.contains_key(&id))
    }

    /// Sends a request of the connection's own: `HISTORY @me`.
    fn send_internal(&mut self, internal: Internal) {
        let (after, limit) = match internal {
            Internal::OptIn => (0, 1),
            Internal::Page { after } => (after, catchup::PAGE),
        };
        let request = Request::History(History {
            src: "".into(),
            dst: MY_CONVERSATIONS.into(),
            before: 0,
            after,
            limit,
        });
        let id = self.next_id();
        match self.encode(&request, id) {
            Ok(()) => {
                self.internal.insert(id.0, internal);
            }
            Err(error) => self.on_internal_reply(internal, Err(error.to_string())),
        }
    }

    fn on_internal_reply(&mut self, internal: Internal, reply: Result<ServerFrame, String>) {
        let Internal::Page { after } = internal else {
            // The opt-in's page itself is of no interest.
            if let Ok(ServerFrame::Error { code, message }) = &reply {
                tracing::debug!(?code, %message, "the server does not offer catch-up");
            }
            return;
        };
        let step = match reply {
            Ok(ServerFrame::HistoryPage(page)) => {
                self.page_failures = 0;
                self.catch_up.on_page(after, page)
            }
            Ok(ServerFrame::Error { code, message }) if self.page_failures < PAGE_RETRIES => {
                tracing::debug!(?code, %message, "catch-up page refused; asking again");
                self.page_failures += 1;
                self.page_retry = Some((Instant::now() + PAGE_RETRY_DELAY, after));
                return;
            }
            Ok(ServerFrame::Error { message, .. }) => self.catch_up.on_failure(&message),
            Ok(other) => self
                .catch_up
                .on_failure(&format!("unexpected {}", other.frame_type().name())),
            Err(why) => self.catch_up.on_failure(&why),
        };
        self.apply(step);
    }

    /// Carries out a catch-up step: deliver, then ask for the next page.
    fn apply(&mut self, step: Step) {
        for item in step.deliver {
            match item {
                Deliver::Message(message) => self.push_event(Event::Message(message)),
                Deliver::Done(notice) => self.push_event(Event::Notice(notice)),
            }
        }
        self.shared
            .caught_up
            .store(self.catch_up.total, Ordering::Relaxed);
        if let Some(after) = step.fetch_after {
            self.send_internal(Internal::Page { after });
        }
    }

    fn on_rejected(&mut self, rejected: Rejected) {
        if let Some(internal) = self.internal.remove(&rejected.id.0) {
            self.on_internal_reply(internal, Err(format!("undecodable reply: {rejected}")));
            return;
        }
        match self.pending.remove(&rejected.id.0) {
            Some(reply) if rejected.id != RequestId::NONE => {
                let error = ClientError::Protocol(format!("undecodable reply: {rejected}"));
                let _ = reply.send(Err(error));
            }
            // An event type from a newer server: ignore it, as the spec says.
            _ => tracing::debug!(%rejected, "skipped a frame"),
        }
    }

    fn push_event(&mut self, event: Event) {
        if !self.events_open {
            return;
        }
        if !self.backlog.is_empty() {
            self.backlog.push_back(event);
            return;
        }
        match self.events.try_send(event) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(event)) => self.backlog.push_back(event),
            Err(mpsc::error::TrySendError::Closed(_)) => self.drop_events(),
        }
    }

    /// The application dropped `Events`: discard events from now on.
    fn drop_events(&mut self) {
        self.events_open = false;
        self.backlog.clear();
    }

    /// Takes `first` and every command already queued, up to the high-water
    /// mark, so that they are written together.
    fn on_commands(&mut self, first: Command) {
        self.on_command(first);
        while self.write_buf.len() < WRITE_HIGH_WATER {
            match self.commands.try_recv() {
                Ok(command) => self.on_command(command),
                Err(_) => break,
            }
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Request { request, reply } => {
                if reply.is_closed() {
                    return;
                }
                let id = self.next_id();
                match self.encode(&request, id) {
                    Ok(()) => {
                        self.pending.insert(id.0, reply);
                    }
                    Err(error) => {
                        let _ = reply.send(Err(error));
                    }
                }
            }
            Command::RawRequest { id, bytes, reply } => {
                if id == RequestId::NONE
                    || self.pending.contains_key(&id.0)
                    || self.internal.contains_key(&id.0)
                {
                    let error = ClientError::InvalidInput(format!("request id {id} is not free"));
                    let _ = reply.send(Err(error));
                    return;
                }
                self.write_buf.extend_from_slice(&bytes);
                self.last_write = Instant::now();
                self.pending.insert(id.0, reply);
            }
            Command::Raw { bytes, done } => {
                self.write_buf.extend_from_slice(&bytes);
                self.last_write = Instant::now();
                self.needs_flush = true;
                self.flush_waiters.push(done);
            }
        }
    }

    /// Appends one frame to the write buffer, or nothing if it cannot be
    /// sent (a field too long, or a frame above the server's limit).
    fn encode(&mut self, request: &Request, id: RequestId) -> Result<(), ClientError> {
        let start = self.write_buf.len();
        request
            .encode(id, &mut self.write_buf)
            .map_err(|e| ClientError::InvalidInput(e.to_string()))?;
        let len = self.write_buf.len() - start - chinwag_proto::frame::LENGTH_SIZE;
        let max = self.shared.welcome.max_frame as usize;
        if len > max {
            self.write_buf.truncate(start);
            return Err(ClientError::InvalidInput(format!(
                "the request is {len} bytes, above the server's limit of {max}"
            )));
        }
        self.last_write = Instant::now();
        Ok(())
    }

    fn send_heartbeat(&mut self) {
        let id = self.next_id();
        // Nobody waits for the PONG: a reply to no pending id is dropped.
        if let Err(error) = self.encode(&Request::Ping, id) {
            tracing::debug!(%error, "could not send a heartbeat");
        }
    }

    fn on_flushed(&mut self) {
        self.needs_flush = false;
        for done in self.flush_waiters.drain(..) {
            let _ = done.send(Ok(()));
        }
    }

    async fn finish(mut self, end: End) {
        let server_error = self.server_error.take();
        if let Some(error) = &server_error {
            let _ = self.shared.close_error.set(error.clone());
        }
        self.shared.closed.store(true, Ordering::Release);

        for (_, reply) in self.pending.drain() {
            let _ = reply.send(Err(closed_error(server_error.as_ref())));
        }
        self.commands.close();
        while let Ok(command) = self.commands.try_recv() {
            let error = closed_error(server_error.as_ref());
            match command {
                Command::Request { reply, .. } | Command::RawRequest { reply, .. } => {
                    let _ = reply.send(Err(error));
                }
                Command::Raw { done, .. } => {
                    let _ = done.send(Err(error));
                }
            }
        }

        if let End::Abandoned = end {
            let mut writer = self.writer;
            let buf = self.write_buf;
            let close = async move {
                writer.write_all(&buf).await?;
                writer.shutdown().await
            };
            let _ = tokio::time::timeout(CLOSE_FLUSH_TIMEOUT, close).await;
        } else {
            drop(self.writer);
        }
        drop(self.reader);

        if !self.events_open {
            return;
        }
        let reason = match end {
            End::Eof | End::Abandoned => {
                server_error.map(|(code, message)| ClientError::server(code, message).to_string())
            }
            End::Failed(reason) => Some(reason),
        };
        for event in std::mem::take(&mut self.backlog) {
            if self.events.send(event).await.is_err() {
                return;
            }
        }
        let _ = self.events.send(Event::Closed { reason }).await;
    }
}

/// Sends the oldest held-back event once the channel has room; `false` if
/// the receiver is gone.
async fn deliver(events: &mpsc::Sender<Event>, backlog: &mut VecDeque<Event>) -> bool {
    match events.reserve().await {
        Ok(permit) => {
            if let Some(event) = backlog.pop_front() {
                permit.send(event);
            }
            true
        }
        Err(_) => false,
    }
}

enum Written {
    /// Some bytes left the buffer; a flush is due once it is empty.
    Some,
    /// The buffer is empty and the socket flushed.
    Flushed,
}

/// One step of writing: a single `write` while the buffer holds bytes,
/// then a flush. Each step is cancel-safe, so it can sit in `select!`.
async fn write_some<W: AsyncWrite + Unpin>(
    writer: &mut W,
    buf: &mut BytesMut,
) -> std::io::Result<Written> {
    if buf.is_empty() {
        writer.flush().await?;
        return Ok(Written::Flushed);
    }
    match writer.write_buf(buf).await? {
        0 => Err(std::io::ErrorKind::WriteZero.into()),
        _ => Ok(Written::Some),
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_start_at_one_and_skip_zero_and_busy_ids() {
        let mut ids = IdGen::starting_at(0);
        assert_eq!(ids.next(|_| false), RequestId(1));
        assert_eq!(ids.next(|_| false), RequestId(2));

        let mut ids = IdGen::starting_at(u32::MAX);
        assert_eq!(ids.next(|_| false), RequestId(u32::MAX));
        assert_eq!(ids.next(|_| false), RequestId(1));
        assert_eq!(ids.next(|id| id == 2 || id == 3), RequestId(4));
    }
}
