//! The core's replies and events as IRC lines: numerics for the answers,
//! and messages, joins, parts, kicks, topics and modes for the events.

use chinwag_core::cmd::{CmdError, Reply};
use chinwag_core::event::Shared;
use chinwag_core::session::Leave;
use chinwag_proto::room::{MemberInfo, RoomInfo, RoomMode, SetRoomMode};
use chinwag_proto::server::{
    Message, MessageKind, Notice, NoticeKind, Redacted, Role, UserInfo, UserUpdate, user_changed,
    user_flags,
};
use chinwag_proto::{ErrorCode, NameKey, Request, RoomKey, RoomRequest, RoomRole, ServerFrame};

use crate::caps::Cap;
use crate::conn::{Irc, Pending, Who, push_params, push_text};
use crate::line::LineError;

/// What 004 and ISUPPORT say about channel modes: the lists `b` (bans,
/// and mute masks as the extban `m:`), `e` (exceptions), `I` (invite
/// exceptions) and `q` (quiet: a room mute, by nick); `k` a key; `l` a
/// limit; the flags `i m n s t`. `o` and `v` are the prefixes.
const CHANMODES: &str = "CHANMODES=beIq,k,l,imnst";

impl Irc {
    pub(crate) fn render_reply(&mut self, pending: Pending, reply: Reply) {
        let frame = match reply {
            Ok(frame) => frame,
            Err(error) => return self.render_error(pending, error),
        };
        match (pending, frame) {
            (Pending::Register { sasl }, ServerFrame::Registered(r)) => {
                let account = sasl || self.reg.pass.as_deref().is_some_and(|p| !p.is_empty());
                self.registered(&r.name, sasl, account);
            }
            (Pending::Nick { .. }, ServerFrame::Registered(r)) => {
                let old = self.nick().to_owned();
                if old != *r.name {
                    let mask = self.mask(&old);
                    self.out.line(format!(":{mask} NICK :{}", r.name));
                    self.renamed(&old, &r.name);
                    self.me = Some(r.name.to_string());
                }
            }
            (Pending::Setname { realname }, _) => {
                self.realname = realname.clone();
                if self.caps.has(Cap::Setname) {
                    let me = self.nick().to_owned();
                    let mut line = format!(":{} SETNAME", self.mask(&me));
                    push_params(&mut line, &[&realname]);
                    self.out.line(line);
                }
            }
            (Pending::UserMode, ServerFrame::UserList(users)) => {
                let now = users.first().map_or(self.umodes, |u| u.flags)
                    & chinwag_proto::server::user_flags::SETTABLE;
                let change = flag_change_letters(self.umodes, now);
                self.umodes = now;
                if let Some(change) = change {
                    let me = self.nick().to_owned();
                    let mut line = format!(":{} MODE", self.mask(&me));
                    push_params(&mut line, &[&me, &change]);
                    self.out.line(line);
                }
            }
            (Pending::Whowas { nick }, ServerFrame::WhowasList(entries)) => {
                if entries.is_empty() {
                    self.numeric("406", &[&nick, "There was no such nickname"]);
                }
                let server = self.server.clone();
                for entry in &entries {
                    let username = if entry.username.is_empty() {
                        &entry.name
                    } else {
                        &entry.username
                    };
                    let realname = if entry.realname.is_empty() {
                        &entry.name
                    } else {
                        &entry.realname
                    };
                    self.numeric("314", &[&entry.name, username, "chinwag", "*", realname]);
                    let when = crate::conn::iso8601(entry.gone);
                    self.numeric("312", &[&entry.name, &server, &when]);
                }
                self.numeric("369", &[&nick, "End of WHOWAS"]);
            }
            (Pending::Ping { token }, _) => {
                let server = self.server.clone();
                self.server_line("PONG", &[&server, &token]);
            }
            (
                Pending::Message {
                    target,
                    text,
                    command,
                    tags,
                },
                ServerFrame::Sent(sent),
            ) => {
                // RPL_AWAY: the core says the recipient is away (never
                // for a NOTICE: no automatic replies to one).
                if command == "PRIVMSG" && !sent.away.is_empty() {
                    self.numeric("301", &[&target, &sent.away]);
                }
                let tagmsg = command == "TAGMSG";
                if !self.caps.has(Cap::EchoMessage) || (tagmsg && !self.caps.has(Cap::MessageTags))
                {
                    return;
                }
                let prefix = self.tags_with(sent.ts, Some(sent.id), &tags);
                let mut own = self.sender_flags();
                if !self.caps.has(Cap::AccountTag) {
                    own &= !chinwag_proto::server::user_flags::ACCOUNT;
                }
                let me = self.nick().to_owned();
                let prefix = self.with_sender_tags(prefix, &me, own);
                let mut line = format!("{prefix}:{} {command}", self.mask(&me));
                if tagmsg {
                    push_params(&mut line, &[&target]);
                } else {
                    push_text(&mut line, &[&target], &text);
                }
                self.out.line(line);
            }
            (
                Pending::Redact {
                    target,
                    msgid,
                    reason,
                },
                _,
            ) if self.caps.has(Cap::MessageRedaction) => {
                // The deleting session's own REDACT, as the others get it.
                let me = self.nick().to_owned();
                let mut line = format!(":{} REDACT", self.mask(&me));
                if reason.is_empty() {
                    push_params(&mut line, &[&target, &msgid]);
                } else {
                    push_params(&mut line, &[&target, &msgid, &reason]);
                }
                self.out.line(line);
            }
            (Pending::Join { .. }, ServerFrame::RoomList(rooms)) => {
                for info in rooms {
                    self.joined(&info);
                }
            }
            (Pending::Rejoin, ServerFrame::RoomList(rooms)) => {
                for info in rooms.iter().filter(|r| r.role != RoomRole::None) {
                    self.joined(info);
                }
            }
            (Pending::Names { end, .. }, ServerFrame::MemberList { room, members }) => {
                self.names_reply(&room, &members);
                if let Some(end) = end {
                    let end = if end.contains(',') {
                        end
                    } else {
                        room.to_string()
                    };
                    self.numeric("366", &[&end, "End of /NAMES list"]);
                }
            }
            (Pending::Part { channel, reason }, _) => {
                let me = self.nick().to_owned();
                let mut line = format!(":{} PART", self.mask(&me));
                if reason.is_empty() {
                    push_params(&mut line, &[&channel]);
                } else {
                    push_params(&mut line, &[&channel, &reason]);
                }
                self.out.line(line);
                if let Some(key) = RoomKey::fold(&channel) {
                    self.modes.remove(&key);
                    self.channels.remove(&key);
                }
            }
            (Pending::TopicQuery { channel }, ServerFrame::RoomList(rooms)) => {
                match find(&rooms, &channel) {
                    Some(info) if info.topic.is_empty() => {
                        self.numeric("331", &[&info.room, "No topic is set"]);
                    }
                    Some(info) => {
                        self.numeric("332", &[&info.room, &info.topic]);
                        self.topic_time(info);
                    }
                    None => self.numeric("403", &[&channel, "No such channel"]),
                }
            }
            (Pending::TopicSet { .. }, ServerFrame::RoomList(rooms)) => {
                let me = self.nick().to_owned();
                for info in rooms {
                    let mut line = format!(":{} TOPIC", self.mask(&me));
                    push_params(&mut line, &[&info.room, &info.topic]);
                    self.out.line(line);
                }
            }
            (Pending::List { filter }, ServerFrame::RoomList(rooms)) => {
                self.numeric("321", &["Channel", "Users  Name"]);
                let now = chinwag_proto::server::Timestamp::now();
                for info in &rooms {
                    // The core lists a secret room to its members only.
                    // Names and masks: any of them; conditions: all.
                    let (names, conditions): (Vec<&String>, Vec<&String>) =
                        filter.iter().partition(|f| !f.starts_with(['<', '>', '!']));
                    let named = names.is_empty() || names.iter().any(|f| list_filter(f, info, now));
                    if named && conditions.iter().all(|f| list_filter(f, info, now)) {
                        let count = info.members.to_string();
                        self.numeric("322", &[&info.room, &count, &info.topic]);
                    }
                }
                self.numeric("323", &["End of /LIST"]);
            }
            (Pending::ChannelModeQuery { channel }, ServerFrame::RoomList(rooms)) => {
                match find(&rooms, &channel) {
                    Some(info) => {
                        let mut params = vec![info.room.to_string(), mode_letters(info.mode)];
                        if info.limit > 0 {
                            params[1].push('l');
                            params.push(info.limit.to_string());
                        }
                        let params: Vec<&str> = params.iter().map(String::as_str).collect();
                        self.numeric("324", &params);
                        if info.created.0 > 0 {
                            let created = (info.created.0 / 1000).to_string();
                            self.numeric("329", &[&info.room, &created]);
                        }
                    }
                    None => self.numeric("403", &[&channel, "No such channel"]),
                }
            }
            (Pending::ChannelModeSet { channel, change }, ServerFrame::RoomList(rooms)) => {
                let Some(info) = find(&rooms, &channel) else {
                    self.numeric("403", &[&channel, "No such channel"]);
                    return;
                };
                let mut mode = RoomMode::from_bits((info.mode.bits() | change.set) & !change.clear)
                    .unwrap_or(info.mode);
                let mut password = String::new();
                match &change.key {
                    Some(Some(key)) => {
                        mode = mode.with(RoomMode::PASSWORD, true);
                        password = key.clone();
                    }
                    Some(None) => mode = mode.with(RoomMode::PASSWORD, false),
                    None => {}
                }
                let text = mode_change_letters(info.mode, mode).unwrap_or_default();
                let request = Request::Room(RoomRequest::Mode(SetRoomMode {
                    src: "".into(),
                    room: info.room.clone(),
                    mode,
                    password: password.into(),
                }));
                let channel = info.room.to_string();
                self.ask(
                    request,
                    Pending::Mode {
                        channel,
                        text,
                        echo: false,
                        nick: String::new(),
                    },
                    0,
                );
            }
            (
                Pending::MaskList {
                    channel,
                    letter,
                    last,
                },
                ServerFrame::MaskList { list, masks, .. },
            ) => {
                let (_, prefix) = crate::commands::list_letter(list);
                let (entry, end, what) = match letter {
                    'b' => ("367", "368", "End of channel ban list"),
                    'e' => ("348", "349", "End of channel exception list"),
                    _ => ("346", "347", "End of channel invite exception list"),
                };
                for m in &masks {
                    let mask = format!("{prefix}{}", m.mask);
                    let at = (m.set_at.0 / 1000).to_string();
                    self.numeric(entry, &[&channel, &mask, &m.set_by, &at]);
                }
                if last {
                    self.numeric(end, &[&channel, what]);
                }
            }
            (
                Pending::Mode {
                    channel,
                    text,
                    echo,
                    ..
                },
                _,
            ) if echo => {
                let me = self.nick().to_owned();
                self.out
                    .line(format!(":{} MODE {channel} {text}", self.mask(&me)));
            }
            (Pending::WhoChannel { who }, ServerFrame::MemberList { room, members }) => {
                // The members' profiles are in the user list.
                let channel = room.to_string();
                let members = members.into_iter().filter(|m| m.online).collect();
                let users =
                    Request::GetAllUser(chinwag_proto::request::GetAllUser { src: "".into() });
                self.ask(
                    users,
                    Pending::WhoMembers {
                        channel,
                        who,
                        members,
                    },
                    0,
                );
            }
            (
                Pending::WhoMembers {
                    channel,
                    who,
                    members,
                },
                ServerFrame::UserList(users),
            ) => {
                for member in &members {
                    let key = NameKey::fold(&member.name);
                    if let Some(user) = users.iter().find(|u| NameKey::fold(&u.name) == key) {
                        let prefix = self.prefix(member);
                        self.who_line(&who, &channel, user, &prefix);
                    }
                }
                self.numeric("315", &[&who.mask, "End of /WHO list"]);
            }
            (Pending::WhoUsers { who }, ServerFrame::UserList(users)) => {
                for user in users.iter().filter(|u| matches_mask(&who.mask, &u.name)) {
                    self.who_line(&who, "*", user, "");
                }
                self.numeric("315", &[&who.mask, "End of /WHO list"]);
            }
            (Pending::Profile { away: Some(away) }, _) => {
                if away.is_empty() {
                    self.numeric("305", &["You are no longer marked as being away"]);
                } else {
                    self.numeric("306", &["You have been marked as being away"]);
                }
                self.away = away;
            }
            (Pending::Monitor { nicks }, ServerFrame::UserList(users)) => {
                let (mut online, mut offline) = (Vec::new(), Vec::new());
                for nick in nicks {
                    let key = NameKey::fold(&nick);
                    match users
                        .iter()
                        .find(|u| key.is_some() && NameKey::fold(&u.name) == key)
                    {
                        Some(user) => online.push(self.mask(&user.name)),
                        None => offline.push(nick),
                    }
                }
                if !online.is_empty() {
                    self.numeric("730", &[&online.join(",")]);
                }
                if !offline.is_empty() {
                    self.numeric("731", &[&offline.join(",")]);
                }
            }
            (Pending::Userhost { nicks }, ServerFrame::UserList(users)) => {
                let mut replies = Vec::new();
                for nick in &nicks {
                    let key = NameKey::fold(nick);
                    if let Some(user) = users
                        .iter()
                        .find(|u| key.is_some() && NameKey::fold(&u.name) == key)
                    {
                        let oper = if user.role == Role::Admin { "*" } else { "" };
                        let here = if user.away.is_empty() { '+' } else { '-' };
                        replies.push(format!(
                            "{}{oper}={here}{}@chinwag",
                            user.name,
                            username(user)
                        ));
                    }
                }
                self.numeric("302", &[&replies.join(" ")]);
            }
            (Pending::Whois { nick }, ServerFrame::UserList(users)) => {
                let key = NameKey::fold(&nick);
                match users
                    .iter()
                    .find(|u| key.is_some() && NameKey::fold(&u.name) == key)
                {
                    Some(user) => {
                        let name = user.name.to_string();
                        let (username, realname) = (username(user), realname(user));
                        self.numeric("311", &[&name, &username, "chinwag", "*", &realname]);
                        if !user.away.is_empty() {
                            self.numeric("301", &[&name, &user.away]);
                        }
                        let server = self.server.clone();
                        self.numeric("312", &[&name, &server, "chinwag"]);
                        if user.role == Role::Admin {
                            self.numeric(
                                "313",
                                &[&name, "is an IRC operator (a chinwag administrator)"],
                            );
                        }
                        if user.flags & chinwag_proto::server::user_flags::BOT != 0 {
                            self.numeric("335", &[&name, "is a bot"]);
                        }
                        if user.flags & chinwag_proto::server::user_flags::ACCOUNT != 0 {
                            self.numeric("330", &[&name, &name, "is logged in as"]);
                        }
                        self.whois_metadata(&name);
                    }
                    None => {
                        self.numeric("401", &[&nick, "No such nick/channel"]);
                        self.numeric("318", &[&nick, "End of /WHOIS list"]);
                    }
                }
            }
            (Pending::Lusers, ServerFrame::UserList(users)) => {
                let admins = users.iter().filter(|u| u.role == Role::Admin).count();
                self.lusers(users.len(), admins);
            }
            (Pending::WelcomeLusers, ServerFrame::UserList(users)) => {
                let admins = users.iter().filter(|u| u.role == Role::Admin).count();
                self.lusers(users.len(), admins);
                self.welcome_end();
            }
            (Pending::Oper, _) => {
                self.numeric("381", &["You are now an IRC operator"]);
                let me = self.nick().to_owned();
                self.out.line(format!(":{} MODE {me} :+o", self.mask(&me)));
            }
            (Pending::Mute { .. }, ServerFrame::Ok { message }) => {
                let me = self.nick().to_owned();
                self.server_line("NOTICE", &[&me, &message]);
            }
            (Pending::Invite { channel, nick }, _) => self.numeric("341", &[&nick, &channel]),
            (Pending::Metadata { target, op }, ServerFrame::Metadata(m)) => {
                self.metadata_reply(target, op, m);
            }
            (Pending::ReadMarker { .. }, ServerFrame::ReadMarkerAt(marker)) => {
                self.markread_line(&marker);
            }
            (Pending::InviteList, ServerFrame::RoomList(rooms)) => {
                for info in rooms.iter().filter(|r| r.invited) {
                    self.numeric("336", &[&info.room]);
                }
                self.numeric("337", &["End of /INVITE list"]);
            }
            (Pending::History { target }, ServerFrame::HistoryPage(mut page)) => {
                page.reverse();
                let batch = self.caps.has(Cap::Batch).then(|| self.out.batch_id());
                if let Some(batch) = &batch {
                    self.server_line("BATCH", &[&format!("+{batch}"), "chathistory", &target]);
                }
                for message in &page {
                    self.message_line(message, batch.as_deref(), 0);
                }
                if let Some(batch) = &batch {
                    self.server_line("BATCH", &[&format!("-{batch}")]);
                }
            }
            // Answers with nothing to show (KILL, KICK, DIE, QUIT: the
            // events say it).
            _ => {}
        }
    }

