//! Client-to-server frames: one type per request.
//!
//! The seed's three packet shapes stay visible in the field order:
//! - register packet: `name | ip | port` (+ `password`)
//! - transfer packet: `src | dst | content`
//! - operation packet: `src | dst` (+ the operation's arguments)
//!
//! `src` is the sender's name as the client believes it. The server never
//! trusts it: an empty `src` means "me", and any other value must be the
//! connection's registered name. Where a request has no recipient, `dst`
//! must be empty.

use bytes::{BufMut, Bytes, BytesMut};
use bytestring::ByteString;

use crate::error::{BodyError, EncodeError};
use crate::frame::{FrameType, RequestId};
use crate::room::RoomRequest;
use crate::wire::{Decode, Encode, Reader, put_frame, put_str};
use crate::{MAGIC, PROTOCOL_VERSION};

/// HELLO: the first frame on every connection.
/// Body: `magic: 4 bytes "CHWG" | version: u16 | client: str [|
/// server_password: str]`; `server_password` is present only when not
/// empty (a server started with a password admits only connections that
/// give it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct Hello {
    pub version: u16,
    /// Free-form client software name, for logs (`chinwag-cli/0.1.0`).
    pub client: ByteString,
    /// The server's password (`--server-password`), if it has one.
    pub server_password: ByteString,
}

impl Hello {
    pub fn current(client: &str) -> Hello {
        Hello {
            version: PROTOCOL_VERSION,
            client: client.into(),
            server_password: ByteString::new(),
        }
    }
}

/// REGISTER (seed type 8): claim `name` for this connection.
/// Body: `name: str | ip: str | port: u16 | password: str [| options: u8]`.
/// `ip`/`port` are the address the client advertises (may be empty / 0);
/// an empty `password` registers as a guest. `options` is present only
/// when some bit of it is set (see [`Register::SKIP_OFFLINE`] and
/// [`Register::MULTI_SESSION`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct Register {
    pub name: ByteString,
    pub ip: ByteString,
    pub port: u16,
    pub password: ByteString,
    /// Whether this connection takes the account's queue of messages that
    /// arrived while it was offline. A one-shot command says no, so that
    /// the queue waits for a client that shows messages.
    pub take_offline: bool,
    /// Whether this connection may share its account with the account's
    /// other sessions (each receives the account's messages, and sees
    /// what the others send). Without it, a connection is the account's
    /// only session, as clients that predate sessions expect.
    pub multi_session: bool,
}

/// What a client that leaves options out asks for (JSON front ends): a
/// single session that takes the offline queue.
impl Default for Register {
    fn default() -> Register {
        Register {
            name: ByteString::new(),
            ip: ByteString::new(),
            port: 0,
            password: ByteString::new(),
            take_offline: true,
            multi_session: false,
        }
    }
}

impl Register {
    /// `options` bit: do not hand this connection the offline queue.
    pub const SKIP_OFFLINE: u8 = 0x01;
    /// `options` bit: this connection may be one of several sessions of
    /// its account.
    pub const MULTI_SESSION: u8 = 0x02;
    /// Every `options` bit this version knows.
    const KNOWN_OPTIONS: u8 = Register::SKIP_OFFLINE | Register::MULTI_SESSION;

    /// The `options` byte; 0 means it is left off the wire.
    fn options(&self) -> u8 {
        let mut options = 0;
        if !self.take_offline {
            options |= Register::SKIP_OFFLINE;
        }
        if self.multi_session {
            options |= Register::MULTI_SESSION;
        }
        options
    }
}

/// REFLECT (seed type 7): echo `content` back. Body: `src | dst("") | content`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct Reflect {
    pub src: ByteString,
    pub content: ByteString,
}

/// TRANSFER (seed type 0): send `content` to `dst`. Body: `src | dst |
/// content [| options: u8 [| tags: str]]` (see [`SendOptions`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct Transfer {
    pub src: ByteString,
    pub dst: ByteString,
    pub content: ByteString,
    #[cfg_attr(feature = "serde", serde(flatten))]
    pub options: SendOptions,
}

/// BROADCAST (seed type 1): send to everyone else. Body: `src | dst("") |
/// content [| options: u8 [| tags: str]]` (see [`SendOptions`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct Broadcast {
    pub src: ByteString,
    pub content: ByteString,
    #[cfg_attr(feature = "serde", serde(flatten))]
    pub options: SendOptions,
}

