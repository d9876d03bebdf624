//! The network task: the one owner of the connection. The UI sends it
//! [`Job`]s and receives [`NetEvent`]s, so drawing never waits on the
//! network and the network never waits on drawing (beyond the bounded
//! event channel, which passes back-pressure on to the server).
//!
//! When the connection drops it reconnects with exponential backoff and
//! registers again; when the server ends the session on purpose (a kick,
//! a ban, a refused name or password) it does not.

use std::time::Duration;

use chinwag_client::{
    Client, ClientError, ConnectOptions, Echo, ErrorCode, Event, Events, HistoryQuery, Message,
    NoticeKind, ReadMarker, Registered, RoomInfo, Sent, Timestamp, UserInfo,
};
use chinwag_proto::MessageId;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::exit::Exit;
use crate::line::Moderation;
use crate::rooms::{self, RoomLine, RoomReply};
use crate::session::{Offline, Target};
use crate::tui::conversation::ConversationId;

/// How many events may wait for the UI before the connection stops reading.
const EVENT_BUFFER: usize = 1024;

/// How many unread messages of one conversation are fetched at login; a
/// conversation with more shows this many (the rest is history).
pub const UNREAD_PAGE: u16 = 100;

/// How long a polite LOGOUT may take when quitting.
const LOGOUT_TIMEOUT: Duration = Duration::from_secs(2);

/// A request to the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    Send {
        to: String,
        text: String,
    },
    Broadcast(String),
    /// The user list; `show` when the user asked (/users) rather than the
    /// UI refreshing its pane.
    Users {
        show: bool,
    },
    Echo(String),
    Admin(String),
    Kick {
        name: String,
        reason: String,
    },
    Mute {
        name: String,
        duration: Option<Duration>,
        reason: String,
    },
    Unmute(String),
    Shutdown(String),
    /// A page of a conversation's stored messages: with a user, or the
    /// broadcasts (`with` is `None`), older than `before`. `shown` when the
    /// user asked (/history, PageUp) rather than a conversation opening.
    History {
        with: Option<String>,
        before: Option<u64>,
        limit: u16,
        shown: bool,
    },
    Passwd {
        old: String,
        new: String,
    },
    /// A room command, its room filled in.
    Room(RoomLine),
    /// The rooms, quietly: to list those I am a member of at login.
    MyRooms,
    /// /ban, /unban, /audit.
    Moderation(Moderation),
    /// `/away [REASON]`.
    Away(String),
    /// `/whois NAME`.
    Whois(String),
    /// `/ignore [NAME]`, `/unignore NAME`.
    Ignore {
        name: Option<String>,
        ignore: bool,
    },
    /// The account's read markers, at login.
    Markers,
    /// What came in a conversation (`with`, `None` for everyone) after
    /// the marker `after`: its unread messages, oldest first.
    Unread {
        with: Option<String>,
        after: u64,
    },
    /// The account has read a conversation up to `id`.
    MarkRead {
        with: Option<String>,
        id: MessageId,
    },
}

/// A request and the conversation its answer belongs in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    pub origin: ConversationId,
    pub request: Request,
}

/// A successful answer.
#[derive(Clone, Debug)]
pub enum Reply {
    Sent {
        /// `None` for a broadcast.
        to: Option<String>,
        text: String,
        sent: Sent,
    },
    Users {
        users: Vec<UserInfo>,
        show: bool,
    },
    Echo(Echo),
    /// An administrative request succeeded; what to tell the user.
    Done(String),
    /// ADMIN succeeded.
    Admin,
    /// A page of history, newest first, as asked for by
    /// [`Request::History`].
    History {
        messages: Vec<Message>,
        limit: u16,
        shown: bool,
    },
    /// PASSWD succeeded; reconnects use the new password.
    PasswordChanged,
    Room(RoomReply),
    /// Every room, with my role in each.
    MyRooms(Vec<RoomInfo>),
    Markers(Vec<ReadMarker>),
    Unread {
        with: Option<String>,
        after: u64,
        messages: Vec<Message>,
    },
    Marked,
}