    fn render_error(&mut self, pending: Pending, error: CmdError) {
        let CmdError { code, message } = error;
        if code.closes_connection() {
            self.error(&message);
            return;
        }
        let message = message.to_string();
        match pending {
            Pending::Register { sasl } => self.refused(code, &message, sasl),
            Pending::Message {
                command: "NOTICE", ..
            }
            | Pending::Quit
            | Pending::Rejoin => {}
            Pending::Redact { target, msgid, .. } => match code {
                ErrorCode::NoSuchMessage => {
                    self.fail_params("REDACT", "UNKNOWN_MSGID", &[&target, &msgid], &message)
                }
                ErrorCode::Forbidden | ErrorCode::NotRoomOperator => {
                    self.fail_params("REDACT", "REDACT_FORBIDDEN", &[&target, &msgid], &message)
                }
                ErrorCode::NoSuchRoom
                | ErrorCode::InvalidRoomName
                | ErrorCode::NoSuchUser
                | ErrorCode::NotAMember
                | ErrorCode::InvalidArgument => {
                    self.fail_params("REDACT", "INVALID_TARGET", &[&target], &message)
                }
                _ => self.fail_params("REDACT", "UNKNOWN_ERROR", &[&target, &msgid], &message),
            },
            Pending::Message { target, .. } => match code {
                ErrorCode::NoSuchUser => self.numeric("401", &[&target, "No such nick/channel"]),
                ErrorCode::NoSuchRoom | ErrorCode::InvalidRoomName => {
                    self.numeric("403", &[&target, "No such channel"])
                }
                ErrorCode::NotAMember | ErrorCode::Muted => {
                    self.numeric("404", &[&target, &message])
                }
                ErrorCode::Forbidden => self.numeric("481", &[&message]),
                _ => self.unknown_error("PRIVMSG", &message),
            },
            Pending::Join { channel } => match code {
                ErrorCode::InviteOnly => self.numeric("473", &[&channel, &message]),
                ErrorCode::RoomFull => self.numeric("471", &[&channel, &message]),
                ErrorCode::RoomPassword => self.numeric("475", &[&channel, &message]),
                ErrorCode::TooManyRooms => self.numeric("405", &[&channel, &message]),
                ErrorCode::InvalidRoomName => self.numeric("479", &[&channel, &message]),
                ErrorCode::Banned => self.numeric("474", &[&channel, &message]),
                _ => self.unknown_error("JOIN", &message),
            },
            Pending::Names { end, .. } => {
                if let Some(end) = end {
                    self.numeric("366", &[&end, "End of /NAMES list"]);
                }
            }
            Pending::MaskList {
                channel,
                letter,
                last,
            } => {
                if last {
                    let end = match letter {
                        'b' => "368",
                        'e' => "349",
                        _ => "347",
                    };
                    self.numeric(end, &[&channel, "End of list"]);
                } else {
                    self.channel_error(code, &channel, &message, "");
                }
            }
            Pending::Profile { away: Some(_) } => self.fail("AWAY", "CANNOT_SET", "", &message),
            Pending::Profile { away: None } => {}
            Pending::Userhost { .. } => self.numeric("302", &[""]),
            Pending::Monitor { .. } => self.unknown_error("MONITOR", &message),
            Pending::WhoChannel { who }
            | Pending::WhoMembers { who, .. }
            | Pending::WhoUsers { who } => self.numeric("315", &[&who.mask, "End of /WHO list"]),
            Pending::Mode {
                channel,
                text,
                nick,
                ..
            } => match code {
                ErrorCode::InvalidArgument | ErrorCode::InvalidContent => {
                    let letter = text.chars().nth(1).unwrap_or('k').to_string();
                    let arg = text.split_once(' ').map_or("*", |(_, arg)| arg);
                    self.numeric("696", &[&channel, &letter, arg, &message]);
                }
                _ => self.channel_error(code, &channel, &message, &nick),
            },
            Pending::Part { channel, .. } | Pending::TopicSet { channel } => {
                self.channel_error(code, &channel, &message, "")
            }
            Pending::Invite { channel, nick }
                if code == ErrorCode::InvalidArgument && message.contains("already a member") =>
            {
                self.numeric("443", &[&nick, &channel, "is already on channel"]);
            }
            Pending::Kick { channel, nick } | Pending::Invite { channel, nick } => {
                self.channel_error(code, &channel, &message, &nick)
            }
            Pending::Oper => match code {
                ErrorCode::BadPassword | ErrorCode::TooManyAttempts => {
                    self.numeric("464", &[&message])
                }
                _ => self.numeric("491", &[&message]),
            },
            Pending::Kill { nick } | Pending::Mute { target: nick } => match code {
                ErrorCode::Forbidden => self.numeric("481", &[&message]),
                ErrorCode::NoSuchUser => self.numeric("401", &[&nick, "No such nick/channel"]),
                _ => self.unknown_error("KILL", &message),
            },
            Pending::Die => self.numeric("481", &[&message]),
            Pending::History { target } => {
                self.fail("CHATHISTORY", "MESSAGE_ERROR", &target, &message)
            }
            Pending::Malformed { command, error } => self.malformed_reply(&command, error),
            Pending::Metadata { target, op } => {
                self.metadata_error(&target, op, &CmdError { code, message })
            }
            Pending::ReadMarker { target } => {
                self.markread_error(&target, &CmdError { code, message })
            }
            Pending::Whois { nick } => {
                self.numeric("401", &[&nick, &message]);
                self.numeric("318", &[&nick, "End of /WHOIS list"]);
            }
            Pending::WelcomeLusers => self.welcome_end(),
            Pending::Nick { nick } => match code {
                ErrorCode::NameTaken | ErrorCode::AccountRequired => {
                    self.numeric("433", &[&nick, &message])
                }
                ErrorCode::InvalidName | ErrorCode::Banned => {
                    self.numeric("432", &[&nick, &message])
                }
                _ => self.numeric("447", &[&message]),
            },
            Pending::Setname { .. } => self.fail("SETNAME", "CANNOT_CHANGE_REALNAME", "", &message),
            Pending::UserMode => self.numeric("501", &[&message]),
            Pending::Whowas { nick } => {
                self.numeric("406", &[&nick, &message]);
                self.numeric("369", &[&nick, "End of WHOWAS"]);
            }
            Pending::Ping { .. }
            | Pending::TopicQuery { .. }
            | Pending::List { .. }
            | Pending::ChannelModeQuery { .. }
            | Pending::ChannelModeSet { .. }
            | Pending::InviteList
            | Pending::Lusers => self.unknown_error("*", &message),
        }
    }