/// What a message request (TRANSFER, BROADCAST, ROOM_SEND) may say beside
/// its text, in an optional tail: `options: u8 [| tags: str]`, present
/// only when a bit of `options` is set (so that every body has one
/// encoding). In JSON, the fields `notice` and `tags` of the body.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct SendOptions {
    /// Send it as a NOTICE: a message no one answers automatically.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "std::ops::Not::not"))]
    pub notice: bool,
    /// Client tags (protocol.md 2.5); with an empty text, a message of
    /// tags alone (not stored).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "ByteStr::is_empty"))]
    pub tags: ByteString,
}

/// For serde's `skip_serializing_if`.
#[cfg(feature = "serde")]
struct ByteStr;

#[cfg(feature = "serde")]
impl ByteStr {
    fn is_empty(value: &ByteString) -> bool {
        value.is_empty()
    }
}

impl SendOptions {
    /// `options` bit: a NOTICE.
    pub const NOTICE: u8 = 0x01;
    /// `options` bit: a `tags: str` field follows.
    pub const TAGS: u8 = 0x02;
    const KNOWN: u8 = SendOptions::NOTICE | SendOptions::TAGS;

    fn bits(&self) -> u8 {
        let mut bits = 0;
        if self.notice {
            bits |= SendOptions::NOTICE;
        }
        if !self.tags.is_empty() {
            bits |= SendOptions::TAGS;
        }
        bits
    }

    pub(crate) fn encode(&self, b: &mut BytesMut) -> Result<(), EncodeError> {
        let bits = self.bits();
        if bits != 0 {
            b.put_u8(bits);
        }
        if !self.tags.is_empty() {
            put_str(b, "tags", &self.tags)?;
        }
        Ok(())
    }

    /// The tail, if there is one (the last thing in the body).
    pub(crate) fn decode(r: &mut Reader) -> Result<SendOptions, BodyError> {
        if r.is_empty() {
            return Ok(SendOptions::default());
        }
        let bits = r.u8("options")?;
        if bits == 0 || bits & !SendOptions::KNOWN != 0 {
            return Err(BodyError::InvalidValue {
                field: "options",
                value: bits.into(),
            });
        }
        let tags = if bits & SendOptions::TAGS != 0 {
            let tags = r.str("tags")?;
            if tags.is_empty() {
                return Err(BodyError::InvalidValue {
                    field: "tags",
                    value: 0,
                });
            }
            tags
        } else {
            ByteString::new()
        };
        Ok(SendOptions {
            notice: bits & SendOptions::NOTICE != 0,
            tags,
        })
    }
}

/// GETALLUSER (seed type 2): list online users. Body: `src | dst("")`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct GetAllUser {
    pub src: ByteString,
}

/// LOGOUT (seed type 3): leave cleanly. Body: `src | dst("") [| reason:
/// str]`, `reason` present only when not empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct Logout {
    pub src: ByteString,
    /// Shown to the others in the Left notice (IRC's `QUIT :reason`).
    pub reason: ByteString,
}

/// REDACT: delete a message. Body: `src | dst | id: u64 | reason: str`;
/// `dst` names the message's conversation as HISTORY's does (a user, a
/// `#room`, `*`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct Redact {
    pub src: ByteString,
    pub dst: ByteString,
    pub id: u64,
    pub reason: ByteString,
}

/// ADMIN (seed type 6): become administrator.
/// Body: `src | dst("") | password: str`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct Admin {
    pub src: ByteString,
    pub password: ByteString,
}

/// KICKOUT (seed type 4): disconnect `dst`. Body: `src | dst | reason: str`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct Kickout {
    pub src: ByteString,
    pub dst: ByteString,
    pub reason: ByteString,
}

/// BANTALK (seed type 5): mute `dst` for `duration_secs` (0: until lifted).
/// Body: `src | dst | duration_secs: u32 | reason: str`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct Bantalk {
    pub src: ByteString,
    pub dst: ByteString,
    pub duration_secs: u32,
    pub reason: ByteString,
}

/// UNMUTE: lift a mute on `dst`. Body: `src | dst`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct Unmute {
    pub src: ByteString,
    pub dst: ByteString,
}

/// How much a SHUTDOWN stops.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
#[repr(u8)]
pub enum ShutdownScope {
    /// The server (node) that received the request.
    #[default]
    Node = 0,
    /// Every node of a cluster; the same as `Node` on a single server.
    Cluster = 1,
}

