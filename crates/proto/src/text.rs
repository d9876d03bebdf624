//! What a valid message text is.

/// Why a text cannot be sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("the text is empty")]
    Empty,
    #[error("the text is {len} bytes, more than the limit of {max}")]
    TooLong { len: usize, max: usize },
    #[error("the text contains the control character U+{:04X}", *.0 as u32)]
    ControlChar(char),
    #[error("bad client tags: {0}")]
    BadTags(&'static str),
}

/// Most bytes of a message's client tags (protocol.md 2.5): what IRC
/// allows a client's tags, without the `@` and the space after them.
pub const MAX_TAGS: usize = 4094;

/// Checks a message's client tags (protocol.md 2.5): IRCv3's client-only
/// tags in their escaped form, `+key[=value]` joined by `;`, at most
/// [`MAX_TAGS`] bytes. A key is `+`, an optional vendor (a host name and
/// `/`), and letters, digits and `-`; a value has no `;`, space, CR, LF or
/// NUL (they are escaped as `\:`, `\s`, `\r`, `\n`, `\0`). No key twice.
pub fn validate_tags(tags: &str) -> Result<(), TextError> {
    if tags.len() > MAX_TAGS {
        return Err(TextError::TooLong {
            len: tags.len(),
            max: MAX_TAGS,
        });
    }
    let mut keys: Vec<&str> = Vec::new();
    for tag in tags.split(';') {
        let (key, value) = tag.split_once('=').unwrap_or((tag, ""));
        let Some(name) = key.strip_prefix('+') else {
            return Err(TextError::BadTags("a client tag's key starts with +"));
        };
        let (vendor, name) = name.rsplit_once('/').unwrap_or(("", name));
        let host = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.';
        let word = |c: char| c.is_ascii_alphanumeric() || c == '-';
        if name.is_empty() || !name.chars().all(word) || !vendor.chars().all(host) {
            return Err(TextError::BadTags("a key is letters, digits and -"));
        }
        if value
            .chars()
            .any(|c| matches!(c, ';' | ' ' | '\r' | '\n' | '\0') || c.is_control())
        {
            return Err(TextError::BadTags("a value holds a character to escape"));
        }
        if keys.contains(&key) {
            return Err(TextError::BadTags("a key is given twice"));
        }
        keys.push(key);
    }
    Ok(())
}

/// What starts an action (`/me waves`, protocol.md 2.4): IRC's CTCP ACTION form,
/// `\x01ACTION waves\x01`, the same on every front end.
const ACTION_START: &str = "\u{1}ACTION ";
const ACTION_END: char = '\u{1}';

/// The text of an action message, in the form a message carries it.
pub fn action(text: &str) -> String {
    format!("{ACTION_START}{text}{ACTION_END}")
}

/// What an action message does (`waves`), if `text` is one.
pub fn as_action(text: &str) -> Option<&str> {
    text.strip_prefix(ACTION_START)?.strip_suffix(ACTION_END)
}

/// Checks the text of a message (direct, broadcast, room): a valid text
/// ([`validate`]), or an action whose own text is one. The action's
/// markers are the only control characters a message may hold.
pub fn validate_message(text: &str, max: usize) -> Result<(), TextError> {
    if text.len() > max {
        return Err(TextError::TooLong {
            len: text.len(),
            max,
        });
    }
    match as_action(text) {
        Some(inner) => validate(inner, max),
        None => validate(text, max),
    }
}

/// Checks a message text: not empty, at most `max` bytes of UTF-8, and no
/// control characters other than tab and newline. Escape sequences would let
/// one user repaint another user's terminal, so the server refuses them
/// rather than trusting every client to filter them.
pub fn validate(text: &str, max: usize) -> Result<(), TextError> {
    if text.is_empty() {
        return Err(TextError::Empty);
    }
    if text.len() > max {
        return Err(TextError::TooLong {
            len: text.len(),
            max,
        });
    }
    // Fast path: printable ASCII needs no per-char work.
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Ok(());
    }
    match text
        .chars()
        .find(|c| c.is_control() && *c != '\n' && *c != '\t')
    {
        Some(c) => Err(TextError::ControlChar(c)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_text() {
        assert_eq!(validate("hello", 10), Ok(()));
        assert_eq!(validate("你好，世界", 64), Ok(()));
        assert_eq!(validate("two\nlines\tand a tab", 64), Ok(()));
        assert_eq!(validate("", 10), Err(TextError::Empty));
        assert_eq!(
            validate("hello", 4),
            Err(TextError::TooLong { len: 5, max: 4 })
        );
        assert_eq!(
            validate("\u{1b}[2J", 10),
            Err(TextError::ControlChar('\u{1b}'))
        );
        assert_eq!(
            validate("a\u{7f}", 10),
            Err(TextError::ControlChar('\u{7f}'))
        );
    }

    #[test]
    fn validates_client_tags() {
        assert_eq!(validate_tags("+typing=active"), Ok(()));
        assert_eq!(validate_tags("+draft/reply=12;+draft/react=l😃l"), Ok(()));
        assert_eq!(validate_tags("+example.com/flag"), Ok(()));
        assert_eq!(validate_tags("+buzz=fizz\\:buzz"), Ok(()));
        for bad in [
            "", "msgid=1", "+", "+a b", "+a=b c", "+a;+a", "+a=\u{1}", "+a/=1", "+=x",
        ] {
            assert!(validate_tags(bad).is_err(), "{bad:?}");
        }
        let long = format!("+k={}", "a".repeat(MAX_TAGS - 3));
        assert_eq!(validate_tags(&long), Ok(()));
        assert!(validate_tags(&format!("{long}a")).is_err());
    }

    #[test]
    fn actions_are_messages_in_irc_form() {
        let waves = action("waves 👋");
        assert_eq!(waves, "\u{1}ACTION waves 👋\u{1}");
        assert_eq!(as_action(&waves), Some("waves 👋"));
        assert_eq!(as_action("waves"), None);
        assert_eq!(validate_message(&waves, 64), Ok(()));
        assert_eq!(validate_message("plain", 64), Ok(()));
        // Only the whole form: a stray marker, an empty action or one with
        // escapes inside is refused; so is an action in a reason.
        assert!(validate_message("\u{1}ACTION waves", 64).is_err());
        assert_eq!(validate_message(&action(""), 64), Err(TextError::Empty));
        assert!(validate_message(&action("\u{1b}[2J"), 64).is_err());
        assert!(validate(&waves, 64).is_err());
        assert!(validate_message(&waves, 10).is_err());
    }
}
