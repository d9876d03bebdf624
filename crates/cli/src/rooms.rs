//! Rooms on the command line: how room notices, room lists and member
//! lists look (for humans and as JSON), and the one-shot room commands.
//!
//! Rendering is free of I/O and takes the clock as an argument, like
//! [`render`], so every format is unit-tested.

use chinwag_client::{MemberInfo, MuteState, NoticeKind, RoomInfo, RoomMode, RoomNotice, RoomRole};
use std::time::Duration;

use serde_json::{Value, json};

use crate::exit::{Exit, Failure};
use crate::oneshot::{print, with_session};
use crate::render::{self, Clock, sanitize};
use crate::session::Target;

/// The room subcommands of `chinwag`.
#[derive(Debug, clap::Subcommand)]
pub enum RoomCommand {
    /// Join a room, creating it (and owning it) if it does not exist.
    ///
    /// A guest's membership ends when its connection does, so as a guest
    /// join from `listen --join`, the line mode or the full-screen chat;
    /// an account (--password) stays a member until it leaves.
    #[command(after_help = "Example: chinwag --name alice join '#general'")]
    Join {
        /// The room: '#' and 1 to 32 letters, digits, '_' or '-'.
        room: String,
        /// The room's password; when creating the room, protects it.
        #[arg(
            long,
            value_name = "PW",
            env = "CHINWAG_ROOM_PASSWORD",
            hide_env_values = true
        )]
        room_password: Option<String>,
    },
    /// Leave a room.
    Leave {
        room: String,
        /// Why; shown to the other members.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// List the rooms: name, members, mode, your role, topic.
    Rooms {
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// List a room's members.
    Members {
        room: String,
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Send a message to a room you are a member of.
    #[command(after_help = "Example: chinwag --name alice --password pw say '#general' hello all")]
    Say {
        room: String,
        /// The message; several words are joined with spaces.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        text: Vec<String>,
    },
    /// Show a room's topic, or set it (room operators).
    Topic {
        room: String,
        /// The new topic; several words are joined with spaces. Without
        /// it, the topic is shown.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        text: Vec<String>,
    },
    /// Moderate a room: operators, kicks, mutes, modes, invitations.
    Room(ModerateArgs),
}

#[derive(Debug, clap::Args)]
pub struct ModerateArgs {
    /// Act as a server administrator (who may moderate any room) with this
    /// password.
    #[arg(
        long,
        value_name = "PW",
        env = "CHINWAG_ADMIN_PASSWORD",
        hide_env_values = true
    )]
    admin_password: Option<String>,

    #[command(subcommand)]
    action: Moderate,
}

#[derive(Debug, clap::Subcommand)]
pub enum Moderate {
    /// Make a member an operator (the owner only).
    Op { room: String, user: String },
    /// Make an operator a plain member again (the owner only).
    Deop { room: String, user: String },
    /// Put a member out of the room.
    Kick {
        room: String,
        user: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Stop a member from talking in the room.
    Mute {
        room: String,
        user: String,
        /// How long, like 30s or 10m; without it, until lifted.
        #[arg(long = "for", value_name = "DURATION", value_parser = humantime::parse_duration)]
        duration: Option<Duration>,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Lift a member's mute in the room.
    Unmute { room: String, user: String },
    /// Let a user in once, whatever the room's mode.
    Invite { room: String, user: String },
    /// Make the room invite-only and/or password-protected, or open it.
    #[command(
        after_help = "Example: chinwag --name alice room mode '#general' --invite-only on --room-password s3cret"
    )]
    Mode {
        room: String,
        /// Only invited users may join.
        #[arg(long, value_name = "on|off", value_parser = on_off)]
        invite_only: Option<bool>,
        /// Require this password to join.
        #[arg(long, value_name = "PW", conflicts_with = "no_password")]
        room_password: Option<String>,
        /// Remove the password.
        #[arg(long)]
        no_password: bool,
    },
}

fn on_off(value: &str) -> Result<bool, String> {
    match value {
        "on" | "yes" | "true" => Ok(true),
        "off" | "no" | "false" => Ok(false),
        other => Err(format!("{other:?}: say on or off")),
    }
}

