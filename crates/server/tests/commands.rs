//! Every seed command, end to end, through the client library against a
//! real server on loopback: the happy paths and the error paths.

mod common;

use std::time::Duration;

use chinwag_client::{ClientError, Event};
use chinwag_proto::ErrorCode;
use chinwag_proto::server::{MessageKind, MuteState, NoticeKind, Role};
use common::*;

fn code(result: Result<impl std::fmt::Debug, ClientError>) -> ErrorCode {
    result.unwrap_err().code().expect("a server error")
}

#[tokio::test]
async fn register_then_transfer_reaches_only_the_recipient() {
    let server = start().await;
    let (alice, mut alice_events) = user(&server, "alice").await;
    let (_bob, mut bob_events) = user(&server, "bob").await;
    let (_carol, mut carol_events) = user(&server, "carol").await;
    notice(&mut alice_events, NoticeKind::Joined).await;

    let sent = alice.send("bob", "hi bob, 你好").await.unwrap();
    assert_eq!(sent.recipients, 1);
    let msg = wait_for(&mut bob_events, |e| match e {
        Event::Message(m) => Some(m),
        _ => None,
    })
    .await;
    assert_eq!(&*msg.from, "alice");
    assert_eq!(&*msg.to, "bob");
    assert_eq!(&*msg.text, "hi bob, 你好");
    assert_eq!(msg.kind, MessageKind::Direct);
    assert_eq!(msg.id, sent.id);
    assert_eq!(msg.ts, sent.ts);

    // carol got join notices but no message.
    alice.send("carol", "marker").await.unwrap();
    let first_message = wait_for(&mut carol_events, |e| match e {
        Event::Message(m) => Some(m),
        _ => None,
    })
    .await;
    assert_eq!(&*first_message.text, "marker");
}

#[tokio::test]
async fn names_are_case_insensitive_and_recipients_resolve_any_case() {
    let server = start().await;
    let (alice, _) = user(&server, "Alice").await;
    let (_bob, mut bob_events) = user(&server, "bob").await;
    let (other, _) = connect(&server).await;
    assert_eq!(
        code(other.register("ALICE", None).await),
        ErrorCode::NameTaken
    );
    alice.send("BOB", "case").await.unwrap();
    let msg = wait_for(&mut bob_events, |e| match e {
        Event::Message(m) => Some(m),
        _ => None,
    })
    .await;
    assert_eq!(&*msg.from, "Alice", "the chosen spelling is kept");
}

#[tokio::test]
async fn register_errors() {
    let server = start().await;
    let (_alice, _) = user(&server, "alice").await;
    let (c, _) = connect(&server).await;
    assert_eq!(code(c.register("alice", None).await), ErrorCode::NameTaken);
    // The connection survives a failed REGISTER and can pick another name.
    c.register("alice2", None).await.unwrap();
    assert_eq!(
        code(c.register("alice3", None).await),
        ErrorCode::AlreadyRegistered
    );
}

#[tokio::test]
async fn invalid_names_are_refused_by_the_server() {
    use chinwag_proto::request::{Register, Request};
    let server = start().await;
    let (c, _) = connect(&server).await;
    for bad in [
        "",
        "1abc",
        "has space",
        "tab\there",
        "esc\u{1b}",
        &"x".repeat(33),
        "a.b",
        "zero\u{200b}width",
        "bidi\u{202e}override",
    ] {
        // Raw request: the client library would refuse these locally.
        let reply = c
            .request(Request::Register(Register {
                name: bad.into(),
                ip: "".into(),
                port: 0,
                password: "".into(),
                take_offline: true,
                multi_session: false,
            }))
            .await;
        assert_eq!(code(reply), ErrorCode::InvalidName, "{bad:?}");
    }
}

