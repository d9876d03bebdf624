//! Server-to-client frames: replies (carrying the request id they answer)
//! and events (request id 0).

use bytes::{BufMut, Bytes, BytesMut};
use bytestring::ByteString;

use crate::error::{BodyError, EncodeError, ErrorCode};
use crate::frame::{FrameType, RequestId};
use crate::room::{
    MaskEntry, MaskList, MemberInfo, RoomInfo, RoomNotice, flag, room_mode, room_role,
};
use crate::wire::{Decode, Encode, Reader, put_frame, put_str};

/// Milliseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(transparent)
)]
pub struct Timestamp(pub u64);

impl Timestamp {
    pub fn now() -> Timestamp {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(since.as_millis() as u64)
    }
}

/// A server-assigned message id; ids grow with time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(transparent)
)]
pub struct MessageId(pub u64);

impl MessageId {
    /// The top bit marks the id of a message that was not stored (tags
    /// alone, e.g. a typing notification): unique while the server runs,
    /// never in history.
    pub const EPHEMERAL: u64 = 1 << 63;

    pub fn is_ephemeral(self) -> bool {
        self.0 & MessageId::EPHEMERAL != 0
    }
}

/// A user's role.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
#[repr(u8)]
pub enum Role {
    #[default]
    User = 0,
    Admin = 1,
}

/// Whether, and until when, a user is muted. On the wire a `u64`: 0 for not
/// muted, `u64::MAX` for "until lifted", otherwise the [`Timestamp`] at which
/// the mute ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MuteState {
    #[default]
    NotMuted,
    Until(Timestamp),
    UntilLifted,
}

impl MuteState {
    pub fn to_wire(self) -> u64 {
        match self {
            MuteState::NotMuted => 0,
            MuteState::Until(ts) => ts.0.clamp(1, u64::MAX - 1),
            MuteState::UntilLifted => u64::MAX,
        }
    }

    pub fn from_wire(value: u64) -> MuteState {
        match value {
            0 => MuteState::NotMuted,
            u64::MAX => MuteState::UntilLifted,
            ts => MuteState::Until(Timestamp(ts)),
        }
    }

    /// The state as seen at `now`: a mute that has run out is no mute.
    pub fn at(self, now: Timestamp) -> MuteState {
        match self {
            MuteState::Until(end) if end <= now => MuteState::NotMuted,
            other => other,
        }
    }
}

/// What a MESSAGE is addressed to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MessageKind {
    /// To one user; `to` is that user.
    #[default]
    Direct,
    /// To everyone; `to` is empty.
    Broadcast,
    /// To a room's members; `to` is the room (`#general`).
    Room,
    /// To a room's operators (and owner) only; `to` is the room. Not
    /// stored: its `id` is 0 (ROOM_SEND_OPS).
    RoomOperators,
    /// A kind from a newer server; clients show it like a direct message.
    Other(u8),
}

impl MessageKind {
    pub fn to_u8(self) -> u8 {
        match self {
            MessageKind::Direct => 0,
            MessageKind::Broadcast => 1,
            MessageKind::Room => 2,
            MessageKind::RoomOperators => 3,
            MessageKind::Other(k) => k,
        }
    }

    pub fn from_u8(value: u8) -> MessageKind {
        match value {
            0 => MessageKind::Direct,
            1 => MessageKind::Broadcast,
            2 => MessageKind::Room,
            3 => MessageKind::RoomOperators,
            k => MessageKind::Other(k),
        }
    }
}

/// The `kind` byte of a MESSAGE (and of a HISTORY_PAGE entry) carries
/// flags above the kind itself (protocol.md 7.9): the kind is the low six
/// bits.
pub const KIND_MASK: u8 = 0x3F;
/// `kind` flag: the message is a NOTICE (clients never answer it
/// automatically, and show it apart from ordinary messages).
pub const KIND_NOTICE: u8 = 0x40;
/// `kind` flag: a `tags: str` field follows `text` (the sender's client
/// tags, protocol.md 2.5).
pub const KIND_TAGS: u8 = 0x80;

#[cfg_attr(not(feature = "serde"), allow(dead_code))]
fn is_empty(value: &ByteString) -> bool {
    value.is_empty()
}

#[cfg_attr(not(feature = "serde"), allow(dead_code))]
fn is_false(value: &bool) -> bool {
    !*value
}

