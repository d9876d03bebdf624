//! One IRC connection as a state machine without I/O: registration (CAP,
//! SASL PLAIN, PASS, NICK, USER), the commands turned into the core's
//! requests, and the core's replies and events turned into IRC lines.
//!
//! The driver feeds it lines ([`Irc::line`]), hands the requests it queues
//! ([`Irc::take_request`]) to the core's session, and gives it, as the
//! session's [`Sink`], what the session says. Nothing here decides
//! anything the core decides: a refusal is the core's, rendered as the
//! numeric IRC clients expect.

use std::collections::{HashMap, HashSet, VecDeque};

use chinwag_core::cmd::Reply;
use chinwag_core::event::Shared;
use chinwag_core::session::Sink;
use chinwag_proto::request::{Logout, Register};
use chinwag_proto::server::{MessageId, Timestamp};
use chinwag_proto::{ErrorCode, NameKey, Request, RequestId, RoomKey};

use crate::caps::{self, Cap, Caps};
use crate::line::{LineError, Message};
use crate::output::{GroupId, Output};

/// Events held back until the welcome, at most (they arrive when SASL
/// logged in before CAP END; the core bounds them too).
const MAX_HELD: usize = 4096;

/// What a request was for: how to render its answer.
#[derive(Clone, Debug)]
pub enum Pending {
    Register {
        sasl: bool,
    },
    Ping {
        token: String,
    },
    /// PRIVMSG, NOTICE or TAGMSG (`command`); `tags` are the client
    /// tags sent, in the core's form (protocol.md 2.5).
    Message {
        target: String,
        text: String,
        command: &'static str,
        tags: String,
    },
    /// REDACT of `msgid` in `target`, with `reason`.
    Redact {
        target: String,
        msgid: String,
        reason: String,
    },
    Join {
        channel: String,
    },
    Names {
        channel: String,
        quiet_errors: bool,
        /// What the closing `366` names; `None`: no `366` (another
        /// channel of the same NAMES follows).
        end: Option<String>,
    },
    Part {
        channel: String,
        reason: String,
    },
    TopicQuery {
        channel: String,
    },
    TopicSet {
        channel: String,
    },
    List {
        filter: Vec<String>,
    },
    ChannelModeQuery {
        channel: String,
    },
    ChannelModeSet {
        channel: String,
        change: crate::commands::ModeChange,
    },
    Mode {
        channel: String,
        text: String,
        echo: bool,
        nick: String,
    },
    /// `MODE #c +b` (or `+e`, `+I`): one of the lists shown for the
    /// letter; the end numeric follows the `last`.
    MaskList {
        channel: String,
        letter: char,
        last: bool,
    },
    WhoChannel {
        who: Who,
    },
    /// WHO of a channel, second step: the members' profiles.
    WhoMembers {
        channel: String,
        who: Who,
        members: Vec<chinwag_proto::room::MemberInfo>,
    },
    /// PROFILE: `Some(away)` for AWAY (answered 305/306), `None` for the
    /// profile set at the welcome.
    Profile {
        away: Option<String>,
    },
    Userhost {
        nicks: Vec<String>,
    },
    /// MONITOR + or S: which of `nicks` are online.
    Monitor {
        nicks: Vec<String>,
    },
    WhoUsers {
        who: Who,
    },
    Whois {
        nick: String,
    },
    /// NICK after registration: the core's rename.
    Nick {
        nick: String,
    },
    /// SETNAME: the profile with a new real name.
    Setname {
        realname: String,
    },
    /// MODE on oneself: the user flags now.
    UserMode,
    Whowas {
        nick: String,
    },
    Lusers,
    /// The LUSERS of the welcome: the MOTD and the rest follow it.
    WelcomeLusers,
    Oper,
    Kill {
        nick: String,
    },
    Kick {
        channel: String,
        nick: String,
    },
    Invite {
        channel: String,
        nick: String,
    },
    /// `INVITE` alone: the rooms this user is invited to.
    InviteList,
    Mute {
        target: String,
    },
    Die,
    Quit,
    Rejoin,
    Malformed {
        command: String,
        error: LineError,
    },
    History {
        target: String,
    },
    /// METADATA, and the metadata of a WHOIS.
    Metadata {
        target: String,
        op: crate::metadata::MetaOp,
    },
    /// MARKREAD, and the one after a JOIN.
    ReadMarker {
        target: String,
    },
}

