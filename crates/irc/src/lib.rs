//! chinwag's IRC front end: every IRC client is a chinwag client.
//!
//! - [`line`]: the IRC line, sans I/O: framing with the length limits,
//!   parsing (message tags, source, command, parameters), escaping.
//! - [`caps`]: the IRCv3 capabilities offered and enabled.
//! - [`conn`]: one connection as a state machine: registration (CAP,
//!   SASL PLAIN, PASS, NICK, USER) and the bookkeeping of the requests it
//!   hands to the core.
//! - [`commands`]: the commands of a registered client, each turned into
//!   the core's requests (`chinwag_proto::Request`).
//! - [`render`]: the core's replies and events as IRC lines.
//! - [`output`]: the write buffer, labeled-response groups, and the
//!   offline messages' acknowledgements.
//! - [`fuzzing`]: the entry point of the `irc_lines` fuzz target.
//!
//! [`run`] is the driver: one task per connection owning the socket,
//! feeding lines to [`conn::Irc`] and its requests to the core's
//! [`Session`], exactly as the native driver does. Every check (flood
//! control, mutes, bans, limits, timeouts) is the session's.

pub mod caps;
pub mod commands;
pub mod conn;
pub mod fuzzing;
pub mod line;
pub mod meta;
pub mod metadata;
pub mod output;
pub mod render;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;
use chinwag_core::cmd::Now;
use chinwag_core::session::{Greeting, HIGH_WATER, Leave, Session, Sink};
use chinwag_core::state::State;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tracing::Instrument;

use crate::conn::Irc;
use crate::line::{Line, LineError, Lines};

/// Read at least this much at a time.
const READ_CHUNK: usize = 4096;

/// The name the IRC side gives the server: the configured `server_name`
/// when it is a valid IRC server name (letters, digits, `.`, `-`), else
/// `chinwag`.
pub fn server_name(configured: &str) -> String {
    let valid = !configured.is_empty()
        && configured.len() <= 63
        && configured
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    if valid {
        configured.to_owned()
    } else {
        "chinwag".to_owned()
    }
}

/// Serves one IRC connection until it ends.
pub async fn run<S>(stream: S, addr: SocketAddr, state: Arc<State>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let session = Session::new(state, addr, Greeting::None, Instant::now());
    let span = tracing::info_span!("irc", id = %session.id(), %addr);
    let config = &session.state().config;
    let irc = Irc::new(&server_name(&config.server_name))
        .with_description(&config.server_description)
        .with_server_password(config.server_password.is_some());
    Driver {
        session,
        irc,
        lines: Lines::default(),
    }
    .run(stream)
    .instrument(span)
    .await
}

struct Driver {
    session: Session,
    irc: Irc,
    lines: Lines,
}

