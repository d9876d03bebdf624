//! How events, users and durations look: one line of text for a human, or
//! one JSON object for a program. Everything that came from the network is
//! sanitized before it reaches the terminal.
//!
//! No I/O here, and the clock is passed in, so every format is unit-tested.

use std::borrow::Cow;
use std::time::Duration;

use chinwag_client::{
    AuditEntry, ErrorCode, Event, Message, MessageKind, MuteState, Notice, NoticeKind, Role,
    Timestamp, UserInfo, UserUpdate, user_changed,
};
use serde_json::{Value, json};
use unicode_width::UnicodeWidthStr;

use crate::rooms;

/// Which time zone `[HH:MM:SS]` is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    Local,
    Utc,
}

impl Clock {
    /// `HH:MM:SS` of a timestamp.
    pub fn hms(self, ts: Timestamp) -> String {
        let Some(utc) = i64::try_from(ts.0)
            .ok()
            .and_then(chrono::DateTime::from_timestamp_millis)
        else {
            return "??:??:??".to_owned();
        };
        match self {
            Clock::Utc => utc.format("%H:%M:%S").to_string(),
            Clock::Local => utc
                .with_timezone(&chrono::Local)
                .format("%H:%M:%S")
                .to_string(),
        }
    }
}

/// How `listen` and the line mode print events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Human(Clock),
    Json,
}

/// The line for an event, or `None` for the end of the connection (which
/// the caller reports itself). `now` stamps server errors, which carry no
/// time of their own.
pub fn event(event: &Event, format: Format, now: Timestamp) -> Option<String> {
    Some(match (event, format) {
        (Event::Message(m), Format::Human(clock)) => message(m, clock),
        (Event::Message(m), Format::Json) => message_json(m).to_string(),
        (Event::Notice(n), Format::Human(clock)) => notice(n, clock),
        (Event::Notice(n), Format::Json) => notice_json(n).to_string(),
        (Event::RoomNotice(n), Format::Human(clock)) => rooms::notice(n, clock),
        (Event::RoomNotice(n), Format::Json) => rooms::notice_json(n).to_string(),
        (Event::Redacted(r), Format::Human(clock)) => {
            let reason = if r.reason.is_empty() {
                String::new()
            } else {
                format!(": {}", sanitize(&r.reason))
            };
            format!(
                "[{}] * {} deleted message {} of {}{reason}",
                clock.hms(r.ts),
                sanitize(&r.actor),
                r.id.0,
                sanitize(&r.from)
            )
        }
        (Event::Redacted(r), Format::Json) => json!({
            "type": "redacted",
            "id": r.id.0,
            "ts": r.ts.0,
            "actor": &*r.actor,
            "from": &*r.from,
            "to": &*r.to,
            "reason": &*r.reason,
        })
        .to_string(),
        (Event::Error { code, message }, Format::Human(clock)) => {
            format!("[{}] ! {}", clock.hms(now), error(*code, message))
        }
        (Event::Error { code, message }, Format::Json) => {
            json!({"type": "error", "code": code.name(), "message": message}).to_string()
        }
        (Event::User(u), Format::Human(clock)) => user_update(u, clock)?,
        (Event::User(u), Format::Json) => json!({
            "type": "user_update",
            "name": &*u.name,
            "old_name": &*u.old_name,
            "changed": u.changed,
            "flags": u.flags,
            "username": &*u.username,
            "realname": &*u.realname,
            "away": &*u.away,
            "ts": u.ts.0,
        })
        .to_string(),
        (Event::Closed { .. }, _) => return None,
    })
}

/// `alice -> bob: hi` or `alice -> everyone: hello`, after the time.
pub fn message(m: &Message, clock: Clock) -> String {
    let to = match m.kind {
        MessageKind::Broadcast => Cow::Borrowed("everyone"),
        MessageKind::Direct | MessageKind::Room | MessageKind::Other(_) => sanitize(&m.to),
        MessageKind::RoomOperators => Cow::Owned(format!("{} operators", sanitize(&m.to))),
    };
    if m.text.is_empty() {
        // Client tags alone (a typing notification, a reaction).
        return format!(
            "[{}] {} -> {}: [{}]",
            clock.hms(m.ts),
            sanitize(&m.from),
            to,
            sanitize(&m.tags)
        );
    }
    if m.notice {
        // A NOTICE: `-alice-`, as IRC clients show one.
        return format!(
            "[{}] -{}- -> {}: {}",
            clock.hms(m.ts),
            sanitize(&m.from),
            to,
            shown(&m.text).1
        );
    }
    match shown(&m.text) {
        (true, does) => format!(
            "[{}] -> {}: * {} {}",
            clock.hms(m.ts),
            to,
            sanitize(&m.from),
            does
        ),
        (false, text) => format!(
            "[{}] {} -> {}: {}",
            clock.hms(m.ts),
            sanitize(&m.from),
            to,
            text
        ),
    }
}

