//! A server on PostgreSQL whose database becomes unreachable: sends fail
//! at once with StorageFailure, nothing that was acknowledged is lost, and
//! the server recovers by itself when the database is back; guests join,
//! talk to each other and leave meanwhile. The outage is a TCP proxy
//! between the server and PostgreSQL that this test cuts.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chinwag_client::{Client, ClientError, ConnectOptions, HistoryQuery};
use chinwag_proto::ErrorCode;
use chinwag_proto::server::{DeliveryStatus, NoticeKind};
use chinwag_server::Server;
use chinwag_server::store::PostgresStore;
use common::cluster::{login, nodes, until_listed};
use common::nats::Nats;
use common::postgres::TestDatabase;
use common::{PATIENCE, TestServer, account, closed, code, config, connect, message, notice, user};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// Forwards connections to PostgreSQL while `up`; cutting it drops every
/// forwarded connection and refuses new ones.
struct Proxy {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    links: Arc<std::sync::Mutex<JoinSet<()>>>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = Proxy {
            addr: listener.local_addr().unwrap(),
            up: Arc::new(AtomicBool::new(true)),
            links: Arc::new(std::sync::Mutex::new(JoinSet::new())),
        };
        let (up, links) = (Arc::clone(&proxy.up), Arc::clone(&proxy.links));
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !up.load(Ordering::Acquire) {
                    continue;
                }
                links.lock().unwrap().spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        proxy
    }

    fn cut(&self) {
        self.up.store(false, Ordering::Release);
        self.links.lock().unwrap().abort_all();
    }

    fn restore(&self) {
        self.up.store(true, Ordering::Release);
    }
}

/// Where the test database's server is (`postgres://USER@IP:PORT/DB`).
fn server_of(db: &TestDatabase) -> SocketAddr {
    let host = db.url.split_once('@').unwrap().1.split('/').next().unwrap();
    host.parse().expect("PostgreSQL at an IP:PORT")
}

/// The test database's URL with the proxy in the server's place.
fn through(proxy: &Proxy, db: &TestDatabase) -> String {
    db.url
        .replace(&server_of(db).to_string(), &proxy.addr.to_string())
}

/// A server on the test database, reached through `proxy`.
async fn serve_through(proxy: &Proxy, db: &TestDatabase) -> TestServer {
    let store = PostgresStore::connect(&through(proxy, db)).await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = Server::with_store(listener, config(), Arc::new(store));
    let addr = server.local_addr().unwrap();
    let handle = server.handle();
    let task = tokio::spawn(server.run());
    TestServer { addr, handle, task }
}

#[tokio::test]
async fn sends_fail_clearly_while_the_database_is_away_and_nothing_acknowledged_is_lost() {
    let db = TestDatabase::create().await;
    let proxy = Proxy::start(server_of(&db)).await;
    let server = serve_through(&proxy, &db).await;

    let (alice, _alice_events) = account(&server, "alice", "alice-secret").await;
    let (_bob, _bob_events) = account(&server, "bob", "bob-secret").await;
    let mut acknowledged = Vec::new();
    let sent = alice.send("bob", "before").await.unwrap();
    assert_eq!(sent.status, DeliveryStatus::Delivered);
    acknowledged.push(sent.id);

    proxy.cut();
    let started = Instant::now();
    match alice.send("bob", "during").await {
        Err(ClientError::Server {
            code: ErrorCode::StorageFailure,
            message,
        }) => assert!(message.contains("not sent"), "{message}"),
        other => panic!("expected StorageFailure, got {other:?}"),
    }
    assert!(started.elapsed() < PATIENCE, "a clear error, not a hang");

    proxy.restore();
    let deadline = Instant::now() + PATIENCE;
    let sent = loop {
        match alice.send("bob", "after").await {
            Ok(sent) => break sent,
            Err(ClientError::Server {
                code: ErrorCode::StorageFailure,
                ..
            }) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(other) => panic!("no recovery: {other}"),
        }
    };
    acknowledged.push(sent.id);

    let page = alice
        .history(&HistoryQuery::newest(Some("bob"), 10))
        .await
        .unwrap();
    let stored: Vec<_> = page.iter().rev().map(|m| m.id).collect();
    assert_eq!(stored, acknowledged, "exactly what was acknowledged");
    server.stop().await;
}

