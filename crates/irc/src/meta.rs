//! IRCv3 `draft/read-marker` (MARKREAD) on the core's read markers by
//! time (MARK_READ_AT), and the informational commands that ask nothing of
//! the core's state beyond the server's own name (HELP, LINKS).

use chinwag_core::cmd::CmdError;
use chinwag_proto::request::MarkReadAt;
use chinwag_proto::server::{ReadMarkerAt, Timestamp};
use chinwag_proto::{ErrorCode, Request};

use crate::caps::Cap;
use crate::conn::{Irc, Pending, iso8601};
use crate::line::Message;

impl Irc {
    /// `MARKREAD target [timestamp=YYYY-MM-DDThh:mm:ss.sssZ]`: asks for the
    /// marker, or moves it.
    pub(crate) fn markread(&mut self, m: &Message) {
        let target = m.param(0).to_owned();
        if target.is_empty() {
            self.fail("MARKREAD", "NEED_MORE_PARAMS", "", "Missing parameters");
            return;
        }
        let ts = match m.params.get(1) {
            None => 0,
            Some(param) => match param.strip_prefix("timestamp=").and_then(parse_iso8601) {
                // 0 asks; the epoch itself is no time to have read up to.
                Some(ts) if ts.0 > 0 => ts.0,
                _ => {
                    self.fail(
                        "MARKREAD",
                        "INVALID_PARAMS",
                        &target,
                        "Expected timestamp=YYYY-MM-DDThh:mm:ss.sssZ",
                    );
                    return;
                }
            },
        };
        self.ask_markread(&target, ts);
    }

    /// Asks the core for `target`'s marker, moving it to `ts` first
    /// unless 0.
    pub(crate) fn ask_markread(&mut self, target: &str, ts: u64) {
        let request = Request::MarkReadAt(MarkReadAt {
            src: "".into(),
            conversation: target.into(),
            ts,
        });
        self.ask(
            request,
            Pending::ReadMarker {
                target: target.to_owned(),
            },
            0,
        );
    }

    /// `MARKREAD target timestamp=...`, or `*` for no marker.
    pub(crate) fn markread_line(&mut self, marker: &ReadMarkerAt) {
        let at = if marker.ts.0 == 0 {
            "*".to_owned()
        } else {
            format!("timestamp={}", iso8601(marker.ts))
        };
        self.server_line("MARKREAD", &[&marker.conversation, &at]);
    }

    /// A marker another session of this user moved.
    pub(crate) fn markread_event(&mut self, marker: &ReadMarkerAt) {
        if self.caps.has(Cap::ReadMarker) {
            self.markread_line(marker);
        }
    }

    pub(crate) fn markread_error(&mut self, target: &str, error: &CmdError) {
        let code = match error.code {
            ErrorCode::InvalidArgument | ErrorCode::NoSuchRoom | ErrorCode::NotAMember => {
                "INVALID_PARAMS"
            }
            _ => "INTERNAL_ERROR",
        };
        self.fail("MARKREAD", code, target, &error.message);
    }

    /// HELP / HELPOP `[topic]`: 704, 705..., 706; 524 for an unknown topic.
    pub(crate) fn help(&mut self, m: &Message) {
        let asked = m.param(0).to_ascii_uppercase();
        let topic = if asked.is_empty() { "*" } else { &asked };
        let Some((_, lines)) = HELP.iter().find(|(name, _)| *name == topic) else {
            self.numeric("524", &[&asked, "No help available on this topic"]);
            return;
        };
        let (first, rest) = lines.split_first().unwrap_or((&"", &[]));
        let topic = topic.to_owned();
        self.numeric("704", &[&topic, first]);
        for line in rest {
            self.numeric("705", &[&topic, line]);
        }
        self.numeric("706", &[&topic, "End of /HELP"]);
    }

    /// LINKS: this server only; a cluster's nodes serve one network behind
    /// one name.
    pub(crate) fn links(&mut self) {
        let server = self.server.clone();
        let info = format!("0 {}", self.description);
        self.numeric("364", &[&server, &server, &info]);
        self.numeric("365", &["*", "End of /LINKS list"]);
    }
}

