//! The cluster's presence layer against a real nats-server: name claims
//! are atomic across nodes, a released name can be claimed again, an
//! outage is reported at once and survived, and a record shows the last
//! of changes made in quick succession.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chinwag_proto::NameKey;
use chinwag_proto::server::{MuteState, Timestamp};
use chinwag_server::cluster::presence::PresenceRecord;
use chinwag_server::cluster::{Cluster, ClusterConfig, ClusterError, NodeId};
use chinwag_server::outbox::Outbox;
use chinwag_server::state::{ConnId, Link, Peer};
use common::PATIENCE;
use common::nats::Nats;

async fn node(nats: &Nats, id: &str) -> Arc<Cluster> {
    let config = ClusterConfig {
        servers: vec![nats.url()],
        ca: None,
        node: NodeId::parse(id).unwrap(),
        node_timeout: ClusterConfig::DEFAULT_NODE_TIMEOUT,
        request_timeout: Duration::from_secs(2),
    };
    Cluster::connect(config, "127.0.0.1:0").await.unwrap()
}

fn record(node: &str, name: &str) -> PresenceRecord {
    PresenceRecord {
        node: node.into(),
        also: Vec::new(),
        name: name.into(),
        admin: false,
        account: false,
        shared: false,
        muted: 0,
        addr: "127.0.0.1:1".into(),
        advertised: String::new(),
        since: 0,
    }
}

fn key(name: &str) -> NameKey {
    NameKey::fold(name).unwrap()
}

#[tokio::test]
async fn of_many_concurrent_claims_exactly_one_wins() {
    let nats = Nats::start();
    let nodes = [
        node(&nats, "n1").await,
        node(&nats, "n2").await,
        node(&nats, "n3").await,
    ];
    for round in 0..3 {
        let name = format!("racer{round}");
        let mut attempts = Vec::new();
        for i in 0..30u64 {
            let node = Arc::clone(&nodes[i as usize % 3]);
            let record = record(node.node().as_str(), &name);
            let key = key(&name);
            attempts.push(tokio::spawn(async move {
                node.claim(record, key, ConnId(i)).await
            }));
        }
        let mut won = 0;
        for attempt in attempts {
            match attempt.await.unwrap() {
                Ok(_) => won += 1,
                Err(ClusterError::Taken) => {}
                Err(other) => panic!("unexpected failure: {other}"),
            }
        }
        assert_eq!(won, 1, "exactly one claim of {name} wins");
    }
}

#[tokio::test]
async fn a_released_name_can_be_claimed_again() {
    let nats = Nats::start();
    let (a, b) = (node(&nats, "a").await, node(&nats, "b").await);
    a.claim(record("a", "Alice"), key("alice"), ConnId(1))
        .await
        .unwrap();
    assert_eq!(
        b.claim(record("b", "ALICE"), key("alice"), ConnId(1)).await,
        Err(ClusterError::Taken),
        "names are the same in any case"
    );
    a.release(key("alice"), ConnId(2), None);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        b.claim(record("b", "alice"), key("alice"), ConnId(1)).await,
        Err(ClusterError::Taken),
        "another connection's release frees nothing"
    );
    a.release(key("alice"), ConnId(1), None);
    let deadline = Instant::now() + PATIENCE;
    loop {
        match b.claim(record("b", "alice"), key("alice"), ConnId(1)).await {
            Ok(_) => break,
            Err(ClusterError::Taken) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(other) => panic!("the released name was not freed: {other}"),
        }
    }
}

