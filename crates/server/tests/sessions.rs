//! One account online from several sessions at once, against a real
//! server on loopback: every session receives the account's messages and
//! sees what the others send; others see the account come and go once;
//! LOGOUT ends one session, a kick all of them; clients that did not ask
//! to share their account keep it to themselves.

mod common;

use chinwag_client::{ClientError, Event, Events, RegisterOptions};
use chinwag_proto::ErrorCode;
use chinwag_proto::server::{Message, MessageKind, NoticeKind};
use chinwag_server::Config;
use common::*;

const PW: &str = "alice-secret";

fn code(result: Result<impl std::fmt::Debug, ClientError>) -> ErrorCode {
    result.unwrap_err().code().expect("a server error")
}

/// The next message, skipping notices.
async fn message(events: &mut Events) -> Message {
    wait_for(events, |e| match e {
        Event::Message(m) => Some(m),
        _ => None,
    })
    .await
}

/// Nothing is waiting: a PING round trip drains what the server sent
/// before it, and no event came.
async fn nothing_more(client: &chinwag_client::Client, events: &mut Events, what: &str) {
    client.ping().await.unwrap();
    if let Some(event) = events.try_recv() {
        panic!("{what}: unexpected {event:?}");
    }
}

/// A session of alice's account, as a client that shares it (the
/// library's default) or not.
async fn alice(
    server: &TestServer,
    shared: bool,
) -> Result<(chinwag_client::Client, Events), ClientError> {
    let (client, events) = connect(server).await;
    let options = RegisterOptions {
        multi_session: shared,
        ..RegisterOptions::default()
    };
    client.register_with("alice", Some(PW), &options).await?;
    Ok((client, events))
}

#[tokio::test]
async fn every_session_gets_the_messages_and_sees_what_the_others_send() {
    let server = start().await;
    let (bob, mut bob_events) = user(&server, "bob").await;
    let (laptop, mut laptop_events) = alice(&server, true).await.unwrap();
    let joined = notice(&mut bob_events, NoticeKind::Joined).await;
    assert_eq!(&*joined.subject, "alice");
    let (phone, mut phone_events) = alice(&server, true).await.unwrap();

    // Direct messages reach both sessions.
    bob.send("alice", "hi alice").await.unwrap();
    for events in [&mut laptop_events, &mut phone_events] {
        let got = message(events).await;
        assert_eq!((&*got.from, &*got.text), ("bob", "hi alice"));
    }

    // What one session sends, the other sees as its own.
    let sent = laptop.send("bob", "hello from the laptop").await.unwrap();
    let to_bob = message(&mut bob_events).await;
    let echoed = message(&mut phone_events).await;
    assert_eq!(echoed, to_bob, "the very same message, id and all");
    assert_eq!(echoed.id, sent.id);
    assert_eq!((&*echoed.from, &*echoed.to), ("alice", "bob"));
    nothing_more(&laptop, &mut laptop_events, "the sending session").await;

    // Broadcasts: the other session sees it, the sender does not, and the
    // count is of other users.
    let sent = phone.broadcast("hello all").await.unwrap();
    assert_eq!(sent.recipients, 1, "bob; alice's laptop is alice");
    assert_eq!(
        message(&mut laptop_events).await.kind,
        MessageKind::Broadcast
    );
    assert_eq!(&*message(&mut bob_events).await.text, "hello all");
    nothing_more(&phone, &mut phone_events, "the broadcasting session").await;

    // Rooms: membership is the account's, so both sessions are in it.
    laptop.join("#team", None).await.unwrap();
    bob.join("#team", None).await.unwrap();
    bob.say("#team", "standup?").await.unwrap();
    for events in [&mut laptop_events, &mut phone_events] {
        let got = message(events).await;
        assert_eq!((&*got.to, &*got.text), ("#team", "standup?"));
    }
    let sent = phone.say("#team", "in 5").await.unwrap();
    assert_eq!(sent.recipients, 1, "bob");
    assert_eq!(&*message(&mut laptop_events).await.text, "in 5");
    assert_eq!(&*message(&mut bob_events).await.text, "in 5");

    // Others saw alice come online once, and see her leave once: LOGOUT
    // ends one session, the account stays online from the other.
    laptop.logout().await.unwrap();
    bob.send("alice", "still there?").await.unwrap();
    assert_eq!(&*message(&mut phone_events).await.text, "still there?");
    let online: Vec<String> = bob
        .users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name.to_string())
        .collect();
    assert_eq!(online, ["alice", "bob"]);
    phone.logout().await.unwrap();
    let left = notice(&mut bob_events, NoticeKind::Left).await;
    assert_eq!(&*left.subject, "alice");
    let notices: Vec<_> = std::iter::from_fn(|| bob_events.try_recv())
        .filter(|e| matches!(e, Event::Notice(n) if n.subject == "alice"))
        .collect();
    assert!(
        notices.is_empty(),
        "one join and one leave only: {notices:?}"
    );
}