    fn channel_error(&mut self, code: ErrorCode, channel: &str, message: &str, nick: &str) {
        match code {
            ErrorCode::NoSuchRoom | ErrorCode::InvalidRoomName => {
                self.numeric("403", &[channel, "No such channel"])
            }
            ErrorCode::NotAMember if !nick.is_empty() && message.contains(nick) => {
                self.numeric("441", &[nick, channel, message])
            }
            ErrorCode::NotAMember => self.numeric("442", &[channel, message]),
            ErrorCode::NotRoomOperator | ErrorCode::Forbidden => {
                self.numeric("482", &[channel, message])
            }
            ErrorCode::NoSuchUser => self.numeric("401", &[nick, "No such nick/channel"]),
            _ => self.unknown_error("*", message),
        }
    }

    fn unknown_error(&mut self, command: &str, message: &str) {
        self.numeric("400", &[command, message]);
    }

    fn malformed_reply(&mut self, command: &str, error: LineError) {
        match error {
            LineError::TooLong { .. } | LineError::TagsTooLong { .. } => {
                self.numeric("417", &[&format!("Input line was too long: {error}")])
            }
            LineError::InvalidUtf8 { .. } => {
                self.fail(command, "INVALID_UTF8", "", &error.to_string())
            }
            LineError::BadCommand(command) => self.numeric("421", &[&command, "Unknown command"]),
            LineError::NoCommand | LineError::Nul => {
                self.fail(command, "INVALID_MESSAGE", "", &error.to_string())
            }
        }
    }

