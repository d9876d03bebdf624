//! Property tests of the codec: every value survives encode + decode, a
//! stream of frames decodes the same however it is split, and no input,
//! however hostile, makes the decoder panic.

use bytes::BytesMut;
use chinwag_proto::request::{
    Admin, Bantalk, Broadcast, GetAllUser, Hello, Kickout, Logout, Profile, Redact, Reflect,
    Register, SendOptions, Shutdown, ShutdownScope, Target, Transfer, Unmute,
};
use chinwag_proto::room::{
    Invite, Join, MaskAction, MaskEntry, MaskList, MemberInfo, Members, Part, RoomInfo, RoomKick,
    RoomLimit, RoomMask, RoomMode, RoomMute, RoomNotice, RoomOp, RoomSend, RoomUnmute, RoomVoice,
    SetRoomMode, Topic,
};
use chinwag_proto::server::{
    DeliveryStatus, Message, MuteState, Notice, Redacted, Registered, Role, Sent, UserInfo, Welcome,
};
use chinwag_proto::{
    ByteString, ClientCodec, Codec, ErrorCode, MessageId, MessageKind, NoticeKind, Packet, Request,
    RequestId, RoomRequest, RoomRole, ServerCodec, ServerFrame, Timestamp,
};
use proptest::collection::vec;
use proptest::prelude::*;
use tokio_util::codec::{Decoder, Encoder};

/// Big enough for any frame the strategies below make.
const MAX_FRAME: u32 = 64 * 1024;

// ---------------------------------------------------------------- strategies

/// Any string, including empty ones, control characters and non-ASCII text.
fn text() -> impl Strategy<Value = ByteString> {
    prop_oneof![
        Just(String::new()),
        "[a-zA-Z][a-zA-Z0-9_-]{0,31}",
        any::<String>(),
        "\\PC{0,40}",
    ]
    .prop_map(ByteString::from)
}

fn ts() -> impl Strategy<Value = Timestamp> {
    any::<u64>().prop_map(Timestamp)
}

fn request_id() -> impl Strategy<Value = RequestId> {
    any::<u32>().prop_map(RequestId)
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        (any::<u16>(), text()).prop_map(|(version, client)| Request::Hello(Hello {
            version,
            client,
            server_password: Default::default(),
        })),
        (
            text(),
            text(),
            any::<u16>(),
            text(),
            any::<bool>(),
            any::<bool>()
        )
            .prop_map(|(name, ip, port, password, take_offline, multi_session)| {
                Request::Register(Register {
                    name,
                    ip,
                    port,
                    password,
                    take_offline,
                    multi_session,
                })
            }),
        (text(), text()).prop_map(|(src, content)| Request::Reflect(Reflect { src, content })),
        (text(), text(), text()).prop_map(|(src, dst, content)| Request::Transfer(Transfer {
            src,
            dst,
            content,
            ..Default::default()
        })),
        (text(), text()).prop_map(|(src, content)| Request::Broadcast(Broadcast {
            src,
            content,
            ..Default::default()
        })),
        text().prop_map(|src| Request::GetAllUser(GetAllUser { src })),
        text().prop_map(|src| Request::Logout(Logout {
            src,
            ..Default::default()
        })),
        (text(), text()).prop_map(|(src, password)| Request::Admin(Admin { src, password })),
        (text(), text(), text()).prop_map(|(src, dst, reason)| Request::Kickout(Kickout {
            src,
            dst,
            reason
        })),
        (text(), text(), any::<u32>(), text()).prop_map(|(src, dst, duration_secs, reason)| {
            Request::Bantalk(Bantalk {
                src,
                dst,
                duration_secs,
                reason,
            })
        }),
        (text(), text()).prop_map(|(src, dst)| Request::Unmute(Unmute { src, dst })),
        (
            text(),
            prop_oneof![Just(ShutdownScope::Node), Just(ShutdownScope::Cluster)],
            text()
        )
            .prop_map(|(src, scope, reason)| Request::Shutdown(Shutdown {
                src,
                scope,
                reason
            })),
        Just(Request::Ping),
        (text(), text(), text(), text()).prop_map(|(src, username, realname, away)| {
            Request::Profile(Profile {
                src,
                username,
                realname,
                away,
            })
        }),
        (text(), text()).prop_map(|(src, dst)| Request::Nick(Target { src, dst })),
        (text(), text()).prop_map(|(src, dst)| Request::Whois(Target { src, dst })),
        (text(), 0u8..=6, 0u8..=6).prop_map(|(src, set, clear)| {
            let set = set & chinwag_proto::server::user_flags::SETTABLE;
            Request::UserMode(chinwag_proto::request::UserMode {
                src,
                set,
                clear: clear & chinwag_proto::server::user_flags::SETTABLE & !set,
            })
        }),
        (text(), text(), any::<u16>()).prop_map(|(src, dst, limit)| {
            Request::Whowas(chinwag_proto::request::Whowas { src, dst, limit })
        }),
        room_request().prop_map(Request::Room),
    ]
}