/// SHUTDOWN: stop the server. Body: `src | dst("") | scope: u8 | reason: str`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct Shutdown {
    pub src: ByteString,
    pub scope: ShutdownScope,
    pub reason: ByteString,
}

/// PASSWD: change the account's password.
/// Body: `src | dst("") | old: str | new: str`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct Passwd {
    pub src: ByteString,
    pub old: ByteString,
    pub new: ByteString,
}

/// PROFILE: what others are shown about the sender besides its name
/// (GETALLUSER's entries), each field replaced (empty: none).
/// Body: `src | dst("") | username: str | realname: str | away: str`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct Profile {
    pub src: ByteString,
    /// A short login name (IRC's `USER`).
    pub username: ByteString,
    /// A free-form name or description.
    pub realname: ByteString,
    /// Why the user is away; empty: not away.
    pub away: ByteString,
}

/// USER_MODE: sets and clears the sender's user flags
/// ([`crate::server::user_flags`]: only BOT and INVISIBLE may be set).
/// Body: `src | dst("") | set: u8 | clear: u8`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct UserMode {
    pub src: ByteString,
    /// Flags to set.
    pub set: u8,
    /// Flags to clear.
    pub clear: u8,
}

/// WHOWAS: the server's record of a name's recent departures, newest
/// first. Body: `src | dst | limit: u16` (`limit` 0: every one kept).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct Whowas {
    pub src: ByteString,
    /// The name asked about.
    pub dst: ByteString,
    pub limit: u16,
}

/// The conversation a HISTORY request reads: `dst` is a user name (the
/// direct conversation between the sender and that user) or
/// [`BROADCAST_CONVERSATION`] or [`MY_CONVERSATIONS`].
pub const BROADCAST_CONVERSATION: &str = "*";

/// HISTORY `dst` for every conversation the sender may read at once (the
/// broadcast channel, plus an account's direct conversations), in one id
/// order: what a reader that got NOTICE CatchUp fetches. Names cannot
/// start with `@`, so it never names a user.
pub const MY_CONVERSATIONS: &str = "@me";

/// HISTORY: a page of one conversation, newest first.
/// Body: `src | dst | before: u64 | after: u64 | limit: u16`.
/// `before`/`after` are message ids (0: no bound).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct History {
    pub src: ByteString,
    pub dst: ByteString,
    pub before: u64,
    pub after: u64,
    pub limit: u16,
}

/// BAN: keep a name or an address out for `duration_secs` (0: for good).
/// Body: `src | dst | duration_secs: u32 | reason: str`; `dst` is a user
/// name or an IP address literal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct Ban {
    pub src: ByteString,
    pub dst: ByteString,
    pub duration_secs: u32,
    pub reason: ByteString,
}

/// AUDIT: a page of the audit log, newest first.
/// Body: `src | dst("") | before: u64 | limit: u16` (`before` 0: newest).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct Audit {
    pub src: ByteString,
    pub before: u64,
    pub limit: u16,
}

/// MARK_READ: the sender's account has read `conversation` up to message
/// `id` (and everything before it). Body: `src | conversation: str | id:
/// u64`; `conversation` names it as HISTORY's `dst` does: a user, a
/// `#room`, or `*` for the broadcasts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct MarkRead {
    pub src: ByteString,
    pub conversation: ByteString,
    pub id: u64,
}

/// MARK_READ_AT: the sender has read `conversation` up to the time `ts`
/// (milliseconds since the epoch), or, with `ts` 0, asks how far it has
/// read it. Body: `src | conversation: str | ts: u64`; `conversation` as
/// for MARK_READ. A marker only moves forward; the answer (READ_MARKER_AT)
/// is the marker as it stands after the request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct MarkReadAt {
    pub src: ByteString,
    pub conversation: ByteString,
    pub ts: u64,
}

/// METADATA_SET: sets `key` of `target`'s metadata to `value`, or unsets
/// it (`value` empty); `key` `*` with `value` empty clears every key.
/// `target` is a user (the sender itself) or a `#room` (its operators).
/// Body: `src | target: str | key: str | value: str`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct MetadataSet {
    pub src: ByteString,
    pub target: ByteString,
    pub key: ByteString,
    pub value: ByteString,
}

/// METADATA_GET: `target`'s values of `keys`, or all of them (`keys`
/// empty). Body: `src | target: str | count: u16 | count keys: str`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct MetadataGet {
    pub src: ByteString,
    pub target: ByteString,
    pub keys: Vec<ByteString>,
}