/// What a NOTICE reports. Clients ignore kinds they do not know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoticeKind {
    /// `subject` came online.
    Joined,
    /// `subject` went offline; `text` says why (logout, disconnected,
    /// kicked by `actor`: reason).
    Left,
    /// `subject` (the receiver) was kicked by `actor`; `text` is the reason.
    /// The connection closes after this notice.
    Kicked,
    /// `subject` (the receiver) was muted by `actor` until `until`
    /// (a [`MuteState`] on the wire); `text` is the reason.
    Muted,
    /// `subject` (the receiver) may talk again; `actor` lifted the mute, or
    /// is empty when it ran out.
    Unmuted,
    /// The server is shutting down; `until` is the deadline (a
    /// [`Timestamp`]) by which every connection will be closed.
    Shutdown,
    /// The receiver fell behind in reading: the server dropped the live
    /// messages it had queued for it and sends it none until it reads
    /// them from history. `until` is the resume point, a message id: every
    /// message for the receiver with a larger id may be missing; fetch them
    /// with HISTORY [`MY_CONVERSATIONS`](crate::request::MY_CONVERSATIONS)
    /// `after` it.
    CatchUp,
    /// `subject` (the receiver) was banned by `actor` until `until` (a
    /// [`MuteState`] on the wire: `u64::MAX` for good); `text` is the
    /// reason. The connection closes after this notice.
    Banned,
    /// Room notices (ROOM_NOTICE frames), kinds 9 and up.
    /// `subject` joined the room.
    RoomJoined,
    /// `subject` left the room; `text` says why, `actor` kicked them.
    RoomLeft,
    /// `actor` set the room's topic to `text` (empty: cleared).
    RoomTopic,
    /// `subject` (the receiver) was put out of the room by `actor`.
    RoomKicked,
    /// `subject` (the receiver) was muted in the room until `until`.
    RoomMuted,
    /// `subject` (the receiver) may talk in the room again.
    RoomUnmuted,
    /// `subject`'s role in the room is now `until` (a room role).
    RoomRole,
    /// `actor` set the room's mode to `until` (the mode bits).
    RoomMode,
    /// `actor` invited `subject` (the receiver) into the room.
    RoomInvited,
    /// `actor` added `subject` (a mask) to a mask list, or removed it:
    /// `until` is the list (a [`MaskList`]), plus 256 for a removal.
    RoomMask,
    /// `actor` voiced `subject` (`until` 1) or took the voice back (0).
    RoomVoice,
    /// `actor` set the room's member limit to `until` (0: none).
    RoomLimit,
    Other(u8),
}

impl NoticeKind {
    pub fn to_u8(self) -> u8 {
        match self {
            NoticeKind::Joined => 1,
            NoticeKind::Left => 2,
            NoticeKind::Kicked => 3,
            NoticeKind::Muted => 4,
            NoticeKind::Unmuted => 5,
            NoticeKind::Shutdown => 6,
            NoticeKind::CatchUp => 7,
            NoticeKind::Banned => 8,
            NoticeKind::RoomJoined => 9,
            NoticeKind::RoomLeft => 10,
            NoticeKind::RoomTopic => 11,
            NoticeKind::RoomKicked => 12,
            NoticeKind::RoomMuted => 13,
            NoticeKind::RoomUnmuted => 14,
            NoticeKind::RoomRole => 15,
            NoticeKind::RoomMode => 16,
            NoticeKind::RoomInvited => 17,
            NoticeKind::RoomMask => 40,
            NoticeKind::RoomVoice => 41,
            NoticeKind::RoomLimit => 42,
            NoticeKind::Other(k) => k,
        }
    }

    pub fn from_u8(value: u8) -> NoticeKind {
        match value {
            1 => NoticeKind::Joined,
            2 => NoticeKind::Left,
            3 => NoticeKind::Kicked,
            4 => NoticeKind::Muted,
            5 => NoticeKind::Unmuted,
            6 => NoticeKind::Shutdown,
            7 => NoticeKind::CatchUp,
            8 => NoticeKind::Banned,
            9 => NoticeKind::RoomJoined,
            10 => NoticeKind::RoomLeft,
            11 => NoticeKind::RoomTopic,
            12 => NoticeKind::RoomKicked,
            13 => NoticeKind::RoomMuted,
            14 => NoticeKind::RoomUnmuted,
            15 => NoticeKind::RoomRole,
            16 => NoticeKind::RoomMode,
            17 => NoticeKind::RoomInvited,
            40 => NoticeKind::RoomMask,
            41 => NoticeKind::RoomVoice,
            42 => NoticeKind::RoomLimit,
            k => NoticeKind::Other(k),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            NoticeKind::Joined => "joined",
            NoticeKind::Left => "left",
            NoticeKind::Kicked => "kicked",
            NoticeKind::Muted => "muted",
            NoticeKind::Unmuted => "unmuted",
            NoticeKind::Shutdown => "shutdown",
            NoticeKind::CatchUp => "catch-up",
            NoticeKind::Banned => "banned",
            NoticeKind::RoomJoined => "room-joined",
            NoticeKind::RoomLeft => "room-left",
            NoticeKind::RoomTopic => "room-topic",
            NoticeKind::RoomKicked => "room-kicked",
            NoticeKind::RoomMuted => "room-muted",
            NoticeKind::RoomUnmuted => "room-unmuted",
            NoticeKind::RoomRole => "room-role",
            NoticeKind::RoomMode => "room-mode",
            NoticeKind::RoomInvited => "room-invited",
            NoticeKind::RoomMask => "room-mask",
            NoticeKind::RoomVoice => "room-voice",
            NoticeKind::RoomLimit => "room-limit",
            NoticeKind::Other(_) => "other",
        }
    }
}

/// WELCOME: answer to HELLO.
/// Body: `version: u16 | server: str | max_frame: u32 | max_name: u16 |
/// max_content: u32 | heartbeat_secs: u16`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Welcome {
    pub version: u16,
    pub server: ByteString,
    pub max_frame: u32,
    pub max_name: u16,
    pub max_content: u32,
    /// Send something (a PING will do) at least this often, or the server
    /// drops the connection after its idle timeout.
    pub heartbeat_secs: u16,
}

