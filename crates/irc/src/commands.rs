//! The commands of a registered IRC client, each turned into the core's
//! requests (or answered on the spot when it asks nothing of the core:
//! CAP, MOTD, VERSION). Every check (membership, roles, mutes, bans,
//! flood control, limits) is the core's: nothing here refuses what the
//! core would decide.

use chinwag_proto::request::{
    Admin, Bantalk, Broadcast, GetAllUser, History, Kickout, Logout, Redact, SendOptions, Shutdown,
    ShutdownScope, Target, Transfer, Unmute, UserMode, Whowas,
};
use chinwag_proto::room::{
    Invite, Join, MaskAction, MaskList, Members, Part, RoomKick, RoomLimit, RoomMask, RoomMute,
    RoomSend, RoomUnmute, RoomVoice, Topic,
};
use chinwag_proto::server::user_flags;
use chinwag_proto::{Request, RoomRequest};

use crate::conn::{Irc, Pending};
use crate::line::Message;

/// The changes to a room's mode flags one MODE line asks for, made as
/// one ROOM_MODE (so that `+int` is one change, echoed as one line).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModeChange {
    /// Flags to set and to clear ([`RoomMode`](chinwag_proto::room::RoomMode)
    /// bits).
    pub set: u8,
    pub clear: u8,
    /// `+k key` (`Some(Some)`), `-k` (`Some(None)`).
    pub key: Option<Option<String>>,
}

impl ModeChange {
    fn is_empty(&self) -> bool {
        self.set == 0 && self.clear == 0 && self.key.is_none()
    }
}

/// The channel mode letter of each room mode flag that takes no
/// parameter.
pub const FLAG_LETTERS: [(char, u8); 5] = [
    ('i', chinwag_proto::room::RoomMode::INVITE_ONLY),
    ('m', chinwag_proto::room::RoomMode::MODERATED),
    ('n', chinwag_proto::room::RoomMode::NO_EXTERNAL),
    ('s', chinwag_proto::room::RoomMode::SECRET),
    ('t', chinwag_proto::room::RoomMode::TOPIC_LOCK),
];

/// The mask list a list mode letter (and its argument) names, and the
/// mask without its extban prefix: `+b m:mask` is a mute mask, `+e
/// m:mask` a mute exception.
pub fn mask_list(letter: char, arg: &str) -> Option<(MaskList, String)> {
    let (muting, mask) = match arg.strip_prefix("m:") {
        Some(mask) => (true, mask),
        None => (false, arg),
    };
    let list = match (letter, muting) {
        ('b', false) => MaskList::Ban,
        ('b', true) => MaskList::Mute,
        ('e', false) => MaskList::BanException,
        ('e', true) => MaskList::MuteException,
        ('I', false) => MaskList::InviteException,
        _ => return None,
    };
    Some((list, mask.to_owned()))
}

/// The mode letter and the extban prefix a mask list is shown with.
pub fn list_letter(list: MaskList) -> (char, &'static str) {
    match list {
        MaskList::Ban => ('b', ""),
        MaskList::Mute => ('b', "m:"),
        MaskList::BanException => ('e', ""),
        MaskList::MuteException => ('e', "m:"),
        MaskList::InviteException => ('I', ""),
    }
}

/// Most nicks on one connection's MONITOR list.
pub const MAX_MONITOR: usize = 100;

