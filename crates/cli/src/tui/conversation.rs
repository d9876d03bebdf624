//! Conversations: what the left pane lists and the middle pane shows.
//!
//! A conversation is identified by its [`ConversationId`]; each kind of
//! conversation the server offers is one variant (everyone, direct, room),
//! and the rest of the UI only asks the id what it needs: a title, and
//! where the text typed into it goes.

use chinwag_client::{RoomInfo, RoomMode, RoomRole, Timestamp};
use chinwag_proto::{MessageId, NameKey};

/// Whether two spellings name the same user, as the server decides it: by
/// the folded key (case, width and Unicode normalisation aside).
pub fn same_user(a: &str, b: &str) -> bool {
    NameKey::fold(a).is_some_and(|key| NameKey::fold(b) == Some(key))
}

/// Whether `text` mentions `name`: the name, in any case, not inside a
/// longer word. Names that start or end with a letter of a script
/// written without spaces (小明) match wherever they appear.
pub fn mentions(text: &str, name: &str) -> bool {
    let name = name.to_lowercase();
    let text = text.to_lowercase();
    if name.is_empty() {
        return false;
    }
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let edge_is_word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    let (first, last) = (name.chars().next(), name.chars().next_back());
    text.match_indices(&name).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + name.len()..].chars().next();
        let glued_before = edge_is_word(first) && word(before);
        let glued_after = edge_is_word(last) && word(after);
        !glued_before && !glued_after
    })
}

/// How many entries a conversation keeps; older ones are dropped.
pub const SCROLLBACK: usize = 5_000;

/// Which conversation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ConversationId {
    /// Broadcasts: everyone online.
    Everyone,
    /// Direct messages with one user, keyed by the name's folded key
    /// (`ＡＬＩＣＥ` and `Alice` are one user, see [`same_user`]).
    Direct(String),
    /// A room, keyed by its name (with `#`) in lower case.
    Room(String),
}

impl ConversationId {
    /// The direct conversation with `name`.
    pub fn direct(name: &str) -> ConversationId {
        ConversationId::Direct(
            NameKey::fold(name).map_or_else(|| name.to_lowercase(), |k| k.as_str().to_owned()),
        )
    }

    /// The conversation of the room `name`.
    pub fn room(name: &str) -> ConversationId {
        ConversationId::Room(name.to_lowercase())
    }

    /// Whether the server keeps this conversation's history for guests
    /// too: the broadcasts and rooms (for their members), yes; direct
    /// messages are kept for accounts only.
    pub fn history_for_guests(&self) -> bool {
        match self {
            ConversationId::Everyone | ConversationId::Room(_) => true,
            ConversationId::Direct(_) => false,
        }
    }
}

/// How much of a conversation's stored history the server has sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Backlog {
    /// Nothing asked for yet.
    #[default]
    Unasked,
    /// A page is on its way.
    Loading,
    /// Some pages came; older ones may exist.
    Partial,
    /// The server has nothing older: the conversation starts here.
    Complete,
}

/// How a line stands out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    /// Joins, leaves, command results.
    Info,
    /// Moderation and connection changes: muted, kicked, reconnecting.
    Alert,
    /// Something failed.
    Error,
}

/// One line of a conversation before wrapping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    Message {
        from: String,
        text: String,
        /// A `/me` action: shown as `* from text`.
        action: bool,
        /// It names me: highlighted.
        mention: bool,
    },
    Notice {
        text: String,
        tone: Tone,
        /// A join or leave of someone who had not spoken lately: folded
        /// away while the smart filter is on.
        quiet: bool,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub ts: Timestamp,
    /// The server's id of a message; notices have none.
    pub id: Option<MessageId>,
    pub body: Body,
}

#[derive(Clone, Debug)]
pub struct Conversation {
    pub id: ConversationId,
    /// The name shown: "everyone", or the peer's name as the server spells it.
    pub title: String,
    pub entries: Vec<Entry>,
    /// Messages that arrived while the conversation was not open.
    pub unread: usize,
    /// How many wrapped lines the view is scrolled up from the bottom.
    pub scroll: usize,
    /// Of the unread messages, how many were queued while we were away.
    pub unread_away: usize,
    /// Of the unread messages, how many name me.
    pub mentions: usize,
    pub backlog: Backlog,
    /// A room's topic, mode and my role, as the server last told them.
    pub room: Option<RoomHeader>,
    /// How far the server knows this account has read it.
    pub marked: Option<MessageId>,
    /// The away message last shown when writing to this peer: shown once.
    pub told_away: Option<String>,
}

/// What a room's header shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomHeader {
    pub topic: String,
    pub mode: RoomMode,
    pub role: RoomRole,
    pub members: u32,
}

impl RoomHeader {
    pub fn of(info: &RoomInfo) -> RoomHeader {
        RoomHeader {
            topic: crate::render::sanitize(&info.topic).into_owned(),
            mode: info.mode,
            role: info.role,
            members: info.members,
        }
    }
}

impl Conversation {
    pub fn new(id: ConversationId, title: impl Into<String>) -> Conversation {
        Conversation {
            id,
            title: title.into(),
            entries: Vec::new(),
            unread: 0,
            scroll: 0,
            unread_away: 0,
            mentions: 0,
            backlog: Backlog::Unasked,
            room: None,
            marked: None,
            told_away: None,
        }
    }

    /// Adds a message in time order (by timestamp, then id) and returns
    /// whether it was new: a message already here (same id) is not added
    /// twice. Messages mostly arrive in order, so this is a push; older
    /// ones (history, a catch-up after a reconnect) slot in where they
    /// belong.
    #[cfg(test)]
    pub fn add_message(&mut self, id: MessageId, ts: Timestamp, from: &str, text: &str) -> bool {
        self.add(id, ts, from, text, false, false)
    }