/// METADATA_SUB: subscribes this session to the keys of `add` and
/// unsubscribes it from those of `remove`. Body: `src | count: u16 | count
/// keys: str | count: u16 | count keys: str`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct MetadataSub {
    pub src: ByteString,
    pub add: Vec<ByteString>,
    pub remove: Vec<ByteString>,
}

/// IGNORE: stop being shown `dst`'s messages (`ignore` 1), or be shown
/// them again (0). Body: `src | dst | ignore: u8`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct Ignore {
    pub src: ByteString,
    pub dst: ByteString,
    pub ignore: bool,
}

/// Every request of protocol version 1. With the `serde` feature, its
/// JSON form (the WebSocket front end's, `docs/websocket.md`) is
/// `{"type": ..., "body": {...}}`, the type being the frame type's name in
/// snake case; a room request is its own [`RoomRequest`] form (read as one:
/// see `crate::json`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(tag = "type", content = "body", rename_all = "snake_case")
)]
pub enum Request {
    Hello(Hello),
    Register(Register),
    Reflect(Reflect),
    Transfer(Transfer),
    Broadcast(Broadcast),
    GetAllUser(GetAllUser),
    Logout(Logout),
    Admin(Admin),
    Kickout(Kickout),
    Bantalk(Bantalk),
    Unmute(Unmute),
    Shutdown(Shutdown),
    /// PING: keep-alive, empty body.
    Ping,
    Passwd(Passwd),
    History(History),
    Ban(Ban),
    /// UNBAN: lift the ban on a name or address. Body: `src | dst`.
    Unban(Target),
    /// GRANT: give the account `dst` the administrator role. Body: `src | dst`.
    Grant(Target),
    /// REVOKE: take the administrator role from `dst`. Body: `src | dst`.
    Revoke(Target),
    Audit(Audit),
    MarkRead(MarkRead),
    MarkReadAt(MarkReadAt),
    MetadataSet(MetadataSet),
    MetadataGet(MetadataGet),
    MetadataSub(MetadataSub),
    /// READ_MARKERS: the sender's account's read markers. Body: `src |
    /// dst("")`.
    ReadMarkers(Target),
    Ignore(Ignore),
    /// IGNORES: the names the sender ignores. Body: `src | dst("")`.
    Ignores(Target),
    Profile(Profile),
    /// NICK: change the sender's name to `dst`. Body: `src | dst`.
    Nick(Target),
    UserMode(UserMode),
    /// WHOIS: the online user `dst` (exact name), invisible or not.
    /// Body: `src | dst`.
    Whois(Target),
    Whowas(Whowas),
    Redact(Redact),
    /// A room request (types 0x20-0x2F).
    #[cfg_attr(feature = "serde", serde(untagged))]
    Room(RoomRequest),
}

/// The body of requests that are just an operation packet with a target:
/// `src | dst`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
pub struct Target {
    pub src: ByteString,
    pub dst: ByteString,
}

impl Request {
    pub fn frame_type(&self) -> FrameType {
        match self {
            Request::Hello(_) => FrameType::Hello,
            Request::Register(_) => FrameType::Register,
            Request::Reflect(_) => FrameType::Reflect,
            Request::Transfer(_) => FrameType::Transfer,
            Request::Broadcast(_) => FrameType::Broadcast,
            Request::GetAllUser(_) => FrameType::GetAllUser,
            Request::Logout(_) => FrameType::Logout,
            Request::Admin(_) => FrameType::Admin,
            Request::Kickout(_) => FrameType::Kickout,
            Request::Bantalk(_) => FrameType::Bantalk,
            Request::Unmute(_) => FrameType::Unmute,
            Request::Shutdown(_) => FrameType::Shutdown,
            Request::Ping => FrameType::Ping,
            Request::Passwd(_) => FrameType::Passwd,
            Request::History(_) => FrameType::History,
            Request::Ban(_) => FrameType::Ban,
            Request::Unban(_) => FrameType::Unban,
            Request::Grant(_) => FrameType::Grant,
            Request::Revoke(_) => FrameType::Revoke,
            Request::Audit(_) => FrameType::Audit,
            Request::MarkRead(_) => FrameType::MarkRead,
            Request::MarkReadAt(_) => FrameType::MarkReadAt,
            Request::MetadataSet(_) => FrameType::MetadataSet,
            Request::MetadataGet(_) => FrameType::MetadataGet,
            Request::MetadataSub(_) => FrameType::MetadataSub,
            Request::ReadMarkers(_) => FrameType::ReadMarkers,
            Request::Ignore(_) => FrameType::Ignore,
            Request::Ignores(_) => FrameType::Ignores,
            Request::Profile(_) => FrameType::Profile,
            Request::Nick(_) => FrameType::Nick,
            Request::UserMode(_) => FrameType::UserMode,
            Request::Whois(_) => FrameType::Whois,
            Request::Whowas(_) => FrameType::Whowas,
            Request::Redact(_) => FrameType::Redact,
            Request::Room(r) => r.frame_type(),
        }
    }

