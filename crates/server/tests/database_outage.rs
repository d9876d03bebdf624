//! A server on PostgreSQL whose database becomes unreachable: sends fail
//! at once with StorageFailure, nothing that was acknowledged is lost, and
//! the server recovers by itself when the database is back. The outage is
//! a TCP proxy between the server and PostgreSQL that this test cuts.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chinwag_client::{ClientError, HistoryQuery};
use chinwag_proto::ErrorCode;
use chinwag_proto::server::DeliveryStatus;
use chinwag_server::Server;
use chinwag_server::store::PostgresStore;
use common::postgres::TestDatabase;
use common::{PATIENCE, TestServer, account, config};
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

#[tokio::test]
async fn sends_fail_clearly_while_the_database_is_away_and_nothing_acknowledged_is_lost() {
    let db = TestDatabase::create().await;
    let proxy = Proxy::start(server_of(&db)).await;
    let store = PostgresStore::connect(&through(&proxy, &db)).await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = Server::with_store(listener, config(), Arc::new(store));
    let addr = server.local_addr().unwrap();
    let handle = server.handle();
    let task = tokio::spawn(server.run());
    let server = TestServer { addr, handle, task };

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