#[tokio::test]
async fn commands_before_register_are_refused() {
    let server = start().await;
    let (c, _) = connect(&server).await;
    assert_eq!(code(c.send("bob", "hi").await), ErrorCode::NotRegistered);
    assert_eq!(code(c.users().await), ErrorCode::NotRegistered);
    assert_eq!(code(c.echo("x").await), ErrorCode::NotRegistered);
    assert_eq!(
        code(c.admin(ADMIN_PASSWORD).await),
        ErrorCode::NotRegistered
    );
    // PING works before REGISTER (it keeps a slow login alive).
    c.ping().await.unwrap();
}

#[tokio::test]
async fn spoofed_src_is_refused() {
    use chinwag_proto::request::{Request, Transfer};
    let server = start().await;
    let (alice, _) = user(&server, "alice").await;
    let (_bob, _) = user(&server, "bob").await;
    let reply = alice
        .request(Request::Transfer(Transfer {
            src: "bob".into(),
            dst: "bob".into(),
            content: "I am bob".into(),
            ..Default::default()
        }))
        .await;
    assert_eq!(code(reply), ErrorCode::SpoofedSource);
    // Naming yourself (any case) is fine.
    let reply = alice
        .request(Request::Transfer(Transfer {
            src: "ALICE".into(),
            dst: "bob".into(),
            content: "I am alice".into(),
            ..Default::default()
        }))
        .await;
    assert!(reply.is_ok());
}

#[tokio::test]
async fn unknown_recipient_is_an_error() {
    let server = start().await;
    let (alice, _) = user(&server, "alice").await;
    assert_eq!(
        code(alice.send("nobody", "hi").await),
        ErrorCode::NoSuchUser
    );
}

#[tokio::test]
async fn bad_text_is_refused() {
    use chinwag_proto::request::{Request, Transfer};
    let server = start().await;
    let (alice, _) = user(&server, "alice").await;
    let (_bob, _) = user(&server, "bob").await;
    for bad in [String::new(), "\u{1b}[2J".into(), "x".repeat(4097)] {
        let reply = alice
            .request(Request::Transfer(Transfer {
                src: "".into(),
                dst: "bob".into(),
                content: bad.into(),
                ..Default::default()
            }))
            .await;
        assert_eq!(code(reply), ErrorCode::InvalidContent);
    }
}

#[tokio::test]
async fn reflect_echoes_to_the_sender_only() {
    let server = start().await;
    let (alice, _) = user(&server, "alice").await;
    let (bob, mut bob_events) = user(&server, "bob").await;
    let echo = alice.echo("ping 你好").await.unwrap();
    assert_eq!(&*echo.content, "ping 你好");
    // bob sees no message: the next thing he gets is his own echo reply.
    bob.echo("mine").await.unwrap();
    let nothing = tokio::time::timeout(Duration::from_millis(200), bob_events.recv()).await;
    assert!(nothing.is_err(), "bob got {nothing:?}");
}

#[tokio::test]
async fn broadcast_reaches_everyone_but_the_sender() {
    let server = start().await;
    let (alice, mut alice_events) = user(&server, "alice").await;
    let (_bob, mut bob_events) = user(&server, "bob").await;
    let (_carol, mut carol_events) = user(&server, "carol").await;
    let sent = alice.broadcast("hello all").await.unwrap();
    assert_eq!(sent.recipients, 2);
    for events in [&mut bob_events, &mut carol_events] {
        let m = wait_for(events, |e| match e {
            Event::Message(m) => Some(m),
            _ => None,
        })
        .await;
        assert_eq!(m.kind, MessageKind::Broadcast);
        assert_eq!(&*m.from, "alice");
        assert_eq!(&*m.to, "");
    }
    // alice gets no copy of her own broadcast.
    alice.echo("fence").await.unwrap();
    while let Ok(Some(e)) =
        tokio::time::timeout(Duration::from_millis(100), alice_events.recv()).await
    {
        assert!(!matches!(e, Event::Message(_)), "sender got {e:?}");
    }
}