/// REGISTERED: answer to REGISTER.
/// Body: `name: str | role: u8 | muted_until: u64 | server_time: u64`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Registered {
    /// The name as registered (its spelling as the server keeps it).
    pub name: ByteString,
    pub role: Role,
    pub muted: MuteState,
    pub server_time: Timestamp,
}

/// Whether a sent message reached its recipient live.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
pub enum DeliveryStatus {
    /// Handed to the recipients' connections.
    #[default]
    Delivered,
    /// Stored for a recipient who is offline.
    Queued,
}

/// SENT: answer to TRANSFER and BROADCAST.
/// Body: `id: u64 | ts: u64 | status: u8 | recipients: u32 [| away: str]`;
/// `away` is there only when it is not empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Sent {
    pub id: MessageId,
    pub ts: Timestamp,
    pub status: DeliveryStatus,
    /// How many connections the message was handed to.
    pub recipients: u32,
    /// The recipient of a direct message is away: its away message
    /// (PROFILE). Empty otherwise.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "is_empty"))]
    pub away: ByteString,
}

/// One entry of USER_LIST.
/// `name: str | role: u8 | muted_until: u64 | addr: str | advertised: str |
/// connected_at: u64 | username: str | realname: str | away: str`. `addr`,
/// `advertised` and `connected_at` are empty/0 unless the requester is an
/// administrator.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct UserInfo {
    pub name: ByteString,
    pub role: Role,
    pub muted: MuteState,
    /// The address the server sees (`ip:port`).
    pub addr: ByteString,
    /// The address the client advertised in REGISTER (`ip:port`).
    pub advertised: ByteString,
    pub connected_at: Timestamp,
    /// The user's PROFILE (empty when none was set).
    pub username: ByteString,
    pub realname: ByteString,
    /// Empty: not away.
    pub away: ByteString,
    /// How many sessions the user is online with (0: not known here, a
    /// user of another node).
    pub sessions: u16,
    /// When the user last sent a message (0: not since it came online, or
    /// not known here).
    pub last_spoke: Timestamp,
    /// The user's flags ([`user_flags`]): logged in to an account, a bot,
    /// invisible.
    pub flags: u8,
}

/// The bits of a user's `flags` (USER_LIST, USER_UPDATE, WHOWAS_LIST,
/// NOTICE Joined and ROOM_NOTICE RoomJoined).
pub mod user_flags {
    /// Logged in to an account (the name is the account's), not a guest.
    pub const ACCOUNT: u8 = 1;
    /// The user says it is a bot (USER_MODE).
    pub const BOT: u8 = 2;
    /// Not listed by GETALLUSER to those who share no room with it
    /// (USER_MODE).
    pub const INVISIBLE: u8 = 4;
    /// What USER_MODE may set and clear.
    pub const SETTABLE: u8 = BOT | INVISIBLE;
}

/// The bits of USER_UPDATE's `changed`.
pub mod user_changed {
    /// The user was renamed: `old_name` is the name before.
    pub const NAME: u8 = 1;
    pub const USERNAME: u8 = 2;
    pub const REALNAME: u8 = 4;
    pub const AWAY: u8 = 8;
    pub const FLAGS: u8 = 16;
}

/// USER_UPDATE: a user changed its name, its profile or its flags
/// (event). Carries the user's whole public state after the change.
/// Body: `ts: u64 | name: str | old_name: str | changed: u8 | flags: u8 |
/// username: str | realname: str | away: str`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct UserUpdate {
    pub ts: Timestamp,
    /// The user's name (after a rename, the new one).
    pub name: ByteString,
    /// Before a rename, the old name; empty otherwise.
    pub old_name: ByteString,
    /// What changed ([`user_changed`]); 0: nothing, a reminder of the
    /// state of a user who just joined a room while away.
    pub changed: u8,
    pub flags: u8,
    pub username: ByteString,
    pub realname: ByteString,
    /// Empty: not away.
    pub away: ByteString,
}

/// One entry of WHOWAS_LIST: a name as it was when it went away.
/// `name: str | username: str | realname: str | flags: u8 | gone: u64`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct WhowasEntry {
    pub name: ByteString,
    pub username: ByteString,
    pub realname: ByteString,
    pub flags: u8,
    /// When it went offline or was renamed.
    pub gone: Timestamp,
}

/// MESSAGE: a message for this user (event).
/// Body: `id: u64 | ts: u64 | kind: u8 | from: str | to: str | text: str
/// [| tags: str]`; the `kind` byte carries the flags [`KIND_NOTICE`] and
/// [`KIND_TAGS`] (which says `tags` is there).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Message {
    pub id: MessageId,
    pub ts: Timestamp,
    pub kind: MessageKind,
    pub from: ByteString,
    pub to: ByteString,
    /// Empty only for a message of tags alone (not stored, see
    /// [`MessageId::is_ephemeral`]).
    pub text: ByteString,
    /// A NOTICE rather than an ordinary message.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "is_false"))]
    pub notice: bool,
    /// The sender's client tags (protocol.md 2.5), or empty.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "is_empty"))]
    pub tags: ByteString,
}