/// A message's text as shown: whether it is an action (`/me waves`), and
/// the text (the action's own) made safe for a terminal.
pub fn shown(text: &str) -> (bool, Cow<'_, str>) {
    match chinwag_proto::text::as_action(text) {
        Some(does) => (true, sanitize(does)),
        None => (false, sanitize(text)),
    }
}

pub fn message_json(m: &Message) -> Value {
    let kind = match m.kind {
        MessageKind::Direct => "direct",
        MessageKind::Broadcast => "broadcast",
        MessageKind::Room => "room",
        MessageKind::RoomOperators => "room_operators",
        MessageKind::Other(_) => "other",
    };
    let action = chinwag_proto::text::as_action(&m.text);
    let mut v = json!({
        "type": "message",
        "id": m.id.0,
        "kind": kind,
        "from": &*m.from,
        "text": action.unwrap_or(&m.text),
        "ts": m.ts.0,
    });
    if action.is_some() {
        v["action"] = json!(true);
    }
    if m.notice {
        v["notice"] = json!(true);
    }
    if !m.tags.is_empty() {
        v["tags"] = json!(&*m.tags);
    }
    match m.kind {
        MessageKind::Broadcast => {}
        MessageKind::Room | MessageKind::RoomOperators => v["room"] = json!(&*m.to),
        MessageKind::Direct | MessageKind::Other(_) => v["to"] = json!(&*m.to),
    }
    v
}

/// `* bob joined`, `* you were kicked by root: spamming`, ... after the time.
pub fn notice(n: &Notice, clock: Clock) -> String {
    let actor = sanitize(&n.actor);
    let subject = sanitize(&n.subject);
    let text = sanitize(&n.text);
    let body = match n.kind {
        NoticeKind::Joined => format!("{subject} joined"),
        NoticeKind::Left if text.is_empty() => format!("{subject} left"),
        NoticeKind::Left => format!("{subject} left ({text})"),
        NoticeKind::Kicked => format!("you were kicked by {actor}{}", suffix(": ", &text)),
        NoticeKind::Muted => {
            let how_long = match MuteState::from_wire(n.until) {
                MuteState::UntilLifted | MuteState::NotMuted => "until lifted".to_owned(),
                MuteState::Until(end) => format!("for {}", duration(span(n.ts, end))),
            };
            let reason = if text.is_empty() {
                String::new()
            } else {
                format!(" ({text})")
            };
            format!("you are muted by {actor} {how_long}{reason}")
        }
        NoticeKind::Unmuted => "you may talk again".to_owned(),
        NoticeKind::Banned => {
            let how_long = match MuteState::from_wire(n.until) {
                MuteState::UntilLifted | MuteState::NotMuted => "for good".to_owned(),
                MuteState::Until(end) => format!("for {}", duration(span(n.ts, end))),
            };
            format!(
                "you were banned by {actor} {how_long}{}",
                suffix(": ", &text)
            )
        }
        NoticeKind::Shutdown => format!("server shutting down{}", suffix(": ", &text)),
        // The client library delivers it once it has caught up; its text
        // says how many messages were read from history.
        NoticeKind::CatchUp => text.to_string(),
        // Room kinds travel in ROOM_NOTICE frames ([`rooms::notice`]); one
        // in a NOTICE is shown like any unknown kind.
        other => format!("notice {}{}", other.to_u8(), suffix(": ", &text)),
    };
    format!("[{}] * {body}", clock.hms(n.ts))
}

/// A user's change, as a line: a rename, going away or coming back;
/// `None` for what is not worth a line (a flag, a user name).
pub fn user_update(u: &UserUpdate, clock: Clock) -> Option<String> {
    let name = sanitize(&u.name);
    let body = if u.changed & user_changed::NAME != 0 {
        format!("{} is now known as {name}", sanitize(&u.old_name))
    } else if u.changed & user_changed::AWAY != 0 && u.away.is_empty() {
        format!("{name} is back")
    } else if u.changed & user_changed::AWAY != 0 {
        format!("{name} is away: {}", sanitize(&u.away))
    } else if u.changed & user_changed::REALNAME != 0 {
        format!("{name} is now called {}", sanitize(&u.realname))
    } else {
        return None;
    };
    Some(format!("[{}] * {body}", clock.hms(u.ts)))
}

