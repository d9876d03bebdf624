//! Slow readers catch up from history instead of being disconnected
//! (protocol.md, NOTICE CatchUp): a reader that stops reading while others
//! send far more than its queue holds gets every message exactly once, in
//! order, once it reads again; others are unaffected; the server's queue
//! for it stays bounded. Readers that cannot catch up are disconnected.

mod common;

use chinwag_client::{Client, ConnectOptions, ErrorCode, Event, Events, NoticeKind};
use chinwag_proto::request::{History, MY_CONVERSATIONS, Request};
use chinwag_proto::{RequestId, ServerFrame};
use chinwag_server::Config;
use common::raw::Raw;
use common::*;

const OUTBOX_FRAMES: usize = 64;
const OUTBOX_BYTES: usize = 64 * 1024;
/// A bound on how many messages a test sends, so it ends by itself.
const MAX_SENDS: usize = 10_000;

async fn server() -> TestServer {
    start_with(Config {
        outbox_frames: OUTBOX_FRAMES,
        outbox_bytes: OUTBOX_BYTES,
        durability: chinwag_server::store::Durability::Normal,
        ..config()
    })
    .await
}

/// A client library connection with a small socket receive buffer and a
/// small event buffer: when the test stops taking its events it stops
/// reading its socket at once, and the server's queue for it fills.
async fn slow_reader(server: &TestServer, name: &str, password: Option<&str>) -> (Client, Events) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(server.addr).await.unwrap();
    let opts = ConnectOptions {
        event_buffer: 4,
        ..ConnectOptions::default()
    };
    let (client, events) = Client::connect_stream(stream, opts).await.unwrap();
    client.register(name, password).await.unwrap();
    // The client told the server it can catch up (HISTORY @me) before
    // this PING, and the server handles requests in order.
    client.ping().await.unwrap();
    (client, events)
}

fn metric(server: &TestServer, pick: impl Fn(&chinwag_server::metrics::Metrics) -> u64) -> u64 {
    pick(&server.handle.state().metrics)
}

/// The reader's queues on the server never hold more than their bounds.
fn assert_bounded(server: &TestServer, name: &str) {
    if let Some(peer) = server.handle.state().users.get(name) {
        for session in peer.sessions().iter() {
            let (frames, bytes) = session.outbox.queued();
            assert!(
                frames <= OUTBOX_FRAMES && bytes <= OUTBOX_BYTES,
                "{frames} frames, {bytes} bytes"
            );
        }
    }
}

/// Broadcasts numbered texts until `stop` holds and then `extra` more;
/// returns the ids of the messages, in order.
async fn broadcast_until(
    sender: &Client,
    server: &TestServer,
    reader: &str,
    extra: usize,
    stop: impl Fn() -> bool,
) -> Vec<u64> {
    let pad = "x".repeat(1000);
    let mut ids = Vec::new();
    let mut after_stop = None;
    while after_stop != Some(0) {
        assert!(ids.len() < MAX_SENDS, "the reader never fell behind");
        let sent = sender
            .broadcast(&format!("{} {pad}", ids.len()))
            .await
            .unwrap();
        ids.push(sent.id.0);
        assert_bounded(server, reader);
        after_stop = match after_stop {
            None if stop() => Some(extra),
            None => None,
            Some(n) => Some(n - 1),
        };
    }
    ids
}

/// Reads messages until the one with id `last`; returns their ids and the
/// text of the CatchUp notice, if one came.
async fn read_until(
    events: &mut Events,
    last: u64,
    expect_notice: bool,
) -> (Vec<u64>, Option<String>) {
    let mut ids = Vec::new();
    let mut caught_up = None;
    loop {
        match next_event(events).await {
            Event::Message(m) => {
                ids.push(m.id.0);
                if m.id.0 == last {
                    break;
                }
            }
            Event::Notice(n) if n.kind == NoticeKind::CatchUp => {
                caught_up = Some(n.text.to_string())
            }
            Event::Notice(_) => {}
            other => panic!("{other:?} after {} messages", ids.len()),
        }
    }
    // When the last message came from history, the notice that ends the
    // catch-up follows it.
    if expect_notice && caught_up.is_none() {
        caught_up = Some(notice(events, NoticeKind::CatchUp).await.text.to_string());
    }
    (ids, caught_up)
}