    /// This session is in `info`'s room: JOIN, its topic, its names.
    /// Shows this connection in the channel `info`, once: a JOIN of a
    /// channel shown already (a client rejoining after a reconnect, when
    /// the server has joined it for the account) is ignored, as IRC
    /// servers ignore it.
    fn joined(&mut self, info: &RoomInfo) {
        let key = RoomKey::fold(&info.room);
        if key.is_some_and(|key| self.channels.contains_key(&key)) {
            return;
        }
        let me = self.nick().to_owned();
        if self.caps.has(Cap::ExtendedJoin) {
            let account = if self.account { me.as_str() } else { "*" };
            let realname = if self.realname.is_empty() {
                me.clone()
            } else {
                self.realname.clone()
            };
            let mut line = format!(":{} JOIN {} {account}", self.mask(&me), info.room);
            push_params(&mut line, &[&realname]);
            self.out.line(line);
        } else {
            self.out
                .line(format!(":{} JOIN {}", self.mask(&me), info.room));
        }
        if let Some(key) = RoomKey::fold(&info.room) {
            self.modes.insert(key, info.mode);
            self.channels.entry(key).or_default();
        }
        if !info.topic.is_empty() {
            self.numeric("332", &[&info.room, &info.topic]);
            self.topic_time(info);
        }
        // draft/read-marker: the channel's marker before the end of NAMES.
        if self.caps.has(Cap::ReadMarker) {
            self.ask_markread(&info.room.clone(), 0);
        }
        self.ask_names(&info.room.clone(), false);
    }

    /// RPL_TOPICWHOTIME, when the core knows who set the topic.
    fn topic_time(&mut self, info: &RoomInfo) {
        if !info.topic_by.is_empty() {
            let at = (info.topic_ts.0 / 1000).to_string();
            self.numeric("333", &[&info.room, &info.topic_by, &at]);
        }
    }

    /// A member's prefixes: the highest only, or all of them with
    /// multi-prefix.
    fn prefix(&self, member: &MemberInfo) -> String {
        let mut prefix = String::new();
        if member.role.moderates() {
            prefix.push('@');
        }
        if member.voiced && (prefix.is_empty() || self.caps.has(Cap::MultiPrefix)) {
            prefix.push('+');
        }
        prefix
    }

    fn names_reply(&mut self, room: &str, members: &[MemberInfo]) {
        // `@` for a secret room, `=` for the others.
        let secret = RoomKey::fold(room)
            .and_then(|key| self.modes.get(&key))
            .is_some_and(|mode| mode.secret());
        let symbol = if secret { "@" } else { "=" };
        let mut names = Vec::new();
        for member in members.iter().filter(|m| m.online) {
            self.seen_in(room, &member.name);
            let prefix = self.prefix(member);
            let name = if self.caps.has(Cap::UserhostInNames) {
                self.mask(&member.name)
            } else {
                member.name.to_string()
            };
            names.push(format!("{prefix}{name}"));
        }
        // Lines of at most ~400 bytes of names.
        let mut chunk = String::new();
        for name in names {
            if !chunk.is_empty() && chunk.len() + name.len() > 400 {
                self.numeric("353", &[symbol, room, &chunk]);
                chunk.clear();
            }
            if !chunk.is_empty() {
                chunk.push(' ');
            }
            chunk.push_str(&name);
        }
        if !chunk.is_empty() {
            self.numeric("353", &[symbol, room, &chunk]);
        }
    }