impl Irc {
    pub(crate) fn registered_command(&mut self, m: Message) {
        let size = m.params.iter().map(String::len).sum::<usize>() + m.command.len();
        match m.command.as_str() {
            "PRIVMSG" | "NOTICE" | "TAGMSG" => self.message(&m, size),
            "REDACT" => self.redact(&m, size),
            "JOIN" => self.join(&m),
            "PART" => self.part(&m),
            "TOPIC" => self.topic(&m),
            "NAMES" => self.names(&m),
            "LIST" => {
                let filter = split(m.param(0));
                self.ask(
                    room(RoomRequest::List { src: "".into() }),
                    Pending::List { filter },
                    0,
                );
            }
            "WHO" => self.who(&m),
            "WHOIS" => {
                // `WHOIS server nick` names a server first.
                let nick = m.params.last().cloned().unwrap_or_default();
                if nick.is_empty() {
                    self.numeric("431", &["No nickname given"]);
                } else {
                    self.ask(one_user(&nick), Pending::Whois { nick }, 0);
                }
            }
            "LUSERS" => self.ask(all_users(), Pending::Lusers, 0),
            "MOTD" => self.motd(),
            "VERSION" => self.version(),
            "PING" => {
                let token = m.param(0).to_owned();
                if m.params.is_empty() {
                    self.numeric("409", &["No origin specified"]);
                } else {
                    self.ask(Request::Ping, Pending::Ping { token }, 0);
                }
            }
            "PONG" => {}
            "QUIT" => {
                let reason = m.param(0);
                let text = if reason.is_empty() {
                    "Closing link (quit)".to_owned()
                } else {
                    format!("Closing link (quit: {reason})")
                };
                self.error(&text);
                let request = Request::Logout(Logout {
                    src: "".into(),
                    reason: reason.into(),
                });
                self.ask(request, Pending::Quit, 0);
            }
            "OPER" => {
                if m.params.len() < 2 {
                    self.numeric("461", &["OPER", "Not enough parameters"]);
                } else {
                    let password = m.param(1).into();
                    self.ask(
                        Request::Admin(Admin {
                            src: "".into(),
                            password,
                        }),
                        Pending::Oper,
                        size,
                    );
                }
            }
            "KILL" => {
                if m.params.is_empty() {
                    self.numeric("461", &["KILL", "Not enough parameters"]);
                } else {
                    let nick = m.param(0).to_owned();
                    let request = Request::Kickout(Kickout {
                        src: "".into(),
                        dst: nick.as_str().into(),
                        reason: m.param(1).into(),
                    });
                    self.ask(request, Pending::Kill { nick }, size);
                }
            }
            "DIE" => {
                let request = Request::Shutdown(Shutdown {
                    src: "".into(),
                    scope: ShutdownScope::Node,
                    reason: m.param(0).into(),
                });
                self.ask(request, Pending::Die, size);
            }
            "MUTE" | "BANTALK" => self.mute(&m, size),
            "UNMUTE" => {
                let target = m.param(0).to_owned();
                let request = Request::Unmute(Unmute {
                    src: "".into(),
                    dst: target.as_str().into(),
                });
                self.ask(request, Pending::Mute { target }, size);
            }
            "KICK" => {
                if m.params.len() < 2 {
                    self.numeric("461", &["KICK", "Not enough parameters"]);
                    return;
                }
                // IRC's default comment is the kicker's nick.
                let reason = match m.param(2) {
                    "" => self.nick().to_owned(),
                    reason => reason.to_owned(),
                };
                // One channel for every nick, or a channel per nick.
                let channels = split(m.param(0));
                let nicks = split(m.param(1));
                if channels.len() != 1 && channels.len() != nicks.len() {
                    self.numeric("461", &["KICK", "Give one channel, or one per nick"]);
                    return;
                }
                for (i, nick) in nicks.into_iter().enumerate() {
                    let channel = channels.get(i).unwrap_or(&channels[0]).clone();
                    let request = room(RoomRequest::Kick(RoomKick {
                        src: "".into(),
                        room: channel.as_str().into(),
                        user: nick.as_str().into(),
                        reason: reason.as_str().into(),
                    }));
                    self.ask(request, Pending::Kick { channel, nick }, size);
                }
            }
            "INVITE" if m.params.is_empty() => {
                // The rooms this user is invited to (the core's list says).
                let request = room(RoomRequest::List { src: "".into() });
                self.ask(request, Pending::InviteList, 0);
            }
            "INVITE" => {
                if m.params.len() < 2 {
                    self.numeric("461", &["INVITE", "Not enough parameters"]);
                    return;
                }
                let (nick, channel) = (m.param(0).to_owned(), m.param(1).to_owned());
                let request = room(RoomRequest::Invite(Invite {
                    src: "".into(),
                    room: channel.as_str().into(),
                    user: nick.as_str().into(),
                }));
                self.ask(request, Pending::Invite { channel, nick }, 0);
            }
            "MODE" => self.mode(&m),
            "CAP" => self.cap(&m),
            "NICK" => {
                let nick = m.param(0).to_owned();
                if nick.is_empty() {
                    self.numeric("431", &["No nickname given"]);
                } else if nick != self.nick() {
                    let request = Request::Nick(Target {
                        src: "".into(),
                        dst: nick.as_str().into(),
                    });
                    self.ask(request, Pending::Nick { nick }, size);
                }
            }
            "SETNAME" => {
                let realname = m.param(0).to_owned();
                if realname.is_empty() {
                    self.fail("SETNAME", "INVALID_REALNAME", "", "Realname is not valid");
                } else {
                    let request = Request::Profile(chinwag_proto::request::Profile {
                        src: "".into(),
                        username: self.username.as_str().into(),
                        realname: realname.as_str().into(),
                        away: self.away.as_str().into(),
                    });
                    self.ask(request, Pending::Setname { realname }, size);
                }
            }
            "USER" | "PASS" => self.numeric("462", &["You may not reregister"]),
            "AUTHENTICATE" => self.numeric("907", &["You have already authenticated"]),
            "CHATHISTORY" => self.chathistory(&m),
            "INFO" => {
                self.numeric("371", &[&format!("chinwag {}", env!("CARGO_PKG_VERSION"))]);
                self.numeric(
                    "371",
                    &["A chat server with accounts, rooms and durable history"],
                );
                self.numeric("374", &["End of INFO list"]);
            }
            "TIME" => {
                let server = self.server.clone();
                let now = crate::conn::iso8601(chinwag_proto::server::Timestamp::now());
                self.numeric("391", &[&server, &now]);
            }
            "WHOWAS" => {
                let nick = m.param(0).to_owned();
                if nick.is_empty() {
                    self.numeric("431", &["No nickname given"]);
                } else {
                    // A count of 0 or less (or none): every entry kept.
                    let limit = m
                        .param(1)
                        .parse::<i64>()
                        .map_or(0, |n| n.clamp(0, i64::from(u16::MAX)) as u16);
                    let request = Request::Whowas(Whowas {
                        src: "".into(),
                        dst: nick.as_str().into(),
                        limit,
                    });
                    self.ask(request, Pending::Whowas { nick }, 0);
                }
            }
            "AWAY" => self.set_profile(Some(m.param(0).to_owned())),
            "MARKREAD" => self.markread(&m),
            "METADATA" => self.metadata(&m),
            "HELP" | "HELPOP" => self.help(&m),
            "LINKS" => self.links(),
            "MONITOR" => self.monitor(&m),
            "USERHOST" => {
                let nicks: Vec<String> = m.params.iter().take(5).cloned().collect();
                if nicks.is_empty() {
                    self.numeric("461", &["USERHOST", "Not enough parameters"]);
                } else {
                    self.ask(all_users(), Pending::Userhost { nicks }, 0);
                }
            }
            "ISON" | "ADMIN" | "STATS" | "WALLOPS" | "KNOCK" | "USERS" | "SUMMON" | "REHASH"
            | "RESTART" | "SQUIT" | "CONNECT" | "TRACE" | "SERVLIST" | "SQUERY" => {
                let command = m.command.clone();
                self.numeric(
                    "421",
                    &[&command, "Unknown command (chinwag does not offer it)"],
                );
            }
            _ => {
                let command = m.command.clone();
                self.numeric("421", &[&command, "Unknown command"]);
            }
        }
    }