pub fn notice_json(n: &Notice) -> Value {
    let mut v = json!({
        "type": "notice",
        "kind": n.kind.name(),
        "actor": &*n.actor,
        "subject": &*n.subject,
        "text": &*n.text,
        "ts": n.ts.0,
    });
    match n.kind {
        NoticeKind::Muted | NoticeKind::Banned => {
            v["until"] = match MuteState::from_wire(n.until) {
                MuteState::Until(end) => json!(end.0),
                MuteState::UntilLifted | MuteState::NotMuted => Value::Null,
            }
        }
        NoticeKind::Shutdown => v["until"] = json!(n.until),
        _ => {}
    }
    v
}

/// `<message> (<CODE>)`, as errors are shown everywhere.
pub fn error(code: ErrorCode, message: &str) -> String {
    format!("{} ({})", sanitize(message), code.name())
}

/// The user list as an aligned table. Address and connection time are
/// shown only when the server sent them (to administrators).
pub fn users_table(users: &[UserInfo], now: Timestamp) -> String {
    let admin_view = users
        .iter()
        .any(|u| !u.addr.is_empty() || u.connected_at.0 != 0);
    let mut rows = vec![if admin_view {
        vec![
            "NAME",
            "ROLE",
            "MUTED",
            "ADDRESS",
            "ADVERTISED",
            "CONNECTED",
        ]
        .into_iter()
        .map(String::from)
        .collect()
    } else {
        vec!["NAME".to_owned(), "ROLE".to_owned(), "MUTED".to_owned()]
    }];
    for u in users {
        let mut row = vec![
            sanitize(&u.name).into_owned(),
            role(u.role).to_owned(),
            muted(u.muted, now),
        ];
        if admin_view {
            row.push(or_dash(&u.addr));
            row.push(or_dash(&u.advertised));
            row.push(if u.connected_at.0 == 0 {
                "-".to_owned()
            } else {
                format!("{} ago", duration(span(u.connected_at, now)))
            });
        }
        rows.push(row);
    }
    table(&rows)
}

/// The audit log as an aligned table, newest first.
pub fn audit_table(entries: &[AuditEntry], now: Timestamp) -> String {
    let mut rows = vec![
        ["ID", "WHEN", "ACTOR", "ACTION", "TARGET", "UNTIL", "REASON"]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>(),
    ];
    for e in entries {
        rows.push(vec![
            e.id.to_string(),
            format!("{} ago", duration(span(e.ts, now))),
            or_dash(&e.actor),
            sanitize(&e.action).into_owned(),
            or_dash(&e.target),
            match MuteState::from_wire(e.until) {
                MuteState::NotMuted => "-".to_owned(),
                MuteState::UntilLifted => "for good".to_owned(),
                MuteState::Until(end) if end <= now => "ended".to_owned(),
                MuteState::Until(end) => format!("in {}", duration(span(now, end))),
            },
            or_dash(&e.reason),
        ]);
    }
    table(&rows)
}

/// The audit log as a JSON array; `until` is a timestamp, `null` for good,
/// or absent.
pub fn audit_json(entries: &[AuditEntry]) -> Value {
    Value::Array(
        entries
            .iter()
            .map(|e| {
                let mut v = json!({
                    "id": e.id,
                    "ts": e.ts.0,
                    "actor": &*e.actor,
                    "action": &*e.action,
                    "target": &*e.target,
                    "reason": &*e.reason,
                });
                match MuteState::from_wire(e.until) {
                    MuteState::NotMuted => {}
                    MuteState::UntilLifted => v["until"] = Value::Null,
                    MuteState::Until(end) => v["until"] = json!(end.0),
                }
                v
            })
            .collect(),
    )
}

pub fn users_json(users: &[UserInfo]) -> Value {
    Value::Array(
        users
            .iter()
            .map(|u| {
                let mut v = json!({"name": &*u.name, "role": role(u.role)});
                match u.muted {
                    MuteState::NotMuted => v["muted"] = json!(false),
                    MuteState::Until(end) => {
                        v["muted"] = json!(true);
                        v["muted_until"] = json!(end.0);
                    }
                    MuteState::UntilLifted => {
                        v["muted"] = json!(true);
                        v["muted_until"] = Value::Null;
                    }
                }
                if !u.addr.is_empty() {
                    v["addr"] = json!(&*u.addr);
                }
                if !u.advertised.is_empty() {
                    v["advertised"] = json!(&*u.advertised);
                }
                if u.connected_at.0 != 0 {
                    v["connected_at"] = json!(u.connected_at.0);
                }
                v
            })
            .collect(),
    )
}

