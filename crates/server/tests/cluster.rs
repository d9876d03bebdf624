//! Cluster mode end to end: a real nats-server (JetStream on, its store in
//! a temporary directory), a fresh PostgreSQL database, and three real
//! `chinwagd` processes on loopback sharing both, with clients on
//! different nodes. Every wait is a polling deadline; the
//! only time asserted is the bound for freeing a dead node's
//! names (10 s with the default node timeout).

mod common;

use std::net::SocketAddr;
use std::ops::Deref;
use std::time::{Duration, Instant};

use chinwag_client::{Client, ClientError, Event, Events, HistoryQuery};
use chinwag_proto::ErrorCode;
use chinwag_proto::server::{DeliveryStatus, MessageKind, NoticeKind};
use common::cluster::{eventually, until_listed};
use common::trio::{PASSWORD, Trio, admin, code, connect, user};
use common::{PATIENCE, closed, message, notice, wait_for};

#[tokio::test]
async fn direct_messages_broadcasts_and_listing_span_nodes() {
    let trio = Trio::start().await;
    let (alice, mut alice_events) = user(trio.addr(0), "alice").await;
    let (bob, mut bob_events) = user(trio.addr(1), "bob").await;
    let (carol, mut carol_events) = user(trio.addr(2), "carol").await;
    until_listed(&carol, &["alice", "bob", "carol"]).await;

    let sent = alice.send("BOB", "hello from n1").await.unwrap();
    assert_eq!(sent.status, DeliveryStatus::Delivered);
    let got = message(&mut bob_events).await;
    assert_eq!(
        (got.kind, got.from.deref(), got.to.deref(), got.text.deref()),
        (MessageKind::Direct, "alice", "bob", "hello from n1")
    );
    assert_eq!(got.id, sent.id);

    let sent = bob.broadcast("hello everyone").await.unwrap();
    assert_eq!(sent.recipients, 2);
    for events in [&mut alice_events, &mut carol_events] {
        let got = message(events).await;
        assert_eq!(
            (got.kind, got.from.deref(), got.text.deref()),
            (MessageKind::Broadcast, "bob", "hello everyone")
        );
    }

    // A name is unique across nodes, in any case.
    let (dup, _dup_events) = connect(trio.addr(2)).await;
    assert_eq!(
        code(dup.register("Alice", None).await.unwrap_err()),
        ErrorCode::NameTaken
    );
    assert_eq!(
        code(carol.send("nobody", "hi").await.unwrap_err()),
        ErrorCode::NoSuchUser
    );

    // Leaving frees the name everywhere and tells the others.
    bob.logout().await.unwrap();
    let left = notice(&mut alice_events, NoticeKind::Left).await;
    assert_eq!(left.subject.deref(), "bob");
    until_listed(&alice, &["alice", "carol"]).await;
    let (_bob_again, _e) = user(trio.addr(2), "bob").await;
    until_listed(&alice, &["alice", "bob", "carol"]).await;
}

#[tokio::test]
async fn unicode_names_are_claimed_and_reached_across_nodes() {
    let trio = Trio::start().await;
    let (xiaoming, _) = user(trio.addr(0), "小明").await;
    let (_jose, mut jose_events) = user(trio.addr(1), "José").await;
    until_listed(&xiaoming, &["José", "小明"]).await;

    xiaoming.send("JOSÉ", "你好").await.unwrap();
    let got = message(&mut jose_events).await;
    assert_eq!(
        (got.from.deref(), got.to.deref(), got.text.deref()),
        ("小明", "José", "你好")
    );
    // The claim holds on the other nodes too.
    let (dup, _dup_events) = connect(trio.addr(2)).await;
    assert_eq!(
        code(dup.register("小明", None).await.unwrap_err()),
        ErrorCode::NameTaken
    );
}

#[tokio::test]
async fn of_many_registrations_of_one_name_over_three_nodes_exactly_one_wins() {
    let trio = Trio::start().await;
    let mut clients = Vec::new();
    for i in 0..24 {
        clients.push(connect(trio.addr(i % 3)).await);
    }
    let attempts = clients
        .iter()
        .map(|(client, _)| client.register("racer", None));
    let results = futures::future::join_all(attempts).await;
    let won = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(won, 1, "{results:?}");
    for result in results.into_iter().filter_map(Result::err) {
        assert_eq!(code(result), ErrorCode::NameTaken);
    }
}