    /// PRIVMSG, NOTICE and TAGMSG: one chinwag message each (a NOTICE is
    /// one of kind notice, a TAGMSG one of client tags alone).
    fn message(&mut self, m: &Message, size: usize) {
        let command: &'static str = match m.command.as_str() {
            "NOTICE" => "NOTICE",
            "TAGMSG" => "TAGMSG",
            _ => "PRIVMSG",
        };
        // Automatic replies are never sent in answer to a NOTICE.
        let quiet = command == "NOTICE";
        let tagmsg = command == "TAGMSG";
        if m.params.is_empty() || m.param(0).is_empty() {
            if !quiet {
                self.numeric("411", &[&format!("No recipient given ({command})")]);
            }
            return;
        }
        let tags = client_tags(m);
        let text = if tagmsg {
            if tags.is_empty() {
                // Nothing to relay.
                return;
            }
            String::new()
        } else {
            if m.params.len() < 2 || m.param(1).is_empty() {
                if !quiet {
                    self.numeric("412", &["No text to send"]);
                }
                return;
            }
            match to_chinwag_text(m.param(1)) {
                Some(text) => text,
                None => {
                    if !quiet {
                        let target = m.param(0).to_owned();
                        self.fail(
                            command,
                            "UNSUPPORTED_CTCP",
                            &target,
                            "chinwag carries no CTCP but ACTION",
                        );
                    }
                    return;
                }
            }
        };
        let options = SendOptions {
            notice: quiet,
            tags: tags.as_str().into(),
        };
        // Relayed with the sender's mask in front, the line must still fit
        // IRC's 512 bytes: refused whole (ERR_INPUTTOOLONG), never cut.
        // `:nick!nick@chinwag COMMAND target :text` and CR LF, counted
        // rather than written out.
        let me = self.nick().len();
        let fixed =
            1 + 2 * me + "!@chinwag ".len() + m.command.len() + 1 + 2 + m.param(1).len() + 2;
        let longest = m
            .param(0)
            .split(',')
            .map(|target| fixed + target.len())
            .max()
            .unwrap_or_default();
        if longest > crate::line::MAX_BODY {
            self.numeric("417", &["Input line was too long"]);
            return;
        }
        // One buffer for every target (a ByteString clone shares it).
        let text: chinwag_proto::ByteString = text.into();
        // The text is kept for the answer only to echo it (echo-message).
        let echoed = if self.caps.has(crate::caps::Cap::EchoMessage) {
            m.param(1)
        } else {
            ""
        };
        for target in split(m.param(0)) {
            let request = if target == "$*" || target == "$$*" {
                Request::Broadcast(Broadcast {
                    src: "".into(),
                    content: text.clone(),
                    options: options.clone(),
                })
            } else if let Some(channel) = target.strip_prefix('@').filter(|t| t.starts_with('#')) {
                // STATUSMSG: to the channel's operators only.
                room(RoomRequest::SendOps(RoomSend {
                    src: "".into(),
                    room: channel.into(),
                    content: text.clone(),
                    options: options.clone(),
                }))
            } else if target.starts_with('#') {
                room(RoomRequest::Send(RoomSend {
                    src: "".into(),
                    room: target.as_str().into(),
                    content: text.clone(),
                    options: options.clone(),
                }))
            } else {
                Request::Transfer(Transfer {
                    src: "".into(),
                    dst: target.as_str().into(),
                    content: text.clone(),
                    options: options.clone(),
                })
            };
            let pending = Pending::Message {
                target,
                text: echoed.to_owned(),
                command,
                tags: tags.clone(),
            };
            self.ask(request, pending, size);
        }
    }

    /// `REDACT target msgid [:reason]` (draft/message-redaction): the
    /// core's REDACT. A msgid that is not one of chinwag's (a number) names
    /// no message: the core is asked about id 0, which is none, so that
    /// it still judges the target first.
    fn redact(&mut self, m: &Message, size: usize) {
        if m.params.len() < 2 {
            self.fail(
                "REDACT",
                "NEED_MORE_PARAMS",
                "",
                "REDACT target msgid [:reason]",
            );
            return;
        }
        let (target, msgid, reason) = (m.param(0), m.param(1), m.param(2));
        let dst = match target {
            "$*" | "$$*" => chinwag_proto::request::BROADCAST_CONVERSATION,
            target => target,
        };
        let request = Request::Redact(Redact {
            src: "".into(),
            dst: dst.into(),
            id: msgid.parse().unwrap_or(0),
            reason: reason.into(),
        });
        let pending = Pending::Redact {
            target: target.to_owned(),
            msgid: msgid.to_owned(),
            reason: reason.to_owned(),
        };
        self.ask(request, pending, size);
    }

    fn join(&mut self, m: &Message) {
        if m.params.is_empty() {
            self.numeric("461", &["JOIN", "Not enough parameters"]);
            return;
        }
        let keys = split(m.param(1));
        for (i, channel) in split(m.param(0)).into_iter().enumerate() {
            let request = room(RoomRequest::Join(Join {
                src: "".into(),
                room: channel.as_str().into(),
                password: keys.get(i).map_or("", String::as_str).into(),
            }));
            self.ask(request, Pending::Join { channel }, 0);
        }
    }

    fn part(&mut self, m: &Message) {
        if m.params.is_empty() {
            self.numeric("461", &["PART", "Not enough parameters"]);
            return;
        }
        for channel in split(m.param(0)) {
            let request = room(RoomRequest::Part(Part {
                src: "".into(),
                room: channel.as_str().into(),
                reason: m.param(1).into(),
            }));
            let reason = m.param(1).to_owned();
            self.ask(request, Pending::Part { channel, reason }, 0);
        }
    }

    fn topic(&mut self, m: &Message) {
        if m.params.is_empty() {
            self.numeric("461", &["TOPIC", "Not enough parameters"]);
            return;
        }
        let channel = m.param(0).to_owned();
        if m.params.len() < 2 {
            // Members first: a non-member of an invite-only room learns
            // nothing.
            let request = room(RoomRequest::List { src: "".into() });
            self.ask(request, Pending::TopicQuery { channel }, 0);
            return;
        }
        let request = room(RoomRequest::Topic(Topic {
            src: "".into(),
            room: channel.as_str().into(),
            topic: m.param(1).into(),
        }));
        self.ask(request, Pending::TopicSet { channel }, m.param(1).len());
    }

    fn names(&mut self, m: &Message) {
        let channels = split(m.param(0));
        if channels.is_empty() {
            let nick = self.nick().to_owned();
            self.numeric("366", &[&nick, "*", "End of /NAMES list"]);
            let _ = nick;
            return;
        }
        // `NAMES #a,#b`: the names of each, then one 366 for the list.
        let all = channels.join(",");
        let last = channels.len() - 1;
        for (i, channel) in channels.iter().enumerate() {
            let end = (i == last).then(|| all.clone());
            self.ask_names_ending(channel, true, end);
        }
    }

    pub(crate) fn ask_names(&mut self, channel: &str, quiet_errors: bool) {
        self.ask_names_ending(channel, quiet_errors, Some(channel.to_owned()));
    }

    /// NAMES of one channel; `end`: what the `366` after it names (none
    /// when another channel of the same NAMES follows).
    fn ask_names_ending(&mut self, channel: &str, quiet_errors: bool, end: Option<String>) {
        let request = room(RoomRequest::Members(Members {
            src: "".into(),
            room: channel.into(),
        }));
        let channel = channel.to_owned();
        self.ask(
            request,
            Pending::Names {
                channel,
                quiet_errors,
                end,
            },
            0,
        );
    }

    fn who(&mut self, m: &Message) {
        let mask = m.param(0).to_owned();
        let whox = m.param(1).strip_prefix('%').map(|fields| {
            let (fields, token) = fields.split_once(',').unwrap_or((fields, ""));
            (fields.to_owned(), token.to_owned())
        });
        let who = crate::conn::Who { mask, whox };
        if !who.mask.starts_with('#')
            && !who.mask.is_empty()
            && who.mask != "0"
            && !who.mask.contains(['*', '?'])
        {
            // A nick, not a mask: that user, invisible or not.
            let request = one_user(&who.mask);
            self.ask(request, Pending::WhoUsers { who }, 0);
        } else if who.mask.starts_with('#') {
            let request = room(RoomRequest::Members(Members {
                src: "".into(),
                room: who.mask.as_str().into(),
            }));
            self.ask(request, Pending::WhoChannel { who }, 0);
        } else {
            self.ask(all_users(), Pending::WhoUsers { who }, 0);
        }
    }

    /// `MONITOR +|-|C|L|S [targets]`: presence of nicks, from the core's
    /// presence notices and user list.
    fn monitor(&mut self, m: &Message) {
        match m.param(0) {
            "+" => {
                let mut added = Vec::new();
                for nick in split(m.param(1)) {
                    let Some(key) = chinwag_proto::NameKey::fold(&nick) else {
                        self.numeric("432", &[&nick, "Erroneous nickname"]);
                        continue;
                    };
                    if self.monitor.len() >= MAX_MONITOR && !self.monitor.contains_key(&key) {
                        let max = MAX_MONITOR.to_string();
                        self.numeric("734", &[&max, &nick, "Monitor list is full"]);
                        break;
                    }
                    self.monitor.insert(key, nick.clone());
                    added.push(nick);
                }
                if !added.is_empty() {
                    self.ask(all_users(), Pending::Monitor { nicks: added }, 0);
                }
            }
            "-" => {
                for nick in split(m.param(1)) {
                    if let Some(key) = chinwag_proto::NameKey::fold(&nick) {
                        self.monitor.remove(&key);
                    }
                }
            }
            "C" | "c" => self.monitor.clear(),
            "L" | "l" => {
                let mut nicks: Vec<String> = self.monitor.values().cloned().collect();
                nicks.sort();
                for chunk in nicks.chunks(20) {
                    self.numeric("732", &[&chunk.join(",")]);
                }
                self.numeric("733", &["End of MONITOR list"]);
            }
            "S" | "s" => {
                let nicks = self.monitor.values().cloned().collect();
                self.ask(all_users(), Pending::Monitor { nicks }, 0);
            }
            _ => self.numeric("461", &["MONITOR", "Not enough parameters"]),
        }
    }

    /// `MUTE nick [seconds] [:reason]`, server-wide (administrators).
    fn mute(&mut self, m: &Message, size: usize) {
        if m.params.is_empty() {
            self.numeric("461", &[&m.command, "Not enough parameters"]);
            return;
        }
        let target = m.param(0).to_owned();
        let (duration_secs, reason) = match m.param(1).parse::<u32>() {
            Ok(secs) => (secs, m.param(2)),
            Err(_) => (0, m.param(1)),
        };
        let request = Request::Bantalk(Bantalk {
            src: "".into(),
            dst: target.as_str().into(),
            duration_secs,
            reason: reason.into(),
        });
        self.ask(request, Pending::Mute { target }, size);
    }

    fn mode(&mut self, m: &Message) {
        let target = m.param(0).to_owned();
        if target.is_empty() {
            self.numeric("461", &["MODE", "Not enough parameters"]);
            return;
        }
        if !target.starts_with('#') {
            let me = self.nick().to_owned();
            if !target.eq_ignore_ascii_case(&me) {
                self.numeric("502", &["Can't change mode for other users"]);
            } else if m.params.len() < 2 {
                let modes = self.user_modes();
                self.numeric("221", &[&modes]);
            } else {
                self.user_mode(m.param(1));
            }
            return;
        }
        if m.params.len() < 2 {
            let request = room(RoomRequest::List { src: "".into() });
            self.ask(request, Pending::ChannelModeQuery { channel: target }, 0);
            return;
        }
        let mut adding = true;
        let mut args = m.params[2..].iter();
        let mut flags = ModeChange::default();
        for c in m.param(1).chars() {
            let sign = if adding { '+' } else { '-' };
            match c {
                '+' => adding = true,
                '-' => adding = false,
                c if FLAG_LETTERS.iter().any(|(l, _)| *l == c) => {
                    let bit = FLAG_LETTERS
                        .iter()
                        .find(|(l, _)| *l == c)
                        .map_or(0, |f| f.1);
                    if adding {
                        flags.set |= bit;
                        flags.clear &= !bit;
                    } else {
                        flags.clear |= bit;
                        flags.set &= !bit;
                    }
                }
                'k' => {
                    let key = if adding {
                        args.next().cloned()
                    } else {
                        // `-k` may name the key; it is not needed.
                        args.next();
                        None
                    };
                    // A key is one JOIN parameter: no spaces, not empty.
                    if key
                        .as_deref()
                        .is_some_and(|k| k.is_empty() || k.contains(' '))
                    {
                        let why = "A key is one word: no spaces, not empty";
                        self.numeric("696", &[&target, "k", "*", why]);
                        continue;
                    }
                    if adding && key.is_none() {
                        self.numeric(
                            "696",
                            &[
                                &target,
                                "k",
                                "*",
                                "You must specify a parameter for the key mode",
                            ],
                        );
                        continue;
                    }
                    flags.key = Some(key);
                }
                'l' => {
                    let limit = if adding {
                        let arg = args.next().map(String::as_str).unwrap_or("");
                        match arg.parse::<u32>() {
                            Ok(n) if n > 0 => n,
                            _ => {
                                let why = "The limit must be a whole number above 0";
                                self.numeric("696", &[&target, "l", arg, why]);
                                continue;
                            }
                        }
                    } else {
                        0
                    };
                    let request = room(RoomRequest::Limit(RoomLimit {
                        src: "".into(),
                        room: target.as_str().into(),
                        limit,
                    }));
                    // The members, this session too, are told by the core.
                    let pending = Pending::Mode {
                        channel: target.clone(),
                        text: format!("{sign}l"),
                        echo: false,
                        nick: String::new(),
                    };
                    self.ask(request, pending, 0);
                }
                'o' | 'v' => match args.next() {
                    Some(nick) => {
                        let request = if c == 'o' {
                            room(RoomRequest::Op(chinwag_proto::room::RoomOp {
                                src: "".into(),
                                room: target.as_str().into(),
                                user: nick.as_str().into(),
                                operator: adding,
                            }))
                        } else {
                            room(RoomRequest::Voice(RoomVoice {
                                src: "".into(),
                                room: target.as_str().into(),
                                user: nick.as_str().into(),
                                voiced: adding,
                            }))
                        };
                        // The members, this session too, are told by the core.
                        let pending = Pending::Mode {
                            channel: target.clone(),
                            text: format!("{sign}{c} {nick}"),
                            echo: false,
                            nick: nick.clone(),
                        };
                        self.ask(request, pending, 0);
                    }
                    None => {
                        let letter = c.to_string();
                        self.numeric("696", &[&target, &letter, "*", "You must specify a nick"])
                    }
                },
                'q' => match args.next() {
                    Some(nick) => {
                        let request = if adding {
                            room(RoomRequest::Mute(RoomMute {
                                src: "".into(),
                                room: target.as_str().into(),
                                user: nick.as_str().into(),
                                duration_secs: 0,
                                reason: "".into(),
                            }))
                        } else {
                            room(RoomRequest::Unmute(RoomUnmute {
                                src: "".into(),
                                room: target.as_str().into(),
                                user: nick.as_str().into(),
                            }))
                        };
                        let text = format!("{sign}q {nick}");
                        // Only the muted member is told by the core.
                        let pending = Pending::Mode {
                            channel: target.clone(),
                            text,
                            echo: true,
                            nick: nick.clone(),
                        };
                        self.ask(request, pending, 0);
                    }
                    // The list of quieted members is the member list's.
                    None => {
                        let channel = target.clone();
                        self.numeric("728", &[&channel, "q", "End of channel quiet list"]);
                    }
                },
                'b' | 'e' | 'I' => match args.next() {
                    Some(arg) => {
                        let Some((list, mask)) = mask_list(c, arg) else {
                            let letter = c.to_string();
                            let why = "Unknown extban (only m: is offered)";
                            self.numeric("696", &[&target, &letter, arg, why]);
                            continue;
                        };
                        let request = room(RoomRequest::Mask(RoomMask {
                            src: "".into(),
                            room: target.as_str().into(),
                            list,
                            action: if adding {
                                MaskAction::Add
                            } else {
                                MaskAction::Remove
                            },
                            mask: mask.as_str().into(),
                        }));
                        // The members, this session too, are told by the core.
                        let pending = Pending::Mode {
                            channel: target.clone(),
                            text: format!("{sign}{c} {arg}"),
                            echo: false,
                            nick: String::new(),
                        };
                        self.ask(request, pending, 0);
                    }
                    None => {
                        let lists: &[MaskList] = match c {
                            'b' => &[MaskList::Ban, MaskList::Mute],
                            'e' => &[MaskList::BanException, MaskList::MuteException],
                            _ => &[MaskList::InviteException],
                        };
                        let count = lists.len();
                        for (i, list) in lists.iter().enumerate() {
                            let request = room(RoomRequest::Mask(RoomMask {
                                src: "".into(),
                                room: target.as_str().into(),
                                list: *list,
                                action: MaskAction::List,
                                mask: "".into(),
                            }));
                            let pending = Pending::MaskList {
                                channel: target.clone(),
                                letter: c,
                                last: i + 1 == count,
                            };
                            self.ask(request, pending, 0);
                        }
                    }
                },
                other => {
                    let flag = other.to_string();
                    self.numeric("472", &[&flag, "is an unknown mode char to me"]);
                }
            }
        }
        if !flags.is_empty() {
            self.mode_lookup(&target, flags);
        }
    }

    /// `MODE me +B-i...`: the bot and invisible flags are the core's;
    /// other letters are refused (`o` comes with OPER).
    fn user_mode(&mut self, change: &str) {
        let (mut set, mut clear, mut adding) = (0u8, 0u8, true);
        for c in change.chars() {
            let flag = match c {
                '+' => {
                    adding = true;
                    continue;
                }
                '-' => {
                    adding = false;
                    continue;
                }
                'B' => user_flags::BOT,
                'i' => user_flags::INVISIBLE,
                _ => {
                    self.numeric(
                        "501",
                        &["Unknown MODE flag (chinwag's user modes are B and i)"],
                    );
                    continue;
                }
            };
            if adding {
                set |= flag;
                clear &= !flag;
            } else {
                clear |= flag;
                set &= !flag;
            }
        }
        if set != 0 || clear != 0 {
            let request = Request::UserMode(UserMode {
                src: "".into(),
                set,
                clear,
            });
            self.ask(request, Pending::UserMode, 0);
        }
    }

    /// This user's modes, as 221 shows them.
    pub(crate) fn user_modes(&self) -> String {
        let mut modes = String::from("+");
        for (flag, letter) in [(user_flags::BOT, 'B'), (user_flags::INVISIBLE, 'i')] {
            if self.umodes & flag != 0 {
                modes.push(letter);
            }
        }
        modes
    }

    /// A change of the room's mode byte: the current mode first.
    fn mode_lookup(&mut self, channel: &str, change: ModeChange) {
        let request = room(RoomRequest::List { src: "".into() });
        let channel = channel.to_owned();
        self.ask(request, Pending::ChannelModeSet { channel, change }, 0);
    }

    /// `CHATHISTORY LATEST|BEFORE|AFTER target ref limit` over chinwag's
    /// history (message ids as `msgid=`).
    fn chathistory(&mut self, m: &Message) {
        let sub = m.param(0).to_ascii_uppercase();
        let target = m.param(1).to_owned();
        let limit: u16 = m
            .params
            .last()
            .and_then(|l| l.parse().ok())
            .unwrap_or(50)
            .min(100);
        let bound = |r: &str| -> Option<u64> {
            if r == "*" {
                Some(0)
            } else {
                r.strip_prefix("msgid=").and_then(|id| id.parse().ok())
            }
        };
        let (before, after) = match sub.as_str() {
            "LATEST" => (0, bound(m.param(2)).unwrap_or(0)),
            "BEFORE" => (bound(m.param(2)).unwrap_or(0), 0),
            "AFTER" => (0, bound(m.param(2)).unwrap_or(0)),
            _ => {
                self.fail(
                    "CHATHISTORY",
                    "INVALID_PARAMS",
                    &sub,
                    "LATEST, BEFORE and AFTER are supported",
                );
                return;
            }
        };
        if target.is_empty() {
            self.fail("CHATHISTORY", "INVALID_PARAMS", &sub, "Missing target");
            return;
        }
        let request = Request::History(History {
            src: "".into(),
            dst: target.as_str().into(),
            before,
            after,
            limit,
        });
        self.ask(request, Pending::History { target }, 0);
    }

    /// A standard reply `FAIL command code [context] :text`.
    pub(crate) fn fail(&mut self, command: &str, code: &str, context: &str, text: &str) {
        if context.is_empty() {
            self.server_line("FAIL", &[command, code, text]);
        } else {
            self.server_line("FAIL", &[command, code, context, text]);
        }
    }

    /// `FAIL command code context... :text`, with several context params.
    pub(crate) fn fail_params(&mut self, command: &str, code: &str, context: &[&str], text: &str) {
        let mut params = vec![command, code];
        params.extend_from_slice(context);
        params.push(text);
        self.server_line("FAIL", &params);
    }
}

