//! Error codes sent in ERROR frames, and the errors of decoding.

use crate::frame::RequestId;

macro_rules! error_codes {
    ($($(#[$doc:meta])* $name:ident = $value:literal,)*) => {
        /// The code in an ERROR frame: 100-199 protocol violations, 200-299
        /// request errors, 300-399 permissions, 400-499 load and lifecycle,
        /// 500-599 server failures. [`ErrorCode::closes_connection`] says
        /// which codes end the connection.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $name,)*
            /// A code this version does not know; clients show the message.
            Other(u16),
        }

        impl ErrorCode {
            pub fn as_u16(self) -> u16 {
                match self {
                    $(ErrorCode::$name => $value,)*
                    ErrorCode::Other(code) => code,
                }
            }

            pub fn from_u16(code: u16) -> ErrorCode {
                match code {
                    $($value => ErrorCode::$name,)*
                    other => ErrorCode::Other(other),
                }
            }

            /// The upper-case name used in `docs/protocol.md`, logs and the CLI.
            pub fn name(self) -> &'static str {
                match self {
                    $(ErrorCode::$name => stringify!($name),)*
                    ErrorCode::Other(_) => "Other",
                }
            }
        }
    };
}

error_codes! {
    /// A frame body could not be decoded (truncated field, bad UTF-8,
    /// trailing bytes).
    MalformedFrame = 100,
    /// The length prefix is above the server's limit or below 5.
    FrameTooLarge = 101,
    /// The frame type is not one this server knows.
    UnknownFrameType = 102,
    /// HELLO named a version the server does not speak, or had a bad magic.
    UnsupportedVersion = 103,
    /// The first frame was not HELLO.
    HandshakeRequired = 104,
    /// The connection did not complete HELLO and REGISTER in time.
    HandshakeTimeout = 105,
    /// Nothing was received for longer than the idle timeout.
    IdleTimeout = 106,
    /// Too many protocol violations on this connection.
    TooManyErrors = 107,

    /// The command needs a registered name.
    NotRegistered = 200,
    /// REGISTER on a connection that already has a name.
    AlreadyRegistered = 201,
    /// The name breaks the name rules.
    InvalidName = 202,
    /// Someone online already has the name.
    NameTaken = 203,
    /// The `src` field names someone other than the sender.
    SpoofedSource = 204,
    /// The `dst` user is not online (or does not exist).
    NoSuchUser = 205,
    /// The text is empty, too long or contains control characters.
    InvalidContent = 206,
    /// Some other field is out of range.
    InvalidArgument = 207,
    /// The recipient is online but cannot take the message now (its
    /// connection is closing, or it is too far behind in reading).
    Undeliverable = 208,
    /// No room has that name.
    NoSuchRoom = 209,
    /// The request needs the sender (or the target) to be a member of the
    /// room.
    NotAMember = 210,
    /// The room name breaks the room name rules.
    InvalidRoomName = 211,
    /// The sender is in as many rooms as the server allows, or the server
    /// has as many rooms as it allows.
    TooManyRooms = 212,
    /// No message with that id in that conversation (REDACT), or it was
    /// deleted already.
    NoSuchMessage = 220,

    /// The command is for administrators only.
    Forbidden = 300,
    /// A password was wrong.
    BadPassword = 301,
    /// The sender is muted; the message says for how long.
    Muted = 302,
    /// Too many failed attempts; the message says when to retry.
    TooManyAttempts = 303,
    /// The name or address is banned; the message gives the reason and
    /// the end of the ban.
    Banned = 304,
    /// The name belongs to an account (give its password), or the server
    /// admits no guests, or the request needs an account.
    AccountRequired = 305,
    /// This server does not let new accounts be created over the protocol.
    SignupClosed = 306,
    /// The room is invite-only and the sender was not invited.
    InviteOnly = 307,
    /// The room's password was missing or wrong.
    RoomPassword = 308,
    /// The request is for the room's operators (or its owner) only.
    NotRoomOperator = 309,
    /// The room has as many members as its limit lets in.
    RoomFull = 320,

    /// The client kept sending much faster than its rate limit allows
    /// ("excess flood"); the connection closes.
    RateLimited = 400,
    /// The server is at its connection limit.
    ServerBusy = 401,
    /// The server is shutting down.
    ShuttingDown = 402,
    /// The client did not read fast enough and was cut off.
    SlowConsumer = 403,
    /// The client's address has as many connections open as the server
    /// allows.
    TooManyConnections = 404,

    /// A bug or unexpected failure in the server.
    Internal = 500,
    /// The server could not store something; nothing was acknowledged.
    StorageFailure = 501,
    /// The request needs another node of the cluster and the cluster's
    /// messaging system cannot be reached now; retry later.
    ClusterUnavailable = 502,
}

impl ErrorCode {
    /// Whether the server closes the connection after sending this code.
    pub fn closes_connection(self) -> bool {
        matches!(
            self,
            ErrorCode::FrameTooLarge
                | ErrorCode::UnsupportedVersion
                | ErrorCode::HandshakeRequired
                | ErrorCode::HandshakeTimeout
                | ErrorCode::IdleTimeout
                | ErrorCode::TooManyErrors
                | ErrorCode::RateLimited
                | ErrorCode::ServerBusy
                | ErrorCode::SlowConsumer
                | ErrorCode::TooManyConnections
        )
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name(), self.as_u16())
    }
}

/// A frame whose length was fine but whose body could not be decoded. The
/// stream stays in sync (the whole frame was consumed), so the peer can be
/// told and the connection can go on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("field `{field}` is truncated")]
    Truncated { field: &'static str },
    #[error("field `{field}` is not valid UTF-8")]
    InvalidUtf8 { field: &'static str },
    #[error("{extra} unexpected bytes after the last field")]
    TrailingBytes { extra: usize },
    #[error("unknown frame type 0x{0:02x}")]
    UnknownType(u8),
    #[error("frame type 0x{0:02x} is not sent in this direction")]
    WrongDirection(u8),
    #[error("field `{field}` has invalid value {value}")]
    InvalidValue { field: &'static str, value: u64 },
    #[error("field `{field}` must be empty")]
    MustBeEmpty { field: &'static str },
    #[error("bad magic in HELLO")]
    BadMagic,
}

impl BodyError {
    /// The error code to answer this with.
    pub fn code(&self) -> ErrorCode {
        match self {
            BodyError::UnknownType(_) | BodyError::WrongDirection(_) => ErrorCode::UnknownFrameType,
            BodyError::BadMagic => ErrorCode::UnsupportedVersion,
            _ => ErrorCode::MalformedFrame,
        }
    }
}

/// A frame that was skipped because its body was bad.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("frame type 0x{frame_type:02x} {id}: {error}")]
pub struct Rejected {
    pub id: RequestId,
    pub frame_type: u8,
    pub error: BodyError,
}

/// An error that ends the stream: after it the next frame boundary is
/// unknown.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame length {len} is above the limit of {max} bytes")]
    TooLarge { len: u32, max: u32 },
    #[error("frame length {len} is below the header size of 5 bytes")]
    TooShort { len: u32 },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl FrameError {
    pub fn code(&self) -> ErrorCode {
        match self {
            FrameError::TooLarge { .. } | FrameError::TooShort { .. } => ErrorCode::FrameTooLarge,
            FrameError::Io(_) => ErrorCode::MalformedFrame,
        }
    }
}

/// A value that cannot be put on the wire.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("field `{field}` is {len} bytes, more than a field can hold")]
    FieldTooLong { field: &'static str, len: usize },
    #[error("too many entries in `{field}`")]
    TooManyEntries { field: &'static str },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
