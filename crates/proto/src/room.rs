//! Rooms: named group conversations (`#general`).
//!
//! - [`RoomName`] / [`RoomKey`]: what a valid room name is, and how two
//!   compare (case-insensitively, like user names).
//! - [`RoomRequest`]: the room requests (types 0x20-0x2F), each with its
//!   body. They travel as [`Request::Room`](crate::Request::Room).
//! - [`RoomInfo`], [`MemberInfo`], [`RoomNotice`], [`MaskEntry`]: the bodies
//!   of the server frames ROOM_LIST, MEMBER_LIST, ROOM_NOTICE and MASK_LIST.
//!
//! Every room request starts like an operation packet, `src | room`, where
//! `room` takes the place of `dst`.

use bytes::{BufMut, BytesMut};
use bytestring::ByteString;

use crate::error::{BodyError, EncodeError};
use crate::frame::FrameType;
use crate::limits::MAX_NAME_LEN;
use crate::name::NameKey;
use crate::request::SendOptions;
use crate::server::{MuteState, NoticeKind, Timestamp};
use crate::wire::{Reader, put_str};

/// A valid room name: `#` and then 1 to 32 bytes of ASCII letters, digits,
/// `_` and `-`, the first a letter or digit. Compares case-insensitively
/// (`#General` is `#general`) and keeps the spelling it was created with.
#[derive(Clone)]
pub struct RoomName(ByteString);

/// Why a string is not a valid room name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RoomNameError {
    #[error("a room name starts with '#'")]
    NoHash,
    #[error("a room name needs at least one character after '#'")]
    Empty,
    #[error("a room name is at most {max} bytes after '#', this one is {len}")]
    TooLong { len: usize, max: usize },
    #[error("a room name must start with a letter or digit after '#'")]
    BadStart,
    #[error("a room name may contain only letters, digits, '_' and '-', not {0:?}")]
    BadChar(char),
}

impl RoomName {
    /// Checks `name` against the rules and keeps a copy of it (not a slice
    /// of the frame it came in).
    pub fn parse(name: &str) -> Result<RoomName, RoomNameError> {
        let rest = name.strip_prefix('#').ok_or(RoomNameError::NoHash)?;
        let first = rest.chars().next().ok_or(RoomNameError::Empty)?;
        if rest.len() > MAX_NAME_LEN {
            return Err(RoomNameError::TooLong {
                len: rest.len(),
                max: MAX_NAME_LEN,
            });
        }
        if let Some(bad) = rest
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
        {
            return Err(RoomNameError::BadChar(bad));
        }
        if !first.is_ascii_alphanumeric() {
            return Err(RoomNameError::BadStart);
        }
        Ok(RoomName(ByteString::from(name.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded identity of the room, for use as a map key.
    pub fn key(&self) -> RoomKey {
        RoomKey::fold(&self.0).unwrap_or(RoomKey(NameKey::EMPTY))
    }
}

impl PartialEq for RoomName {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl Eq for RoomName {}

impl std::fmt::Display for RoomName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Debug for RoomName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", &*self.0)
    }
}

impl std::str::FromStr for RoomName {
    type Err = RoomNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RoomName::parse(s)
    }
}

/// A room name folded to lower case, without its `#`: a map key that
/// costs no allocation to build.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomKey(NameKey);

impl RoomKey {
    /// The key of `name` (with its `#`), or `None` if it cannot be a room
    /// name. Like [`NameKey::fold`] it checks only the length: an invalid
    /// name simply matches no room.
    pub fn fold(name: &str) -> Option<RoomKey> {
        NameKey::fold(name.strip_prefix('#')?).map(RoomKey)
    }
}

impl RoomKey {
    /// The folded name, without its `#`.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl std::fmt::Debug for RoomKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "\"#{}\"", self.0.as_str())
    }
}

/// A member's standing in a room. On the wire a `u8`; 0 means "not a
/// member" where a frame says what the requester is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
#[repr(u8)]
pub enum RoomRole {
    #[default]
    None = 0,
    Member = 1,
    /// May kick, mute, invite, set the topic and the mode.
    Operator = 2,
    /// Created the room (or inherited it); may also name operators.
    Owner = 3,
}

impl RoomRole {
    pub fn from_u8(value: u8) -> Option<RoomRole> {
        Some(match value {
            0 => RoomRole::None,
            1 => RoomRole::Member,
            2 => RoomRole::Operator,
            3 => RoomRole::Owner,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            RoomRole::None => "none",
            RoomRole::Member => "member",
            RoomRole::Operator => "operator",
            RoomRole::Owner => "owner",
        }
    }

    /// Operators and the owner moderate.
    pub fn moderates(self) -> bool {
        self >= RoomRole::Operator
    }
}

/// A room's mode: a set of flags, one `u8` on the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RoomMode(u8);

impl RoomMode {
    /// Only invited users may join.
    pub const INVITE_ONLY: u8 = 1;
    /// Joining needs the room's password (unless invited).
    pub const PASSWORD: u8 = 2;
    /// Only operators and voiced members may talk.
    pub const MODERATED: u8 = 4;
    /// Only members may send to the room (without it, anyone may).
    pub const NO_EXTERNAL: u8 = 8;
    /// The room is listed, and its members shown, to its members (and
    /// administrators) only.
    pub const SECRET: u8 = 16;
    /// Only operators may set the topic (without it, any member may).
    pub const TOPIC_LOCK: u8 = 32;
    const ALL: u8 = RoomMode::INVITE_ONLY
        | RoomMode::PASSWORD
        | RoomMode::MODERATED
        | RoomMode::NO_EXTERNAL
        | RoomMode::SECRET
        | RoomMode::TOPIC_LOCK;
    /// A new room's mode (before its password): what rooms did before
    /// these flags existed, members only sending and operators only
    /// setting the topic.
    pub const NEW: RoomMode = RoomMode(RoomMode::NO_EXTERNAL | RoomMode::TOPIC_LOCK);