/// NOTICE: something this user should know (event).
/// Body: `kind: u8 | ts: u64 | actor: str | subject: str | until: u64 | text: str`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Notice {
    pub kind: NoticeKind,
    pub ts: Timestamp,
    pub actor: ByteString,
    pub subject: ByteString,
    pub until: u64,
    pub text: ByteString,
}

/// REDACTED: a message this user may have seen was deleted (event).
/// Body: `id: u64 | ts: u64 | kind: u8 | actor: str | from: str | to: str |
/// reason: str`; `kind`, `from` and `to` are the message's, as its MESSAGE
/// said them, so the receiver finds its conversation the same way.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Redacted {
    pub id: MessageId,
    /// When it was deleted.
    pub ts: Timestamp,
    pub kind: MessageKind,
    /// Who deleted it: its sender, a room operator or an administrator.
    pub actor: ByteString,
    pub from: ByteString,
    pub to: ByteString,
    /// Why, or empty.
    pub reason: ByteString,
}

/// One entry of READ_MARKER_LIST: `conversation: str | id: u64`, the
/// conversation named as HISTORY's `dst` names it (the other user of a
/// direct conversation, folded; a `#room`; `*`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ReadMarker {
    pub conversation: ByteString,
    pub id: MessageId,
}

/// READ_MARKER_AT: how far the account (or a guest, for as long as it is
/// connected) has read a conversation. Body: `conversation: str | id: u64 |
/// ts: u64`: the newest message read (0: none known) and the time read up
/// to (0: no marker).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ReadMarkerAt {
    pub conversation: ByteString,
    pub id: MessageId,
    pub ts: Timestamp,
}

/// METADATA: keys of a user's or a room's metadata. Body: `target: str |
/// count: u32 | count entries (key: str | value: str)`, an empty value
/// meaning the key is not set. An empty `target`: the keys the session
/// subscribed to (the answer to METADATA_SUB).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Metadata {
    pub target: ByteString,
    pub entries: Vec<MetadataEntry>,
}

/// One key of [`Metadata`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MetadataEntry {
    pub key: ByteString,
    pub value: ByteString,
}

/// One entry of AUDIT_PAGE: an administrator's action.
/// `id: u64 | ts: u64 | actor: str | action: str | target: str | until: u64 |
/// reason: str`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AuditEntry {
    pub id: u64,
    pub ts: Timestamp,
    /// Who did it (empty for the server itself, e.g. a shutdown on SIGTERM).
    pub actor: ByteString,
    /// What: `elevate`, `kick`, `mute`, `unmute`, `ban`, `unban`, `grant`,
    /// `revoke`, `shutdown`.
    pub action: ByteString,
    /// To whom: a user name, an address, or empty.
    pub target: ByteString,
    /// For mutes and bans, when it ends, as a [`MuteState`] on the wire;
    /// otherwise 0.
    pub until: u64,
    pub reason: ByteString,
}

/// Every server-to-client frame of protocol version 1. In JSON (the
/// `serde` feature): `{"type": ..., "body": ...}`, the type being the frame
/// type's name in snake case.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(tag = "type", content = "body", rename_all = "snake_case")
)]
pub enum ServerFrame {
    Welcome(Welcome),
    /// OK: generic success. Body: `message: str`.
    Ok {
        message: ByteString,
    },
    /// ERROR. Body: `code: u16 | message: str`.
    Error {
        code: ErrorCode,
        message: ByteString,
    },
    Registered(Registered),
    Sent(Sent),
    /// USER_LIST. Body: `count: u32 | count entries`.
    UserList(Vec<UserInfo>),
    /// ECHO: answer to REFLECT. Body: `ts: u64 | content: str`.
    Echo {
        ts: Timestamp,
        content: ByteString,
    },
    /// PONG: answer to PING. Body: `ts: u64`.
    Pong {
        ts: Timestamp,
    },
    Message(Message),
    Notice(Notice),
    /// HISTORY_PAGE: answer to HISTORY, newest first.
    /// Body: `count: u32 | count entries`, each laid out like a MESSAGE body.
    HistoryPage(Vec<Message>),
    /// AUDIT_PAGE: answer to AUDIT, newest first.
    /// Body: `count: u32 | count entries`.
    AuditPage(Vec<AuditEntry>),
    /// ROOM_LIST: answer to ROOMS, JOIN and TOPIC.
    /// Body: `count: u32 | count entries`.
    RoomList(Vec<RoomInfo>),
    /// MEMBER_LIST: answer to MEMBERS.
    /// Body: `room: str | count: u32 | count entries`.
    MemberList {
        room: ByteString,
        members: Vec<MemberInfo>,
    },
    RoomNotice(RoomNotice),
    /// READ_MARKER_LIST: answer to READ_MARKERS.
    /// Body: `count: u32 | count entries`.
    ReadMarkerList(Vec<ReadMarker>),
    /// IGNORE_LIST: answer to IGNORES. Body: `count: u32 | count names:
    /// str`.
    IgnoreList(Vec<ByteString>),
    Redacted(Redacted),
    ReadMarkerAt(ReadMarkerAt),
    Metadata(Metadata),
    UserUpdate(UserUpdate),
    /// WHOWAS_LIST: answer to WHOWAS, newest first.
    /// Body: `count: u32 | count entries`.
    WhowasList(Vec<WhowasEntry>),
    /// MASK_LIST: answer to ROOM_MASK's listing.
    /// Body: `room: str | list: u8 | count: u32 | count entries`.
    MaskList {
        room: ByteString,
        list: MaskList,
        masks: Vec<MaskEntry>,
    },
}

