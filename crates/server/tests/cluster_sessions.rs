//! One account online from several sessions on different nodes, as on
//! one server: three real nodes (see `common::trio`). Its direct messages
//! reach every session on every node, its own sends are echoed to its
//! sessions elsewhere, every node lists it once, everyone sees it come
//! with its first session anywhere and go with its last, a guest cannot
//! take its name while any session is online, a kick puts out every
//! session, and a node that dies takes only its own sessions with it.
//! Every wait is a polling deadline.

mod common;

use std::ops::Deref;

use chinwag_client::{Client, Event, Events};
use chinwag_proto::ErrorCode;
use chinwag_proto::server::{DeliveryStatus, Message, Notice, NoticeKind, Role};
use common::cluster::eventually;
use common::trio::{Trio, admin, code, connect, user};
use common::{PATIENCE, closed, notice, wait_for};

const PW: &str = "alice-password-1";

/// A session of alice's account on `node`.
async fn alice(trio: &Trio, node: usize) -> (Client, Events) {
    let (client, events) = connect(trio.addr(node)).await;
    client.register("alice", Some(PW)).await.unwrap();
    (client, events)
}

/// The next message, skipping notices.
async fn message(events: &mut Events) -> Message {
    wait_for(events, |e| match e {
        Event::Message(m) => Some(m),
        _ => None,
    })
    .await
}

/// The next Joined or Left notice.
async fn presence(events: &mut Events) -> Notice {
    wait_for(events, |e| match e {
        Event::Notice(n) if matches!(n.kind, NoticeKind::Joined | NoticeKind::Left) => Some(n),
        _ => None,
    })
    .await
}

/// The next Joined or Left notice about alice.
async fn alice_came_or_went(events: &mut Events) -> Notice {
    loop {
        let seen = presence(events).await;
        if seen.subject.deref() == "alice" {
            return seen;
        }
    }
}

/// Registers a guest called `marker` on `node` and waits until `events`
/// shows it came: returns the presence notices about alice seen before.
/// A node sends what is for every node in order, so anything it said
/// about alice before the marker arrives first.
async fn until_marker(trio: &Trio, node: usize, marker: &str, events: &mut Events) -> Vec<Notice> {
    let (_marker, _) = user(trio.addr(node), marker).await;
    let mut about_alice = Vec::new();
    loop {
        let seen = presence(events).await;
        if seen.subject.deref() == marker {
            assert_eq!(seen.kind, NoticeKind::Joined);
            return about_alice;
        }
        if seen.subject.deref() == "alice" {
            about_alice.push(seen);
        }
    }
}

/// Whether the message `id` arrives on `events` within a second (earlier
/// ones are skipped).
async fn got_within(events: &mut Events, id: chinwag_proto::server::MessageId) -> bool {
    let wait = async { while message(events).await.id != id {} };
    tokio::time::timeout(std::time::Duration::from_secs(1), wait)
        .await
        .is_ok()
}

/// How many times `client`'s GETALLUSER lists `name`.
async fn listed(client: &Client, name: &str) -> usize {
    client
        .users()
        .await
        .unwrap()
        .iter()
        .filter(|u| u.name.deref() == name)
        .count()
}

/// Waits until `client` lists `name` `times` times.
async fn until_listed_times(client: &Client, name: &str, times: usize) {
    eventually(
        PATIENCE,
        &format!("{name} listed {times} times"),
        || async { (listed(client, name).await == times).then_some(()) },
    )
    .await;
}