    /// [`add_message`](Self::add_message) with its kind (`action`: `/me`)
    /// and whether it names me.
    pub fn add(
        &mut self,
        id: MessageId,
        ts: Timestamp,
        from: &str,
        text: &str,
        action: bool,
        mention: bool,
    ) -> bool {
        let key = (ts, Some(id));
        let at = self
            .entries
            .iter()
            .rposition(|e| (e.ts, e.id) <= key)
            .map_or(0, |i| i + 1);
        let duplicate = self.entries[..at]
            .iter()
            .rev()
            .take_while(|e| e.ts == ts)
            .any(|e| e.id == Some(id));
        if duplicate {
            return false;
        }
        self.entries.insert(
            at,
            Entry {
                ts,
                id: Some(id),
                body: Body::Message {
                    from: from.to_owned(),
                    text: text.to_owned(),
                    action,
                    mention,
                },
            },
        );
        self.trim();
        true
    }

    /// A message deleted by `actor`: its text is replaced.
    pub fn redact(&mut self, id: MessageId, actor: &str) {
        for entry in self.entries.iter_mut().filter(|e| e.id == Some(id)) {
            if let Body::Message { text, action, .. } = &mut entry.body {
                *text = format!("(message deleted by {actor})");
                *action = false;
            }
        }
    }

    /// Adds a notice at the end.
    pub fn add_notice(&mut self, ts: Timestamp, text: impl Into<String>, tone: Tone) {
        self.push_notice(ts, text.into(), tone, false);
    }

    /// Adds a join or leave; `quiet` when its subject has not spoken
    /// lately (the smart filter folds it away).
    pub fn add_presence(&mut self, ts: Timestamp, text: impl Into<String>, quiet: bool) {
        self.push_notice(ts, text.into(), Tone::Info, quiet);
    }

    fn push_notice(&mut self, ts: Timestamp, text: String, tone: Tone, quiet: bool) {
        self.entries.push(Entry {
            ts,
            id: None,
            body: Body::Notice { text, tone, quiet },
        });
        self.trim();
    }

    /// The newest message's id.
    pub fn newest_id(&self) -> Option<MessageId> {
        self.entries.iter().filter_map(|e| e.id).max()
    }

    /// The oldest message's id: history pages go back from there.
    pub fn oldest_id(&self) -> Option<MessageId> {
        self.entries.iter().filter_map(|e| e.id).min()
    }

    /// Marks everything read.
    pub fn read(&mut self) {
        self.unread = 0;
        self.unread_away = 0;
        self.mentions = 0;
    }

    fn trim(&mut self) {
        if self.entries.len() > SCROLLBACK {
            let excess = self.entries.len() - SCROLLBACK;
            self.entries.drain(..excess);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(c: &Conversation) -> Vec<String> {
        c.entries
            .iter()
            .map(|e| match &e.body {
                Body::Message { text, .. } => text.clone(),
                Body::Notice { text, .. } => format!("* {text}"),
            })
            .collect()
    }

    #[test]
    fn spellings_of_one_name_are_one_user_and_one_conversation() {
        assert!(same_user("ＡＬＩＣＥ", "alice"));
        assert!(same_user("Jose\u{301}", "JOSÉ"));
        assert!(same_user("小明", "小明"));
        assert!(!same_user("\u{430}lice", "alice"));
        assert_eq!(
            ConversationId::direct("ＡＬＩＣＥ"),
            ConversationId::direct("Alice")
        );
        assert_eq!(
            ConversationId::direct("Łukasz"),
            ConversationId::Direct("łukasz".into())
        );
    }

    #[test]
    fn messages_are_kept_in_time_order_without_duplicates() {
        let mut c = Conversation::new(ConversationId::Everyone, "everyone");
        assert!(c.add_message(MessageId(2), Timestamp(20), "a", "second"));
        assert!(c.add_message(MessageId(3), Timestamp(30), "a", "third"));
        assert!(c.add_message(MessageId(1), Timestamp(10), "a", "first"));
        assert!(!c.add_message(MessageId(2), Timestamp(20), "a", "second"));
        c.add_notice(Timestamp(31), "bob joined", Tone::Info);
        assert_eq!(texts(&c), ["first", "second", "third", "* bob joined"]);
        assert_eq!(c.oldest_id(), Some(MessageId(1)));
    }

    #[test]
    fn direct_ids_ignore_case() {
        assert_eq!(ConversationId::direct("Bob"), ConversationId::direct("bOB"));
    }

    #[test]
    fn scrollback_is_bounded() {
        let mut c = Conversation::new(ConversationId::Everyone, "everyone");
        for i in 0..SCROLLBACK as u64 + 10 {
            c.add_message(MessageId(i), Timestamp(i), "a", "x");
        }
        assert_eq!(c.entries.len(), SCROLLBACK);
        assert_eq!(c.entries[0].id, Some(MessageId(10)));
    }

    #[test]
    fn a_mention_is_the_name_as_a_word_in_any_case() {
        assert!(mentions("alice: hi", "alice"));
        assert!(mentions("hi ALICE!", "alice"));
        assert!(mentions("@Alice, look", "alice"));
        assert!(!mentions("no malice", "alice"));
        assert!(!mentions("alicent", "alice"));
        assert!(!mentions("alice_2 is someone else", "alice"));
        assert!(mentions("José?", "josé"));
        // Written without spaces: anywhere.
        assert!(mentions("小明你好", "小明"));
        assert!(!mentions("", "alice"));
        assert!(!mentions("anything", ""));
    }
}