impl ServerFrame {
    pub fn frame_type(&self) -> FrameType {
        match self {
            ServerFrame::Welcome(_) => FrameType::Welcome,
            ServerFrame::Ok { .. } => FrameType::Ok,
            ServerFrame::Error { .. } => FrameType::Error,
            ServerFrame::Registered(_) => FrameType::Registered,
            ServerFrame::Sent(_) => FrameType::Sent,
            ServerFrame::UserList(_) => FrameType::UserList,
            ServerFrame::Echo { .. } => FrameType::Echo,
            ServerFrame::Pong { .. } => FrameType::Pong,
            ServerFrame::Message(_) => FrameType::Message,
            ServerFrame::Notice(_) => FrameType::Notice,
            ServerFrame::HistoryPage(_) => FrameType::HistoryPage,
            ServerFrame::AuditPage(_) => FrameType::AuditPage,
            ServerFrame::RoomList(_) => FrameType::RoomList,
            ServerFrame::MemberList { .. } => FrameType::MemberList,
            ServerFrame::RoomNotice(_) => FrameType::RoomNotice,
            ServerFrame::ReadMarkerList(_) => FrameType::ReadMarkerList,
            ServerFrame::IgnoreList(_) => FrameType::IgnoreList,
            ServerFrame::Redacted(_) => FrameType::Redacted,
            ServerFrame::ReadMarkerAt(_) => FrameType::ReadMarkerAt,
            ServerFrame::Metadata(_) => FrameType::Metadata,
            ServerFrame::UserUpdate(_) => FrameType::UserUpdate,
            ServerFrame::WhowasList(_) => FrameType::WhowasList,
            ServerFrame::MaskList { .. } => FrameType::MaskList,
        }
    }

    /// An ERROR frame.
    pub fn error(code: ErrorCode, message: impl Into<ByteString>) -> ServerFrame {
        ServerFrame::Error {
            code,
            message: message.into(),
        }
    }

    /// An OK frame.
    pub fn ok(message: impl Into<ByteString>) -> ServerFrame {
        ServerFrame::Ok {
            message: message.into(),
        }
    }