async fn a_slow_reader_becomes_a_late_reader(password: Option<&str>) {
    let server = server().await;
    let (bob, mut bob_events) = slow_reader(&server, "bob", password).await;
    let (_carol, mut carol_events) = user(&server, "carol").await;
    let (alice, _alice_events) = user(&server, "alice").await;
    // Carol reads as she should, all along, up to the last message.
    let carol_reads = tokio::spawn(async move {
        let mut ids = Vec::new();
        loop {
            if let Event::Message(m) = next_event(&mut carol_events).await {
                ids.push(m.id.0);
                if &*m.text == "after" {
                    return ids;
                }
            }
        }
    });

    // Bob reads nothing while alice sends; once he fell behind, she sends
    // as much again as his queue holds, twice over.
    let sent = broadcast_until(&alice, &server, "bob", 2 * OUTBOX_FRAMES, || {
        server.handle.state().metrics.catch_ups.get() > 0
    })
    .await;
    assert!(sent.len() > OUTBOX_FRAMES);
    assert!(
        server.handle.state().users.get("bob").is_some(),
        "bob is still online"
    );

    // Bob reads again: every message, once, in order, the missed ones
    // from history.
    let (got, notice) = read_until(&mut bob_events, *sent.last().unwrap(), true).await;
    assert_eq!(got, sent);
    let notice = notice.expect("a CatchUp notice");
    assert!(notice.starts_with("caught up on "), "{notice}");
    assert!(bob.caught_up() > 0);
    eprintln!(
        "sent {}, bob {notice} from history, queue dropped {} messages",
        sent.len(),
        metric(&server, |m| m.catch_up_dropped.get())
    );
    // And live again afterwards.
    let more = alice.broadcast("after").await.unwrap();
    let (got, _) = read_until(&mut bob_events, more.id.0, false).await;
    assert_eq!(got, [more.id.0]);

    // Carol was never affected.
    let mut expected = sent.clone();
    expected.push(more.id.0);
    let carol_got = carol_reads.await.unwrap();
    assert_eq!(carol_got, expected);

    assert_eq!(metric(&server, |m| m.slow_consumer_disconnects.get()), 0);
    assert!(metric(&server, |m| m.catch_up_dropped.get()) > 0);
    server.stop().await;
}

#[tokio::test]
async fn an_account_that_stops_reading_catches_up_on_everything() {
    a_slow_reader_becomes_a_late_reader(Some("bob-password")).await;
}

#[tokio::test]
async fn a_guest_that_stops_reading_catches_up_on_broadcasts() {
    a_slow_reader_becomes_a_late_reader(None).await;
}

#[tokio::test]
async fn an_account_catches_up_on_direct_messages_too() {
    let server = server().await;
    let (bob, mut bob_events) = slow_reader(&server, "bob", Some("bob-password")).await;
    let (alice, _alice_events) = account(&server, "alice", "alice-password").await;
    let pad = "y".repeat(1000);
    let mut sent = Vec::new();
    let mut extra = None;
    while extra != Some(0) {
        assert!(sent.len() < MAX_SENDS, "bob never fell behind");
        // Delivered live, or (while bob catches up) queued for him.
        let reply = alice
            .send("bob", &format!("{} {pad}", sent.len()))
            .await
            .unwrap();
        sent.push(reply.id.0);
        extra = match extra {
            None if server.handle.state().metrics.catch_ups.get() > 0 => Some(OUTBOX_FRAMES),
            None => None,
            Some(n) => Some(n - 1),
        };
    }
    let (got, notice) = read_until(&mut bob_events, *sent.last().unwrap(), true).await;
    assert_eq!(got, sent);
    assert!(notice.is_some());
    assert!(bob.caught_up() > 0);
    server.stop().await;
}

#[tokio::test]
async fn an_account_catches_up_on_its_rooms_too() {
    let server = server().await;
    let (bob, mut bob_events) = slow_reader(&server, "bob", Some("bob-password")).await;
    let (alice, _alice_events) = account(&server, "alice", "alice-password").await;
    alice.join("#general", None).await.unwrap();
    // Bob's own join reply comes back even though he reads no events.
    bob.join("#general", None).await.unwrap();
    let pad = "r".repeat(1000);
    let mut sent = Vec::new();
    let mut extra = None;
    while extra != Some(0) {
        assert!(sent.len() < MAX_SENDS, "bob never fell behind");
        let reply = alice
            .say("#general", &format!("{} {pad}", sent.len()))
            .await
            .unwrap();
        sent.push(reply.id.0);
        assert_bounded(&server, "bob");
        extra = match extra {
            None if server.handle.state().metrics.catch_ups.get() > 0 => Some(OUTBOX_FRAMES),
            None => None,
            Some(n) => Some(n - 1),
        };
    }
    let (got, notice) = read_until(&mut bob_events, *sent.last().unwrap(), true).await;
    assert_eq!(got, sent, "every room message once, in order");
    assert!(notice.is_some());
    assert!(bob.caught_up() > 0);
    assert_eq!(metric(&server, |m| m.slow_consumer_disconnects.get()), 0);
    server.stop().await;
}