    fn encode_body(&self, b: &mut BytesMut) -> Result<(), EncodeError> {
        match self {
            Request::Hello(r) => {
                b.put_slice(&MAGIC);
                b.put_u16(r.version);
                put_str(b, "client", &r.client)?;
                if !r.server_password.is_empty() {
                    put_str(b, "server_password", &r.server_password)?;
                }
            }
            Request::Register(r) => {
                put_str(b, "name", &r.name)?;
                put_str(b, "ip", &r.ip)?;
                b.put_u16(r.port);
                put_str(b, "password", &r.password)?;
                let options = r.options();
                if options != 0 {
                    b.put_u8(options);
                }
            }
            Request::Reflect(r) => transfer_shape(b, &r.src, "", &r.content)?,
            Request::Transfer(r) => {
                transfer_shape(b, &r.src, &r.dst, &r.content)?;
                r.options.encode(b)?;
            }
            Request::Broadcast(r) => {
                transfer_shape(b, &r.src, "", &r.content)?;
                r.options.encode(b)?;
            }
            Request::GetAllUser(r) => operation_shape(b, &r.src, "")?,
            Request::Logout(r) => {
                operation_shape(b, &r.src, "")?;
                if !r.reason.is_empty() {
                    put_str(b, "reason", &r.reason)?;
                }
            }
            Request::Redact(r) => {
                operation_shape(b, &r.src, &r.dst)?;
                b.put_u64(r.id);
                put_str(b, "reason", &r.reason)?;
            }
            Request::Admin(r) => {
                operation_shape(b, &r.src, "")?;
                put_str(b, "password", &r.password)?;
            }
            Request::Kickout(r) => {
                operation_shape(b, &r.src, &r.dst)?;
                put_str(b, "reason", &r.reason)?;
            }
            Request::Bantalk(r) => {
                operation_shape(b, &r.src, &r.dst)?;
                b.put_u32(r.duration_secs);
                put_str(b, "reason", &r.reason)?;
            }
            Request::Unmute(r) => operation_shape(b, &r.src, &r.dst)?,
            Request::Shutdown(r) => {
                operation_shape(b, &r.src, "")?;
                b.put_u8(r.scope as u8);
                put_str(b, "reason", &r.reason)?;
            }
            Request::Ping => {}
            Request::Passwd(r) => {
                operation_shape(b, &r.src, "")?;
                put_str(b, "old", &r.old)?;
                put_str(b, "new", &r.new)?;
            }
            Request::Profile(r) => {
                operation_shape(b, &r.src, "")?;
                put_str(b, "username", &r.username)?;
                put_str(b, "realname", &r.realname)?;
                put_str(b, "away", &r.away)?;
            }
            Request::Nick(r) | Request::Whois(r) => operation_shape(b, &r.src, &r.dst)?,
            Request::UserMode(r) => {
                operation_shape(b, &r.src, "")?;
                b.put_u8(r.set);
                b.put_u8(r.clear);
            }
            Request::Whowas(r) => {
                operation_shape(b, &r.src, &r.dst)?;
                b.put_u16(r.limit);
            }
            Request::History(r) => {
                operation_shape(b, &r.src, &r.dst)?;
                b.put_u64(r.before);
                b.put_u64(r.after);
                b.put_u16(r.limit);
            }
            Request::Ban(r) => {
                operation_shape(b, &r.src, &r.dst)?;
                b.put_u32(r.duration_secs);
                put_str(b, "reason", &r.reason)?;
            }
            Request::Unban(r) | Request::Grant(r) | Request::Revoke(r) => {
                operation_shape(b, &r.src, &r.dst)?
            }
            Request::Audit(r) => {
                operation_shape(b, &r.src, "")?;
                b.put_u64(r.before);
                b.put_u16(r.limit);
            }
            Request::MarkRead(r) => {
                put_str(b, "src", &r.src)?;
                put_str(b, "conversation", &r.conversation)?;
                b.put_u64(r.id);
            }
            Request::MarkReadAt(r) => {
                put_str(b, "src", &r.src)?;
                put_str(b, "conversation", &r.conversation)?;
                b.put_u64(r.ts);
            }
            Request::MetadataSet(r) => {
                put_str(b, "src", &r.src)?;
                put_str(b, "target", &r.target)?;
                put_str(b, "key", &r.key)?;
                put_str(b, "value", &r.value)?;
            }
            Request::MetadataGet(r) => {
                put_str(b, "src", &r.src)?;
                put_str(b, "target", &r.target)?;
                put_keys(b, &r.keys)?;
            }
            Request::MetadataSub(r) => {
                put_str(b, "src", &r.src)?;
                put_keys(b, &r.add)?;
                put_keys(b, &r.remove)?;
            }
            Request::ReadMarkers(r) | Request::Ignores(r) => operation_shape(b, &r.src, &r.dst)?,
            Request::Ignore(r) => {
                operation_shape(b, &r.src, &r.dst)?;
                b.put_u8(u8::from(r.ignore));
            }
            Request::Room(r) => r.encode_body(b)?,
        }
        Ok(())
    }
}