    /// One RPL_WHOREPLY: `flags` after here/gone and the operator star.
    fn who_line(&mut self, who: &Who, channel: &str, user: &UserInfo, flags: &str) {
        let server = self.server.clone();
        let here = if user.away.is_empty() { 'H' } else { 'G' };
        let oper = if user.role == Role::Admin { "*" } else { "" };
        let bot = if user.flags & chinwag_proto::server::user_flags::BOT != 0 {
            "B"
        } else {
            ""
        };
        let flags = format!("{here}{oper}{flags}{bot}");
        let account = if user.flags & chinwag_proto::server::user_flags::ACCOUNT != 0 {
            user.name.to_string()
        } else {
            "0".to_owned()
        };
        if let Some((fields, token)) = &who.whox {
            // RPL_WHOSPCRPL: the fields asked for, in WHOX's fixed order.
            // chinwag has no hop counts or op levels; the account is the
            // name for a user logged in to one, `0` for a guest.
            let username = username(user);
            let realname = realname(user);
            let mut params: Vec<&str> = Vec::new();
            for (letter, value) in [
                ('t', token.as_str()),
                ('c', channel),
                ('u', &username),
                ('i', "255.255.255.255"),
                ('h', "chinwag"),
                ('s', &server),
                ('n', &user.name),
                ('f', &flags),
                ('d', "0"),
                ('l', "0"),
                ('a', &account),
                ('o', "n/a"),
                ('r', &realname),
            ] {
                if fields.contains(letter) {
                    params.push(value);
                }
            }
            self.numeric("354", &params);
            return;
        }
        let realname = format!("0 {}", realname(user));
        let params = [
            channel,
            &username(user),
            "chinwag",
            &server,
            &user.name,
            &flags,
            &realname,
        ];
        self.numeric("352", &params);
    }

    fn lusers(&mut self, users: usize, admins: usize) {
        self.numeric(
            "251",
            &[&format!(
                "There are {users} users and 0 invisible on 1 servers"
            )],
        );
        if admins > 0 {
            self.numeric("252", &[&admins.to_string(), "operator(s) online"]);
        }
        self.numeric("255", &[&format!("I have {users} clients and 0 servers")]);
        // The short forms: the core keeps no count of the most users
        // online at once.
        self.numeric("265", &[&format!("Current local users: {users}")]);
        self.numeric("266", &[&format!("Current global users: {users}")]);
    }

    /// 001 to 005, LUSERS, the MOTD; then the rooms the account is in,
    /// and what arrived meanwhile.
    pub(crate) fn welcome(&mut self) {
        if self.welcomed {
            return;
        }
        self.welcomed = true;
        let me = self.nick().to_owned();
        let server = self.server.clone();
        let version = version();
        self.numeric(
            "001",
            &[&format!(
                "Welcome to the chinwag IRC network, {}",
                self.mask(&me)
            )],
        );
        self.numeric(
            "002",
            &[&format!("Your host is {server}, running version {version}")],
        );
        self.numeric("003", &["This server speaks chinwag underneath"]);
        self.numeric(
            "004",
            &[&server, &version, "Bio", "beIiklmnoqstv", "beIkloqv"],
        );
        self.isupport();
        let users = Request::GetAllUser(chinwag_proto::request::GetAllUser { src: "".into() });
        self.ask(users, Pending::WelcomeLusers, 0);
    }

    /// The rest of the welcome, after LUSERS: the MOTD (its end is the
    /// end of registration for clients), then the rooms the account is in
    /// and what arrived meanwhile.
    fn welcome_end(&mut self) {
        if !self.profile_sent {
            self.set_profile(None);
        }
        self.motd();
        self.ask(
            Request::Room(RoomRequest::List { src: "".into() }),
            Pending::Rejoin,
            0,
        );
        self.release_held();
    }

    pub(crate) fn isupport(&mut self) {
        let nicklen = format!("NICKLEN={}", chinwag_proto::limits::MAX_NAME_LEN);
        let channellen = format!("CHANNELLEN={}", chinwag_proto::limits::MAX_NAME_LEN + 1);
        let network = "NETWORK=chinwag".to_owned();
        let monitor = format!("MONITOR={}", crate::commands::MAX_MONITOR);
        let tokens = [
            "CASEMAPPING=ascii",
            "CHANTYPES=#",
            CHANMODES,
            "PREFIX=(ov)@+",
            "EXCEPTS=e",
            "INVEX=I",
            "EXTBAN=,m",
            "ELIST=MNU",
            "STATUSMSG=@",
            &nicklen,
            &channellen,
            &network,
            "UTF8ONLY",
            "TARGMAX=PRIVMSG:,NOTICE:,JOIN:,PART:,KICK:,NAMES:",
            "CHATHISTORY=100",
            "WHOX",
            &monitor,
            "BOT=B",
        ];
        // At most 13 tokens a line (15 parameters, with the nick and the
        // text).
        for chunk in tokens.chunks(13) {
            let mut params: Vec<&str> = chunk.to_vec();
            params.push("are supported by this server");
            self.numeric("005", &params);
        }
    }

    pub(crate) fn motd(&mut self) {
        let server = self.server.clone();
        self.numeric("375", &[&format!("- {server} Message of the day - ")]);
        self.numeric(
            "372",
            &["- This is chinwag: rooms are channels, accounts are nicks."],
        );
        self.numeric(
            "372",
            &["- Messages are kept: CHATHISTORY reads them back."],
        );
        self.numeric("376", &["End of /MOTD command."]);
    }

    pub(crate) fn version(&mut self) {
        let server = self.server.clone();
        self.numeric("351", &[&version(), &server, "chinwag IRC front end"]);
        self.isupport();
    }