    fn encode_body(&self, b: &mut BytesMut) -> Result<(), EncodeError> {
        match self {
            ServerFrame::Welcome(w) => {
                b.put_u16(w.version);
                put_str(b, "server", &w.server)?;
                b.put_u32(w.max_frame);
                b.put_u16(w.max_name);
                b.put_u32(w.max_content);
                b.put_u16(w.heartbeat_secs);
            }
            ServerFrame::Ok { message } => put_str(b, "message", message)?,
            ServerFrame::Error { code, message } => {
                b.put_u16(code.as_u16());
                put_str(b, "message", message)?;
            }
            ServerFrame::Registered(r) => {
                put_str(b, "name", &r.name)?;
                b.put_u8(r.role as u8);
                b.put_u64(r.muted.to_wire());
                b.put_u64(r.server_time.0);
            }
            ServerFrame::Sent(s) => {
                b.put_u64(s.id.0);
                b.put_u64(s.ts.0);
                b.put_u8(match s.status {
                    DeliveryStatus::Delivered => 0,
                    DeliveryStatus::Queued => 1,
                });
                b.put_u32(s.recipients);
                if !s.away.is_empty() {
                    put_str(b, "away", &s.away)?;
                }
            }
            ServerFrame::UserList(users) => {
                put_count(b, "users", users.len())?;
                for u in users {
                    put_str(b, "name", &u.name)?;
                    b.put_u8(u.role as u8);
                    b.put_u64(u.muted.to_wire());
                    put_str(b, "addr", &u.addr)?;
                    put_str(b, "advertised", &u.advertised)?;
                    b.put_u64(u.connected_at.0);
                    put_str(b, "username", &u.username)?;
                    put_str(b, "realname", &u.realname)?;
                    put_str(b, "away", &u.away)?;
                    b.put_u16(u.sessions);
                    b.put_u64(u.last_spoke.0);
                    b.put_u8(u.flags);
                }
            }
            ServerFrame::Echo { ts, content } => {
                b.put_u64(ts.0);
                put_str(b, "content", content)?;
            }
            ServerFrame::Pong { ts } => b.put_u64(ts.0),
            ServerFrame::Message(m) => put_message(b, m)?,
            ServerFrame::Notice(n) => {
                b.put_u8(n.kind.to_u8());
                b.put_u64(n.ts.0);
                put_str(b, "actor", &n.actor)?;
                put_str(b, "subject", &n.subject)?;
                b.put_u64(n.until);
                put_str(b, "text", &n.text)?;
            }
            ServerFrame::HistoryPage(messages) => {
                put_count(b, "messages", messages.len())?;
                for m in messages {
                    put_message(b, m)?;
                }
            }
            ServerFrame::AuditPage(entries) => {
                put_count(b, "entries", entries.len())?;
                for e in entries {
                    b.put_u64(e.id);
                    b.put_u64(e.ts.0);
                    put_str(b, "actor", &e.actor)?;
                    put_str(b, "action", &e.action)?;
                    put_str(b, "target", &e.target)?;
                    b.put_u64(e.until);
                    put_str(b, "reason", &e.reason)?;
                }
            }
            ServerFrame::ReadMarkerList(markers) => {
                put_count(b, "markers", markers.len())?;
                for marker in markers {
                    put_str(b, "conversation", &marker.conversation)?;
                    b.put_u64(marker.id.0);
                }
            }
            ServerFrame::IgnoreList(names) => {
                put_count(b, "names", names.len())?;
                for name in names {
                    put_str(b, "name", name)?;
                }
            }
            ServerFrame::ReadMarkerAt(m) => {
                put_str(b, "conversation", &m.conversation)?;
                b.put_u64(m.id.0);
                b.put_u64(m.ts.0);
            }
            ServerFrame::Metadata(m) => {
                put_str(b, "target", &m.target)?;
                put_count(b, "entries", m.entries.len())?;
                for e in &m.entries {
                    put_str(b, "key", &e.key)?;
                    put_str(b, "value", &e.value)?;
                }
            }
            ServerFrame::UserUpdate(u) => {
                b.put_u64(u.ts.0);
                put_str(b, "name", &u.name)?;
                put_str(b, "old_name", &u.old_name)?;
                b.put_u8(u.changed);
                b.put_u8(u.flags);
                put_str(b, "username", &u.username)?;
                put_str(b, "realname", &u.realname)?;
                put_str(b, "away", &u.away)?;
            }
            ServerFrame::WhowasList(entries) => {
                put_count(b, "entries", entries.len())?;
                for e in entries {
                    put_str(b, "name", &e.name)?;
                    put_str(b, "username", &e.username)?;
                    put_str(b, "realname", &e.realname)?;
                    b.put_u8(e.flags);
                    b.put_u64(e.gone.0);
                }
            }
            ServerFrame::RoomList(rooms) => {
                put_count(b, "rooms", rooms.len())?;
                for room in rooms {
                    put_str(b, "room", &room.room)?;
                    put_str(b, "topic", &room.topic)?;
                    b.put_u32(room.members);
                    b.put_u8(room.mode.bits());
                    b.put_u8(room.role as u8);
                    b.put_u32(room.limit);
                    b.put_u64(room.created.0);
                    put_str(b, "topic_by", &room.topic_by)?;
                    b.put_u64(room.topic_ts.0);
                    b.put_u8(u8::from(room.invited));
                }
            }
            ServerFrame::MemberList { room, members } => {
                put_str(b, "room", room)?;
                put_count(b, "members", members.len())?;
                for m in members {
                    put_str(b, "name", &m.name)?;
                    b.put_u8(m.role as u8);
                    b.put_u8(u8::from(m.online));
                    b.put_u64(m.muted.to_wire());
                    b.put_u8(u8::from(m.voiced));
                }
            }
            ServerFrame::MaskList { room, list, masks } => {
                put_str(b, "room", room)?;
                b.put_u8(*list as u8);
                put_count(b, "masks", masks.len())?;
                for m in masks {
                    put_str(b, "mask", &m.mask)?;
                    put_str(b, "set_by", &m.set_by)?;
                    b.put_u64(m.set_at.0);
                }
            }
            ServerFrame::Redacted(d) => {
                b.put_u64(d.id.0);
                b.put_u64(d.ts.0);
                b.put_u8(d.kind.to_u8() & KIND_MASK);
                put_str(b, "actor", &d.actor)?;
                put_str(b, "from", &d.from)?;
                put_str(b, "to", &d.to)?;
                put_str(b, "reason", &d.reason)?;
            }
            ServerFrame::RoomNotice(n) => {
                b.put_u8(n.kind.to_u8());
                b.put_u64(n.ts.0);
                put_str(b, "room", &n.room)?;
                put_str(b, "actor", &n.actor)?;
                put_str(b, "subject", &n.subject)?;
                b.put_u64(n.until);
                put_str(b, "text", &n.text)?;
            }
        }
        Ok(())
    }
}

fn put_count(b: &mut BytesMut, field: &'static str, n: usize) -> Result<(), EncodeError> {
    let count = u32::try_from(n).map_err(|_| EncodeError::TooManyEntries { field })?;
    b.put_u32(count);
    Ok(())
}

fn put_message(b: &mut BytesMut, m: &Message) -> Result<(), EncodeError> {
    b.put_u64(m.id.0);
    b.put_u64(m.ts.0);
    let mut kind = m.kind.to_u8() & KIND_MASK;
    if m.notice {
        kind |= KIND_NOTICE;
    }
    if !m.tags.is_empty() {
        kind |= KIND_TAGS;
    }
    b.put_u8(kind);
    put_str(b, "from", &m.from)?;
    put_str(b, "to", &m.to)?;
    put_str(b, "text", &m.text)?;
    if !m.tags.is_empty() {
        put_str(b, "tags", &m.tags)?;
    }
    Ok(())
}

