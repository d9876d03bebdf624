//! The [`Client`] handle: one method per request.

use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chinwag_proto::request::{
    Admin, Audit, BROADCAST_CONVERSATION, Ban, Bantalk, Broadcast, GetAllUser, Hello, History,
    Ignore, Kickout, Logout, MarkRead, Passwd, Profile, Reflect, Register, Shutdown, ShutdownScope,
    Target, Transfer, Unmute,
};
use chinwag_proto::server::{
    AuditEntry, Message, MessageId, ReadMarker, Registered, Sent, UserInfo, Welcome,
};
use chinwag_proto::wire::Encode;
use chinwag_proto::{
    ClientCodec, PROTOCOL_VERSION, Request, RequestId, ServerFrame, Timestamp, UserName,
};
use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::FramedRead;

use crate::connection::{Command, Connection, Shared};
use crate::error::ClientError;
use crate::event::Events;

/// How many commands may wait for the owner task before callers wait.
const COMMAND_BUFFER: usize = 1024;

/// The id of HELLO; the owner task's counter continues after it.
const HELLO_ID: RequestId = RequestId(1);

/// How to connect.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// The client software name sent in HELLO, for the server's logs.
    pub client_name: String,
    /// How many events may wait in [`Events`] before the connection stops
    /// reading the socket. Default 1024.
    pub event_buffer: usize,
    /// Send a PING every `WELCOME.heartbeat_secs / 2` while nothing else is
    /// sent, so that the server does not drop an idle connection.
    /// Default `true`.
    pub heartbeat: bool,
    /// How long to wait for WELCOME after HELLO. Default 10 s.
    pub handshake_timeout: Duration,
    /// Catch up instead of being disconnected when this connection falls
    /// too far behind in reading: after REGISTER the client tells the
    /// server it can (`HISTORY @me`, limit 1), and on NOTICE CatchUp it
    /// reads what it missed from history and delivers it as ordinary
    /// [`Event::Message`](crate::Event::Message)s, each once, in order,
    /// followed by the CatchUp notice (its text says how many; see
    /// [`Client::caught_up`]). Default `true`.
    pub catch_up: bool,
}

/// What REGISTER says beyond the name and the password.
#[derive(Clone, Debug)]
pub struct RegisterOptions {
    /// The address the client advertises (the seed's `ip`); may be empty.
    pub ip: String,
    /// The port the client advertises (the seed's `port`); 0 for none.
    pub port: u16,
    /// Take the account's messages that arrived while it was offline.
    /// Default `true`; a client that will not show messages (a one-shot
    /// command) says `false`, and the queue waits for the next one that
    /// does.
    pub take_offline: bool,
    /// Be one of several sessions of the account: log in even while the
    /// account is online elsewhere (with the same password), receive its
    /// messages, and see what its other sessions send. Default `true`;
    /// `false` asks for the account alone (a second login is refused with
    /// NameTaken, as before sessions existed).
    pub multi_session: bool,
}

impl Default for RegisterOptions {
    fn default() -> Self {
        RegisterOptions {
            ip: String::new(),
            port: 0,
            take_offline: true,
            multi_session: true,
        }
    }
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            client_name: concat!("chinwag-client/", env!("CARGO_PKG_VERSION")).to_owned(),
            event_buffer: 1024,
            heartbeat: true,
            handshake_timeout: Duration::from_secs(10),
            catch_up: true,
        }
    }
}

/// The answer to [`Client::echo`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Echo {
    /// When the server echoed it.
    pub ts: Timestamp,
    pub content: String,
    /// From handing the request to the connection to receiving the reply.
    pub rtt: Duration,
}

