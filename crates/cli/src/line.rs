//! The interactive line mode: read lines from stdin, print events as they
//! arrive. A line is a broadcast unless it starts with `/`.
//!
//! Events are printed by their own task, so that a command waiting for its
//! reply never stops the events (and the replies behind them) from being
//! read.

use std::io::{BufRead, IsTerminal};
use std::time::Duration;

use chinwag_client::{Client, ClientError, HistoryQuery, Message, MessageKind, Sent, Timestamp};
use chinwag_proto::request::BROADCAST_CONVERSATION;
use tokio::sync::mpsc;

use crate::exit::{Exit, Failure};
use crate::listen::{self, Ending};
use crate::render::{self, Clock, Format};
use crate::rooms::{self, RoomLine};
use crate::session::{self, Target, print_line};

pub const HELP: &str = "\
commands:
  TEXT                      send TEXT to everyone
  /all TEXT                 the same
  /msg NAME TEXT            send TEXT to NAME only
  /me TEXT                  an action, to everyone: `* you TEXT`
  /users                    list who is online
  /echo TEXT                have the server echo TEXT, and show the round trip
  /admin PASSWORD           become an administrator
  /kick NAME [REASON]       disconnect NAME (administrators)
  /mute NAME [FOR] [REASON] mute NAME for FOR (e.g. 10m), or until lifted (administrators)
  /unmute NAME              let NAME talk again (administrators)
  /ban NAME|ADDRESS [FOR] [REASON]  ban an account or an address (CIDR too), for FOR or for good (administrators)
  /unban NAME|ADDRESS       lift a ban (administrators)
  /audit [N]                the last N (default 20) moderation acts (administrators)
  /away [REASON]            say you are away (shown in the user list); alone, you are back
  /whois NAME               who NAME is: role, mute, sessions, idle, away, rooms in common
  /ignore [NAME]            stop being shown NAME's messages (kept for your account); alone, list whom you ignore
  /unignore NAME            be shown NAME's messages again
  /shutdown [REASON]        stop the server (administrators)
  /history [NAME|#ROOM|all] the last messages with NAME (accounts), of ROOM, or of everyone
  /passwd OLD NEW           change your account's password
  /join #ROOM [PASSWORD]    join ROOM, creating it if it does not exist
  /leave #ROOM [REASON]     leave ROOM
  /say #ROOM TEXT           send TEXT to ROOM
  /topic #ROOM [TEXT]       show ROOM's topic, or set it (operators)
  /members #ROOM            list ROOM's members
  /rooms                    list the rooms
  /op #ROOM NAME            make NAME an operator of ROOM (its owner); /deop undoes it
  /rkick #ROOM NAME [REASON]   put NAME out of ROOM (room operators)
  /rmute #ROOM NAME [FOR] [REASON]  mute NAME in ROOM (room operators); /runmute lifts it
  /invite #ROOM NAME        let NAME into ROOM once (room operators)
  /mode #ROOM [+i|-i] [+k PASSWORD|-k]  invite-only on/off, password on/off
  /help                     this list
  /quit                     log out and exit (end of input does the same)";

/// One line of input, understood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    Empty,
    Broadcast(String),
    Msg {
        to: String,
        text: String,
    },
    Users,
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
    /// Stored messages of a conversation: `with` a user, `*` for the
    /// broadcasts, or `None` for the default one (everyone in the line
    /// mode, the open conversation in the UI).
    History {
        with: Option<String>,
    },
    Passwd {
        old: String,
        new: String,
    },
    /// A room command: /join, /leave, /say, /topic, /members, /rooms.
    Room(RoomLine),
    /// /ban, /unban, /audit.
    Moderation(Moderation),
    /// `/away [REASON]`: empty, back.
    Away(String),
    /// `/whois NAME`.
    Whois(String),
    /// `/ignore NAME`, `/unignore NAME`; `/ignore` alone lists (`name`
    /// `None`).
    Ignore {
        name: Option<String>,
        ignore: bool,
    },
    Help,
    Quit,
}