fn room_mode() -> impl Strategy<Value = RoomMode> {
    (0u8..=63).prop_map(|bits| RoomMode::from_bits(bits).expect("bits 0-63 are valid"))
}

fn room_role() -> impl Strategy<Value = RoomRole> {
    (0u8..=3).prop_map(|role| RoomRole::from_u8(role).expect("roles 0-3 are valid"))
}

fn room_request() -> impl Strategy<Value = RoomRequest> {
    prop_oneof![
        (text(), text(), text()).prop_map(|(src, room, password)| RoomRequest::Join(Join {
            src,
            room,
            password
        })),
        (text(), text(), text()).prop_map(|(src, room, reason)| RoomRequest::Part(Part {
            src,
            room,
            reason
        })),
        (text(), text(), text()).prop_map(|(src, room, content)| RoomRequest::Send(RoomSend {
            src,
            room,
            content,
            ..Default::default()
        })),
        text().prop_map(|src| RoomRequest::List { src }),
        (text(), text()).prop_map(|(src, room)| RoomRequest::Members(Members { src, room })),
        (text(), text(), text()).prop_map(|(src, room, topic)| RoomRequest::Topic(Topic {
            src,
            room,
            topic
        })),
        (text(), text(), text(), any::<bool>()).prop_map(|(src, room, user, operator)| {
            RoomRequest::Op(RoomOp {
                src,
                room,
                user,
                operator,
            })
        }),
        (text(), text(), text(), text()).prop_map(|(src, room, user, reason)| {
            RoomRequest::Kick(RoomKick {
                src,
                room,
                user,
                reason,
            })
        }),
        (text(), text(), text(), any::<u32>(), text()).prop_map(
            |(src, room, user, duration_secs, reason)| RoomRequest::Mute(RoomMute {
                src,
                room,
                user,
                duration_secs,
                reason,
            })
        ),
        (text(), text(), room_mode(), text()).prop_map(|(src, room, mode, password)| {
            RoomRequest::Mode(SetRoomMode {
                src,
                room,
                mode,
                password,
            })
        }),
        (text(), text(), text()).prop_map(|(src, room, user)| RoomRequest::Invite(Invite {
            src,
            room,
            user
        })),
        (text(), text(), text()).prop_map(|(src, room, user)| RoomRequest::Unmute(RoomUnmute {
            src,
            room,
            user
        })),
        (text(), text(), any::<u32>())
            .prop_map(|(src, room, limit)| RoomRequest::Limit(RoomLimit { src, room, limit })),
        (text(), text(), text(), any::<bool>()).prop_map(|(src, room, user, voiced)| {
            RoomRequest::Voice(RoomVoice {
                src,
                room,
                user,
                voiced,
            })
        }),
        (text(), text(), mask_list(), 0u8..=2, text()).prop_map(
            |(src, room, list, action, mask)| RoomRequest::Mask(RoomMask {
                src,
                room,
                list,
                action: match action {
                    0 => MaskAction::List,
                    1 => MaskAction::Add,
                    _ => MaskAction::Remove,
                },
                mask,
            })
        ),
        (text(), text(), text()).prop_map(|(src, room, content)| RoomRequest::SendOps(RoomSend {
            src,
            room,
            content,
            ..Default::default()
        })),
    ]
}

fn mask_list() -> impl Strategy<Value = MaskList> {
    (0u8..=4).prop_map(|list| MaskList::from_u8(list).expect("lists 0-4 are valid"))
}

fn room_frame() -> impl Strategy<Value = ServerFrame> {
    prop_oneof![
        vec(
            (
                (text(), text(), any::<u32>(), room_mode(), room_role()),
                (any::<u32>(), ts(), text(), ts(), any::<bool>())
            )
                .prop_map(
                    |(
                        (room, topic, members, mode, role),
                        (limit, created, topic_by, topic_ts, invited),
                    )| {
                        RoomInfo {
                            room,
                            topic,
                            members,
                            mode,
                            role,
                            limit,
                            created,
                            topic_by,
                            topic_ts,
                            invited,
                        }
                    }
                ),
            0..5
        )
        .prop_map(ServerFrame::RoomList),
        (
            text(),
            vec(
                (
                    text(),
                    room_role(),
                    any::<bool>(),
                    mute_state(),
                    any::<bool>()
                )
                    .prop_map(|(name, role, online, muted, voiced)| MemberInfo {
                        name,
                        role,
                        online,
                        muted,
                        voiced,
                    }),
                0..5
            )
        )
            .prop_map(|(room, members)| ServerFrame::MemberList { room, members }),
        (
            text(),
            mask_list(),
            vec(
                (text(), text(), ts()).prop_map(|(mask, set_by, set_at)| MaskEntry {
                    mask,
                    set_by,
                    set_at
                }),
                0..5
            )
        )
            .prop_map(|(room, list, masks)| ServerFrame::MaskList { room, list, masks }),
        (
            any::<u8>().prop_map(NoticeKind::from_u8),
            ts(),
            text(),
            text(),
            text(),
            any::<u64>(),
            text()
        )
            .prop_map(|(kind, ts, room, actor, subject, until, text)| {
                ServerFrame::RoomNotice(RoomNotice {
                    kind,
                    ts,
                    room,
                    actor,
                    subject,
                    until,
                    text,
                })
            }),
    ]
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::User), Just(Role::Admin)]
}

