//! The test vectors of `docs/protocol.md`, checked against the codec.
//!
//! The vectors are read out of the document itself: every block fenced as
//! ```` ```hex ```` and preceded by a `<!-- vector: NAME -->` marker. Each is
//! decoded with the codec of the side that receives it, compared with the
//! typed value below, and (for valid frames) re-encoded and compared byte for
//! byte. A vector that is wrong, missing from the document, or unknown to this
//! test fails it.
//!
//! The document's tables and lists of frame types and error codes are
//! checked against the crate too: the frame type table (3.1), the lists of
//! replies and events (4), the precondition table (6.2), the room request
//! table (12.3), the reserved ranges (10.2) and the error codes (8.1). A
//! frame type added to the crate and forgotten in any of them fails here, as
//! does one without a vector.

use std::collections::BTreeMap;

use bytes::BytesMut;
use chinwag_proto::request::{
    Admin, Audit, Ban, Bantalk, Broadcast, GetAllUser, Hello, History, Ignore, Kickout, Logout,
    MarkRead, MarkReadAt, MetadataGet, MetadataSet, MetadataSub, Passwd, Profile, Redact, Reflect,
    Register, SendOptions, Shutdown, ShutdownScope, Target, Transfer, Unmute, UserMode, Whowas,
};
use chinwag_proto::room::{
    Invite, Join, MaskAction, MaskEntry, MaskList, MemberInfo, Members, Part, RoomInfo, RoomKick,
    RoomLimit, RoomMask, RoomMode, RoomMute, RoomNotice, RoomOp, RoomSend, RoomUnmute, RoomVoice,
    SetRoomMode, Topic,
};
use chinwag_proto::server::{
    AuditEntry, DeliveryStatus, Message, Metadata, MetadataEntry, MuteState, Notice, ReadMarker,
    ReadMarkerAt, Redacted, Registered, Role, Sent, UserInfo, UserUpdate, Welcome, WhowasEntry,
};
use chinwag_proto::{
    BodyError, ClientCodec, ErrorCode, FrameError, FrameType, Limits, MessageId, MessageKind,
    NameError, NameKey, NoticeKind, Packet, Rejected, Request, RequestId, RoomRequest, RoomRole,
    ServerCodec, ServerFrame, Timestamp, UserName,
};
use tokio_util::codec::{Decoder, Encoder};

/// 2023-11-14T22:13:20Z, the base of every timestamp in the vectors.
const T: u64 = 1_700_000_000_000;

/// What decoding a vector must produce.
enum Expect {
    /// A request the server decodes; re-encoding gives the same bytes.
    Req(u32, Request),
    /// A server frame the client decodes; re-encoding gives the same bytes.
    Srv(u32, ServerFrame),
    /// A request frame the server skips whole, with this error.
    ReqRejected(Rejected),
    /// A server frame the client skips whole, with this error.
    SrvRejected(Rejected),
    /// A length prefix the server refuses: the stream ends.
    TooLarge {
        len: u32,
        max: u32,
    },
    TooShort {
        len: u32,
    },
    /// Not a whole frame yet: nothing is consumed.
    Incomplete,
}

fn s(text: &str) -> chinwag_proto::ByteString {
    text.into()
}

fn rejected(id: u32, frame_type: u8, error: BodyError) -> Rejected {
    Rejected {
        id: RequestId(id),
        frame_type,
        error,
    }
}

