//! Rooms end to end, through the client library against a real server on
//! loopback: joining and creating, messages and notices, the topic,
//! moderation, modes, and what happens when members disconnect.

mod common;

use std::time::Duration;

use chinwag_client::{ClientError, Event, Events, RoomMode, RoomNotice, RoomRole};
use chinwag_proto::ErrorCode;
use chinwag_proto::server::{Message, MessageKind, MuteState, NoticeKind};
use common::*;

fn code(result: Result<impl std::fmt::Debug, ClientError>) -> ErrorCode {
    result.unwrap_err().code().expect("a server error")
}

async fn room_notice(events: &mut Events, kind: NoticeKind) -> RoomNotice {
    wait_for(events, |e| match e {
        Event::RoomNotice(n) if n.kind == kind => Some(n),
        _ => None,
    })
    .await
}

async fn message(events: &mut Events) -> Message {
    wait_for(events, |e| match e {
        Event::Message(m) => Some(m),
        _ => None,
    })
    .await
}

#[tokio::test]
async fn three_users_chat_in_a_room_and_see_each_other_come_and_go() {
    let server = start().await;
    let (alice, mut alice_events) = user(&server, "alice").await;
    let (bob, mut bob_events) = user(&server, "bob").await;
    let (carol, mut carol_events) = user(&server, "carol").await;

    let created = alice.join("#General", None).await.unwrap();
    assert_eq!(&*created.room, "#General");
    assert_eq!(created.role, RoomRole::Owner);
    assert_eq!(created.members, 1);

    let joined = bob.join("#general", None).await.unwrap();
    assert_eq!(
        &*joined.room, "#General",
        "the creator's spelling, any case"
    );
    assert_eq!(joined.role, RoomRole::Member);
    let seen = room_notice(&mut alice_events, NoticeKind::RoomJoined).await;
    assert_eq!((&*seen.room, &*seen.subject), ("#General", "bob"));
    carol.join("#GENERAL", None).await.unwrap();
    room_notice(&mut alice_events, NoticeKind::RoomJoined).await;
    room_notice(&mut bob_events, NoticeKind::RoomJoined).await;

    let sent = alice.say("#general", "hello, room").await.unwrap();
    assert_eq!(sent.recipients, 2, "everyone but the sender");
    for events in [&mut bob_events, &mut carol_events] {
        let m = message(events).await;
        assert_eq!(m.kind, MessageKind::Room);
        assert_eq!(
            (&*m.from, &*m.to, &*m.text),
            ("alice", "#General", "hello, room")
        );
        assert_eq!((m.id, m.ts), (sent.id, sent.ts));
    }

    let info = alice
        .set_topic("#general", "all things chinwag")
        .await
        .unwrap();
    assert_eq!(&*info.topic, "all things chinwag");
    let topic = room_notice(&mut bob_events, NoticeKind::RoomTopic).await;
    assert_eq!(
        (&*topic.actor, &*topic.text),
        ("alice", "all things chinwag")
    );
    let listed = carol.rooms().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(&*listed[0].topic, "all things chinwag");
    assert_eq!(listed[0].members, 3);
    assert_eq!(listed[0].role, RoomRole::Member);

    let members = bob.members("#general").await.unwrap();
    let names: Vec<_> = members.iter().map(|m| (&*m.name, m.role)).collect();
    assert_eq!(
        names,
        [
            ("alice", RoomRole::Owner),
            ("bob", RoomRole::Member),
            ("carol", RoomRole::Member)
        ]
    );
    assert!(members.iter().all(|m| m.online));

    carol.leave("#general", "lunch").await.unwrap();
    let left = room_notice(&mut bob_events, NoticeKind::RoomLeft).await;
    assert_eq!((&*left.subject, &*left.text), ("carol", "lunch"));
    let sent = alice.say("#general", "after carol left").await.unwrap();
    assert_eq!(sent.recipients, 1);
    assert_eq!(&*message(&mut bob_events).await.text, "after carol left");
}

