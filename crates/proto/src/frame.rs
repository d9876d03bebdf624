//! The frame header and the frame type numbers.
//!
//! ```text
//! +----------------+---------+------------------+----------------+
//! | length: u32 BE | type: u8| request id: u32 BE| body (length-5) |
//! +----------------+---------+------------------+----------------+
//! ```
//! `length` counts every byte after itself. Client-to-server types are
//! below 0x80, server-to-client types are 0x80 and above. The numbers of the
//! seed's nine numbered commands are kept (TRANSFER = 0 ... REGISTER = 8).

/// Bytes of the length prefix.
pub const LENGTH_SIZE: usize = 4;
/// Bytes of type + request id, the smallest legal value of `length`.
pub const HEADER_SIZE: usize = 5;

/// A client-chosen number that the server copies into the reply, so that a
/// client may pipeline requests. Zero marks frames that answer no request
/// (events, and errors the server raises on its own).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u32);

impl RequestId {
    /// The id of frames that answer no request.
    pub const NONE: RequestId = RequestId(0);
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A decoded frame: its request id and its typed body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet<T> {
    pub id: RequestId,
    pub body: T,
}

impl<T> Packet<T> {
    pub fn new(id: RequestId, body: T) -> Self {
        Packet { id, body }
    }
}

macro_rules! frame_types {
    ($($(#[$doc:meta])* $name:ident = $value:literal,)*) => {
        /// Every frame type of protocol version 1.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum FrameType {
            $($(#[$doc])* $name = $value,)*
        }

        impl FrameType {
            /// The frame type for a wire byte, if it is one this version knows.
            pub fn from_u8(value: u8) -> Option<FrameType> {
                match value {
                    $($value => Some(FrameType::$name),)*
                    _ => None,
                }
            }

            /// The name used in `docs/protocol.md` and in logs.
            pub fn name(self) -> &'static str {
                match self {
                    $(FrameType::$name => stringify!($name),)*
                }
            }
        }
    };
}

frame_types! {
    /// Send a message to one user (seed type 0).
    Transfer = 0x00,
    /// Send a message to every other online user (seed type 1).
    Broadcast = 0x01,
    /// List the online users (seed type 2).
    GetAllUser = 0x02,
    /// Leave cleanly (seed type 3).
    Logout = 0x03,
    /// Disconnect a user; administrators only (seed type 4).
    Kickout = 0x04,
    /// Mute a user; administrators only (seed type 5).
    Bantalk = 0x05,
    /// Become administrator with the server's admin password (seed type 6).
    Admin = 0x06,
    /// Echo a text back to the sender (seed type 7).
    Reflect = 0x07,
    /// Claim a name for this connection (seed type 8).
    Register = 0x08,
    /// Stop the server; administrators only.
    Shutdown = 0x09,
    /// Lift a mute; administrators only.
    Unmute = 0x0A,
    /// Keep-alive; answered with PONG.
    Ping = 0x0B,
    /// First frame of every connection: magic and protocol version.
    Hello = 0x0C,
    /// Change the account's password.
    Passwd = 0x10,
    /// Read a page of one conversation's history.
    History = 0x11,
    /// Ban a name or an address; administrators only.
    Ban = 0x12,
    /// Lift a ban; administrators only.
    Unban = 0x13,
    /// Give an account the administrator role; administrators only.
    Grant = 0x14,
    /// Take the administrator role from an account; administrators only.
    Revoke = 0x15,
    /// Read a page of the audit log; administrators only.
    Audit = 0x16,
    /// Set what others are shown about the sender (user name, real name,
    /// away message).
    Profile = 0x17,

    /// Join a room, creating it if it does not exist.
    Join = 0x20,
    /// Leave a room.
    Part = 0x21,
    /// Send a message to a room.
    RoomSend = 0x22,
    /// List the rooms.
    Rooms = 0x23,
    /// List a room's members.
    Members = 0x24,
    /// Set a room's topic.
    Topic = 0x25,
    /// Name or unname a room operator; the room's owner only.
    RoomOp = 0x26,
    /// Put a member out of a room; room operators only.
    RoomKick = 0x27,
    /// Mute a member in a room; room operators only.
    RoomMute = 0x28,
    /// Make a room invite-only or password-protected; room operators only.
    RoomMode = 0x29,
    /// Let a user into a room whatever its mode; room operators only.
    Invite = 0x2A,
    /// Lift a member's mute in a room; room operators only.
    RoomUnmute = 0x2B,
    /// Limit how many members a room lets in; room operators only.
    RoomLimit = 0x2C,
    /// Let a member talk whatever the room's moderation; room operators
    /// only.
    RoomVoice = 0x2D,
    /// Read or change a room's ban, mute and exception masks.
    RoomMask = 0x2E,
    /// Send a message to a room's operators only.
    RoomSendOps = 0x2F,
    /// An account has read a conversation up to a message.
    MarkRead = 0x30,
    /// The account's read markers.
    ReadMarkers = 0x31,
    /// Stop (or start again) being shown a user's messages.
    Ignore = 0x32,
    /// The users the sender ignores.
    Ignores = 0x33,
    /// Delete a message: its sender, a room operator (in the room) or an
    /// administrator.
    Redact = 0x34,
    /// Set or unset a key of a user's or a room's metadata.
    MetadataSet = 0x38,
    /// Read keys of a user's or a room's metadata.
    MetadataGet = 0x39,
    /// Change which metadata keys this session is told about.
    MetadataSub = 0x3A,
    /// Read a conversation up to a point in time, or ask how far it was
    /// read (IRC's read-marker).
    MarkReadAt = 0x3B,

    /// Change the sender's name (a guest's rename).
    Nick = 0x18,
    /// Set or clear the sender's user flags (bot, invisible).
    UserMode = 0x19,
    /// One online user, by exact name.
    Whois = 0x1A,
    /// The recent departures of a name.
    Whowas = 0x1B,

    /// Answer to HELLO: the version in use and the server's limits.
    Welcome = 0x80,
    /// Generic success.
    Ok = 0x81,
    /// Failure, with a code and a human-readable message.
    Error = 0x82,
    /// Answer to REGISTER.
    Registered = 0x83,
    /// Answer to TRANSFER and BROADCAST: the stored message id.
    Sent = 0x84,
    /// Answer to GETALLUSER.
    UserList = 0x85,
    /// Answer to REFLECT.
    Echo = 0x86,
    /// Answer to PING.
    Pong = 0x87,
    /// Answer to HISTORY.
    HistoryPage = 0x88,
    /// Answer to AUDIT.
    AuditPage = 0x89,
    /// Answer to ROOMS, JOIN and TOPIC: rooms with their topic and size.
    RoomList = 0x8A,
    /// Answer to MEMBERS.
    MemberList = 0x8B,
    /// Something happened in a room this user is in (event).
    RoomNotice = 0x8C,
    /// Answer to READ_MARKERS.
    ReadMarkerList = 0xA0,
    /// Answer to IGNORES.
    IgnoreList = 0xA1,
    /// A message was deleted (event).
    Redacted = 0xA2,
    /// A user changed its name, profile or flags (event).
    UserUpdate = 0xA4,
    /// Answer to WHOWAS.
    WhowasList = 0xA5,
    /// Answer to the METADATA requests, and a change to metadata this
    /// session subscribed to (event).
    Metadata = 0xA6,
    /// Answer to MARK_READ_AT, and a marker another session of the
    /// account moved (event).
    ReadMarkerAt = 0xA7,
    /// Answer to ROOM_MASK's listing: one of a room's mask lists.
    MaskList = 0xA8,
    /// A message delivered to this user (event).
    Message = 0x90,
    /// Something happened that this user should know about (event).
    Notice = 0x91,
}

impl FrameType {
    /// Whether a client sends this type (as opposed to the server).
    pub fn is_request(self) -> bool {
        (self as u8) < 0x80
    }

    /// Whether this is one of the room requests (0x20-0x2F).
    pub fn is_room_request(self) -> bool {
        (0x20..=0x2F).contains(&(self as u8))
    }
}