/// Runs a room subcommand on a fresh connection.
pub async fn run(target: &Target, command: RoomCommand) -> Result<Exit, Failure> {
    with_session(target, |client| async move {
        match command {
            RoomCommand::Join {
                room,
                room_password,
            } => {
                let info = client.join(&room, room_password.as_deref()).await?;
                print(&describe(&RoomReply::Joined(info), "", Clock::Utc))
            }
            RoomCommand::Leave { room, reason } => {
                client.leave(&room, &reason).await?;
                print(&format!("left {room}"))
            }
            RoomCommand::Rooms { json } => {
                let rooms = client.rooms().await?;
                if json {
                    print(&rooms_json(&rooms).to_string())
                } else {
                    print(rooms_table(&rooms).trim_end())
                }
            }
            RoomCommand::Members { room, json } => {
                let members = client.members(&room).await?;
                if json {
                    print(&members_json(&members).to_string())
                } else {
                    print(members_table(&members, chinwag_client::Timestamp::now()).trim_end())
                }
            }
            RoomCommand::Say { room, text } => {
                let sent = client.say(&room, &text.join(" ")).await?;
                print(&format!(
                    "sent to {} connection(s) in {room}",
                    sent.recipients
                ))
            }
            RoomCommand::Topic { room, text } if text.is_empty() => {
                match client.room(&room).await? {
                    Some(info) => print(&describe(&RoomReply::Topic(info), "", Clock::Utc)),
                    None => Err(Failure::from(chinwag_client::ClientError::InvalidInput(
                        format!("there is no room {room}"),
                    ))),
                }
            }
            RoomCommand::Topic { room, text } => {
                let info = client.set_topic(&room, &text.join(" ")).await?;
                print(&describe(&RoomReply::Topic(info), "", Clock::Utc))
            }
            RoomCommand::Room(ModerateArgs {
                admin_password,
                action,
            }) => {
                if let Some(password) = admin_password {
                    client.admin(&password).await?;
                }
                print(&moderate(&client, action).await?)
            }
        }
    })
    .await
}

/// A moderation act on a room, from the command line or a typed line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Act {
    Op(String),
    Deop(String),
    Kick {
        user: String,
        reason: String,
    },
    Mute {
        user: String,
        duration: Option<Duration>,
        reason: String,
    },
    Unmute(String),
    Invite(String),
    /// `None` keeps a setting as it is; `password: Some(None)` removes it.
    Mode {
        invite_only: Option<bool>,
        password: Option<Option<String>>,
    },
}

impl Moderate {
    fn into_act(self) -> (String, Act) {
        match self {
            Moderate::Op { room, user } => (room, Act::Op(user)),
            Moderate::Deop { room, user } => (room, Act::Deop(user)),
            Moderate::Kick { room, user, reason } => (room, Act::Kick { user, reason }),
            Moderate::Mute {
                room,
                user,
                duration,
                reason,
            } => (
                room,
                Act::Mute {
                    user,
                    duration,
                    reason,
                },
            ),
            Moderate::Unmute { room, user } => (room, Act::Unmute(user)),
            Moderate::Invite { room, user } => (room, Act::Invite(user)),
            Moderate::Mode {
                room,
                invite_only,
                room_password,
                no_password,
            } => (
                room,
                Act::Mode {
                    invite_only,
                    password: if no_password {
                        Some(None)
                    } else {
                        room_password.map(Some)
                    },
                },
            ),
        }
    }
}

async fn moderate(
    client: &chinwag_client::Client,
    action: Moderate,
) -> Result<String, chinwag_client::ClientError> {
    let (room, act) = action.into_act();
    apply(client, &room, act).await
}