/// A WHO query: its mask, and for WHOX (`WHO mask %fields[,token]`) the
/// fields asked for and the token.
#[derive(Clone, Debug)]
pub struct Who {
    pub mask: String,
    pub whox: Option<(String, String)>,
}

/// Where registration is.
#[derive(Default)]
pub struct Registration {
    pub nick: Option<String>,
    pub user: Option<(String, String)>,
    pub pass: Option<String>,
    /// CAP LS or REQ came before registration: wait for CAP END.
    pub cap_open: bool,
    pub sasl: Sasl,
    /// REGISTER was sent and not yet answered.
    pub sent: bool,
}

#[derive(Default, PartialEq, Eq)]
pub enum Sasl {
    #[default]
    Idle,
    /// AUTHENTICATE PLAIN was accepted; the credentials come next, in
    /// chunks of 400 bytes of base64.
    Plain(String),
    /// The credentials are being checked.
    Checking,
}

pub struct Irc {
    pub(crate) server: String,
    /// The server's one line of info (LINKS).
    pub(crate) description: String,
    /// The server has a password: PASS is it, not an account's.
    pub(crate) server_password: bool,
    pub(crate) reg: Registration,
    pub(crate) caps: Caps,
    pub(crate) cap_version: u32,
    /// The registered name, once the core said so.
    pub(crate) me: Option<String>,
    pub(crate) account: bool,
    pub(crate) realname: String,
    /// The user name given with USER.
    pub(crate) username: String,
    /// The away message set with AWAY; empty: not away.
    pub(crate) away: String,
    /// The user flags (`chinwag_proto::server::user_flags`) as last told.
    pub(crate) umodes: u8,
    /// The profile went with REGISTER (sent just before it).
    pub(crate) profile_sent: bool,
    /// The welcome was sent.
    pub(crate) welcomed: bool,
    /// The mode of each channel this session is in, as last seen: a
    /// mode change is shown as what changed.
    pub(crate) modes: HashMap<RoomKey, chinwag_proto::room::RoomMode>,
    /// Who is in each channel this session is in, as shown to it: a user
    /// gone from the server is shown a QUIT once, and only if in one of
    /// them (the core tells it per room and server-wide).
    pub(crate) channels: HashMap<RoomKey, HashSet<NameKey>>,
    /// MONITOR's list: the nicks whose comings and goings this session is
    /// told (from the core's presence notices), as the client spelled them.
    pub(crate) monitor: HashMap<NameKey, String>,
    next_id: u32,
    pub(crate) pending: HashMap<RequestId, (Pending, Option<GroupId>)>,
    requests: VecDeque<(RequestId, Request, usize)>,
    /// The label group of the line being handled, if it has one.
    group: Option<GroupId>,
    pub(crate) out: Output,
    held: Vec<Shared>,
    /// ERROR was sent: the connection is closing.
    pub(crate) errored: bool,
}

impl Irc {
    pub fn new(server: &str) -> Irc {
        Irc {
            server: server.to_owned(),
            description: String::new(),
            server_password: false,
            reg: Registration::default(),
            caps: Caps::default(),
            cap_version: 0,
            me: None,
            account: false,
            realname: String::new(),
            username: String::new(),
            away: String::new(),
            umodes: 0,
            profile_sent: false,
            welcomed: false,
            modes: HashMap::new(),
            channels: HashMap::new(),
            monitor: HashMap::new(),
            next_id: 0,
            pending: HashMap::new(),
            requests: VecDeque::new(),
            group: None,
            out: Output::default(),
            held: Vec::new(),
            errored: false,
        }
    }

    /// The server's one line of info, as LINKS shows it.
    pub fn with_description(mut self, description: &str) -> Irc {
        self.description = description.to_owned();
        self
    }

    /// The server has a password (`--server-password`): PASS gives it,
    /// and accounts log in with SASL.
    pub fn with_server_password(mut self, required: bool) -> Irc {
        self.server_password = required;
        self
    }

    /// What PASS gave, as the server's password (empty if none).
    pub fn server_password_given(&self) -> &str {
        self.reg.pass.as_deref().unwrap_or("")
    }

    /// The next request for the core, with its size on the wire.
    pub fn take_request(&mut self) -> Option<(RequestId, Request, usize)> {
        self.requests.pop_front()
    }

    pub fn has_requests(&self) -> bool {
        !self.requests.is_empty()
    }

    /// The nick to address numerics to: `*` before registration.
    pub(crate) fn nick(&self) -> &str {
        self.me
            .as_deref()
            .or(self.reg.nick.as_deref())
            .unwrap_or("*")
    }

