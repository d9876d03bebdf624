//! User names: what a valid one is, and how two names compare.
//!
//! Names are Unicode, prepared as the PRECIS framework does (RFC 8264,
//! with RFC 8265's user name profiles): fullwidth and halfwidth forms are
//! mapped to their ordinary width, the result is put in NFC, and only
//! letters and digits of any script are allowed (the IdentifierClass:
//! no controls, spaces, symbols, unassigned code points, and a name that
//! mixes right-to-left and left-to-right letters follows the bidi rule).
//! On top of PRECIS, the protocol keeps its own rules: the only ASCII
//! punctuation allowed is `_` and `-` (so a name never holds `.`, `:`,
//! `|`, `#` or a space, and never looks like an IP address or a room),
//! the first character is a letter, invisible joiners are refused, and a
//! name is at most [`MAX_NAME_LEN`] bytes of UTF-8.
//!
//! - [`UserName`]: a valid name, in the spelling its user chose.
//! - [`NameKey`]: the name case-mapped (RFC 8265 UsernameCaseMapped), the
//!   identity uniqueness uses. For an ASCII name it is the name in ASCII
//!   lower case, as it always was.
//! - [`NameKey::skeleton`]: the UTS #39 confusable skeleton, equal for
//!   names that look alike (`alice` and `аlice` with a Cyrillic `а`).

use std::borrow::Cow;
use std::hash::{Hash, Hasher};

use bytestring::ByteString;
use precis_core::profile::PrecisFastInvocation;
use precis_core::{DerivedPropertyValue, Error as PrecisError};
use precis_profiles::{UsernameCaseMapped, UsernameCasePreserved};

use crate::limits::MAX_NAME_LEN;

/// The most bytes of input worth preparing: fullwidth letters take three
/// bytes each and map to one, so a valid name may arrive three times
/// longer than it ends up. Anything longer is refused before any work.
const MAX_INPUT_LEN: usize = 3 * MAX_NAME_LEN;

/// A valid user name (see the module documentation for the rules).
/// Names compare and hash by their [`NameKey`], so `Alice`, `aLICE` and
/// `ＡＬＩＣＥ` are the same user, while the spelling the user chose
/// (width-mapped and in NFC) is kept for display. It can only be built
/// valid.
#[derive(Clone)]
pub struct UserName {
    spelling: ByteString,
    key: NameKey,
}

/// Why a string is not a valid name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("a name cannot be empty")]
    Empty,
    #[error("a name is at most {max} bytes, this one is {len}")]
    TooLong { len: usize, max: usize },
    #[error("a name must start with a letter")]
    BadStart,
    #[error("a name may contain only letters, digits, '_' and '-', not {0:?}")]
    BadChar(char),
    #[error("a name may not contain {0:?} (U+{code:04X}): it is not an assigned Unicode character", code = u32::from(*.0))]
    Unassigned(char),
    #[error(
        "a name that mixes right-to-left and left-to-right letters must follow the bidi rule of RFC 5893"
    )]
    Bidi,
}

impl UserName {
    /// Checks `name` against the rules and keeps its prepared spelling.
    /// That is a copy: a name from a decoded frame would otherwise keep
    /// the whole frame buffer alive for as long as the name is stored.
    pub fn parse(name: &str) -> Result<UserName, NameError> {
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        if name.len() > MAX_INPUT_LEN {
            return Err(too_long(name));
        }
        if name.is_ascii() {
            parse_ascii(name)
        } else {
            parse_prepared(name)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.spelling
    }

    /// The case-mapped identity of the user, for use as a map key.
    pub fn key(&self) -> NameKey {
        self.key
    }

    /// Whether `other` (unparsed) names this same user.
    pub fn is(&self, other: &str) -> bool {
        NameKey::fold(other) == Some(self.key)
    }
}

/// An ASCII name, without the PRECIS machinery: it would change nothing
/// but case (which the key takes care of), and refuse only what the
/// protocol's rules refuse already. A proptest checks the two agree.
fn parse_ascii(name: &str) -> Result<UserName, NameError> {
    // What PRECIS refuses in ASCII (controls and the space) is reported
    // first, as it would be.
    if let Some(bad) = name.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(NameError::BadChar(bad));
    }
    check_protocol_rules(name)?;
    let key = NameKey::fold(name).ok_or_else(|| too_long(name))?;
    Ok(UserName {
        spelling: ByteString::from(name.to_owned()),
        key,
    })
}

