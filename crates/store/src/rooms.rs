//! What the store keeps of rooms: their messages (history, conversation
//! [`ConversationKey::Room`]), and the state that outlives a restart: name, topic, mode,
//! password, member limit, creation time, the memberships of accounts
//! (guests' end with their connection, so they are never written), room
//! mutes and the mask lists (bans, mutes, exceptions).
//!
//! The server changes a room in memory first and writes the change
//! through ([`RoomWrite`]) while it still holds the room's lock, so the
//! writes reach the store in the order the changes happened.

use chinwag_proto::room::MaskList;
use chinwag_proto::server::{MuteState, Timestamp};
use chinwag_proto::{NameKey, RoomKey, RoomName, RoomRole, UserName};

use super::ConversationKey;

/// A message to a room.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRoomMessage {
    pub ts: Timestamp,
    pub from: UserName,
    pub room: RoomName,
    pub text: String,
    /// A NOTICE (protocol.md 7.9).
    pub notice: bool,
}

impl NewRoomMessage {
    /// The conversation it is filed under.
    pub fn conversation(&self) -> ConversationKey {
        ConversationKey::Room(self.room.key())
    }
}

/// A room's own settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomMeta {
    /// The spelling it was created with, `#` included.
    pub name: String,
    pub topic: String,
    /// The mode flags (ROOM_MODE's `mode`).
    pub mode: u8,
    pub password: Option<String>,
    /// Most members it lets in (0: no limit).
    pub limit: u32,
    /// When it was created (0: before rooms kept it).
    pub created: Timestamp,
    /// Who set the topic, and when.
    pub topic_by: String,
    pub topic_ts: Timestamp,
}

/// An account's membership.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberRecord {
    /// The account's spelling.
    pub name: String,
    pub role: RoomRole,
    /// Order of joining (who inherits the room).
    pub since: u64,
    pub voiced: bool,
}

/// One entry of a room's mask lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaskRecord {
    pub list: MaskList,
    /// `nick!user@host`, folded to lower case.
    pub mask: String,
    pub set_by: String,
    pub set_at: Timestamp,
}

/// A room as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomRecord {
    pub meta: RoomMeta,
    pub members: Vec<MemberRecord>,
    pub mutes: Vec<(NameKey, MuteState)>,
    pub masks: Vec<MaskRecord>,
}

/// One change to a stored room.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoomWrite {
    /// Creates the room or replaces its settings.
    Meta(RoomMeta),
    /// Deletes the room with its members and mutes (not its history).
    Delete(RoomKey),
    /// Adds a member or changes its role.
    Member(RoomKey, MemberRecord),
    RemoveMember(RoomKey, NameKey),
    /// Sets a room mute; `NotMuted` removes it.
    Mute(RoomKey, NameKey, MuteState),
    /// Adds a mask to one of the room's lists.
    Mask(RoomKey, MaskRecord),
    /// Removes a mask (as folded) from one of the room's lists.
    Unmask(RoomKey, MaskList, String),
}