/// A handle on one connection. Clones share the connection; requests from
/// any number of tasks are pipelined and matched to their replies by id.
///
/// The connection ends when the server closes it (after [`Client::logout`],
/// a kick or a shutdown), when the socket fails, or when every handle and
/// the [`Events`] have been dropped.
#[derive(Clone)]
pub struct Client {
    commands: mpsc::Sender<Command>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("name", &self.name())
            .field("server", &&*self.shared.welcome.server)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects over TCP and says HELLO.
    pub async fn connect(
        addr: impl ToSocketAddrs,
        opts: ConnectOptions,
    ) -> Result<(Client, Events), ClientError> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Client::connect_stream(stream, opts).await
    }

    /// Connects over TCP, then TLS (checking the server's certificate as
    /// `tls` says), and says HELLO. `addr` is `host:port`; the host is the
    /// name the certificate must be valid for, unless `tls` names another.
    pub async fn connect_tls(
        addr: &str,
        tls: &crate::tls::TlsOptions,
        opts: ConnectOptions,
    ) -> Result<(Client, Events), ClientError> {
        let connector = crate::tls::connector(tls)?;
        let name = crate::tls::server_name(addr, tls)?;
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let stream = tokio::time::timeout(opts.handshake_timeout, connector.connect(name, stream))
            .await
            .map_err(|_| ClientError::Tls(crate::tls::NO_TLS_ANSWER.into()))?
            .map_err(crate::tls::handshake_error)?;
        Client::connect_stream(stream, opts).await
    }

    /// Says HELLO over an already open stream (a duplex pipe in tests, a
    /// TLS stream) and starts the connection's owner task.
    pub async fn connect_stream<S>(
        stream: S,
        opts: ConnectOptions,
    ) -> Result<(Client, Events), ClientError>
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let (read, mut writer) = tokio::io::split(stream);
        let mut reader = FramedRead::new(read, ClientCodec::client());
        let hello = Request::Hello(Hello::current(&opts.client_name))
            .to_frame(HELLO_ID)
            .map_err(|e| ClientError::InvalidInput(e.to_string()))?;
        writer.write_all(&hello).await?;
        writer.flush().await?;
        let welcome = tokio::time::timeout(opts.handshake_timeout, read_welcome(&mut reader))
            .await
            .map_err(|_| ClientError::Protocol("no WELCOME from the server in time".into()))??;

        let heartbeat = (opts.heartbeat && welcome.heartbeat_secs > 0)
            .then(|| Duration::from_millis(u64::from(welcome.heartbeat_secs) * 500));
        let shared = Arc::new(Shared::new(welcome));
        let (command_tx, command_rx) = mpsc::channel(COMMAND_BUFFER);
        let (event_tx, event_rx) = mpsc::channel(opts.event_buffer.max(1));
        let connection = Connection::new(
            reader,
            writer,
            command_rx,
            event_tx,
            heartbeat,
            HELLO_ID.0 + 1,
            Arc::clone(&shared),
        )
        .with_catch_up(opts.catch_up);
        tokio::spawn(connection.run());
        let client = Client {
            commands: command_tx,
            shared,
        };
        Ok((client, Events::new(event_rx)))
    }

    /// The server's WELCOME: its name and limits.
    pub fn welcome(&self) -> &Welcome {
        &self.shared.welcome
    }

    /// The registered name, once REGISTER succeeded.
    pub fn name(&self) -> Option<String> {
        self.shared
            .name
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many messages this connection has delivered from history while
    /// catching up (see [`ConnectOptions::catch_up`]).
    pub fn caught_up(&self) -> u64 {
        self.shared.caught_up.load(Ordering::Relaxed)
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire) || self.commands.is_closed()
    }

    /// REGISTER: claims `name`; `None` or an empty password registers as a
    /// guest.
    pub async fn register(
        &self,
        name: &str,
        password: Option<&str>,
    ) -> Result<Registered, ClientError> {
        self.register_advertising(name, password, "", 0).await
    }

    /// REGISTER, advertising an address of the client's own (the seed's
    /// `ip | port` fields).
    pub async fn register_advertising(
        &self,
        name: &str,
        password: Option<&str>,
        ip: &str,
        port: u16,
    ) -> Result<Registered, ClientError> {
        let options = RegisterOptions {
            ip: ip.to_owned(),
            port,
            ..RegisterOptions::default()
        };
        self.register_with(name, password, &options).await
    }

    /// REGISTER with every option.
    pub async fn register_with(
        &self,
        name: &str,
        password: Option<&str>,
        options: &RegisterOptions,
    ) -> Result<Registered, ClientError> {
        check_name(name)?;
        let request = Request::Register(Register {
            name: name.into(),
            ip: options.ip.as_str().into(),
            port: options.port,
            password: password.unwrap_or("").into(),
            take_offline: options.take_offline,
            multi_session: options.multi_session,
        });
        match self.request(request).await? {
            ServerFrame::Registered(registered) => {
                *self
                    .shared
                    .name
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(registered.name.to_string());
                Ok(registered)
            }
            other => Err(unexpected("REGISTERED", &other)),
        }
    }

    /// TRANSFER: sends `text` to the user `to`.
    pub async fn send(&self, to: &str, text: &str) -> Result<Sent, ClientError> {
        check_name(to)?;
        self.check_message(text)?;
        let request = Request::Transfer(Transfer {
            src: "".into(),
            dst: to.into(),
            content: text.into(),
            ..Default::default()
        });
        self.expect_sent(request).await
    }

    /// BROADCAST: sends `text` to everyone else online.
    pub async fn broadcast(&self, text: &str) -> Result<Sent, ClientError> {
        self.check_message(text)?;
        let request = Request::Broadcast(Broadcast {
            src: "".into(),
            content: text.into(),
            ..Default::default()
        });
        self.expect_sent(request).await
    }

    /// GETALLUSER: the users online.
    pub async fn users(&self) -> Result<Vec<UserInfo>, ClientError> {
        let request = Request::GetAllUser(GetAllUser { src: "".into() });
        match self.request(request).await? {
            ServerFrame::UserList(users) => Ok(users),
            other => Err(unexpected("USER_LIST", &other)),
        }
    }

    /// REFLECT: the server sends `text` back.
    pub async fn echo(&self, text: &str) -> Result<Echo, ClientError> {
        self.check_text(text)?;
        let request = Request::Reflect(Reflect {
            src: "".into(),
            content: text.into(),
        });
        let start = Instant::now();
        match self.request(request).await? {
            ServerFrame::Echo { ts, content } => Ok(Echo {
                ts,
                content: content.to_string(),
                rtt: start.elapsed(),
            }),
            other => Err(unexpected("ECHO", &other)),
        }
    }

    /// PING: the round-trip time.
    pub async fn ping(&self) -> Result<Duration, ClientError> {
        let start = Instant::now();
        match self.request(Request::Ping).await? {
            ServerFrame::Pong { .. } => Ok(start.elapsed()),
            other => Err(unexpected("PONG", &other)),
        }
    }

    /// ADMIN: becomes administrator with the server's admin password.
    pub async fn admin(&self, password: &str) -> Result<(), ClientError> {
        self.expect_ok(Request::Admin(Admin {
            src: "".into(),
            password: password.into(),
        }))
        .await
    }

    /// KICKOUT: disconnects `name` (administrators only).
    pub async fn kick(&self, name: &str, reason: &str) -> Result<(), ClientError> {
        check_name(name)?;
        self.check_reason(reason)?;
        self.expect_ok(Request::Kickout(Kickout {
            src: "".into(),
            dst: name.into(),
            reason: reason.into(),
        }))
        .await
    }

    /// BANTALK: mutes `name` for `duration` (rounded up to whole seconds,
    /// at least one), or until lifted when `None` (administrators only).
    pub async fn mute(
        &self,
        name: &str,
        duration: Option<Duration>,
        reason: &str,
    ) -> Result<(), ClientError> {
        check_name(name)?;
        self.check_reason(reason)?;
        let duration_secs = match duration {
            None => 0,
            Some(d) => mute_secs(d)?,
        };
        self.expect_ok(Request::Bantalk(Bantalk {
            src: "".into(),
            dst: name.into(),
            duration_secs,
            reason: reason.into(),
        }))
        .await
    }

    /// UNMUTE: lifts a mute on `name` (administrators only).
    pub async fn unmute(&self, name: &str) -> Result<(), ClientError> {
        check_name(name)?;
        self.expect_ok(Request::Unmute(Unmute {
            src: "".into(),
            dst: name.into(),
        }))
        .await
    }

    /// SHUTDOWN: stops the server (administrators only).
    pub async fn shutdown(&self, reason: &str) -> Result<(), ClientError> {
        self.check_reason(reason)?;
        self.expect_ok(Request::Shutdown(Shutdown {
            src: "".into(),
            scope: ShutdownScope::Node,
            reason: reason.into(),
        }))
        .await
    }

    /// PASSWD: changes the password of the account this connection is
    /// logged in to.
    pub async fn passwd(&self, old: &str, new: &str) -> Result<(), ClientError> {
        self.expect_ok(Request::Passwd(Passwd {
            src: "".into(),
            old: old.into(),
            new: new.into(),
        }))
        .await
    }

    /// HISTORY: a page of the conversation with `with` (a user name, or
    /// `None` for the broadcast channel), newest first. `before` / `after`
    /// bound the message ids; `limit` is at most 500.
    pub async fn history(&self, query: &HistoryQuery<'_>) -> Result<Vec<Message>, ClientError> {
        let dst = match query.with {
            // A room's history is read by its name (`#general`).
            Some(room) if room.starts_with('#') => {
                chinwag_proto::RoomName::parse(room).map_err(|e| {
                    ClientError::InvalidInput(format!("invalid room name {room:?}: {e}"))
                })?;
                room
            }
            Some(name) => {
                check_name(name)?;
                name
            }
            None => BROADCAST_CONVERSATION,
        };
        if query.limit == 0 {
            return Err(ClientError::InvalidInput("limit must be at least 1".into()));
        }
        let request = Request::History(History {
            src: "".into(),
            dst: dst.into(),
            before: query.before.unwrap_or(0),
            after: query.after.unwrap_or(0),
            limit: query.limit,
        });
        match self.request(request).await? {
            ServerFrame::HistoryPage(messages) => Ok(messages),
            other => Err(unexpected("HISTORY_PAGE", &other)),
        }
    }

    /// MARK_READ: this account has read the conversation `with` (a user,
    /// a `#room`, `None` for the broadcasts) up to message `id`. Markers
    /// only move forward; accounts only.
    pub async fn mark_read(&self, with: Option<&str>, id: MessageId) -> Result<(), ClientError> {
        let conversation = match with {
            Some(with) => with,
            None => BROADCAST_CONVERSATION,
        };
        self.expect_ok(Request::MarkRead(MarkRead {
            src: "".into(),
            conversation: conversation.into(),
            id: id.0,
        }))
        .await
    }

    /// READ_MARKERS: how far this account has read each conversation
    /// (named as [`HistoryQuery::with`] names them, `*` for the
    /// broadcasts).
    pub async fn read_markers(&self) -> Result<Vec<ReadMarker>, ClientError> {
        let request = Request::ReadMarkers(Target {
            src: "".into(),
            dst: "".into(),
        });
        match self.request(request).await? {
            ServerFrame::ReadMarkerList(markers) => Ok(markers),
            other => Err(unexpected("READ_MARKER_LIST", &other)),
        }
    }

    /// PROFILE: what others see of this user besides its name (in the
    /// user list): a short user name, a real name, and why it is away
    /// (empty: not away). Each call replaces all three.
    pub async fn profile(
        &self,
        username: &str,
        realname: &str,
        away: &str,
    ) -> Result<(), ClientError> {
        self.expect_ok(Request::Profile(Profile {
            src: "".into(),
            username: username.into(),
            realname: realname.into(),
            away: away.into(),
        }))
        .await
    }

    /// IGNORE: stop being shown `name`'s messages (`ignore`), or be shown
    /// them again; the server's answer says what changed.
    pub async fn ignore(&self, name: &str, ignore: bool) -> Result<String, ClientError> {
        check_name(name)?;
        let request = Request::Ignore(Ignore {
            src: "".into(),
            dst: name.into(),
            ignore,
        });
        match self.request(request).await? {
            ServerFrame::Ok { message } => Ok(message.to_string()),
            other => Err(unexpected("OK", &other)),
        }
    }

    /// IGNORES: whom this user ignores.
    pub async fn ignores(&self) -> Result<Vec<String>, ClientError> {
        let request = Request::Ignores(Target {
            src: "".into(),
            dst: "".into(),
        });
        match self.request(request).await? {
            ServerFrame::IgnoreList(names) => Ok(names.iter().map(|n| n.to_string()).collect()),
            other => Err(unexpected("IGNORE_LIST", &other)),
        }
    }

    /// BAN: keeps a user name or an IP address out for `duration` (rounded
    /// up to whole seconds), or for good when `None` (administrators only).
    pub async fn ban(
        &self,
        target: &str,
        duration: Option<Duration>,
        reason: &str,
    ) -> Result<(), ClientError> {
        check_ban_target(target)?;
        self.check_reason(reason)?;
        let duration_secs = match duration {
            None => 0,
            Some(d) => mute_secs(d)?,
        };
        self.expect_ok(Request::Ban(Ban {
            src: "".into(),
            dst: target.into(),
            duration_secs,
            reason: reason.into(),
        }))
        .await
    }

    /// UNBAN: lifts a ban on a user name or an IP address (administrators
    /// only).
    pub async fn unban(&self, target: &str) -> Result<(), ClientError> {
        check_ban_target(target)?;
        self.expect_ok(Request::Unban(Target {
            src: "".into(),
            dst: target.into(),
        }))
        .await
    }

    /// GRANT: gives the account `name` the administrator role
    /// (administrators only).
    pub async fn grant(&self, name: &str) -> Result<(), ClientError> {
        check_name(name)?;
        self.expect_ok(Request::Grant(Target {
            src: "".into(),
            dst: name.into(),
        }))
        .await
    }

    /// REVOKE: takes the administrator role from the account `name`
    /// (administrators only).
    pub async fn revoke(&self, name: &str) -> Result<(), ClientError> {
        check_name(name)?;
        self.expect_ok(Request::Revoke(Target {
            src: "".into(),
            dst: name.into(),
        }))
        .await
    }

    /// AUDIT: up to `limit` audit log entries with an id below `before`
    /// (from the newest when `None`), newest first (administrators only).
    pub async fn audit(
        &self,
        before: Option<u64>,
        limit: u16,
    ) -> Result<Vec<AuditEntry>, ClientError> {
        if limit == 0 {
            return Err(ClientError::InvalidInput("limit must be at least 1".into()));
        }
        let request = Request::Audit(Audit {
            src: "".into(),
            before: before.unwrap_or(0),
            limit,
        });
        match self.request(request).await? {
            ServerFrame::AuditPage(entries) => Ok(entries),
            other => Err(unexpected("AUDIT_PAGE", &other)),
        }
    }

    /// SHUTDOWN with scope Cluster: stops every node of a cluster (the
    /// same as [`Client::shutdown`] on a single server).
    pub async fn shutdown_cluster(&self, reason: &str) -> Result<(), ClientError> {
        self.check_reason(reason)?;
        self.expect_ok(Request::Shutdown(Shutdown {
            src: "".into(),
            scope: ShutdownScope::Cluster,
            reason: reason.into(),
        }))
        .await
    }

    /// LOGOUT: waits for the server's OK; the server then closes the
    /// connection, and [`Events`] ends with [`Event::Closed`].
    pub async fn logout(&self) -> Result<(), ClientError> {
        self.expect_ok(Request::Logout(Logout {
            src: "".into(),
            ..Default::default()
        }))
        .await
    }

    /// Sends any request and returns its reply frame. An ERROR reply is
    /// returned as [`ClientError::Server`].
    pub async fn request(&self, request: Request) -> Result<ServerFrame, ClientError> {
        let (reply, rx) = oneshot::channel();
        self.submit(Command::Request { request, reply }, rx).await
    }

    /// Writes `bytes` as they are (a hand-made, possibly malformed frame)
    /// and returns the reply frame that carries `id`. For tests of the
    /// server's handling of bad input.
    pub async fn request_raw(
        &self,
        id: RequestId,
        bytes: Bytes,
    ) -> Result<ServerFrame, ClientError> {
        let (reply, rx) = oneshot::channel();
        self.submit(Command::RawRequest { id, bytes, reply }, rx)
            .await
    }

    /// Writes `bytes` to the socket as they are, and returns once they have
    /// been flushed. Any reply is not waited for.
    pub async fn send_raw(&self, bytes: Bytes) -> Result<(), ClientError> {
        let (done, rx) = oneshot::channel();
        self.commands
            .send(Command::Raw { bytes, done })
            .await
            .map_err(|_| self.shared.closed_error())?;
        rx.await.map_err(|_| self.shared.closed_error())?
    }

    async fn submit(
        &self,
        command: Command,
        rx: oneshot::Receiver<Result<ServerFrame, ClientError>>,
    ) -> Result<ServerFrame, ClientError> {
        self.commands
            .send(command)
            .await
            .map_err(|_| self.shared.closed_error())?;
        match rx.await.map_err(|_| self.shared.closed_error())?? {
            ServerFrame::Error { code, message } => {
                Err(ClientError::server(code, message.to_string()))
            }
            frame => Ok(frame),
        }
    }

    pub(crate) async fn expect_ok(&self, request: Request) -> Result<(), ClientError> {
        match self.request(request).await? {
            ServerFrame::Ok { .. } => Ok(()),
            other => Err(unexpected("OK", &other)),
        }
    }

    pub(crate) async fn expect_sent(&self, request: Request) -> Result<Sent, ClientError> {
        match self.request(request).await? {
            ServerFrame::Sent(sent) => Ok(sent),
            other => Err(unexpected("SENT", &other)),
        }
    }

    pub(crate) fn check_text(&self, text: &str) -> Result<(), ClientError> {
        let max = self.shared.welcome.max_content as usize;
        chinwag_proto::text::validate(text, max)
            .map_err(|e| ClientError::InvalidInput(e.to_string()))
    }

    /// A message's text: a text, or an action (`/me`) in its IRC form.
    pub(crate) fn check_message(&self, text: &str) -> Result<(), ClientError> {
        let max = self.shared.welcome.max_content as usize;
        chinwag_proto::text::validate_message(text, max)
            .map_err(|e| ClientError::InvalidInput(e.to_string()))
    }

    /// A reason may be empty; otherwise it follows the rules of a text.
    pub(crate) fn check_reason(&self, reason: &str) -> Result<(), ClientError> {
        if reason.is_empty() {
            return Ok(());
        }
        self.check_text(reason)
            .map_err(|e| ClientError::InvalidInput(format!("reason: {e}")))
    }
}