#[tokio::test]
async fn an_outage_is_reported_at_once_and_survived() {
    let mut nats = Nats::start();
    let a = node(&nats, "a").await;
    nats.stop();
    let deadline = Instant::now() + PATIENCE;
    while a.is_connected() {
        assert!(Instant::now() < deadline, "the outage went unnoticed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    match a.claim(record("a", "bob"), key("bob"), ConnId(1)).await {
        Err(ClusterError::Unavailable(_)) => {}
        other => panic!("expected Unavailable, got {other:?}"),
    }
    nats.resume();
    let deadline = Instant::now() + PATIENCE;
    while !a.is_connected() {
        assert!(Instant::now() < deadline, "did not reconnect");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let deadline = Instant::now() + PATIENCE;
    loop {
        match a.claim(record("a", "bob"), key("bob"), ConnId(1)).await {
            Ok(_) => break,
            Err(ClusterError::Unavailable(_)) if Instant::now() < deadline => {
                // JetStream may take a moment to come back after the
                // connection does.
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            other => panic!("no recovery: {other:?}"),
        }
    }
}

#[tokio::test]
async fn freed_names_leave_nothing_behind_in_the_bucket() {
    let nats = Nats::start();
    let (a, b) = (node(&nats, "a").await, node(&nats, "b").await);
    b.claim(record("b", "stays"), key("stays"), ConnId(1))
        .await
        .unwrap();
    for round in 0..20 {
        let name = format!("passer{round}");
        a.claim(record("a", &name), key(&name), ConnId(round))
            .await
            .unwrap();
        a.release(key(&name), ConnId(round), None);
    }
    // One name freed and claimed again at once: its new claim must
    // survive the sweep of its old marker.
    a.claim(record("a", "again"), key("again"), ConnId(100))
        .await
        .unwrap();
    a.release(key("again"), ConnId(100), None);
    let deadline = Instant::now() + PATIENCE;
    while b
        .claim(record("b", "again"), key("again"), ConnId(2))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "again was not freed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The releases run in the background: wait until the 20 markers are
    // there (the bucket keeps one entry per key: the 2 claims held and 20
    // markers), then sweep them.
    let deadline = Instant::now() + PATIENCE;
    while a.presence_entries().await.unwrap() < 22 {
        assert!(Instant::now() < deadline, "the releases did not happen");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.sweep_freed_names(Duration::ZERO).await;
    assert_eq!(
        a.presence_entries().await.unwrap(),
        2,
        "only the two names held now are stored"
    );
    assert_eq!(
        a.claim(record("a", "again"), key("again"), ConnId(101))
            .await,
        Err(ClusterError::Taken),
        "the claim made after the release is intact"
    );
    assert_eq!(
        a.claim(record("a", "stays"), key("stays"), ConnId(3)).await,
        Err(ClusterError::Taken)
    );
}

/// What node `node` claims for a session of the account `name` that
/// shares it with others (or not).
fn account(node: &str, name: &str, shared: bool) -> PresenceRecord {
    PresenceRecord {
        account: true,
        shared,
        ..record(node, name)
    }
}

/// Whether a guest on `node` can take `name` now (and, if so, lets it
/// go again).
async fn free_for_a_guest(node: &Arc<Cluster>, name: &str) -> bool {
    let record = record(node.node().as_str(), name);
    match node.claim(record, key(name), ConnId(999)).await {
        Ok(_) => {
            node.release(key(name), ConnId(999), None);
            true
        }
        Err(ClusterError::Taken) => false,
        Err(other) => panic!("unexpected failure: {other}"),
    }
}

/// Waits until a guest on `node` could take `name` (the releases run in
/// the background).
async fn until_free(node: &Arc<Cluster>, name: &str) {
    let deadline = Instant::now() + PATIENCE;
    while !free_for_a_guest(node, name).await {
        assert!(Instant::now() < deadline, "{name} was not freed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_account_is_held_by_several_nodes_and_freed_by_the_last() {
    let nats = Nats::start();
    let (a, b, c) = (
        node(&nats, "a").await,
        node(&nats, "b").await,
        node(&nats, "c").await,
    );
    assert_eq!(
        a.claim(account("a", "alice", true), key("alice"), ConnId(1))
            .await,
        Ok(true),
        "the first node brings her online"
    );
    assert!(
        !free_for_a_guest(&c, "alice").await,
        "a guest cannot join an account's record"
    );
    assert_eq!(
        c.claim(account("c", "alice", false), key("alice"), ConnId(1))
            .await,
        Err(ClusterError::Taken),
        "nor a session that does not share the account"
    );
    assert_eq!(
        b.claim(account("b", "alice", true), key("alice"), ConnId(7))
            .await,
        Ok(false),
        "a second node joins: she was online already"
    );

    // a leaves: b still holds her, and a guest still cannot have the name.
    a.release(key("alice"), ConnId(1), None);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!free_for_a_guest(&c, "alice").await);

    // b, the last, leaves: the name is free.
    b.release(key("alice"), ConnId(7), None);
    until_free(&c, "alice").await;
    assert_eq!(
        c.claim(record("c", "alice"), key("alice"), ConnId(3)).await,
        Ok(true)
    );
    assert_eq!(
        a.claim(account("a", "alice", true), key("alice"), ConnId(4))
            .await,
        Err(ClusterError::Taken),
        "an account cannot join a guest's record"
    );
}

#[tokio::test]
async fn nodes_joining_an_account_at_once_all_get_in() {
    let nats = Nats::start();
    let nodes = [
        node(&nats, "n1").await,
        node(&nats, "n2").await,
        node(&nats, "n3").await,
        node(&nats, "n4").await,
    ];
    let joins: Vec<_> = nodes
        .iter()
        .map(|node| {
            let node = Arc::clone(node);
            tokio::spawn(async move {
                let record = account(node.node().as_str(), "bea", true);
                node.claim(record, key("bea"), ConnId(1)).await
            })
        })
        .collect();
    let mut first = 0;
    for join in joins {
        if join.await.unwrap().unwrap() {
            first += 1;
        }
    }
    assert_eq!(first, 1, "one node brought her online");
    // Each holds her: she stays online until the last leaves, whatever
    // the order.
    let watcher = node(&nats, "n5").await;
    for node in &nodes[..3] {
        node.release(key("bea"), ConnId(1), None);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !free_for_a_guest(&watcher, "bea").await,
        "n4 holds her still"
    );
    nodes[3].release(key("bea"), ConnId(1), None);
    until_free(&watcher, "bea").await;
}

/// A user of node `a` as its state holds it.
fn peer(name: &str, conn: u64) -> Arc<Peer> {
    let link = Link::new(
        ConnId(conn),
        Arc::new(Outbox::new(16, 1 << 16)),
        "127.0.0.1:1".parse().unwrap(),
        String::new(),
        Timestamp(0),
    );
    Arc::new(Peer::new(
        chinwag_proto::UserName::parse(name).unwrap(),
        Arc::new(link),
    ))
}

#[tokio::test]
async fn the_record_shows_the_last_of_quick_role_and_mute_changes() {
    let nats = Nats::start();
    let a = node(&nats, "a").await;
    let bucket = async_nats::jetstream::new(async_nats::connect(nats.url()).await.unwrap())
        .get_key_value(chinwag_server::cluster::presence::BUCKET)
        .await
        .unwrap();
    for round in 0..3u64 {
        let carol = peer("carol", round);
        a.claim(a.record(&carol, Timestamp::now()), key("carol"), carol.id)
            .await
            .unwrap();
        // Changes in quick succession, each published in the background:
        // each update starts while the one before is on its way.
        for change in 0..10 {
            carol.set_admin(change % 2 == 0);
            carol.set_muted(if change % 3 == 0 {
                MuteState::UntilLifted
            } else {
                MuteState::NotMuted
            });
            a.republish(&carol);
            tokio::task::yield_now().await;
        }
        carol.set_admin(true);
        carol.set_muted(MuteState::UntilLifted);
        a.republish(&carol);
        let deadline = Instant::now() + PATIENCE;
        loop {
            let value = bucket.get("carol").await.unwrap().unwrap();
            let record: PresenceRecord = serde_json::from_slice(&value).unwrap();
            if record.admin && record.muted == MuteState::UntilLifted.to_wire() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: the record still shows {record:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        a.release(key("carol"), carol.id, None);
        let deadline = Instant::now() + PATIENCE;
        while bucket.get("carol").await.unwrap().is_some() {
            assert!(Instant::now() < deadline, "round {round}: carol stays");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