#[tokio::test]
async fn a_kick_ends_every_session() {
    let server = start().await;
    let (root, _root_events) = admin(&server, "root").await;
    let (_laptop, mut laptop_events) = alice(&server, true).await.unwrap();
    let (_phone, mut phone_events) = alice(&server, true).await.unwrap();
    root.kick("alice", "enough").await.unwrap();
    for events in [&mut laptop_events, &mut phone_events] {
        let kicked = notice(events, NoticeKind::Kicked).await;
        assert_eq!(&*kicked.text, "enough");
        closed(events).await;
    }
    assert!(
        root.users()
            .await
            .unwrap()
            .iter()
            .all(|u| u.name != "alice")
    );
    // The name is free again for a new login.
    alice(&server, true).await.unwrap();
}

#[tokio::test]
async fn a_client_that_does_not_share_keeps_the_account_to_itself() {
    let server = start().await;
    // Alone first: nobody else may join it, sharing or not.
    let (alone, _e) = alice(&server, false).await.unwrap();
    assert_eq!(code(alice(&server, true).await), ErrorCode::NameTaken);
    assert_eq!(code(alice(&server, false).await), ErrorCode::NameTaken);
    alone.logout().await.unwrap();
    // Shared first: a client that wants it alone cannot have it.
    let (_shared, _e) = alice(&server, true).await.unwrap();
    assert_eq!(code(alice(&server, false).await), ErrorCode::NameTaken);
    // A wrong password never joins a session, even with the name online.
    let (intruder, _e) = connect(&server).await;
    assert_eq!(
        code(intruder.register("alice", Some("not-the-password")).await),
        ErrorCode::BadPassword
    );
    // Guests have one session per name.
    let (_guest, _e) = user(&server, "carol").await;
    let (second, _e) = connect(&server).await;
    assert_eq!(
        code(second.register("carol", None).await),
        ErrorCode::NameTaken
    );
}

#[tokio::test]
async fn sessions_are_limited_per_account() {
    let server = start_with(Config {
        max_sessions: 2,
        ..config()
    })
    .await;
    let _one = alice(&server, true).await.unwrap();
    let _two = alice(&server, true).await.unwrap();
    assert_eq!(code(alice(&server, true).await), ErrorCode::NameTaken);
}

#[tokio::test]
async fn offline_messages_go_to_the_sessions_that_take_them() {
    let server = start().await;
    let (first, _e) = alice(&server, true).await.unwrap();
    first.logout().await.unwrap();
    let (bob, _bob_events) = user(&server, "bob").await;
    let sent = bob.send("alice", "while you were out").await.unwrap();
    assert_eq!(sent.status, chinwag_proto::server::DeliveryStatus::Queued);
    // A one-shot session (it shows no messages) leaves the queue alone;
    // the next one that shows messages gets it, once.
    let (oneshot, mut oneshot_events) = connect(&server).await;
    let options = RegisterOptions {
        take_offline: false,
        ..RegisterOptions::default()
    };
    oneshot
        .register_with("alice", Some(PW), &options)
        .await
        .unwrap();
    let (_ui, mut ui_events) = alice(&server, true).await.unwrap();
    let got = message(&mut ui_events).await;
    assert_eq!((got.id, &*got.text), (sent.id, "while you were out"));
    nothing_more(&oneshot, &mut oneshot_events, "the one-shot session").await;
}

#[tokio::test]
async fn the_user_list_says_how_many_sessions_and_when_each_user_last_spoke() {
    let server = start().await;
    let (bob, _bob_events) = user(&server, "bob").await;
    let (laptop, _l) = alice(&server, true).await.unwrap();
    let (_phone, _p) = alice(&server, true).await.unwrap();
    let listed = |users: &[chinwag_client::UserInfo], name: &str| {
        let user = users.iter().find(|u| &*u.name == name).unwrap();
        (user.sessions, user.last_spoke.0)
    };
    let users = bob.users().await.unwrap();
    assert_eq!(
        listed(&users, "alice"),
        (2, 0),
        "two sessions, silent so far"
    );
    let sent = laptop.send("bob", "hi").await.unwrap();
    let users = bob.users().await.unwrap();
    let (sessions, last_spoke) = listed(&users, "alice");
    assert_eq!(sessions, 2);
    assert!(last_spoke >= sent.ts.0.saturating_sub(1_000) && last_spoke <= sent.ts.0);
    assert_eq!(listed(&users, "bob"), (1, 0));
}