fn message(r: &mut Reader) -> Result<Message, BodyError> {
    let id = MessageId(r.u64("id")?);
    let ts = Timestamp(r.u64("ts")?);
    let kind = r.u8("kind")?;
    let from = r.str("from")?;
    let to = r.str("to")?;
    let text = r.str("text")?;
    let tags = if kind & KIND_TAGS != 0 {
        let tags = r.str("tags")?;
        // One encoding per message: the flag says there are some.
        if tags.is_empty() {
            return Err(BodyError::InvalidValue {
                field: "kind",
                value: kind.into(),
            });
        }
        tags
    } else {
        ByteString::new()
    };
    Ok(Message {
        id,
        ts,
        kind: MessageKind::from_u8(kind & KIND_MASK),
        from,
        to,
        text,
        notice: kind & KIND_NOTICE != 0,
        tags,
    })
}

fn role(r: &mut Reader) -> Result<Role, BodyError> {
    match r.u8("role")? {
        0 => Ok(Role::User),
        1 => Ok(Role::Admin),
        other => Err(BodyError::InvalidValue {
            field: "role",
            value: other.into(),
        }),
    }
}

impl Encode for ServerFrame {
    fn encode(&self, id: RequestId, dst: &mut BytesMut) -> Result<(), EncodeError> {
        put_frame(dst, self.frame_type(), id, |b| self.encode_body(b))
    }
}

