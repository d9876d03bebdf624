//! IRC lines, sans I/O: cutting the byte stream into lines ([`Lines`]) and
//! parsing one line into a [`Message`] (message tags, source, command,
//! parameters), with the limits of the Modern IRC and IRCv3 message-tags
//! specifications: the body (source, command, parameters) is at most 512
//! bytes with its CR LF, the tags at most 8191 bytes with their `@` and
//! the space after them.

use bytes::{Buf, BytesMut};

/// Most bytes of a line's body, CR LF included.
pub const MAX_BODY: usize = 512;
/// Most bytes of a line's tags, the leading `@` and the trailing space
/// included.
pub const MAX_TAGS: usize = 8191;
/// Most bytes of the tags a client may send (`@`, its tags, the space).
pub const MAX_CLIENT_TAGS: usize = 4096;
/// Most bytes of a whole line: anything longer is cut off unread.
pub const MAX_LINE: usize = MAX_TAGS + MAX_BODY;
/// Most parameters a message may have.
pub const MAX_PARAMS: usize = 15;

/// One parsed line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Message {
    /// Tags, in order, with their values unescaped (`None`: no value).
    pub tags: Vec<(String, Option<String>)>,
    /// The `:source` prefix, if any (clients rarely send one).
    pub source: Option<String>,
    /// The command, in upper case.
    pub command: String,
    pub params: Vec<String>,
}

impl Message {
    /// The value of tag `key`, if it is present.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_deref().unwrap_or(""))
    }

    /// Parameter `i`, or "".
    pub fn param(&self, i: usize) -> &str {
        self.params.get(i).map_or("", String::as_str)
    }
}

/// Why a line is not a message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error("input line is too long (most {max} bytes; this one has {len})")]
    TooLong { len: usize, max: usize },
    #[error("message tags are too long (most {max} bytes; these are {len})")]
    TagsTooLong { len: usize, max: usize },
    #[error("line is not valid UTF-8 (byte {at})")]
    InvalidUtf8 { at: usize },
    #[error("line has no command")]
    NoCommand,
    #[error("command {0:?} is not visible ASCII")]
    BadCommand(String),
    #[error("line contains a NUL byte")]
    Nul,
}

/// What the framer hands over: a line's bytes without its CR LF, or a line
/// that was too long to keep (its length, read and dropped).
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    Text(BytesMut),
    TooLong(usize),
}

/// Cuts a byte stream into lines ending in LF (a CR before it is dropped).
/// A line longer than [`MAX_LINE`] is not buffered: its bytes are dropped
/// as they come, and it is reported once its end arrives.
#[derive(Debug, Default)]
pub struct Lines {
    /// Bytes of an over-long line dropped so far, while inside one.
    skipping: Option<usize>,
}

impl Lines {
    /// The next whole line in `buf`, taking it out; `None` until one is
    /// complete.
    pub fn next(&mut self, buf: &mut BytesMut) -> Option<Line> {
        loop {
            let newline = buf.iter().position(|&b| b == b'\n');
            if let Some(dropped) = self.skipping {
                match newline {
                    Some(at) => {
                        buf.advance(at + 1);
                        self.skipping = None;
                        return Some(Line::TooLong(dropped + at + 1));
                    }
                    None => {
                        self.skipping = Some(dropped + buf.len());
                        buf.clear();
                        return None;
                    }
                }
            }
            match newline {
                Some(at) if at < MAX_LINE => {
                    let mut line = buf.split_to(at + 1);
                    line.truncate(at);
                    if line.last() == Some(&b'\r') {
                        line.truncate(at - 1);
                    }
                    // Blank lines are ignored, as servers do.
                    if line.is_empty() {
                        continue;
                    }
                    return Some(Line::Text(line));
                }
                Some(at) => {
                    buf.advance(at + 1);
                    return Some(Line::TooLong(at + 1));
                }
                None if buf.len() >= MAX_LINE => {
                    self.skipping = Some(buf.len());
                    buf.clear();
                    return None;
                }
                None => return None,
            }
        }
    }

    /// Whether part of a line has arrived and its end not yet.
    pub fn partial(&self, buf: &BytesMut) -> bool {
        self.skipping.is_some() || !buf.is_empty()
    }
}

/// The command of a line that does not parse (read leniently, for the
/// error reply): `*` if there is none.
pub fn command_of(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let mut words = text.split(' ').filter(|w| !w.is_empty());
    let mut word = words.next();
    if word.is_some_and(|w| w.starts_with('@')) {
        word = words.next();
    }
    if word.is_some_and(|w| w.starts_with(':')) {
        word = words.next();
    }
    match word {
        Some(command) if command.bytes().all(|b| b.is_ascii_alphanumeric()) => {
            command.to_ascii_uppercase()
        }
        _ => "*".to_owned(),
    }
}