fn room(request: RoomRequest) -> Request {
    Request::Room(request)
}

fn all_users() -> Request {
    Request::GetAllUser(GetAllUser { src: "".into() })
}

/// WHOIS of the core: one user by name.
fn one_user(nick: &str) -> Request {
    Request::Whois(Target {
        src: "".into(),
        dst: nick.into(),
    })
}

/// A comma-separated list, without empty items.
/// A line's client-only tags (`+key[=value]`), in the core's form: IRC's
/// own escaped form, joined by `;` (protocol.md 2.5); empty if none.
/// Other tags (`label`, a server tag a client made up) are not relayed.
fn client_tags(m: &Message) -> String {
    // A key given twice: the last value counts.
    let mut tags: Vec<(&str, Option<&str>)> = Vec::new();
    for (key, value) in m.tags.iter().filter(|(k, _)| k.starts_with('+')) {
        let value = value.as_deref().filter(|v| !v.is_empty());
        match tags.iter_mut().find(|(k, _)| k == key) {
            Some(tag) => tag.1 = value,
            None => tags.push((key, value)),
        }
    }
    let mut out = String::new();
    for (key, value) in tags {
        if !out.is_empty() {
            out.push(';');
        }
        out.push_str(key);
        if let Some(value) = value {
            out.push('=');
            crate::line::escape(value, &mut out);
        }
    }
    out
}