fn expected() -> BTreeMap<&'static str, Expect> {
    use Expect::*;
    let mut v = BTreeMap::new();

    // Requests.
    v.insert(
        "request/hello",
        Req(
            1,
            Request::Hello(Hello {
                version: 1,
                client: s("chinwag-cli/0.1.0"),
                server_password: s(""),
            }),
        ),
    );
    v.insert(
        "request/hello-server-password",
        Req(
            64,
            Request::Hello(Hello {
                version: 1,
                client: s(""),
                server_password: s("s3cret"),
            }),
        ),
    );
    v.insert(
        "request/register",
        Req(
            2,
            Request::Register(Register {
                name: s("alice"),
                ip: s("10.0.0.7"),
                port: 5555,
                password: s(""),
                take_offline: true,
                multi_session: false,
            }),
        ),
    );
    v.insert(
        "request/register-skip-offline",
        Req(
            2,
            Request::Register(Register {
                name: s("bob"),
                ip: s(""),
                port: 0,
                password: s("hunter22"),
                take_offline: false,
                multi_session: false,
            }),
        ),
    );
    v.insert(
        "request/register-multi-session",
        Req(
            2,
            Request::Register(Register {
                name: s("bob"),
                ip: s(""),
                port: 0,
                password: s("hunter22"),
                take_offline: true,
                multi_session: true,
            }),
        ),
    );
    v.insert(
        "request/reflect",
        Req(
            3,
            Request::Reflect(Reflect {
                src: s(""),
                content: s("hi"),
            }),
        ),
    );
    v.insert(
        "request/transfer",
        Req(
            4,
            Request::Transfer(Transfer {
                src: s("alice"),
                dst: s("bob"),
                content: s("你好"),
                ..Default::default()
            }),
        ),
    );
    v.insert(
        "request/broadcast",
        Req(
            5,
            Request::Broadcast(Broadcast {
                src: s(""),
                content: s("hello, everyone"),
                ..Default::default()
            }),
        ),
    );
    v.insert(
        "request/getalluser",
        Req(6, Request::GetAllUser(GetAllUser { src: s("") })),
    );
    v.insert(
        "request/logout",
        Req(
            7,
            Request::Logout(Logout {
                src: s("alice"),
                ..Default::default()
            }),
        ),
    );
    v.insert(
        "request/admin",
        Req(
            8,
            Request::Admin(Admin {
                src: s(""),
                password: s("s3cret"),
            }),
        ),
    );
    v.insert(
        "request/kickout",
        Req(
            9,
            Request::Kickout(Kickout {
                src: s(""),
                dst: s("bob"),
                reason: s("spam"),
            }),
        ),
    );
    v.insert(
        "request/bantalk",
        Req(
            10,
            Request::Bantalk(Bantalk {
                src: s(""),
                dst: s("bob"),
                duration_secs: 60,
                reason: s("flooding"),
            }),
        ),
    );
    v.insert(
        "request/unmute",
        Req(
            11,
            Request::Unmute(Unmute {
                src: s(""),
                dst: s("bob"),
            }),
        ),
    );
    v.insert(
        "request/shutdown",
        Req(
            12,
            Request::Shutdown(Shutdown {
                src: s(""),
                scope: ShutdownScope::Node,
                reason: s("maintenance"),
            }),
        ),
    );
    v.insert("request/ping", Req(13, Request::Ping));
    v.insert(
        "request/passwd",
        Req(
            30,
            Request::Passwd(Passwd {
                src: s(""),
                old: s("old-secret"),
                new: s("new-secret-1"),
            }),
        ),
    );
    v.insert(
        "request/profile",
        Req(
            37,
            Request::Profile(Profile {
                src: s(""),
                username: s("alice"),
                realname: s("Alice A."),
                away: s("lunch"),
            }),
        ),
    );
    v.insert(
        "request/nick",
        Req(
            41,
            Request::Nick(Target {
                src: s(""),
                dst: s("Robert"),
            }),
        ),
    );
    v.insert(
        "request/user-mode",
        Req(
            42,
            Request::UserMode(UserMode {
                src: s(""),
                set: 2,
                clear: 4,
            }),
        ),
    );
    v.insert(
        "request/whois",
        Req(
            43,
            Request::Whois(Target {
                src: s(""),
                dst: s("bob"),
            }),
        ),
    );
    v.insert(
        "request/whowas",
        Req(
            44,
            Request::Whowas(Whowas {
                src: s(""),
                dst: s("bob"),
                limit: 2,
            }),
        ),
    );
    v.insert(
        "request/history",
        Req(
            31,
            Request::History(History {
                src: s(""),
                dst: s("bob"),
                before: 43,
                after: 0,
                limit: 50,
            }),
        ),
    );
    v.insert(
        "request/history-me",
        Req(
            37,
            Request::History(History {
                src: s(""),
                dst: s("@me"),
                before: 0,
                after: 42,
                limit: 500,
            }),
        ),
    );
    v.insert(
        "request/ban",
        Req(
            32,
            Request::Ban(Ban {
                src: s(""),
                dst: s("bob"),
                duration_secs: 3600,
                reason: s("spam"),
            }),
        ),
    );
    let target = |dst: &str| Target {
        src: s(""),
        dst: s(dst),
    };
    v.insert("request/unban", Req(33, Request::Unban(target("10.0.0.9"))));
    v.insert("request/grant", Req(34, Request::Grant(target("carol"))));
    v.insert("request/revoke", Req(35, Request::Revoke(target("carol"))));
    v.insert(
        "request/audit",
        Req(
            36,
            Request::Audit(Audit {
                src: s(""),
                before: 0,
                limit: 20,
            }),
        ),
    );

    v.insert(
        "request/mark-read",
        Req(
            37,
            Request::MarkRead(MarkRead {
                src: s(""),
                conversation: s("bob"),
                id: 42,
            }),
        ),
    );
    v.insert(
        "request/read-markers",
        Req(
            38,
            Request::ReadMarkers(Target {
                src: s(""),
                dst: s(""),
            }),
        ),
    );

    v.insert(
        "request/metadata-set",
        Req(
            61,
            Request::MetadataSet(MetadataSet {
                src: s(""),
                target: s("#general"),
                key: s("color"),
                value: s("red"),
            }),
        ),
    );
    v.insert(
        "request/metadata-get",
        Req(
            62,
            Request::MetadataGet(MetadataGet {
                src: s(""),
                target: s("bob"),
                keys: vec![s("avatar")],
            }),
        ),
    );
    v.insert(
        "request/metadata-sub",
        Req(
            63,
            Request::MetadataSub(MetadataSub {
                src: s(""),
                add: vec![s("avatar")],
                remove: vec![],
            }),
        ),
    );
    v.insert(
        "request/mark-read-at",
        Req(
            60,
            Request::MarkReadAt(MarkReadAt {
                src: s(""),
                conversation: s("#general"),
                ts: T,
            }),
        ),
    );
    v.insert(
        "request/ignore",
        Req(
            39,
            Request::Ignore(Ignore {
                src: s(""),
                dst: s("bob"),
                ignore: true,
            }),
        ),
    );
    v.insert(
        "request/ignores",
        Req(
            40,
            Request::Ignores(Target {
                src: s(""),
                dst: s(""),
            }),
        ),
    );

    // Server frames.
    v.insert(
        "server/welcome",
        Srv(
            1,
            ServerFrame::Welcome(Welcome {
                version: 1,
                server: s("chinwagd/0.1.0"),
                max_frame: Limits::DEFAULT.max_frame,
                max_name: Limits::DEFAULT.max_name,
                max_content: Limits::DEFAULT.max_content,
                heartbeat_secs: 30,
            }),
        ),
    );
    v.insert(
        "server/registered",
        Srv(
            2,
            ServerFrame::Registered(Registered {
                name: s("alice"),
                role: Role::User,
                muted: MuteState::NotMuted,
                server_time: Timestamp(T),
            }),
        ),
    );
    v.insert(
        "server/ok",
        Srv(8, ServerFrame::ok("you are now an administrator")),
    );
    v.insert(
        "server/error",
        Srv(
            4,
            ServerFrame::error(ErrorCode::Muted, "you are muted for another 59s"),
        ),
    );
    v.insert(
        "server/error-frame-too-large",
        Srv(
            0,
            ServerFrame::error(
                ErrorCode::FrameTooLarge,
                // Exactly what the server would say for `bad/oversized`.
                FrameError::TooLarge {
                    len: 8193,
                    max: 8192,
                }
                .to_string(),
            ),
        ),
    );
    v.insert(
        "server/sent",
        Srv(
            4,
            ServerFrame::Sent(Sent {
                id: MessageId(42),
                ts: Timestamp(T + 123),
                status: DeliveryStatus::Delivered,
                recipients: 1,
                ..Default::default()
            }),
        ),
    );
    v.insert(
        "server/user-list",
        Srv(
            6,
            ServerFrame::UserList(vec![
                UserInfo {
                    name: s("alice"),
                    role: Role::Admin,
                    muted: MuteState::NotMuted,
                    addr: s("127.0.0.1:50412"),
                    advertised: s("10.0.0.7:5555"),
                    connected_at: Timestamp(T),
                    username: s("alice"),
                    realname: s("Alice A."),
                    away: s(""),
                    sessions: 2,
                    last_spoke: Timestamp(T + 2_000),
                    flags: 1,
                },
                UserInfo {
                    name: s("bob"),
                    role: Role::User,
                    muted: MuteState::Until(Timestamp(T + 60_000)),
                    addr: s("127.0.0.1:50420"),
                    advertised: s(""),
                    connected_at: Timestamp(T + 5_000),
                    username: s(""),
                    realname: s(""),
                    away: s("gone fishing"),
                    sessions: 1,
                    last_spoke: Timestamp(0),
                    flags: 0,
                },
            ]),
        ),
    );
    v.insert(
        "server/echo",
        Srv(
            3,
            ServerFrame::Echo {
                ts: Timestamp(T + 200),
                content: s("hi"),
            },
        ),
    );
    v.insert(
        "request/transfer-tags",
        Req(
            50,
            Request::Transfer(Transfer {
                src: s(""),
                dst: s("bob"),
                content: s(""),
                options: SendOptions {
                    notice: false,
                    tags: s("+typing=active"),
                },
            }),
        ),
    );
    v.insert(
        "request/room-send-notice",
        Req(
            51,
            Request::Room(RoomRequest::Send(RoomSend {
                src: s(""),
                room: s("#general"),
                content: s("back in 5"),
                options: SendOptions {
                    notice: true,
                    tags: s(""),
                },
            })),
        ),
    );
    v.insert(
        "request/logout-reason",
        Req(
            52,
            Request::Logout(Logout {
                src: s(""),
                reason: s("bye"),
            }),
        ),
    );
    v.insert(
        "request/redact",
        Req(
            53,
            Request::Redact(Redact {
                src: s(""),
                dst: s("#general"),
                id: 44,
                reason: s("spam"),
            }),
        ),
    );
    v.insert(
        "server/sent-away",
        Srv(
            54,
            ServerFrame::Sent(Sent {
                id: MessageId(45),
                ts: Timestamp(T + 600),
                status: DeliveryStatus::Delivered,
                recipients: 1,
                away: s("lunch"),
            }),
        ),
    );
    v.insert(
        "server/message-notice-tags",
        Srv(
            0,
            ServerFrame::Message(Message {
                id: MessageId(46),
                ts: Timestamp(T + 700),
                kind: MessageKind::Room,
                from: s("alice"),
                to: s("#general"),
                text: s("back in 5"),
                notice: true,
                tags: s("+draft/reply=44"),
            }),
        ),
    );
    v.insert(
        "server/redacted",
        Srv(
            0,
            ServerFrame::Redacted(Redacted {
                id: MessageId(44),
                ts: Timestamp(T + 800),
                kind: MessageKind::Room,
                actor: s("alice"),
                from: s("bob"),
                to: s("#general"),
                reason: s("spam"),
            }),
        ),
    );
    v.insert(
        "server/pong",
        Srv(
            13,
            ServerFrame::Pong {
                ts: Timestamp(T + 300),
            },
        ),
    );
    v.insert(
        "server/message",
        Srv(
            0,
            ServerFrame::Message(Message {
                id: MessageId(42),
                ts: Timestamp(T + 123),
                kind: MessageKind::Direct,
                from: s("alice"),
                to: s("bob"),
                text: s("你好"),
                ..Default::default()
            }),
        ),
    );
    v.insert(
        "server/message-broadcast",
        Srv(
            0,
            ServerFrame::Message(Message {
                id: MessageId(43),
                ts: Timestamp(T + 400),
                kind: MessageKind::Broadcast,
                from: s("alice"),
                to: s(""),
                text: s("hello, everyone"),
                ..Default::default()
            }),
        ),
    );
    v.insert(
        "server/notice",
        Srv(
            0,
            ServerFrame::Notice(Notice {
                kind: NoticeKind::Muted,
                ts: Timestamp(T),
                actor: s("alice"),
                subject: s("bob"),
                until: MuteState::Until(Timestamp(T + 60_000)).to_wire(),
                text: s("flooding"),
            }),
        ),
    );
    v.insert(
        "server/notice-left",
        Srv(
            0,
            ServerFrame::Notice(Notice {
                kind: NoticeKind::Left,
                ts: Timestamp(T + 500),
                actor: s("alice"),
                subject: s("bob"),
                until: 0,
                text: s("kicked by alice: spam"),
            }),
        ),
    );
    v.insert(
        "server/history-page",
        Srv(
            31,
            ServerFrame::HistoryPage(vec![
                Message {
                    id: MessageId(42),
                    ts: Timestamp(T + 123),
                    kind: MessageKind::Direct,
                    from: s("alice"),
                    to: s("bob"),
                    text: s("你好"),
                    ..Default::default()
                },
                Message {
                    id: MessageId(41),
                    ts: Timestamp(T + 100),
                    kind: MessageKind::Direct,
                    from: s("bob"),
                    to: s("alice"),
                    text: s("hi"),
                    ..Default::default()
                },
            ]),
        ),
    );
    v.insert(
        "server/audit-page",
        Srv(
            36,
            ServerFrame::AuditPage(vec![AuditEntry {
                id: 7,
                ts: Timestamp(T + 2_000),
                actor: s("root"),
                action: s("ban"),
                target: s("bob"),
                until: T + 3_602_000,
                reason: s("spam"),
            }]),
        ),
    );
    v.insert(
        "server/user-update",
        Srv(
            0,
            ServerFrame::UserUpdate(UserUpdate {
                ts: Timestamp(T + 2_000),
                name: s("Robert"),
                old_name: s("bob"),
                changed: 1,
                flags: 2,
                username: s("rob"),
                realname: s("Robert B."),
                away: s(""),
            }),
        ),
    );
    v.insert(
        "server/whowas-list",
        Srv(
            44,
            ServerFrame::WhowasList(vec![WhowasEntry {
                name: s("bob"),
                username: s("bob"),
                realname: s("Bob B."),
                flags: 0,
                gone: Timestamp(T + 3_000),
            }]),
        ),
    );
    v.insert(
        "server/ignore-list",
        Srv(40, ServerFrame::IgnoreList(vec![s("bob")])),
    );
    v.insert(
        "server/read-marker-list",
        Srv(
            38,
            ServerFrame::ReadMarkerList(vec![
                ReadMarker {
                    conversation: s("bob"),
                    id: MessageId(42),
                },
                ReadMarker {
                    conversation: s("#general"),
                    id: MessageId(7),
                },
            ]),
        ),
    );
    v.insert(
        "server/metadata",
        Srv(
            62,
            ServerFrame::Metadata(Metadata {
                target: s("bob"),
                entries: vec![MetadataEntry {
                    key: s("avatar"),
                    value: s("b.png"),
                }],
            }),
        ),
    );
    v.insert(
        "server/read-marker-at",
        Srv(
            60,
            ServerFrame::ReadMarkerAt(ReadMarkerAt {
                conversation: s("#general"),
                id: MessageId(7),
                ts: Timestamp(T),
            }),
        ),
    );
    v.insert(
        "server/notice-banned",
        Srv(
            0,
            ServerFrame::Notice(Notice {
                kind: NoticeKind::Banned,
                ts: Timestamp(T + 2_000),
                actor: s("root"),
                subject: s("bob"),
                until: T + 3_602_000,
                text: s("spam"),
            }),
        ),
    );
    v.insert(
        "server/notice-catch-up",
        Srv(
            0,
            ServerFrame::Notice(Notice {
                kind: NoticeKind::CatchUp,
                ts: Timestamp(T + 3_000),
                actor: s(""),
                subject: s("bob"),
                until: 42,
                text: s("3 messages dropped"),
            }),
        ),
    );
    v.insert(
        "server/notice-shutdown",
        Srv(
            0,
            ServerFrame::Notice(Notice {
                kind: NoticeKind::Shutdown,
                ts: Timestamp(T + 1_000),
                actor: s("alice"),
                subject: s(""),
                until: T + 11_000,
                text: s("maintenance"),
            }),
        ),
    );

    rooms(&mut v);

    // Bad input.
    v.insert(
        "bad/truncated",
        ReqRejected(rejected(
            20,
            0x00,
            BodyError::Truncated { field: "content" },
        )),
    );
    v.insert(
        "bad/trailing-bytes",
        ReqRejected(rejected(21, 0x0b, BodyError::TrailingBytes { extra: 1 })),
    );
    v.insert(
        "bad/oversized",
        TooLarge {
            len: 8193,
            max: 8192,
        },
    );
    v.insert("bad/too-short", TooShort { len: 3 });
    v.insert(
        "bad/unknown-type",
        ReqRejected(rejected(23, 0x0d, BodyError::UnknownType(0x0d))),
    );
    v.insert(
        "bad/wrong-direction",
        ReqRejected(rejected(24, 0x81, BodyError::WrongDirection(0x81))),
    );
    v.insert(
        "bad/magic",
        ReqRejected(rejected(25, 0x0c, BodyError::BadMagic)),
    );
    v.insert(
        "bad/dst-not-empty",
        ReqRejected(rejected(26, 0x01, BodyError::MustBeEmpty { field: "dst" })),
    );
    v.insert(
        "bad/invalid-utf8",
        ReqRejected(rejected(
            27,
            0x07,
            BodyError::InvalidUtf8 { field: "content" },
        )),
    );
    v.insert(
        "bad/room-mode-bits",
        ReqRejected(rejected(
            52,
            0x29,
            BodyError::InvalidValue {
                field: "mode",
                value: 64,
            },
        )),
    );
    v.insert("bad/incomplete", Incomplete);
    v.insert(
        "bad/unknown-event",
        SrvRejected(rejected(0, 0x92, BodyError::UnknownType(0x92))),
    );
    v
}