/// Parses one line (without its CR LF).
pub fn parse(line: &[u8]) -> Result<Message, LineError> {
    if line.contains(&0) {
        return Err(LineError::Nul);
    }
    let text = std::str::from_utf8(line).map_err(|e| LineError::InvalidUtf8 {
        at: e.valid_up_to(),
    })?;
    let mut rest = text;
    let mut message = Message::default();
    if let Some(tagged) = rest.strip_prefix('@') {
        let (tags, after) = tagged.split_once(' ').unwrap_or((tagged, ""));
        let len = tags.len() + 2;
        if len > MAX_CLIENT_TAGS {
            return Err(LineError::TagsTooLong {
                len,
                max: MAX_CLIENT_TAGS,
            });
        }
        message.tags = parse_tags(tags);
        rest = after.trim_start_matches(' ');
    }
    // The body, with the CR LF it came with.
    let len = rest.len() + 2;
    if len > MAX_BODY {
        return Err(LineError::TooLong { len, max: MAX_BODY });
    }
    if let Some(prefixed) = rest.strip_prefix(':') {
        let (source, after) = prefixed.split_once(' ').unwrap_or((prefixed, ""));
        message.source = Some(source.to_owned());
        rest = after.trim_start_matches(' ');
    }
    let (command, mut rest) = rest.split_once(' ').unwrap_or((rest, ""));
    if command.is_empty() {
        return Err(LineError::NoCommand);
    }
    // Letters or three digits, by the grammar; any other visible ASCII
    // is taken too, to be answered as an unknown command.
    if !command.bytes().all(|b| b.is_ascii_graphic()) || command.starts_with(['@', ':']) {
        return Err(LineError::BadCommand(command.to_owned()));
    }
    message.command = command.to_ascii_uppercase();
    loop {
        rest = rest.trim_start_matches(' ');
        if rest.is_empty() {
            break;
        }
        if let Some(trailing) = rest.strip_prefix(':') {
            message.params.push(trailing.to_owned());
            break;
        }
        if message.params.len() == MAX_PARAMS - 1 {
            // The fifteenth parameter takes the rest, spaces and all.
            message.params.push(rest.to_owned());
            break;
        }
        let (param, after) = rest.split_once(' ').unwrap_or((rest, ""));
        message.params.push(param.to_owned());
        rest = after;
    }
    Ok(message)
}

fn parse_tags(tags: &str) -> Vec<(String, Option<String>)> {
    tags.split(';')
        .filter(|tag| !tag.is_empty())
        .map(|tag| match tag.split_once('=') {
            Some((key, value)) if !value.is_empty() => (key.to_owned(), Some(unescape(value))),
            Some((key, _)) => (key.to_owned(), None),
            None => (tag.to_owned(), None),
        })
        .collect()
}

/// A tag value as sent: `\:` is `;`, `\s` a space, `\\` a backslash, `\r`
/// and `\n` themselves; a backslash before anything else is dropped, and so
/// is one at the end.
pub fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(':') => out.push(';'),
            Some('s') => out.push(' '),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// A tag value escaped for the wire (the inverse of [`unescape`]).