#[tokio::test]
async fn non_members_cannot_post_and_bad_names_are_refused() {
    let server = start().await;
    let (alice, _) = user(&server, "alice").await;
    let (mallory, _) = user(&server, "mallory").await;
    alice.join("#general", None).await.unwrap();
    assert_eq!(
        code(mallory.say("#general", "let me in").await),
        ErrorCode::NotAMember
    );
    assert_eq!(
        code(mallory.say("#nowhere", "hello?").await),
        ErrorCode::NoSuchRoom
    );
    assert_eq!(
        code(mallory.leave("#general", "").await),
        ErrorCode::NotAMember
    );
    assert_eq!(
        code(mallory.set_topic("#general", "pwned").await),
        ErrorCode::NotAMember
    );
    // Names the client library would refuse, sent as raw requests.
    use chinwag_proto::room::Join;
    use chinwag_proto::{Request, RoomRequest};
    for bad in ["general", "#", "#a b", "#_x"] {
        let request = Request::Room(RoomRequest::Join(Join {
            src: "".into(),
            room: bad.into(),
            password: "".into(),
        }));
        assert_eq!(
            code(mallory.request(request).await),
            ErrorCode::InvalidRoomName,
            "{bad}"
        );
    }
    assert!(matches!(
        mallory.join("general", None).await,
        Err(ClientError::InvalidInput(_))
    ));
}

#[tokio::test]
async fn operators_kick_and_mute_but_not_their_betters() {
    let server = start().await;
    let (alice, _) = user(&server, "alice").await;
    let (bob, mut bob_events) = user(&server, "bob").await;
    let (carol, mut carol_events) = user(&server, "carol").await;
    alice.join("#general", None).await.unwrap();
    bob.join("#general", None).await.unwrap();
    carol.join("#general", None).await.unwrap();

    // Only the owner names operators.
    assert_eq!(
        code(bob.room_op("#general", "carol", true).await),
        ErrorCode::NotRoomOperator
    );
    alice.room_op("#general", "bob", true).await.unwrap();
    let role = room_notice(&mut carol_events, NoticeKind::RoomRole).await;
    assert_eq!(
        (&*role.subject, role.until),
        ("bob", RoomRole::Operator as u64)
    );
    // The owner is not made an operator, and only it may step down.
    assert_eq!(
        code(alice.room_op("#general", "alice", true).await),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        code(bob.room_op("#general", "alice", false).await),
        ErrorCode::NotRoomOperator
    );

    // An operator mutes a member in the room only.
    assert_eq!(
        code(carol.room_mute("#general", "bob", None, "").await),
        ErrorCode::NotRoomOperator
    );
    bob.room_mute(
        "#general",
        "carol",
        Some(Duration::from_secs(60)),
        "calm down",
    )
    .await
    .unwrap();
    let muted = room_notice(&mut carol_events, NoticeKind::RoomMuted).await;
    assert_eq!((&*muted.actor, &*muted.text), ("bob", "calm down"));
    assert!(matches!(
        MuteState::from_wire(muted.until),
        MuteState::Until(_)
    ));
    let refused = carol.say("#general", "but").await.unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::Muted));
    assert!(
        refused
            .to_string()
            .contains("muted in #general for another"),
        "{refused}"
    );
    carol
        .send("alice", "a direct message still works")
        .await
        .unwrap();
    let listed = alice.members("#general").await.unwrap();
    let carol_entry = listed.iter().find(|m| &*m.name == "carol").unwrap();
    assert!(matches!(carol_entry.muted, MuteState::Until(_)));

    // Leaving and joining again does not lift it; the operator does.
    carol.leave("#general", "").await.unwrap();
    carol.join("#general", None).await.unwrap();
    assert_eq!(code(carol.say("#general", "now?").await), ErrorCode::Muted);
    bob.room_unmute("#general", "carol").await.unwrap();
    room_notice(&mut carol_events, NoticeKind::RoomUnmuted).await;
    carol.say("#general", "thanks").await.unwrap();
    assert_eq!(
        code(bob.room_unmute("#general", "carol").await),
        ErrorCode::InvalidArgument
    );

    // An operator cannot act on the owner; the owner can act on operators.
    assert_eq!(
        code(bob.room_kick("#general", "alice", "coup").await),
        ErrorCode::NotRoomOperator
    );
    bob.room_kick("#general", "carol", "spam").await.unwrap();
    let kicked = room_notice(&mut carol_events, NoticeKind::RoomKicked).await;
    assert_eq!((&*kicked.actor, &*kicked.text), ("bob", "spam"));
    assert_eq!(
        code(carol.say("#general", "hey").await),
        ErrorCode::NotAMember
    );
    alice.room_kick("#general", "bob", "").await.unwrap();
    let kicked = room_notice(&mut bob_events, NoticeKind::RoomKicked).await;
    assert_eq!(&*kicked.text, "no reason given");
    assert_eq!(
        code(alice.room_kick("#general", "nobody", "").await),
        ErrorCode::NotAMember
    );
    // A kick is not a ban: carol may come back to an open room.
    carol.join("#general", None).await.unwrap();
}