/// What the UI hears from the network task.
#[derive(Debug)]
pub enum NetEvent {
    /// Registered (again, after a reconnect); `users` is who is online.
    Online {
        name: String,
        users: Vec<UserInfo>,
        reconnect: bool,
        /// Logged in to an account (a guest has no direct message history).
        account: bool,
        /// The server's time at login: direct messages older than this
        /// were queued while the account was away.
        since: Timestamp,
    },
    /// The connection was lost; a reconnect follows after `retry_in`.
    Lost { why: String, retry_in: Duration },
    /// A reconnect attempt failed; the next follows after `retry_in`.
    Retrying {
        attempt: u32,
        why: String,
        retry_in: Duration,
    },
    /// The session is over and will not be reconnected.
    Ended { why: String, exit: Exit },
    /// A message, notice or error from the server.
    Server(Event),
    /// The answer to a [`Job`].
    Answer {
        origin: ConversationId,
        result: Result<Reply, String>,
    },
}

/// The UI's end of the network task.
pub struct Net {
    jobs: mpsc::UnboundedSender<Job>,
    task: JoinHandle<()>,
}

impl Net {
    /// Starts the task on an already registered connection.
    pub fn start(
        target: Target,
        client: Client,
        events: Events,
        registered: Registered,
    ) -> (Net, mpsc::Receiver<NetEvent>) {
        let (jobs, job_rx) = mpsc::unbounded_channel();
        let (out, rx) = mpsc::channel(EVENT_BUFFER);
        let task = tokio::spawn(run(target, (client, events, registered), job_rx, out));
        (Net { jobs, task }, rx)
    }

    pub fn submit(&self, job: Job) {
        // The task ends only after `Net` is dropped.
        let _ = self.jobs.send(job);
    }

    /// Logs out (if connected) and waits for the task to end.
    pub async fn quit(self) {
        drop(self.jobs);
        let mut task = self.task;
        if tokio::time::timeout(LOGOUT_TIMEOUT * 2, &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
    }
}

/// How the UI's connections introduce themselves.
pub fn options() -> ConnectOptions {
    ConnectOptions {
        client_name: concat!("chinwag-tui/", env!("CARGO_PKG_VERSION")).to_owned(),
        event_buffer: EVENT_BUFFER,
        ..ConnectOptions::default()
    }
}

/// A registered connection: the client, its events and the REGISTERED.
type Connection = (Client, Events, Registered);

/// Whether a failed (re)connect is worth retrying: the network and the
/// server's load are, the server refusing who we are is not.
fn worth_retrying(error: &ClientError) -> bool {
    match error {
        ClientError::Io(_)
        | ClientError::Closed
        | ClientError::Protocol(_)
        | ClientError::Tls(_) => true,
        ClientError::InvalidInput(_) => false,
        // The old connection may still hold the name until the server
        // notices it is gone; 4xx are load and lifecycle (full, starting).
        ClientError::Server { code, .. } => {
            *code == ErrorCode::NameTaken || (400..500).contains(&code.as_u16())
        }
    }
}

/// Whether a notice means the server ended this session for good.
fn ends_session(kind: NoticeKind) -> bool {
    // A banned user must not come straight back either.
    matches!(kind, NoticeKind::Kicked | NoticeKind::Banned)
}

/// Reconnect delays: doubling from `FIRST` up to `MAX`, with jitter so a
/// restarted server is not hit by every client at the same instant.
#[derive(Debug)]
pub struct Backoff {
    next: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(500);
    const MAX: Duration = Duration::from_secs(30);
    /// A connection that lasted this long starts the delays over.
    const STABLE: Duration = Duration::from_secs(30);

    pub fn new() -> Backoff {
        Backoff { next: Self::FIRST }
    }

    /// The next delay; `jitter` in `0.0..1.0` stretches it by up to 25 %.
    pub fn next(&mut self, jitter: f64) -> Duration {
        let delay = self.next.mul_f64(1.0 + 0.25 * jitter.clamp(0.0, 1.0));
        self.next = (self.next * 2).min(Self::MAX);
        delay
    }