#[tokio::test]
async fn moderation_acts_wherever_the_user_is() {
    let trio = Trio::start().await;
    let (root, _root_events) = admin(trio.addr(0), "root").await;
    let (bob, mut bob_events) = user(trio.addr(1), "bob").await;
    let (_carol, mut carol_events) = user(trio.addr(2), "carol").await;
    until_listed(&root, &["bob", "carol", "root"]).await;

    root.mute("bob", Some(Duration::from_secs(600)), "calm down")
        .await
        .unwrap();
    let muted = notice(&mut bob_events, NoticeKind::Muted).await;
    assert_eq!(muted.actor.deref(), "root");
    assert_eq!(
        code(bob.send("carol", "hi").await.unwrap_err()),
        ErrorCode::Muted
    );
    root.unmute("bob").await.unwrap();
    notice(&mut bob_events, NoticeKind::Unmuted).await;
    bob.send("carol", "free again").await.unwrap();
    assert_eq!(message(&mut carol_events).await.text.deref(), "free again");

    root.kick("bob", "bye").await.unwrap();
    let kicked = notice(&mut bob_events, NoticeKind::Kicked).await;
    assert_eq!(kicked.text.deref(), "bye");
    closed(&mut bob_events).await;
    let left = notice(&mut carol_events, NoticeKind::Left).await;
    assert!(left.text.contains("kicked by root"), "{}", left.text);
    until_listed(&root, &["carol", "root"]).await;
    assert_eq!(
        code(root.kick("bob", "again").await.unwrap_err()),
        ErrorCode::NoSuchUser
    );
}

#[tokio::test]
async fn a_killed_node_frees_its_names_in_time_and_the_others_go_on() {
    let mut trio = Trio::start().await;
    let (alice, _alice_events) = user(trio.addr(0), "alice").await;
    let (_bob, mut bob_events) = user(trio.addr(1), "bob").await;
    let (_carol, _carol_events) = user(trio.addr(2), "carol").await;
    until_listed(&alice, &["alice", "bob", "carol"]).await;

    let killed = Instant::now();
    trio.nodes[2].child.kill().unwrap();
    let _ = trio.nodes[2].child.wait();
    // The bound: at most 10 s with the default node timeout.
    let bound = Duration::from_secs(10);
    // A fresh connection per attempt: a connection may only try REGISTER
    // a few times.
    let (_again, _again_events) = eventually(bound, "carol's name freed", || async {
        let (client, events) = connect(trio.addr(0)).await;
        client.register("carol", None).await.ok()?;
        Some((client, events))
    })
    .await;
    assert!(killed.elapsed() <= bound);
    until_listed(&alice, &["alice", "bob", "carol"]).await;
    // The others were told carol left, by the one node that freed her name.
    let left = notice(&mut bob_events, NoticeKind::Left).await;
    assert_eq!(
        (left.subject.deref(), left.text.deref()),
        ("carol", "its server node stopped")
    );

    alice.send("bob", "still here").await.unwrap();
    let mut more_leaves = 0;
    let got = wait_for(&mut bob_events, |e| match e {
        Event::Notice(n) if n.kind == NoticeKind::Left => {
            more_leaves += 1;
            None
        }
        Event::Message(m) => Some(m),
        _ => None,
    })
    .await;
    assert_eq!(got.text.deref(), "still here");
    assert_eq!(more_leaves, 0, "one leave notice, not one per node");
}

#[tokio::test]
async fn without_nats_local_users_are_served_and_remote_ones_refused_until_it_returns() {
    let mut trio = Trio::start().await;
    let (alice, _alice_events) = user(trio.addr(0), "alice").await;
    let (_carol, mut carol_events) = user(trio.addr(0), "carol").await;
    let (_bob, mut bob_events) = user(trio.addr(1), "bob").await;
    until_listed(&alice, &["alice", "bob", "carol"]).await;

    trio.nats.stop();
    // Local delivery goes on.
    alice.send("carol", "local").await.unwrap();
    assert_eq!(message(&mut carol_events).await.text.deref(), "local");
    // A user on another node: a clear error, not a hang.
    let refused = eventually(PATIENCE, "ClusterUnavailable", || async {
        match alice.send("bob", "remote").await {
            Err(ClientError::Server {
                code: ErrorCode::ClusterUnavailable,
                ..
            }) => Some(()),
            _ => None,
        }
    });
    refused.await;
    let (newcomer, _newcomer_events) = connect(trio.addr(0)).await;
    assert_eq!(
        code(newcomer.register("dave", None).await.unwrap_err()),
        ErrorCode::ClusterUnavailable
    );

    // NATS comes back (same port, same store): the nodes recover by
    // themselves.
    trio.nats.resume();
    eventually(PATIENCE * 3, "delivery across nodes again", || async {
        alice.send("bob", "back").await.ok()
    })
    .await;
    assert_eq!(message(&mut bob_events).await.text.deref(), "back");
    newcomer.register("dave", None).await.unwrap();
    until_listed(&alice, &["alice", "bob", "carol", "dave"]).await;
}

