//! The UI's state and everything that changes it, free of terminal and
//! network I/O: what the user typed becomes [`Effect`]s for the main loop,
//! what the network reports is folded into the state. The clock is a
//! field (`now`), set by the main loop, so tests control time.

use std::collections::HashMap;
use std::time::Duration;

use chinwag_client::{
    Event, Message, MessageKind, MuteState, Notice, NoticeKind, ReadMarker, Role, RoomInfo,
    RoomMode, RoomNotice, RoomRole, Timestamp, UserInfo,
};
use chinwag_proto::MessageId;
use chinwag_proto::request::BROADCAST_CONVERSATION;

use crate::exit::Exit;
use crate::line::{HISTORY_PAGE, Line};
use crate::render::{self, Clock};
use crate::rooms::{self, RoomLine, RoomReply};
use crate::tui::command::{self, Command};
use crate::tui::conversation::{
    Backlog, Conversation, ConversationId, RoomHeader, Tone, mentions, same_user,
};
use crate::tui::input::Input;
use crate::tui::net::{Job, NetEvent, Reply, Request};
use crate::tui::view::{self, Areas};

/// Whether the user asked for a page of history (and hears how it went)
/// or the UI did, quietly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shown {
    Told,
    Quietly,
}

/// What the main loop must do after a change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Send a request.
    Net(Job),
    /// Log out and leave.
    Quit,
    /// Repaint everything (Ctrl-L).
    Redraw,
    /// Ring the terminal's bell: a mention or a direct message.
    Bell,
}

/// Someone who spoke within this long is not quiet: their joins and
/// leaves stay in view while the smart filter is on.
pub const SPOKE_LATELY: Duration = Duration::from_secs(10 * 60);

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

/// `/passwd` without arguments asks three questions; the answers are never
/// shown, nor kept in the input history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PasswordPrompt {
    Old,
    New { old: String },
    Again { old: String, new: String },
}

impl PasswordPrompt {
    pub fn question(&self) -> &'static str {
        match self {
            PasswordPrompt::Old => "current password",
            PasswordPrompt::New { .. } => "new password",
            PasswordPrompt::Again { .. } => "new password again",
        }
    }
}

pub struct App {
    /// The server's address as given.
    pub server: String,
    pub me: String,
    /// Logged in to an account rather than as a guest.
    pub account: bool,
    /// The server's time at the last login: direct messages older than
    /// this were queued while we were away.
    pub since: Timestamp,
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
    /// A password prompt in progress: the input line is hidden.
    pub prompt: Option<PasswordPrompt>,
    /// Where the panes are, for mouse clicks and paging.
    pub areas: Areas,
    /// How the program ends when the user quits.
    pub exit: Exit,
    /// Fold away joins and leaves of people who have not spoken lately.
    pub smart_filter: bool,
    /// Ring the bell for mentions and direct messages.
    pub bell: bool,
    /// The help, shown over everything until a key closes it.
    pub help: Option<Vec<String>>,
    /// The first line of the help shown.
    pub help_top: usize,
    /// When each user (by folded name) last spoke.
    spoke: HashMap<ConversationId, Timestamp>,
}