    pub fn new(invite_only: bool, password: bool) -> RoomMode {
        RoomMode(
            if invite_only { Self::INVITE_ONLY } else { 0 }
                | if password { Self::PASSWORD } else { 0 },
        )
    }

    /// The mode for a wire byte; unknown bits make it invalid.
    pub fn from_bits(bits: u8) -> Option<RoomMode> {
        (bits & !Self::ALL == 0).then_some(RoomMode(bits))
    }

    pub fn bits(self) -> u8 {
        self.0
    }

    /// This mode with `flags` set (`on`) or cleared.
    pub fn with(self, flags: u8, on: bool) -> RoomMode {
        let flags = flags & Self::ALL;
        RoomMode(if on { self.0 | flags } else { self.0 & !flags })
    }

    pub fn has(self, flag: u8) -> bool {
        self.0 & flag != 0
    }

    pub fn invite_only(self) -> bool {
        self.has(Self::INVITE_ONLY)
    }

    pub fn password(self) -> bool {
        self.has(Self::PASSWORD)
    }

    pub fn moderated(self) -> bool {
        self.has(Self::MODERATED)
    }

    pub fn no_external(self) -> bool {
        self.has(Self::NO_EXTERNAL)
    }

    pub fn secret(self) -> bool {
        self.has(Self::SECRET)
    }

    pub fn topic_lock(self) -> bool {
        self.has(Self::TOPIC_LOCK)
    }
}

/// What sets the room apart from a new one ([`RoomMode::NEW`]): "open"
/// when nothing does, else e.g. "invite-only, password", "moderated,
/// secret", "open to non-members".
impl std::fmt::Display for RoomMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = [
            (Self::INVITE_ONLY, true, "invite-only"),
            (Self::PASSWORD, true, "password"),
            (Self::MODERATED, true, "moderated"),
            (Self::SECRET, true, "secret"),
            (Self::NO_EXTERNAL, false, "open to non-members"),
            (Self::TOPIC_LOCK, false, "open topic"),
        ]
        .into_iter()
        .filter(|(flag, set, _)| self.has(*flag) == *set)
        .map(|(_, _, name)| name)
        .collect();
        if names.is_empty() {
            f.write_str("open")
        } else {
            f.write_str(&names.join(", "))
        }
    }
}