/// Reads frames until WELCOME; an ERROR ends the handshake.
async fn read_welcome<S: AsyncRead + Unpin>(
    reader: &mut FramedRead<S, ClientCodec>,
) -> Result<Welcome, ClientError> {
    loop {
        let next = reader.next().await;
        // A TLS server answers HELLO with an alert, which no frame
        // decodes from.
        if !matches!(next, Some(Ok(_))) && crate::tls::looks_like_tls_record(reader.read_buffer()) {
            return Err(ClientError::Tls(crate::tls::TLS_ON_PLAIN.into()));
        }
        let packet = match next {
            None => return Err(ClientError::Closed),
            Some(Err(error)) => return Err(ClientError::Protocol(error.to_string())),
            Some(Ok(Err(rejected))) => {
                return Err(ClientError::Protocol(format!(
                    "undecodable frame: {rejected}"
                )));
            }
            Some(Ok(Ok(packet))) => packet,
        };
        match packet.body {
            ServerFrame::Welcome(welcome) if welcome.version == PROTOCOL_VERSION => {
                return Ok(welcome);
            }
            ServerFrame::Welcome(welcome) => {
                return Err(ClientError::Protocol(format!(
                    "the server speaks protocol version {}, this client {PROTOCOL_VERSION}",
                    welcome.version
                )));
            }
            ServerFrame::Error { code, message } => {
                return Err(ClientError::server(code, message.to_string()));
            }
            // A notice before WELCOME would be odd but harmless.
            ServerFrame::Notice(_) | ServerFrame::Message(_) => continue,
            other => return Err(unexpected("WELCOME", &other)),
        }
    }
}