    /// Queues `request` for the core; its answer is rendered as `pending`
    /// says, within the label group of the line that asked.
    pub(crate) fn ask(&mut self, request: Request, pending: Pending, size: usize) {
        self.next_id = self.next_id.wrapping_add(1).max(1);
        let id = RequestId(self.next_id);
        if let Some(group) = self.group {
            self.out.expect(group);
        }
        self.pending.insert(id, (pending, self.group));
        self.requests.push_back((id, request, size));
    }

    /// Sends `:server <numeric> <nick> <params...>`.
    pub(crate) fn numeric(&mut self, code: &str, params: &[&str]) {
        let mut line = format!(":{} {code} {}", self.server, self.nick());
        push_params(&mut line, params);
        self.out.line(line);
    }

    /// Sends a line from the server (`:server COMMAND params`).
    pub(crate) fn server_line(&mut self, command: &str, params: &[&str]) {
        let mut line = format!(":{} {command}", self.server);
        push_params(&mut line, params);
        self.out.line(line);
    }

    /// The connection ends: `ERROR :text` (once).
    pub fn error(&mut self, text: &str) {
        if !self.errored {
            self.errored = true;
            self.out.current = None;
            self.out.line(format!("ERROR :{text}"));
        }
    }

    /// A line that could not be parsed: the core counts it (too many close
    /// the connection), the answer is rendered here.
    pub fn malformed(
        &mut self,
        command: String,
        error: LineError,
    ) -> (RequestId, ErrorCode, String) {
        self.next_id = self.next_id.wrapping_add(1).max(1);
        let id = RequestId(self.next_id);
        let message = error.to_string();
        self.pending
            .insert(id, (Pending::Malformed { command, error }, None));
        (id, ErrorCode::MalformedFrame, message)
    }

    /// Handles one parsed line.
    pub fn line(&mut self, message: Message) {
        self.group = match message.tag("label") {
            Some(label) if self.caps.has(Cap::LabeledResponse) && !label.is_empty() => {
                Some(self.out.open_group(label))
            }
            _ => None,
        };
        self.out.current = self.group;
        if self.me.is_some() && self.welcomed {
            self.registered_command(message);
        } else {
            self.registration_command(message);
        }
        self.out.current = None;
        if let Some(group) = self.group.take() {
            self.out.close_if_done(group, &self.server.clone());
        }
    }

    fn registration_command(&mut self, m: Message) {
        match m.command.as_str() {
            "CAP" => self.cap(&m),
            "PASS" => match m.params.first() {
                Some(pass) => self.reg.pass = Some(pass.clone()),
                None => self.numeric("461", &["PASS", "Not enough parameters"]),
            },
            "NICK" => match m.params.first().filter(|n| !n.is_empty()) {
                Some(nick) => {
                    self.reg.nick = Some(nick.clone());
                    self.try_register();
                }
                None => self.numeric("431", &["No nickname given"]),
            },
            "USER" => {
                if m.params.len() < 4 || m.params[0].is_empty() || m.params[3].is_empty() {
                    self.numeric("461", &["USER", "Not enough parameters"]);
                } else if self.reg.user.is_some() {
                    self.numeric("462", &["You may not reregister"]);
                } else {
                    self.reg.user = Some((m.params[0].clone(), m.params[3].clone()));
                    self.username = m.params[0].clone();
                    self.realname = m.params[3].clone();
                    // A SASL login went before: the profile goes after.
                    self.profile_sent = false;
                    self.try_register();
                }
            }
            "AUTHENTICATE" => self.authenticate(&m),
            "PING" => self.ping(&m),
            "PONG" => {}
            "QUIT" => {
                self.error("Closing link (quit)");
                self.ask(Request::Logout(Logout::default()), Pending::Quit, 0);
            }
            _ if self.me.is_some() && self.reg.sent => {
                // SASL logged in and the welcome waits for CAP END: the
                // rest waits too.
                self.numeric("451", &["You have not registered (finish with CAP END)"]);
            }
            _ => self.numeric("451", &["You have not registered"]),
        }
    }

    fn ping(&mut self, m: &Message) {
        match m.params.first() {
            Some(token) => {
                let token = token.clone();
                self.ask(Request::Ping, Pending::Ping { token }, 0);
            }
            None => self.numeric("409", &["No origin specified"]),
        }
    }