/// What a guest does needs no database, but what others read back from
/// history does: while it is away, guests still join, talk to each other
/// and leave; accounts (and anything stored for others to read: room
/// messages, broadcasts, a message to or from an account) get
/// StorageFailure.
#[tokio::test]
async fn guests_join_chat_and_leave_while_the_database_is_away() {
    let db = TestDatabase::create().await;
    let proxy = Proxy::start(server_of(&db)).await;
    let server = serve_through(&proxy, &db).await;
    let (alice, _alice_events) = account(&server, "alice", "alice-secret").await;
    let (robert, _robert_events) = account(&server, "robert", "robert-secret").await;
    robert.logout().await.unwrap();
    let (early, mut early_events) = user(&server, "early").await;

    proxy.cut();
    // A guest joins: whether its name is an account's is known without
    // the database.
    let (guest, mut guest_events) = user(&server, "guest").await;
    let refused = |name: &'static str, password: Option<&'static str>| {
        let server = &server;
        async move {
            let (client, _events) = connect(server).await;
            code(client.register(name, password).await)
        }
    };
    assert_eq!(refused("ROBERT", None).await, ErrorCode::AccountRequired);
    // A Cyrillic о for the Latin o.
    assert_eq!(refused("r\u{43e}bert", None).await, ErrorCode::NameTaken);
    assert_eq!(
        refused("robert", Some("robert-secret")).await,
        ErrorCode::StorageFailure
    );

    // Guests talk: delivered, and not stored, as their ephemeral ids say.
    let sent = guest.send("early", "can you hear me").await.unwrap();
    assert_eq!(sent.status, DeliveryStatus::Delivered);
    assert!(sent.id.is_ephemeral(), "{:?}", sent.id);
    let got = message(&mut early_events).await;
    assert_eq!((got.id, &*got.text), (sent.id, "can you hear me"));
    early.send("guest", "loud and clear").await.unwrap();
    assert_eq!(&*message(&mut guest_events).await.text, "loud and clear");

    // Rooms are joined; their messages are history, so they wait.
    guest.join("#lobby", None).await.unwrap();
    early.join("#lobby", None).await.unwrap();
    assert_eq!(
        code(guest.say("#lobby", "hello room").await),
        ErrorCode::StorageFailure
    );
    assert_eq!(
        code(guest.broadcast("hello all").await),
        ErrorCode::StorageFailure
    );
    // An account's messages, and messages to it, are stored or not sent.
    assert_eq!(
        code(alice.send("guest", "hi").await),
        ErrorCode::StorageFailure
    );
    assert_eq!(
        code(guest.send("alice", "hi").await),
        ErrorCode::StorageFailure
    );

    guest.logout().await.unwrap();
    closed(&mut guest_events).await;
    let left = notice(&mut early_events, NoticeKind::Left).await;
    assert_eq!(&*left.subject, "guest");
    proxy.restore();
    server.stop().await;
}

/// The same across two nodes: a guest registers on a node that learned
/// an account's name from the other (not from the database), and guests on
/// different nodes talk while the database is away. Two workers: the
/// proxy runs in this test while starting a node blocks one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guests_on_two_nodes_talk_while_the_database_is_away() {
    let db = TestDatabase::create().await;
    let proxy = Proxy::start(server_of(&db)).await;
    let nats = Nats::start();
    let nodes = nodes(2, &nats, &through(&proxy, &db), &[]);
    // Created on n1 once both nodes run: n2 hears of it from n1.
    let (robert, _robert_events) = login(nodes[0].addr, "robert", Some("robert-secret")).await;
    robert.logout().await.unwrap();
    let (ann, mut ann_events) = login(nodes[0].addr, "ann", None).await;

    proxy.cut();
    let (other, _other_events) = Client::connect(nodes[1].addr, ConnectOptions::default())
        .await
        .unwrap();
    assert_eq!(
        code(other.register("Robert", None).await),
        ErrorCode::AccountRequired
    );
    let (ben, mut ben_events) = login(nodes[1].addr, "ben", None).await;
    until_listed(&ann, &["ann", "ben"]).await;
    let sent = ann.send("ben", "across nodes").await.unwrap();
    assert_eq!(sent.status, DeliveryStatus::Delivered);
    assert!(sent.id.is_ephemeral(), "{:?}", sent.id);
    let got = message(&mut ben_events).await;
    assert_eq!((got.id, &*got.text), (sent.id, "across nodes"));
    ben.send("ann", "and back").await.unwrap();
    assert_eq!(&*message(&mut ann_events).await.text, "and back");
    proxy.restore();
}