#[tokio::test]
async fn an_account_on_two_nodes_is_one_user_everywhere() {
    let trio = Trio::start().await;
    let (carol, mut carol_events) = user(trio.addr(2), "carol").await;

    // alice on n1 (the account is created), then on n2: carol sees her
    // come once, and every node lists her once.
    let (a1, mut a1_events) = alice(&trio, 0).await;
    let joined = alice_came_or_went(&mut carol_events).await;
    assert_eq!(
        (joined.kind, joined.subject.deref()),
        (NoticeKind::Joined, "alice")
    );
    let (a2, mut a2_events) = alice(&trio, 1).await;
    assert!(
        until_marker(&trio, 1, "mark1", &mut carol_events)
            .await
            .is_empty(),
        "a second session elsewhere is no new arrival"
    );
    until_listed_times(&carol, "alice", 1).await;
    assert_eq!(listed(&a1, "alice").await, 1);
    assert_eq!(listed(&a2, "alice").await, 1);

    // A guest cannot take her name on any node while she is online (an
    // online name is taken; offline, the account needs its password).
    for node in 0..3 {
        let (guest, _) = connect(trio.addr(node)).await;
        let refused = code(guest.register("alice", None).await.unwrap_err());
        assert_eq!(refused, ErrorCode::NameTaken, "node {node}");
    }

    // A message from n3 reaches both sessions, under one id, delivered.
    let sent = carol.send("alice", "hello both").await.unwrap();
    assert_eq!(sent.status, DeliveryStatus::Delivered);
    for events in [&mut a1_events, &mut a2_events] {
        let got = message(events).await;
        assert_eq!((got.id, got.text.deref()), (sent.id, "hello both"));
    }

    // What she sends from n1 reaches carol and her session on n2.
    let mine = a1.send("carol", "from the laptop").await.unwrap();
    assert_eq!(mine.status, DeliveryStatus::Delivered);
    let got = message(&mut carol_events).await;
    assert_eq!((got.id, got.from.deref()), (mine.id, "alice"));
    let echoed = message(&mut a2_events).await;
    assert_eq!(
        (echoed.id, echoed.to.deref(), echoed.text.deref()),
        (mine.id, "carol", "from the laptop")
    );

    // Leaving n1 is no departure: she is still on n2, and listed.
    a1.logout().await.unwrap();
    assert!(
        until_marker(&trio, 0, "mark2", &mut carol_events)
            .await
            .is_empty(),
        "left with a session still online elsewhere"
    );
    assert_eq!(listed(&carol, "alice").await, 1);
    let still = carol.send("alice", "still there?").await.unwrap();
    assert_eq!(still.status, DeliveryStatus::Delivered);
    assert_eq!(message(&mut a2_events).await.id, still.id);

    // Leaving n2, her last session, is.
    a2.logout().await.unwrap();
    let left = alice_came_or_went(&mut carol_events).await;
    assert_eq!(
        (left.kind, left.subject.deref()),
        (NoticeKind::Left, "alice")
    );
    until_listed_times(&carol, "alice", 0).await;

    // Back on both, and gone from both at the same moment: one arrival,
    // one departure.
    let (a1, _) = alice(&trio, 0).await;
    let (a2, _) = alice(&trio, 1).await;
    let mut came = until_marker(&trio, 0, "mark3", &mut carol_events).await;
    came.extend(until_marker(&trio, 1, "mark4", &mut carol_events).await);
    assert_eq!(came.len(), 1, "one arrival for two sessions: {came:?}");
    let (out1, out2) = tokio::join!(a1.logout(), a2.logout());
    out1.unwrap();
    out2.unwrap();
    let left = alice_came_or_went(&mut carol_events).await;
    assert_eq!(left.kind, NoticeKind::Left);
    until_listed_times(&carol, "alice", 0).await;
    for (node, marker) in [(0, "mark5"), (1, "mark6")] {
        let more = until_marker(&trio, node, marker, &mut carol_events).await;
        assert!(more.is_empty(), "node {node} told of alice again: {more:?}");
    }

    // Back on n1 and n2: an admin on n3 kicks her; both sessions are put
    // out, and everyone is told she left once.
    let (_a1, mut a1_events) = alice(&trio, 0).await;
    let (a2, mut a2_events) = alice(&trio, 1).await;
    let (root, _) = admin(trio.addr(2), "root").await;
    let mut came = until_marker(&trio, 0, "mark7", &mut carol_events).await;
    came.extend(until_marker(&trio, 1, "mark8", &mut carol_events).await);
    assert_eq!(came.len(), 1, "one arrival for two sessions: {came:?}");
    assert_eq!(came[0].kind, NoticeKind::Joined);
    // A mute from n3 holds on both sessions, and so does its lifting.
    root.mute("alice", None, "hush").await.unwrap();
    for events in [&mut a1_events, &mut a2_events] {
        assert_eq!(notice(events, NoticeKind::Muted).await.text.deref(), "hush");
    }
    assert!(a2.send("carol", "muted?").await.is_err());
    root.unmute("alice").await.unwrap();
    for events in [&mut a1_events, &mut a2_events] {
        notice(events, NoticeKind::Unmuted).await;
    }
    root.kick("alice", "enough").await.unwrap();
    for events in [&mut a1_events, &mut a2_events] {
        let kicked = notice(events, NoticeKind::Kicked).await;
        assert_eq!(kicked.text.deref(), "enough");
        closed(events).await;
    }
    let left = alice_came_or_went(&mut carol_events).await;
    assert_eq!(
        (left.kind, left.subject.deref()),
        (NoticeKind::Left, "alice")
    );
    for (node, marker) in [(0, "mark9"), (1, "mark10")] {
        let more = until_marker(&trio, node, marker, &mut carol_events).await;
        assert!(more.is_empty(), "node {node} told of alice again: {more:?}");
    }
    until_listed_times(&carol, "alice", 0).await;

    // Back again, and banned: both sessions are put out, and everyone is
    // told she left once.
    let (_a1, mut a1_events) = alice(&trio, 0).await;
    let (_a2, mut a2_events) = alice(&trio, 1).await;
    assert_eq!(
        alice_came_or_went(&mut carol_events).await.kind,
        NoticeKind::Joined
    );
    until_listed_times(&root, "alice", 1).await;
    root.ban("alice", None, "gone for good").await.unwrap();
    for events in [&mut a1_events, &mut a2_events] {
        notice(events, NoticeKind::Banned).await;
        closed(events).await;
    }
    let left = alice_came_or_went(&mut carol_events).await;
    assert_eq!(left.kind, NoticeKind::Left);
    for (node, marker) in [(0, "mark11"), (1, "mark12")] {
        let more = until_marker(&trio, node, marker, &mut carol_events).await;
        assert!(more.is_empty(), "node {node} told of alice again: {more:?}");
    }
    until_listed_times(&carol, "alice", 0).await;
}

