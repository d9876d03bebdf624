//! The chinwag wire protocol, version 1.
//!
//! Everything a peer needs to speak chinwag and nothing else: no sockets, no
//! runtime, only bytes in and typed values out. The server, the client
//! library, the benchmark and the fuzz targets all share it.
//!
//! - [`frame`]: the frame header (length prefix, type, request id) and the
//!   frame type numbers.
//! - [`wire`]: the field encodings (integers, length-prefixed strings).
//! - [`request`]: one type per client request (the seed's ten commands and a
//!   few more), with their encoders and decoders.
//! - [`server`]: replies and events the server sends.
//! - [`room`]: room names, the room requests and the room frames' bodies.
//! - [`codec`]: a `tokio_util` [`Decoder`](tokio_util::codec::Decoder) /
//!   [`Encoder`](tokio_util::codec::Encoder) pair for either side.
//! - [`name`], [`text`], [`limits`]: what a valid name and message are.
//! - [`error`]: error codes carried in ERROR frames, and decode errors.
//! - [`json`] (feature `serde`): the JSON form of requests and frames.
//! - [`fuzzing`]: the entry points of the fuzz targets (`fuzz/`), which the
//!   test suite also runs over the committed seed corpus.
//!
//! `docs/protocol.md` is the normative description; the test vectors there
//! are checked by `tests/vectors.rs`.

pub mod codec;
pub mod error;
pub mod frame;
pub mod fuzzing;
#[cfg(feature = "serde")]
pub mod json;
pub mod limits;
pub mod name;
pub mod request;
pub mod room;
pub mod server;
pub mod text;
pub mod wire;

pub use bytestring::ByteString;
pub use codec::{ClientCodec, Codec, ServerCodec};
pub use error::{BodyError, EncodeError, ErrorCode, FrameError, Rejected};
pub use frame::{FrameType, Packet, RequestId};
pub use limits::Limits;
pub use name::{NameError, NameKey, UserName};
pub use request::Request;
pub use room::{RoomKey, RoomName, RoomNameError, RoomRequest, RoomRole};
pub use server::{MessageId, MessageKind, NoticeKind, ServerFrame, Timestamp};
pub use text::TextError;

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u16 = 1;

/// The four bytes every HELLO starts with, so that a server can tell a
/// chinwag client from anything else that connects.
pub const MAGIC: [u8; 4] = *b"CHWG";