#[tokio::test]
async fn kicks_are_announced_to_the_rest_of_the_room() {
    let server = start().await;
    let (alice, _) = user(&server, "alice").await;
    let (bob, _) = user(&server, "bob").await;
    let (carol, mut carol_events) = user(&server, "carol").await;
    for c in [&alice, &bob, &carol] {
        c.join("#general", None).await.unwrap();
    }
    alice.room_kick("#general", "bob", "spam").await.unwrap();
    let left = room_notice(&mut carol_events, NoticeKind::RoomLeft).await;
    assert_eq!(
        (&*left.actor, &*left.subject, &*left.text),
        ("alice", "bob", "kicked by alice: spam")
    );
}

#[tokio::test]
async fn invite_only_and_password_rooms() {
    let server = start().await;
    let (alice, _) = user(&server, "alice").await;
    let (bob, mut bob_events) = user(&server, "bob").await;
    let (carol, _) = user(&server, "carol").await;
    let (root, _) = admin(&server, "root").await;

    let created = alice.join("#secret", Some("hunter2")).await.unwrap();
    assert!(created.mode.password());
    assert_eq!(
        code(bob.join("#secret", None).await),
        ErrorCode::RoomPassword
    );
    assert_eq!(
        code(bob.join("#secret", Some("wrong")).await),
        ErrorCode::RoomPassword
    );
    bob.join("#secret", Some("hunter2")).await.unwrap();

    alice
        .room_mode("#secret", RoomMode::new(true, true), None)
        .await
        .unwrap();
    let mode = room_notice(&mut bob_events, NoticeKind::RoomMode).await;
    assert_eq!(mode.until, 3);
    assert_eq!(
        code(carol.join("#secret", Some("hunter2")).await),
        ErrorCode::InviteOnly
    );
    assert_eq!(code(carol.members("#secret").await), ErrorCode::NotAMember);
    assert_eq!(
        code(bob.invite("#secret", "carol").await),
        ErrorCode::NotRoomOperator
    );
    alice.invite("#secret", "carol").await.unwrap();
    carol.join("#secret", None).await.unwrap();
    assert_eq!(
        code(alice.invite("#secret", "carol").await),
        ErrorCode::InvalidArgument
    );

    // An administrator walks in anywhere and moderates without joining.
    root.join("#secret", None).await.unwrap();
    root.leave("#secret", "").await.unwrap();
    root.room_kick("#secret", "carol", "audit").await.unwrap();
    assert_eq!(
        code(root.room_kick("#secret", "alice", "").await),
        ErrorCode::NotRoomOperator,
        "nobody outranks the owner"
    );

    // Open again: the password goes with its flag.
    alice
        .room_mode("#secret", RoomMode::default(), None)
        .await
        .unwrap();
    carol.join("#secret", None).await.unwrap();
    assert_eq!(
        code(
            alice
                .room_mode("#secret", RoomMode::new(false, true), None)
                .await
        ),
        ErrorCode::InvalidArgument,
        "no password to keep"
    );
    let listed = bob.room("#secret").await.unwrap().unwrap();
    assert_eq!(listed.mode, RoomMode::default());
}

