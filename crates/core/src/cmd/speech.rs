//! What a request would put in front of other users: the one rule by which
//! a mute applies, to every text-carrying field of every request.
//!
//! A user muted server-wide may put no text in front of anyone: no message,
//! no reason given when kicking, muting, banning, leaving a room or shutting
//! down, no topic, no new room (its name is text others see). A user muted
//! in a room may put no text in front of that room's members. The router
//! checks this before any handler runs ([`super::dispatch`]).
//!
//! [`speech`] matches every request kind without a wildcard, so a request
//! added to the protocol does not compile until it says what it shows; the
//! table test below fails until it is listed there too.

use chinwag_proto::{Request, RoomRequest};

/// The text a request shows others, and to whom.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Speech<'a> {
    /// Nothing that others read (or only the sender sees it).
    Silent,
    /// `text` reaches other users beyond any one room (a direct message, a
    /// broadcast, a moderation reason).
    Anywhere(&'a str),
    /// `text` reaches the members of `room`.
    InRoom { room: &'a str, text: &'a str },
    /// Creates `room` if it does not exist: its name is text everyone who
    /// lists the rooms reads.
    NewRoom(&'a str),
}

impl Speech<'_> {
    /// An empty text says nothing: clearing a topic, leaving without a
    /// reason.
    fn said(self) -> Self {
        match self {
            Speech::Anywhere("") | Speech::InRoom { text: "", .. } => Speech::Silent,
            other => other,
        }
    }
}

/// What `req` would show others.
pub fn speech(req: &Request) -> Speech<'_> {
    let speech = match req {
        Request::Hello(_)
        | Request::Register(_)
        | Request::Ping
        | Request::Logout(_)
        | Request::GetAllUser(_)
        | Request::Admin(_)
        | Request::Passwd(_)
        | Request::History(_)
        | Request::Unmute(_)
        | Request::Unban(_)
        | Request::Grant(_)
        | Request::Revoke(_)
        | Request::Audit(_)
        | Request::MarkRead(_)
        | Request::MarkReadAt(_)
        | Request::MetadataGet(_)
        | Request::MetadataSub(_)
        | Request::ReadMarkers(_)
        | Request::Ignore(_)
        | Request::Ignores(_)
        | Request::UserMode(_)
        | Request::Whois(_)
        | Request::Whowas(_) => Speech::Silent,
        // A new name is text everyone who lists the users reads.
        Request::Nick(r) => Speech::Anywhere(&r.dst),
        // A reason for leaving is dropped, not refused, when the user is
        // muted (cmd::logout): leaving is always allowed.
        // A value is shown to whoever reads the metadata; unsetting shows
        // nothing.
        Request::MetadataSet(r) if r.value.is_empty() => Speech::Silent,
        Request::MetadataSet(r) => Speech::Anywhere(&r.value),
        // Only the sender reads its ECHO.
        Request::Reflect(_) => Speech::Silent,
        Request::Transfer(r) => Speech::Anywhere(sent(&r.content, &r.options)),
        Request::Broadcast(r) => Speech::Anywhere(sent(&r.content, &r.options)),
        Request::Kickout(r) => Speech::Anywhere(&r.reason),
        Request::Bantalk(r) => Speech::Anywhere(&r.reason),
        Request::Shutdown(r) => Speech::Anywhere(&r.reason),
        Request::Ban(r) => Speech::Anywhere(&r.reason),
        Request::Redact(r) => Speech::Anywhere(&r.reason),
        // Every field is shown to whoever lists the users.
        Request::Profile(r) => Speech::Anywhere(
            [&r.username, &r.realname, &r.away]
                .into_iter()
                .find(|text| !text.is_empty())
                .map_or("", |text| text),
        ),
        Request::Room(r) => room_speech(r),
    };
    speech.said()
}

/// What a message shows: its text, or its client tags when it has no text
/// (a reaction's value is text others read too).
fn sent<'a>(content: &'a str, options: &'a chinwag_proto::request::SendOptions) -> &'a str {
    if content.is_empty() {
        &options.tags
    } else {
        content
    }
}