/// Built through `from_wire`, so the value is the one the wire gives back
/// (`Until(0)` and `Until(u64::MAX)` have no encoding of their own).
fn mute_state() -> impl Strategy<Value = MuteState> {
    prop_oneof![
        Just(MuteState::NotMuted),
        Just(MuteState::UntilLifted),
        any::<u64>().prop_map(MuteState::from_wire),
    ]
}

/// Known codes and unknown ones; built through `from_u16` so that a known
/// number is never represented as `Other`.
fn error_code() -> impl Strategy<Value = ErrorCode> {
    const KNOWN: &[u16] = &[
        100, 101, 102, 103, 104, 105, 106, 107, 200, 201, 202, 203, 204, 205, 206, 207, 300, 301,
        302, 303, 304, 305, 306, 307, 308, 309, 400, 401, 402, 403, 404, 500, 501, 502, 209, 210,
        211, 212,
    ];
    prop_oneof![
        proptest::sample::select(KNOWN).prop_map(ErrorCode::from_u16),
        any::<u16>().prop_map(ErrorCode::from_u16),
    ]
}

fn user_info() -> impl Strategy<Value = UserInfo> {
    (
        (text(), role(), mute_state(), text(), text(), ts()),
        (text(), text(), text(), any::<u16>(), ts(), any::<u8>()),
    )
        .prop_map(
            |(
                (name, role, muted, addr, advertised, connected_at),
                (username, realname, away, sessions, last_spoke, flags),
            )| {
                UserInfo {
                    name,
                    role,
                    muted,
                    addr,
                    advertised,
                    connected_at,
                    username,
                    realname,
                    away,
                    sessions,
                    last_spoke,
                    flags,
                }
            },
        )
}

fn server_frame() -> impl Strategy<Value = ServerFrame> {
    prop_oneof![
        (
            any::<u16>(),
            text(),
            any::<u32>(),
            any::<u16>(),
            any::<u32>(),
            any::<u16>()
        )
            .prop_map(
                |(version, server, max_frame, max_name, max_content, heartbeat_secs)| {
                    ServerFrame::Welcome(Welcome {
                        version,
                        server,
                        max_frame,
                        max_name,
                        max_content,
                        heartbeat_secs,
                    })
                }
            ),
        text().prop_map(|message| ServerFrame::Ok { message }),
        (error_code(), text()).prop_map(|(code, message)| ServerFrame::Error { code, message }),
        (text(), role(), mute_state(), ts()).prop_map(|(name, role, muted, server_time)| {
            ServerFrame::Registered(Registered {
                name,
                role,
                muted,
                server_time,
            })
        }),
        (
            any::<u64>(),
            ts(),
            prop_oneof![
                Just(DeliveryStatus::Delivered),
                Just(DeliveryStatus::Queued)
            ],
            any::<u32>(),
            text()
        )
            .prop_map(
                |(id, ts, status, recipients, away)| ServerFrame::Sent(Sent {
                    id: MessageId(id),
                    ts,
                    status,
                    recipients,
                    away,
                })
            ),
        vec(user_info(), 0..5).prop_map(ServerFrame::UserList),
        (ts(), text()).prop_map(|(ts, content)| ServerFrame::Echo { ts, content }),
        ts().prop_map(|ts| ServerFrame::Pong { ts }),
        (
            any::<u64>(),
            ts(),
            // The kind is the low six bits; the others are flags.
            (0u8..0x40).prop_map(MessageKind::from_u8),
            text(),
            text(),
            text(),
            any::<bool>(),
            text()
        )
            .prop_map(
                |(id, ts, kind, from, to, text, notice, tags)| ServerFrame::Message(Message {
                    id: MessageId(id),
                    ts,
                    kind,
                    from,
                    to,
                    text,
                    notice,
                    tags,
                })
            ),
        (
            any::<u8>().prop_map(NoticeKind::from_u8),
            ts(),
            text(),
            text(),
            any::<u64>(),
            text()
        )
            .prop_map(|(kind, ts, actor, subject, until, text)| {
                ServerFrame::Notice(Notice {
                    kind,
                    ts,
                    actor,
                    subject,
                    until,
                    text,
                })
            }),
        (
            ts(),
            (text(), text(), any::<u8>(), any::<u8>()),
            (text(), text(), text())
        )
            .prop_map(
                |(ts, (name, old_name, changed, flags), (username, realname, away))| {
                    ServerFrame::UserUpdate(chinwag_proto::server::UserUpdate {
                        ts,
                        name,
                        old_name,
                        changed,
                        flags,
                        username,
                        realname,
                        away,
                    })
                }
            ),
        vec((text(), text(), text(), any::<u8>(), ts()), 0..4).prop_map(|entries| {
            ServerFrame::WhowasList(
                entries
                    .into_iter()
                    .map(|(name, username, realname, flags, gone)| {
                        chinwag_proto::server::WhowasEntry {
                            name,
                            username,
                            realname,
                            flags,
                            gone,
                        }
                    })
                    .collect(),
            )
        }),
        room_frame(),
    ]
}