/// Does a moderation act; returns what to tell the user.
pub async fn apply(
    client: &chinwag_client::Client,
    room: &str,
    act: Act,
) -> Result<String, chinwag_client::ClientError> {
    Ok(match act {
        Act::Op(user) => {
            client.room_op(room, &user, true).await?;
            format!("{user} is now an operator of {room}")
        }
        Act::Deop(user) => {
            client.room_op(room, &user, false).await?;
            format!("{user} is now a member of {room}")
        }
        Act::Kick { user, reason } => {
            client.room_kick(room, &user, &reason).await?;
            format!("kicked {user} out of {room}")
        }
        Act::Mute {
            user,
            duration,
            reason,
        } => {
            client.room_mute(room, &user, duration, &reason).await?;
            match duration {
                Some(d) => format!("muted {user} in {room} for {}", render::duration(d)),
                None => format!("muted {user} in {room} until lifted"),
            }
        }
        Act::Unmute(user) => {
            client.room_unmute(room, &user).await?;
            format!("{user} may talk in {room} again")
        }
        Act::Invite(user) => {
            client.invite(room, &user).await?;
            format!("invited {user} to {room}")
        }
        Act::Mode {
            invite_only,
            password,
        } => {
            // What is not given keeps its current value.
            let current = client.room(room).await?.map(|r| r.mode).unwrap_or_default();
            let invite_only = invite_only.unwrap_or(current.invite_only());
            let (has_password, new_password) = match password {
                None => (current.password(), None),
                Some(None) => (false, None),
                Some(Some(p)) => (true, Some(p)),
            };
            // The other flags (moderation, secrecy, ...) stay as they are.
            let mode = current
                .with(RoomMode::INVITE_ONLY, invite_only)
                .with(RoomMode::PASSWORD, has_password);
            client
                .room_mode(room, mode, new_password.as_deref())
                .await?;
            format!("{room} is now {mode}")
        }
    })
}

/// Understands a moderation line (`/op`, `/deop`, `/rkick`, `/rmute`,
/// `/runmute`, `/invite`, `/mode`); `None` if `verb` is not one.
fn parse_act(verb: &str, rest: &str) -> Option<Result<Act, String>> {
    let usage = |u: &str| Err(format!("usage: /{verb} {u}"));
    let (user, after) = split_word(rest);
    let needs_user = |act: fn(String) -> Act| {
        if user.is_empty() {
            usage("[#ROOM] NAME")
        } else {
            Ok(act(user.to_owned()))
        }
    };
    Some(match verb {
        "op" => needs_user(Act::Op),
        "deop" => needs_user(Act::Deop),
        "runmute" => needs_user(Act::Unmute),
        "invite" => needs_user(Act::Invite),
        "rkick" if !user.is_empty() => Ok(Act::Kick {
            user: user.to_owned(),
            reason: after.to_owned(),
        }),
        "rkick" => usage("[#ROOM] NAME [REASON]"),
        "rmute" if !user.is_empty() => {
            let (first, rest) = split_word(after);
            let (duration, reason) = match humantime::parse_duration(first) {
                Ok(d) => (Some(d), rest),
                Err(_) => (None, after),
            };
            Ok(Act::Mute {
                user: user.to_owned(),
                duration,
                reason: reason.to_owned(),
            })
        }
        "rmute" => usage("[#ROOM] NAME [DURATION] [REASON]"),
        "mode" => {
            let mut invite_only = None;
            let mut password = None;
            let mut words = rest.split_whitespace();
            while let Some(word) = words.next() {
                match word {
                    "+i" => invite_only = Some(true),
                    "-i" => invite_only = Some(false),
                    "-k" => password = Some(None),
                    "+k" => match words.next() {
                        Some(p) => password = Some(Some(p.to_owned())),
                        None => return Some(usage("[#ROOM] [+i|-i] [+k PASSWORD|-k]")),
                    },
                    _ => return Some(usage("[#ROOM] [+i|-i] [+k PASSWORD|-k]")),
                }
            }
            if invite_only.is_none() && password.is_none() {
                return Some(usage("[#ROOM] [+i|-i] [+k PASSWORD|-k]"));
            }
            Ok(Act::Mode {
                invite_only,
                password,
            })
        }
        _ => return None,
    })
}

/// `* #general: bob joined`, `* #general: alice set the topic: ...`, after
/// the time.
pub fn notice(n: &RoomNotice, clock: Clock) -> String {
    format!(
        "[{}] * {}: {}",
        clock.hms(n.ts),
        sanitize(&n.room),
        notice_body(n)
    )
}