impl App {
    pub fn new(server: &str, me: &str, clock: Clock, now: Timestamp) -> App {
        App {
            server: server.to_owned(),
            me: me.to_owned(),
            account: false,
            since: now,
            link: Link::Online,
            clock,
            now,
            conversations: vec![Conversation::new(ConversationId::Everyone, "everyone")],
            open: 0,
            users: Vec::new(),
            input: Input::default(),
            prompt: None,
            areas: Areas::default(),
            exit: Exit::Success,
            smart_filter: true,
            bell: true,
            help: None,
            help_top: 0,
            spoke: HashMap::new(),
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
        self.users.iter().find(|u| same_user(&u.name, &self.me))
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

    /// The conversation of the room `name`, started if need be.
    fn room(&mut self, name: &str) -> usize {
        let id = ConversationId::room(name);
        self.index_of(&id).unwrap_or_else(|| {
            self.conversations.push(Conversation::new(id, name));
            self.conversations.len() - 1
        })
    }

    /// The rooms this session has a conversation for (to join again after
    /// a reconnect: a guest's memberships end with its connection).
    fn room_titles(&self) -> Vec<String> {
        self.conversations
            .iter()
            .filter(|c| matches!(c.id, ConversationId::Room(_)))
            .map(|c| c.title.clone())
            .collect()
    }

    /// Opens the direct conversation with `name` (and asks who is online
    /// again, to show whether they are away).
    pub fn query(&mut self, name: &str) -> Vec<Effect> {
        if same_user(name, &self.me) {
            self.notify("that is you", Tone::Error);
            Vec::new()
        } else {
            let index = self.direct(name);
            let mut effects = self.switch_to(index);
            effects.extend(self.refresh_users(ConversationId::direct(name)));
            effects
        }
    }

    /// Writing to someone away says so, once per away message.
    fn tell_away(&mut self, to: &str) {
        let Some(away) = self
            .users
            .iter()
            .find(|u| same_user(&u.name, to))
            .map(|u| render::sanitize(&u.away).into_owned())
            .filter(|away| !away.is_empty())
        else {
            return;
        };
        let now = self.now;
        let conversation = self.current_mut();
        if conversation.told_away.as_deref() != Some(&away) {
            conversation.add_notice(now, format!("{to} is away: {away}"), Tone::Info);
            conversation.told_away = Some(away);
        }
    }

    /// Opens a conversation. A direct conversation or a room opened for
    /// the first time loads its recent history (a guest has no direct
    /// message history); everyone's loads on request.
    pub fn switch_to(&mut self, index: usize) -> Vec<Effect> {
        if index >= self.conversations.len() {
            return Vec::new();
        }
        self.open = index;
        let conversation = &mut self.conversations[index];
        conversation.read();
        let first_time = conversation.backlog == Backlog::Unasked;
        let kept = self.account || conversation.id.history_for_guests();
        let mut effects = self.mark_read(index);
        if first_time && kept && self.conversations[index].id != ConversationId::Everyone {
            effects.extend(self.load_history(index, Shown::Quietly));
        }
        effects
    }

    /// How the server names conversation `index` (HISTORY's `with`):
    /// `None` for everyone.
    fn with_of(&self, index: usize) -> Option<String> {
        let conversation = &self.conversations[index];
        match conversation.id {
            ConversationId::Everyone => None,
            ConversationId::Direct(_) | ConversationId::Room(_) => Some(conversation.title.clone()),
        }
    }

    /// Tells the server an account has read conversation `index` up to
    /// its newest message, when that is news to the server. Read markers
    /// are the account's: another session (or front end) then finds the
    /// same conversations unread.
    fn mark_read(&mut self, index: usize) -> Vec<Effect> {
        let with = self.with_of(index);
        let conversation = &mut self.conversations[index];
        let member =
            !matches!(conversation.id, ConversationId::Room(_)) || conversation.room.is_some();
        let Some(newest) = conversation.newest_id() else {
            return Vec::new();
        };
        if !self.account || !member || conversation.marked.is_some_and(|m| m >= newest) {
            return Vec::new();
        }
        conversation.marked = Some(newest);
        let origin = conversation.id.clone();
        self.job_from(origin, Request::MarkRead { with, id: newest })
    }

    pub fn next_conversation(&mut self) -> Vec<Effect> {
        self.switch_to((self.open + 1) % self.conversations.len())
    }

    pub fn previous_conversation(&mut self) -> Vec<Effect> {
        let n = self.conversations.len();
        self.switch_to((self.open + n - 1) % n)
    }

    /// Asks for the page of a conversation's history before its oldest
    /// message. The answer is filed by [`Conversation::add_message`],
    /// which puts older messages in order and skips those already here.
    fn load_history(&mut self, index: usize, shown: Shown) -> Vec<Effect> {
        let account = self.account;
        let now = self.now;
        let conversation = &mut self.conversations[index];
        let say = |c: &mut Conversation, text: &str, tone| {
            if shown == Shown::Told {
                c.add_notice(now, text, tone);
            }
        };
        if !account && !conversation.id.history_for_guests() {
            say(
                conversation,
                "the server keeps direct messages for accounts only; \
                 log in with --password to have their history",
                Tone::Error,
            );
            return Vec::new();
        }
        match conversation.backlog {
            Backlog::Loading => {
                say(
                    conversation,
                    "earlier messages are on their way",
                    Tone::Info,
                );
                return Vec::new();
            }
            Backlog::Complete => {
                say(
                    conversation,
                    "no earlier messages: this is the start of the conversation",
                    Tone::Info,
                );
                return Vec::new();
            }
            Backlog::Unasked | Backlog::Partial => {}
        }
        conversation.backlog = Backlog::Loading;
        let with = match &conversation.id {
            ConversationId::Everyone => None,
            // The peer's name, or the room's (`#general`).
            ConversationId::Direct(_) | ConversationId::Room(_) => Some(conversation.title.clone()),
        };
        let request = Request::History {
            with,
            before: conversation.oldest_id().map(|id| id.0),
            limit: HISTORY_PAGE,
            shown: shown == Shown::Told,
        };
        vec![Effect::Net(Job {
            origin: conversation.id.clone(),
            request,
        })]
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
        let total = view::wrapped_lines(
            self.current(),
            &self.me,
            self.clock,
            width,
            self.smart_filter,
        )
        .len();
        let top = total.saturating_sub(height);
        let conversation = self.current_mut();
        conversation.scroll = conversation.scroll.saturating_add_signed(lines).min(top);
    }

    pub fn page(&self) -> isize {
        (self.areas.messages_inner().height as isize - 1).max(1)
    }

    /// PageUp: a page back; at the top already, the server is asked for
    /// earlier messages, which then appear above without moving the view.
    pub fn page_up(&mut self) -> Vec<Effect> {
        let before = self.current().scroll;
        self.scroll(self.page());
        let stuck = self.current().scroll == before;
        let may_load = self.account || self.current().id.history_for_guests();
        if stuck && may_load && self.current().backlog != Backlog::Loading {
            self.load_history(self.open, Shown::Quietly)
        } else {
            Vec::new()
        }
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
        if let Some(prompt) = self.prompt.take() {
            return self.answer_prompt(prompt);
        }
        let line = self.input.take();
        if !command::is_secret(&line) {
            self.input.remember(&line);
        }
        self.current_mut().scroll = 0;
        match command::parse(&line) {
            Ok(command) => self.run(command),
            Err(problem) => {
                self.notify(problem, Tone::Error);
                Vec::new()
            }
        }
    }

    /// Esc: gives up a password prompt.
    pub fn cancel_prompt(&mut self) {
        if self.prompt.take().is_some() {
            self.input.take();
            self.notify("password not changed", Tone::Info);
        }
    }

    fn answer_prompt(&mut self, prompt: PasswordPrompt) -> Vec<Effect> {
        let answer = self.input.take();
        if answer.is_empty() {
            self.notify("password not changed", Tone::Info);
            return Vec::new();
        }
        self.prompt = match prompt {
            PasswordPrompt::Old => Some(PasswordPrompt::New { old: answer }),
            PasswordPrompt::New { old } => Some(PasswordPrompt::Again { old, new: answer }),
            PasswordPrompt::Again { old, new } => {
                if answer != new {
                    self.notify(
                        "the new passwords differ; password not changed",
                        Tone::Error,
                    );
                    return Vec::new();
                }
                return self.job(Request::Passwd { old, new });
            }
        };
        Vec::new()
    }

    /// Whether a password can be changed; says why not.
    fn may_change_password(&mut self) -> bool {
        if !self.account {
            self.notify(
                "guests have no password; log in with --password to make this name an account",
                Tone::Error,
            );
        }
        self.account
    }

    fn job_from(&self, origin: ConversationId, request: Request) -> Vec<Effect> {
        vec![Effect::Net(Job { origin, request })]
    }

    fn job(&self, request: Request) -> Vec<Effect> {
        self.job_from(self.current().id.clone(), request)
    }

    fn run(&mut self, command: Command) -> Vec<Effect> {
        match command {
            Command::Empty => Vec::new(),
            Command::Say(text) => match self.current().id.clone() {
                ConversationId::Everyone => self.job(Request::Broadcast(text)),
                ConversationId::Direct(_) => {
                    let to = self.current().title.clone();
                    self.tell_away(&to);
                    self.job(Request::Send { to, text })
                }
                ConversationId::Room(_) => {
                    let room = self.current().title.clone();
                    self.job(Request::Room(RoomLine::Say { room, text }))
                }
            },
            Command::Query(name) => self.query(&name),
            Command::Close => {
                if self.open == 0 {
                    self.notify("the everyone conversation cannot be closed", Tone::Error);
                    Vec::new()
                } else {
                    self.conversations.remove(self.open);
                    self.switch_to(self.open - 1)
                }
            }
            Command::Clear => {
                let conversation = self.current_mut();
                conversation.entries.clear();
                conversation.scroll = 0;
                // /history starts over from the newest page.
                conversation.backlog = Backlog::Unasked;
                Vec::new()
            }
            Command::PasswordPrompt => {
                if self.may_change_password() {
                    self.prompt = Some(PasswordPrompt::Old);
                }
                Vec::new()
            }
            Command::Filter => {
                self.smart_filter = !self.smart_filter;
                self.notify(
                    if self.smart_filter {
                        "smart filter on: joins and leaves of people who have not spoken in 10 minutes are folded away"
                    } else {
                        "smart filter off: every join and leave is shown"
                    },
                    Tone::Info,
                );
                Vec::new()
            }
            Command::Shared(line) => self.run_shared(line),
        }
    }

    /// `/history [NAME|all]`: earlier messages of the open conversation,
    /// or of the one named (opened first).
    fn history(&mut self, with: Option<String>) -> Vec<Effect> {
        let mut effects = Vec::new();
        let index = match with.as_deref() {
            None => self.open,
            Some(BROADCAST_CONVERSATION) => 0,
            Some(room) if room.starts_with('#') => self.room(room),
            Some(name) if same_user(name, &self.me) => {
                self.notify("that is you", Tone::Error);
                return Vec::new();
            }
            Some(name) => self.direct(name),
        };
        if index != self.open {
            // Opening it may already load a page; asking again would only
            // say it is on its way.
            effects = self.switch_to(index);
        }
        if effects.is_empty() {
            effects = self.load_history(index, Shown::Told);
        }
        effects
    }

    fn run_shared(&mut self, line: Line) -> Vec<Effect> {
        let request = match line {
            Line::Empty => return Vec::new(),
            Line::Quit => return vec![Effect::Quit],
            Line::Help => {
                self.help = Some(command::help());
                return Vec::new();
            }
            Line::Broadcast(text) => Request::Broadcast(text),
            Line::Msg { to, text } => {
                let index = self.direct(&to);
                let mut effects = self.switch_to(index);
                effects.extend(self.job(Request::Send { to, text }));
                return effects;
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
            Line::History { with } => return self.history(with),
            Line::Passwd { old, new } => {
                if !self.may_change_password() {
                    return Vec::new();
                }
                Request::Passwd { old, new }
            }
            Line::Room(line) => Request::Room(self.in_open_room(line)),
            Line::Moderation(act) => Request::Moderation(act),
            Line::Ignore { name, ignore } => Request::Ignore { name, ignore },
            Line::Away(reason) => Request::Away(reason),
            Line::Whois(name) => Request::Whois(name),
        };
        self.job(request)
    }

    /// Fills in the open room where a room command left it out.
    fn in_open_room(&self, line: RoomLine) -> RoomLine {
        let open = match &self.current().id {
            ConversationId::Room(_) => Some(self.current().title.clone()),
            _ => None,
        };
        match line {
            RoomLine::Leave { room: None, reason } => RoomLine::Leave { room: open, reason },
            RoomLine::Topic { room: None, text } => RoomLine::Topic { room: open, text },
            RoomLine::Members(None) => RoomLine::Members(open),
            RoomLine::Moderate { room: None, act } => RoomLine::Moderate { room: open, act },
            other => other,
        }
    }

    // ---- the network ---------------------------------------------------

    pub fn on_net(&mut self, event: NetEvent) -> Vec<Effect> {
        match event {
            NetEvent::Online {
                name,
                users,
                reconnect,
                account,
                since,
            } => {
                self.me = name;
                self.account = account;
                self.since = since;
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
                if !reconnect {
                    // Open with what is here for us: our rooms (an
                    // account's memberships outlive its connections) and
                    // the latest broadcasts.
                    let mut effects = self.job_from(ConversationId::Everyone, Request::MyRooms);
                    effects.extend(self.load_history(0, Shown::Quietly));
                    if account {
                        // What is unread, as the server keeps it.
                        effects.extend(self.job_from(ConversationId::Everyone, Request::Markers));
                    }
                    return effects;
                }
                // A guest's rooms ended with the old connection. Each join
                // is asked from its own room, so its answer does not move
                // the user away from the conversation they had open.
                return self
                    .room_titles()
                    .into_iter()
                    .flat_map(|room| {
                        self.job_from(
                            ConversationId::room(&room),
                            Request::Room(RoomLine::Join {
                                room,
                                password: None,
                            }),
                        )
                    })
                    .collect();
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
            NetEvent::Server(event) => return self.on_server(event),
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

    fn on_server(&mut self, event: Event) -> Vec<Effect> {
        match event {
            Event::Message(message) => return self.on_message(&message),
            Event::Notice(notice) => self.on_notice(&notice),
            Event::RoomNotice(notice) => self.on_room_notice(&notice),
            Event::User(update) => self.on_user_update(&update),
            Event::Redacted(redacted) => self.on_redacted(&redacted),
            Event::Error { code, message } => self.notify(
                format!("server: {}", render::error(code, &message)),
                Tone::Error,
            ),
            Event::Closed { .. } => {}
        }
        Vec::new()
    }

    /// A deleted message: its text gives way to "message deleted" where
    /// it is shown.
    fn on_redacted(&mut self, r: &chinwag_proto::server::Redacted) {
        let own = same_user(&r.from, &self.me);
        let index = match r.kind {
            MessageKind::Broadcast => 0,
            MessageKind::Room | MessageKind::RoomOperators => self.room(&r.to),
            MessageKind::Direct | MessageKind::Other(_) if own => self.direct(&r.to),
            MessageKind::Direct | MessageKind::Other(_) => self.direct(&r.from),
        };
        self.conversations[index].redact(r.id, &render::sanitize(&r.actor));
    }

    fn on_message(&mut self, m: &Message) -> Vec<Effect> {
        if m.text.is_empty() {
            // Client tags alone (a typing notification): nothing to show.
            return Vec::new();
        }
        // Sent by another session of this account: ours, in the
        // conversation with its recipient, and never unread.
        let own = same_user(&m.from, &self.me);
        let index = match m.kind {
            MessageKind::Broadcast => 0,
            MessageKind::Room | MessageKind::RoomOperators => self.room(&m.to),
            MessageKind::Direct | MessageKind::Other(_) if own => self.direct(&m.to),
            MessageKind::Direct | MessageKind::Other(_) => self.direct(&m.from),
        };
        self.spoke.insert(ConversationId::direct(&m.from), m.ts);
        let from = render::sanitize(&m.from);
        // A NOTICE shows its sender as `-alice-`, as IRC clients do.
        let from = if m.notice {
            std::borrow::Cow::Owned(format!("-{from}-"))
        } else {
            from
        };
        let (action, text) = render::shown(&m.text);
        let direct = matches!(m.kind, MessageKind::Direct | MessageKind::Other(_));
        let mention = !own && mentions(&text, &self.me);
        // Queued messages come at login with their original time; a live
        // one cannot be older than the login.
        let sent_while_away = m.kind == MessageKind::Direct && m.ts < self.since;
        let open = index == self.open;
        let conversation = &mut self.conversations[index];
        let new = conversation.add(m.id, m.ts, &from, &text, action, mention);
        if !new || own {
            return Vec::new();
        }
        if !open {
            conversation.unread += 1;
            if sent_while_away {
                conversation.unread_away += 1;
            }
            if mention {
                conversation.mentions += 1;
            }
        }
        let mut effects = if open {
            self.mark_read(index)
        } else {
            Vec::new()
        };
        if (mention || direct) && self.bell && !sent_while_away {
            effects.push(Effect::Bell);
        }
        effects
    }

    /// Whether `name`'s joins and leaves are noise: they have not spoken
    /// lately.
    fn quiet(&self, name: &str) -> bool {
        self.spoke
            .get(&ConversationId::direct(name))
            .is_none_or(|at| self.now.0.saturating_sub(at.0) > SPOKE_LATELY.as_millis() as u64)
    }

    /// A user's change: the user list follows it; a rename is shown where
    /// the user is seen (the server conversation, a direct one, its rooms'
    /// lists come from MEMBERS again).
    fn on_user_update(&mut self, u: &chinwag_client::UserUpdate) {
        let renamed = u.changed & chinwag_client::user_changed::NAME != 0;
        let known = if renamed { &u.old_name } else { &u.name };
        if let Some(user) = self
            .users
            .iter_mut()
            .find(|user| user.name.eq_ignore_ascii_case(known))
        {
            user.name = u.name.clone();
            user.username = u.username.clone();
            user.realname = u.realname.clone();
            user.away = u.away.clone();
            user.flags = u.flags;
        }
        if renamed {
            self.users.sort_by_key(|u| u.name.to_lowercase());
            if same_user(&u.old_name, &self.me) {
                self.me = u.name.to_string();
            }
        }
        let Some(line) = render::user_update(u, self.clock) else {
            return;
        };
        // Drop the time: the view shows its own.
        let text = line
            .split_once("* ")
            .map_or(line.clone(), |(_, t)| t.to_owned());
        let quiet = !renamed && self.quiet(&u.name);
        self.conversations[0].add_presence(u.ts, text.clone(), quiet);
        let direct = ConversationId::direct(if renamed { &u.old_name } else { &u.name });
        if let Some(index) = self.index_of(&direct) {
            self.conversations[index].add_presence(u.ts, text, false);
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
                            username: "".into(),
                            realname: "".into(),
                            away: "".into(),
                            sessions: 0,
                            last_spoke: chinwag_proto::Timestamp(0),
                            flags: n.until as u8,
                        });
                        self.users.sort_by_key(|u| u.name.to_lowercase());
                    }
                } else {
                    self.users
                        .retain(|u| !u.name.eq_ignore_ascii_case(&subject));
                }
                // A departure with a reason (kicked, banned) is news.
                let quiet = self.quiet(&subject) && n.text.is_empty();
                self.conversations[0].add_presence(n.ts, text.clone(), quiet);
                let direct = ConversationId::direct(&subject);
                if let Some(index) = self.index_of(&direct) {
                    // Whoever I talk with directly is never noise.
                    self.conversations[index].add_presence(n.ts, text, false);
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
            _ => self.notify(text, Tone::Alert),
        }
    }

    /// A room notice goes to its room's conversation (opened if need be);
    /// a new topic or mode goes into its header too.
    fn on_room_notice(&mut self, n: &RoomNotice) {
        let tone = match n.kind {
            NoticeKind::RoomKicked
            | NoticeKind::RoomMuted
            | NoticeKind::RoomUnmuted
            | NoticeKind::RoomInvited => Tone::Alert,
            _ => Tone::Info,
        };
        let index = self.room(&render::sanitize(&n.room));
        let quiet = matches!(n.kind, NoticeKind::RoomJoined | NoticeKind::RoomLeft)
            && self.quiet(&n.subject);
        let conversation = &mut self.conversations[index];
        if let Some(header) = &mut conversation.room {
            match n.kind {
                NoticeKind::RoomTopic => header.topic = render::sanitize(&n.text).into_owned(),
                NoticeKind::RoomMode => {
                    if let Some(mode) = u8::try_from(n.until).ok().and_then(RoomMode::from_bits) {
                        header.mode = mode;
                    }
                }
                NoticeKind::RoomJoined => header.members = header.members.saturating_add(1),
                NoticeKind::RoomLeft => header.members = header.members.saturating_sub(1),
                _ => {}
            }
        }
        if quiet {
            conversation.add_presence(n.ts, rooms::notice_body(n), true);
        } else {
            conversation.add_notice(n.ts, rooms::notice_body(n), tone);
        }
    }

    /// The account's read markers: each conversation's unread messages
    /// are asked for.
    fn on_markers(&mut self, markers: &[ReadMarker]) -> Vec<Effect> {
        markers
            .iter()
            .flat_map(|marker| {
                let name = render::sanitize(&marker.conversation).into_owned();
                let (origin, with) = if name == BROADCAST_CONVERSATION {
                    (ConversationId::Everyone, None)
                } else if name.starts_with('#') {
                    (ConversationId::room(&name), Some(name))
                } else {
                    (ConversationId::direct(&name), Some(name))
                };
                if let Some(index) = self.index_of(&origin) {
                    self.conversations[index].marked = Some(marker.id);
                }
                self.job_from(
                    origin,
                    Request::Unread {
                        with,
                        after: marker.id.0,
                    },
                )
            })
            .collect()
    }

    /// Files the messages of a conversation that came after its read
    /// marker: unread, unless they are mine or it is open.
    fn file_unread(&mut self, with: Option<String>, after: u64, page: &[Message]) -> Vec<Effect> {
        let from_others = page
            .iter()
            .filter(|m| !same_user(&m.from, &self.me))
            .count();
        let index = match with.as_deref() {
            None => 0,
            Some(room) if room.starts_with('#') => match self.index_of(&ConversationId::room(room))
            {
                Some(index) => index,
                // No longer a member: nothing to show.
                None => return Vec::new(),
            },
            Some(_) if from_others == 0 => return Vec::new(),
            Some(name) => self.direct(name),
        };
        let me = self.me.clone();
        let open = index == self.open;
        let conversation = &mut self.conversations[index];
        let marked = MessageId(after);
        conversation.marked = Some(conversation.marked.map_or(marked, |m| m.max(marked)));
        for m in page {
            let from = render::sanitize(&m.from);
            let (action, text) = render::shown(&m.text);
            let own = same_user(&m.from, &me);
            let mention = !own && mentions(&text, &me);
            if conversation.add(m.id, m.ts, &from, &text, action, mention) && !own && !open {
                conversation.unread += 1;
                if mention {
                    conversation.mentions += 1;
                }
            }
        }
        if open {
            self.mark_read(index)
        } else {
            Vec::new()
        }
    }

    /// Opens a conversation for each room I am a member of, with its
    /// header, and keeps the headers of the others up to date.
    fn file_rooms(&mut self, rooms: &[RoomInfo]) {
        for info in rooms {
            let known = self.index_of(&ConversationId::room(&info.room));
            let index = match known {
                Some(index) => index,
                None if info.role != RoomRole::None => self.room(&render::sanitize(&info.room)),
                None => continue,
            };
            self.conversations[index].room = Some(RoomHeader::of(info));
        }
    }

    /// Files an answer where it was asked. After a change of roles or
    /// mutes the user list is asked for again, to show the new markers.
    fn on_answer(&mut self, origin: ConversationId, result: Result<Reply, String>) -> Vec<Effect> {
        let found = self.index_of(&origin);
        if found.is_none() && matches!(result, Ok(Reply::History { .. })) {
            // Closed meanwhile: its history belongs nowhere else.
            return Vec::new();
        }
        // The conversation may have been closed meanwhile.
        let index = found.unwrap_or(self.open);
        let now = self.now;
        let reply = match result {
            Ok(reply) => reply,
            Err(problem) => {
                let conversation = &mut self.conversations[index];
                // Most likely the page's own failure (answers come in the
                // order asked); if not, a later page is at worst asked for
                // twice, and add_message skips the repeats.
                if conversation.backlog == Backlog::Loading {
                    conversation.backlog = Backlog::Partial;
                }
                conversation.add_notice(now, problem, Tone::Error);
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
                let (action, text) = render::shown(&text);
                self.conversations[index].add(sent.id, sent.ts, &me, &text, action, false);
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
                // An audit table is several lines.
                for line in text.lines() {
                    self.conversations[index].add_notice(now, line, Tone::Info);
                }
                return self.refresh_users(origin);
            }
            Reply::History {
                messages,
                limit,
                shown,
            } => self.file_history(index, &messages, limit, shown),
            Reply::PasswordChanged => self.conversations[index].add_notice(
                now,
                "password changed; reconnecting uses the new one",
                Tone::Info,
            ),
            Reply::Room(reply) => return self.on_room_reply(index, reply),
            Reply::MyRooms(rooms) => self.file_rooms(&rooms),
            Reply::Markers(markers) => return self.on_markers(&markers),
            Reply::Unread {
                with,
                after,
                messages,
            } => return self.file_unread(with, after, &messages),
            Reply::Marked => {}
        }
        Vec::new()
    }

    /// Files a page of history into its conversation. Asked for with
    /// /history, it says what came and shows the page's start; asked for
    /// by PageUp or by opening, the view stays where it is.
    fn file_history(&mut self, index: usize, page: &[Message], limit: u16, shown: bool) {
        let now = self.now;
        let conversation = &mut self.conversations[index];
        let added = page
            .iter()
            .filter(|m| {
                let from = render::sanitize(&m.from);
                let (action, text) = render::shown(&m.text);
                conversation.add(m.id, m.ts, &from, &text, action, false)
            })
            .count();
        conversation.backlog = if page.len() < usize::from(limit) {
            Backlog::Complete
        } else {
            Backlog::Partial
        };
        if !shown {
            return;
        }
        let plural = if added == 1 { "" } else { "s" };
        let text = match (added, conversation.backlog) {
            (0, Backlog::Complete) => {
                "no earlier messages: this is the start of the conversation".to_owned()
            }
            (n, Backlog::Complete) => {
                format!("{n} earlier message{plural} from the server, back to the start")
            }
            (n, _) => format!(
                "{n} earlier message{plural} from the server; /history or PageUp at the top for more"
            ),
        };
        conversation.add_notice(now, text, Tone::Info);
        if added > 0 && index == self.open {
            self.scroll(isize::MAX);
        }
    }

    fn on_room_reply(&mut self, index: usize, reply: RoomReply) -> Vec<Effect> {
        let now = self.now;
        let me = self.me.clone();
        match &reply {
            RoomReply::Joined(info) => {
                let room = self.room(&render::sanitize(&info.room));
                // The server's spelling of the name wins.
                self.conversations[room].title = render::sanitize(&info.room).into_owned();
                self.conversations[room].room = Some(RoomHeader::of(info));
                let text = rooms::describe(&reply, &me, self.clock);
                self.conversations[room].add_notice(now, text, Tone::Info);
                // Asked from elsewhere (/join typed in another
                // conversation): go there. Asked from the room itself (a
                // join again after a reconnect): stay where the user is.
                if index != room {
                    return self.switch_to(room);
                }
            }
            RoomReply::Sent { room, text, sent } => {
                let room = self.room(room);
                let (action, text) = render::shown(text);
                self.conversations[room].add(sent.id, sent.ts, &me, &text, action, false);
            }
            RoomReply::Left(room) => {
                let room = self.room(room);
                self.conversations[room].room = None;
                let text = rooms::describe(&reply, &me, self.clock);
                self.conversations[room].add_notice(now, text, Tone::Info);
            }
            RoomReply::Topic(info) => {
                self.file_rooms(std::slice::from_ref(info));
                let text = rooms::describe(&reply, &me, self.clock);
                self.conversations[index].add_notice(now, text, Tone::Info);
            }
            RoomReply::List(infos) => {
                self.file_rooms(infos);
                for line in rooms::describe(&reply, &me, self.clock).lines() {
                    self.conversations[index].add_notice(now, line, Tone::Info);
                }
            }
            RoomReply::Members { .. } | RoomReply::Done(_) => {
                for line in rooms::describe(&reply, &me, self.clock).lines() {
                    self.conversations[index].add_notice(now, line, Tone::Info);
                }
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