fn operation_shape(b: &mut BytesMut, src: &str, dst: &str) -> Result<(), EncodeError> {
    put_str(b, "src", src)?;
    put_str(b, "dst", dst)
}

fn transfer_shape(
    b: &mut BytesMut,
    src: &str,
    dst: &str,
    content: &str,
) -> Result<(), EncodeError> {
    operation_shape(b, src, dst)?;
    put_str(b, "content", content)
}

/// Reads a `dst` that this request type requires to be empty.
fn empty_dst(r: &mut Reader) -> Result<(), BodyError> {
    let dst = r.str("dst")?;
    if dst.is_empty() {
        Ok(())
    } else {
        Err(BodyError::MustBeEmpty { field: "dst" })
    }
}

/// An operation packet whose `dst` must be empty.
/// A list of metadata keys: `count: u16 | count keys: str`.
fn put_keys(b: &mut BytesMut, keys: &[ByteString]) -> Result<(), EncodeError> {
    let count =
        u16::try_from(keys.len()).map_err(|_| EncodeError::TooManyEntries { field: "keys" })?;
    b.put_u16(count);
    for key in keys {
        put_str(b, "key", key)?;
    }
    Ok(())
}

fn keys(r: &mut Reader) -> Result<Vec<ByteString>, BodyError> {
    let count = r.u16("count")?;
    let mut keys = Vec::new();
    for _ in 0..count {
        keys.push(r.str("key")?);
    }
    Ok(keys)
}

fn src_only(r: &mut Reader) -> Result<Target, BodyError> {
    let src = r.str("src")?;
    empty_dst(r)?;
    Ok(Target {
        src,
        dst: "".into(),
    })
}

fn target(r: &mut Reader) -> Result<Target, BodyError> {
    Ok(Target {
        src: r.str("src")?,
        dst: r.str("dst")?,
    })
}

impl Encode for Request {
    fn encode(&self, id: RequestId, dst: &mut BytesMut) -> Result<(), EncodeError> {
        put_frame(dst, self.frame_type(), id, |b| self.encode_body(b))
    }
}