/// What a room notice says, without the time and the room.
pub fn notice_body(n: &RoomNotice) -> String {
    let actor = sanitize(&n.actor);
    let subject = sanitize(&n.subject);
    let text = sanitize(&n.text);
    match n.kind {
        NoticeKind::RoomJoined => format!("{subject} joined"),
        NoticeKind::RoomLeft if text.is_empty() => format!("{subject} left"),
        NoticeKind::RoomLeft => format!("{subject} left ({text})"),
        NoticeKind::RoomTopic if text.is_empty() => format!("{actor} cleared the topic"),
        NoticeKind::RoomTopic => format!("{actor} set the topic: {text}"),
        NoticeKind::RoomKicked if text.is_empty() => format!("you were put out by {actor}"),
        NoticeKind::RoomKicked => format!("you were put out by {actor}: {text}"),
        NoticeKind::RoomMuted => {
            let how_long = match MuteState::from_wire(n.until) {
                MuteState::UntilLifted | MuteState::NotMuted => "until lifted".to_owned(),
                MuteState::Until(end) => format!(
                    "for {}",
                    render::duration(std::time::Duration::from_millis(
                        end.0.saturating_sub(n.ts.0).saturating_add(500) / 1000 * 1000
                    ))
                ),
            };
            let reason = if text.is_empty() {
                String::new()
            } else {
                format!(" ({text})")
            };
            format!("you are muted here by {actor} {how_long}{reason}")
        }
        NoticeKind::RoomUnmuted => "you may talk here again".to_owned(),
        NoticeKind::RoomRole => {
            let role = role_name(u8::try_from(n.until).unwrap_or(0));
            if actor.is_empty() {
                format!("{subject} is now the {role}")
            } else {
                format!("{actor} made {subject} {role}")
            }
        }
        NoticeKind::RoomMode => {
            let mode = u8::try_from(n.until)
                .ok()
                .and_then(RoomMode::from_bits)
                .map_or_else(|| format!("mode {}", n.until), |m| m.to_string());
            format!("{actor} made the room {mode}")
        }
        NoticeKind::RoomInvited => format!("{actor} invited you"),
        other => format!("notice {}{}", other.to_u8(), suffix(&text)),
    }
}

fn suffix(text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}

fn role_name(role: u8) -> &'static str {
    RoomRole::from_u8(role).map_or("?", |r| match r {
        RoomRole::None => "not a member",
        RoomRole::Member => "a member",
        RoomRole::Operator => "an operator",
        RoomRole::Owner => "owner",
    })
}

pub fn notice_json(n: &RoomNotice) -> Value {
    let mut v = json!({
        "type": "room_notice",
        "kind": n.kind.name(),
        "room": &*n.room,
        "actor": &*n.actor,
        "subject": &*n.subject,
        "text": &*n.text,
        "ts": n.ts.0,
    });
    match n.kind {
        NoticeKind::RoomMuted => {
            v["until"] = match MuteState::from_wire(n.until) {
                MuteState::Until(end) => json!(end.0),
                MuteState::UntilLifted | MuteState::NotMuted => Value::Null,
            }
        }
        NoticeKind::RoomRole => {
            v["role"] = json!(
                RoomRole::from_u8(u8::try_from(n.until).unwrap_or(0)).map_or("?", RoomRole::name)
            )
        }
        NoticeKind::RoomMode => v["mode"] = json!(n.until),
        _ => {}
    }
    v
}

/// The room list as a table: name, members, mode, your role, topic.
pub fn rooms_table(rooms: &[RoomInfo]) -> String {
    let mut rows = vec![
        ["ROOM", "MEMBERS", "MODE", "YOU", "TOPIC"]
            .map(String::from)
            .to_vec(),
    ];
    for r in rooms {
        rows.push(vec![
            sanitize(&r.room).into_owned(),
            r.members.to_string(),
            r.mode.to_string(),
            if r.role == RoomRole::None {
                "-".to_owned()
            } else {
                r.role.name().to_owned()
            },
            sanitize(&r.topic).into_owned(),
        ]);
    }
    render::table(&rows)
}

pub fn rooms_json(rooms: &[RoomInfo]) -> Value {
    Value::Array(rooms.iter().map(room_json).collect())
}

pub fn room_json(r: &RoomInfo) -> Value {
    json!({
        "room": &*r.room,
        "topic": &*r.topic,
        "members": r.members,
        "invite_only": r.mode.invite_only(),
        "password": r.mode.password(),
        "role": r.role.name(),
    })
}

/// The member list as a table: name, role, online, room mute.
pub fn members_table(members: &[MemberInfo], now: chinwag_client::Timestamp) -> String {
    let mut rows = vec![
        ["NAME", "ROLE", "ONLINE", "MUTED"]
            .map(String::from)
            .to_vec(),
    ];
    for m in members {
        rows.push(vec![
            sanitize(&m.name).into_owned(),
            m.role.name().to_owned(),
            if m.online { "yes" } else { "no" }.to_owned(),
            render::muted(m.muted, now),
        ]);
    }
    render::table(&rows)
}