#[tokio::test]
async fn ownership_passes_on_and_an_empty_room_disappears() {
    let server = start().await;
    let (alice, _) = user(&server, "alice").await;
    let (bob, mut bob_events) = user(&server, "bob").await;
    alice.join("#general", None).await.unwrap();
    bob.join("#general", None).await.unwrap();
    alice.leave("#general", "").await.unwrap();
    let role = room_notice(&mut bob_events, NoticeKind::RoomRole).await;
    assert_eq!(
        (&*role.subject, role.until),
        ("bob", RoomRole::Owner as u64)
    );
    bob.set_topic("#general", "bob's now").await.unwrap();
    bob.leave("#general", "").await.unwrap();
    assert!(bob.rooms().await.unwrap().is_empty());
    let again = alice.join("#general", None).await.unwrap();
    assert_eq!(again.role, RoomRole::Owner);
    assert!(again.topic.is_empty(), "a new room, no old topic");
}

#[tokio::test]
async fn a_guests_membership_ends_with_its_connection() {
    let server = start().await;
    let (alice, mut alice_events) = user(&server, "alice").await;
    let (bob, _) = user(&server, "bob").await;
    alice.join("#general", None).await.unwrap();
    bob.join("#general", None).await.unwrap();
    drop(bob);
    let left = room_notice(&mut alice_events, NoticeKind::RoomLeft).await;
    assert_eq!((&*left.subject, &*left.text), ("bob", "disconnected"));
    assert_eq!(alice.members("#general").await.unwrap().len(), 1);

    // A server-wide kick ends room memberships as well.
    let (root, _) = admin(&server, "root").await;
    let (carol, _) = user(&server, "carol").await;
    carol.join("#general", None).await.unwrap();
    room_notice(&mut alice_events, NoticeKind::RoomJoined).await;
    root.kick("carol", "bye").await.unwrap();
    let left = room_notice(&mut alice_events, NoticeKind::RoomLeft).await;
    assert_eq!(&*left.subject, "carol");
    // A new guest with the name starts with no rooms.
    let (carol, _) = user(&server, "carol").await;
    assert_eq!(
        code(carol.say("#general", "back").await),
        ErrorCode::NotAMember
    );
}

#[tokio::test]
async fn server_wide_mutes_apply_to_rooms_and_limits_hold() {
    let mut config = config();
    config.max_rooms_per_user = 2;
    config.max_rooms = 3;
    let server = start_with(config).await;
    let (root, _) = admin(&server, "root").await;
    let (alice, _) = user(&server, "alice").await;
    let (bob, _) = user(&server, "bob").await;
    alice.join("#one", None).await.unwrap();
    alice.join("#two", None).await.unwrap();
    assert_eq!(
        code(alice.join("#three", None).await),
        ErrorCode::TooManyRooms
    );
    bob.join("#three", None).await.unwrap();
    assert_eq!(code(bob.join("#four", None).await), ErrorCode::TooManyRooms);
    bob.join("#one", None).await.unwrap();

    root.mute("alice", None, "").await.unwrap();
    assert_eq!(code(alice.say("#one", "hi").await), ErrorCode::Muted);
}

#[tokio::test]
async fn a_larger_room_gets_every_message_in_order() {
    // Not a timing test: it checks that a larger room still gets every
    // message, in order, on every member's connection.
    let server = start().await;
    let (speaker, _) = user(&server, "speaker").await;
    speaker.join("#big", None).await.unwrap();
    let mut listeners = Vec::new();
    for i in 0..50 {
        let (c, e) = user(&server, &format!("l{i}")).await;
        c.join("#big", None).await.unwrap();
        listeners.push((c, e));
    }
    for n in 0..5 {
        let sent = speaker.say("#big", &format!("m{n}")).await.unwrap();
        assert_eq!(sent.recipients, 50);
    }
    for (_, events) in &mut listeners {
        for n in 0..5 {
            assert_eq!(&*message(events).await.text, format!("m{n}"));
        }
    }
}