/// Which of a room's mask lists ([`RoomMask`]). On the wire a `u8`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[repr(u8)]
pub enum MaskList {
    /// Who matches may not join (unless invited or excepted).
    #[default]
    Ban = 0,
    /// Who matches is not held back by a ban.
    BanException = 1,
    /// Who matches may join an invite-only room uninvited.
    InviteException = 2,
    /// Who matches may not talk in the room (unless voiced, an operator,
    /// or excepted).
    Mute = 3,
    /// Who matches is not held back by a mute mask.
    MuteException = 4,
}

impl MaskList {
    pub const ALL: [MaskList; 5] = [
        MaskList::Ban,
        MaskList::BanException,
        MaskList::InviteException,
        MaskList::Mute,
        MaskList::MuteException,
    ];

    pub fn from_u8(value: u8) -> Option<MaskList> {
        MaskList::ALL.into_iter().find(|l| *l as u8 == value)
    }

    pub fn name(self) -> &'static str {
        match self {
            MaskList::Ban => "ban",
            MaskList::BanException => "ban exception",
            MaskList::InviteException => "invite exception",
            MaskList::Mute => "mute",
            MaskList::MuteException => "mute exception",
        }
    }
}

/// What ROOM_MASK does with its list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[repr(u8)]
pub enum MaskAction {
    /// Answer with the list (MASK_LIST); `mask` must be empty.
    #[default]
    List = 0,
    Add = 1,
    Remove = 2,
}

/// JOIN (0x20): join `room`, creating it if it does not exist.
/// Body: `src | room | password: str`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct Join {
    pub src: ByteString,
    pub room: ByteString,
    /// The room's password, or empty.
    pub password: ByteString,
}

/// PART (0x21): leave `room`. Body: `src | room | reason: str`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct Part {
    pub src: ByteString,
    pub room: ByteString,
    pub reason: ByteString,
}

/// ROOM_SEND (0x22): say `content` in `room`. Body: `src | room | content
/// [| options: u8 [| tags: str]]` (see [`SendOptions`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct RoomSend {
    pub src: ByteString,
    pub room: ByteString,
    pub content: ByteString,
    #[cfg_attr(feature = "serde", serde(flatten))]
    pub options: SendOptions,
}

/// MEMBERS (0x24): list `room`'s members. Body: `src | room`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct Members {
    pub src: ByteString,
    pub room: ByteString,
}

/// TOPIC (0x25): set (or, with an empty `topic`, clear) `room`'s topic.
/// Body: `src | room | topic: str`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct Topic {
    pub src: ByteString,
    pub room: ByteString,
    pub topic: ByteString,
}

/// ROOM_OP (0x26): make `user` an operator of `room`, or a plain member
/// again. Body: `src | room | user: str | operator: u8 (0 or 1)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct RoomOp {
    pub src: ByteString,
    pub room: ByteString,
    pub user: ByteString,
    pub operator: bool,
}

/// ROOM_KICK (0x27): put `user` out of `room`.
/// Body: `src | room | user: str | reason: str`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct RoomKick {
    pub src: ByteString,
    pub room: ByteString,
    pub user: ByteString,
    pub reason: ByteString,
}

/// ROOM_MUTE (0x28): mute `user` in `room` for `duration_secs` (0: until
/// lifted). Body: `src | room | user: str | duration_secs: u32 | reason: str`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct RoomMute {
    pub src: ByteString,
    pub room: ByteString,
    pub user: ByteString,
    pub duration_secs: u32,
    pub reason: ByteString,
}

/// ROOM_MODE (0x29): set `room`'s mode. Body: `src | room | mode: u8 |
/// password: str`. With the password flag set, an empty `password` keeps
/// the current one; without it, `password` must be empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct SetRoomMode {
    pub src: ByteString,
    pub room: ByteString,
    pub mode: RoomMode,
    pub password: ByteString,
}

/// INVITE (0x2A): let `user` into `room` whatever its mode.
/// Body: `src | room | user: str`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct Invite {
    pub src: ByteString,
    pub room: ByteString,
    pub user: ByteString,
}

/// ROOM_UNMUTE (0x2B): lift `user`'s mute in `room`.
/// Body: `src | room | user: str`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct RoomUnmute {
    pub src: ByteString,
    pub room: ByteString,
    pub user: ByteString,
}

/// ROOM_LIMIT (0x2C): let at most `limit` members into `room` (0: no
/// limit). Members already in stay. Body: `src | room | limit: u32`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct RoomLimit {
    pub src: ByteString,
    pub room: ByteString,
    pub limit: u32,
}