/// The vectors of section 12, Rooms.
fn rooms(v: &mut BTreeMap<&'static str, Expect>) {
    use Expect::*;
    let general = || s("#general");
    let room = |id: u32, r: RoomRequest| Req(id, Request::Room(r));
    v.insert(
        "request/join",
        room(
            40,
            RoomRequest::Join(Join {
                src: s(""),
                room: general(),
                password: s(""),
            }),
        ),
    );
    v.insert(
        "request/part",
        room(
            41,
            RoomRequest::Part(Part {
                src: s(""),
                room: general(),
                reason: s("bye"),
            }),
        ),
    );
    v.insert(
        "request/room-send",
        room(
            42,
            RoomRequest::Send(RoomSend {
                src: s("alice"),
                room: general(),
                content: s("hi all"),
                ..Default::default()
            }),
        ),
    );
    v.insert("request/rooms", room(43, RoomRequest::List { src: s("") }));
    v.insert(
        "request/members",
        room(
            44,
            RoomRequest::Members(Members {
                src: s(""),
                room: general(),
            }),
        ),
    );
    v.insert(
        "request/topic",
        room(
            45,
            RoomRequest::Topic(Topic {
                src: s(""),
                room: general(),
                topic: s("Rust chat"),
            }),
        ),
    );
    v.insert(
        "request/room-op",
        room(
            46,
            RoomRequest::Op(RoomOp {
                src: s(""),
                room: general(),
                user: s("bob"),
                operator: true,
            }),
        ),
    );
    v.insert(
        "request/room-kick",
        room(
            47,
            RoomRequest::Kick(RoomKick {
                src: s(""),
                room: general(),
                user: s("carol"),
                reason: s("spam"),
            }),
        ),
    );
    v.insert(
        "request/room-mute",
        room(
            48,
            RoomRequest::Mute(RoomMute {
                src: s(""),
                room: general(),
                user: s("carol"),
                duration_secs: 300,
                reason: s("calm down"),
            }),
        ),
    );
    v.insert(
        "request/room-mode",
        room(
            49,
            RoomRequest::Mode(SetRoomMode {
                src: s(""),
                room: general(),
                mode: RoomMode::new(true, true),
                password: s("s3cret"),
            }),
        ),
    );
    v.insert(
        "request/invite",
        room(
            50,
            RoomRequest::Invite(Invite {
                src: s(""),
                room: general(),
                user: s("dave"),
            }),
        ),
    );
    v.insert(
        "request/room-unmute",
        room(
            51,
            RoomRequest::Unmute(RoomUnmute {
                src: s(""),
                room: general(),
                user: s("carol"),
            }),
        ),
    );
    v.insert(
        "request/room-limit",
        room(
            53,
            RoomRequest::Limit(RoomLimit {
                src: s(""),
                room: general(),
                limit: 10,
            }),
        ),
    );
    v.insert(
        "request/room-voice",
        room(
            54,
            RoomRequest::Voice(RoomVoice {
                src: s(""),
                room: general(),
                user: s("carol"),
                voiced: true,
            }),
        ),
    );
    v.insert(
        "request/room-mask",
        room(
            55,
            RoomRequest::Mask(RoomMask {
                src: s(""),
                room: general(),
                list: MaskList::Ban,
                action: MaskAction::Add,
                mask: s("dave!*@*"),
            }),
        ),
    );
    v.insert(
        "request/room-send-ops",
        room(
            56,
            RoomRequest::SendOps(RoomSend {
                src: s(""),
                room: general(),
                content: s("help"),
                ..Default::default()
            }),
        ),
    );
    v.insert(
        "server/mask-list",
        Srv(
            57,
            ServerFrame::MaskList {
                room: general(),
                list: MaskList::Ban,
                masks: vec![MaskEntry {
                    mask: s("dave!*@*"),
                    set_by: s("alice"),
                    set_at: Timestamp(T + 800),
                }],
            },
        ),
    );
    v.insert(
        "server/room-list",
        Srv(
            43,
            ServerFrame::RoomList(vec![
                RoomInfo {
                    room: general(),
                    topic: s("Rust chat"),
                    members: 3,
                    mode: RoomMode::NEW,
                    role: RoomRole::Owner,
                    limit: 0,
                    created: Timestamp(T),
                    topic_by: s("alice"),
                    topic_ts: Timestamp(T + 600),
                    invited: false,
                },
                RoomInfo {
                    room: s("#ops"),
                    topic: s(""),
                    members: 1,
                    mode: RoomMode::new(true, false),
                    role: RoomRole::None,
                    limit: 10,
                    created: Timestamp(T),
                    topic_by: s(""),
                    topic_ts: Timestamp(0),
                    invited: true,
                },
            ]),
        ),
    );
    v.insert(
        "server/member-list",
        Srv(
            44,
            ServerFrame::MemberList {
                room: general(),
                members: vec![
                    MemberInfo {
                        name: s("alice"),
                        role: RoomRole::Owner,
                        online: true,
                        muted: MuteState::NotMuted,
                        voiced: false,
                    },
                    MemberInfo {
                        name: s("carol"),
                        role: RoomRole::Member,
                        online: false,
                        muted: MuteState::Until(Timestamp(T + 300_000)),
                        voiced: true,
                    },
                ],
            },
        ),
    );
    v.insert(
        "server/room-notice",
        Srv(
            0,
            ServerFrame::RoomNotice(RoomNotice {
                kind: NoticeKind::RoomTopic,
                ts: Timestamp(T + 600),
                room: general(),
                actor: s("alice"),
                subject: s(""),
                until: 0,
                text: s("Rust chat"),
            }),
        ),
    );
    v.insert(
        "server/message-room",
        Srv(
            0,
            ServerFrame::Message(Message {
                id: MessageId(44),
                ts: Timestamp(T + 700),
                kind: MessageKind::Room,
                from: s("alice"),
                to: general(),
                text: s("hi all"),
                ..Default::default()
            }),
        ),
    );
}

