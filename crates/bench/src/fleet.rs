//! Opening many registered connections at once, spread over several
//! 127.0.0.x source addresses.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chinwag_client::{Client, ClientError, ConnectOptions, Events};
use futures::StreamExt;
use tokio::net::TcpSocket;

use crate::latency::Latency;
use crate::target::source_addr;

/// How to open the connections.
#[derive(Clone, Debug)]
pub struct FleetSpec {
    /// Connection `i` goes to `servers[i % servers.len()]`.
    pub servers: Vec<SocketAddr>,
    /// Spread source addresses over 127.0.0.1 .. 127.0.0.`sources`.
    pub sources: usize,
    /// Connections being opened at the same time.
    pub concurrency: usize,
    /// Give up on any connection not registered by then.
    pub deadline: Instant,
    /// Capacity of each connection's event channel.
    pub event_buffer: usize,
    /// Log in to accounts with this password (created at the first
    /// login) rather than as guests.
    pub password: Option<String>,
}

/// One registered connection.
pub struct Member {
    pub client: Client,
    pub events: Events,
}

/// What opening the fleet gave.
pub struct Opened {
    /// In index order; `None` where the connection failed.
    pub members: Vec<Option<Member>>,
    /// How many failed, and the first reason.
    pub failed: usize,
    pub first_error: Option<String>,
    /// From starting to connect to REGISTERED, per connection.
    pub registration: Latency,
    /// From the first connect to the last REGISTERED.
    pub elapsed: Duration,
}

impl Opened {
    /// Every member, or an error naming the first failure: the message
    /// workloads need all their connections.
    pub fn all(self) -> anyhow::Result<Vec<Member>> {
        if self.failed > 0 {
            anyhow::bail!(
                "{} of {} connections failed; first: {}",
                self.failed,
                self.members.len(),
                self.first_error.unwrap_or_default()
            );
        }
        Ok(self.members.into_iter().flatten().collect())
    }
}

/// Opens `count` connections and registers connection `i` as `name(i)`.
pub async fn open(spec: &FleetSpec, count: usize, name: impl Fn(usize) -> String) -> Opened {
    let started = Instant::now();
    let mut members: Vec<Option<Member>> = (0..count).map(|_| None).collect();
    let mut registration = Latency::default();
    let mut failed = 0;
    let mut first_error = None;
    let mut attempts = futures::stream::iter(0..count)
        .map(|i| {
            let name = name(i);
            async move {
                let begun = Instant::now();
                let result = tokio::time::timeout_at(spec.deadline.into(), connect(spec, i, &name))
                    .await
                    .unwrap_or_else(|_| Err(ConnectError::TimedOut));
                (i, result, begun.elapsed())
            }
        })
        .buffer_unordered(spec.concurrency.max(1));
    while let Some((i, result, took)) = attempts.next().await {
        match result {
            Ok(member) => {
                registration.record(took);
                members[i] = Some(member);
            }
            Err(error) => {
                failed += 1;
                first_error.get_or_insert_with(|| format!("connection {i}: {error}"));
            }
        }
    }
    Opened {
        members,
        failed,
        first_error,
        registration,
        elapsed: started.elapsed(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("connect: {0}")]
    Socket(#[from] std::io::Error),
    #[error("{0}")]
    Client(#[from] ClientError),
    #[error("timed out")]
    TimedOut,
}

impl FleetSpec {
    /// The same, with every connection one node further on: a pair's two
    /// ends land on different nodes of a cluster.
    pub fn shifted(&self) -> FleetSpec {
        let mut spec = self.clone();
        spec.servers.rotate_left(1);
        spec
    }
}

async fn connect(spec: &FleetSpec, index: usize, name: &str) -> Result<Member, ConnectError> {
    let server = spec.servers[index % spec.servers.len()];
    let member = dial(spec, server, index).await?;
    member
        .client
        .register(name, spec.password.as_deref())
        .await?;
    Ok(member)
}

/// Connects connection `index` to `server` (from its source address) and
/// says HELLO; not registered yet.
pub async fn dial(
    spec: &FleetSpec,
    server: SocketAddr,
    index: usize,
) -> Result<Member, ConnectError> {
    let socket = match server {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    if let Some(source) = source_addr(server, index, spec.sources) {
        socket.bind(source)?;
    }
    let stream = socket.connect(server).await?;
    stream.set_nodelay(true)?;
    let options = ConnectOptions {
        client_name: concat!("chinwag-bench/", env!("CARGO_PKG_VERSION")).to_owned(),
        event_buffer: spec.event_buffer,
        ..ConnectOptions::default()
    };
    let (client, events) = Client::connect_stream(stream, options).await?;
    Ok(Member { client, events })
}