    /// A connection ended after being up for `lasted`.
    pub fn connection_ended(&mut self, lasted: Duration) {
        if lasted >= Self::STABLE {
            self.next = Self::FIRST;
        }
    }
}

/// Why a connected phase ended.
enum Ending {
    /// The UI is gone or asked to quit.
    Quit,
    /// The connection dropped; reconnect.
    Dropped(String),
    /// The server ended the session; do not reconnect.
    Over(String, Exit),
}

async fn run(
    mut target: Target,
    first: Connection,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    out: mpsc::Sender<NetEvent>,
) {
    let mut backoff = Backoff::new();
    let mut connection = Some(first);
    let mut reconnect = false;
    loop {
        let (client, events, registered) = match connection.take() {
            Some(c) => c,
            None => match reconnect_loop(&target, &mut backoff, &mut jobs, &out).await {
                Some(c) => c,
                None => return,
            },
        };
        let users = client.users().await.unwrap_or_default();
        let name = client.name().unwrap_or_else(|| target.name.clone());
        let online = NetEvent::Online {
            name,
            users,
            reconnect,
            account: target.password.as_deref().is_some_and(|p| !p.is_empty()),
            since: registered.server_time,
        };
        if out.send(online).await.is_err() {
            return;
        }
        reconnect = true;
        let since = Instant::now();
        match connected(&client, events, &mut jobs, &out, &mut target.password).await {
            Ending::Quit => {
                let _ = tokio::time::timeout(LOGOUT_TIMEOUT, client.logout()).await;
                return;
            }
            Ending::Over(why, exit) => {
                let _ = out.send(NetEvent::Ended { why, exit }).await;
                refuse_jobs(&mut jobs, &out, "the session has ended").await;
                return;
            }
            Ending::Dropped(why) => {
                backoff.connection_ended(since.elapsed());
                let retry_in = backoff.next(rand::random());
                if out.send(NetEvent::Lost { why, retry_in }).await.is_err() {
                    return;
                }
                if !wait_refusing(retry_in, &mut jobs, &out).await {
                    return;
                }
            }
        }
    }
}

/// A job being run: its answer, and the new password when it changed it.
type Running = std::pin::Pin<Box<dyn Future<Output = (NetEvent, Option<String>)> + Send>>;

/// Serves one connection: forwards its events, runs jobs one at a time (so
/// messages go out in the order they were typed) while events keep flowing.
/// A changed password is kept in `password` for the next reconnect.
async fn connected(
    client: &Client,
    mut events: Events,
    jobs: &mut mpsc::UnboundedReceiver<Job>,
    out: &mpsc::Sender<NetEvent>,
    password: &mut Option<String>,
) -> Ending {
    let mut running: Option<Running> = None;
    let mut over: Option<(String, Exit)> = None;
    loop {
        tokio::select! {
            event = events.recv() => {
                let event = match event {
                    None | Some(Event::Closed { .. }) => {
                        let reason = match event {
                            Some(Event::Closed { reason }) => reason,
                            _ => None,
                        };
                        // A request in flight fails now that the connection
                        // is gone; say so rather than dropping it silently.
                        if let Some(pending) = running.take()
                            && let Ok((answer, _)) = tokio::time::timeout(LOGOUT_TIMEOUT, pending).await
                        {
                            let _ = out.send(answer).await;
                        }
                        return match over.take() {
                            Some((why, exit)) => Ending::Over(why, exit),
                            None => Ending::Dropped(reason.unwrap_or_else(|| {
                                "the server closed the connection".to_owned()
                            })),
                        };
                    }
                    Some(event) => event,
                };
                if let Event::Notice(notice) = &event
                    && ends_session(notice.kind)
                {
                    over = Some((why_over(notice), Exit::Kicked));
                }
                if out.send(NetEvent::Server(event)).await.is_err() {
                    return Ending::Quit;
                }
            }
            (answer, changed) = async { running.as_mut().expect("guarded").await }, if running.is_some() => {
                running = None;
                if changed.is_some() {
                    *password = changed;
                }
                if out.send(answer).await.is_err() {
                    return Ending::Quit;
                }
            }
            job = jobs.recv(), if running.is_none() => {
                let Some(job) = job else { return Ending::Quit };
                let client = client.clone();
                running = Some(Box::pin(async move {
                    let changed = match &job.request {
                        Request::Passwd { new, .. } => Some(new.clone()),
                        _ => None,
                    };
                    let result = execute(&client, job.request).await;
                    let changed = changed.filter(|_| result.is_ok());
                    (NetEvent::Answer { origin: job.origin, result }, changed)
                }));
            }
        }
    }
}

/// Why the server ended the session, for the status line.
fn why_over(notice: &chinwag_client::Notice) -> String {
    let by = crate::render::sanitize(&notice.actor);
    let reason = crate::render::sanitize(&notice.text);
    let what = match notice.kind {
        NoticeKind::Kicked => "kicked",
        _ => "banned",
    };
    if reason.is_empty() {
        format!("{what} by {by}")
    } else {
        format!("{what} by {by}: {reason}")
    }
}

/// Tries to connect until it works, the failure is final, or the UI quits.
async fn reconnect_loop(
    target: &Target,
    backoff: &mut Backoff,
    jobs: &mut mpsc::UnboundedReceiver<Job>,
    out: &mpsc::Sender<NetEvent>,
) -> Option<Connection> {
    let mut attempt = 1;
    loop {
        let failure = tokio::select! {
            result = crate::session::register(target, options(), Offline::Take) => match result {
                Ok(connection) => return Some(connection),
                Err(error) => error,
            },
            job = jobs.recv() => {
                let job = job?;
                refuse(&job, out, "not connected; reconnecting").await;
                continue;
            }
        };
        if !worth_retrying(&failure) {
            let why = format!("reconnecting failed: {failure}");
            let _ = out
                .send(NetEvent::Ended {
                    why,
                    exit: Exit::Refused,
                })
                .await;
            refuse_jobs(jobs, out, "the session has ended").await;
            return None;
        }
        let retry_in = backoff.next(rand::random());
        let retrying = NetEvent::Retrying {
            attempt,
            why: failure.to_string(),
            retry_in,
        };
        if out.send(retrying).await.is_err() || !wait_refusing(retry_in, jobs, out).await {
            return None;
        }
        attempt += 1;
    }
}

/// Waits `delay`, answering jobs with "not connected". False when the UI
/// has gone.
async fn wait_refusing(
    delay: Duration,
    jobs: &mut mpsc::UnboundedReceiver<Job>,
    out: &mpsc::Sender<NetEvent>,
) -> bool {
    let deadline = Instant::now() + delay;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => return true,
            job = jobs.recv() => match job {
                None => return false,
                Some(job) => refuse(&job, out, "not connected; reconnecting").await,
            },
        }
    }
}

