//! The JSON form of the protocol's types (the `serde` feature), for front
//! ends that speak JSON (the WebSocket one, `docs/websocket.md`).
//!
//! Most types derive their form where they are declared; this module holds
//! the few written by hand, so that a value reads back as the same value:
//! error codes and mute states as the numbers the binary protocol carries,
//! message and notice kinds by name (a kind from a newer server as its
//! number), room modes as their bits (unknown bits refused). It also maps a
//! JSON `type` back to its frame type ([`frame_type`]), and reads a request
//! type first, then its body.

use serde::de::{self, Deserializer, Unexpected, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::error::ErrorCode;
use crate::frame::FrameType;
use crate::request::{
    Admin, Audit, Ban, Bantalk, Broadcast, GetAllUser, Hello, History, Ignore, Kickout, Logout,
    MarkRead, MarkReadAt, MetadataGet, MetadataSet, MetadataSub, Passwd, Profile, Redact, Reflect,
    Register, Request, Shutdown, Target, Transfer, Unmute, UserMode, Whowas,
};
use crate::room::{RoomMode, RoomRequest};
use crate::server::{MessageKind, MuteState, NoticeKind};

/// A frame type's name in JSON: its protocol name in snake case
/// (`GetAllUser` is `get_all_user`).
pub fn type_name(ty: FrameType) -> String {
    let mut name = String::new();
    for (i, c) in ty.name().char_indices() {
        if c.is_ascii_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_lowercase());
    }
    name
}

/// The frame type a JSON `type` names, if any.
pub fn frame_type(name: &str) -> Option<FrameType> {
    (0..=u8::MAX)
        .filter_map(FrameType::from_u8)
        .find(|ty| type_name(*ty) == name)
}

/// A request is read in two steps: its type first, then its body as that
/// type's, so that what is wrong with it is said precisely. (Serde's own
/// reading of an enum with an untagged variant, the room requests, says
/// only that the input matches none of them.)
impl<'de> Deserialize<'de> for Request {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        let room = value
            .get("type")
            .and_then(serde_json::Value::as_str)
            .and_then(frame_type)
            .is_some_and(FrameType::is_room_request);
        let read = if room {
            RoomRequest::deserialize(value).map(Request::Room)
        } else {
            PlainRequest::deserialize(value).map(Request::from)
        };
        read.map_err(de::Error::custom)
    }
}

/// The requests that are not room requests, as [`Request`] names them.
#[derive(Deserialize)]
#[serde(tag = "type", content = "body", rename_all = "snake_case")]
enum PlainRequest {
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
    Ping,
    Passwd(Passwd),
    History(History),
    Ban(Ban),
    Unban(Target),
    Grant(Target),
    Revoke(Target),
    Audit(Audit),
    MarkRead(MarkRead),
    MarkReadAt(MarkReadAt),
    MetadataSet(MetadataSet),
    MetadataGet(MetadataGet),
    MetadataSub(MetadataSub),
    ReadMarkers(Target),
    Ignore(Ignore),
    Ignores(Target),
    Profile(Profile),
    Nick(Target),
    UserMode(UserMode),
    Whois(Target),
    Whowas(Whowas),
    Redact(Redact),
}

impl From<PlainRequest> for Request {
    fn from(plain: PlainRequest) -> Request {
        match plain {
            PlainRequest::Hello(r) => Request::Hello(r),
            PlainRequest::Register(r) => Request::Register(r),
            PlainRequest::Reflect(r) => Request::Reflect(r),
            PlainRequest::Transfer(r) => Request::Transfer(r),
            PlainRequest::Broadcast(r) => Request::Broadcast(r),
            PlainRequest::GetAllUser(r) => Request::GetAllUser(r),
            PlainRequest::Logout(r) => Request::Logout(r),
            PlainRequest::Admin(r) => Request::Admin(r),
            PlainRequest::Kickout(r) => Request::Kickout(r),
            PlainRequest::Bantalk(r) => Request::Bantalk(r),
            PlainRequest::Unmute(r) => Request::Unmute(r),
            PlainRequest::Shutdown(r) => Request::Shutdown(r),
            PlainRequest::Ping => Request::Ping,
            PlainRequest::Passwd(r) => Request::Passwd(r),
            PlainRequest::History(r) => Request::History(r),
            PlainRequest::Ban(r) => Request::Ban(r),
            PlainRequest::Unban(r) => Request::Unban(r),
            PlainRequest::Grant(r) => Request::Grant(r),
            PlainRequest::Revoke(r) => Request::Revoke(r),
            PlainRequest::Audit(r) => Request::Audit(r),
            PlainRequest::MarkRead(r) => Request::MarkRead(r),
            PlainRequest::MarkReadAt(r) => Request::MarkReadAt(r),
            PlainRequest::MetadataSet(r) => Request::MetadataSet(r),
            PlainRequest::MetadataGet(r) => Request::MetadataGet(r),
            PlainRequest::MetadataSub(r) => Request::MetadataSub(r),
            PlainRequest::ReadMarkers(r) => Request::ReadMarkers(r),
            PlainRequest::Ignore(r) => Request::Ignore(r),
            PlainRequest::Ignores(r) => Request::Ignores(r),
            PlainRequest::Profile(r) => Request::Profile(r),
            PlainRequest::Nick(r) => Request::Nick(r),
            PlainRequest::UserMode(r) => Request::UserMode(r),
            PlainRequest::Whois(r) => Request::Whois(r),
            PlainRequest::Whowas(r) => Request::Whowas(r),
            PlainRequest::Redact(r) => Request::Redact(r),
        }
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u16(self.as_u16())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u16::deserialize(d).map(ErrorCode::from_u16)
    }
}