#[tokio::test]
async fn getalluser_lists_roles_and_mutes_and_hides_addresses_from_users() {
    let server = start().await;
    let (root, _) = admin(&server, "root").await;
    let (bob, _) = user(&server, "bob").await;
    root.mute("bob", Some(Duration::from_secs(600)), "calm down")
        .await
        .unwrap();

    let users = bob.users().await.unwrap();
    let names: Vec<&str> = users.iter().map(|u| &*u.name).collect();
    assert_eq!(names, ["bob", "root"]);
    let root_info = &users[1];
    assert_eq!(root_info.role, Role::Admin);
    assert!(matches!(users[0].muted, MuteState::Until(_)));
    assert!(
        users
            .iter()
            .all(|u| u.addr.is_empty() && u.connected_at.0 == 0)
    );

    let users = root.users().await.unwrap();
    assert!(users.iter().all(|u| u.addr.starts_with("127.0.0.1:")));
    assert!(users.iter().all(|u| u.connected_at.0 > 0));
}

#[tokio::test]
async fn logout_acks_tells_the_others_and_frees_the_name() {
    let server = start().await;
    let (alice, mut alice_events) = user(&server, "alice").await;
    let (bob, mut bob_events) = user(&server, "bob").await;
    notice(&mut alice_events, NoticeKind::Joined).await;
    bob.logout().await.unwrap();
    let left = notice(&mut alice_events, NoticeKind::Left).await;
    assert_eq!(&*left.subject, "bob");
    assert_eq!(&*left.text, "logout");
    closed(&mut bob_events).await;
    let (again, _) = connect(&server).await;
    again.register("bob", None).await.unwrap();
    assert_eq!(alice.users().await.unwrap().len(), 2);
}

#[tokio::test]
async fn disconnect_without_logout_frees_the_name() {
    let server = start().await;
    let (alice, mut alice_events) = user(&server, "alice").await;
    let (bob, bob_events) = user(&server, "bob").await;
    drop(bob);
    drop(bob_events);
    let left = notice(&mut alice_events, NoticeKind::Left).await;
    assert_eq!(&*left.subject, "bob");
    assert_eq!(&*left.text, "disconnected");
    assert_eq!(alice.users().await.unwrap().len(), 1);
}

#[tokio::test]
async fn admin_needs_the_password_and_wrong_guesses_are_slowed_down() {
    let server = start().await;
    let (mallory, _) = user(&server, "mallory").await;
    for _ in 0..3 {
        assert_eq!(code(mallory.admin("guess").await), ErrorCode::BadPassword);
    }
    // Locked now, even for the right password.
    assert_eq!(
        code(mallory.admin(ADMIN_PASSWORD).await),
        ErrorCode::TooManyAttempts
    );
    let (alice, _) = user(&server, "alice").await;
    alice.admin(ADMIN_PASSWORD).await.unwrap();
    let me = alice
        .users()
        .await
        .unwrap()
        .into_iter()
        .find(|u| &*u.name == "alice")
        .unwrap();
    assert_eq!(me.role, Role::Admin);
}

#[tokio::test]
async fn admin_commands_are_forbidden_to_users() {
    let server = start().await;
    let (mallory, _) = user(&server, "mallory").await;
    let (_bob, _) = user(&server, "bob").await;
    assert_eq!(code(mallory.kick("bob", "x").await), ErrorCode::Forbidden);
    assert_eq!(
        code(mallory.mute("bob", None, "x").await),
        ErrorCode::Forbidden
    );
    assert_eq!(code(mallory.unmute("bob").await), ErrorCode::Forbidden);
    assert_eq!(code(mallory.shutdown("x").await), ErrorCode::Forbidden);
    assert_eq!(mallory.users().await.unwrap().len(), 2, "nothing happened");
}

