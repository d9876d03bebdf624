//! History, offline delivery and storage failures, against a real server
//! on loopback (restarted on the same data directory where it matters).

mod common;

use std::sync::Arc;

use chinwag_client::{ClientError, Event, HistoryQuery, Message, RegisterOptions};
use chinwag_proto::ErrorCode;
use chinwag_proto::server::{DeliveryStatus, MessageKind};
use chinwag_server::Server;
use chinwag_server::store::{Durability, SqliteStore};
use common::*;
use tokio::net::TcpListener;

fn code(result: Result<impl std::fmt::Debug, ClientError>) -> ErrorCode {
    result.unwrap_err().code().expect("a server error")
}

fn texts(page: &[Message]) -> Vec<&str> {
    page.iter().map(|m| &*m.text).collect()
}

async fn next_message(events: &mut chinwag_client::Events) -> Message {
    wait_for(events, |e| match e {
        Event::Message(m) => Some(m),
        _ => None,
    })
    .await
}

#[tokio::test]
async fn history_pages_back_and_forth_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path()).await;
    let (alice, _) = account(&server, "alice", "alice-secret").await;
    let (bob, _) = account(&server, "bob", "bob-secret").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let (from, to) = if i % 2 == 0 {
            (&alice, "bob")
        } else {
            (&bob, "alice")
        };
        ids.push(from.send(to, &format!("m{i}")).await.unwrap().id);
    }
    alice.broadcast("to everyone").await.unwrap();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids grow");
    alice.logout().await.unwrap();
    bob.logout().await.unwrap();
    server.stop().await;

    let server = start_in(dir.path()).await;
    let (alice, _) = account(&server, "alice", "alice-secret").await;
    let newest = alice
        .history(&HistoryQuery::newest(Some("BOB"), 2))
        .await
        .unwrap();
    assert_eq!(texts(&newest), ["m4", "m3"], "newest first, any spelling");
    assert_eq!(newest[0].id, ids[4]);
    assert_eq!(&*newest[0].from, "alice");
    assert_eq!(&*newest[1].from, "bob");
    let older = alice
        .history(&HistoryQuery {
            before: Some(newest[1].id.0),
            ..HistoryQuery::newest(Some("bob"), 10)
        })
        .await
        .unwrap();
    assert_eq!(texts(&older), ["m2", "m1", "m0"]);
    let after = alice
        .history(&HistoryQuery {
            after: Some(ids[0].0),
            ..HistoryQuery::newest(Some("bob"), 2)
        })
        .await
        .unwrap();
    assert_eq!(texts(&after), ["m2", "m1"], "the two right after m0");
    let broadcasts = alice
        .history(&HistoryQuery::newest(None, 10))
        .await
        .unwrap();
    assert_eq!(texts(&broadcasts), ["to everyone"]);
    assert_eq!(broadcasts[0].kind, MessageKind::Broadcast);

    // A new message after the restart gets a larger id than all before.
    let sent = alice.send("bob", "after restart").await.unwrap();
    assert_eq!(sent.status, DeliveryStatus::Queued, "bob is offline");
    assert!(sent.id > ids[4]);

    // Only one's own conversations; guests read broadcasts only.
    let (carol, _) = account(&server, "carol", "carol-secret").await;
    assert!(
        carol
            .history(&HistoryQuery::newest(Some("bob"), 10))
            .await
            .unwrap()
            .is_empty(),
        "carol's conversation with bob is empty: she cannot read alice's"
    );
    let (guest, _) = user(&server, "guest").await;
    assert_eq!(
        code(
            guest
                .history(&HistoryQuery::newest(Some("alice"), 10))
                .await
        ),
        ErrorCode::AccountRequired
    );
    assert_eq!(
        guest.history(&HistoryQuery::newest(None, 1)).await.unwrap()[0].text,
        "to everyone"
    );
}