fn room_speech(req: &RoomRequest) -> Speech<'_> {
    match req {
        RoomRequest::Join(r) => Speech::NewRoom(&r.room),
        RoomRequest::Part(r) => Speech::InRoom {
            room: &r.room,
            text: &r.reason,
        },
        RoomRequest::Send(r) | RoomRequest::SendOps(r) => Speech::InRoom {
            room: &r.room,
            text: sent(&r.content, &r.options),
        },
        RoomRequest::Topic(r) => Speech::InRoom {
            room: &r.room,
            text: &r.topic,
        },
        RoomRequest::Kick(r) => Speech::InRoom {
            room: &r.room,
            text: &r.reason,
        },
        RoomRequest::Mute(r) => Speech::InRoom {
            room: &r.room,
            text: &r.reason,
        },
        // A room's password is not shown to anyone; an invitation and a
        // role carry no text.
        RoomRequest::List { .. }
        | RoomRequest::Members(_)
        | RoomRequest::Op(_)
        | RoomRequest::Mode(_)
        | RoomRequest::Invite(_)
        | RoomRequest::Unmute(_)
        | RoomRequest::Limit(_)
        | RoomRequest::Voice(_) => Speech::Silent,
        // A mask is shown to the members, but says nothing of its own:
        // a list entry, like a role.
        RoomRequest::Mask(_) => Speech::Silent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chinwag_proto::FrameType;
    use chinwag_proto::request::*;
    use chinwag_proto::room::*;

    /// One request of each kind, every text field filled with "t" and every
    /// room "#r". A request kind added to the protocol has no sample here
    /// until someone writes one, and the test below then fails.
    fn sample(kind: FrameType) -> Option<Request> {
        let t = || "t".into();
        let src = || "".into();
        let room = || "#r".into();
        Some(match kind {
            FrameType::Hello => Request::Hello(Hello::current("t")),
            FrameType::Register => Request::Register(Register {
                name: t(),
                ip: "".into(),
                port: 0,
                password: t(),
                take_offline: true,
                multi_session: false,
            }),
            FrameType::Reflect => Request::Reflect(Reflect {
                src: src(),
                content: t(),
            }),
            FrameType::Transfer => Request::Transfer(Transfer {
                src: src(),
                dst: t(),
                content: t(),
                options: SendOptions::default(),
            }),
            FrameType::Broadcast => Request::Broadcast(Broadcast {
                src: src(),
                content: t(),
                options: SendOptions::default(),
            }),
            FrameType::GetAllUser => Request::GetAllUser(GetAllUser { src: src() }),
            FrameType::Logout => Request::Logout(Logout {
                src: src(),
                reason: t(),
            }),
            FrameType::Admin => Request::Admin(Admin {
                src: src(),
                password: t(),
            }),
            FrameType::Kickout => Request::Kickout(Kickout {
                src: src(),
                dst: t(),
                reason: t(),
            }),
            FrameType::Bantalk => Request::Bantalk(Bantalk {
                src: src(),
                dst: t(),
                duration_secs: 1,
                reason: t(),
            }),
            FrameType::Unmute => Request::Unmute(Unmute {
                src: src(),
                dst: t(),
            }),
            FrameType::Shutdown => Request::Shutdown(Shutdown {
                src: src(),
                scope: ShutdownScope::Node,
                reason: t(),
            }),
            FrameType::Ping => Request::Ping,
            FrameType::Passwd => Request::Passwd(Passwd {
                src: src(),
                old: t(),
                new: t(),
            }),
            FrameType::History => Request::History(History {
                src: src(),
                dst: t(),
                before: 0,
                after: 0,
                limit: 1,
            }),
            FrameType::Ban => Request::Ban(Ban {
                src: src(),
                dst: t(),
                duration_secs: 1,
                reason: t(),
            }),
            FrameType::Unban => Request::Unban(Target {
                src: src(),
                dst: t(),
            }),
            FrameType::Grant => Request::Grant(Target {
                src: src(),
                dst: t(),
            }),
            FrameType::Revoke => Request::Revoke(Target {
                src: src(),
                dst: t(),
            }),
            FrameType::Audit => Request::Audit(Audit {
                src: src(),
                before: 0,
                limit: 1,
            }),
            FrameType::Profile => Request::Profile(Profile {
                src: src(),
                username: t(),
                realname: t(),
                away: t(),
            }),
            FrameType::MarkRead => Request::MarkRead(MarkRead {
                src: src(),
                conversation: t(),
                id: 1,
            }),
            FrameType::MarkReadAt => Request::MarkReadAt(MarkReadAt {
                src: src(),
                conversation: t(),
                ts: 1,
            }),
            FrameType::MetadataSet => Request::MetadataSet(MetadataSet {
                src: src(),
                target: t(),
                key: t(),
                value: t(),
            }),
            FrameType::MetadataGet => Request::MetadataGet(MetadataGet {
                src: src(),
                target: t(),
                keys: vec![t()],
            }),
            FrameType::MetadataSub => Request::MetadataSub(MetadataSub {
                src: src(),
                add: vec![t()],
                remove: vec![],
            }),
            FrameType::ReadMarkers => Request::ReadMarkers(Target {
                src: src(),
                dst: "".into(),
            }),
            FrameType::Ignore => Request::Ignore(Ignore {
                src: src(),
                dst: t(),
                ignore: true,
            }),
            FrameType::Ignores => Request::Ignores(Target {
                src: src(),
                dst: "".into(),
            }),
            FrameType::Nick => Request::Nick(Target {
                src: src(),
                dst: t(),
            }),
            FrameType::UserMode => Request::UserMode(UserMode {
                src: src(),
                set: 2,
                clear: 0,
            }),
            FrameType::Whois => Request::Whois(Target {
                src: src(),
                dst: t(),
            }),
            FrameType::Whowas => Request::Whowas(Whowas {
                src: src(),
                dst: t(),
                limit: 0,
            }),
            FrameType::Redact => Request::Redact(Redact {
                src: src(),
                dst: t(),
                id: 1,
                reason: t(),
            }),
            FrameType::Join => Request::Room(RoomRequest::Join(Join {
                src: src(),
                room: room(),
                password: t(),
            })),
            FrameType::Part => Request::Room(RoomRequest::Part(Part {
                src: src(),
                room: room(),
                reason: t(),
            })),
            FrameType::RoomSend => Request::Room(RoomRequest::Send(RoomSend {
                src: src(),
                room: room(),
                content: t(),
                options: SendOptions::default(),
            })),
            FrameType::Rooms => Request::Room(RoomRequest::List { src: src() }),
            FrameType::Members => Request::Room(RoomRequest::Members(Members {
                src: src(),
                room: room(),
            })),
            FrameType::Topic => Request::Room(RoomRequest::Topic(Topic {
                src: src(),
                room: room(),
                topic: t(),
            })),
            FrameType::RoomOp => Request::Room(RoomRequest::Op(RoomOp {
                src: src(),
                room: room(),
                user: t(),
                operator: true,
            })),
            FrameType::RoomKick => Request::Room(RoomRequest::Kick(RoomKick {
                src: src(),
                room: room(),
                user: t(),
                reason: t(),
            })),
            FrameType::RoomMute => Request::Room(RoomRequest::Mute(RoomMute {
                src: src(),
                room: room(),
                user: t(),
                duration_secs: 1,
                reason: t(),
            })),
            FrameType::RoomMode => Request::Room(RoomRequest::Mode(SetRoomMode {
                src: src(),
                room: room(),
                mode: RoomMode::new(true, true),
                password: t(),
            })),
            FrameType::Invite => Request::Room(RoomRequest::Invite(Invite {
                src: src(),
                room: room(),
                user: t(),
            })),
            FrameType::RoomUnmute => Request::Room(RoomRequest::Unmute(RoomUnmute {
                src: src(),
                room: room(),
                user: t(),
            })),
            FrameType::RoomSendOps => Request::Room(RoomRequest::SendOps(RoomSend {
                src: src(),
                room: room(),
                content: t(),
                ..Default::default()
            })),
            FrameType::RoomLimit => Request::Room(RoomRequest::Limit(RoomLimit {
                src: src(),
                room: room(),
                limit: 1,
            })),
            FrameType::RoomVoice => Request::Room(RoomRequest::Voice(RoomVoice {
                src: src(),
                room: room(),
                user: t(),
                voiced: true,
            })),
            FrameType::RoomMask => Request::Room(RoomRequest::Mask(RoomMask {
                src: src(),
                room: room(),
                list: MaskList::Ban,
                action: MaskAction::Add,
                mask: t(),
            })),
            _ => return None,
        })
    }

    /// How mute applies to each request kind: S silent, A anywhere, R in
    /// the room, N a new room.
    const TABLE: &[(FrameType, char)] = &[
        (FrameType::Hello, 'S'),
        (FrameType::Register, 'S'),
        (FrameType::Reflect, 'S'),
        (FrameType::Transfer, 'A'),
        (FrameType::Broadcast, 'A'),
        (FrameType::GetAllUser, 'S'),
        (FrameType::Logout, 'S'),
        (FrameType::Admin, 'S'),
        (FrameType::Kickout, 'A'),
        (FrameType::Bantalk, 'A'),
        (FrameType::Unmute, 'S'),
        (FrameType::Shutdown, 'A'),
        (FrameType::Ping, 'S'),
        (FrameType::Passwd, 'S'),
        (FrameType::History, 'S'),
        (FrameType::Ban, 'A'),
        (FrameType::Unban, 'S'),
        (FrameType::Grant, 'S'),
        (FrameType::Revoke, 'S'),
        (FrameType::Audit, 'S'),
        (FrameType::Nick, 'A'),
        (FrameType::UserMode, 'S'),
        (FrameType::Whois, 'S'),
        (FrameType::Whowas, 'S'),
        (FrameType::Profile, 'A'),
        (FrameType::MarkRead, 'S'),
        (FrameType::MarkReadAt, 'S'),
        (FrameType::MetadataSet, 'A'),
        (FrameType::MetadataGet, 'S'),
        (FrameType::MetadataSub, 'S'),
        (FrameType::ReadMarkers, 'S'),
        (FrameType::Ignore, 'S'),
        (FrameType::Ignores, 'S'),
        (FrameType::Redact, 'A'),
        (FrameType::Join, 'N'),
        (FrameType::Part, 'R'),
        (FrameType::RoomSend, 'R'),
        (FrameType::Rooms, 'S'),
        (FrameType::Members, 'S'),
        (FrameType::Topic, 'R'),
        (FrameType::RoomOp, 'S'),
        (FrameType::RoomKick, 'R'),
        (FrameType::RoomMute, 'R'),
        (FrameType::RoomMode, 'S'),
        (FrameType::Invite, 'S'),
        (FrameType::RoomUnmute, 'S'),
        (FrameType::RoomSendOps, 'R'),
        (FrameType::RoomLimit, 'S'),
        (FrameType::RoomVoice, 'S'),
        (FrameType::RoomMask, 'S'),
    ];

    #[test]
    fn every_request_kind_says_how_mute_applies_to_it() {
        let kinds: Vec<FrameType> = (0..=u8::MAX)
            .filter_map(FrameType::from_u8)
            .filter(|t| t.is_request())
            .collect();
        for kind in &kinds {
            let request = sample(*kind)
                .unwrap_or_else(|| panic!("{kind:?}: write a sample request for the mute table"));
            let expected = TABLE
                .iter()
                .find(|(k, _)| k == kind)
                .unwrap_or_else(|| panic!("{kind:?}: say in TABLE how a mute applies to it"))
                .1;
            let got = match speech(&request) {
                Speech::Silent => 'S',
                Speech::Anywhere(text) => {
                    assert_eq!(text, "t", "{kind:?}");
                    'A'
                }
                Speech::InRoom { room, text } => {
                    assert_eq!((room, text), ("#r", "t"), "{kind:?}");
                    'R'
                }
                Speech::NewRoom(room) => {
                    assert_eq!(room, "#r", "{kind:?}");
                    'N'
                }
            };
            assert_eq!(got, expected, "{kind:?}");
        }
        assert_eq!(
            kinds.len(),
            TABLE.len(),
            "TABLE lists each request kind once"
        );
    }

    #[test]
    fn an_empty_text_says_nothing() {
        let part = Request::Room(RoomRequest::Part(Part {
            src: "".into(),
            room: "#r".into(),
            reason: "".into(),
        }));
        assert_eq!(speech(&part), Speech::Silent);
    }
}