/// Every vector of the document, by name, as bytes.
fn vectors_in_doc() -> BTreeMap<String, Vec<u8>> {
    let doc = protocol_md();
    let mut vectors = BTreeMap::new();
    let mut lines = doc.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        let Some(rest) = line.trim().strip_prefix("<!-- vector:") else {
            continue;
        };
        let name = rest
            .strip_suffix("-->")
            .unwrap_or_else(|| panic!("line {}: unterminated vector marker", n + 1))
            .trim()
            .to_owned();
        let fence = lines.find(|(_, l)| !l.trim().is_empty());
        assert!(
            matches!(fence, Some((_, l)) if l.trim() == "```hex"),
            "vector {name} (line {}): the marker must be followed by a ```hex block",
            n + 1
        );
        let mut hex = String::new();
        let mut closed = false;
        for (_, l) in lines.by_ref() {
            if l.trim() == "```" {
                closed = true;
                break;
            }
            let code = l.split('#').next().unwrap_or("");
            hex.extend(code.chars().filter(|c| !c.is_whitespace() && *c != '|'));
        }
        assert!(closed, "vector {name}: unterminated ```hex block");
        let bytes = decode_hex(&hex).unwrap_or_else(|e| panic!("vector {name}: {e}"));
        let previous = vectors.insert(name.clone(), bytes);
        assert!(previous.is_none(), "vector {name} appears twice");
    }
    vectors
}