#[tokio::test]
async fn offline_messages_arrive_in_order_exactly_once_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path()).await;
    account(&server, "bob", "bob-secret")
        .await
        .0
        .logout()
        .await
        .unwrap();
    let (alice, _) = user(&server, "alice").await;
    let mut sent = Vec::new();
    for i in 0..3 {
        let s = alice.send("bob", &format!("while away {i}")).await.unwrap();
        assert_eq!(s.status, DeliveryStatus::Queued);
        assert_eq!(s.recipients, 0);
        sent.push(s);
    }
    // Not an account and not online: still nobody.
    assert_eq!(
        code(alice.send("nobody", "hello?").await),
        ErrorCode::NoSuchUser
    );
    alice.logout().await.unwrap();
    server.stop().await;

    let server = start_in(dir.path()).await;
    let (bob, mut events) = account(&server, "bob", "bob-secret").await;
    for (i, s) in sent.iter().enumerate() {
        let m = next_message(&mut events).await;
        assert_eq!(&*m.text, format!("while away {i}"));
        assert_eq!((m.id, m.ts), (s.id, s.ts), "the original id and time");
        assert_eq!(&*m.from, "alice");
        assert_eq!(m.kind, MessageKind::Direct);
    }
    // Live messages still flow, and nothing is delivered twice: not on
    // this connection, not on the next login.
    let (carol, _) = user(&server, "carol").await;
    carol.send("bob", "live").await.unwrap();
    assert_eq!(&*next_message(&mut events).await.text, "live");
    bob.logout().await.unwrap();
    let (bob, mut events) = account(&server, "bob", "bob-secret").await;
    carol.send("bob", "marker").await.unwrap();
    assert_eq!(
        &*next_message(&mut events).await.text,
        "marker",
        "no redelivery"
    );
    bob.logout().await.unwrap();
    server.stop().await;

    let server = start_in(dir.path()).await;
    let (_bob, mut events) = account(&server, "bob", "bob-secret").await;
    let (carol, _) = user(&server, "carol").await;
    carol.send("bob", "marker 2").await.unwrap();
    assert_eq!(
        &*next_message(&mut events).await.text,
        "marker 2",
        "no redelivery after a restart"
    );
}

#[tokio::test]
async fn a_connection_that_skips_the_offline_queue_leaves_it_for_the_next() {
    let server = start().await;
    account(&server, "bob", "bob-secret")
        .await
        .0
        .logout()
        .await
        .unwrap();
    let (alice, _) = user(&server, "alice").await;
    let sent = alice.send("bob", "while away").await.unwrap();
    assert_eq!(sent.status, DeliveryStatus::Queued);

    // A one-shot command logs in as bob and takes nothing.
    let (quick, mut quick_events) = connect(&server).await;
    let options = RegisterOptions {
        take_offline: false,
        multi_session: false,
        ..RegisterOptions::default()
    };
    quick
        .register_with("bob", Some("bob-secret"), &options)
        .await
        .unwrap();
    quick.echo("flush").await.unwrap();
    quick.logout().await.unwrap();
    while let Some(event) = quick_events.recv().await {
        assert!(
            !matches!(event, Event::Message(_)),
            "a connection that skips the queue got {event:?}"
        );
    }

    // The next ordinary login gets the message.
    let (_bob, mut events) = account(&server, "bob", "bob-secret").await;
    let m = next_message(&mut events).await;
    assert_eq!((&*m.text, m.id), ("while away", sent.id));
}

#[tokio::test]
async fn a_message_queued_while_the_recipient_logs_in_is_not_left_behind() {
    let server = start().await;
    account(&server, "bob", "bob-secret")
        .await
        .0
        .logout()
        .await
        .unwrap();
    let (alice, _) = user(&server, "alice").await;
    // Many sends in flight while bob logs in: each is delivered live or
    // from the queue, once, in order.
    let sends = {
        let alice = alice.clone();
        tokio::spawn(async move {
            let mut sent = Vec::new();
            for i in 0..200 {
                sent.push(alice.send("bob", &format!("n{i}")).await.unwrap().id);
            }
            sent
        })
    };
    let (_bob, mut events) = account(&server, "bob", "bob-secret").await;
    let sent = sends.await.unwrap();
    let mut got = Vec::new();
    while got.len() < sent.len() {
        got.push(next_message(&mut events).await.id);
    }
    let mut sorted = got.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, sent, "every message once");
}