/// Answers every job with `why` until the UI quits.
async fn refuse_jobs(
    jobs: &mut mpsc::UnboundedReceiver<Job>,
    out: &mpsc::Sender<NetEvent>,
    why: &str,
) {
    while let Some(job) = jobs.recv().await {
        refuse(&job, out, why).await;
    }
}

async fn refuse(job: &Job, out: &mpsc::Sender<NetEvent>, why: &str) {
    let _ = out
        .send(NetEvent::Answer {
            origin: job.origin.clone(),
            result: Err(why.to_owned()),
        })
        .await;
}

/// Runs one request. Moderation is followed by a fresh user list, so the
/// markers in the users pane are right at once.
async fn execute(client: &Client, request: Request) -> Result<Reply, String> {
    let result = match request {
        Request::Send { to, text } => client.send(&to, &text).await.map(|sent| Reply::Sent {
            to: Some(to),
            text,
            sent,
        }),
        Request::Broadcast(text) => client.broadcast(&text).await.map(|sent| Reply::Sent {
            to: None,
            text,
            sent,
        }),
        Request::Users { show } => client
            .users()
            .await
            .map(|users| Reply::Users { users, show }),
        Request::Echo(text) => client.echo(&text).await.map(Reply::Echo),
        Request::Admin(password) => client.admin(&password).await.map(|()| Reply::Admin),
        Request::Kick { name, reason } => client
            .kick(&name, &reason)
            .await
            .map(|()| Reply::Done(format!("kicked {name}"))),
        Request::Mute {
            name,
            duration,
            reason,
        } => client
            .mute(&name, duration, &reason)
            .await
            .map(|()| match duration {
                Some(d) => Reply::Done(format!("muted {name} for {}", crate::render::duration(d))),
                None => Reply::Done(format!("muted {name} until lifted")),
            }),
        Request::Unmute(name) => client
            .unmute(&name)
            .await
            .map(|()| Reply::Done(format!("unmuted {name}"))),
        Request::Shutdown(reason) => client
            .shutdown(&reason)
            .await
            .map(|()| Reply::Done("the server is shutting down".to_owned())),
        Request::History {
            with,
            before,
            limit,
            shown,
        } => {
            let query = HistoryQuery {
                with: with.as_deref(),
                before,
                after: None,
                limit,
            };
            client.history(&query).await.map(|messages| Reply::History {
                messages,
                limit,
                shown,
            })
        }
        Request::Passwd { old, new } => client
            .passwd(&old, &new)
            .await
            .map(|()| Reply::PasswordChanged),
        Request::Room(line) => rooms::execute(client, line).await.map(Reply::Room),
        Request::MyRooms => client.rooms().await.map(Reply::MyRooms),
        Request::Moderation(act) => act.execute(client).await.map(Reply::Done),
        Request::Markers => client.read_markers().await.map(Reply::Markers),
        Request::Away(reason) => crate::line::away(client, &reason).await.map(Reply::Done),
        Request::Whois(name) => crate::line::whois(client, &name).await.map(Reply::Done),
        Request::Ignore { name, ignore } => crate::line::ignoring(client, name, ignore)
            .await
            .map(Reply::Done),
        Request::Unread { with, after } => {
            let query = HistoryQuery {
                with: with.as_deref(),
                before: None,
                after: Some(after),
                limit: UNREAD_PAGE,
            };
            client.history(&query).await.map(|messages| Reply::Unread {
                with,
                after,
                messages,
            })
        }
        Request::MarkRead { with, id } => client
            .mark_read(with.as_deref(), id)
            .await
            .map(|()| Reply::Marked),
    };
    result.map_err(|e| match e {
        ClientError::Server { message, code } => crate::render::error(code, &message),
        other => other.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_cap_and_restarts_after_a_stable_connection() {
        let mut b = Backoff::new();
        let delays: Vec<u64> = (0..9).map(|_| b.next(0.0).as_millis() as u64).collect();
        assert_eq!(
            delays,
            [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
        b.connection_ended(Duration::from_secs(1));
        assert_eq!(b.next(0.0), Duration::from_secs(30));
        b.connection_ended(Duration::from_secs(60));
        assert_eq!(b.next(1.0), Duration::from_millis(625));
    }

    #[test]
    fn only_transient_failures_are_retried() {
        assert!(worth_retrying(&ClientError::Closed));
        assert!(worth_retrying(&ClientError::Io(std::io::Error::other(
            "refused"
        ))));
        let server = |code| ClientError::Server {
            code,
            message: String::new(),
        };
        assert!(worth_retrying(&server(ErrorCode::NameTaken)));
        assert!(worth_retrying(&server(ErrorCode::Other(404))));
        assert!(!worth_retrying(&server(ErrorCode::InvalidName)));
        assert!(!worth_retrying(&server(ErrorCode::Other(304))));
        assert!(!worth_retrying(&ClientError::InvalidInput("bad".into())));
    }

    #[test]
    fn kicks_and_bans_end_the_session() {
        assert!(ends_session(NoticeKind::Kicked));
        assert!(ends_session(NoticeKind::Banned));
        assert!(!ends_session(NoticeKind::Shutdown));
        assert!(!ends_session(NoticeKind::Muted));
    }
}