    /// An event, as this connection shows it.
    pub(crate) fn render_event(&mut self, event: &Shared) {
        match event.frame() {
            ServerFrame::Message(m) if shared_line(m) => {
                let tags = self.message_tags(m, None, event.sender_flags());
                let body = event.irc(|_| room_line(m));
                self.out.line_of(&[&tags, body]);
            }
            ServerFrame::Message(m) => self.message_line(m, None, event.sender_flags()),
            ServerFrame::UserUpdate(u) => self.user_update(u),
            ServerFrame::Notice(n) => self.notice_event(n),
            ServerFrame::Redacted(r) => self.redacted(r),
            ServerFrame::ReadMarkerAt(marker) => self.markread_event(marker),
            ServerFrame::Metadata(m) => self.metadata_event(m),
            ServerFrame::RoomNotice(n) => {
                let me = self.nick().to_owned();
                let actor = if n.actor.is_empty() {
                    self.server.clone()
                } else {
                    self.mask(&n.actor)
                };
                let subject = self.mask(&n.subject);
                let room = &n.room;
                let line = match n.kind {
                    NoticeKind::RoomJoined => {
                        self.seen_in(room, &n.subject);
                        if self.caps.has(Cap::ExtendedJoin) {
                            let account = if n.until & u64::from(user_flags::ACCOUNT) != 0 {
                                n.subject.as_ref()
                            } else {
                                "*"
                            };
                            let realname = if n.text.is_empty() {
                                &n.subject
                            } else {
                                &n.text
                            };
                            format!(":{subject} JOIN {room} {account} :{realname}")
                        } else {
                            format!(":{subject} JOIN {room}")
                        }
                    }
                    // Gone from the server, not from the room only.
                    NoticeKind::RoomLeft if n.actor.is_empty() && is_departure(&n.text) => {
                        if !self.quit(&n.subject) {
                            return;
                        }
                        format!(":{subject} QUIT :{}", quit_text(&n.text))
                    }
                    NoticeKind::RoomLeft if !n.actor.is_empty() => {
                        self.gone_from(room, &n.subject);
                        let prefix = format!("kicked by {}: ", n.actor);
                        let reason = n.text.strip_prefix(prefix.as_str()).unwrap_or(&n.text);
                        format!(":{actor} KICK {room} {} :{reason}", n.subject)
                    }
                    NoticeKind::RoomLeft => {
                        self.gone_from(room, &n.subject);
                        format!(":{subject} PART {room} :{}", n.text)
                    }
                    NoticeKind::RoomTopic => format!(":{actor} TOPIC {room} :{}", n.text),
                    NoticeKind::RoomLimit => match n.until {
                        0 => format!(":{actor} MODE {room} -l"),
                        limit => format!(":{actor} MODE {room} +l {limit}"),
                    },
                    NoticeKind::RoomVoice => format!(
                        ":{actor} MODE {room} {}v {}",
                        if n.until == 1 { '+' } else { '-' },
                        n.subject
                    ),
                    NoticeKind::RoomMask => {
                        let Some(list) = chinwag_proto::room::MaskList::from_u8(n.until as u8)
                        else {
                            return;
                        };
                        let (letter, prefix) = crate::commands::list_letter(list);
                        let sign = if n.until >= 256 { '-' } else { '+' };
                        format!(":{actor} MODE {room} {sign}{letter} {prefix}{}", n.subject)
                    }
                    NoticeKind::RoomKicked => {
                        if let Some(key) = RoomKey::fold(room) {
                            self.channels.remove(&key);
                        }
                        format!(":{actor} KICK {room} {me} :{}", n.text)
                    }
                    NoticeKind::RoomMuted => format!(":{actor} MODE {room} +q {me}"),
                    NoticeKind::RoomUnmuted => format!(":{actor} MODE {room} -q {me}"),
                    NoticeKind::RoomRole => {
                        let op = RoomRole::from_u8(n.until as u8).is_some_and(RoomRole::moderates);
                        format!(
                            ":{actor} MODE {room} {}o {}",
                            if op { '+' } else { '-' },
                            n.subject
                        )
                    }
                    NoticeKind::RoomMode => {
                        let mode = RoomMode::from_bits(n.until as u8).unwrap_or_default();
                        let before = RoomKey::fold(room)
                            .and_then(|key| self.modes.insert(key, mode))
                            .unwrap_or_default();
                        match mode_change_letters(before, mode) {
                            Some(change) => format!(":{actor} MODE {room} {change}"),
                            None => return,
                        }
                    }
                    NoticeKind::RoomInvited => {
                        format!(":{actor} INVITE {me} {room}")
                    }
                    _ => return,
                };
                self.out.line(line);
            }
            _ => {}
        }
    }

    fn notice_event(&mut self, n: &Notice) {
        let me = self.nick().to_owned();
        match n.kind {
            NoticeKind::Left if !n.subject.eq_ignore_ascii_case(&me) => {
                if self.quit(&n.subject) {
                    let mask = self.mask(&n.subject);
                    self.out
                        .line(format!(":{mask} QUIT :{}", quit_text(&n.text)));
                }
                if self.monitors(&n.subject) {
                    self.numeric("731", &[&n.subject]);
                }
            }
            NoticeKind::Joined if self.monitors(&n.subject) => {
                let mask = self.mask(&n.subject);
                self.numeric("730", &[&mask]);
            }
            NoticeKind::Kicked => self.error(&format!("Killed by {} ({})", n.actor, n.text)),
            NoticeKind::Banned => self.error(&format!("Banned by {} ({})", n.actor, n.text)),
            NoticeKind::Shutdown => {
                self.server_line("NOTICE", &[&me, "The server is shutting down"]);
            }
            NoticeKind::Muted => {
                let text = format!("You are muted by {}: {}", n.actor, n.text);
                self.server_line("NOTICE", &[&me, &text]);
            }
            NoticeKind::Unmuted => self.server_line("NOTICE", &[&me, "You may talk again"]),
            NoticeKind::CatchUp => {
                let text = format!(
                    "You fell behind; read what you missed with CHATHISTORY AFTER <target> msgid={}",
                    n.until
                );
                self.server_line("NOTICE", &[&me, &text]);
            }
            _ => {}
        }
    }

    fn monitors(&self, name: &str) -> bool {
        NameKey::fold(name).is_some_and(|key| self.monitor.contains_key(&key))
    }

    /// A user's change (USER_UPDATE), as the capabilities enabled show
    /// it to those who see the user: in a common channel, or watched with
    /// MONITOR and extended-monitor.
    fn user_update(&mut self, u: &UserUpdate) {
        let watched = |irc: &Irc, name: &str| {
            irc.shares_channel(name) || (irc.caps.has(Cap::ExtendedMonitor) && irc.monitors(name))
        };
        let mine = self.me.as_deref().and_then(NameKey::fold);
        if u.changed & user_changed::NAME != 0 {
            let (old, new) = (u.old_name.as_ref(), u.name.as_ref());
            if NameKey::fold(old) == mine && mine.is_some() {
                // This user, renamed by another session.
                let mask = self.mask(old);
                self.out.line(format!(":{mask} NICK :{new}"));
                self.renamed(old, new);
                self.me = Some(new.to_owned());
                return;
            }
            if self.shares_channel(old) {
                let mask = self.mask(old);
                self.out.line(format!(":{mask} NICK :{new}"));
                self.renamed(old, new);
            }
            if NameKey::fold(old) != NameKey::fold(new) {
                if self.monitors(old) {
                    self.numeric("731", &[old]);
                }
                if self.monitors(new) {
                    let mask = self.mask(new);
                    self.numeric("730", &[&mask]);
                }
            }
            return;
        }
        let own = NameKey::fold(&u.name) == mine;
        let seen = own || watched(self, &u.name);
        let mask = self.mask(&u.name);
        let away_told =
            u.changed & user_changed::AWAY != 0 || (u.changed == 0 && !u.away.is_empty());
        if own {
            self.away = u.away.to_string();
            self.realname = u.realname.to_string();
            self.umodes = u.flags & user_flags::SETTABLE;
        }
        if away_told && seen && !own && self.caps.has(Cap::AwayNotify) {
            if u.away.is_empty() {
                self.out.line(format!(":{mask} AWAY"));
            } else {
                let mut line = format!(":{mask} AWAY");
                push_params(&mut line, &[&u.away]);
                self.out.line(line);
            }
        }
        if u.changed & user_changed::REALNAME != 0 && seen && self.caps.has(Cap::Setname) {
            let mut line = format!(":{mask} SETNAME");
            push_params(&mut line, &[&u.realname]);
            self.out.line(line);
        }
    }