impl Driver {
    async fn run<S: AsyncRead + AsyncWrite + Unpin>(mut self, stream: S) {
        let (mut rd, mut wr) = tokio::io::split(stream);
        let mut rbuf = BytesMut::new();
        let state = Arc::clone(self.session.state());
        let mut armed = self.session.deadline();
        let timer = tokio::time::sleep_until(armed.into());
        tokio::pin!(timer);
        let shutdown = state.shutdown.wait();
        tokio::pin!(shutdown);

        loop {
            let now = Instant::now();
            self.session.check(now, self.irc.backlog());
            if self.session.deadline() != armed {
                armed = self.session.deadline();
                timer.as_mut().reset(armed.into());
            }
            if self.session.is_leaving() {
                self.session.pull(&mut self.irc);
                if self.session.is_done() && !self.irc.errored {
                    let why = match self.session.leave_reason() {
                        Some(Leave::Shutdown) => "Server shutting down",
                        Some(leave) => leave.text(),
                        None => "Closing link",
                    };
                    self.irc.error(&format!("Closing link ({why})"));
                }
                if self.irc.out.buf.is_empty() && self.session.is_done() {
                    break;
                }
            }
            let reading = self.session.accepts_requests() && self.irc.backlog() < HIGH_WATER;
            tokio::select! {
                biased;
                written = wr.write(&self.irc.out.buf), if !self.irc.out.buf.is_empty() => {
                    match written {
                        Ok(0) | Err(_) => {
                            self.session.leave(Leave::Disconnected);
                            break;
                        }
                        Ok(n) => {
                            self.irc.out.advance(n);
                            if let Some(id) = self.irc.out.passed() {
                                self.session.acknowledge(id);
                            }
                            if self.irc.out.buf.is_empty() {
                                self.irc.out.buf = BytesMut::new();
                            }
                            if self.irc.backlog() < HIGH_WATER {
                                self.session.pull(&mut self.irc);
                            }
                        }
                    }
                }
                wake = self.session.wait() => {
                    self.session.wake(wake, Now::current(), &mut self.irc);
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
                            let partial = self.lines.partial(&rbuf) && self.session.accepts_requests();
                            self.session.received(Instant::now(), partial);
                            if rbuf.is_empty() {
                                rbuf = BytesMut::new();
                            }
                            self.session.pull(&mut self.irc);
                        }
                    }
                }
                () = &mut timer => {
                    if !self.session.on_timer(Instant::now(), &mut self.irc) {
                        tracing::debug!("gave up flushing a closing connection");
                        break;
                    }
                    armed = self.session.deadline();
                    timer.as_mut().reset(armed.into());
                    self.handle_input(&mut rbuf);
                    self.session.pull(&mut self.irc);
                }
                () = &mut shutdown, if !self.session.is_leaving() => {
                    self.session.leave(Leave::Shutdown);
                }
            }
        }
        let _ = wr.shutdown().await;
        if self.session.closed_by_server() {
            self.session.depart_now();
        }
        self.session.finish();
    }

    /// Hands queued requests to the session, then parses further lines
    /// while it takes them: a line's requests all go before the next line
    /// is read, so answers keep the order of the lines.
    fn handle_input(&mut self, rbuf: &mut BytesMut) {
        let mut now = Now::current();
        loop {
            while self.session.accepts_requests()
                && let Some((id, request, size)) = self.irc.take_request()
            {
                if let chinwag_proto::Request::Register(_) = &request {
                    let given = self.irc.server_password_given().to_owned();
                    self.session.set_server_password(&given);
                }
                self.session.request(now, id, request, size, &mut self.irc);
            }
            if !self.session.accepts_requests() || self.irc.has_requests() {
                break;
            }
            let Some(line) = self.lines.next(rbuf) else {
                break;
            };
            let metrics = &self.session.state().metrics;
            metrics.frames_in.inc();
            let parsed = match line {
                Line::Text(bytes) => {
                    metrics.bytes_in.add(bytes.len() as u64);
                    line::parse(&bytes).map_err(|error| (line::command_of(&bytes), error))
                }
                Line::TooLong(len) => {
                    metrics.bytes_in.add(len as u64);
                    let max = line::MAX_LINE;
                    Err(("*".to_owned(), LineError::TooLong { len, max }))
                }
            };
            match parsed {
                Ok(message) => self.irc.line(message),
                Err((command, error)) => {
                    tracing::debug!(%error, "bad line");
                    let (id, code, message) = self.irc.malformed(command, error);
                    self.session
                        .malformed(id, code, message, false, &mut self.irc);
                }
            }
            now = Now::current();
        }
        if self.session.is_leaving() {
            rbuf.clear();
        }
    }
}

/// Reads whatever is available, making room for at least one chunk.
async fn read_some<R: AsyncRead + Unpin>(rd: &mut R, buf: &mut BytesMut) -> std::io::Result<usize> {
    if buf.capacity() - buf.len() < READ_CHUNK / 4 {
        buf.reserve(READ_CHUNK);
    }
    rd.read_buf(buf).await
}
