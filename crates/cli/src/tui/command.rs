//! What a line typed into the UI means: text for the open conversation, or
//! a slash command. The commands every client has are understood by the
//! line mode's parser ([`crate::line::parse`]), so both modes accept the
//! same words; only the UI's own commands are parsed here.

use crate::line::{self, Line};

/// One submitted input line, understood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Nothing to do (an empty line).
    Empty,
    /// Text for the open conversation.
    Say(String),
    /// A command shared with the line mode: /msg, /all, /users, /echo,
    /// /admin, /kick, /mute, /unmute, /shutdown, /history, /passwd, /help,
    /// /quit.
    Shared(Line),
    /// Open (or switch to) the direct conversation with a user.
    Query(String),
    /// Close the open direct conversation.
    Close,
    /// Clear the open conversation's scrollback.
    Clear,
    /// Turn the smart filter of joins and leaves on or off.
    Filter,
    /// `/passwd` alone: ask for the passwords without showing them.
    PasswordPrompt,
}

/// Every slash command: name, arguments, what it does. `/help` prints this
/// and Tab completes the names.
pub const COMMANDS: &[(&str, &str, &str)] = &[
    (
        "msg",
        "NAME TEXT",
        "send TEXT to NAME and open that conversation",
    ),
    (
        "all",
        "TEXT",
        "send TEXT to everyone, whichever conversation is open",
    ),
    ("query", "NAME", "open the conversation with NAME"),
    (
        "me",
        "TEXT",
        "an action in this conversation, shown as `* you TEXT`",
    ),
    ("close", "", "close the open direct conversation"),
    ("users", "", "list who is online"),
    (
        "echo",
        "TEXT",
        "have the server echo TEXT, with the round-trip time",
    ),
    (
        "history",
        "[NAME|#ROOM|all]",
        "load earlier messages of this conversation (or NAME's, ROOM's, everyone's) from the server",
    ),
    ("clear", "", "clear this conversation's scrollback"),
    (
        "filter",
        "",
        "show or fold away joins and leaves of people who have not spoken in 10 minutes",
    ),
    ("admin", "PASSWORD", "become an administrator"),
    ("kick", "NAME [REASON]", "disconnect NAME (administrators)"),
    (
        "mute",
        "NAME [DURATION] [REASON]",
        "mute NAME for DURATION (e.g. 10m) or until lifted (administrators)",
    ),
    ("unmute", "NAME", "let NAME talk again (administrators)"),
    (
        "ban",
        "NAME|ADDRESS [DURATION] [REASON]",
        "ban an account or an address (CIDR too) for DURATION or for good (administrators)",
    ),
    ("unban", "NAME|ADDRESS", "lift a ban (administrators)"),
    (
        "away",
        "[REASON]",
        "say you are away (others see it in the user list); alone, you are back",
    ),
    (
        "whois",
        "NAME",
        "who NAME is: role, mute, sessions, idle, away, how long online, rooms you share",
    ),
    (
        "ignore",
        "[NAME]",
        "stop being shown NAME's messages, in every session of your account; alone, list whom you ignore",
    ),
    ("unignore", "NAME", "be shown NAME's messages again"),
    (
        "audit",
        "[N]",
        "the last N (20) moderation acts (administrators)",
    ),
    ("shutdown", "[REASON]", "stop the server (administrators)"),
    (
        "join",
        "#ROOM [PASSWORD]",
        "join ROOM (creating it) and open its conversation",
    ),
    ("leave", "[#ROOM] [REASON]", "leave ROOM, or this room"),
    ("say", "#ROOM TEXT", "send TEXT to ROOM"),
    (
        "topic",
        "[#ROOM] [TEXT]",
        "show the room's topic, or set it (operators)",
    ),
    ("members", "[#ROOM]", "list the room's members"),
    ("rooms", "", "list the rooms"),
    (
        "op",
        "[#ROOM] NAME",
        "make NAME an operator (room owner); /deop undoes it",
    ),
    (
        "rkick",
        "[#ROOM] NAME [REASON]",
        "put NAME out of the room (room operators)",
    ),
    (
        "rmute",
        "[#ROOM] NAME [DURATION] [REASON]",
        "mute NAME in the room (room operators); /runmute lifts it",
    ),
    (
        "invite",
        "[#ROOM] NAME",
        "let NAME into the room once (room operators)",
    ),
    (
        "mode",
        "[#ROOM] +i|-i|+k PASSWORD|-k",
        "invite-only and password on or off (room operators)",
    ),
    (
        "passwd",
        "[OLD NEW]",
        "change your account's password; alone, asks without showing it",
    ),
    ("help", "", "this list and the keys"),
    ("quit", "", "log out and exit"),
];

/// The keys, for `/help` and the README.
pub const KEYS: &[(&str, &str)] = &[
    ("Enter", "send the line"),
    (
        "Tab",
        "complete a command or a name; again for the next match",
    ),
    ("Up / Down", "earlier / later input lines"),
    (
        "PageUp / PageDown",
        "scroll the messages (mouse wheel too); PageUp at the top loads earlier ones",
    ),
    ("End (empty line)", "back to the newest message"),
    (
        "Alt-Up / Alt-Down, Ctrl-P / Ctrl-N",
        "previous / next conversation",
    ),
    ("Alt-1 .. Alt-9", "open conversation 1 to 9"),
    (
        "mouse click",
        "open a conversation; on a user, talk to them",
    ),
    (
        "Ctrl-A / Ctrl-E, Home / End",
        "start / end of the input line",
    ),
    (
        "Ctrl-U / Ctrl-K / Ctrl-W",
        "delete to start / to end / the word before",
    ),
    ("Ctrl-L", "redraw the screen"),
    ("Esc", "cancel a password prompt"),
    ("Ctrl-C, Ctrl-D (empty line)", "quit"),
];