/// As on the wire: 0 not muted, `u64::MAX` until lifted, else the end.
impl Serialize for MuteState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.to_wire())
    }
}

impl<'de> Deserialize<'de> for MuteState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u64::deserialize(d).map(MuteState::from_wire)
    }
}

impl Serialize for RoomMode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.bits())
    }
}

impl<'de> Deserialize<'de> for RoomMode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bits = u8::deserialize(d)?;
        RoomMode::from_bits(bits).ok_or_else(|| {
            de::Error::invalid_value(
                Unexpected::Unsigned(bits.into()),
                &"mode bits 0 to 63 (1 invite-only, 2 password, 4 moderated, 8 no external, 16 secret, 32 topic lock)",
            )
        })
    }
}

impl MessageKind {
    fn json_name(self) -> Option<&'static str> {
        match self {
            MessageKind::Direct => Some("direct"),
            MessageKind::Broadcast => Some("broadcast"),
            MessageKind::Room => Some("room"),
            MessageKind::RoomOperators => Some("room_operators"),
            MessageKind::Other(_) => None,
        }
    }
}

/// A kind by name, or by number when this version has no name for it.
struct Kind<T>(std::marker::PhantomData<T>);

/// The kinds with names: their names and numbers.
trait Named: Copy + Sized {
    const WHAT: &'static str;
    fn from_number(n: u8) -> Self;
    fn number(self) -> u8;
    fn json_name(self) -> Option<&'static str>;
    fn named(name: &str) -> Option<Self> {
        (0..=u8::MAX)
            .map(Self::from_number)
            .find(|kind| kind.json_name() == Some(name))
    }
}

impl Named for MessageKind {
    const WHAT: &'static str = "a message kind (direct, broadcast, room) or its number";
    fn from_number(n: u8) -> Self {
        MessageKind::from_u8(n)
    }
    fn number(self) -> u8 {
        self.to_u8()
    }
    fn json_name(self) -> Option<&'static str> {
        MessageKind::json_name(self)
    }
}

impl Named for NoticeKind {
    const WHAT: &'static str = "a notice kind's name (joined, muted, ...) or its number";
    fn from_number(n: u8) -> Self {
        NoticeKind::from_u8(n)
    }
    fn number(self) -> u8 {
        self.to_u8()
    }
    fn json_name(self) -> Option<&'static str> {
        match self {
            NoticeKind::Other(_) => None,
            known => Some(known.name()),
        }
    }
}

impl<T: Named> Visitor<'_> for Kind<T> {
    type Value = T;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(T::WHAT)
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<T, E> {
        T::named(name).ok_or_else(|| E::invalid_value(Unexpected::Str(name), &self))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<T, E> {
        u8::try_from(n)
            .map(T::from_number)
            .map_err(|_| E::invalid_value(Unexpected::Unsigned(n), &self))
    }
}

fn serialize_kind<T: Named, S: Serializer>(kind: T, s: S) -> Result<S::Ok, S::Error> {
    match kind.json_name() {
        Some(name) => s.serialize_str(name),
        None => s.serialize_u8(kind.number()),
    }
}

impl Serialize for MessageKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_kind(*self, s)
    }
}

impl<'de> Deserialize<'de> for MessageKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Kind(std::marker::PhantomData))
    }
}

impl Serialize for NoticeKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_kind(*self, s)
    }
}

impl<'de> Deserialize<'de> for NoticeKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Kind(std::marker::PhantomData))
    }
}