/// The administrators' commands answered with text alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Moderation {
    Ban {
        target: String,
        duration: Option<Duration>,
        reason: String,
    },
    Unban(String),
    Audit {
        limit: u16,
    },
}

/// How many audit entries `/audit` shows unless told.
pub const AUDIT_PAGE: u16 = 20;

impl Moderation {
    /// Runs it; the answer as the user reads it.
    pub async fn execute(self, client: &Client) -> Result<String, ClientError> {
        match self {
            Moderation::Ban {
                target,
                duration,
                reason,
            } => {
                client.ban(&target, duration, &reason).await?;
                Ok(match duration {
                    Some(d) => format!("banned {target} for {}", render::duration(d)),
                    None => format!("banned {target} for good"),
                })
            }
            Moderation::Unban(target) => {
                client.unban(&target).await?;
                Ok(format!("unbanned {target}"))
            }
            Moderation::Audit { limit } => {
                let entries = client.audit(None, limit).await?;
                Ok(if entries.is_empty() {
                    "the audit log is empty".to_owned()
                } else {
                    render::audit_table(&entries, Timestamp::now())
                        .trim_end()
                        .to_owned()
                })
            }
        }
    }
}

/// `/away [REASON]`: the answer as the user reads it.
pub async fn away(client: &Client, reason: &str) -> Result<String, ClientError> {
    client.profile("", "", reason).await?;
    Ok(if reason.is_empty() {
        "you are back".to_owned()
    } else {
        format!("you are away: {reason}")
    })
}

/// `/whois NAME`: what the server shows of a user online, and the rooms
/// the asker shares with it.
pub async fn whois(client: &Client, name: &str) -> Result<String, ClientError> {
    let users = client.users().await?;
    let Some(user) = users.iter().find(|u| same_name(&u.name, name)) else {
        return Ok(format!("{name} is not online"));
    };
    let now = Timestamp::now();
    let mut lines = vec![format!(
        "{}: {}, online for {}",
        render::sanitize(&user.name),
        match user.role {
            chinwag_client::Role::Admin => "administrator",
            _ => "user",
        },
        render::duration(std::time::Duration::from_millis(
            now.0.saturating_sub(user.connected_at.0) / 1000 * 1000
        ))
    )];
    if user.muted.at(now) != chinwag_client::MuteState::NotMuted {
        lines.push(format!("  {}", render::muted(user.muted, now)));
    }
    if user.sessions > 1 {
        lines.push(format!("  {} sessions", user.sessions));
    }
    if user.last_spoke.0 != 0 {
        lines.push(format!(
            "  idle {}",
            render::duration(std::time::Duration::from_millis(
                now.0.saturating_sub(user.last_spoke.0) / 1000 * 1000
            ))
        ));
    }
    if !user.away.is_empty() {
        lines.push(format!("  away: {}", render::sanitize(&user.away)));
    }
    if !user.realname.is_empty() {
        lines.push(format!("  real name: {}", render::sanitize(&user.realname)));
    }
    let mut shared = Vec::new();
    for room in client.rooms().await? {
        if room.role == chinwag_client::RoomRole::None {
            continue;
        }
        let members = client.members(&room.room).await?;
        if members.iter().any(|m| same_name(&m.name, name)) {
            shared.push(render::sanitize(&room.room).into_owned());
        }
    }
    if !shared.is_empty() {
        lines.push(format!("  in your rooms: {}", shared.join(", ")));
    }
    Ok(lines.join("\n"))
}

/// Whether two spellings name the same user, as the server folds them.
fn same_name(a: &str, b: &str) -> bool {
    chinwag_proto::NameKey::fold(a).is_some_and(|k| chinwag_proto::NameKey::fold(b) == Some(k))
}