    /// This session's own flags, as its messages carry them.
    pub(crate) fn sender_flags(&self) -> u8 {
        let account = if self.account { user_flags::ACCOUNT } else { 0 };
        account | self.umodes
    }

    /// `tags` (as [`Irc::tags`] made them) with the `account` and `bot`
    /// tags for a sender with `flags`, as the capabilities ask.
    pub(crate) fn with_sender_tags(&self, tags: String, from: &str, flags: u8) -> String {
        let mut extra = Vec::new();
        if flags & user_flags::ACCOUNT != 0 && self.caps.has(Cap::AccountTag) {
            extra.push(format!("account={from}"));
        }
        if flags & user_flags::BOT != 0 && self.caps.has(Cap::MessageTags) {
            extra.push("bot".to_owned());
        }
        if extra.is_empty() {
            return tags;
        }
        match tags.strip_prefix('@') {
            Some(rest) => format!("@{};{rest}", extra.join(";")),
            None => format!("@{} ", extra.join(";")),
        }
    }

    /// A deleted message (draft/message-redaction): `REDACT target msgid
    /// [:reason]`, for a connection that asked for them.
    fn redacted(&mut self, r: &Redacted) {
        if !self.caps.has(Cap::MessageRedaction) {
            return;
        }
        let target = match r.kind {
            MessageKind::Broadcast => "$*".to_owned(),
            _ => r.to.to_string(),
        };
        let msgid = r.id.0.to_string();
        let mut line = format!(":{} REDACT", self.mask(&r.actor));
        if r.reason.is_empty() {
            push_params(&mut line, &[&target, &msgid]);
        } else {
            push_params(&mut line, &[&target, &msgid, &r.reason]);
        }
        self.out.line(line);
    }

    /// A chinwag message as PRIVMSG, or NOTICE for one of kind notice (a
    /// broadcast always as NOTICE to `$*`), or TAGMSG for client tags
    /// alone (only to a connection that takes message tags).
    /// The tags this connection shows on message `m` (empty for none).
    fn message_tags(&self, m: &Message, batch: Option<&str>, sender_flags: u8) -> String {
        // A message to a room's operators is not stored: it has no id.
        let id = (m.id.0 != 0).then_some(m.id);
        let mut tags = self.tags_with(m.ts, id, &m.tags);
        tags = self.with_sender_tags(tags, &m.from, sender_flags);
        if let Some(batch) = batch {
            tags = match tags.strip_prefix('@') {
                Some(rest) => format!("@batch={batch};{rest}"),
                None => format!("@batch={batch} "),
            };
        }
        tags
    }

    pub(crate) fn message_line(&mut self, m: &Message, batch: Option<&str>, sender_flags: u8) {
        let tagmsg = m.text.is_empty();
        if tagmsg && !self.caps.has(Cap::MessageTags) {
            return;
        }
        let tags = self.message_tags(m, batch, sender_flags);
        // This is the hot path of every message: the lines are written
        // straight into buffers of their size, borrowing what they show.
        let lines = {
            let me = self.nick();
            let said = if m.notice { "NOTICE" } else { "PRIVMSG" };
            let (command, prefix, target): (&str, &str, &str) = match m.kind {
                MessageKind::Room => (said, "", &m.to),
                MessageKind::RoomOperators => (said, "@", &m.to),
                MessageKind::Broadcast => ("NOTICE", "", "$*"),
                _ if m.from.eq_ignore_ascii_case(me) => (said, "", &m.to),
                _ => (said, "", me),
            };
            let from = &*m.from;
            let line = |command: &str, text: Option<&str>| {
                let text = text.unwrap_or_default();
                let mut line = String::with_capacity(
                    tags.len() + 2 * from.len() + command.len() + target.len() + text.len() + 18,
                );
                for piece in [
                    &*tags,
                    ":",
                    from,
                    "!",
                    from,
                    "@chinwag ",
                    command,
                    " ",
                    prefix,
                    target,
                ] {
                    line.push_str(piece);
                }
                if !text.is_empty() {
                    line.push_str(" :");
                    line.push_str(text);
                }
                line
            };
            if tagmsg {
                vec![line("TAGMSG", None)]
            } else {
                // An action is in IRC's own form already (protocol.md
                // 2.4). Lines of text: IRC has no newline in a message.
                m.text
                    .split('\n')
                    .map(|part| line(command, Some(if part.is_empty() { " " } else { part })))
                    .collect::<Vec<_>>()
            }
        };
        for line in lines {
            self.out.line(line);
        }
    }
}

/// Whether every IRC recipient of message `m` sees the same line but for
/// its tags: a one-line room message or broadcast with text.
fn shared_line(m: &Message) -> bool {
    matches!(
        m.kind,
        MessageKind::Room | MessageKind::RoomOperators | MessageKind::Broadcast
    ) && !m.text.is_empty()
        && !m.text.contains('\n')
}

/// The line of a [`shared_line`] message, without tags (rendered once per
/// message and shared by every IRC recipient).
fn room_line(m: &Message) -> String {
    let command = match m.kind {
        MessageKind::Broadcast => "NOTICE",
        _ if m.notice => "NOTICE",
        _ => "PRIVMSG",
    };
    let target: &str = match m.kind {
        MessageKind::Broadcast => "$*",
        _ => &m.to,
    };
    let prefix = if m.kind == MessageKind::RoomOperators {
        "@"
    } else {
        ""
    };
    let from = &*m.from;
    [
        ":",
        from,
        "!",
        from,
        "@chinwag ",
        command,
        " ",
        prefix,
        target,
        " :",
        &m.text,
    ]
    .concat()
}

/// The user name shown for `user`: its profile's, or its name.
fn username(user: &UserInfo) -> String {
    let name = if user.username.is_empty() {
        &user.name
    } else {
        &user.username
    };
    name.to_string()
}

/// The real name shown for `user`: its profile's, or its name.
fn realname(user: &UserInfo) -> String {
    let name = if user.realname.is_empty() {
        &user.name
    } else {
        &user.realname
    };
    name.to_string()
}

fn find<'a>(rooms: &'a [RoomInfo], channel: &str) -> Option<&'a RoomInfo> {
    let key = RoomKey::fold(channel)?;
    rooms.iter().find(|r| RoomKey::fold(&r.room) == Some(key))
}

fn mode_letters(mode: RoomMode) -> String {
    let mut letters = String::from("+");
    for (letter, flag) in MODE_FLAGS {
        if mode.has(flag) {
            letters.push(letter);
        }
    }
    letters
}

