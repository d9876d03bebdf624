//! One answer per message, and it is what happened, when the recipient's
//! node is slow or dies mid-request: two real `chinwagd` nodes over a real
//! nats-server and a fresh PostgreSQL database. A node is frozen with
//! SIGSTOP (and thawed with SIGCONT) or killed, by the PID this test
//! started. The node timeout is long (30 s), so that a frozen node is not
//! taken for dead: what is tested is the request that outlives its
//! sender's patience (3 s), not the reaping of names. Every wait is a
//! polling deadline; nothing asserts how long anything took.

mod common;

use std::net::SocketAddr;
use std::ops::Deref;
use std::time::{Duration, Instant};

use chinwag_client::{Client, HistoryQuery};
use chinwag_proto::ErrorCode;
use chinwag_proto::server::DeliveryStatus;
use common::cluster::{login, nodes, until_listed};
use common::daemon::Daemon;
use common::nats::Nats;
use common::postgres::TestDatabase;
use common::{PATIENCE, code, message};

/// A NATS server, a database and two nodes, dropped (killed) in that
/// order: nodes first.
struct Pair {
    nodes: Vec<Daemon>,
    _nats: Nats,
    db: TestDatabase,
}

impl Pair {
    async fn start() -> Pair {
        let db = TestDatabase::create().await;
        let nats = Nats::start();
        let nodes = nodes(2, &nats, &db.url, &["--node-timeout", "30s"]);
        Pair {
            nodes,
            _nats: nats,
            db,
        }
    }

    fn addr(&self, node: usize) -> SocketAddr {
        self.nodes[node].addr
    }
}

/// The texts of `reader`'s direct conversation with `with`, oldest first.
async fn history(reader: &Client, with: &str) -> Vec<String> {
    let page = reader
        .history(&HistoryQuery::newest(Some(with), 50))
        .await
        .unwrap();
    page.iter().rev().map(|m| m.text.to_string()).collect()
}

#[tokio::test]
async fn a_frozen_nodes_late_requests_are_refused_and_a_queued_message_arrives_once() {
    let pair = Pair::start().await;
    let (alice, _alice_events) = login(pair.addr(0), "alice", Some("alice-password")).await;
    let (_carol, mut carol_events) = login(pair.addr(1), "carol", None).await;
    let (_dave, mut dave_events) = login(pair.addr(1), "dave", Some("dave-password")).await;
    until_listed(&alice, &["alice", "carol", "dave"]).await;
    alice.send("carol", "before").await.unwrap();
    assert_eq!(message(&mut carol_events).await.text.deref(), "before");

    pair.nodes[1].signal("STOP");
    // A guest's message: the frozen node cannot answer in time, so it
    // is refused, and must never be delivered.
    assert_eq!(
        code(alice.send("carol", "while frozen").await),
        ErrorCode::ClusterUnavailable
    );
    // An account's: queued, and must arrive exactly once.
    let queued = alice.send("dave", "queued while frozen").await.unwrap();
    assert_eq!(queued.status, DeliveryStatus::Queued);
    pair.nodes[1].signal("CONT");

    // The thawed node works through what waited for it in order: the late
    // request for carol comes before this one, and was refused.
    let sent = alice.send("carol", "after").await.unwrap();
    assert_eq!(sent.status, DeliveryStatus::Delivered);
    assert_eq!(
        message(&mut carol_events).await.text.deref(),
        "after",
        "the refused message reached carol after all"
    );
    assert_eq!(history(&alice, "carol").await, ["before", "after"]);

    // dave gets the queued message from his offline queue (his node is
    // told of it), and nothing else of it: the late live request was
    // refused, and the queue is not read twice.
    let mut copies = 0;
    let got = message(&mut dave_events).await;
    assert_eq!(
        (got.id, got.text.deref()),
        (queued.id, "queued while frozen")
    );
    copies += 1;
    alice.send("dave", "after").await.unwrap();
    loop {
        let got = message(&mut dave_events).await;
        if got.id == queued.id {
            copies += 1;
        }
        if got.text.deref() == "after" {
            break;
        }
    }
    assert_eq!(copies, 1, "one copy of the queued message");

    // Nor is it left in the queue for his next login: the store learns
    // it was delivered (a moment later).
    let deadline = Instant::now() + PATIENCE;
    while pair
        .db
        .count("SELECT count(*) FROM inbox WHERE user_key = 'dave'")
        .await
        > 0
    {
        assert!(Instant::now() < deadline, "still in dave's offline queue");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_message_to_a_guest_on_a_killed_node_is_refused_and_not_kept() {
    let mut pair = Pair::start().await;
    let (alice, _alice_events) = login(pair.addr(0), "alice", Some("alice-password")).await;
    let (_bob, mut bob_events) = login(pair.addr(1), "bob", None).await;
    until_listed(&alice, &["alice", "bob"]).await;
    alice.send("bob", "before").await.unwrap();
    assert_eq!(message(&mut bob_events).await.text.deref(), "before");

    pair.nodes[1].child.kill().unwrap();
    let _ = pair.nodes[1].child.wait();
    // bob is still listed (his node is not timed out yet), but nobody
    // answers for him.
    assert_eq!(
        code(alice.send("bob", "into the void").await),
        ErrorCode::ClusterUnavailable
    );
    assert_eq!(
        history(&alice, "bob").await,
        ["before"],
        "a refused message is not kept as sent"
    );
}
