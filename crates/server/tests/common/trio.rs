//! Three real `chinwagd` nodes sharing a real nats-server and a fresh
//! PostgreSQL database, on loopback, and what the cluster tests do with
//! them.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chinwag_client::{Client, ClientError, ConnectOptions, Events};
use chinwag_proto::ErrorCode;

use super::PATIENCE;
use super::daemon::Daemon;
use super::nats::Nats;
use super::postgres::TestDatabase;

pub const PASSWORD: &str = "cluster-admin-password";

/// A NATS server, a database and three nodes. The nodes are dropped
/// (killed) first, the database last.
pub struct Trio {
    pub nodes: Vec<Daemon>,
    pub nats: Nats,
    pub db: TestDatabase,
}

impl Trio {
    pub async fn start() -> Trio {
        let db = TestDatabase::create().await;
        let nats = Nats::start();
        let nodes = (0..3).map(|node| start_node(&nats, &db, node)).collect();
        Trio { nodes, nats, db }
    }

    /// Kills node `node` (SIGKILL: it says goodbye to nobody) and starts
    /// it again at once, under the same id, on a new port.
    pub fn restart(&mut self, node: usize) {
        self.nodes[node].child.kill().unwrap();
        let _ = self.nodes[node].child.wait();
        self.nodes[node] = start_node(&self.nats, &self.db, node);
    }

    pub fn addr(&self, node: usize) -> SocketAddr {
        self.nodes[node].addr
    }
}

/// Node `node` (0, 1 or 2), called `n1`, `n2` or `n3`.
fn start_node(nats: &Nats, db: &TestDatabase, node: usize) -> Daemon {
    Daemon::start(&[
        "--cluster",
        &nats.url(),
        "--node-id",
        &format!("n{}", node + 1),
        "--admin-password",
        PASSWORD,
        "--database",
        &db.url,
    ])
}

pub async fn connect(addr: SocketAddr) -> (Client, Events) {
    Client::connect(addr, ConnectOptions::default())
        .await
        .unwrap()
}

pub async fn user(addr: SocketAddr, name: &str) -> (Client, Events) {
    let (client, events) = connect(addr).await;
    client.register(name, None).await.unwrap();
    (client, events)
}

pub async fn admin(addr: SocketAddr, name: &str) -> (Client, Events) {
    let (client, events) = user(addr, name).await;
    client.admin(PASSWORD).await.unwrap();
    (client, events)
}

pub fn code(error: ClientError) -> ErrorCode {
    match error {
        ClientError::Server { code, .. } => code,
        other => panic!("expected an error from the server, got {other}"),
    }
}

/// Retries `attempt` until it returns `Some`, for at most `within`.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(done) = attempt().await {
            return done;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `client`'s GETALLUSER lists exactly `names`.
pub async fn until_listed(client: &Client, names: &[&str]) {
    eventually(PATIENCE, "listing", || async {
        let listed: Vec<String> = client
            .users()
            .await
            .unwrap()
            .into_iter()
            .map(|u| u.name.to_string())
            .collect();
        (listed == names).then_some(())
    })
    .await
}