/// The help topics: a command and its lines. `*` is the index.
const HELP: &[(&str, &[&str])] = &[
    (
        "*",
        &[
            "chinwag's IRC front end. Commands: PRIVMSG NOTICE JOIN PART TOPIC NAMES LIST",
            "WHO WHOIS MODE KICK INVITE AWAY MONITOR USERHOST CHATHISTORY MARKREAD",
            "LUSERS MOTD VERSION TIME LINKS PING OPER KILL DIE MUTE UNMUTE WALLOPS QUIT",
            "HELP <command> tells more about one of them.",
        ],
    ),
    (
        "PRIVMSG",
        &[
            "PRIVMSG <target> :<text>",
            "Sends a message to a user or a channel (or $* to everyone).",
        ],
    ),
    (
        "NOTICE",
        &[
            "NOTICE <target> :<text>",
            "Like PRIVMSG, but never answered automatically.",
        ],
    ),
    (
        "JOIN",
        &[
            "JOIN <#channel>[,<#channel>] [<key>]",
            "Joins channels, creating them.",
        ],
    ),
    (
        "PART",
        &["PART <#channel> [:<reason>]", "Leaves a channel."],
    ),
    (
        "TOPIC",
        &[
            "TOPIC <#channel> [:<topic>]",
            "Shows or sets a channel's topic.",
        ],
    ),
    ("NAMES", &["NAMES <#channel>", "Lists who is in a channel."]),
    ("LIST", &["LIST [<#channel>]", "Lists the channels."]),
    ("WHO", &["WHO <mask> [%<fields>]", "Lists matching users."]),
    ("WHOIS", &["WHOIS <nick>", "Tells about a user."]),
    (
        "MODE",
        &[
            "MODE <#channel> [+i|-i|+k <key>|-k|+o <nick>|-o <nick>|+q <nick>|-q <nick>]",
            "Shows or changes a channel's modes.",
        ],
    ),
    (
        "KICK",
        &[
            "KICK <#channel> <nick> [:<reason>]",
            "Puts a user out of a channel.",
        ],
    ),
    (
        "INVITE",
        &["INVITE <nick> <#channel>", "Invites a user into a channel."],
    ),
    (
        "AWAY",
        &["AWAY [:<message>]", "Sets or clears the away message."],
    ),
    (
        "MONITOR",
        &[
            "MONITOR +|-|C|L|S [<nick>,...]",
            "Tracks when users come and go.",
        ],
    ),
    (
        "USERHOST",
        &["USERHOST <nick> ...", "Tells about up to 5 users."],
    ),
    (
        "CHATHISTORY",
        &[
            "CHATHISTORY LATEST|BEFORE|AFTER <target> ...",
            "Reads stored messages.",
        ],
    ),
    (
        "MARKREAD",
        &[
            "MARKREAD <target> [timestamp=<time>]",
            "Shows or moves how far you have read a conversation.",
        ],
    ),
    ("LUSERS", &["LUSERS", "Counts the users online."]),
    ("MOTD", &["MOTD", "Shows the message of the day."]),
    ("VERSION", &["VERSION", "Tells the server's version."]),
    ("TIME", &["TIME", "Tells the server's time."]),
    ("LINKS", &["LINKS", "Lists the servers of the network."]),
    ("PING", &["PING <token>", "Asks the server for a PONG."]),
    (
        "OPER",
        &["OPER <name> <password>", "Become a server operator."],
    ),
    (
        "KILL",
        &["KILL <nick> [:<reason>]", "Disconnects a user (operators)."],
    ),
    ("DIE", &["DIE [:<reason>]", "Stops the server (operators)."]),
    (
        "MUTE",
        &["MUTE <nick> [<seconds>]", "Mutes a user (operators)."],
    ),
    ("UNMUTE", &["UNMUTE <nick>", "Lifts a mute (operators)."]),
    (
        "WALLOPS",
        &[
            "WALLOPS :<text>",
            "Tells every user with user mode +w (operators).",
        ],
    ),
    ("QUIT", &["QUIT [:<reason>]", "Leaves the server."]),
    ("HELP", &["HELP [<command>]", "Shows help."]),
];

/// Milliseconds since the epoch for `YYYY-MM-DDThh:mm:ss[.sss]Z`.
pub fn parse_iso8601(text: &str) -> Option<Timestamp> {
    let text = text.strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let mut date = date.split('-');
    let (year, month, day) = (date.next()?, date.next()?, date.next()?);
    if date.next().is_some() || year.len() != 4 || month.len() != 2 || day.len() != 2 {
        return None;
    }
    let (hms, ms) = match time.split_once('.') {
        Some((hms, ms)) if (1..=3).contains(&ms.len()) => (
            hms,
            ms.parse::<u64>().ok()? * 10u64.pow(3 - ms.len() as u32),
        ),
        Some(_) => return None,
        None => (time, 0),
    };
    let mut hms = hms.split(':');
    let (h, m, s) = (hms.next()?, hms.next()?, hms.next()?);
    if hms.next().is_some() || [h, m, s].iter().any(|p| p.len() != 2) {
        return None;
    }
    let digits = |p: &str| -> Option<u64> {
        p.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| p.parse().ok())?
    };
    let (year, month, day) = (digits(year)?, digits(month)?, digits(day)?);
    let (h, m, s) = (digits(h)?, digits(m)?, digits(s)?);
    if !(1970..=9999).contains(&year)
        || !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || h > 23
        || m > 59
        || s > 60
    {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year } as i64;
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days as u64 * 86_400 + h * 3600 + m * 60 + s;
    Some(Timestamp(secs * 1000 + ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_back() {
        for text in [
            "2019-01-04T14:33:26.123Z",
            "2000-02-29T00:00:00.000Z",
            "1970-01-01T00:00:00.000Z",
            "2026-12-03T12:00:00.123Z",
        ] {
            assert_eq!(iso8601(parse_iso8601(text).unwrap()), text);
        }
        assert_eq!(
            parse_iso8601("2019-01-04T14:33:26Z"),
            parse_iso8601("2019-01-04T14:33:26.000Z")
        );
        for bad in [
            "not-a-timestamp",
            "*",
            "2019-01-04T14:33:26.123",
            "2019-13-04T14:33:26.123Z",
            "2019-01-04 14:33:26Z",
            "2019-01-04T14:33:2a.123Z",
            "+019-01-04T14:33:26Z",
        ] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
    }
}