    pub(crate) fn cap(&mut self, m: &Message) {
        let sub = m.param(0).to_ascii_uppercase();
        let nick = self.nick().to_owned();
        match sub.as_str() {
            "LS" => {
                if !self.welcomed {
                    self.reg.cap_open = true;
                }
                let version = m.param(1).parse().unwrap_or(0);
                self.cap_version = self.cap_version.max(version);
                if version >= 302 {
                    self.caps.set(Cap::CapNotify, true);
                }
                let list = caps::listing(self.cap_version);
                self.server_line("CAP", &[&nick, "LS", &list]);
            }
            "LIST" => {
                let names = self.caps.names();
                self.server_line("CAP", &[&nick, "LIST", &names]);
            }
            "REQ" => {
                if !self.welcomed {
                    self.reg.cap_open = true;
                }
                let asked = m.param(1);
                match caps::parse_request(asked) {
                    Some(changes) if !changes.is_empty() => {
                        for (cap, on) in changes {
                            self.caps.set(cap, on);
                        }
                        self.server_line("CAP", &[&nick, "ACK", asked]);
                    }
                    _ => self.server_line("CAP", &[&nick, "NAK", asked]),
                }
            }
            "END" => {
                if !self.welcomed {
                    self.reg.cap_open = false;
                    self.try_register();
                }
            }
            _ => self.numeric("410", &[&sub, "Invalid CAP command"]),
        }
    }

    fn authenticate(&mut self, m: &Message) {
        let arg = m.param(0);
        if self.me.is_some() {
            self.numeric("907", &["You have already authenticated using SASL"]);
            return;
        }
        if arg == "*" {
            self.reg.sasl = Sasl::Idle;
            self.numeric("906", &["SASL authentication aborted"]);
            return;
        }
        match std::mem::take(&mut self.reg.sasl) {
            Sasl::Idle => {
                if arg.eq_ignore_ascii_case("PLAIN") {
                    self.reg.sasl = Sasl::Plain(String::new());
                    self.out.line("AUTHENTICATE +".into());
                } else {
                    self.numeric("908", &["PLAIN", "are available SASL mechanisms"]);
                    self.numeric("904", &["SASL authentication failed"]);
                }
            }
            Sasl::Plain(mut so_far) => {
                if arg != "+" {
                    so_far.push_str(arg);
                }
                if so_far.len() > 4096 {
                    self.numeric("905", &["SASL message too long"]);
                } else if arg.len() == 400 {
                    self.reg.sasl = Sasl::Plain(so_far);
                } else {
                    self.sasl_plain(&so_far);
                }
            }
            Sasl::Checking => {
                self.reg.sasl = Sasl::Checking;
                self.numeric(
                    "904",
                    &["SASL authentication failed (a check is under way)"],
                );
            }
        }
    }