impl Decode for ServerFrame {
    fn decode(frame_type: u8, body: Bytes) -> Result<ServerFrame, BodyError> {
        let ty = FrameType::from_u8(frame_type).ok_or(BodyError::UnknownType(frame_type))?;
        let mut r = Reader::new(body);
        let frame = match ty {
            FrameType::Welcome => ServerFrame::Welcome(Welcome {
                version: r.u16("version")?,
                server: r.str("server")?,
                max_frame: r.u32("max_frame")?,
                max_name: r.u16("max_name")?,
                max_content: r.u32("max_content")?,
                heartbeat_secs: r.u16("heartbeat_secs")?,
            }),
            FrameType::Ok => ServerFrame::Ok {
                message: r.str("message")?,
            },
            FrameType::Error => ServerFrame::Error {
                code: ErrorCode::from_u16(r.u16("code")?),
                message: r.str("message")?,
            },
            FrameType::Registered => ServerFrame::Registered(Registered {
                name: r.str("name")?,
                role: role(&mut r)?,
                muted: MuteState::from_wire(r.u64("muted_until")?),
                server_time: Timestamp(r.u64("server_time")?),
            }),
            FrameType::Sent => ServerFrame::Sent(Sent {
                id: MessageId(r.u64("id")?),
                ts: Timestamp(r.u64("ts")?),
                status: match r.u8("status")? {
                    0 => DeliveryStatus::Delivered,
                    1 => DeliveryStatus::Queued,
                    other => {
                        return Err(BodyError::InvalidValue {
                            field: "status",
                            value: other.into(),
                        });
                    }
                },
                recipients: r.u32("recipients")?,
                away: if r.is_empty() {
                    ByteString::new()
                } else {
                    match r.str("away")? {
                        away if away.is_empty() => {
                            return Err(BodyError::InvalidValue {
                                field: "away",
                                value: 0,
                            });
                        }
                        away => away,
                    }
                },
            }),
            FrameType::UserList => {
                let count = r.u32("count")?;
                // Never trust a count for an allocation: every entry takes
                // at least 40 bytes, so the body bounds the real number.
                let mut users = Vec::new();
                for _ in 0..count {
                    users.push(UserInfo {
                        name: r.str("name")?,
                        role: role(&mut r)?,
                        muted: MuteState::from_wire(r.u64("muted_until")?),
                        addr: r.str("addr")?,
                        advertised: r.str("advertised")?,
                        connected_at: Timestamp(r.u64("connected_at")?),
                        username: r.str("username")?,
                        realname: r.str("realname")?,
                        away: r.str("away")?,
                        sessions: r.u16("sessions")?,
                        last_spoke: Timestamp(r.u64("last_spoke")?),
                        flags: r.u8("flags")?,
                    });
                }
                ServerFrame::UserList(users)
            }
            FrameType::Echo => ServerFrame::Echo {
                ts: Timestamp(r.u64("ts")?),
                content: r.str("content")?,
            },
            FrameType::Pong => ServerFrame::Pong {
                ts: Timestamp(r.u64("ts")?),
            },
            FrameType::Message => ServerFrame::Message(message(&mut r)?),
            FrameType::HistoryPage => {
                // As for USER_LIST: the count bounds nothing; the body does.
                let count = r.u32("count")?;
                let mut messages = Vec::new();
                for _ in 0..count {
                    messages.push(message(&mut r)?);
                }
                ServerFrame::HistoryPage(messages)
            }
            FrameType::AuditPage => {
                let count = r.u32("count")?;
                let mut entries = Vec::new();
                for _ in 0..count {
                    entries.push(AuditEntry {
                        id: r.u64("id")?,
                        ts: Timestamp(r.u64("ts")?),
                        actor: r.str("actor")?,
                        action: r.str("action")?,
                        target: r.str("target")?,
                        until: r.u64("until")?,
                        reason: r.str("reason")?,
                    });
                }
                ServerFrame::AuditPage(entries)
            }
            FrameType::Notice => ServerFrame::Notice(Notice {
                kind: NoticeKind::from_u8(r.u8("kind")?),
                ts: Timestamp(r.u64("ts")?),
                actor: r.str("actor")?,
                subject: r.str("subject")?,
                until: r.u64("until")?,
                text: r.str("text")?,
            }),
            FrameType::ReadMarkerList => {
                let count = r.u32("count")?;
                let mut markers = Vec::new();
                for _ in 0..count {
                    markers.push(ReadMarker {
                        conversation: r.str("conversation")?,
                        id: MessageId(r.u64("id")?),
                    });
                }
                ServerFrame::ReadMarkerList(markers)
            }
            FrameType::IgnoreList => {
                let count = r.u32("count")?;
                let mut names = Vec::new();
                for _ in 0..count {
                    names.push(r.str("name")?);
                }
                ServerFrame::IgnoreList(names)
            }
            FrameType::ReadMarkerAt => ServerFrame::ReadMarkerAt(ReadMarkerAt {
                conversation: r.str("conversation")?,
                id: MessageId(r.u64("id")?),
                ts: Timestamp(r.u64("ts")?),
            }),
            FrameType::Metadata => {
                let target = r.str("target")?;
                let count = r.u32("count")?;
                let mut entries = Vec::new();
                for _ in 0..count {
                    entries.push(MetadataEntry {
                        key: r.str("key")?,
                        value: r.str("value")?,
                    });
                }
                ServerFrame::Metadata(Metadata { target, entries })
            }
            FrameType::RoomList => {
                let count = r.u32("count")?;
                // As for USER_LIST: the body, not the count, bounds the
                // entries (each takes at least 10 bytes).
                let mut rooms = Vec::new();
                for _ in 0..count {
                    rooms.push(RoomInfo {
                        room: r.str("room")?,
                        topic: r.str("topic")?,
                        members: r.u32("members")?,
                        mode: room_mode(&mut r)?,
                        role: room_role(&mut r)?,
                        limit: r.u32("limit")?,
                        created: Timestamp(r.u64("created")?),
                        topic_by: r.str("topic_by")?,
                        topic_ts: Timestamp(r.u64("topic_ts")?),
                        invited: flag(&mut r, "invited")?,
                    });
                }
                ServerFrame::RoomList(rooms)
            }
            FrameType::MemberList => {
                let room = r.str("room")?;
                let count = r.u32("count")?;
                let mut members = Vec::new();
                for _ in 0..count {
                    members.push(MemberInfo {
                        name: r.str("name")?,
                        role: room_role(&mut r)?,
                        online: match r.u8("online")? {
                            0 => false,
                            1 => true,
                            other => {
                                return Err(BodyError::InvalidValue {
                                    field: "online",
                                    value: other.into(),
                                });
                            }
                        },
                        muted: MuteState::from_wire(r.u64("muted_until")?),
                        voiced: flag(&mut r, "voiced")?,
                    });
                }
                ServerFrame::MemberList { room, members }
            }
            FrameType::UserUpdate => ServerFrame::UserUpdate(UserUpdate {
                ts: Timestamp(r.u64("ts")?),
                name: r.str("name")?,
                old_name: r.str("old_name")?,
                changed: r.u8("changed")?,
                flags: r.u8("flags")?,
                username: r.str("username")?,
                realname: r.str("realname")?,
                away: r.str("away")?,
            }),
            FrameType::WhowasList => {
                let count = r.u32("count")?;
                let mut entries = Vec::new();
                for _ in 0..count {
                    entries.push(WhowasEntry {
                        name: r.str("name")?,
                        username: r.str("username")?,
                        realname: r.str("realname")?,
                        flags: r.u8("flags")?,
                        gone: Timestamp(r.u64("gone")?),
                    });
                }
                ServerFrame::WhowasList(entries)
            }
            FrameType::Redacted => ServerFrame::Redacted(Redacted {
                id: MessageId(r.u64("id")?),
                ts: Timestamp(r.u64("ts")?),
                kind: MessageKind::from_u8(r.u8("kind")? & KIND_MASK),
                actor: r.str("actor")?,
                from: r.str("from")?,
                to: r.str("to")?,
                reason: r.str("reason")?,
            }),
            FrameType::MaskList => {
                let room = r.str("room")?;
                let value = r.u8("list")?;
                let list = MaskList::from_u8(value).ok_or(BodyError::InvalidValue {
                    field: "list",
                    value: value.into(),
                })?;
                let count = r.u32("count")?;
                let mut masks = Vec::new();
                for _ in 0..count {
                    masks.push(MaskEntry {
                        mask: r.str("mask")?,
                        set_by: r.str("set_by")?,
                        set_at: Timestamp(r.u64("set_at")?),
                    });
                }
                ServerFrame::MaskList { room, list, masks }
            }
            FrameType::RoomNotice => ServerFrame::RoomNotice(RoomNotice {
                kind: NoticeKind::from_u8(r.u8("kind")?),
                ts: Timestamp(r.u64("ts")?),
                room: r.str("room")?,
                actor: r.str("actor")?,
                subject: r.str("subject")?,
                until: r.u64("until")?,
                text: r.str("text")?,
            }),
            request_type => return Err(BodyError::WrongDirection(request_type as u8)),
        };
        r.finish()?;
        Ok(frame)
    }
}
