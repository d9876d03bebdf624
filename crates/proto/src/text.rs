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
}
