//! The UI's state and everything that changes it, free of terminal and
//! network I/O: what the user typed becomes [`Effect`]s for the main loop,
//! what the network reports is folded into the state. The clock is a
//! field (`now`), set by the main loop, so tests control time.

use chinwag_client::{
    Event, Message, MessageKind, MuteState, Notice, NoticeKind, Role, Timestamp, UserInfo,
};

use crate::exit::Exit;
use crate::line::Line;
use crate::render::{self, Clock};
use crate::tui::command::{self, Command};
use crate::tui::conversation::{Conversation, ConversationId, Tone};
use crate::tui::input::Input;
use crate::tui::net::{Job, NetEvent, Reply, Request};
use crate::tui::view::{self, Areas};

/// What the main loop must do after a change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Send a request.
    Net(Job),
    /// Log out and leave.
    Quit,
    /// Repaint everything (Ctrl-L).
    Redraw,
}

/// The state of the connection, for the status line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Link {
    Online,
    /// Lost; the next attempt is at `retry_at`.
    Reconnecting {
        attempt: u32,
        retry_at: Timestamp,
        /// Why the last attempt failed, if one did.
        why: Option<String>,
    },
    /// Over for good (kicked, banned, refused).
    Ended(String),
}

pub struct App {
    /// The server's address as given.
    pub server: String,
    pub me: String,
    pub link: Link,
    pub clock: Clock,
    pub now: Timestamp,
    /// Index 0 is always everyone; direct conversations follow in the
    /// order they started.
    pub conversations: Vec<Conversation>,
    pub open: usize,
    /// Who is online, sorted by name.
    pub users: Vec<UserInfo>,
    pub input: Input,
    /// Where the panes are, for mouse clicks and paging.
    pub areas: Areas,
    /// How the program ends when the user quits.
    pub exit: Exit,
}

impl App {
    pub fn new(server: &str, me: &str, clock: Clock, now: Timestamp) -> App {
        App {
            server: server.to_owned(),
            me: me.to_owned(),
            link: Link::Online,
            clock,
            now,
            conversations: vec![Conversation::new(ConversationId::Everyone, "everyone")],
            open: 0,
            users: Vec::new(),
            input: Input::default(),
            areas: Areas::default(),
            exit: Exit::Success,
        }
    }

    pub fn resize(&mut self, width: u16, height: u16) {
        self.areas = view::layout(ratatui::layout::Rect::new(0, 0, width, height));
    }

    pub fn current(&self) -> &Conversation {
        &self.conversations[self.open]
    }

    pub fn current_mut(&mut self) -> &mut Conversation {
        &mut self.conversations[self.open]
    }

    /// My own entry in the user list, if the list has come.
    pub fn my_info(&self) -> Option<&UserInfo> {
        self.users
            .iter()
            .find(|u| u.name.eq_ignore_ascii_case(&self.me))
    }

    pub fn is_admin(&self) -> bool {
        self.my_info().is_some_and(|u| u.role == Role::Admin)
    }

    pub fn my_mute(&self) -> MuteState {
        self.my_info()
            .map_or(MuteState::NotMuted, |u| u.muted.at(self.now))
    }

    // ---- conversations -------------------------------------------------

    fn index_of(&self, id: &ConversationId) -> Option<usize> {
        self.conversations.iter().position(|c| &c.id == id)
    }

    /// The direct conversation with `name`, started if need be.
    fn direct(&mut self, name: &str) -> usize {
        let id = ConversationId::direct(name);
        self.index_of(&id).unwrap_or_else(|| {
            self.conversations.push(Conversation::new(id, name));
            self.conversations.len() - 1
        })
    }

    /// Opens the direct conversation with `name`.
    pub fn query(&mut self, name: &str) {
        if name.eq_ignore_ascii_case(&self.me) {
            self.notify("that is you", Tone::Error);
        } else {
            let index = self.direct(name);
            self.switch_to(index);
        }
    }

    pub fn switch_to(&mut self, index: usize) {
        if index < self.conversations.len() {
            self.open = index;
            self.conversations[index].unread = 0;
        }
    }

    pub fn next_conversation(&mut self) {
        self.switch_to((self.open + 1) % self.conversations.len());
    }