/// Which page of a conversation [`Client::history`] asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryQuery<'a> {
    /// The other user of a direct conversation, or a room (`#general`);
    /// `None` for broadcasts.
    pub with: Option<&'a str>,
    /// Only messages with an id below this.
    pub before: Option<u64>,
    /// Only messages with an id above this.
    pub after: Option<u64>,
    pub limit: u16,
}

impl<'a> HistoryQuery<'a> {
    /// The newest `limit` messages of a conversation.
    pub fn newest(with: Option<&'a str>, limit: u16) -> HistoryQuery<'a> {
        HistoryQuery {
            with,
            before: None,
            after: None,
            limit,
        }
    }
}

/// A ban target is a user name or an IP address literal.
fn check_ban_target(target: &str) -> Result<(), ClientError> {
    if target.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    UserName::parse(target).map(drop).map_err(|e| {
        ClientError::InvalidInput(format!(
            "{target:?} is neither an IP address nor a valid name: {e}"
        ))
    })
}

pub(crate) fn check_name(name: &str) -> Result<(), ClientError> {
    UserName::parse(name)
        .map(drop)
        .map_err(|e| ClientError::InvalidInput(format!("invalid name {name:?}: {e}")))
}

/// Whole seconds for BANTALK: rounded up, at least 1.
pub(crate) fn mute_secs(duration: Duration) -> Result<u32, ClientError> {
    let secs = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    u32::try_from(secs.max(1))
        .map_err(|_| ClientError::InvalidInput(format!("a mute of {secs}s is too long")))
}

pub(crate) fn unexpected(wanted: &str, got: &ServerFrame) -> ClientError {
    ClientError::Protocol(format!(
        "expected {wanted}, got {}",
        got.frame_type().name()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mute_rounds_up_to_whole_seconds() {
        assert_eq!(mute_secs(Duration::from_millis(1)).unwrap(), 1);
        assert_eq!(mute_secs(Duration::ZERO).unwrap(), 1);
        assert_eq!(mute_secs(Duration::from_millis(1500)).unwrap(), 2);
        assert_eq!(mute_secs(Duration::from_secs(300)).unwrap(), 300);
        assert!(mute_secs(Duration::from_secs(u64::from(u32::MAX) + 1)).is_err());
    }
}