/// ROOM_VOICE (0x2D): let `user` talk in `room` whatever its moderation
/// and mute masks, or take that away. Body: `src | room | user: str |
/// voiced: u8 (0 or 1)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct RoomVoice {
    pub src: ByteString,
    pub room: ByteString,
    pub user: ByteString,
    pub voiced: bool,
}

/// ROOM_MASK (0x2E): read or change one of `room`'s mask lists.
/// Body: `src | room | list: u8 | action: u8 | mask: str`. A mask is
/// `nick!user@host` with `*` and `?` wildcards (protocol.md 8.4).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct RoomMask {
    pub src: ByteString,
    pub room: ByteString,
    pub list: MaskList,
    pub action: MaskAction,
    pub mask: ByteString,
}

/// The room requests. In JSON (the `serde` feature), each variant is named
/// after its frame type, as [`crate::Request`]'s are.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(tag = "type", content = "body", rename_all = "snake_case")
)]
pub enum RoomRequest {
    Join(Join),
    Part(Part),
    #[cfg_attr(feature = "serde", serde(rename = "room_send"))]
    Send(RoomSend),
    /// ROOMS (0x23): list the rooms. Body: `src | dst("")`.
    #[cfg_attr(feature = "serde", serde(rename = "rooms"))]
    List {
        #[cfg_attr(feature = "serde", serde(default))]
        src: ByteString,
    },
    Members(Members),
    Topic(Topic),
    #[cfg_attr(feature = "serde", serde(rename = "room_op"))]
    Op(RoomOp),
    #[cfg_attr(feature = "serde", serde(rename = "room_kick"))]
    Kick(RoomKick),
    #[cfg_attr(feature = "serde", serde(rename = "room_mute"))]
    Mute(RoomMute),
    #[cfg_attr(feature = "serde", serde(rename = "room_mode"))]
    Mode(SetRoomMode),
    Invite(Invite),
    #[cfg_attr(feature = "serde", serde(rename = "room_unmute"))]
    Unmute(RoomUnmute),
    #[cfg_attr(feature = "serde", serde(rename = "room_limit"))]
    Limit(RoomLimit),
    #[cfg_attr(feature = "serde", serde(rename = "room_voice"))]
    Voice(RoomVoice),
    #[cfg_attr(feature = "serde", serde(rename = "room_mask"))]
    Mask(RoomMask),
    /// ROOM_SEND_OPS (0x2F): say `content` to `room`'s operators only.
    /// Body: `src | room | content`, as ROOM_SEND's.
    #[cfg_attr(feature = "serde", serde(rename = "room_send_ops"))]
    SendOps(RoomSend),
}

impl RoomRequest {
    pub fn frame_type(&self) -> FrameType {
        match self {
            RoomRequest::Join(_) => FrameType::Join,
            RoomRequest::Part(_) => FrameType::Part,
            RoomRequest::Send(_) => FrameType::RoomSend,
            RoomRequest::List { .. } => FrameType::Rooms,
            RoomRequest::Members(_) => FrameType::Members,
            RoomRequest::Topic(_) => FrameType::Topic,
            RoomRequest::Op(_) => FrameType::RoomOp,
            RoomRequest::Kick(_) => FrameType::RoomKick,
            RoomRequest::Mute(_) => FrameType::RoomMute,
            RoomRequest::Mode(_) => FrameType::RoomMode,
            RoomRequest::Invite(_) => FrameType::Invite,
            RoomRequest::Unmute(_) => FrameType::RoomUnmute,
            RoomRequest::Limit(_) => FrameType::RoomLimit,
            RoomRequest::Voice(_) => FrameType::RoomVoice,
            RoomRequest::Mask(_) => FrameType::RoomMask,
            RoomRequest::SendOps(_) => FrameType::RoomSendOps,
        }
    }