    /// The PLAIN credentials `authzid \0 authcid \0 password` in base64:
    /// logs in to the account by registering its name with the password.
    fn sasl_plain(&mut self, encoded: &str) {
        use base64::Engine;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok());
        let Some(decoded) = decoded else {
            self.numeric("904", &["SASL authentication failed (bad encoding)"]);
            return;
        };
        let mut parts = decoded.split('\0');
        let (Some(authzid), Some(authcid), Some(password), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            self.numeric("904", &["SASL authentication failed (bad PLAIN message)"]);
            return;
        };
        if !authzid.is_empty() && authzid != authcid {
            self.numeric(
                "904",
                &["SASL authentication failed (no authorization identities)"],
            );
            return;
        }
        self.reg.sasl = Sasl::Checking;
        self.reg.sent = true;
        if self.reg.user.is_some() {
            self.send_profile_first();
        }
        let request = register(authcid, password);
        self.ask(request, Pending::Register { sasl: true }, 0);
    }

    /// Registers once NICK and USER are in and CAP negotiation is over;
    /// welcomes at once if SASL logged in already.
    fn try_register(&mut self) {
        if self.reg.cap_open || self.reg.user.is_none() || self.reg.sasl == Sasl::Checking {
            return;
        }
        let Some(nick) = self.reg.nick.clone() else {
            return;
        };
        if self.me.is_some() {
            self.welcome();
            return;
        }
        if self.reg.sent {
            return;
        }
        self.reg.sent = true;
        let password = if self.server_password {
            String::new()
        } else {
            self.reg.pass.clone().unwrap_or_default()
        };
        self.send_profile_first();
        self.ask(
            register(&nick, &password),
            Pending::Register { sasl: false },
            0,
        );
    }

    /// The core registered the name: SASL success, or the end of
    /// registration.
    pub(crate) fn registered(&mut self, name: &str, sasl: bool, account: bool) {
        self.me = Some(name.to_owned());
        self.account = account;
        self.reg.sent = false;
        if sasl {
            self.reg.sasl = Sasl::Idle;
            let mask = self.mask(name);
            self.numeric(
                "900",
                &[&mask, name, &format!("You are now logged in as {name}")],
            );
            self.numeric("903", &["SASL authentication successful"]);
            self.try_register();
        } else {
            self.welcome();
        }
    }

    /// A registration the core refused: the client may try another nick
    /// or password.
    pub(crate) fn refused(&mut self, code: ErrorCode, message: &str, sasl: bool) {
        self.reg.sent = false;
        if sasl {
            self.reg.sasl = Sasl::Idle;
            self.numeric("904", &[&format!("SASL authentication failed: {message}")]);
            return;
        }
        let nick = self.reg.nick.clone().unwrap_or_default();
        match code {
            ErrorCode::NameTaken | ErrorCode::AccountRequired => {
                self.numeric("433", &[&nick, message]);
            }
            ErrorCode::InvalidName => self.numeric("432", &[&nick, message]),
            ErrorCode::Banned => self.numeric("465", &[message]),
            _ => self.numeric("464", &[message]),
        }
    }

    /// `nick!user@host` as shown for every user: chinwag keeps no
    /// user names or hosts of its own, so both are derived from the nick
    /// and the server.
    pub(crate) fn mask(&self, nick: &str) -> String {
        format!("{nick}!{nick}@chinwag")
    }

    /// `name` is in `room` now (if this session is in it).
    pub(crate) fn seen_in(&mut self, room: &str, name: &str) {
        if let (Some(room), Some(name)) = (RoomKey::fold(room), NameKey::fold(name))
            && let Some(members) = self.channels.get_mut(&room)
        {
            members.insert(name);
        }
    }

    /// `name` left `room`.
    pub(crate) fn gone_from(&mut self, room: &str, name: &str) {
        if let (Some(room), Some(name)) = (RoomKey::fold(room), NameKey::fold(name))
            && let Some(members) = self.channels.get_mut(&room)
        {
            members.remove(&name);
        }
    }

    /// `name` left the server: whether this session saw it in a channel
    /// (and is to be shown a QUIT); it is in none of them any more.
    pub(crate) fn quit(&mut self, name: &str) -> bool {
        let Some(name) = NameKey::fold(name) else {
            return false;
        };
        let mut seen = false;
        for members in self.channels.values_mut() {
            seen |= members.remove(&name);
        }
        seen
    }

    /// The profile (USER's names) goes before REGISTER, so that the user
    /// comes online with it: nobody is told of a change.
    fn send_profile_first(&mut self) {
        self.profile_sent = true;
        self.set_profile(None);
    }

    /// Whether `name` is in one of this session's channels.
    pub(crate) fn shares_channel(&self, name: &str) -> bool {
        NameKey::fold(name).is_some_and(|key| self.channels.values().any(|m| m.contains(&key)))
    }

    /// `old` is called `new` now, in every channel this session sees it.
    pub(crate) fn renamed(&mut self, old: &str, new: &str) {
        if let (Some(old), Some(new)) = (NameKey::fold(old), NameKey::fold(new)) {
            for members in self.channels.values_mut() {
                if members.remove(&old) {
                    members.insert(new);
                }
            }
        }
    }

    /// Tells the core what others are shown about this user.
    pub(crate) fn set_profile(&mut self, away: Option<String>) {
        let request = Request::Profile(chinwag_proto::request::Profile {
            src: "".into(),
            username: self.username.as_str().into(),
            realname: self.realname.as_str().into(),
            away: away.as_deref().unwrap_or(&self.away).into(),
        });
        self.ask(request, Pending::Profile { away }, 0);
    }

    /// Holds an event until the welcome is out.
    pub(crate) fn hold(&mut self, event: &Shared) {
        if self.held.len() < MAX_HELD {
            self.held.push(std::sync::Arc::clone(event));
        }
    }

    pub(crate) fn release_held(&mut self) {
        for event in std::mem::take(&mut self.held) {
            self.render_event(&event);
        }
    }

    /// Runs `f` with the lines it sends going into label group `group`.
    pub(crate) fn in_group(&mut self, group: Option<GroupId>, f: impl FnOnce(&mut Irc)) {
        let outer = self.group;
        self.group = group;
        self.out.current = group;
        f(self);
        self.group = outer;
        self.out.current = outer;
    }

    /// The server-time and msgid tags a message line carries, as this
    /// connection's capabilities ask, after the sender's client tags
    /// `client` (in the core's form, which is IRC's) if it takes message
    /// tags.
    pub(crate) fn tags_with(&self, ts: Timestamp, id: Option<MessageId>, client: &str) -> String {
        let mut tags = Vec::new();
        if !client.is_empty() && self.caps.has(Cap::MessageTags) {
            tags.push(client.to_owned());
        }
        if self.caps.has(Cap::ServerTime) {
            tags.push(format!("time={}", iso8601(ts)));
        }
        if let Some(id) = id
            && self.caps.has(Cap::MessageTags)
        {
            tags.push(format!("msgid={}", id.0));
        }
        if tags.is_empty() {
            String::new()
        } else {
            format!("@{} ", tags.join(";"))
        }
    }
}