pub fn members_json(members: &[MemberInfo]) -> Value {
    Value::Array(
        members
            .iter()
            .map(|m| {
                let mut v = json!({
                    "name": &*m.name,
                    "role": m.role.name(),
                    "online": m.online,
                    "muted": m.muted != MuteState::NotMuted,
                });
                if let MuteState::Until(end) = m.muted {
                    v["muted_until"] = json!(end.0);
                }
                v
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chinwag_client::Timestamp;

    fn note(kind: NoticeKind, actor: &str, subject: &str, until: u64, text: &str) -> RoomNotice {
        RoomNotice {
            kind,
            ts: Timestamp(0),
            room: "#general".into(),
            actor: actor.into(),
            subject: subject.into(),
            until,
            text: text.into(),
        }
    }

    #[test]
    fn room_notices_for_humans() {
        let h = |n: RoomNotice| notice(&n, Clock::Utc);
        assert_eq!(
            h(note(NoticeKind::RoomJoined, "", "bob", 0, "")),
            "[00:00:00] * #general: bob joined"
        );
        assert_eq!(
            notice_body(&note(
                NoticeKind::RoomLeft,
                "alice",
                "bob",
                0,
                "kicked by alice: spam"
            )),
            "bob left (kicked by alice: spam)"
        );
        assert_eq!(
            notice_body(&note(
                NoticeKind::RoomTopic,
                "alice",
                "",
                0,
                "Rust\u{1b}[2J"
            )),
            "alice set the topic: Rust\u{fffd}[2J"
        );
        assert_eq!(
            notice_body(&note(NoticeKind::RoomMuted, "bob", "carol", 60_000, "")),
            "you are muted here by bob for 1m"
        );
        assert_eq!(
            notice_body(&note(NoticeKind::RoomRole, "alice", "bob", 2, "")),
            "alice made bob an operator"
        );
        assert_eq!(
            notice_body(&note(NoticeKind::RoomRole, "", "bob", 3, "")),
            "bob is now the owner"
        );
        assert_eq!(
            notice_body(&note(NoticeKind::RoomMode, "alice", "", 43, "")),
            "alice made the room invite-only, password"
        );
    }

    #[test]
    fn room_notices_as_json() {
        let v = notice_json(&note(NoticeKind::RoomMuted, "bob", "carol", u64::MAX, "x"));
        assert_eq!(v["type"], "room_notice");
        assert_eq!(v["kind"], "room-muted");
        assert_eq!(v["room"], "#general");
        assert_eq!(v["until"], Value::Null);
    }

    #[test]
    fn room_and_member_tables() {
        let rooms = [RoomInfo {
            room: "#general".into(),
            topic: "chat".into(),
            members: 3,
            mode: RoomMode::NEW.with(RoomMode::INVITE_ONLY, true),
            role: RoomRole::Owner,
            ..Default::default()
        }];
        assert_eq!(
            rooms_table(&rooms),
            "ROOM      MEMBERS  MODE         YOU    TOPIC\n#general  3        invite-only  owner  chat\n"
        );
        assert_eq!(rooms_json(&rooms)[0]["invite_only"], true);
        let members = [MemberInfo {
            name: "carol".into(),
            role: RoomRole::Member,
            online: false,
            muted: MuteState::UntilLifted,
            voiced: false,
        }];
        assert_eq!(
            members_table(&members, Timestamp(0)),
            "NAME   ROLE    ONLINE  MUTED\ncarol  member  no      muted until lifted\n"
        );
        assert_eq!(members_json(&members)[0]["muted"], true);
    }
}

/// A room command typed in the line mode or the terminal UI. A room left
/// out (`None`) means the open room conversation, in the UI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoomLine {
    /// `/join #room [PASSWORD]`
    Join {
        room: String,
        password: Option<String>,
    },
    /// `/leave [#room] [REASON]`
    Leave {
        room: Option<String>,
        reason: String,
    },
    /// `/say #room TEXT`
    Say { room: String, text: String },
    /// `/topic [#room] [TEXT]`: without TEXT, show the topic.
    Topic { room: Option<String>, text: String },
    /// `/members [#room]`
    Members(Option<String>),
    /// `/rooms`
    List,
    /// `/op`, `/deop`, `/rkick`, `/rmute`, `/runmute`, `/invite`, `/mode`,
    /// each with an optional `#room` first.
    Moderate { room: Option<String>, act: Act },
}

/// Understands a room command (`verb` without its `/`); `None` if `verb`
/// is not one.
pub fn parse_line(verb: &str, rest: &str) -> Option<Result<RoomLine, String>> {
    let usage = |u: &str| Err(format!("usage: {u}"));
    let (first, after) = split_word(rest);
    // An optional room comes first and starts with '#'.
    let (room, after_room) = if first.starts_with('#') {
        (Some(first.to_owned()), after)
    } else {
        (None, rest)
    };
    Some(match verb {
        "join" | "j" => match (first, after) {
            ("", _) => usage("/join #ROOM [PASSWORD]"),
            (room, password) => Ok(RoomLine::Join {
                room: room.to_owned(),
                password: (!password.is_empty()).then(|| password.to_owned()),
            }),
        },
        "leave" | "part" => Ok(RoomLine::Leave {
            room,
            reason: after_room.to_owned(),
        }),
        "say" => match (room, after_room) {
            (Some(room), text) if !text.is_empty() => Ok(RoomLine::Say {
                room,
                text: text.to_owned(),
            }),
            _ => usage("/say #ROOM TEXT"),
        },
        "topic" => Ok(RoomLine::Topic {
            room,
            text: after_room.to_owned(),
        }),
        "members" | "names" => Ok(RoomLine::Members(room)),
        "rooms" | "list" => Ok(RoomLine::List),
        _ => {
            return parse_act(verb, after_room)
                .map(|act| act.map(|act| RoomLine::Moderate { room, act }));
        }
    })
}

/// The first word and the rest, both trimmed.
fn split_word(text: &str) -> (&str, &str) {
    let text = text.trim_start();
    match text.split_once(char::is_whitespace) {
        Some((word, rest)) => (word, rest.trim()),
        None => (text, ""),
    }
}

/// What a room command came back with.
#[derive(Clone, Debug)]
pub enum RoomReply {
    Joined(RoomInfo),
    Left(String),
    Sent {
        room: String,
        text: String,
        sent: chinwag_client::Sent,
    },
    /// The room after its topic was set, or to show its topic.
    Topic(RoomInfo),
    Members {
        room: String,
        members: Vec<MemberInfo>,
    },
    List(Vec<RoomInfo>),
    /// A moderation act was done; what to say.
    Done(String),
}

/// Runs a room command whose room is known.
pub async fn execute(
    client: &chinwag_client::Client,
    line: RoomLine,
) -> Result<RoomReply, chinwag_client::ClientError> {
    use chinwag_client::ClientError;
    let which = |room: Option<String>, usage: &str| {
        room.ok_or_else(|| ClientError::InvalidInput(format!("say which room: {usage}")))
    };
    Ok(match line {
        RoomLine::Join { room, password } => {
            RoomReply::Joined(client.join(&room, password.as_deref()).await?)
        }
        RoomLine::Leave { room, reason } => {
            let room = which(room, "/leave #ROOM")?;
            client.leave(&room, &reason).await?;
            RoomReply::Left(room)
        }
        RoomLine::Say { room, text } => {
            let sent = client.say(&room, &text).await?;
            RoomReply::Sent { room, text, sent }
        }
        RoomLine::Topic { room, text } => {
            let room = which(room, "/topic #ROOM [TEXT]")?;
            if text.is_empty() {
                let info = client
                    .room(&room)
                    .await?
                    .ok_or_else(|| ClientError::InvalidInput(format!("there is no room {room}")))?;
                RoomReply::Topic(info)
            } else {
                RoomReply::Topic(client.set_topic(&room, &text).await?)
            }
        }
        RoomLine::Members(room) => {
            let room = which(room, "/members #ROOM")?;
            let members = client.members(&room).await?;
            RoomReply::Members { room, members }
        }
        RoomLine::List => RoomReply::List(client.rooms().await?),
        RoomLine::Moderate { room, act } => {
            let room = which(room, "/op #ROOM NAME and the like")?;
            RoomReply::Done(apply(client, &room, act).await?)
        }
    })
}

/// One line (or a few) saying what a room command did.
pub fn describe(reply: &RoomReply, me: &str, clock: Clock) -> String {
    match reply {
        RoomReply::Joined(info) => {
            let mut text = format!(
                "you are in {} ({} member{}, you are {})",
                sanitize(&info.room),
                info.members,
                if info.members == 1 { "" } else { "s" },
                info.role.name()
            );
            if !info.topic.is_empty() {
                text.push_str(&format!("; topic: {}", sanitize(&info.topic)));
            }
            text
        }
        RoomReply::Left(room) => format!("you left {}", sanitize(room)),
        RoomReply::Sent { room, text, sent } => render::message(
            &chinwag_client::Message {
                id: sent.id,
                ts: sent.ts,
                kind: chinwag_client::MessageKind::Room,
                from: me.into(),
                to: room.as_str().into(),
                text: text.as_str().into(),
                ..Default::default()
            },
            clock,
        ),
        RoomReply::Topic(info) if info.topic.is_empty() => {
            format!("{} has no topic", sanitize(&info.room))
        }
        RoomReply::Topic(info) => {
            format!(
                "topic of {}: {}",
                sanitize(&info.room),
                sanitize(&info.topic)
            )
        }
        RoomReply::Members { room, members } => {
            let names: Vec<String> = members
                .iter()
                .map(|m| {
                    let mark = match m.role {
                        RoomRole::Owner => "~",
                        RoomRole::Operator => "@",
                        RoomRole::Member | RoomRole::None => "",
                    };
                    let away = if m.online { "" } else { " (offline)" };
                    format!("{mark}{}{away}", sanitize(&m.name))
                })
                .collect();
            format!(
                "{} member{} of {}: {}",
                members.len(),
                if members.len() == 1 { "" } else { "s" },
                sanitize(room),
                names.join(", ")
            )
        }
        RoomReply::List(rooms) if rooms.is_empty() => "there are no rooms".to_owned(),
        RoomReply::List(rooms) => rooms_table(rooms).trim_end().to_owned(),
        RoomReply::Done(text) => text.clone(),
    }
}

#[cfg(test)]
mod line_tests {
    use super::*;

    #[test]
    fn room_commands_parse() {
        assert_eq!(
            parse_line("join", "#general s3cret"),
            Some(Ok(RoomLine::Join {
                room: "#general".into(),
                password: Some("s3cret".into())
            }))
        );
        assert_eq!(
            parse_line("leave", "going home"),
            Some(Ok(RoomLine::Leave {
                room: None,
                reason: "going home".into()
            }))
        );
        assert_eq!(
            parse_line("leave", "#general bye"),
            Some(Ok(RoomLine::Leave {
                room: Some("#general".into()),
                reason: "bye".into()
            }))
        );
        assert_eq!(
            parse_line("say", "#general hi all"),
            Some(Ok(RoomLine::Say {
                room: "#general".into(),
                text: "hi all".into()
            }))
        );
        assert_eq!(
            parse_line("say", "hi all"),
            Some(Err("usage: /say #ROOM TEXT".into()))
        );
        assert_eq!(
            parse_line("topic", "#general"),
            Some(Ok(RoomLine::Topic {
                room: Some("#general".into()),
                text: String::new()
            }))
        );
        assert_eq!(
            parse_line("topic", "new topic"),
            Some(Ok(RoomLine::Topic {
                room: None,
                text: "new topic".into()
            }))
        );
        assert_eq!(parse_line("rooms", ""), Some(Ok(RoomLine::List)));
        assert_eq!(
            parse_line("join", ""),
            Some(Err("usage: /join #ROOM [PASSWORD]".into()))
        );
        assert_eq!(parse_line("msg", "bob hi"), None);
        assert_eq!(
            parse_line("rmute", "#general carol 10m calm down"),
            Some(Ok(RoomLine::Moderate {
                room: Some("#general".into()),
                act: Act::Mute {
                    user: "carol".into(),
                    duration: Some(Duration::from_secs(600)),
                    reason: "calm down".into()
                }
            }))
        );
        assert_eq!(
            parse_line("op", "bob"),
            Some(Ok(RoomLine::Moderate {
                room: None,
                act: Act::Op("bob".into())
            }))
        );
        assert_eq!(
            parse_line("mode", "#k +i +k s3cret"),
            Some(Ok(RoomLine::Moderate {
                room: Some("#k".into()),
                act: Act::Mode {
                    invite_only: Some(true),
                    password: Some(Some("s3cret".into()))
                }
            }))
        );
        assert_eq!(
            parse_line("mode", "#k sideways"),
            Some(Err("usage: /mode [#ROOM] [+i|-i] [+k PASSWORD|-k]".into()))
        );
    }
}