    /// The `src` field (the sender as the client believes it).
    pub fn src(&self) -> &str {
        match self {
            RoomRequest::Join(r) => &r.src,
            RoomRequest::Part(r) => &r.src,
            RoomRequest::Send(r) => &r.src,
            RoomRequest::List { src } => src,
            RoomRequest::Members(r) => &r.src,
            RoomRequest::Topic(r) => &r.src,
            RoomRequest::Op(r) => &r.src,
            RoomRequest::Kick(r) => &r.src,
            RoomRequest::Mute(r) => &r.src,
            RoomRequest::Mode(r) => &r.src,
            RoomRequest::Invite(r) => &r.src,
            RoomRequest::Unmute(r) => &r.src,
            RoomRequest::Limit(r) => &r.src,
            RoomRequest::Voice(r) => &r.src,
            RoomRequest::Mask(r) => &r.src,
            RoomRequest::SendOps(r) => &r.src,
        }
    }

    pub(crate) fn encode_body(&self, b: &mut BytesMut) -> Result<(), EncodeError> {
        let head = |b: &mut BytesMut, src: &str, room: &str| -> Result<(), EncodeError> {
            put_str(b, "src", src)?;
            put_str(b, "room", room)
        };
        match self {
            RoomRequest::Join(r) => {
                head(b, &r.src, &r.room)?;
                put_str(b, "password", &r.password)?;
            }
            RoomRequest::Part(r) => {
                head(b, &r.src, &r.room)?;
                put_str(b, "reason", &r.reason)?;
            }
            RoomRequest::Send(r) | RoomRequest::SendOps(r) => {
                head(b, &r.src, &r.room)?;
                put_str(b, "content", &r.content)?;
                r.options.encode(b)?;
            }
            RoomRequest::List { src } => {
                put_str(b, "src", src)?;
                put_str(b, "dst", "")?;
            }
            RoomRequest::Members(r) => head(b, &r.src, &r.room)?,
            RoomRequest::Topic(r) => {
                head(b, &r.src, &r.room)?;
                put_str(b, "topic", &r.topic)?;
            }
            RoomRequest::Op(r) => {
                head(b, &r.src, &r.room)?;
                put_str(b, "user", &r.user)?;
                b.put_u8(u8::from(r.operator));
            }
            RoomRequest::Kick(r) => {
                head(b, &r.src, &r.room)?;
                put_str(b, "user", &r.user)?;
                put_str(b, "reason", &r.reason)?;
            }
            RoomRequest::Mute(r) => {
                head(b, &r.src, &r.room)?;
                put_str(b, "user", &r.user)?;
                b.put_u32(r.duration_secs);
                put_str(b, "reason", &r.reason)?;
            }
            RoomRequest::Mode(r) => {
                head(b, &r.src, &r.room)?;
                b.put_u8(r.mode.bits());
                put_str(b, "password", &r.password)?;
            }
            RoomRequest::Invite(r) => {
                head(b, &r.src, &r.room)?;
                put_str(b, "user", &r.user)?;
            }
            RoomRequest::Unmute(r) => {
                head(b, &r.src, &r.room)?;
                put_str(b, "user", &r.user)?;
            }
            RoomRequest::Limit(r) => {
                head(b, &r.src, &r.room)?;
                b.put_u32(r.limit);
            }
            RoomRequest::Voice(r) => {
                head(b, &r.src, &r.room)?;
                put_str(b, "user", &r.user)?;
                b.put_u8(u8::from(r.voiced));
            }
            RoomRequest::Mask(r) => {
                head(b, &r.src, &r.room)?;
                b.put_u8(r.list as u8);
                b.put_u8(r.action as u8);
                put_str(b, "mask", &r.mask)?;
            }
        }
        Ok(())
    }