#[tokio::test]
async fn a_guest_that_would_lose_direct_messages_is_disconnected() {
    let server = server().await;
    let (_bob, mut bob_events) = slow_reader(&server, "bob", None).await;
    let (alice, _alice_events) = user(&server, "alice").await;
    let pad = "z".repeat(1000);
    let mut sent = 0;
    // A guest cannot read its direct messages in history: it cannot
    // catch up on them.
    while server.handle.state().users.get("bob").is_some() {
        assert!(sent < MAX_SENDS, "bob was never cut off");
        match alice.send("bob", &format!("{sent} {pad}")).await {
            Ok(_) => {}
            Err(e) => assert!(
                matches!(
                    e.code(),
                    Some(ErrorCode::Undeliverable | ErrorCode::NoSuchUser)
                ),
                "{e}"
            ),
        }
        sent += 1;
        assert_bounded(&server, "bob");
    }
    let code = wait_for(&mut bob_events, |e| match e {
        Event::Error { code, .. } => Some(code),
        _ => None,
    })
    .await;
    assert_eq!(code, ErrorCode::SlowConsumer);
    closed(&mut bob_events).await;
    assert_eq!(metric(&server, |m| m.slow_consumer_disconnects.get()), 1);
    assert_eq!(metric(&server, |m| m.catch_ups.get()), 0);
    server.stop().await;
}

/// Reads frames until one matches.
async fn raw_until<T>(
    raw: &mut Raw,
    mut pick: impl FnMut(RequestId, ServerFrame) -> Option<T>,
) -> T {
    loop {
        let (id, frame) = raw.recv().await;
        if let Some(found) = pick(id, frame) {
            return found;
        }
    }
}

fn history_me(after: u64) -> Request {
    Request::History(History {
        src: "".into(),
        dst: MY_CONVERSATIONS.into(),
        before: 0,
        after,
        limit: 1,
    })
}

#[tokio::test]
async fn a_reader_that_keeps_falling_behind_is_disconnected() {
    let server = server().await;
    let mut bob = Raw::connect_small_buffer(&server)
        .await
        .register("bob")
        .await;
    let (alice, _alice_events) = user(&server, "alice").await;
    // Bob can catch up: he asks for HISTORY @me.
    bob.send(3, history_me(0)).await;
    let reply = raw_until(&mut bob, |id, f| (id.0 == 3).then_some(f)).await;
    assert!(matches!(reply, ServerFrame::HistoryPage(_)), "{reply:?}");

    let max = chinwag_server::catchup::MAX_CATCH_UPS as u64;
    for round in 1..=max {
        // He stops reading until he has fallen behind once more...
        broadcast_until(&alice, &server, "bob", 0, || {
            server.handle.state().metrics.catch_ups.get() == round
        })
        .await;
        let resume = raw_until(&mut bob, |_, f| match f {
            ServerFrame::Notice(n) if n.kind == NoticeKind::CatchUp => Some(n.until),
            _ => None,
        })
        .await;
        // ...then asks for what he missed, which resumes live delivery.
        let id = 10 + round as u32;
        bob.send(id, history_me(resume)).await;
        raw_until(&mut bob, |got, _| (got.0 == id).then_some(())).await;
    }
    // Once more within the minute: cut off.
    broadcast_until(&alice, &server, "bob", 0, || {
        server.handle.state().users.get("bob").is_none()
    })
    .await;
    let code = raw_until(&mut bob, |_, f| match f {
        ServerFrame::Error { code, .. } => Some(code),
        _ => None,
    })
    .await;
    assert_eq!(code, ErrorCode::SlowConsumer);
    assert_eq!(metric(&server, |m| m.catch_ups.get()), max);
    assert_eq!(metric(&server, |m| m.slow_consumer_disconnects.get()), 1);
    server.stop().await;
}