#[tokio::test]
async fn shutdown_stops_one_node_or_the_whole_cluster() {
    let mut trio = Trio::start().await;
    let (root, _root_events) = admin(trio.addr(0), "root").await;
    let (_bob, mut bob_events) = user(trio.addr(1), "bob").await;
    let (carol_admin, mut carol_events) = admin(trio.addr(2), "carol").await;
    until_listed(&root, &["bob", "carol", "root"]).await;

    // Scope Node: only carol's node stops; its users are freed.
    carol_admin.shutdown("node maintenance").await.unwrap();
    notice(&mut carol_events, NoticeKind::Shutdown).await;
    assert_eq!(trio.nodes[2].wait(), 0);
    until_listed(&root, &["bob", "root"]).await;

    // Scope Cluster: every node stops.
    root.shutdown_cluster("all down").await.unwrap();
    let n = notice(&mut bob_events, NoticeKind::Shutdown).await;
    assert_eq!(n.text.deref(), "all down");
    closed(&mut bob_events).await;
    assert_eq!(trio.nodes[0].wait(), 0);
    assert_eq!(trio.nodes[1].wait(), 0);
}

#[tokio::test]
async fn accounts_offline_delivery_history_and_bans_come_from_the_shared_database() {
    let trio = Trio::start().await;
    // An account made on n1 logs in on n2.
    let (bob, _e) = connect(trio.addr(0)).await;
    bob.register("bob", Some("bob-password-1")).await.unwrap();
    bob.logout().await.unwrap();
    let (alice, _alice_events) = user(trio.addr(1), "alice").await;
    let sent = alice.send("bob", "while you were away").await.unwrap();
    assert_eq!(sent.status, DeliveryStatus::Queued);

    // bob logs in on n3: the offline message is delivered there.
    let (bob, mut bob_events) = connect(trio.addr(2)).await;
    bob.register("bob", Some("bob-password-1")).await.unwrap();
    let got = message(&mut bob_events).await;
    assert_eq!(got.text.deref(), "while you were away");
    // n2 learns that bob is on n3 from the presence mirror, a message's
    // flight time later (docs/cluster.md); until then it would queue.
    until_listed(&alice, &["alice", "bob"]).await;
    let sent = alice.send("bob", "live now").await.unwrap();
    assert_eq!(sent.status, DeliveryStatus::Delivered);
    assert_eq!(message(&mut bob_events).await.text.deref(), "live now");

    // History, read on any node, holds both.
    let (carol, _carol_events) = user(trio.addr(0), "carol").await;
    let page = bob
        .history(&HistoryQuery {
            with: Some("alice"),
            before: None,
            after: None,
            limit: 10,
        })
        .await
        .unwrap();
    let texts: Vec<&str> = page.iter().map(|m| m.text.deref()).collect();
    assert_eq!(texts, ["live now", "while you were away"]);

    // A ban placed on n1 reaches bob on n3, and keeps him out everywhere.
    let (root, _root_events) = admin(trio.addr(0), "root").await;
    until_listed(&carol, &["alice", "bob", "carol", "root"]).await;
    root.ban("bob", None, "spam").await.unwrap();
    let banned = notice(&mut bob_events, NoticeKind::Banned).await;
    assert_eq!(banned.text.deref(), "spam");
    closed(&mut bob_events).await;
    for node in 0..3 {
        let (again, _e) = connect(trio.addr(node)).await;
        let refused = eventually(PATIENCE, "bob banned on every node", || async {
            match again.register("bob", Some("bob-password-1")).await {
                Err(ClientError::Server {
                    code: ErrorCode::Banned,
                    ..
                }) => Some(()),
                Ok(_) => panic!("a banned account logged in on node {node}"),
                Err(_) => None,
            }
        });
        refused.await;
    }
}

