//! User names: what a valid one is, and how two names compare.

use std::hash::{Hash, Hasher};

use bytestring::ByteString;

use crate::limits::MAX_NAME_LEN;

/// A valid user name: 1 to 32 bytes, ASCII letters, digits, `_` and `-`,
/// starting with a letter. Names compare and hash case-insensitively, so
/// `Alice` and `alice` are the same user, while the spelling the user chose
/// is kept for display. It can only be built valid.
#[derive(Clone)]
pub struct UserName(ByteString);

/// Why a string is not a valid name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("a name cannot be empty")]
    Empty,
    #[error("a name is at most {max} bytes, this one is {len}")]
    TooLong { len: usize, max: usize },
    #[error("a name must start with a letter (a-z, A-Z)")]
    BadStart,
    #[error("a name may contain only letters, digits, '_' and '-', not {0:?}")]
    BadChar(char),
}

impl UserName {
    /// Checks `name` against the rules and keeps a copy of it. The copy
    /// matters: a name from a decoded frame would otherwise keep the whole
    /// frame buffer alive for as long as the name is stored.
    pub fn parse(name: &str) -> Result<UserName, NameError> {
        validate(name)?;
        Ok(UserName(ByteString::from(name.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded identity of the user, for use as a map key.
    pub fn key(&self) -> NameKey {
        NameKey::fold(&self.0).unwrap_or(NameKey::EMPTY)
    }

    /// Whether `other` (unparsed) names this same user.
    pub fn is(&self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other)
    }
}

/// A name folded to lower case in a fixed inline buffer: a map key that
/// costs no allocation to build, so looking up a recipient from a frame's
/// `dst` field allocates nothing. Two names that differ only in case have
/// the same key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NameKey {
    len: u8,
    bytes: [u8; MAX_NAME_LEN],
}

impl NameKey {
    pub(crate) const EMPTY: NameKey = NameKey {
        len: 0,
        bytes: [0; MAX_NAME_LEN],
    };

    /// The key of `name`, or `None` if it is too long to be a name. It does
    /// not check the other name rules: an invalid name simply matches no
    /// user.
    pub fn fold(name: &str) -> Option<NameKey> {
        if name.len() > MAX_NAME_LEN {
            return None;
        }
        let mut key = NameKey::EMPTY;
        key.len = name.len() as u8;
        for (dst, src) in key.bytes.iter_mut().zip(name.bytes()) {
            *dst = src.to_ascii_lowercase();
        }
        Some(key)
    }

    pub fn as_str(&self) -> &str {
        // Folding ASCII letters keeps UTF-8 valid, and only whole `&str`s
        // are folded, so this cannot fail.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }
}

impl std::fmt::Debug for NameKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

fn validate(name: &str) -> Result<(), NameError> {
    let first = name.chars().next().ok_or(NameError::Empty)?;
    if name.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong {
            len: name.len(),
            max: MAX_NAME_LEN,
        });
    }
    if !first.is_ascii_alphabetic() {
        return Err(match first {
            c if c.is_ascii_alphanumeric() || c == '_' || c == '-' => NameError::BadStart,
            c => NameError::BadChar(c),
        });
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        Some(bad) => Err(NameError::BadChar(bad)),
        None => Ok(()),
    }
}

impl PartialEq for UserName {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl Eq for UserName {}

impl Hash for UserName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for byte in self.0.as_bytes() {
            state.write_u8(byte.to_ascii_lowercase());
        }
        state.write_u8(0xff);
    }
}

impl std::fmt::Display for UserName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Debug for UserName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", &*self.0)
    }
}

impl std::str::FromStr for UserName {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        UserName::parse(s)
    }
}

impl AsRef<str> for UserName {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn accepts_valid_names() {
        for ok in ["a", "alice", "Bob_2", "x-y", &"a".repeat(32)] {
            assert!(UserName::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_invalid_names_with_the_reason() {
        assert_eq!(UserName::parse("").unwrap_err(), NameError::Empty);
        assert_eq!(UserName::parse("1abc").unwrap_err(), NameError::BadStart);
        assert_eq!(UserName::parse("_abc").unwrap_err(), NameError::BadStart);
        assert_eq!(
            UserName::parse("al ice").unwrap_err(),
            NameError::BadChar(' ')
        );
        assert_eq!(
            UserName::parse("bob\u{1b}").unwrap_err(),
            NameError::BadChar('\u{1b}')
        );
        assert_eq!(
            UserName::parse("张三").unwrap_err(),
            NameError::BadChar('张')
        );
        assert!(matches!(
            UserName::parse(&"a".repeat(33)),
            Err(NameError::TooLong { len: 33, .. })
        ));
    }

    #[test]
    fn compares_case_insensitively_but_keeps_spelling() {
        let a = UserName::parse("Alice").unwrap();
        let b = UserName::parse("aLICE").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.as_str(), "Alice");
        assert!(a.is("ALICE"));
        let set: HashSet<_> = [a.clone(), b].into_iter().collect();
        assert_eq!(set.len(), 1);
        assert_eq!(a.key(), NameKey::fold("ALICE").unwrap());
        assert_eq!(a.key().as_str(), "alice");
        assert!(NameKey::fold(&"a".repeat(33)).is_none());
    }
}
