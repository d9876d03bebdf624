//! Shared test helpers: a real server on 127.0.0.1:0, and clients.

#![allow(dead_code)]

#[path = "common/cluster.rs"]
pub mod cluster;
#[path = "common/daemon.rs"]
pub mod daemon;
#[path = "common/nats.rs"]
pub mod nats;
#[path = "common/postgres.rs"]
pub mod postgres;
#[path = "common/raw.rs"]
pub mod raw;
#[path = "common/trio.rs"]
pub mod trio;

use std::net::SocketAddr;
use std::time::Duration;

use chinwag_client::{Client, ClientError, ConnectOptions, Event, Events};
use chinwag_proto::ErrorCode;
use chinwag_proto::server::{Message, Notice, NoticeKind};
use chinwag_server::{Config, Handle, Server};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub const ADMIN_PASSWORD: &str = "test-admin-password";

/// How long a test waits for something that should happen at once. Only a
/// guard against hanging forever, never a performance assertion.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub struct TestServer {
    pub addr: SocketAddr,
    pub handle: Handle,
    pub task: JoinHandle<()>,
}

/// The tests' server: loopback, a known admin password, and flood control
/// off (tests pipeline thousands of requests, as a bot would; limits.rs
/// tests flood control itself).
pub fn config() -> Config {
    Config {
        listen: "127.0.0.1:0".into(),
        admin_password: Some(ADMIN_PASSWORD.into()),
        rate: chinwag_server::ratelimit::RateLimits::OFF,
        ..Config::default()
    }
}

pub async fn start() -> TestServer {
    start_with(config()).await
}

/// A server on the data directory `dir`, so that a test can restart it.
pub async fn start_in(dir: &std::path::Path) -> TestServer {
    start_with(Config {
        data_dir: Some(dir.to_owned()),
        ..config()
    })
    .await
}

impl TestServer {
    /// Shuts the server down and waits until it has closed its store.
    pub async fn stop(self) {
        self.handle.shut_down("test over");
        tokio::time::timeout(PATIENCE, self.task)
            .await
            .expect("the server did not stop")
            .unwrap();
    }
}

/// A connected client logged in to the account `name` (created with
/// `password` if it does not exist).
pub async fn account(server: &TestServer, name: &str, password: &str) -> (Client, Events) {
    let (client, events) = connect(server).await;
    client.register(name, Some(password)).await.unwrap();
    (client, events)
}

/// A server; with `config.data_dir` unset it gets a temporary data
/// directory of its own.
pub async fn start_with(config: Config) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = Server::new(listener, config);
    let addr = server.local_addr().unwrap();
    let handle = server.handle();
    let task = tokio::spawn(server.run());
    TestServer { addr, handle, task }
}

/// A server with an IRC listener beside the native one; the IRC address.
pub async fn start_irc() -> (TestServer, SocketAddr) {
    let native = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let irc = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let irc_addr = irc.local_addr().unwrap();
    let mut server = Server::new(native, config());
    server.add_listener(irc, None, chinwag_server::server::Protocol::Irc);
    let addr = server.local_addr().unwrap();
    let handle = server.handle();
    let task = tokio::spawn(server.run());
    (TestServer { addr, handle, task }, irc_addr)
}

/// A connected, registered client.
pub async fn user(server: &TestServer, name: &str) -> (Client, Events) {
    let (client, events) = connect(server).await;
    client.register(name, None).await.unwrap();
    (client, events)
}

/// A connected client that has done HELLO but not REGISTER.
pub async fn connect(server: &TestServer) -> (Client, Events) {
    Client::connect(server.addr, ConnectOptions::default())
        .await
        .unwrap()
}

/// A registered administrator.
pub async fn admin(server: &TestServer, name: &str) -> (Client, Events) {
    let (client, events) = user(server, name).await;
    client.admin(ADMIN_PASSWORD).await.unwrap();
    (client, events)
}

/// The next event, failing the test if none comes.
pub async fn next_event(events: &mut Events) -> Event {
    tokio::time::timeout(PATIENCE, events.recv())
        .await
        .expect("timed out waiting for an event")
        .expect("event stream ended")
}

/// Skips events until one matches.
pub async fn wait_for<T>(events: &mut Events, mut pick: impl FnMut(Event) -> Option<T>) -> T {
    loop {
        if let Some(found) = pick(next_event(events).await) {
            return found;
        }
    }
}

/// Waits for the next message, skipping other events.
pub async fn message(events: &mut Events) -> Message {
    wait_for(events, |e| match e {
        Event::Message(m) => Some(m),
        _ => None,
    })
    .await
}

/// The code of the error a request was answered with; fails the test if
/// it succeeded.
pub fn code<T: std::fmt::Debug>(result: Result<T, ClientError>) -> ErrorCode {
    match result {
        Err(ClientError::Server { code, .. }) => code,
        other => panic!("expected an error from the server, got {other:?}"),
    }
}

/// Waits for a notice of `kind`.
pub async fn notice(events: &mut Events, kind: NoticeKind) -> Notice {
    wait_for(events, |e| match e {
        Event::Notice(n) if n.kind == kind => Some(n),
        _ => None,
    })
    .await
}

/// Waits until the connection has ended.
pub async fn closed(events: &mut Events) {
    wait_for(events, |e| matches!(e, Event::Closed { .. }).then_some(())).await;
    assert!(
        tokio::time::timeout(PATIENCE, events.recv())
            .await
            .unwrap()
            .is_none()
    );
}

/// Waits until `done` holds, polling; fails the test if it never does.
pub async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let poll = async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(PATIENCE, poll)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting until {what}"));
}