// ---------------------------------------------------------------- helpers

fn encode_all<In, Out>(packets: &[Packet<Out>]) -> BytesMut
where
    Codec<In, Out>: for<'a> Encoder<&'a Packet<Out>, Error = chinwag_proto::EncodeError>,
{
    let mut codec = Codec::<In, Out>::new(MAX_FRAME);
    let mut buf = BytesMut::new();
    for packet in packets {
        codec.encode(packet, &mut buf).expect("encode");
    }
    buf
}

/// Feeds `bytes` to `codec` in chunks cut at `cuts`, decoding as far as
/// possible after each chunk, and returns every item until the first error.
fn decode_in_chunks<D: Decoder>(
    codec: &mut D,
    bytes: &[u8],
    cuts: &[usize],
) -> (Vec<D::Item>, Option<D::Error>) {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.push(bytes.len());
    cuts.sort_unstable();
    let mut buf = BytesMut::new();
    let mut items = Vec::new();
    let mut start = 0;
    for cut in cuts {
        buf.extend_from_slice(&bytes[start..cut]);
        start = cut;
        loop {
            let before = buf.len();
            match codec.decode(&mut buf) {
                Ok(Some(item)) => {
                    assert!(buf.len() < before, "an item must consume bytes");
                    items.push(item);
                }
                Ok(None) => break,
                Err(e) => return (items, Some(e)),
            }
        }
    }
    (items, None)
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------- properties

proptest! {
    #![proptest_config(config())]

    #[test]
    fn request_encode_then_decode_is_identity(id in request_id(), body in request()) {
        let packet = Packet::new(id, body);
        let mut buf = encode_all::<ServerFrame, Request>(std::slice::from_ref(&packet));
        let len = u32::from_be_bytes(buf[..4].try_into().unwrap()) as usize;
        prop_assert_eq!(len + 4, buf.len(), "length prefix counts the bytes after itself");
        let decoded = ServerCodec::new(MAX_FRAME).decode(&mut buf).unwrap();
        prop_assert_eq!(decoded, Some(Ok(packet)));
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn server_frame_encode_then_decode_is_identity(id in request_id(), body in server_frame()) {
        let packet = Packet::new(id, body);
        let mut buf = encode_all::<Request, ServerFrame>(std::slice::from_ref(&packet));
        let len = u32::from_be_bytes(buf[..4].try_into().unwrap()) as usize;
        prop_assert_eq!(len + 4, buf.len(), "length prefix counts the bytes after itself");
        let decoded = ClientCodec::new(MAX_FRAME).decode(&mut buf).unwrap();
        prop_assert_eq!(decoded, Some(Ok(packet)));
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn a_split_request_stream_decodes_to_the_same_frames(
        packets in vec((request_id(), request()).prop_map(|(i, r)| Packet::new(i, r)), 1..8),
        cuts in vec(any::<usize>(), 0..12),
    ) {
        let bytes = encode_all::<ServerFrame, Request>(&packets);
        let (items, error) = decode_in_chunks(&mut ServerCodec::new(MAX_FRAME), &bytes, &cuts);
        prop_assert!(error.is_none());
        let items: Vec<_> = items.into_iter().map(|i| i.expect("rejected")).collect();
        prop_assert_eq!(items, packets);
    }

    #[test]
    fn a_split_server_stream_decodes_to_the_same_frames(
        packets in vec((request_id(), server_frame()).prop_map(|(i, f)| Packet::new(i, f)), 1..8),
        cuts in vec(any::<usize>(), 0..12),
    ) {
        let bytes = encode_all::<Request, ServerFrame>(&packets);
        let (items, error) = decode_in_chunks(&mut ClientCodec::new(MAX_FRAME), &bytes, &cuts);
        prop_assert!(error.is_none());
        let items: Vec<_> = items.into_iter().map(|i| i.expect("rejected")).collect();
        prop_assert_eq!(items, packets);
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in vec(any::<u8>(), 0..600),
        cuts in vec(any::<usize>(), 0..8),
        max_frame in prop_oneof![Just(8192u32), Just(64u32), Just(chinwag_proto::limits::MAX_SERVER_FRAME)],
    ) {
        decode_in_chunks(&mut ServerCodec::new(max_frame), &bytes, &cuts);
        decode_in_chunks(&mut ClientCodec::new(max_frame), &bytes, &cuts);
    }

    /// Random bodies behind a well-formed header reach every body decoder;
    /// the frame is always consumed whole, decoded or rejected.
    #[test]
    fn arbitrary_bodies_are_decoded_or_rejected_whole(
        frame_type in prop_oneof![0x00u8..=0x0d, 0x20u8..=0x2c, 0x80u8..=0x92, any::<u8>()],
        id in any::<u32>(),
        body in vec(any::<u8>(), 0..200),
    ) {
        let mut frame = BytesMut::new();
        frame.extend_from_slice(&(5 + body.len() as u32).to_be_bytes());
        frame.extend_from_slice(&[frame_type]);
        frame.extend_from_slice(&id.to_be_bytes());
        frame.extend_from_slice(&body);
        for server_side in [true, false] {
            let mut buf = frame.clone();
            let item = if server_side {
                ServerCodec::new(MAX_FRAME).decode(&mut buf).map(|i| i.map(|r| r.map(|_| ())))
            } else {
                ClientCodec::new(MAX_FRAME).decode(&mut buf).map(|i| i.map(|r| r.map(|_| ())))
            };
            match item {
                Ok(Some(Ok(()))) => {}
                Ok(Some(Err(rejected))) => {
                    prop_assert_eq!(rejected.id, RequestId(id));
                    prop_assert_eq!(rejected.frame_type, frame_type);
                }
                other => prop_assert!(false, "unexpected {:?}", other),
            }
            prop_assert!(buf.is_empty());
        }
    }

    /// Valid frames with one byte changed or the length cut short: the
    /// decoder must not panic, and a frame it accepts must re-encode to the
    /// same bytes (there is one encoding per value).
    #[test]
    fn mutated_frames_never_panic_and_accepted_ones_are_canonical(
        req in request(),
        srv in server_frame(),
        at in any::<usize>(),
        xor in 1u8..=255,
        cut in any::<usize>(),
    ) {
        let mut req_bytes = encode_all::<ServerFrame, Request>(&[Packet::new(RequestId(7), req)]);
        let mut srv_bytes = encode_all::<Request, ServerFrame>(&[Packet::new(RequestId(7), srv)]);
        for bytes in [&mut req_bytes, &mut srv_bytes] {
            // Keep the length prefix intact so the body decoders are reached.
            let at = 4 + at % (bytes.len() - 4);
            bytes[at] ^= xor;
        }
        let mut buf = req_bytes.clone();
        if let Ok(Some(Ok(packet))) = ServerCodec::new(MAX_FRAME).decode(&mut buf) {
            let again = encode_all::<ServerFrame, Request>(&[packet]);
            prop_assert_eq!(&again[..], &req_bytes[..]);
        }
        let mut buf = srv_bytes.clone();
        if let Ok(Some(Ok(packet))) = ClientCodec::new(MAX_FRAME).decode(&mut buf) {
            let again = encode_all::<Request, ServerFrame>(&[packet]);
            prop_assert_eq!(&again[..], &srv_bytes[..]);
        }
        // A prefix of a frame is never a frame.
        let cut = cut % req_bytes.len();
        let mut buf = BytesMut::from(&req_bytes[..cut]);
        prop_assert!(matches!(ServerCodec::new(MAX_FRAME).decode(&mut buf), Ok(None)));
        prop_assert_eq!(buf.len(), cut);
    }
}

// ------------------------------------------------------ the JSON form (serde)

/// The JSON form names each value after its frame type and reads back as
/// the same value: the WebSocket front end and the binary protocol cannot
/// drift apart.
#[cfg(feature = "serde")]
mod json {
    use super::*;
    use chinwag_proto::json::{frame_type, type_name};

    fn tag(value: &serde_json::Value) -> &str {
        value["type"].as_str().expect("a type")
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn a_request_reads_back_and_is_named_after_its_frame_type(body in request()) {
            let json = serde_json::to_value(&body).unwrap();
            prop_assert_eq!(tag(&json), type_name(body.frame_type()));
            prop_assert_eq!(frame_type(tag(&json)), Some(body.frame_type()));
            let back: Request = serde_json::from_value(json).unwrap();
            prop_assert_eq!(back, body);
        }

        #[test]
        fn a_server_frame_reads_back_and_is_named_after_its_frame_type(body in server_frame()) {
            let json = serde_json::to_value(&body).unwrap();
            prop_assert_eq!(tag(&json), type_name(body.frame_type()));
            let back: ServerFrame = serde_json::from_value(json).unwrap();
            prop_assert_eq!(back, body);
        }
    }

    /// One of every request: the match has no wildcard, so a new request
    /// does not compile until it is here (and has its JSON form).
    fn every_request() -> Vec<Request> {
        let requests = vec![
            Request::Hello(Hello::current("test")),
            Request::Register(Register::default()),
            Request::Reflect(Default::default()),
            Request::Transfer(Default::default()),
            Request::Broadcast(Default::default()),
            Request::GetAllUser(Default::default()),
            Request::Logout(Default::default()),
            Request::Admin(Default::default()),
            Request::Kickout(Default::default()),
            Request::Bantalk(Default::default()),
            Request::Unmute(Default::default()),
            Request::Shutdown(Default::default()),
            Request::Ping,
            Request::Passwd(Default::default()),
            Request::History(Default::default()),
            Request::Ban(Default::default()),
            Request::Unban(Default::default()),
            Request::Grant(Default::default()),
            Request::Revoke(Default::default()),
            Request::Audit(Default::default()),
            Request::MarkRead(Default::default()),
            Request::MarkReadAt(Default::default()),
            Request::MetadataSet(Default::default()),
            Request::MetadataGet(chinwag_proto::request::MetadataGet {
                src: "".into(),
                target: "#r".into(),
                keys: vec!["a".into(), "b".into()],
            }),
            Request::MetadataSub(chinwag_proto::request::MetadataSub {
                src: "".into(),
                add: vec!["a".into()],
                remove: vec!["b".into()],
            }),
            Request::ReadMarkers(Default::default()),
            Request::Ignore(Default::default()),
            Request::Ignores(Default::default()),
            Request::Profile(Default::default()),
            Request::Nick(Default::default()),
            Request::UserMode(Default::default()),
            Request::Whois(Default::default()),
            Request::Whowas(Default::default()),
            Request::Room(RoomRequest::Join(Default::default())),
            Request::Room(RoomRequest::Part(Default::default())),
            Request::Room(RoomRequest::Send(Default::default())),
            Request::Room(RoomRequest::List { src: "".into() }),
            Request::Room(RoomRequest::Members(Default::default())),
            Request::Room(RoomRequest::Topic(Default::default())),
            Request::Room(RoomRequest::Op(Default::default())),
            Request::Room(RoomRequest::Kick(Default::default())),
            Request::Room(RoomRequest::Mute(Default::default())),
            Request::Room(RoomRequest::Mode(Default::default())),
            Request::Room(RoomRequest::Invite(Default::default())),
            Request::Room(RoomRequest::Unmute(Default::default())),
            Request::Redact(Redact {
                src: "".into(),
                dst: "#r".into(),
                id: 9,
                reason: "spam".into(),
            }),
            Request::Logout(Logout {
                src: "".into(),
                reason: "bye".into(),
            }),
            Request::Transfer(Transfer {
                src: "".into(),
                dst: "bob".into(),
                content: "".into(),
                options: SendOptions {
                    notice: true,
                    tags: "+typing=active".into(),
                },
            }),
            Request::Room(RoomRequest::Send(RoomSend {
                src: "".into(),
                room: "#r".into(),
                content: "hi".into(),
                options: SendOptions {
                    notice: true,
                    tags: String::new().into(),
                },
            })),
            Request::Room(RoomRequest::Limit(Default::default())),
            Request::Room(RoomRequest::Voice(Default::default())),
            Request::Room(RoomRequest::Mask(Default::default())),
            Request::Room(RoomRequest::SendOps(Default::default())),
        ];
        for request in &requests {
            match request {
                Request::Hello(_)
                | Request::Register(_)
                | Request::Reflect(_)
                | Request::Transfer(_)
                | Request::Broadcast(_)
                | Request::GetAllUser(_)
                | Request::Logout(_)
                | Request::Admin(_)
                | Request::Kickout(_)
                | Request::Bantalk(_)
                | Request::Unmute(_)
                | Request::Shutdown(_)
                | Request::Ping
                | Request::Passwd(_)
                | Request::History(_)
                | Request::Ban(_)
                | Request::Unban(_)
                | Request::Grant(_)
                | Request::Revoke(_)
                | Request::Audit(_)
                | Request::MarkRead(_)
                | Request::MarkReadAt(_)
                | Request::MetadataSet(_)
                | Request::MetadataGet(_)
                | Request::MetadataSub(_)
                | Request::ReadMarkers(_)
                | Request::Ignore(_)
                | Request::Ignores(_)
                | Request::Profile(_)
                | Request::Nick(_)
                | Request::UserMode(_)
                | Request::Whois(_)
                | Request::Whowas(_)
                | Request::Redact(_)
                | Request::Room(_) => {}
            }
        }
        requests
    }

    /// One of every server frame, as [`every_request`].
    fn every_frame() -> Vec<ServerFrame> {
        let message = Message {
            id: MessageId(3),
            ts: Timestamp(4),
            kind: MessageKind::Room,
            from: "a".into(),
            to: "#r".into(),
            text: "hi 👋".into(),
            ..Default::default()
        };
        let frames = vec![
            ServerFrame::Welcome(Welcome {
                version: 1,
                server: "s".into(),
                max_frame: 1,
                max_name: 2,
                max_content: 3,
                heartbeat_secs: 4,
            }),
            ServerFrame::ok("fine"),
            ServerFrame::error(ErrorCode::Other(999), "odd"),
            ServerFrame::Registered(Registered {
                name: "a".into(),
                role: Role::Admin,
                muted: MuteState::UntilLifted,
                server_time: Timestamp(5),
            }),
            ServerFrame::Sent(Sent {
                id: MessageId(1),
                ts: Timestamp(2),
                status: DeliveryStatus::Queued,
                recipients: 0,
                ..Default::default()
            }),
            ServerFrame::UserList(vec![]),
            ServerFrame::Echo {
                ts: Timestamp(1),
                content: "e".into(),
            },
            ServerFrame::Pong { ts: Timestamp(1) },
            ServerFrame::Message(message.clone()),
            ServerFrame::Notice(Notice {
                kind: NoticeKind::Other(200),
                ts: Timestamp(1),
                actor: "".into(),
                subject: "".into(),
                until: 0,
                text: "".into(),
            }),
            ServerFrame::HistoryPage(vec![message.clone()]),
            ServerFrame::AuditPage(vec![chinwag_proto::server::AuditEntry {
                id: 1,
                ts: Timestamp(2),
                actor: "root".into(),
                action: "mute".into(),
                target: "bob".into(),
                until: u64::MAX,
                reason: "".into(),
            }]),
            ServerFrame::RoomList(vec![RoomInfo {
                room: "#r".into(),
                topic: "t".into(),
                members: 2,
                mode: RoomMode::new(true, false),
                role: RoomRole::Owner,
                limit: 5,
                created: Timestamp(1),
                topic_by: "a".into(),
                topic_ts: Timestamp(2),
                invited: true,
            }]),
            ServerFrame::MemberList {
                room: "#r".into(),
                members: vec![MemberInfo {
                    name: "a".into(),
                    role: RoomRole::Member,
                    online: true,
                    muted: MuteState::Until(Timestamp(9)),
                    voiced: true,
                }],
            },
            ServerFrame::MaskList {
                room: "#r".into(),
                list: MaskList::Mute,
                masks: vec![MaskEntry {
                    mask: "b!*@*".into(),
                    set_by: "a".into(),
                    set_at: Timestamp(3),
                }],
            },
            ServerFrame::RoomNotice(RoomNotice {
                kind: NoticeKind::RoomTopic,
                ts: Timestamp(1),
                room: "#r".into(),
                actor: "a".into(),
                subject: "".into(),
                until: 0,
                text: "new".into(),
            }),
            ServerFrame::ReadMarkerList(vec![chinwag_proto::server::ReadMarker {
                conversation: "#r".into(),
                id: MessageId(7),
            }]),
            ServerFrame::IgnoreList(vec!["mallory".into()]),
            ServerFrame::Redacted(Redacted {
                id: MessageId(3),
                ts: Timestamp(5),
                kind: MessageKind::Room,
                actor: "op".into(),
                from: "a".into(),
                to: "#r".into(),
                reason: "".into(),
            }),
            ServerFrame::Message(Message {
                notice: true,
                tags: "+draft/react=👍".into(),
                text: "".into(),
                ..message.clone()
            }),
            ServerFrame::HistoryPage(vec![Message {
                notice: true,
                tags: "+a;+b=c".into(),
                ..message.clone()
            }]),
            ServerFrame::Sent(Sent {
                id: MessageId(3),
                ts: Timestamp(4),
                status: DeliveryStatus::Delivered,
                recipients: 1,
                away: "lunch".into(),
            }),
            ServerFrame::ReadMarkerAt(chinwag_proto::server::ReadMarkerAt {
                conversation: "#r".into(),
                id: MessageId(7),
                ts: chinwag_proto::Timestamp(9),
            }),
            ServerFrame::Metadata(chinwag_proto::server::Metadata {
                target: "bob".into(),
                entries: vec![chinwag_proto::server::MetadataEntry {
                    key: "avatar".into(),
                    value: "".into(),
                }],
            }),
            ServerFrame::UserUpdate(chinwag_proto::server::UserUpdate {
                ts: Timestamp(1),
                name: "b".into(),
                old_name: "a".into(),
                changed: 1,
                flags: 0,
                username: "".into(),
                realname: "".into(),
                away: "".into(),
            }),
            ServerFrame::WhowasList(vec![chinwag_proto::server::WhowasEntry {
                name: "a".into(),
                username: "u".into(),
                realname: "r".into(),
                flags: 1,
                gone: Timestamp(2),
            }]),
        ];
        for frame in &frames {
            match frame {
                ServerFrame::Welcome(_)
                | ServerFrame::Ok { .. }
                | ServerFrame::Error { .. }
                | ServerFrame::Registered(_)
                | ServerFrame::Sent(_)
                | ServerFrame::UserList(_)
                | ServerFrame::Echo { .. }
                | ServerFrame::Pong { .. }
                | ServerFrame::Message(_)
                | ServerFrame::Notice(_)
                | ServerFrame::HistoryPage(_)
                | ServerFrame::AuditPage(_)
                | ServerFrame::RoomList(_)
                | ServerFrame::MemberList { .. }
                | ServerFrame::RoomNotice(_)
                | ServerFrame::ReadMarkerList(_)
                | ServerFrame::IgnoreList(_)
                | ServerFrame::Redacted(_)
                | ServerFrame::ReadMarkerAt(_)
                | ServerFrame::Metadata(_)
                | ServerFrame::UserUpdate(_)
                | ServerFrame::WhowasList(_)
                | ServerFrame::MaskList { .. } => {}
            }
        }
        frames
    }

    #[test]
    fn every_request_and_frame_reads_back_and_is_named_after_its_frame_type() {
        for request in every_request() {
            let json = serde_json::to_value(&request).unwrap();
            assert_eq!(tag(&json), type_name(request.frame_type()), "{json}");
            assert_eq!(frame_type(tag(&json)), Some(request.frame_type()));
            let back: Request = serde_json::from_value(json).unwrap();
            assert_eq!(back, request);
        }
        for frame in every_frame() {
            let json = serde_json::to_value(&frame).unwrap();
            assert_eq!(tag(&json), type_name(frame.frame_type()), "{json}");
            let back: ServerFrame = serde_json::from_value(json).unwrap();
            assert_eq!(back, frame);
        }
    }

    #[test]
    fn left_out_fields_take_their_defaults() {
        let read = |text: &str| serde_json::from_str::<Request>(text).unwrap();
        let register = read(r#"{"type":"register","body":{"name":"alice"}}"#);
        let Request::Register(register) = register else {
            panic!("{register:?}")
        };
        assert!(register.take_offline && !register.multi_session);
        assert_eq!((&*register.name, &*register.password), ("alice", ""));
        let ping = read(r#"{"type":"ping"}"#);
        assert_eq!(ping, Request::Ping);
        let rooms = read(r#"{"type":"rooms","body":{}}"#);
        assert_eq!(rooms, Request::Room(RoomRequest::List { src: "".into() }));
    }

    #[test]
    fn kinds_go_by_name_and_unknown_ones_by_number() {
        let notice = Notice {
            kind: NoticeKind::Muted,
            ts: Timestamp(1),
            actor: "root".into(),
            subject: "bob".into(),
            until: u64::MAX,
            text: "calm down".into(),
        };
        let json = serde_json::to_value(ServerFrame::Notice(notice)).unwrap();
        assert_eq!(json["body"]["kind"], "muted");
        assert_eq!(
            serde_json::to_value(MessageKind::Other(9)).unwrap(),
            serde_json::json!(9)
        );
        assert_eq!(
            serde_json::from_str::<MessageKind>("\"room\"").unwrap(),
            MessageKind::Room
        );
        assert!(serde_json::from_str::<NoticeKind>("\"nonsense\"").is_err());
        assert!(
            serde_json::from_str::<RoomMode>("64").is_err(),
            "unknown mode bits"
        );
        assert_eq!(
            serde_json::to_value(ServerFrame::error(ErrorCode::Muted, "no")).unwrap(),
            serde_json::json!({"type": "error", "body": {"code": 302, "message": "no"}})
        );
    }
}