impl Sink for Irc {
    fn reply(&mut self, id: RequestId, reply: Reply) {
        match self.pending.remove(&id) {
            Some((pending, group)) => {
                self.in_group(group, |irc| irc.render_reply(pending, reply));
                if let Some(group) = group {
                    let server = self.server.clone();
                    self.out.answered(group, &server);
                }
            }
            // Said by the session itself: a timeout, a flood, a closing.
            None => match reply {
                Err(error) if error.code.closes_connection() => self.error(&error.message),
                Err(error) => {
                    let nick = self.nick().to_owned();
                    self.server_line("NOTICE", &[&nick, &error.message]);
                }
                Ok(_) => {}
            },
        }
    }

    fn event(&mut self, event: &Shared) {
        if self.welcomed {
            self.render_event(event);
        } else {
            self.hold(event);
        }
    }

    fn delivered_up_to(&mut self, id: MessageId) {
        self.out.mark(id);
    }

    fn backlog(&self) -> usize {
        self.out.buf.len()
    }

    fn discard_unwritten(&mut self) {
        self.out.discard_unwritten();
    }
}

/// REGISTER for `name`: always one session among others of the account.
fn register(name: &str, password: &str) -> Request {
    Request::Register(Register {
        name: name.into(),
        ip: "".into(),
        port: 0,
        password: password.into(),
        take_offline: true,
        multi_session: true,
    })
}

/// Appends parameters, the last as a trailing one when it needs to be.
/// A middle parameter that cannot be one (empty, with a space, starting
/// with `:`) is sent as `*`, so that it never shifts the ones after it.
/// [`push_params`] for a line whose last parameter is text (the text of
/// PRIVMSG and NOTICE): that one always gets its `:`, as IRC servers
/// write it, even when it is one word: clients and bots that take the
/// text from after " :" find it.
pub(crate) fn push_text(line: &mut String, params: &[&str], text: &str) {
    push_params(line, params);
    line.push_str(" :");
    line.push_str(text);
}

pub(crate) fn push_params(line: &mut String, params: &[&str]) {
    let last = params.len().saturating_sub(1);
    for (i, param) in params.iter().enumerate() {
        line.push(' ');
        let awkward = param.is_empty() || param.starts_with(':') || param.contains(' ');
        if i == last && awkward {
            line.push(':');
        } else if awkward {
            line.push('*');
            continue;
        }
        line.push_str(param);
    }
}

/// `2026-12-03T12:00:00.000Z` for a timestamp in milliseconds.
pub fn iso8601(ts: Timestamp) -> String {
    let ms = ts.0 % 1000;
    let secs = ts.0 / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{d:02}T{h:02}:{m:02}:{s:02}.{ms:03}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_never_shift() {
        let mut line = String::from(":srv 696 me");
        push_params(&mut line, &["#c", "k", "two words", "why not"]);
        assert_eq!(line, ":srv 696 me #c k * :why not");
        let mut line = String::from("PRIVMSG");
        push_params(&mut line, &["#c", ":)"]);
        assert_eq!(line, "PRIVMSG #c ::)");
    }

    #[test]
    fn timestamps_in_iso8601() {
        assert_eq!(iso8601(Timestamp(0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            iso8601(Timestamp(1_796_299_200_123)),
            "2026-12-03T12:00:00.123Z"
        );
        assert_eq!(
            iso8601(Timestamp(951_782_400_000)),
            "2000-02-29T00:00:00.000Z"
        );
    }
}