fn role(role: Role) -> &'static str {
    match role {
        Role::User => "user",
        Role::Admin => "admin",
    }
}

/// `muted 4m59s`, `muted until lifted`, or `-`.
pub fn muted(state: MuteState, now: Timestamp) -> String {
    match state.at(now) {
        MuteState::NotMuted => "-".to_owned(),
        MuteState::UntilLifted => "muted until lifted".to_owned(),
        MuteState::Until(end) => format!("muted {}", duration(span(now, end))),
    }
}

/// A compact duration in whole seconds: `4m59s`, `1h30m`, `2d`, `0s`.
pub fn duration(d: Duration) -> String {
    let mut secs = d.as_secs();
    if secs == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

/// The time from `from` to `to`, rounded to the nearest second.
fn span(from: Timestamp, to: Timestamp) -> Duration {
    Duration::from_secs(to.0.saturating_sub(from.0).saturating_add(500) / 1000)
}

/// Makes text from the network safe to print on a terminal: newlines and
/// tabs become `\n` and `\t`, other control characters and the Unicode
/// controls that reorder text (bidi overrides) become U+FFFD.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn suffix(sep: &str, text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!("{sep}{text}")
    }
}

fn or_dash(text: &str) -> String {
    if text.is_empty() {
        "-".to_owned()
    } else {
        sanitize(text).into_owned()
    }
}