/// Every mode flag with its letter, `k` (the password) included.
const MODE_FLAGS: [(char, u8); 6] = [
    ('i', RoomMode::INVITE_ONLY),
    ('k', RoomMode::PASSWORD),
    ('m', RoomMode::MODERATED),
    ('n', RoomMode::NO_EXTERNAL),
    ('s', RoomMode::SECRET),
    ('t', RoomMode::TOPIC_LOCK),
];

/// What changed from `before` to `after`, as `+i`, `-k`, `+i-k`...; `None`
/// if nothing did.
fn mode_change_letters(before: RoomMode, after: RoomMode) -> Option<String> {
    let mut plus = String::new();
    let mut minus = String::new();
    for (letter, flag) in MODE_FLAGS {
        match (before.has(flag), after.has(flag)) {
            (false, true) => plus.push(letter),
            (true, false) => minus.push(letter),
            _ => {}
        }
    }
    let mut change = String::new();
    if !plus.is_empty() {
        change.push('+');
        change.push_str(&plus);
    }
    if !minus.is_empty() {
        change.push('-');
        change.push_str(&minus);
    }
    (!change.is_empty()).then_some(change)
}

/// What changed from the user flags `before` to `after`, as `+B`, `-i`,
/// `+B-i`...; `None` if nothing did.
fn flag_change_letters(before: u8, after: u8) -> Option<String> {
    let (mut plus, mut minus) = (String::new(), String::new());
    for (flag, letter) in [(user_flags::BOT, 'B'), (user_flags::INVISIBLE, 'i')] {
        match (before & flag != 0, after & flag != 0) {
            (false, true) => plus.push(letter),
            (true, false) => minus.push(letter),
            _ => {}
        }
    }
    let mut change = String::new();
    if !plus.is_empty() {
        change.push('+');
        change.push_str(&plus);
    }
    if !minus.is_empty() {
        change.push('-');
        change.push_str(&minus);
    }
    (!change.is_empty()).then_some(change)
}

/// How IRC shows why a user left the server: a LOGOUT's reason as
/// `Quit: REASON`, as IRC servers do; the core's other reasons as they are.
fn quit_text(text: &str) -> String {
    match text.strip_prefix(LOGOUT_REASON) {
        Some(reason) => format!("Quit: {reason}"),
        None => text.to_owned(),
    }
}

/// What the core's departure text starts with after a LOGOUT with a
/// reason (`Leave::describe`).
const LOGOUT_REASON: &str = "logout: ";

/// Whether a room passes one LIST filter (ELIST): a mask (`M`), a
/// negated mask (`N`, `!mask`), or a member count (`U`, `>n` / `<n`). A
/// filter this server does not know lets everything through.
fn list_filter(filter: &str, info: &RoomInfo, _now: chinwag_proto::server::Timestamp) -> bool {
    if let Some(n) = filter.strip_prefix('>') {
        return n.parse::<u32>().is_ok_and(|n| info.members > n);
    }
    if let Some(n) = filter.strip_prefix('<') {
        return n.parse::<u32>().is_ok_and(|n| info.members < n);
    }
    if let Some(mask) = filter.strip_prefix('!') {
        return !matches_mask(mask, &info.room);
    }
    if filter.contains(['*', '?']) {
        return matches_mask(filter, &info.room);
    }
    RoomKey::fold(filter) == RoomKey::fold(&info.room)
}

/// Whether a room departure's text says the user left the server (the
/// core's reasons for a session's end), rather than the room alone.
fn is_departure(text: &str) -> bool {
    text.starts_with(LOGOUT_REASON)
        || [
            Leave::Logout(Default::default()),
            Leave::Disconnected,
            Leave::TimedOut,
            Leave::SlowConsumer,
            Leave::Kicked,
            Leave::Shutdown,
            Leave::Protocol(""),
        ]
        .iter()
        .any(|leave| leave.text() == text)
}

/// Whether `name` matches a WHO mask: `*` and `?` wildcards, case
/// folded as names are.
fn matches_mask(mask: &str, name: &str) -> bool {
    fn glob(p: &[char], s: &[char]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some('*'), _) => glob(&p[1..], s) || (!s.is_empty() && glob(p, &s[1..])),
            (Some('?'), Some(_)) => glob(&p[1..], &s[1..]),
            (Some(a), Some(b)) => a == b && glob(&p[1..], &s[1..]),
            _ => false,
        }
    }
    if mask.is_empty() || mask == "0" {
        return true;
    }
    let p: Vec<char> = mask.to_lowercase().chars().take(64).collect();
    let s: Vec<char> = name.to_lowercase().chars().collect();
    glob(&p, &s)
}

fn version() -> String {
    format!("chinwag-{}", env!("CARGO_PKG_VERSION"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_letters_and_changes() {
        assert_eq!(mode_letters(RoomMode::NEW), "+nt");
        assert_eq!(mode_letters(RoomMode::default()), "+");
        let before = RoomMode::NEW;
        let after = before
            .with(RoomMode::INVITE_ONLY | RoomMode::MODERATED, true)
            .with(RoomMode::TOPIC_LOCK, false);
        assert_eq!(mode_change_letters(before, after).as_deref(), Some("+im-t"));
        assert_eq!(mode_change_letters(after, after), None);
    }

    #[test]
    fn list_filters() {
        let info = |room: &str, members| RoomInfo {
            room: room.into(),
            members,
            ..RoomInfo::default()
        };
        let now = chinwag_proto::server::Timestamp(0);
        let chan1 = info("#chan1", 1);
        assert!(list_filter("*an1", &chan1, now));
        assert!(!list_filter("*an2", &chan1, now));
        assert!(list_filter("!*an2", &chan1, now));
        assert!(list_filter(">0", &chan1, now) && !list_filter(">1", &chan1, now));
        assert!(list_filter("<2", &chan1, now) && !list_filter("<1", &chan1, now));
        assert!(list_filter("#CHAN1", &chan1, now));
        assert!(
            !list_filter(">x", &chan1, now),
            "a bad count matches nothing"
        );
    }

    #[test]
    fn list_modes_and_the_mute_extban() {
        use crate::commands::{list_letter, mask_list};
        use chinwag_proto::room::MaskList;
        assert_eq!(mask_list('b', "bar"), Some((MaskList::Ban, "bar".into())));
        assert_eq!(
            mask_list('b', "m:bar"),
            Some((MaskList::Mute, "bar".into()))
        );
        assert_eq!(
            mask_list('e', "m:*!evan@*"),
            Some((MaskList::MuteException, "*!evan@*".into()))
        );
        assert_eq!(mask_list('I', "m:bar"), None, "no mute invite exceptions");
        for list in MaskList::ALL {
            let (letter, prefix) = list_letter(list);
            assert_eq!(mask_list(letter, &format!("{prefix}x")).unwrap().0, list);
        }
    }

    #[test]
    fn who_masks() {
        assert!(matches_mask("al*", "Alice"));
        assert!(matches_mask("*", "bob"));
        assert!(!matches_mask("b?b", "bobby"));
        assert!(matches_mask("b?b*", "bobby"));
    }
}
