//! Cluster tests' helpers: `chinwagd` nodes sharing a NATS server and a
//! database, and waiting for what the nodes learn of each other.

use std::time::{Duration, Instant};

use std::net::SocketAddr;

use chinwag_client::{Client, ConnectOptions, Events};

use super::PATIENCE;
use super::daemon::Daemon;
use super::nats::Nats;

/// `count` nodes, `n1`, `n2`, ..., on `nats` and the PostgreSQL database
/// at `database` (a URL), each with `extra` flags.
pub fn nodes(count: usize, nats: &Nats, database: &str, extra: &[&str]) -> Vec<Daemon> {
    (1..=count)
        .map(|n| node(n, nats, database, extra))
        .collect()
}

/// Node `n` (called `n<n>`) on `nats` and the database at `database`.
pub fn node(n: usize, nats: &Nats, database: &str, extra: &[&str]) -> Daemon {
    let url = nats.url();
    let id = format!("n{n}");
    let mut args = vec!["--cluster", &url, "--node-id", &id, "--database", database];
    args.extend_from_slice(extra);
    Daemon::start(&args)
}

/// A client of the node at `addr` registered as `name`: a guest, or an
/// account with `password`.
pub async fn login(addr: SocketAddr, name: &str, password: Option<&str>) -> (Client, Events) {
    let (client, events) = Client::connect(addr, ConnectOptions::default())
        .await
        .unwrap();
    client.register(name, password).await.unwrap();
    (client, events)
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

/// Waits until `client`'s GETALLUSER lists exactly `names` (the other
/// nodes' users are known through the presence mirror).
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