#[tokio::test]
async fn muted_users_cannot_talk_until_unmuted() {
    let server = start().await;
    let (root, _) = admin(&server, "root").await;
    let (bob, mut bob_events) = user(&server, "bob").await;
    root.mute("bob", Some(Duration::from_secs(60)), "spam")
        .await
        .unwrap();
    let muted = notice(&mut bob_events, NoticeKind::Muted).await;
    assert_eq!(&*muted.actor, "root");
    assert_eq!(&*muted.text, "spam");

    let err = bob.send("root", "let me talk").await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Muted));
    let ClientError::Server { message, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(
        message.starts_with("you are muted for another ") && message.ends_with('s')
            || message.ends_with("1m"),
        "{message}"
    );
    assert_eq!(code(bob.broadcast("all").await), ErrorCode::Muted);
    bob.echo("reflect still works").await.unwrap();

    root.unmute("bob").await.unwrap();
    notice(&mut bob_events, NoticeKind::Unmuted).await;
    bob.send("root", "thanks").await.unwrap();
    assert_eq!(code(root.unmute("bob").await), ErrorCode::InvalidArgument);
}

#[tokio::test]
async fn mute_until_lifted_and_mute_survives_reconnect() {
    let server = start().await;
    let (root, _) = admin(&server, "root").await;
    let (bob, _) = user(&server, "bob").await;
    root.mute("bob", None, "").await.unwrap();
    let err = bob.send("root", "x").await.unwrap_err();
    assert!(
        err.to_string().contains("until an administrator lifts it"),
        "{err}"
    );
    bob.logout().await.unwrap();
    let (bob, _) = connect(&server).await;
    let registered = bob.register("bob", None).await.unwrap();
    assert_eq!(registered.muted, MuteState::UntilLifted);
    assert_eq!(code(bob.send("root", "x").await), ErrorCode::Muted);
}

#[tokio::test]
async fn mutes_expire_by_themselves() {
    let server = start().await;
    let (root, _) = admin(&server, "root").await;
    let (bob, mut bob_events) = user(&server, "bob").await;
    root.mute("bob", Some(Duration::from_secs(1)), "")
        .await
        .unwrap();
    assert_eq!(code(bob.send("root", "x").await), ErrorCode::Muted);
    let unmuted = notice(&mut bob_events, NoticeKind::Unmuted).await;
    assert_eq!(&*unmuted.actor, "", "nobody lifted it: it ran out");
    bob.send("root", "free").await.unwrap();
}

#[tokio::test]
async fn kick_notifies_the_target_disconnects_it_and_tells_the_others() {
    let server = start().await;
    let (root, _) = admin(&server, "root").await;
    let (bob, mut bob_events) = user(&server, "bob").await;
    let (_carol, mut carol_events) = user(&server, "carol").await;
    root.kick("bob", "spamming").await.unwrap();

    let kicked = notice(&mut bob_events, NoticeKind::Kicked).await;
    assert_eq!(&*kicked.actor, "root");
    assert_eq!(&*kicked.text, "spamming");
    closed(&mut bob_events).await;
    assert!(bob.echo("still here?").await.is_err());

    let left = notice(&mut carol_events, NoticeKind::Left).await;
    assert_eq!(&*left.subject, "bob");
    assert_eq!(&*left.text, "kicked by root: spamming");
    assert_eq!(code(root.kick("bob", "again").await), ErrorCode::NoSuchUser);
    assert_eq!(root.users().await.unwrap().len(), 2);
}

#[tokio::test]
async fn shutdown_tells_everyone_and_closes_every_connection() {
    let server = start().await;
    let (root, mut root_events) = admin(&server, "root").await;
    let mut others = Vec::new();
    for i in 0..5 {
        others.push(user(&server, &format!("user{i}")).await);
    }
    let (idle, mut idle_events) = connect(&server).await; // never registers
    root.shutdown("maintenance").await.unwrap();
    for (_, events) in &mut others {
        let n = notice(events, NoticeKind::Shutdown).await;
        assert_eq!(&*n.text, "maintenance");
        assert!(n.until > 0);
        closed(events).await;
    }
    notice(&mut root_events, NoticeKind::Shutdown).await;
    closed(&mut root_events).await;
    closed(&mut idle_events).await;
    drop(idle);
    tokio::time::timeout(PATIENCE, server.task)
        .await
        .expect("server did not stop")
        .unwrap();
    assert!(
        tokio::net::TcpStream::connect(server.addr).await.is_err(),
        "the listener is closed"
    );
}