/// Left-aligned columns separated by two spaces, no trailing blanks.
/// Aligned by terminal columns, not characters: `小明` takes four.
pub fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|cell| cell.width())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(&widths) {
            line.push_str(cell);
            line.push_str(&" ".repeat(width - cell.width() + 2));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chinwag_client::{MessageKind, NoticeKind};
    use chinwag_proto::MessageId;

    /// 14:03:07 UTC on 2023-11-14.
    const T: u64 = 1_699_970_587_000;

    fn msg(kind: MessageKind, to: &str, text: &str) -> Message {
        Message {
            id: MessageId(12),
            ts: Timestamp(T),
            kind,
            from: "alice".into(),
            to: to.into(),
            text: text.into(),
            ..Default::default()
        }
    }

    fn note(kind: NoticeKind, actor: &str, subject: &str, until: u64, text: &str) -> Notice {
        Notice {
            kind,
            ts: Timestamp(T),
            actor: actor.into(),
            subject: subject.into(),
            until,
            text: text.into(),
        }
    }

    #[test]
    fn messages_for_humans() {
        let direct = msg(MessageKind::Direct, "bob", "hi");
        assert_eq!(message(&direct, Clock::Utc), "[14:03:07] alice -> bob: hi");
        let all = msg(MessageKind::Broadcast, "", "hello");
        assert_eq!(
            message(&all, Clock::Utc),
            "[14:03:07] alice -> everyone: hello"
        );
    }

    #[test]
    fn control_characters_never_reach_the_terminal() {
        let evil = msg(MessageKind::Direct, "bob", "a\u{1b}[2Jb\nc\u{202e}d\u{9b}");
        assert_eq!(
            message(&evil, Clock::Utc),
            "[14:03:07] alice -> bob: a\u{fffd}[2Jb\\nc\u{fffd}d\u{fffd}"
        );
        assert!(matches!(sanitize("plain 你好"), Cow::Borrowed(_)));
    }

    #[test]
    fn notices_for_humans() {
        let cases = [
            (note(NoticeKind::Joined, "", "bob", 0, ""), "* bob joined"),
            (
                note(NoticeKind::Left, "", "bob", 0, "logout"),
                "* bob left (logout)",
            ),
            (
                note(NoticeKind::Kicked, "root", "bob", 0, "spamming"),
                "* you were kicked by root: spamming",
            ),
            (
                note(NoticeKind::Muted, "root", "bob", T + 300_000, "flood"),
                "* you are muted by root for 5m (flood)",
            ),
            (
                note(NoticeKind::Muted, "root", "bob", u64::MAX, ""),
                "* you are muted by root until lifted",
            ),
            (
                note(NoticeKind::Unmuted, "", "bob", 0, ""),
                "* you may talk again",
            ),
            (
                note(NoticeKind::Shutdown, "root", "", T + 5_000, "maintenance"),
                "* server shutting down: maintenance",
            ),
        ];
        for (n, want) in cases {
            assert_eq!(notice(&n, Clock::Utc), format!("[14:03:07] {want}"));
        }
    }

    #[test]
    fn events_as_json_lines() {
        let direct = Event::Message(msg(MessageKind::Direct, "bob", "hi"));
        let line = event(&direct, Format::Json, Timestamp(0)).unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            v,
            json!({"type":"message","id":12,"kind":"direct","from":"alice","to":"bob","text":"hi","ts":T})
        );
        let all = Event::Message(msg(MessageKind::Broadcast, "", "yo"));
        let v: Value =
            serde_json::from_str(&event(&all, Format::Json, Timestamp(0)).unwrap()).unwrap();
        assert_eq!(v["kind"], "broadcast");
        assert!(v.get("to").is_none());

        let muted = Event::Notice(note(NoticeKind::Muted, "root", "bob", u64::MAX, "r"));
        let v: Value =
            serde_json::from_str(&event(&muted, Format::Json, Timestamp(0)).unwrap()).unwrap();
        assert_eq!(v["kind"], "muted");
        assert_eq!(v["until"], Value::Null);
        let joined = Event::Notice(note(NoticeKind::Joined, "", "bob", 0, ""));
        let v = notice_json(match &joined {
            Event::Notice(n) => n,
            _ => unreachable!(),
        });
        assert!(v.get("until").is_none());

        let error = Event::Error {
            code: ErrorCode::IdleTimeout,
            message: "idle for 60s".into(),
        };
        assert_eq!(
            event(&error, Format::Json, Timestamp(0)).unwrap(),
            r#"{"code":"IdleTimeout","message":"idle for 60s","type":"error"}"#
        );
        assert_eq!(
            event(&error, Format::Human(Clock::Utc), Timestamp(T)).unwrap(),
            "[14:03:07] ! idle for 60s (IdleTimeout)"
        );
        assert_eq!(
            event(&Event::Closed { reason: None }, Format::Json, Timestamp(0)),
            None
        );
    }

    #[test]
    fn durations_are_compact() {
        assert_eq!(duration(Duration::from_secs(299)), "4m59s");
        assert_eq!(duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(duration(Duration::from_secs(90_061)), "1d1h1m1s");
        assert_eq!(duration(Duration::ZERO), "0s");
        assert_eq!(
            muted(MuteState::Until(Timestamp(T + 299_400)), Timestamp(T)),
            "muted 4m59s"
        );
        assert_eq!(muted(MuteState::Until(Timestamp(T - 1)), Timestamp(T)), "-");
        assert_eq!(
            muted(MuteState::UntilLifted, Timestamp(T)),
            "muted until lifted"
        );
    }

    fn user(name: &str, role: Role, muted: MuteState, addr: &str, connected_at: u64) -> UserInfo {
        UserInfo {
            name: name.into(),
            role,
            muted,
            addr: addr.into(),
            advertised: "".into(),
            connected_at: Timestamp(connected_at),
            username: "".into(),
            realname: "".into(),
            away: "".into(),
            sessions: 0,
            last_spoke: chinwag_proto::Timestamp(0),
            flags: 0,
        }
    }

    #[test]
    fn user_tables() {
        let users = [
            user("alice", Role::Admin, MuteState::NotMuted, "", 0),
            user("bob", Role::User, MuteState::UntilLifted, "", 0),
        ];
        assert_eq!(
            users_table(&users, Timestamp(T)),
            "NAME   ROLE   MUTED\nalice  admin  -\nbob    user   muted until lifted\n"
        );
        let users = [user(
            "bob",
            Role::User,
            MuteState::NotMuted,
            "127.0.0.1:5000",
            T - 65_000,
        )];
        assert_eq!(
            users_table(&users, Timestamp(T)),
            "NAME  ROLE  MUTED  ADDRESS         ADVERTISED  CONNECTED\n\
             bob   user  -      127.0.0.1:5000  -           1m5s ago\n"
        );
        let users = [
            user("小明", Role::User, MuteState::NotMuted, "", 0),
            user("José", Role::User, MuteState::NotMuted, "", 0),
        ];
        assert_eq!(
            users_table(&users, Timestamp(T)),
            "NAME  ROLE  MUTED\n小明  user  -\nJosé  user  -\n",
            "aligned by terminal columns"
        );
        let v = users_json(&[user(
            "bob",
            Role::User,
            MuteState::Until(Timestamp(9)),
            "",
            0,
        )]);
        assert_eq!(
            v,
            json!([{"name":"bob","role":"user","muted":true,"muted_until":9}])
        );
    }
}