/// `/ignore NAME`, `/unignore NAME`, or `/ignore` alone: the answer as
/// the user reads it, the same in both modes.
pub async fn ignoring(
    client: &Client,
    name: Option<String>,
    ignore: bool,
) -> Result<String, ClientError> {
    match name {
        Some(name) => client.ignore(&name, ignore).await,
        None => {
            let names = client.ignores().await?;
            Ok(if names.is_empty() {
                "you ignore nobody".to_owned()
            } else {
                format!("you ignore: {}", names.join(", "))
            })
        }
    }
}

/// `[DURATION] [REASON]`: a first word that reads as a duration (`10m`)
/// is one; the rest is the reason.
fn duration_then_reason(rest: &str) -> (Option<Duration>, &str) {
    let (first, after) = split_word(rest);
    match humantime::parse_duration(first) {
        Ok(d) => (Some(d), after),
        Err(_) => (None, rest),
    }
}

/// How many messages `/history` shows.
pub const HISTORY_PAGE: u16 = 50;

/// Understands a line, or says what is wrong with it.
pub fn parse(line: &str) -> Result<Line, String> {
    let line = line.trim_end_matches(['\r', '\n']);
    let Some(command) = line.strip_prefix('/') else {
        return Ok(if line.trim().is_empty() {
            Line::Empty
        } else {
            Line::Broadcast(line.to_owned())
        });
    };
    let (verb, rest) = split_word(command);
    let usage = |u: &str| format!("usage: {u}");
    if let Some(room) = rooms::parse_line(verb, rest) {
        return room.map(Line::Room);
    }
    Ok(match verb {
        "all" if !rest.is_empty() => Line::Broadcast(rest.to_owned()),
        "all" => return Err(usage("/all TEXT")),
        "msg" => match split_word(rest) {
            (to, text) if !to.is_empty() && !text.is_empty() => Line::Msg {
                to: to.to_owned(),
                text: text.to_owned(),
            },
            _ => return Err(usage("/msg NAME TEXT")),
        },
        "users" => Line::Users,
        "echo" if !rest.is_empty() => Line::Echo(rest.to_owned()),
        "echo" => return Err(usage("/echo TEXT")),
        "admin" if !rest.is_empty() => Line::Admin(rest.to_owned()),
        "admin" => return Err(usage("/admin PASSWORD")),
        "kick" => match split_word(rest) {
            ("", _) => return Err(usage("/kick NAME [REASON]")),
            (name, reason) => Line::Kick {
                name: name.to_owned(),
                reason: reason.to_owned(),
            },
        },
        "mute" => match split_word(rest) {
            ("", _) => return Err(usage("/mute NAME [DURATION] [REASON]")),
            (name, rest) => {
                let (duration, reason) = duration_then_reason(rest);
                Line::Mute {
                    name: name.to_owned(),
                    duration,
                    reason: reason.to_owned(),
                }
            }
        },
        "ban" => match split_word(rest) {
            ("", _) => return Err(usage("/ban NAME|ADDRESS [DURATION] [REASON]")),
            (target, rest) => {
                let (duration, reason) = duration_then_reason(rest);
                Line::Moderation(Moderation::Ban {
                    target: target.to_owned(),
                    duration,
                    reason: reason.to_owned(),
                })
            }
        },
        "unban" => match split_word(rest) {
            ("", _) => return Err(usage("/unban NAME|ADDRESS")),
            (target, _) => Line::Moderation(Moderation::Unban(target.to_owned())),
        },
        "audit" => match rest.trim() {
            "" => Line::Moderation(Moderation::Audit { limit: AUDIT_PAGE }),
            n => match n.parse::<u16>() {
                Ok(limit) if limit > 0 => Line::Moderation(Moderation::Audit { limit }),
                _ => return Err(usage("/audit [N]")),
            },
        },
        "away" => Line::Away(rest.trim().to_owned()),
        "whois" => match split_word(rest) {
            ("", _) => return Err(usage("/whois NAME")),
            (name, _) => Line::Whois(name.to_owned()),
        },
        "me" if rest.trim().is_empty() => return Err(usage("/me TEXT")),
        "me" => Line::Broadcast(chinwag_proto::text::action(rest.trim())),
        "ignore" => match split_word(rest) {
            ("", _) => Line::Ignore {
                name: None,
                ignore: true,
            },
            (name, _) => Line::Ignore {
                name: Some(name.to_owned()),
                ignore: true,
            },
        },
        "unignore" => match split_word(rest) {
            ("", _) => return Err(usage("/unignore NAME")),
            (name, _) => Line::Ignore {
                name: Some(name.to_owned()),
                ignore: false,
            },
        },
        "unmute" => match split_word(rest) {
            ("", _) => return Err(usage("/unmute NAME")),
            (name, _) => Line::Unmute(name.to_owned()),
        },
        "shutdown" => Line::Shutdown(rest.to_owned()),
        "history" => match split_word(rest) {
            ("", _) => Line::History { with: None },
            ("all" | BROADCAST_CONVERSATION, "") => Line::History {
                with: Some(BROADCAST_CONVERSATION.to_owned()),
            },
            (name, "") => Line::History {
                with: Some(name.to_owned()),
            },
            _ => return Err(usage("/history [NAME|#ROOM|all]")),
        },
        "passwd" => match split_word(rest) {
            (old, new) if !old.is_empty() && !new.is_empty() && !new.contains(' ') => {
                Line::Passwd {
                    old: old.to_owned(),
                    new: new.to_owned(),
                }
            }
            _ => return Err(usage("/passwd OLD NEW")),
        },
        "help" | "?" => Line::Help,
        "quit" | "exit" => Line::Quit,
        other => {
            return Err(format!(
                "unknown command /{other}; /help lists the commands"
            ));
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

pub async fn run(target: &Target, clock: Clock) -> Result<Exit, Failure> {
    let (client, events) = session::open(target, session::Offline::Take).await?;
    let me = client.name().unwrap_or_else(|| target.name.clone());
    if std::io::stdin().is_terminal() {
        let _ = print_line(&format!(
            "connected to {} as {me}; /help lists the commands",
            target.server
        ));
    }
    let mut printer = tokio::spawn(async move {
        let mut events = events;
        listen::print_events(&mut events, Format::Human(clock)).await
    });
    let mut lines = stdin_lines();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    // A script learns from the exit status that a line failed; the lines
    // after it still run.
    let mut a_line_failed = false;
    let ending = loop {
        tokio::select! {
            ending = &mut printer => break ending.unwrap_or(Ending::Lost(None)),
            line = lines.recv() => {
                let Some(line) = line else { break Ending::Finished };
                let outcome = match parse(&line) {
                    Ok(Line::Quit) => break Ending::Finished,
                    Ok(line) => execute(&client, &me, clock, line).await,
                    Err(problem) => Some(Err(problem)),
                };
                let text = outcome.map(|outcome| outcome.unwrap_or_else(|problem| {
                    a_line_failed = true;
                    format!("! {problem}")
                }));
                if text.is_some_and(|text| print_line(&text).is_err()) {
                    break Ending::StdoutClosed;
                }
            }
            _ = &mut ctrl_c => break Ending::Finished,
        }
    };
    if ending.wants_logout() {
        session::logout(&client).await;
    }
    match ending.exit()? {
        Exit::Success if a_line_failed => Ok(Exit::Refused),
        exit => Ok(exit),
    }
}

/// Runs one command; returns what to print: its result, or why it failed.
async fn execute(
    client: &Client,
    me: &str,
    clock: Clock,
    line: Line,
) -> Option<Result<String, String>> {
    let result = match line {
        Line::Empty | Line::Quit => return None,
        Line::Help => Ok(HELP.to_owned()),
        Line::Broadcast(text) => client
            .broadcast(&text)
            .await
            .map(|sent| own_message(sent, me, "", &text, clock)),
        Line::Msg { to, text } => client
            .send(&to, &text)
            .await
            .map(|sent| own_message(sent, me, &to, &text, clock)),
        Line::Users => client.users().await.map(|users| {
            render::users_table(&users, Timestamp::now())
                .trim_end()
                .to_owned()
        }),
        Line::Echo(text) => client.echo(&text).await.map(|echo| {
            format!(
                "echo: {} (rtt {:.3} ms)",
                render::sanitize(&echo.content),
                echo.rtt.as_secs_f64() * 1e3
            )
        }),
        Line::Admin(password) => client
            .admin(&password)
            .await
            .map(|()| "you are now an administrator".to_owned()),
        Line::Kick { name, reason } => client
            .kick(&name, &reason)
            .await
            .map(|()| format!("kicked {name}")),
        Line::Mute {
            name,
            duration,
            reason,
        } => client
            .mute(&name, duration, &reason)
            .await
            .map(|()| match duration {
                Some(d) => format!("muted {name} for {}", render::duration(d)),
                None => format!("muted {name} until lifted"),
            }),
        Line::Unmute(name) => client
            .unmute(&name)
            .await
            .map(|()| format!("unmuted {name}")),
        Line::Shutdown(reason) => client
            .shutdown(&reason)
            .await
            .map(|()| "the server is shutting down".to_owned()),
        Line::History { with } => {
            let with = with.filter(|w| w != BROADCAST_CONVERSATION);
            let query = HistoryQuery::newest(with.as_deref(), HISTORY_PAGE);
            client.history(&query).await.map(|page| {
                if page.is_empty() {
                    return "no stored messages".to_owned();
                }
                // The server sends newest first; read oldest first.
                let lines: Vec<String> = page
                    .iter()
                    .rev()
                    .map(|m| render::message(m, clock))
                    .collect();
                lines.join("\n")
            })
        }
        Line::Passwd { old, new } => client
            .passwd(&old, &new)
            .await
            .map(|()| "password changed".to_owned()),
        Line::Room(line) => rooms::execute(client, line)
            .await
            .map(|reply| rooms::describe(&reply, me, clock)),
        Line::Moderation(act) => act.execute(client).await,
        Line::Ignore { name, ignore } => ignoring(client, name, ignore).await,
        Line::Away(reason) => away(client, &reason).await,
        Line::Whois(name) => whois(client, &name).await,
    };
    Some(result.map_err(|error| match error {
        ClientError::Server { message, .. } => render::sanitize(&message).into_owned(),
        other => other.to_string(),
    }))
}

/// Our own message as the others see it, so the conversation reads whole.
fn own_message(sent: Sent, me: &str, to: &str, text: &str, clock: Clock) -> String {
    let kind = if to.is_empty() {
        MessageKind::Broadcast
    } else {
        MessageKind::Direct
    };
    let message = Message {
        id: sent.id,
        ts: sent.ts,
        kind,
        from: me.into(),
        to: to.into(),
        text: text.into(),
        ..Default::default()
    };
    render::message(&message, clock)
}

/// Lines of stdin, read on a thread of their own: a blocking read must not
/// hold up the runtime, and the process may exit while one is pending.
/// The channel closes at end of input.
fn stdin_lines() -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match stdin.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf).into_owned();
                    if tx.blocking_send(line).is_err() {
                        break;
                    }
                }
            }
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_are_broadcasts() {
        assert_eq!(
            parse("hello there\n"),
            Ok(Line::Broadcast("hello there".into()))
        );
        assert_eq!(parse("   \r\n"), Ok(Line::Empty));
        assert_eq!(parse("/all  hi"), Ok(Line::Broadcast("hi".into())));
    }

    #[test]
    fn slash_commands() {
        assert_eq!(
            parse("/msg bob how are you"),
            Ok(Line::Msg {
                to: "bob".into(),
                text: "how are you".into()
            })
        );
        assert_eq!(parse("/users"), Ok(Line::Users));
        assert_eq!(parse("/echo  x y"), Ok(Line::Echo("x y".into())));
        assert_eq!(parse("/admin s3cret"), Ok(Line::Admin("s3cret".into())));
        assert_eq!(
            parse("/kick bob spamming again"),
            Ok(Line::Kick {
                name: "bob".into(),
                reason: "spamming again".into()
            })
        );
        assert_eq!(
            parse("/mute bob 1h30m too loud"),
            Ok(Line::Mute {
                name: "bob".into(),
                duration: Some(Duration::from_secs(5400)),
                reason: "too loud".into()
            })
        );
        assert_eq!(
            parse("/mute bob too loud"),
            Ok(Line::Mute {
                name: "bob".into(),
                duration: None,
                reason: "too loud".into()
            })
        );
        assert_eq!(parse("/unmute bob"), Ok(Line::Unmute("bob".into())));
        assert_eq!(
            parse("/ban 10.0.0.0/8 1d spam wave"),
            Ok(Line::Moderation(Moderation::Ban {
                target: "10.0.0.0/8".into(),
                duration: Some(Duration::from_secs(86_400)),
                reason: "spam wave".into()
            }))
        );
        assert_eq!(
            parse("/ban eve for good"),
            Ok(Line::Moderation(Moderation::Ban {
                target: "eve".into(),
                duration: None,
                reason: "for good".into()
            }))
        );
        assert_eq!(
            parse("/unban eve"),
            Ok(Line::Moderation(Moderation::Unban("eve".into())))
        );
        assert_eq!(
            parse("/audit"),
            Ok(Line::Moderation(Moderation::Audit { limit: AUDIT_PAGE }))
        );
        assert_eq!(
            parse("/audit 5"),
            Ok(Line::Moderation(Moderation::Audit { limit: 5 }))
        );
        assert!(parse("/audit lots").is_err() && parse("/ban").is_err());
        assert_eq!(
            parse("/ignore bob"),
            Ok(Line::Ignore {
                name: Some("bob".into()),
                ignore: true
            })
        );
        assert_eq!(
            parse("/ignore"),
            Ok(Line::Ignore {
                name: None,
                ignore: true
            })
        );
        assert_eq!(
            parse("/unignore bob"),
            Ok(Line::Ignore {
                name: Some("bob".into()),
                ignore: false
            })
        );
        assert!(parse("/unignore").is_err());
        assert_eq!(
            parse("/away gone fishing"),
            Ok(Line::Away("gone fishing".into()))
        );
        assert_eq!(parse("/away"), Ok(Line::Away("".into())));
        assert_eq!(parse("/whois bob"), Ok(Line::Whois("bob".into())));
        assert!(parse("/whois").is_err());
        assert_eq!(parse("/history"), Ok(Line::History { with: None }));
        for everyone in ["/history all", "/history *"] {
            assert_eq!(
                parse(everyone),
                Ok(Line::History {
                    with: Some("*".into())
                })
            );
        }
        assert_eq!(
            parse("/history Bob"),
            Ok(Line::History {
                with: Some("Bob".into())
            })
        );
        assert_eq!(
            parse("/passwd old-one new-one"),
            Ok(Line::Passwd {
                old: "old-one".into(),
                new: "new-one".into()
            })
        );
        assert_eq!(parse("/quit"), Ok(Line::Quit));
        assert_eq!(parse("/help"), Ok(Line::Help));
    }

    #[test]
    fn bad_commands_say_why() {
        assert_eq!(parse("/msg bob"), Err("usage: /msg NAME TEXT".into()));
        assert_eq!(parse("/kick"), Err("usage: /kick NAME [REASON]".into()));
        assert_eq!(
            parse("/history bob carol"),
            Err("usage: /history [NAME|#ROOM|all]".into())
        );
        for bad in ["/passwd", "/passwd only-one", "/passwd a b c"] {
            assert_eq!(parse(bad), Err("usage: /passwd OLD NEW".into()), "{bad}");
        }
        assert_eq!(
            parse("/frobnicate"),
            Err("unknown command /frobnicate; /help lists the commands".into())
        );
    }
}