/// Any name, prepared as PRECIS does, then checked by the protocol's rules.
fn parse_prepared(name: &str) -> Result<UserName, NameError> {
    let spelling = UsernameCasePreserved::enforce(name).map_err(refusal)?;
    check_protocol_rules(&spelling)?;
    if spelling.len() > MAX_NAME_LEN {
        return Err(too_long(&spelling));
    }
    let folded = UsernameCaseMapped::enforce(spelling.as_ref()).map_err(refusal)?;
    // Lower case can take more bytes than upper case (`İ` is two, `i̇`
    // three): the key has to fit too.
    let key = NameKey::from_folded(&folded).ok_or_else(|| too_long(&folded))?;
    Ok(UserName {
        spelling: ByteString::from(spelling.into_owned()),
        key,
    })
}

fn too_long(name: &str) -> NameError {
    NameError::TooLong {
        len: name.len(),
        max: MAX_NAME_LEN,
    }
}

/// Why PRECIS refused a name, in the terms of [`NameError`].
fn refusal(error: PrecisError) -> NameError {
    let offending = |cp: u32| char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER);
    match error {
        PrecisError::BadCodepoint(info) if info.property == DerivedPropertyValue::Unassigned => {
            NameError::Unassigned(offending(info.cp))
        }
        PrecisError::BadCodepoint(info) => NameError::BadChar(offending(info.cp)),
        // The only other refusals of a non-empty string: the bidi rule, and
        // a contextual character (a joiner, a middle dot) out of place.
        PrecisError::Invalid => NameError::Bidi,
        PrecisError::Unexpected(unexpected) => match unexpected {
            precis_core::UnexpectedError::ContextRuleNotApplicable(info)
            | precis_core::UnexpectedError::MissingContextRule(info) => {
                NameError::BadChar(offending(info.cp))
            }
            _ => NameError::Bidi,
        },
    }
}

/// The protocol's rules on top of PRECIS, on the prepared spelling.
fn check_protocol_rules(name: &str) -> Result<(), NameError> {
    // Zero-width joiners pass PRECIS in some contexts, but are invisible:
    // two names differing only by one would look the same.
    let allowed = |c: char| {
        if c.is_ascii() {
            c.is_ascii_alphanumeric() || c == '_' || c == '-'
        } else {
            !matches!(c, '\u{200C}' | '\u{200D}')
        }
    };
    if let Some(bad) = name.chars().find(|c| !allowed(*c)) {
        return Err(NameError::BadChar(bad));
    }
    match name.chars().next() {
        None => Err(NameError::Empty),
        Some(first) if !first.is_alphabetic() => Err(NameError::BadStart),
        Some(_) => Ok(()),
    }
}