    /// Decodes the body of a room request type (the caller picks the room
    /// types; any other is refused as unknown).
    pub(crate) fn decode_body(ty: FrameType, r: &mut Reader) -> Result<RoomRequest, BodyError> {
        Ok(match ty {
            FrameType::Join => RoomRequest::Join(Join {
                src: r.str("src")?,
                room: r.str("room")?,
                password: r.str("password")?,
            }),
            FrameType::Part => RoomRequest::Part(Part {
                src: r.str("src")?,
                room: r.str("room")?,
                reason: r.str("reason")?,
            }),
            FrameType::RoomSend => RoomRequest::Send(RoomSend {
                src: r.str("src")?,
                room: r.str("room")?,
                content: r.str("content")?,
                options: SendOptions::decode(r)?,
            }),
            FrameType::RoomSendOps => RoomRequest::SendOps(RoomSend {
                src: r.str("src")?,
                room: r.str("room")?,
                content: r.str("content")?,
                options: SendOptions::decode(r)?,
            }),
            FrameType::Rooms => {
                let src = r.str("src")?;
                if !r.str("dst")?.is_empty() {
                    return Err(BodyError::MustBeEmpty { field: "dst" });
                }
                RoomRequest::List { src }
            }
            FrameType::Members => RoomRequest::Members(Members {
                src: r.str("src")?,
                room: r.str("room")?,
            }),
            FrameType::Topic => RoomRequest::Topic(Topic {
                src: r.str("src")?,
                room: r.str("room")?,
                topic: r.str("topic")?,
            }),
            FrameType::RoomOp => RoomRequest::Op(RoomOp {
                src: r.str("src")?,
                room: r.str("room")?,
                user: r.str("user")?,
                operator: match r.u8("operator")? {
                    0 => false,
                    1 => true,
                    other => {
                        return Err(BodyError::InvalidValue {
                            field: "operator",
                            value: other.into(),
                        });
                    }
                },
            }),
            FrameType::RoomKick => RoomRequest::Kick(RoomKick {
                src: r.str("src")?,
                room: r.str("room")?,
                user: r.str("user")?,
                reason: r.str("reason")?,
            }),
            FrameType::RoomMute => RoomRequest::Mute(RoomMute {
                src: r.str("src")?,
                room: r.str("room")?,
                user: r.str("user")?,
                duration_secs: r.u32("duration_secs")?,
                reason: r.str("reason")?,
            }),
            FrameType::RoomMode => {
                let src = r.str("src")?;
                let room = r.str("room")?;
                let bits = r.u8("mode")?;
                let mode = RoomMode::from_bits(bits).ok_or(BodyError::InvalidValue {
                    field: "mode",
                    value: bits.into(),
                })?;
                RoomRequest::Mode(SetRoomMode {
                    src,
                    room,
                    mode,
                    password: r.str("password")?,
                })
            }
            FrameType::Invite => RoomRequest::Invite(Invite {
                src: r.str("src")?,
                room: r.str("room")?,
                user: r.str("user")?,
            }),
            FrameType::RoomUnmute => RoomRequest::Unmute(RoomUnmute {
                src: r.str("src")?,
                room: r.str("room")?,
                user: r.str("user")?,
            }),
            FrameType::RoomLimit => RoomRequest::Limit(RoomLimit {
                src: r.str("src")?,
                room: r.str("room")?,
                limit: r.u32("limit")?,
            }),
            FrameType::RoomVoice => RoomRequest::Voice(RoomVoice {
                src: r.str("src")?,
                room: r.str("room")?,
                user: r.str("user")?,
                voiced: flag(r, "voiced")?,
            }),
            FrameType::RoomMask => {
                let src = r.str("src")?;
                let room = r.str("room")?;
                let value = r.u8("list")?;
                let list = MaskList::from_u8(value).ok_or(BodyError::InvalidValue {
                    field: "list",
                    value: value.into(),
                })?;
                let action = match r.u8("action")? {
                    0 => MaskAction::List,
                    1 => MaskAction::Add,
                    2 => MaskAction::Remove,
                    other => {
                        return Err(BodyError::InvalidValue {
                            field: "action",
                            value: other.into(),
                        });
                    }
                };
                RoomRequest::Mask(RoomMask {
                    src,
                    room,
                    list,
                    action,
                    mask: r.str("mask")?,
                })
            }
            _ => return Err(BodyError::UnknownType(ty as u8)),
        })
    }
}

/// One entry of ROOM_LIST.
/// `room: str | topic: str | members: u32 | mode: u8 | role: u8 |
/// limit: u32 | created: u64 | topic_by: str | topic_ts: u64 | invited: u8`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct RoomInfo {
    pub room: ByteString,
    pub topic: ByteString,
    /// How many members it has, online or not.
    pub members: u32,
    pub mode: RoomMode,
    /// The requester's role in it ([`RoomRole::None`]: not a member).
    pub role: RoomRole,
    /// Most members it lets in (0: no limit).
    pub limit: u32,
    /// When it was created (0: before rooms kept it).
    pub created: Timestamp,
    /// Who set the topic (empty: nobody, or not known).
    pub topic_by: ByteString,
    /// When the topic was set (0: never, or not known).
    pub topic_ts: Timestamp,
    /// The requester has an invitation to it, not yet used.
    pub invited: bool,
}