#[tokio::test]
async fn concurrent_registration_of_one_name_has_exactly_one_winner() {
    let server = start().await;
    let mut attempts = Vec::new();
    for _ in 0..50 {
        let (client, events) = connect(&server).await;
        attempts.push(tokio::spawn(async move {
            let result = client.register("highlander", None).await;
            (result.map(|_| ()), client, events)
        }));
    }
    let mut winners = 0;
    let mut keep = Vec::new();
    for attempt in attempts {
        let (result, client, events) = attempt.await.unwrap();
        match result {
            Ok(()) => winners += 1,
            Err(e) => assert_eq!(e.code(), Some(ErrorCode::NameTaken)),
        }
        keep.push((client, events));
    }
    assert_eq!(winners, 1);
}

#[tokio::test]
async fn reasons_follow_the_text_rules() {
    use chinwag_proto::request::{Bantalk, Kickout, Request};
    let server = start().await;
    let (root, _) = admin(&server, "root").await;
    let (_bob, _) = user(&server, "bob").await;
    // Raw requests: the client library would refuse these locally.
    let kick = root
        .request(Request::Kickout(Kickout {
            src: "".into(),
            dst: "bob".into(),
            reason: "\u{1b}[2Jgotcha".into(),
        }))
        .await;
    assert_eq!(code(kick), ErrorCode::InvalidContent);
    let mute = root
        .request(Request::Bantalk(Bantalk {
            src: "".into(),
            dst: "bob".into(),
            duration_secs: 0,
            reason: "\u{7}beep".into(),
        }))
        .await;
    assert_eq!(code(mute), ErrorCode::InvalidContent);
    assert_eq!(root.users().await.unwrap().len(), 2, "nothing happened");
}

#[tokio::test]
async fn actions_travel_in_their_irc_form_and_nothing_else_holds_control_characters() {
    let server = start().await;
    let (alice, _) = user(&server, "alice").await;
    let (bob, mut bob_events) = user(&server, "bob").await;
    bob.join("#tea", None).await.unwrap();
    alice.join("#tea", None).await.unwrap();
    let waves = chinwag_proto::text::action("waves");
    alice.send("bob", &waves).await.unwrap();
    alice.say("#tea", &waves).await.unwrap();
    for _ in 0..2 {
        let got = wait_for(&mut bob_events, |e| match e {
            Event::Message(m) => Some(m),
            _ => None,
        })
        .await;
        assert_eq!(chinwag_proto::text::as_action(&got.text), Some("waves"));
    }
    // A stray marker, an empty action, an action with escapes in it, or
    // an action as a reason: refused.
    // The client library refuses those before sending; the server is
    // asked with raw requests.
    for bad in [
        "\u{1}ACTION waves",
        "\u{1}ACTION \u{1}",
        "\u{1}ACTION \u{1b}[2J\u{1}",
    ] {
        let refused = alice
            .request(chinwag_proto::Request::Transfer(
                chinwag_proto::request::Transfer {
                    src: "".into(),
                    dst: "bob".into(),
                    content: bad.into(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Some(ErrorCode::InvalidContent), "{bad:?}");
        assert!(matches!(
            alice.send("bob", bad).await,
            Err(ClientError::InvalidInput(_))
        ));
    }
    let refused = alice
        .request(chinwag_proto::Request::Reflect(
            chinwag_proto::request::Reflect {
                src: "".into(),
                content: waves.as_str().into(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::InvalidContent));
}