#[tokio::test]
async fn a_full_disk_is_an_error_to_the_sender_and_the_server_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path(), Durability::Full).unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = Server::with_store(listener, config(), store.clone());
    let addr = server.local_addr().unwrap();
    let handle = server.handle();
    let task = tokio::spawn(server.run());
    let server = TestServer { addr, handle, task };
    // Accounts: a message between two guests, which no one reads back,
    // would be delivered unstored (docs/storage.md).
    let (alice, _) = account(&server, "alice", "alice-secret").await;
    let (_bob, mut bob_events) = account(&server, "bob", "bob-secret").await;
    let before = alice.send("bob", "fits").await.unwrap();
    next_message(&mut bob_events).await;

    // Cap the database at its current size: the next page it needs fails.
    let pages = {
        let conn = rusqlite::Connection::open(store.path()).unwrap();
        conn.query_row("PRAGMA page_count", [], |r| r.get::<_, i64>(0))
            .unwrap()
    };
    store.limit_pages(pages as u64).await.unwrap();
    let big = "x".repeat(4000);
    let mut failure = None;
    for _ in 0..64 {
        match alice.send("bob", &big).await {
            Ok(_) => {
                next_message(&mut bob_events).await;
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let failure = failure.expect("the database never filled up");
    assert_eq!(failure.code(), Some(ErrorCode::StorageFailure), "{failure}");
    // The connection and the server go on.
    alice.ping().await.unwrap();
    assert_eq!(alice.users().await.unwrap().len(), 2);
    // Nothing that failed was delivered: bob's next message is the next
    // success, once there is room again.
    store.limit_pages(1_000_000).await.unwrap();
    let after = alice.send("bob", "room again").await.unwrap();
    assert!(after.id > before.id);
    assert_eq!(&*next_message(&mut bob_events).await.text, "room again");
}

/// History belongs to accounts: what a guest called bob was sent is not
/// readable by whoever later creates the account bob, through its direct
/// conversation or `@me`; alice, who took part, still reads it.
#[tokio::test]
async fn a_later_account_does_not_read_a_guests_direct_messages() {
    let server = start().await;
    let (alice, _alice_events) = account(&server, "alice", "alice-secret").await;
    let (guest, _guest_events) = user(&server, "bob").await;
    alice.send("bob", "a secret for the guest").await.unwrap();
    guest.logout().await.unwrap();

    let (bob, _bob_events) = account(&server, "bob", "bob-secret").await;
    alice.send("bob", "hello, account").await.unwrap();
    let texts =
        |page: Vec<Message>| -> Vec<String> { page.iter().map(|m| m.text.to_string()).collect() };
    let direct = bob
        .history(&HistoryQuery::newest(Some("alice"), 50))
        .await
        .unwrap();
    assert_eq!(texts(direct), ["hello, account"]);
    let everything = chinwag_proto::Request::History(chinwag_proto::request::History {
        src: "".into(),
        dst: chinwag_proto::request::MY_CONVERSATIONS.into(),
        before: 0,
        after: 0,
        limit: 50,
    });
    let chinwag_proto::ServerFrame::HistoryPage(mine) = bob.request(everything).await.unwrap()
    else {
        panic!("a HISTORY_PAGE for @me");
    };
    assert!(
        mine.iter().all(|m| &*m.text != "a secret for the guest"),
        "{mine:?}"
    );
    let hers = alice
        .history(&HistoryQuery::newest(Some("bob"), 50))
        .await
        .unwrap();
    assert_eq!(texts(hers), ["hello, account", "a secret for the guest"]);
}

#[tokio::test]
async fn read_markers_are_the_accounts_and_follow_it_across_sessions_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path()).await;
    let (alice, _) = account(&server, "alice", "alice-secret").await;
    let (bob, _) = account(&server, "bob", "bob-secret").await;
    let first = bob.send("alice", "one").await.unwrap().id;
    let second = bob.send("alice", "two").await.unwrap().id;
    bob.send("alice", "three").await.unwrap();
    alice.join("#tea", None).await.unwrap();
    let in_room = alice.say("#tea", "hello room").await.unwrap().id;

    // alice has read two of bob's three; a late, older mark loses nothing.
    alice.mark_read(Some("Bob"), second).await.unwrap();
    alice.mark_read(Some("bob"), first).await.unwrap();
    alice.mark_read(Some("#tea"), in_room).await.unwrap();
    // Marks of what one cannot read are refused, as HISTORY would be.
    assert_eq!(
        code(bob.mark_read(Some("#tea"), in_room).await),
        ErrorCode::NotAMember
    );
    assert_eq!(
        code(alice.mark_read(Some("#nowhere"), in_room).await),
        ErrorCode::NoSuchRoom
    );
    assert_eq!(
        code(alice.mark_read(None, chinwag_proto::MessageId(0)).await),
        ErrorCode::InvalidArgument
    );
    let (guest, _) = user(&server, "guest").await;
    assert_eq!(
        code(guest.mark_read(None, first).await),
        ErrorCode::AccountRequired
    );
    assert_eq!(code(guest.read_markers().await), ErrorCode::AccountRequired);
    alice.logout().await.unwrap();
    server.stop().await;

    // After a restart, another session of alice finds the markers, and
    // what is unread after them.
    let server = start_in(dir.path()).await;
    let (alice, _) = account(&server, "alice", "alice-secret").await;
    let mut markers: Vec<(String, u64)> = alice
        .read_markers()
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.conversation.to_string(), m.id.0))
        .collect();
    markers.sort();
    assert_eq!(
        markers,
        [("#tea".to_owned(), in_room.0), ("bob".to_owned(), second.0)]
    );
    let unread = alice
        .history(&HistoryQuery {
            with: Some("bob"),
            before: None,
            after: Some(second.0),
            limit: 100,
        })
        .await
        .unwrap();
    assert_eq!(texts(&unread), ["three"]);
}