/// Understands an input line, or says what is wrong with it.
pub fn parse(input: &str) -> Result<Command, String> {
    let Some(command) = input.strip_prefix('/') else {
        return Ok(if input.trim().is_empty() {
            Command::Empty
        } else {
            Command::Say(input.to_owned())
        });
    };
    let (verb, rest) = command
        .trim_start()
        .split_once(char::is_whitespace)
        .map_or((command.trim(), ""), |(v, r)| (v, r.trim()));
    Ok(match verb {
        "query" | "q" => match rest.split_whitespace().next() {
            Some(name) => Command::Query(name.to_owned()),
            None => return Err("usage: /query NAME".to_owned()),
        },
        "close" => Command::Close,
        "clear" => Command::Clear,
        "filter" => Command::Filter,
        // An action, in the open conversation.
        "me" if rest.is_empty() => return Err("usage: /me TEXT".to_owned()),
        "me" => Command::Say(chinwag_proto::text::action(rest)),
        "passwd" if rest.is_empty() => Command::PasswordPrompt,
        _ => match line::parse(input)? {
            Line::Empty => Command::Empty,
            other => Command::Shared(other),
        },
    })
}

/// Whether a typed line may hold a password, and so must not be kept in
/// the input history.
pub fn is_secret(input: &str) -> bool {
    let verb = input.split_whitespace().next().unwrap_or("");
    matches!(verb, "/admin" | "/passwd")
}

/// `/help`: the commands, then the keys, one line each.
pub fn help() -> Vec<String> {
    let mut lines = vec!["commands (plain text goes to the open conversation):".to_owned()];
    for (name, args, what) in COMMANDS {
        let usage = if args.is_empty() {
            format!("/{name}")
        } else {
            format!("/{name} {args}")
        };
        lines.push(format!("  {usage:<32} {what}"));
    }
    lines.push("keys:".to_owned());
    for (key, what) in KEYS {
        lines.push(format!("  {key:<32} {what}"));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_for_the_open_conversation() {
        assert_eq!(parse("hi 你好"), Ok(Command::Say("hi 你好".into())));
        assert_eq!(parse("   "), Ok(Command::Empty));
    }

    #[test]
    fn shared_commands_come_from_the_line_mode() {
        assert_eq!(
            parse("/msg bob hi there"),
            Ok(Command::Shared(Line::Msg {
                to: "bob".into(),
                text: "hi there".into()
            }))
        );
        assert_eq!(
            parse("/all hello"),
            Ok(Command::Shared(Line::Broadcast("hello".into())))
        );
        assert_eq!(parse("/quit"), Ok(Command::Shared(Line::Quit)));
        assert_eq!(parse("/msg bob"), Err("usage: /msg NAME TEXT".into()));
        assert!(
            parse("/nope")
                .unwrap_err()
                .contains("unknown command /nope")
        );
    }

    #[test]
    fn commands_of_the_ui() {
        assert_eq!(parse("/query Bob"), Ok(Command::Query("Bob".into())));
        assert_eq!(parse("/query"), Err("usage: /query NAME".into()));
        assert_eq!(parse("/close"), Ok(Command::Close));
        assert_eq!(parse("/passwd"), Ok(Command::PasswordPrompt));
        assert_eq!(parse("/clear"), Ok(Command::Clear));
        assert_eq!(parse("/filter"), Ok(Command::Filter));
    }

    #[test]
    fn history_and_passwd_are_the_line_modes() {
        assert_eq!(
            parse("/history"),
            Ok(Command::Shared(Line::History { with: None }))
        );
        assert_eq!(
            parse("/history bob"),
            Ok(Command::Shared(Line::History {
                with: Some("bob".into())
            }))
        );
        assert_eq!(
            parse("/passwd old new"),
            Ok(Command::Shared(Line::Passwd {
                old: "old".into(),
                new: "new".into()
            }))
        );
        assert!(is_secret("/passwd old new"));
        assert!(is_secret(" /admin pw"));
        assert!(!is_secret("/msg bob my /passwd is"));
    }

    #[test]
    fn every_listed_command_parses() {
        for (name, args, _) in COMMANDS {
            let line = match (*name, args.contains('#')) {
                ("mode", _) => "/mode #general +i".to_owned(),
                ("passwd", _) => "/passwd old new".to_owned(),
                ("history", _) => "/history bob".to_owned(),
                ("audit", _) => "/audit 5".to_owned(),
                (_, true) => format!("/{name} #general bob 10m some text"),
                (_, false) => format!("/{name} bob 10m some text"),
            };
            assert!(parse(&line).is_ok(), "{line}");
        }
        assert!(help().iter().any(|l| l.contains("/kick NAME [REASON]")));
    }
}