impl Decode for Request {
    fn decode(frame_type: u8, body: Bytes) -> Result<Request, BodyError> {
        let ty = FrameType::from_u8(frame_type).ok_or(BodyError::UnknownType(frame_type))?;
        let mut r = Reader::new(body);
        let request = match ty {
            FrameType::Hello => {
                if r.bytes("magic", 4)?[..] != MAGIC {
                    return Err(BodyError::BadMagic);
                }
                let version = r.u16("version")?;
                let client = r.str("client")?;
                // Absent means empty; present, it must not be (one
                // encoding per body).
                let server_password = if r.is_empty() {
                    ByteString::new()
                } else {
                    match r.str("server_password")? {
                        empty if empty.is_empty() => {
                            return Err(BodyError::InvalidValue {
                                field: "server_password",
                                value: 0,
                            });
                        }
                        password => password,
                    }
                };
                Request::Hello(Hello {
                    version,
                    client,
                    server_password,
                })
            }
            FrameType::Register => {
                let name = r.str("name")?;
                let ip = r.str("ip")?;
                let port = r.u16("port")?;
                let password = r.str("password")?;
                // Absent means 0; present, it must say something (so that
                // every body has one encoding) and only known bits.
                let options = if r.is_empty() {
                    0
                } else {
                    match r.u8("options")? {
                        o if o == 0 || o & !Register::KNOWN_OPTIONS != 0 => {
                            return Err(BodyError::InvalidValue {
                                field: "options",
                                value: o.into(),
                            });
                        }
                        o => o,
                    }
                };
                Request::Register(Register {
                    name,
                    ip,
                    port,
                    password,
                    take_offline: options & Register::SKIP_OFFLINE == 0,
                    multi_session: options & Register::MULTI_SESSION != 0,
                })
            }
            FrameType::Reflect => {
                let src = r.str("src")?;
                empty_dst(&mut r)?;
                Request::Reflect(Reflect {
                    src,
                    content: r.str("content")?,
                })
            }
            FrameType::Transfer => Request::Transfer(Transfer {
                src: r.str("src")?,
                dst: r.str("dst")?,
                content: r.str("content")?,
                options: SendOptions::decode(&mut r)?,
            }),
            FrameType::Broadcast => {
                let src = r.str("src")?;
                empty_dst(&mut r)?;
                Request::Broadcast(Broadcast {
                    src,
                    content: r.str("content")?,
                    options: SendOptions::decode(&mut r)?,
                })
            }
            FrameType::GetAllUser => {
                let src = r.str("src")?;
                empty_dst(&mut r)?;
                Request::GetAllUser(GetAllUser { src })
            }
            FrameType::Logout => {
                let src = r.str("src")?;
                empty_dst(&mut r)?;
                let reason = if r.is_empty() {
                    ByteString::new()
                } else {
                    match r.str("reason")? {
                        reason if reason.is_empty() => {
                            return Err(BodyError::InvalidValue {
                                field: "reason",
                                value: 0,
                            });
                        }
                        reason => reason,
                    }
                };
                Request::Logout(Logout { src, reason })
            }
            FrameType::Redact => Request::Redact(Redact {
                src: r.str("src")?,
                dst: r.str("dst")?,
                id: r.u64("id")?,
                reason: r.str("reason")?,
            }),
            FrameType::Admin => {
                let src = r.str("src")?;
                empty_dst(&mut r)?;
                Request::Admin(Admin {
                    src,
                    password: r.str("password")?,
                })
            }
            FrameType::Kickout => Request::Kickout(Kickout {
                src: r.str("src")?,
                dst: r.str("dst")?,
                reason: r.str("reason")?,
            }),
            FrameType::Bantalk => Request::Bantalk(Bantalk {
                src: r.str("src")?,
                dst: r.str("dst")?,
                duration_secs: r.u32("duration_secs")?,
                reason: r.str("reason")?,
            }),
            FrameType::Unmute => Request::Unmute(Unmute {
                src: r.str("src")?,
                dst: r.str("dst")?,
            }),
            FrameType::Shutdown => {
                let src = r.str("src")?;
                empty_dst(&mut r)?;
                let scope = match r.u8("scope")? {
                    0 => ShutdownScope::Node,
                    1 => ShutdownScope::Cluster,
                    other => {
                        return Err(BodyError::InvalidValue {
                            field: "scope",
                            value: other.into(),
                        });
                    }
                };
                Request::Shutdown(Shutdown {
                    src,
                    scope,
                    reason: r.str("reason")?,
                })
            }
            FrameType::Ping => Request::Ping,
            FrameType::Passwd => {
                let src = r.str("src")?;
                empty_dst(&mut r)?;
                Request::Passwd(Passwd {
                    src,
                    old: r.str("old")?,
                    new: r.str("new")?,
                })
            }
            FrameType::Profile => {
                let src = r.str("src")?;
                empty_dst(&mut r)?;
                Request::Profile(Profile {
                    src,
                    username: r.str("username")?,
                    realname: r.str("realname")?,
                    away: r.str("away")?,
                })
            }
            FrameType::Nick => Request::Nick(target(&mut r)?),
            FrameType::Whois => Request::Whois(target(&mut r)?),
            FrameType::UserMode => {
                let src = r.str("src")?;
                empty_dst(&mut r)?;
                let mut flag = |field| match r.u8(field)? {
                    f if f & !crate::server::user_flags::SETTABLE != 0 => {
                        Err(BodyError::InvalidValue {
                            field,
                            value: f.into(),
                        })
                    }
                    f => Ok(f),
                };
                let set = flag("set")?;
                let clear = flag("clear")?;
                if set & clear != 0 {
                    return Err(BodyError::InvalidValue {
                        field: "clear",
                        value: clear.into(),
                    });
                }
                Request::UserMode(UserMode { src, set, clear })
            }
            FrameType::Whowas => Request::Whowas(Whowas {
                src: r.str("src")?,
                dst: r.str("dst")?,
                limit: r.u16("limit")?,
            }),
            FrameType::History => Request::History(History {
                src: r.str("src")?,
                dst: r.str("dst")?,
                before: r.u64("before")?,
                after: r.u64("after")?,
                limit: r.u16("limit")?,
            }),
            FrameType::Ban => Request::Ban(Ban {
                src: r.str("src")?,
                dst: r.str("dst")?,
                duration_secs: r.u32("duration_secs")?,
                reason: r.str("reason")?,
            }),
            FrameType::Unban => Request::Unban(target(&mut r)?),
            FrameType::Grant => Request::Grant(target(&mut r)?),
            FrameType::Revoke => Request::Revoke(target(&mut r)?),
            FrameType::Audit => {
                let src = r.str("src")?;
                empty_dst(&mut r)?;
                Request::Audit(Audit {
                    src,
                    before: r.u64("before")?,
                    limit: r.u16("limit")?,
                })
            }
            FrameType::MarkRead => Request::MarkRead(MarkRead {
                src: r.str("src")?,
                conversation: r.str("conversation")?,
                id: r.u64("id")?,
            }),
            FrameType::MarkReadAt => Request::MarkReadAt(MarkReadAt {
                src: r.str("src")?,
                conversation: r.str("conversation")?,
                ts: r.u64("ts")?,
            }),
            FrameType::MetadataSet => Request::MetadataSet(MetadataSet {
                src: r.str("src")?,
                target: r.str("target")?,
                key: r.str("key")?,
                value: r.str("value")?,
            }),
            FrameType::MetadataGet => Request::MetadataGet(MetadataGet {
                src: r.str("src")?,
                target: r.str("target")?,
                keys: keys(&mut r)?,
            }),
            FrameType::MetadataSub => Request::MetadataSub(MetadataSub {
                src: r.str("src")?,
                add: keys(&mut r)?,
                remove: keys(&mut r)?,
            }),
            FrameType::ReadMarkers => Request::ReadMarkers(src_only(&mut r)?),
            FrameType::Ignore => Request::Ignore(Ignore {
                src: r.str("src")?,
                dst: r.str("dst")?,
                ignore: match r.u8("ignore")? {
                    0 => false,
                    1 => true,
                    other => {
                        return Err(BodyError::InvalidValue {
                            field: "ignore",
                            value: u64::from(other),
                        });
                    }
                },
            }),
            FrameType::Ignores => Request::Ignores(src_only(&mut r)?),
            room if room.is_room_request() => {
                Request::Room(RoomRequest::decode_body(room, &mut r)?)
            }
            server_type => return Err(BodyError::WrongDirection(server_type as u8)),
        };
        r.finish()?;
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use bytes::{BufMut, BytesMut};

    use super::*;
    use crate::error::BodyError;
    use crate::wire::Decode;

    /// A REGISTER body for bob (guest, nothing advertised) ending in
    /// `options`.
    fn register_with_options(options: &[u8]) -> Result<Request, BodyError> {
        let mut body = BytesMut::new();
        crate::wire::put_str(&mut body, "name", "bob").unwrap();
        crate::wire::put_str(&mut body, "ip", "").unwrap();
        body.put_u16(0);
        crate::wire::put_str(&mut body, "password", "").unwrap();
        body.put_slice(options);
        Request::decode(FrameType::Register as u8, body.freeze())
    }

    #[test]
    fn register_options_are_optional_and_strict() {
        let Ok(Request::Register(plain)) = register_with_options(&[]) else {
            panic!("no options is fine")
        };
        assert!(plain.take_offline);
        let Ok(Request::Register(skip)) = register_with_options(&[Register::SKIP_OFFLINE]) else {
            panic!("SKIP_OFFLINE is known")
        };
        assert!(!skip.take_offline);
        let Ok(Request::Register(both)) =
            register_with_options(&[Register::SKIP_OFFLINE | Register::MULTI_SESSION])
        else {
            panic!("both bits are known")
        };
        assert!(!both.take_offline && both.multi_session);
        for bad in [&[0x00][..], &[0x04], &[0x80], &[0x01, 0x00]] {
            assert!(register_with_options(bad).is_err(), "{bad:?}");
        }
    }
}