pub fn escape(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            ';' => out.push_str("\\:"),
            ' ' => out.push_str("\\s"),
            '\\' => out.push_str("\\\\"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Writes `message` as a line (with CR LF): what a client sends, and
/// what the tests and the fuzz target parse back.
pub fn serialize(message: &Message) -> String {
    let mut out = String::new();
    if !message.tags.is_empty() {
        out.push('@');
        for (i, (key, value)) in message.tags.iter().enumerate() {
            if i > 0 {
                out.push(';');
            }
            out.push_str(key);
            if let Some(value) = value {
                out.push('=');
                escape(value, &mut out);
            }
        }
        out.push(' ');
    }
    if let Some(source) = &message.source {
        out.push(':');
        out.push_str(source);
        out.push(' ');
    }
    out.push_str(&message.command);
    let last = message.params.len().saturating_sub(1);
    for (i, param) in message.params.iter().enumerate() {
        out.push(' ');
        if i == last && (param.is_empty() || param.starts_with(':') || param.contains(' ')) {
            out.push(':');
        }
        out.push_str(param);
    }
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lines(input: &[u8]) -> Vec<Line> {
        let mut buf = BytesMut::from(input);
        let mut lines = Lines::default();
        std::iter::from_fn(|| lines.next(&mut buf)).collect()
    }

    #[test]
    fn parses_tags_source_command_and_params() {
        let m = parse(b"@label=a\\sb;+draft/x;time= :nick!u@h privmsg #chan :hello there").unwrap();
        assert_eq!(
            m.tags,
            vec![
                ("label".into(), Some("a b".into())),
                ("+draft/x".into(), None),
                ("time".into(), None)
            ]
        );
        assert_eq!(m.source.as_deref(), Some("nick!u@h"));
        assert_eq!(m.command, "PRIVMSG");
        assert_eq!(m.params, vec!["#chan", "hello there"]);
        assert_eq!(m.tag("label"), Some("a b"));
        assert_eq!(m.tag("+draft/x"), Some(""));
    }

    #[test]
    fn middle_params_trailing_and_extra_spaces() {
        let m = parse(b"USER  u 0  * :Real Name").unwrap();
        assert_eq!(m.params, vec!["u", "0", "*", "Real Name"]);
        let m = parse(b"PRIVMSG a ::)").unwrap();
        assert_eq!(m.params, vec!["a", ":)"]);
        let m = parse(b"PRIVMSG a :").unwrap();
        assert_eq!(m.params, vec!["a", ""]);
        let many = format!(
            "CMD {}",
            (1..=20)
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        );
        let m = parse(many.as_bytes()).unwrap();
        assert_eq!(m.params.len(), MAX_PARAMS);
        assert_eq!(m.params[14], "15 16 17 18 19 20");
    }

    #[test]
    fn refuses_what_is_not_a_message() {
        assert_eq!(parse(b"").unwrap_err(), LineError::NoCommand);
        assert_eq!(parse(b":only-a-source").unwrap_err(), LineError::NoCommand);
        assert_eq!(
            parse("PRIV\u{e9} x".as_bytes()).unwrap_err(),
            LineError::BadCommand("PRIV\u{e9}".into())
        );
        assert_eq!(
            parse(b"PRIVMSG a :\xff").unwrap_err(),
            LineError::InvalidUtf8 { at: 11 }
        );
        assert_eq!(parse(b"PRIVMSG a \0").unwrap_err(), LineError::Nul);
        let long = format!("PRIVMSG a :{}", "x".repeat(500));
        assert_eq!(
            parse(long.as_bytes()).unwrap_err(),
            LineError::TooLong { len: 513, max: 512 }
        );
        let tagged = format!("@a={} PING x", "v".repeat(4094));
        assert!(matches!(
            parse(tagged.as_bytes()),
            Err(LineError::TagsTooLong { .. })
        ));
        // Long tags do not count against the body.
        let tagged = format!("@a={} PRIVMSG a :{}", "v".repeat(4000), "x".repeat(490));
        assert!(parse(tagged.as_bytes()).is_ok());
    }

    #[test]
    fn frames_lines_and_drops_overlong_ones_without_buffering_them() {
        assert_eq!(
            lines(b"PING a\r\n\r\nPING b\nPART"),
            vec![Line::Text("PING a".into()), Line::Text("PING b".into())]
        );
        let mut buf = BytesMut::new();
        let mut framer = Lines::default();
        buf.extend_from_slice(&vec![b'x'; MAX_LINE + 10]);
        assert_eq!(framer.next(&mut buf), None);
        assert!(buf.is_empty(), "an over-long line is not kept");
        assert!(framer.partial(&buf));
        buf.extend_from_slice(b"yy\r\nPING c\r\n");
        assert_eq!(framer.next(&mut buf), Some(Line::TooLong(MAX_LINE + 14)));
        assert_eq!(framer.next(&mut buf), Some(Line::Text("PING c".into())));
        assert!(!framer.partial(&buf));
    }

    proptest! {
        #[test]
        fn serialized_messages_parse_back(
            tags in proptest::collection::vec(("[a-z+][a-z0-9/.-]{0,10}", proptest::option::of("[ -~\\\\;]{1,20}")), 0..4),
            source in proptest::option::of("[a-z][a-z0-9!@.]{0,20}"),
            command in "[A-Z]{1,10}",
            middle in proptest::collection::vec("[!-9;-~][!-~]{0,10}", 0..5),
            trailing in proptest::option::of("[ -~]{0,40}"),
        ) {
            let mut params = middle;
            params.extend(trailing);
            let message = Message { tags, source, command, params };
            let line = serialize(&message);
            let parsed = parse(line.trim_end_matches("\r\n").as_bytes()).unwrap();
            prop_assert_eq!(parsed, message);
        }

        #[test]
        fn any_bytes_parse_or_fail_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..700)) {
            let _ = parse(&bytes);
            let mut buf = BytesMut::from(&bytes[..]);
            let mut framer = Lines::default();
            while framer.next(&mut buf).is_some() {}
        }
    }
}