#[tokio::test]
async fn room_messages_and_notices_reach_the_members_on_every_node() {
    let trio = Trio::start().await;
    let (alice, mut alice_events) = user(trio.addr(0), "alice").await;
    let (bob, mut bob_events) = user(trio.addr(1), "bob").await;
    let (carol, mut carol_events) = user(trio.addr(2), "carol").await;
    let (_dave, mut dave_events) = user(trio.addr(2), "dave").await;
    for member in [&alice, &bob, &carol] {
        member.join("#rust", None).await.unwrap();
    }
    alice.say("#rust", "hello room").await.unwrap();
    for events in [&mut bob_events, &mut carol_events] {
        let got = message(events).await;
        assert_eq!(
            (got.kind, got.from.deref(), got.to.deref(), got.text.deref()),
            (MessageKind::Room, "alice", "#rust", "hello room")
        );
    }
    // dave, on carol's node but not in the room, gets nothing of it: the
    // next message he sees is the one sent to him.
    carol.send("dave", "after").await.unwrap();
    assert_eq!(message(&mut dave_events).await.text.deref(), "after");
    // The history of the room is the shared one.
    let page = bob
        .history(&HistoryQuery {
            with: Some("#rust"),
            before: None,
            after: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    // Room notices cross nodes as messages do: bob leaves on his node, and
    // the members on the others are told.
    bob.leave("#rust", "lunch").await.unwrap();
    for events in [&mut alice_events, &mut carol_events] {
        let left = wait_for(events, |e| match e {
            Event::RoomNotice(n) if n.kind == NoticeKind::RoomLeft => Some(n),
            _ => None,
        })
        .await;
        assert_eq!(
            (left.room.deref(), left.subject.deref(), left.text.deref()),
            ("#rust", "bob", "lunch")
        );
    }
}

#[tokio::test]
async fn nodes_recover_from_a_nats_restart_that_lost_its_data() {
    let mut trio = Trio::start().await;
    let (alice, _alice_events) = user(trio.addr(0), "alice").await;
    let (_bob, mut bob_events) = user(trio.addr(1), "bob").await;
    until_listed(&alice, &["alice", "bob"]).await;

    trio.nats.stop();
    trio.nats.wipe();
    trio.nats.resume();
    // The buckets are set up again and every node claims its users anew.
    eventually(PATIENCE * 3, "delivery across nodes again", || async {
        alice.send("bob", "still there?").await.ok()
    })
    .await;
    assert_eq!(message(&mut bob_events).await.text.deref(), "still there?");
    // A new name can be claimed (the presence bucket is back), and every
    // node's view, rebuilt from the new bucket, has bob again: his node
    // claimed his name anew.
    let (_carol, _carol_events) = eventually(PATIENCE * 3, "registering again", || async {
        let (client, events) = connect(trio.addr(2)).await;
        client.register("carol", None).await.ok()?;
        Some((client, events))
    })
    .await;
    until_listed(&alice, &["alice", "bob", "carol"]).await;
    let (newcomer, _e) = connect(trio.addr(2)).await;
    assert_eq!(
        code(newcomer.register("bob", None).await.unwrap_err()),
        ErrorCode::NameTaken
    );
}

#[tokio::test]
async fn password_guesses_spread_over_the_nodes_share_one_budget() {
    let trio = Trio::start().await;
    let (dana, _e) = connect(trio.addr(0)).await;
    dana.register("dana", Some("dana-password-1"))
        .await
        .unwrap();
    dana.logout().await.unwrap();
    // Wrong guesses, a fresh connection each, going round the nodes. Each
    // node alone would check 10 before making anyone wait (30 in all);
    // sharing the outcomes, the cluster checks about 10.
    let mut checked = 0;
    let mut held_back = 0;
    for guess in 0..30 {
        let (client, _e) = connect(trio.addr(guess % 3)).await;
        match client
            .register("dana", Some(&format!("guess-{guess}")))
            .await
        {
            Err(e) => match code(e) {
                ErrorCode::BadPassword => checked += 1,
                ErrorCode::TooManyAttempts => held_back += 1,
                other => panic!("guess {guess}: {other:?}"),
            },
            Ok(_) => panic!("a wrong password logged in"),
        }
        // Give the outcome the time to reach the other nodes (a guess
        // takes longer than that in any real attack).
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        checked <= 12,
        "{checked} guesses checked over three nodes, {held_back} held back"
    );
    assert_eq!(checked + held_back, 30);
}

#[tokio::test]
async fn a_user_who_leaves_right_after_a_role_change_leaves_no_ghost() {
    let trio = Trio::start().await;
    let (watcher, _e) = user(trio.addr(1), "watcher").await;
    // ADMIN rewrites the user's presence record in the background; a
    // logout right behind it once raced that rewrite and left the name
    // claimed (and listed as an online admin) until the node stopped.
    // The name is free a moment after a logout (the release crosses
    // NATS); a ghost never frees it.
    for _ in 0..15 {
        let (client, _events) = register_when_free(trio.addr(0), "fleeting").await;
        client.admin(PASSWORD).await.unwrap();
        client.logout().await.unwrap();
        let (again, _events) = register_when_free(trio.addr(1), "fleeting").await;
        again.logout().await.unwrap();
    }
    // Nobody is left listed but the watcher.
    until_listed(&watcher, &["watcher"]).await;
}

/// Registers `name` on the node at `addr` as soon as it is free.
async fn register_when_free(addr: SocketAddr, name: &str) -> (Client, Events) {
    eventually(PATIENCE, "the name free", || async {
        let (client, events) = connect(addr).await;
        match client.register(name, None).await {
            Ok(_) => Some((client, events)),
            Err(e) => match code(e) {
                ErrorCode::NameTaken => None,
                other => panic!("registering {name}: {other:?}"),
            },
        }
    })
    .await
}