/// A name case-mapped in a fixed inline buffer: a map key that costs no
/// allocation to build from an ASCII name, so looking up a recipient from
/// a frame's `dst` field allocates nothing in the common case. Two names
/// that differ only in case or width have the same key.
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

    /// The key of `name`, or `None` if it cannot be the key of any name:
    /// too long, or (for a non-ASCII name) refused by PRECIS. It does not
    /// check the protocol's own rules: an invalid name simply matches no
    /// user.
    pub fn fold(name: &str) -> Option<NameKey> {
        if name.is_ascii() {
            // PRECIS leaves ASCII letters and digits alone but for case,
            // and this is how keys were always made: keep it exact.
            if name.len() > MAX_NAME_LEN {
                return None;
            }
            let mut key = NameKey::EMPTY;
            key.len = name.len() as u8;
            for (dst, src) in key.bytes.iter_mut().zip(name.bytes()) {
                *dst = src.to_ascii_lowercase();
            }
            return Some(key);
        }
        if name.len() > MAX_INPUT_LEN {
            return None;
        }
        let folded: Cow<'_, str> = UsernameCaseMapped::enforce(name).ok()?;
        NameKey::from_folded(&folded)
    }

    /// A key holding `folded` as it is, if it fits.
    fn from_folded(folded: &str) -> Option<NameKey> {
        if folded.len() > MAX_NAME_LEN {
            return None;
        }
        let mut key = NameKey::EMPTY;
        key.len = folded.len() as u8;
        key.bytes[..folded.len()].copy_from_slice(folded.as_bytes());
        Some(key)
    }

    pub fn as_str(&self) -> &str {
        // Only whole `&str`s are stored (ASCII lower-casing keeps UTF-8
        // valid), so this cannot fail.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }

    /// The UTS #39 confusable skeleton of the key: names whose skeletons
    /// are equal look alike (`аlice` with a Cyrillic `а` and `alice`; also
    /// `rn` and `m`, `1` and `l`), so a new name whose skeleton is another
    /// user's, under a different key, is refused as a homoglyph.
    pub fn skeleton(&self) -> String {
        unicode_security::skeleton(self.as_str()).collect()
    }
}

impl std::fmt::Debug for NameKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl PartialEq for UserName {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for UserName {}

impl Hash for UserName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.hash(state);
    }
}

impl std::fmt::Display for UserName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.spelling)
    }
}