#[tokio::test]
async fn a_dead_node_takes_only_its_own_sessions() {
    let mut trio = Trio::start().await;
    let (carol, mut carol_events) = user(trio.addr(2), "carol").await;
    let (_a1, mut a1_events) = alice(&trio, 0).await;
    let joined = alice_came_or_went(&mut carol_events).await;
    assert_eq!(joined.kind, NoticeKind::Joined);
    let (_a2, _) = alice(&trio, 1).await;
    let (_zed, _) = user(trio.addr(1), "zed").await;
    until_listed_times(&carol, "zed", 1).await;
    until_listed_times(&carol, "alice", 1).await;

    // n2 dies: its guest goes once its names are reaped; alice stays, on
    // n1, listed and reachable.
    trio.nodes[1].child.kill().unwrap();
    let _ = trio.nodes[1].child.wait();
    loop {
        let seen = presence(&mut carol_events).await;
        assert_ne!(seen.subject.deref(), "alice", "{seen:?}");
        if (seen.kind, seen.subject.deref()) == (NoticeKind::Left, "zed") {
            break;
        }
    }
    until_listed_times(&carol, "zed", 0).await;
    assert_eq!(listed(&carol, "alice").await, 1);
    let sent = carol.send("alice", "are you there?").await.unwrap();
    assert_eq!(sent.status, DeliveryStatus::Delivered);
    assert_eq!(message(&mut a1_events).await.id, sent.id);

    // Her name is still online: a guest cannot take it.
    let (guest, _) = connect(trio.addr(2)).await;
    let refused = code(guest.register("alice", None).await.unwrap_err());
    assert_eq!(refused, ErrorCode::NameTaken);
}

#[tokio::test]
async fn both_nodes_claim_the_account_again_after_nats_lost_its_data() {
    let mut trio = Trio::start().await;
    let (carol, _carol_events) = user(trio.addr(2), "carol").await;
    let (_a1, mut a1_events) = alice(&trio, 0).await;
    let (_a2, mut a2_events) = alice(&trio, 1).await;
    until_listed_times(&carol, "alice", 1).await;

    trio.nats.stop();
    trio.nats.wipe();
    trio.nats.resume();
    // Each node claims her again, the second joining the first's record:
    // she is listed once, a message reaches both sessions, and her name
    // is still taken.
    let deadline = std::time::Instant::now() + PATIENCE * 3;
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "alice's sessions were not reached again"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let Ok(sent) = carol.send("alice", "after the outage").await else {
            continue;
        };
        let mut reached = 0;
        for events in [&mut a1_events, &mut a2_events] {
            if got_within(events, sent.id).await {
                reached += 1;
            }
        }
        if reached == 2 && listed(&carol, "alice").await == 1 {
            break;
        }
    }
    let (guest, _) = connect(trio.addr(2)).await;
    assert_eq!(
        code(guest.register("alice", None).await.unwrap_err()),
        ErrorCode::NameTaken
    );
}

/// Whether `client` may act as an administrator (reading the audit log
/// is for administrators only).
async fn is_admin(client: &Client) -> bool {
    match client.audit(None, 1).await {
        Ok(_) => true,
        Err(error) => {
            assert_eq!(code(error), ErrorCode::Forbidden);
            false
        }
    }
}

#[tokio::test]
async fn admin_in_one_session_elevates_the_account_on_every_node() {
    let trio = Trio::start().await;
    let (carol, _carol_events) = user(trio.addr(2), "carol").await;
    let (a1, _a1_events) = alice(&trio, 0).await;
    let (a2, _a2_events) = alice(&trio, 1).await;
    until_listed_times(&carol, "alice", 1).await;
    assert!(!is_admin(&a1).await && !is_admin(&a2).await);

    // ADMIN on n1: her session on n2 is an administrator too, as every
    // session of an account is on one server, and n3 lists her as one.
    a1.admin(common::trio::PASSWORD).await.unwrap();
    eventually(PATIENCE, "alice elevated on n2", || async {
        is_admin(&a2).await.then_some(())
    })
    .await;
    eventually(PATIENCE, "n3 lists alice as an administrator", || async {
        let users = carol.users().await.unwrap();
        users
            .iter()
            .any(|u| u.name.deref() == "alice" && u.role == Role::Admin)
            .then_some(())
    })
    .await;

    // A session she opens on n3 afterwards joins an administrator.
    let (a3, _a3_events) = alice(&trio, 2).await;
    assert!(is_admin(&a3).await);
}