#[tokio::test]
async fn rooms_survive_a_restart_with_their_history() {
    use chinwag_client::HistoryQuery;
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path()).await;
    let (alice, _) = account(&server, "alice", "alice-secret").await;
    let (bob, mut bob_events) = account(&server, "bob", "bob-secret").await;
    let (carol, _) = account(&server, "carol", "carol-secret").await;
    let (guest, _) = user(&server, "gus").await;
    alice.join("#General", None).await.unwrap();
    for c in [&bob, &carol, &guest] {
        c.join("#general", None).await.unwrap();
    }
    alice.set_topic("#general", "kept").await.unwrap();
    alice.room_op("#general", "bob", true).await.unwrap();
    alice
        .room_mode("#general", RoomMode::new(false, true), Some("pw"))
        .await
        .unwrap();
    bob.room_mute("#general", "carol", None, "").await.unwrap();
    let first = alice.say("#general", "before bob left").await.unwrap();
    assert_eq!(&*message(&mut bob_events).await.text, "before bob left");

    // bob goes offline: still a member, listed offline; the messages he
    // misses are in the room's history.
    bob.logout().await.unwrap();
    let members = alice.members("#general").await.unwrap();
    let bob_entry = members.iter().find(|m| &*m.name == "bob").unwrap();
    assert!(!bob_entry.online);
    assert_eq!(bob_entry.role, RoomRole::Operator);
    let missed = alice.say("#general", "while bob was away").await.unwrap();
    assert_eq!(missed.recipients, 2, "carol and gus, not offline bob");
    drop((alice, carol, guest));
    server.stop().await;

    let server = start_in(dir.path()).await;
    let (bob, mut bob_events) = account(&server, "bob", "bob-secret").await;
    let info = bob
        .room("#general")
        .await
        .unwrap()
        .expect("the room is back");
    assert_eq!(&*info.room, "#General");
    assert_eq!(&*info.topic, "kept");
    assert_eq!(info.members, 3, "the guest's membership ended");
    assert_eq!(info.role, RoomRole::Operator);
    assert!(info.mode.password());
    let members = bob.members("#general").await.unwrap();
    let roles: Vec<_> = members.iter().map(|m| (&*m.name, m.role)).collect();
    assert_eq!(
        roles,
        [
            ("alice", RoomRole::Owner),
            ("bob", RoomRole::Operator),
            ("carol", RoomRole::Member)
        ]
    );
    assert_eq!(
        members[2].muted,
        MuteState::UntilLifted,
        "the room mute too"
    );

    // What bob missed, from the last message he saw.
    let page = bob
        .history(&HistoryQuery {
            with: Some("#general"),
            before: None,
            after: Some(first.id.0),
            limit: 50,
        })
        .await
        .unwrap();
    let texts: Vec<_> = page.iter().map(|m| (&*m.text, m.kind)).collect();
    assert_eq!(texts, [("while bob was away", MessageKind::Room)]);
    assert_eq!(&*page[0].to, "#General");
    let all = bob
        .history(&HistoryQuery::newest(Some("#general"), 10))
        .await
        .unwrap();
    assert_eq!(all.len(), 2);

    // The membership works at once: alice's message reaches bob.
    let (alice, _) = account(&server, "alice", "alice-secret").await;
    alice.say("#general", "welcome back").await.unwrap();
    assert_eq!(&*message(&mut bob_events).await.text, "welcome back");
    // The password is back too, and the history is for members only.
    let (dave, _) = account(&server, "dave", "dave-secret").await;
    assert_eq!(
        code(dave.join("#general", Some("nope")).await),
        ErrorCode::RoomPassword
    );
    assert_eq!(
        code(
            dave.history(&HistoryQuery::newest(Some("#general"), 10))
                .await
        ),
        ErrorCode::NotAMember
    );
    // Leaving is for good: after another restart, carol is gone.
    let (carol, _) = account(&server, "carol", "carol-secret").await;
    carol.leave("#general", "").await.unwrap();
    drop((alice, bob, carol, dave));
    server.stop().await;
    let server = start_in(dir.path()).await;
    let (alice, _) = account(&server, "alice", "alice-secret").await;
    assert_eq!(alice.members("#general").await.unwrap().len(), 2);
    server.stop().await;
}