pub(crate) fn split(list: &str) -> Vec<String> {
    list.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The text chinwag keeps for an IRC message. A CTCP ACTION (`/me
/// waves`) is chinwag's action form already (protocol.md 2.4): it stays
/// one, every front end showing it as an action. IRC formatting codes
/// (bold, colours, ...), which chinwag refuses as control characters, are
/// taken out. Any other CTCP has no chinwag form: `None`.
pub fn to_chinwag_text(text: &str) -> Option<String> {
    Some(match text.strip_prefix('\u{1}') {
        Some(ctcp) => {
            let ctcp = ctcp.strip_suffix('\u{1}').unwrap_or(ctcp);
            chinwag_proto::text::action(&strip_formatting(ctcp.strip_prefix("ACTION ")?))
        }
        None => strip_formatting(text),
    })
}

fn strip_formatting(text: &str) -> String {
    const CODES: &[u8] = &[0x02, 0x03, 0x0f, 0x11, 0x16, 0x1d, 0x1e, 0x1f];
    // Most text has no formatting: one pass over the bytes, one copy.
    if !text.bytes().any(|b| CODES.contains(&b)) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{2}' | '\u{f}' | '\u{11}' | '\u{16}' | '\u{1d}' | '\u{1e}' | '\u{1f}' => {}
            '\u{3}' => {
                // Colour: up to two digits, then optionally ",NN".
                for _ in 0..2 {
                    if chars.peek().is_some_and(char::is_ascii_digit) {
                        chars.next();
                    }
                }
                let mut look = chars.clone();
                if look.next() == Some(',') && look.peek().is_some_and(char::is_ascii_digit) {
                    chars.next();
                    for _ in 0..2 {
                        if chars.peek().is_some_and(char::is_ascii_digit) {
                            chars.next();
                        }
                    }
                }
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_and_formatting() {
        assert_eq!(
            to_chinwag_text("\u{1}ACTION \u{2}waves\u{2}\u{1}").as_deref(),
            Some("\u{1}ACTION waves\u{1}")
        );
        // Unterminated, as some clients send it: the same action.
        assert_eq!(
            to_chinwag_text("\u{1}ACTION waves").as_deref(),
            Some("\u{1}ACTION waves\u{1}")
        );
        // A native user's literal "/me" is text, not an action.
        assert_eq!(to_chinwag_text("/me waves").as_deref(), Some("/me waves"));
        assert_eq!(to_chinwag_text("\u{1}VERSION\u{1}"), None);
        assert_eq!(
            to_chinwag_text("\u{2}bold\u{2} \u{3}04,12red\u{3} x").as_deref(),
            Some("bold red x")
        );
        assert_eq!(split("#a,,#b"), vec!["#a", "#b"]);
    }
}