/// One entry of MEMBER_LIST.
/// `name: str | role: u8 | online: u8 | muted_until: u64 | voiced: u8`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct MemberInfo {
    pub name: ByteString,
    pub role: RoomRole,
    pub online: bool,
    /// The member's mute in this room.
    pub muted: MuteState,
    /// May talk whatever the room's moderation and mute masks.
    pub voiced: bool,
}

/// One entry of MASK_LIST: `mask: str | set_by: str | set_at: u64`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MaskEntry {
    pub mask: ByteString,
    pub set_by: ByteString,
    pub set_at: Timestamp,
}

/// A `0`/`1` byte.
pub(crate) fn flag(r: &mut Reader, field: &'static str) -> Result<bool, BodyError> {
    match r.u8(field)? {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(BodyError::InvalidValue {
            field,
            value: other.into(),
        }),
    }
}

/// ROOM_NOTICE (0x8C): something that happened in a room (event).
/// Body: `kind: u8 | ts: u64 | room: str | actor: str | subject: str |
/// until: u64 | text: str`. The kinds are NOTICE kinds 9 and up.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RoomNotice {
    pub kind: NoticeKind,
    pub ts: Timestamp,
    pub room: ByteString,
    pub actor: ByteString,
    pub subject: ByteString,
    pub until: u64,
    pub text: ByteString,
}

pub(crate) fn room_role(r: &mut Reader) -> Result<RoomRole, BodyError> {
    let value = r.u8("role")?;
    RoomRole::from_u8(value).ok_or(BodyError::InvalidValue {
        field: "role",
        value: value.into(),
    })
}

pub(crate) fn room_mode(r: &mut Reader) -> Result<RoomMode, BodyError> {
    let value = r.u8("mode")?;
    RoomMode::from_bits(value).ok_or(BodyError::InvalidValue {
        field: "mode",
        value: value.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_names() {
        for ok in [
            "#general",
            "#a",
            "#1",
            "#Rust-lang_2",
            &format!("#{}", "x".repeat(32)),
        ] {
            assert!(RoomName::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            RoomName::parse("general").unwrap_err(),
            RoomNameError::NoHash
        );
        assert_eq!(RoomName::parse("#").unwrap_err(), RoomNameError::Empty);
        assert_eq!(RoomName::parse("#_x").unwrap_err(), RoomNameError::BadStart);
        assert_eq!(
            RoomName::parse("#a b").unwrap_err(),
            RoomNameError::BadChar(' ')
        );
        assert_eq!(
            RoomName::parse("##a").unwrap_err(),
            RoomNameError::BadChar('#')
        );
        assert!(matches!(
            RoomName::parse(&format!("#{}", "x".repeat(33))),
            Err(RoomNameError::TooLong { len: 33, .. })
        ));
    }

    #[test]
    fn room_names_compare_case_insensitively() {
        let a = RoomName::parse("#General").unwrap();
        let b = RoomName::parse("#gENERAL").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.key(), b.key());
        assert_eq!(a.as_str(), "#General");
        assert_eq!(RoomKey::fold("#GENERAL"), Some(a.key()));
        assert_eq!(RoomKey::fold("general"), None);
    }

    #[test]
    fn modes_refuse_unknown_bits() {
        assert_eq!(RoomMode::from_bits(3), Some(RoomMode::new(true, true)));
        assert_eq!(RoomMode::from_bits(64), None);
        assert_eq!(
            RoomMode::NEW.with(RoomMode::INVITE_ONLY, true).to_string(),
            "invite-only"
        );
        assert_eq!(RoomMode::NEW.to_string(), "open");
        assert_eq!(
            RoomMode::default().to_string(),
            "open to non-members, open topic"
        );
        let mode = RoomMode::NEW.with(RoomMode::MODERATED, true);
        assert!(mode.moderated() && mode.no_external() && mode.topic_lock());
        assert!(!mode.with(RoomMode::TOPIC_LOCK, false).topic_lock());
        assert_eq!(mode.with(128, true), mode, "unknown flags are ignored");
    }
}