impl std::fmt::Debug for UserName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", &*self.spelling)
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
        let refused = |name: &str| UserName::parse(name).unwrap_err();
        assert_eq!(refused(""), NameError::Empty);
        assert_eq!(refused("1abc"), NameError::BadStart);
        assert_eq!(refused("_abc"), NameError::BadStart);
        assert_eq!(refused("१abc"), NameError::BadStart);
        assert_eq!(refused("al ice"), NameError::BadChar(' '));
        assert_eq!(refused("bob\u{1b}"), NameError::BadChar('\u{1b}'));
        for punctuation in [".", ":", "|", "#", "@", "!"] {
            let name = format!("a{punctuation}b");
            let bad = punctuation.chars().next().unwrap();
            assert_eq!(refused(&name), NameError::BadChar(bad), "{name}");
        }
        // Invisible characters, other spaces, symbols.
        assert_eq!(refused("ali\u{200B}ce"), NameError::BadChar('\u{200B}'));
        assert_eq!(refused("ali\u{200D}ce"), NameError::BadChar('\u{200D}'));
        assert_eq!(refused("ali\u{00A0}ce"), NameError::BadChar('\u{00A0}'));
        // The ideographic space is a wide space: it maps to ' '.
        assert_eq!(refused("ali\u{3000}ce"), NameError::BadChar(' '));
        assert_eq!(refused("ali\u{202E}ce"), NameError::BadChar('\u{202E}'));
        assert_eq!(refused("love♥"), NameError::BadChar('♥'));
        assert_eq!(refused("a\u{0378}"), NameError::Unassigned('\u{0378}'));
        // Hebrew then Latin: against the bidi rule.
        assert_eq!(refused("שלוםabc"), NameError::Bidi);
        assert!(matches!(
            refused(&"a".repeat(33)),
            NameError::TooLong { len: 33, .. }
        ));
        // Eleven three-byte characters are 33 bytes.
        assert!(matches!(
            refused(&"明".repeat(11)),
            NameError::TooLong { len: 33, .. }
        ));
    }

    #[test]
    fn accepts_unicode_names_prepared_as_precis_does() {
        for ok in [
            "小明",
            "José",
            "Łukasz",
            "Ærøskøbing",
            "Дмитрий",
            "שלום",
            &"明".repeat(10),
        ] {
            let name = UserName::parse(ok).unwrap();
            assert_eq!(name.as_str(), ok);
        }
        // Fullwidth maps to the ordinary width, then case-maps.
        let wide = UserName::parse("ＡＬＩＣＥ").unwrap();
        assert_eq!(wide.as_str(), "ALICE");
        assert_eq!(wide.key().as_str(), "alice");
        assert_eq!(wide, UserName::parse("alice").unwrap());
        // A decomposed é is put in NFC, so both spellings are one name.
        let decomposed = UserName::parse("Jose\u{301}").unwrap();
        assert_eq!(decomposed.as_str(), "José");
        assert_eq!(decomposed.key().as_str(), "josé");
        assert!(decomposed.is("JOSÉ"));
        assert_eq!(UserName::parse("ŁUKASZ").unwrap().key().as_str(), "łukasz");
    }

    #[test]
    fn compares_case_insensitively_but_keeps_spelling() {
        let a = UserName::parse("Alice").unwrap();
        let b = UserName::parse("aLICE").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.as_str(), "Alice");
        assert!(a.is("ALICE"));
        assert!(a.is("ＡＬＩＣＥ"));
        let set: HashSet<_> = [a.clone(), b].into_iter().collect();
        assert_eq!(set.len(), 1);
        assert_eq!(a.key(), NameKey::fold("ALICE").unwrap());
        assert_eq!(a.key().as_str(), "alice");
        assert!(NameKey::fold(&"a".repeat(33)).is_none());
        assert!(NameKey::fold("ali\u{200B}ce").is_none());
    }

    #[test]
    fn homoglyphs_share_a_skeleton_but_not_a_key() {
        let latin = UserName::parse("alice").unwrap().key();
        let cyrillic = UserName::parse("\u{430}lice").unwrap().key();
        assert_ne!(latin, cyrillic);
        assert_eq!(latin.skeleton(), cyrillic.skeleton());
        assert_eq!(latin.skeleton(), "alice");
        let bob = UserName::parse("bob").unwrap().key();
        assert_ne!(bob.skeleton(), latin.skeleton());
    }

    /// The ASCII key as it was before names were Unicode: accounts in
    /// existing databases are keyed by it.
    fn old_ascii_fold(name: &str) -> String {
        name.to_ascii_lowercase()
    }

    proptest::proptest! {
        #[test]
        fn ascii_names_fold_exactly_as_before(name in "[a-zA-Z][a-zA-Z0-9_-]{0,31}") {
            let parsed = UserName::parse(&name).unwrap();
            proptest::prop_assert_eq!(parsed.as_str(), name.as_str());
            proptest::prop_assert_eq!(parsed.key().as_str().to_owned(), old_ascii_fold(&name));
            proptest::prop_assert_eq!(NameKey::fold(&name), Some(parsed.key()));
        }

        #[test]
        fn ascii_takes_a_short_cut_to_the_same_answer(
            text in "[a-zA-Z0-9_-]{0,36}[\\x00-\\x7f]{0,2}[a-zA-Z0-9_-]{0,4}"
        ) {
            proptest::prop_assume!(!text.is_empty());
            let short_cut = parse_ascii(&text);
            let prepared = parse_prepared(&text);
            proptest::prop_assert_eq!(short_cut.is_ok(), prepared.is_ok());
            match (short_cut, prepared) {
                (Ok(a), Ok(b)) => {
                    proptest::prop_assert_eq!(a.as_str(), b.as_str());
                    proptest::prop_assert_eq!(a.key(), b.key());
                }
                (Err(a), Err(b)) => proptest::prop_assert_eq!(a, b),
                _ => unreachable!("checked above"),
            }
        }

        #[test]
        fn any_ascii_string_folds_as_before(text in "[ -~]{0,32}") {
            let key = NameKey::fold(&text).unwrap();
            proptest::prop_assert_eq!(key.as_str(), old_ascii_fold(&text));
        }

        #[test]
        fn a_valid_name_is_a_fixed_point(text in "\\PC{1,12}") {
            // Preparing a prepared name changes nothing, and its key is
            // what folding any spelling of it gives.
            if let Ok(name) = UserName::parse(&text) {
                let again = UserName::parse(name.as_str()).unwrap();
                proptest::prop_assert_eq!(again.as_str(), name.as_str());
                proptest::prop_assert_eq!(again.key(), name.key());
                proptest::prop_assert_eq!(NameKey::fold(&text), Some(name.key()));
            }
        }
    }
}