    pub fn previous_conversation(&mut self) {
        let n = self.conversations.len();
        self.switch_to((self.open + n - 1) % n);
    }

    /// Adds a notice to the open conversation.
    pub fn notify(&mut self, text: impl Into<String>, tone: Tone) {
        let now = self.now;
        self.current_mut().add_notice(now, text, tone);
    }

    // ---- scrolling -----------------------------------------------------

    /// Scrolls the messages up (`lines` > 0) or down, within the content.
    pub fn scroll(&mut self, lines: isize) {
        let height = self.areas.messages_inner().height as usize;
        let width = self.areas.messages_inner().width as usize;
        let total = view::wrapped_lines(self.current(), &self.me, self.clock, width).len();
        let top = total.saturating_sub(height);
        let conversation = self.current_mut();
        conversation.scroll = conversation.scroll.saturating_add_signed(lines).min(top);
    }

    pub fn page(&self) -> isize {
        (self.areas.messages_inner().height as isize - 1).max(1)
    }

    // ---- input ---------------------------------------------------------

    /// Names Tab may complete: who is online and who we talk with.
    pub fn completion_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.users.iter().map(|u| u.name.to_string()).collect();
        names.extend(
            self.conversations
                .iter()
                .filter(|c| matches!(c.id, ConversationId::Direct(_)))
                .map(|c| c.title.clone()),
        );
        names
    }

    pub fn complete(&mut self) {
        let commands: Vec<&str> = command::COMMANDS.iter().map(|(name, _, _)| *name).collect();
        let names = self.completion_names();
        self.input.complete(&commands, &names);
    }

    /// Enter: acts on the input line.
    pub fn submit(&mut self) -> Vec<Effect> {
        let line = self.input.submit();
        self.current_mut().scroll = 0;
        match command::parse(&line) {
            Ok(command) => self.run(command),
            Err(problem) => {
                self.notify(problem, Tone::Error);
                Vec::new()
            }
        }
    }

    fn job(&self, request: Request) -> Vec<Effect> {
        vec![Effect::Net(Job {
            origin: self.current().id.clone(),
            request,
        })]
    }

    fn run(&mut self, command: Command) -> Vec<Effect> {
        match command {
            Command::Empty => Vec::new(),
            Command::Say(text) => match self.current().id.clone() {
                ConversationId::Everyone => self.job(Request::Broadcast(text)),
                ConversationId::Direct(_) => {
                    let to = self.current().title.clone();
                    self.job(Request::Send { to, text })
                }
            },
            Command::Query(name) => {
                self.query(&name);
                Vec::new()
            }
            Command::Close => {
                if self.open == 0 {
                    self.notify("the everyone conversation cannot be closed", Tone::Error);
                } else {
                    self.conversations.remove(self.open);
                    self.switch_to(self.open - 1);
                }
                Vec::new()
            }
            Command::Clear => {
                let conversation = self.current_mut();
                conversation.entries.clear();
                conversation.scroll = 0;
                Vec::new()
            }
            Command::History => {
                self.show_history();
                Vec::new()
            }
            Command::Passwd => {
                self.notify(
                    "this client cannot change passwords on this server yet",
                    Tone::Error,
                );
                Vec::new()
            }
            Command::Shared(line) => self.run_shared(line),
        }
    }

    /// `/history`: what this session has seen of the open conversation.
    /// The server keeps no history it can send yet, so this scrolls to the
    /// start of the scrollback; once it can, the answer's messages go
    /// through [`Conversation::add_message`], which files older messages
    /// in order and skips those already shown.
    fn show_history(&mut self) {
        let count = self.current().message_count();
        self.notify(
            format!(
                "history from the server is not available; this session's scrollback \
                 holds {count} message{} here (PageUp/PageDown to read)",
                if count == 1 { "" } else { "s" }
            ),
            Tone::Info,
        );
        self.scroll(isize::MAX);
    }

    fn run_shared(&mut self, line: Line) -> Vec<Effect> {
        let request = match line {
            Line::Empty => return Vec::new(),
            Line::Quit => return vec![Effect::Quit],
            Line::Help => {
                for text in command::help() {
                    self.notify(text, Tone::Info);
                }
                return Vec::new();
            }
            Line::Broadcast(text) => Request::Broadcast(text),
            Line::Msg { to, text } => {
                let index = self.direct(&to);
                self.switch_to(index);
                Request::Send { to, text }
            }
            Line::Users => Request::Users { show: true },
            Line::Echo(text) => Request::Echo(text),
            Line::Admin(password) => Request::Admin(password),
            Line::Kick { name, reason } => Request::Kick { name, reason },
            Line::Mute {
                name,
                duration,
                reason,
            } => Request::Mute {
                name,
                duration,
                reason,
            },
            Line::Unmute(name) => Request::Unmute(name),
            Line::Shutdown(reason) => Request::Shutdown(reason),
        };
        self.job(request)
    }

    // ---- the network ---------------------------------------------------

    pub fn on_net(&mut self, event: NetEvent) -> Vec<Effect> {
        match event {
            NetEvent::Online {
                name,
                users,
                reconnect,
            } => {
                self.me = name;
                self.set_users(users);
                self.link = Link::Online;
                let text = if reconnect {
                    format!("reconnected to {} as {}", self.server, self.me)
                } else {
                    format!(
                        "connected to {} as {}; /help lists the commands and keys",
                        self.server, self.me
                    )
                };
                self.notify(text, if reconnect { Tone::Alert } else { Tone::Info });
            }
            NetEvent::Lost { why, retry_in } => {
                self.link = Link::Reconnecting {
                    attempt: 1,
                    retry_at: self.later(retry_in),
                    why: None,
                };
                self.users.clear();
                self.notify(
                    format!(
                        "connection lost ({}); reconnecting in {}",
                        render::sanitize(&why),
                        render::duration(retry_in.max(std::time::Duration::from_secs(1)))
                    ),
                    Tone::Alert,
                );
            }
            NetEvent::Retrying {
                attempt,
                why,
                retry_in,
            } => {
                self.link = Link::Reconnecting {
                    attempt: attempt + 1,
                    retry_at: self.later(retry_in),
                    why: Some(why),
                };
            }
            NetEvent::Ended { why, exit } => {
                self.exit = exit;
                self.users.clear();
                self.notify(
                    format!("{why}; not reconnecting. /quit to exit"),
                    Tone::Alert,
                );
                self.link = Link::Ended(why);
            }
            NetEvent::Server(event) => self.on_server(event),
            NetEvent::Answer { origin, result } => return self.on_answer(origin, result),
        }
        Vec::new()
    }

    fn later(&self, delay: std::time::Duration) -> Timestamp {
        Timestamp(self.now.0.saturating_add(delay.as_millis() as u64))
    }

    fn set_users(&mut self, mut users: Vec<UserInfo>) {
        users.sort_by_key(|u| u.name.to_lowercase());
        self.users = users;
    }

    fn on_server(&mut self, event: Event) {
        match event {
            Event::Message(message) => self.on_message(&message),
            Event::Notice(notice) => self.on_notice(&notice),
            Event::Error { code, message } => self.notify(
                format!("server: {}", render::error(code, &message)),
                Tone::Error,
            ),
            Event::Closed { .. } => {}
        }
    }

    fn on_message(&mut self, m: &Message) {
        let index = match m.kind {
            MessageKind::Broadcast => 0,
            MessageKind::Direct | MessageKind::Other(_) => self.direct(&m.from),
        };
        let from = render::sanitize(&m.from);
        let text = render::sanitize(&m.text);
        let conversation = &mut self.conversations[index];
        if conversation.add_message(m.id, m.ts, &from, &text) && index != self.open {
            conversation.unread += 1;
        }
    }

    fn on_notice(&mut self, n: &Notice) {
        let subject = render::sanitize(&n.subject).into_owned();
        let text = render::notice(n, self.clock);
        // Drop the time: the view shows its own.
        let text = text
            .split_once("* ")
            .map_or(text.clone(), |(_, t)| t.to_owned());
        match n.kind {
            NoticeKind::Joined | NoticeKind::Left => {
                if n.kind == NoticeKind::Joined {
                    if !self
                        .users
                        .iter()
                        .any(|u| u.name.eq_ignore_ascii_case(&subject))
                    {
                        self.users.push(UserInfo {
                            name: subject.as_str().into(),
                            role: Role::User,
                            muted: MuteState::NotMuted,
                            addr: "".into(),
                            advertised: "".into(),
                            connected_at: n.ts,
                        });
                        self.users.sort_by_key(|u| u.name.to_lowercase());
                    }
                } else {
                    self.users
                        .retain(|u| !u.name.eq_ignore_ascii_case(&subject));
                }
                self.conversations[0].add_notice(n.ts, text.clone(), Tone::Info);
                let direct = ConversationId::direct(&subject);
                if let Some(index) = self.index_of(&direct) {
                    self.conversations[index].add_notice(n.ts, text, Tone::Info);
                }
            }
            NoticeKind::Muted | NoticeKind::Unmuted => {
                let muted = if n.kind == NoticeKind::Muted {
                    MuteState::from_wire(n.until)
                } else {
                    MuteState::NotMuted
                };
                let me = self.me.clone();
                if let Some(user) = self
                    .users
                    .iter_mut()
                    .find(|u| u.name.eq_ignore_ascii_case(&me))
                {
                    user.muted = muted;
                }
                self.notify(text, Tone::Alert);
            }
            NoticeKind::Kicked
            | NoticeKind::Banned
            | NoticeKind::Shutdown
            | NoticeKind::CatchUp
            | NoticeKind::Other(_) => {
                self.notify(text, Tone::Alert);
            }
        }
    }

    /// Files an answer where it was asked. After a change of roles or
    /// mutes the user list is asked for again, to show the new markers.
    fn on_answer(&mut self, origin: ConversationId, result: Result<Reply, String>) -> Vec<Effect> {
        // The conversation may have been closed meanwhile.
        let index = self.index_of(&origin).unwrap_or(self.open);
        let now = self.now;
        let reply = match result {
            Ok(reply) => reply,
            Err(problem) => {
                self.conversations[index].add_notice(now, problem, Tone::Error);
                return Vec::new();
            }
        };
        match reply {
            Reply::Sent { to, text, sent } => {
                let index = match to {
                    None => 0,
                    Some(to) => self.direct(&to),
                };
                let me = self.me.clone();
                self.conversations[index].add_message(sent.id, sent.ts, &me, &text);
            }
            Reply::Users { users, show } => {
                if show {
                    let now = self.now;
                    let list: Vec<String> = users
                        .iter()
                        .map(|u| {
                            let mut s = String::new();
                            if u.role == Role::Admin {
                                s.push('@');
                            }
                            s.push_str(&render::sanitize(&u.name));
                            if u.muted.at(now) != MuteState::NotMuted {
                                s.push_str(&format!(" ({})", render::muted(u.muted, now)));
                            }
                            s
                        })
                        .collect();
                    let text = format!("{} online: {}", users.len(), list.join(", "));
                    self.conversations[index].add_notice(now, text, Tone::Info);
                }
                self.set_users(users);
            }
            Reply::Echo(echo) => {
                let text = format!(
                    "echo: {} (rtt {:.3} ms)",
                    render::sanitize(&echo.content),
                    echo.rtt.as_secs_f64() * 1e3
                );
                self.conversations[index].add_notice(now, text, Tone::Info);
            }
            Reply::Admin => {
                self.conversations[index].add_notice(
                    now,
                    "you are now an administrator",
                    Tone::Alert,
                );
                let me = self.me.clone();
                if let Some(user) = self
                    .users
                    .iter_mut()
                    .find(|u| u.name.eq_ignore_ascii_case(&me))
                {
                    user.role = Role::Admin;
                }
                return self.refresh_users(origin);
            }
            Reply::Done(text) => {
                self.conversations[index].add_notice(now, text, Tone::Info);
                return self.refresh_users(origin);
            }
        }
        Vec::new()
    }

    fn refresh_users(&self, origin: ConversationId) -> Vec<Effect> {
        vec![Effect::Net(Job {
            origin,
            request: Request::Users { show: false },
        })]
    }
}