fn decode_hex(hex: &str) -> Result<Vec<u8>, String> {
    if hex.len() % 2 == 1 {
        return Err(format!("odd number of hex digits ({})", hex.len()));
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|e| format!("bad hex at {i}: {e}")))
        .collect()
}

fn server_codec() -> ServerCodec {
    ServerCodec::new(Limits::DEFAULT.max_frame)
}

fn check(name: &str, bytes: &[u8], expect: &Expect) {
    let mut buf = BytesMut::from(bytes);
    match expect {
        Expect::Req(id, request) => {
            let decoded = server_codec().decode(&mut buf);
            let want = Packet::new(RequestId(*id), request.clone());
            match decoded {
                Ok(Some(Ok(packet))) => assert_eq!(packet, want, "{name}: decoded value"),
                other => panic!("{name}: expected {want:?}, decoded {other:?}"),
            }
            assert!(buf.is_empty(), "{name}: {} bytes left over", buf.len());
            let mut out = BytesMut::new();
            ClientCodec::client()
                .encode(&want, &mut out)
                .unwrap_or_else(|e| panic!("{name}: encoding: {e}"));
            assert_eq!(hex(&out), hex(bytes), "{name}: re-encoded bytes");
        }
        Expect::Srv(id, frame) => {
            let decoded = ClientCodec::client().decode(&mut buf);
            let want = Packet::new(RequestId(*id), frame.clone());
            match decoded {
                Ok(Some(Ok(packet))) => assert_eq!(packet, want, "{name}: decoded value"),
                other => panic!("{name}: expected {want:?}, decoded {other:?}"),
            }
            assert!(buf.is_empty(), "{name}: {} bytes left over", buf.len());
            let mut out = BytesMut::new();
            server_codec()
                .encode(&want, &mut out)
                .unwrap_or_else(|e| panic!("{name}: encoding: {e}"));
            assert_eq!(hex(&out), hex(bytes), "{name}: re-encoded bytes");
        }
        Expect::ReqRejected(want) => {
            match server_codec().decode(&mut buf) {
                Ok(Some(Err(rejected))) => assert_eq!(&rejected, want, "{name}"),
                other => panic!("{name}: expected {want:?}, decoded {other:?}"),
            }
            assert!(
                buf.is_empty(),
                "{name}: the bad frame must be consumed whole"
            );
        }
        Expect::SrvRejected(want) => {
            match ClientCodec::client().decode(&mut buf) {
                Ok(Some(Err(rejected))) => assert_eq!(&rejected, want, "{name}"),
                other => panic!("{name}: expected {want:?}, decoded {other:?}"),
            }
            assert!(
                buf.is_empty(),
                "{name}: the bad frame must be consumed whole"
            );
        }
        Expect::TooLarge { len, max } => match server_codec().decode(&mut buf) {
            Err(FrameError::TooLarge { len: l, max: m }) => {
                assert_eq!((l, m), (*len, *max), "{name}");
                assert_eq!(
                    FrameError::TooLarge { len: l, max: m }.code(),
                    ErrorCode::FrameTooLarge
                );
            }
            other => panic!("{name}: expected TooLarge, decoded {other:?}"),
        },
        Expect::TooShort { len } => match server_codec().decode(&mut buf) {
            Err(e @ FrameError::TooShort { len: l }) => {
                assert_eq!(l, *len, "{name}");
                assert_eq!(e.code(), ErrorCode::FrameTooLarge);
            }
            other => panic!("{name}: expected TooShort, decoded {other:?}"),
        },
        Expect::Incomplete => {
            match server_codec().decode(&mut buf) {
                Ok(None) => {}
                other => panic!("{name}: expected to need more bytes, decoded {other:?}"),
            }
            assert_eq!(&buf[..], bytes, "{name}: nothing may be consumed");
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn every_vector_in_the_spec_decodes_and_reencodes_exactly() {
    let doc = vectors_in_doc();
    let expected = expected();

    let missing: Vec<_> = expected
        .keys()
        .filter(|name| !doc.contains_key(**name))
        .collect();
    assert!(
        missing.is_empty(),
        "vectors missing from the spec: {missing:?}"
    );
    let unknown: Vec<_> = doc
        .keys()
        .filter(|name| !expected.contains_key(name.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "vectors in the spec that this test does not check: {unknown:?}"
    );

    for (name, expect) in &expected {
        check(name, &doc[*name], expect);
    }
}

#[test]
fn all_good_vectors_decode_as_one_stream() {
    // The request vectors back to back, as a client would pipeline them.
    let doc = vectors_in_doc();
    let expected = expected();
    let mut stream = BytesMut::new();
    let mut want = Vec::new();
    for (name, expect) in &expected {
        if let Expect::Req(id, request) = expect {
            stream.extend_from_slice(&doc[*name]);
            want.push(Packet::new(RequestId(*id), request.clone()));
        }
    }
    let mut codec = server_codec();
    let mut got = Vec::new();
    while let Some(item) = codec.decode(&mut stream).expect("stream error") {
        got.push(item.expect("rejected frame"));
    }
    assert_eq!(got, want);
    assert!(stream.is_empty());
}

// The tables and lists of the spec that name frame types or error codes.
// Every frame type the crate defines must appear in each list where it
// belongs, so that a frame type added to the code and forgotten in the
// document fails here.

/// The text of `docs/protocol.md`.
fn protocol_md() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/protocol.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// The text under the heading `heading` (a whole line, e.g. `## 4. Request
/// ids`), up to the next heading of any level.
fn section(heading: &str) -> String {
    let doc = protocol_md();
    let (_, after) = doc
        .split_once(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("no heading {heading:?} in the spec"));
    after
        .lines()
        .take_while(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The rows of the first table under the heading `heading`, split into cells.
fn table_rows(heading: &str) -> Vec<Vec<String>> {
    section(heading)
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2) // header and separator
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().trim_matches('`').to_owned())
                .collect()
        })
        .collect()
}

/// Every frame type the crate defines.
fn all_frame_types() -> Vec<FrameType> {
    (0..=u8::MAX).filter_map(FrameType::from_u8).collect()
}

/// The frame type the spec spells `name` (`ROOM_SEND` for `RoomSend`).
fn frame_type_named(name: &str) -> FrameType {
    let unspaced = name.replace('_', "");
    all_frame_types()
        .into_iter()
        .find(|t| t.name().eq_ignore_ascii_case(&unspaced))
        .unwrap_or_else(|| {
            panic!("the spec names {name:?}, a frame type the crate does not define")
        })
}

/// The "answered by / meaning" cell of the frame type table (3.1) for `ty`:
/// what answers a request, or what a server frame is.
fn meaning(ty: FrameType) -> String {
    table_rows("### 3.1 Frame types")
        .into_iter()
        .find(|row| frame_type_named(&row[1]) == ty)
        .unwrap_or_else(|| panic!("{ty:?} is not in the frame type table (3.1)"))
        .swap_remove(3)
}

/// Whether the frame type table (3.1) calls a server frame an event.
fn is_event(ty: FrameType) -> bool {
    let meaning = meaning(ty);
    assert!(
        meaning.starts_with("event") || meaning.starts_with("reply"),
        "{ty:?} is neither a reply nor an event in the frame type table (3.1): {meaning:?}"
    );
    meaning.starts_with("event")
}

/// Fails unless `listed` holds each of `belong` once, and nothing else.
fn assert_lists_exactly(list: &str, listed: &[FrameType], belong: &[FrameType]) {
    let missing: Vec<_> = belong.iter().filter(|t| !listed.contains(t)).collect();
    let stray: Vec<_> = listed.iter().filter(|t| !belong.contains(t)).collect();
    let twice: Vec<_> = listed
        .iter()
        .enumerate()
        .filter(|(i, t)| listed[..*i].contains(t))
        .map(|(_, t)| t)
        .collect();
    assert!(
        missing.is_empty() && stray.is_empty() && twice.is_empty(),
        "{list}: missing {missing:?}, not belonging there {stray:?}, listed twice {twice:?}"
    );
}

#[test]
fn the_error_code_table_matches_the_code() {
    let rows = table_rows("### 8.1 Error codes");
    let mut known = 0;
    for row in &rows {
        let code: u16 = row[0].parse().unwrap_or_else(|_| panic!("bad row {row:?}"));
        let parsed = ErrorCode::from_u16(code);
        assert_eq!(parsed.name(), row[1], "name of code {code}");
        let closes = row[2].starts_with("yes");
        assert_eq!(
            parsed.closes_connection(),
            closes,
            "`closes` column of {}",
            row[1]
        );
        known += 1;
    }
    // Every code the crate knows is in the table.
    let in_crate = (0..=u16::MAX)
        .filter(|c| !matches!(ErrorCode::from_u16(*c), ErrorCode::Other(_)))
        .count();
    assert_eq!(known, in_crate, "the table lists every code, once");
}

#[test]
fn the_frame_type_table_matches_the_code() {
    let rows = table_rows("### 3.1 Frame types");
    let mut listed = Vec::new();
    for row in &rows {
        let number = u8::from_str_radix(row[0].trim_start_matches("0x"), 16)
            .unwrap_or_else(|_| panic!("bad row {row:?}"));
        let ty = FrameType::from_u8(number).unwrap_or_else(|| panic!("0x{number:02x} unknown"));
        assert_eq!(frame_type_named(&row[1]), ty, "name of 0x{number:02x}");
        let direction = if ty.is_request() {
            "client -> server"
        } else {
            "server -> client"
        };
        assert_eq!(row[2], direction, "direction of {}", row[1]);
        listed.push(ty);
    }
    assert_lists_exactly("the frame type table (3.1)", &listed, &all_frame_types());
}

#[test]
fn the_spec_has_a_vector_for_every_frame_type() {
    let with_vector: Vec<FrameType> = expected()
        .values()
        .filter_map(|expect| match expect {
            Expect::Req(_, r) => Some(r.frame_type()),
            Expect::Srv(_, f) => Some(f.frame_type()),
            _ => None,
        })
        .collect();
    let missing: Vec<_> = all_frame_types()
        .into_iter()
        .filter(|t| !with_vector.contains(t))
        .collect();
    assert!(
        missing.is_empty(),
        "frame types without a vector in the spec: {missing:?}"
    );
}

/// The frame names in the parentheses of the bullet of section 4 that
/// starts with `start`: `(WELCOME, OK, ... or MEMBER_LIST)`.
fn request_ids_list(start: &str) -> Vec<FrameType> {
    let section = section("## 4. Request ids");
    let bullet = section
        .split("\n- ")
        .find(|b| b.trim_start_matches("- ").starts_with(start))
        .unwrap_or_else(|| panic!("no bullet starting {start:?} in section 4"));
    let (_, list) = bullet
        .split_once('(')
        .unwrap_or_else(|| panic!("no list in the bullet {start:?}"));
    let (list, _) = list.split_once(')').expect("unclosed list");
    list.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|word| !word.is_empty() && *word != "or")
        .map(frame_type_named)
        .collect()
}

#[test]
fn section_4_lists_every_reply_and_every_event() {
    let server_frames: Vec<_> = all_frame_types()
        .into_iter()
        .filter(|t| !t.is_request())
        .collect();
    let (events, replies): (Vec<_>, Vec<_>) = server_frames.into_iter().partition(|t| is_event(*t));
    assert_lists_exactly(
        "section 4's list of replies",
        &request_ids_list("The server answers **every** request"),
        &replies,
    );
    assert_lists_exactly(
        "section 4's list of events",
        &request_ids_list("Events"),
        &events,
    );
}

/// Checks a table of requests in the spec: its first column lists exactly
/// the request types `belongs` picks, and its success reply (column
/// `reply_column`) is the one the frame type table (3.1) gives.
fn check_request_table(heading: &str, reply_column: usize, belongs: fn(FrameType) -> bool) {
    let rows = table_rows(heading);
    let listed: Vec<_> = rows.iter().map(|row| frame_type_named(&row[0])).collect();
    let belong: Vec<_> = all_frame_types()
        .into_iter()
        .filter(|t| belongs(*t))
        .collect();
    assert_lists_exactly(heading, &listed, &belong);
    for (row, ty) in rows.iter().zip(listed) {
        assert_eq!(
            row[reply_column].split_whitespace().next(),
            meaning(ty).split_whitespace().next(),
            "success reply of {} under {heading:?} and in the frame type table (3.1)",
            row[0]
        );
    }
}

#[test]
fn the_precondition_table_lists_every_request() {
    check_request_table("### 6.2 Preconditions", 4, FrameType::is_request);
}

#[test]
fn the_room_request_table_lists_every_room_request() {
    check_request_table("### 12.3 Requests", 2, FrameType::is_room_request);
}

#[test]
fn the_reserved_ranges_assign_exactly_the_defined_types() {
    // The ranges of 10.2 follow each other from 0x00 to 0xFF; those marked
    // "(assigned" hold every defined frame type and nothing else.
    let mut next = 0;
    let mut assigned = Vec::new();
    for row in table_rows("### 10.2 Reserved frame type ranges") {
        let range = row[0].replace('`', "");
        let bound = |hex: &str| {
            u8::from_str_radix(hex.trim_start_matches("0x"), 16)
                .unwrap_or_else(|_| panic!("bad range {range:?}"))
        };
        let (low, high) = range
            .split_once('-')
            .map(|(low, high)| (bound(low), bound(high)))
            .unwrap_or_else(|| panic!("bad range {range:?}"));
        assert_eq!(
            u16::from(low),
            next,
            "range {range} must follow the one before"
        );
        next = u16::from(high) + 1;
        if row[1].contains("(assigned") {
            assigned.extend(low..=high);
        }
    }
    assert_eq!(next, 0x100, "the ranges must end at 0xFF");
    let unknown: Vec<_> = assigned
        .iter()
        .filter(|n| FrameType::from_u8(**n).is_none())
        .map(|n| format!("0x{n:02X}"))
        .collect();
    assert!(
        unknown.is_empty(),
        "assigned in 10.2 but not defined: {unknown:?}"
    );
    let defined: Vec<_> = assigned
        .into_iter()
        .filter_map(FrameType::from_u8)
        .collect();
    assert_lists_exactly("the assigned ranges (10.2)", &defined, &all_frame_types());
}

/// A cell of the name table: `\u{...}` escapes replaced by their
/// characters.
fn unescape(cell: &str) -> String {
    let mut out = String::new();
    let mut rest = cell;
    while let Some(at) = rest.find("\\u{") {
        out.push_str(&rest[..at]);
        let (hex, after) = rest[at + 3..]
            .split_once('}')
            .unwrap_or_else(|| panic!("unclosed escape in {cell:?}"));
        let code = u32::from_str_radix(hex, 16).unwrap_or_else(|_| panic!("bad escape {hex}"));
        out.push(char::from_u32(code).unwrap_or_else(|| panic!("no character U+{hex}")));
        rest = after;
    }
    out.push_str(rest);
    out
}

/// How the name table words a result.
fn name_result(parsed: &Result<UserName, NameError>) -> String {
    match parsed {
        Ok(_) => "ok".to_owned(),
        Err(NameError::Empty) => "refused: empty".to_owned(),
        Err(NameError::TooLong { .. }) => "refused: too long".to_owned(),
        Err(NameError::BadStart) => "refused: bad start".to_owned(),
        Err(NameError::BadChar(c)) => format!("refused: bad char U+{:04X}", u32::from(*c)),
        Err(NameError::Unassigned(c)) => format!("refused: unassigned U+{:04X}", u32::from(*c)),
        Err(NameError::Bidi) => "refused: bidi".to_owned(),
    }
}

#[test]
fn the_name_vectors_match_the_name_rules() {
    let rows = table_rows("### Names");
    assert!(rows.len() >= 20, "the name table has {} rows", rows.len());
    for row in &rows {
        let [input, result, spelling, key, skeleton] = &row[..] else {
            panic!("a name row has five cells: {row:?}");
        };
        let input = unescape(input);
        let parsed = UserName::parse(&input);
        assert_eq!(&name_result(&parsed), result, "result for {input:?}");
        match parsed {
            Ok(name) => {
                assert_eq!(name.as_str(), unescape(spelling), "spelling of {input:?}");
                assert_eq!(name.key().as_str(), unescape(key), "key of {input:?}");
                assert_eq!(
                    name.key().skeleton(),
                    unescape(skeleton),
                    "skeleton of {input:?}"
                );
                assert_eq!(NameKey::fold(&input), Some(name.key()), "fold of {input:?}");
            }
            Err(_) => assert!(
                spelling.is_empty() && key.is_empty() && skeleton.is_empty(),
                "a refused name has no spelling, key or skeleton: {row:?}"
            ),
        }
    }
}
