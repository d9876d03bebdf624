//! Which conversation a message belongs to, and the one way both backends
//! write that to the `messages.conv` column and read it back.
//!
//! The column's format is the one every chinwagd has written: `*` for the
//! broadcast channel, `#room` (the folded room name) for a room, and the
//! two folded names of a direct conversation, in byte order, joined by a
//! space (`alice bob`). User names start with a letter and hold no space,
//! so the three never overlap. Only this module knows the format: the
//! backends call [`ConversationKey::to_column`] and
//! [`ConversationKey::from_column`], and render [`reader_filter`] in their
//! SQL.

use chinwag_proto::{NameKey, RoomKey};

/// The column value of the broadcast channel.
pub(crate) const BROADCAST: &str = "*";
/// What starts a room's column value, before its folded name.
pub(crate) const ROOM_PREFIX: char = '#';
/// What joins the two names of a direct conversation.
const DIRECT_SEPARATOR: char = ' ';

/// The conversation a stored message is filed under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConversationKey {
    /// The broadcast channel.
    Broadcast,
    /// The direct messages between two users, both ways.
    Direct(DirectPair),
    /// A room's messages.
    Room(RoomKey),
}

/// The two users of a direct conversation, in a fixed order, so that both
/// sides name the same conversation (`alice` to `bob` and `bob` to
/// `alice`). Built only by [`DirectPair::new`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DirectPair {
    first: NameKey,
    second: NameKey,
}

impl DirectPair {
    /// The conversation between `a` and `b`, in either order (the same
    /// user twice for notes to oneself).
    pub fn new(a: NameKey, b: NameKey) -> DirectPair {
        // Ordered as strings (not by `NameKey`'s own `Ord`, which puts
        // shorter names first): the order every stored key was written in.
        let (first, second) = if a.as_str() <= b.as_str() {
            (a, b)
        } else {
            (b, a)
        };
        DirectPair { first, second }
    }

    /// Both users, in the pair's order.
    pub fn users(&self) -> (NameKey, NameKey) {
        (self.first, self.second)
    }
}

impl ConversationKey {
    /// The direct conversation between `a` and `b`.
    pub fn direct(a: NameKey, b: NameKey) -> ConversationKey {
        ConversationKey::Direct(DirectPair::new(a, b))
    }

    /// The value stored in `messages.conv`.
    pub fn to_column(&self) -> String {
        match self {
            ConversationKey::Broadcast => BROADCAST.to_owned(),
            // Concatenated by hand: `format!` costs several times more,
            // and this runs for every message stored.
            ConversationKey::Room(room) => {
                let mut column = String::with_capacity(1 + room.as_str().len());
                column.push(ROOM_PREFIX);
                column.push_str(room.as_str());
                column
            }
            ConversationKey::Direct(pair) => {
                let (first, second) = (pair.first.as_str(), pair.second.as_str());
                let mut column = String::with_capacity(first.len() + 1 + second.len());
                column.push_str(first);
                column.push(DIRECT_SEPARATOR);
                column.push_str(second);
                column
            }
        }
    }

    /// Reads a `messages.conv` value back; an error says what is wrong
    /// with one this module did not write.
    pub fn from_column(column: &str) -> Result<ConversationKey, BadConversationKey> {
        let bad = || BadConversationKey(column.to_owned());
        if column == BROADCAST {
            return Ok(ConversationKey::Broadcast);
        }
        if column.starts_with(ROOM_PREFIX) {
            return RoomKey::fold(column)
                .filter(|room| !room.as_str().is_empty())
                .map(ConversationKey::Room)
                .ok_or_else(bad);
        }
        let (first, second) = column.split_once(DIRECT_SEPARATOR).ok_or_else(bad)?;
        let user = |name: &str| {
            NameKey::fold(name).filter(|key| {
                // Folded already, as written, and one name each.
                !name.is_empty() && key.as_str() == name && !name.contains(DIRECT_SEPARATOR)
            })
        };
        let pair = DirectPair::new(user(first).ok_or_else(bad)?, user(second).ok_or_else(bad)?);
        if pair.first.as_str() != first {
            // Out of order: not a key this module wrote.
            return Err(bad());
        }
        Ok(ConversationKey::Direct(pair))
    }
}

/// A `messages.conv` value that no chinwagd wrote.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a conversation key")]
pub struct BadConversationKey(pub String);

/// The SQL condition, on the `messages` table, "the message is in a
/// conversation that `reader` may read": the broadcast channel, its direct
/// conversations (its name is the first or the second half of the key)
/// and the rooms it is a member of. `reader` is the SQL placeholder bound
/// to the reader's folded name. The SQL is the same in SQLite and in
/// PostgreSQL.
pub fn reader_filter(reader: &str) -> String {
    // `substr` with a start before the column's first character differs
    // between the two dialects, but then the part taken is shorter than
    // the name and matches in neither.
    format!(
        "(conv = '{BROADCAST}'
          OR substr(conv, 1, length({reader}) + 1) = {reader} || '{DIRECT_SEPARATOR}'
          OR substr(conv, length(conv) - length({reader})) = '{DIRECT_SEPARATOR}' || {reader}
          OR conv IN (SELECT '{ROOM_PREFIX}' || room_key FROM room_members
                      WHERE name_key = {reader}))"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> NameKey {
        NameKey::fold(name).unwrap()
    }

    #[test]
    fn the_column_format_is_the_one_already_stored() {
        assert_eq!(ConversationKey::Broadcast.to_column(), "*");
        let room = RoomKey::fold("#Rust").unwrap();
        assert_eq!(ConversationKey::Room(room).to_column(), "#rust");
        assert_eq!(
            ConversationKey::direct(key("Bob"), key("alice")).to_column(),
            "alice bob"
        );
        // String order, not length first: "ab" < "b".
        assert_eq!(
            ConversationKey::direct(key("b"), key("ab")).to_column(),
            "ab b"
        );
    }

    #[test]
    fn both_sides_name_the_same_direct_conversation() {
        let one = ConversationKey::direct(key("alice"), key("bob"));
        assert_eq!(one, ConversationKey::direct(key("BOB"), key("alice")));
        let ConversationKey::Direct(pair) = one else {
            panic!("not direct");
        };
        assert_eq!(pair.users(), (key("alice"), key("bob")));
    }

    #[test]
    fn every_key_reads_back_as_written() {
        for conversation in [
            ConversationKey::Broadcast,
            ConversationKey::Room(RoomKey::fold("#General").unwrap()),
            ConversationKey::direct(key("zed"), key("Amy")),
            ConversationKey::direct(key("me"), key("me")),
        ] {
            let column = conversation.to_column();
            assert_eq!(
                ConversationKey::from_column(&column),
                Ok(conversation),
                "{column}"
            );
        }
    }

    #[test]
    fn a_column_no_chinwagd_wrote_is_an_error() {
        for column in [
            "",
            "#",
            "**",
            "bob",
            "bob ",
            " bob",
            "Bob alice",
            "bob alice",
            "a b c",
        ] {
            assert_eq!(
                ConversationKey::from_column(column),
                Err(BadConversationKey(column.to_owned())),
                "{column:?}"
            );
        }
    }
}
