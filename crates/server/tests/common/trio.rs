//! Three real `chinwagd` nodes sharing a real nats-server and a fresh
//! PostgreSQL database, on loopback, and what the cluster tests do with
//! them.

use std::net::SocketAddr;

use chinwag_client::{Client, ClientError, ConnectOptions, Events};
use chinwag_proto::ErrorCode;

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
    super::cluster::node(node + 1, nats, &db.url, &["--admin-password", PASSWORD])
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
