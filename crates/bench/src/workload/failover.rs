//! `failover`: the load of the cluster scale demonstration (issue 15,
//! `scripts/cluster-demo`). Holds many registered connections spread over
//! the nodes of a cluster while account pairs keep a trickle of direct
//! messages flowing between nodes. A connection whose node dies connects
//! to another node and registers its name again as soon as the cluster
//! has freed it; the report says how long that took. At the end every
//! acknowledged message must have reached its recipient: live, or in the
//! conversation's history (sent while the recipient was away, or handed
//! to a node that died before writing it to the socket).
//!
//! The run ends when `--stop-file` appears (the demo script creates it)
//! or at `--timeout`. `--ready-file` is written once every connection is
//! registered, for the script to wait on.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use chinwag_client::{Client, ClientError, ErrorCode, Event, HistoryQuery};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::Env;
use crate::fleet::{self, FleetSpec, Member};
use crate::flow::{per_sec, round3};
use crate::latency::{Latency, LatencySummary};
use crate::report::Report;

/// The password of the message pairs' accounts (created at first login).
const PASSWORD: &str = "chinwag-bench-failover";

/// Most connections: the file limit here is 20,000 per process, and the
/// benchmark needs a few descriptors of its own.
const MAX_CONNECTIONS: usize = 19_500;

/// REGISTER attempts on one connection (chinwagd closes a connection
/// after `max_register_attempts`, 10 by default).
const REGISTER_ATTEMPTS: usize = 9;

/// Messages asked for per HISTORY page.
const PAGE: u16 = 100;

#[derive(Clone, Debug, clap::Args)]
pub struct FailoverArgs {
    /// Registered connections to hold, the message pairs' included
    #[arg(long, short = 'n', default_value_t = 1000)]
    pub connections: usize,
    /// Account pairs exchanging direct messages, sender and receiver on
    /// different nodes
    #[arg(long, default_value_t = 20)]
    pub pairs: usize,
    /// Direct messages per second, all pairs together
    #[arg(long, default_value_t = 20.0)]
    pub rate: f64,
    /// Write this file once every connection is registered
    #[arg(long, value_name = "FILE")]
    pub ready_file: Option<PathBuf>,
    /// Stop sending when this file appears (else at --timeout)
    #[arg(long, value_name = "FILE")]
    pub stop_file: Option<PathBuf>,
    /// How long a connection whose name is still taken (its dead node's
    /// names not freed yet) waits before registering again
    #[arg(long, default_value = "500ms", value_parser = humantime::parse_duration)]
    pub retry: Duration,
    /// After the last send, how long to wait for deliveries on their way
    /// before looking in the history
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    pub drain: Duration,
}

#[derive(Debug, Serialize)]
struct FailoverResult {
    /// Connections registered at the start (the pairs' included).
    connections: usize,
    /// Connections that failed to connect or register at the start.
    failed: usize,
    first_error: Option<String>,
    connections_per_sec: f64,
    registration_secs: f64,
    /// Registered connections that were lost later (their node died).
    lost_connections: usize,
    /// Of those, how many registered their name again on another node.
    reconnected: usize,
    /// And how many could not by the end of the run.
    reconnect_failed: usize,
    reconnect_error: Option<String>,
    /// When this process noticed the first lost connection, and when the
    /// last of them was registered again (Unix time, milliseconds).
    first_loss_at_ms: Option<u64>,
    last_reconnect_at_ms: Option<u64>,
    /// From a connection's loss to its name registered again.
    reconnect: LatencySummary,
    /// Direct messages the senders sent, and how many were acknowledged
    /// (SENT), refused (an error reply, or no reply from a dying node),
    /// or not sent because the sender was away.
    sent: u64,
    acknowledged: u64,
    refused: u64,
    skipped: u64,
    first_refusal: Option<String>,
    /// Acknowledged messages the receiver got live.
    received_live: u64,
    /// Acknowledged messages it did not get live but found in the history.
    found_in_history: u64,
    /// Acknowledged messages it neither got nor found: lost.
    lost_messages: u64,
    /// Acknowledged messages whose receiver was not connected at the end
    /// (not checked).
    unverified: u64,
    /// Messages received twice (an offline queue replayed after a
    /// reconnection).
    duplicates: u64,
}

pub async fn run(args: &FailoverArgs, env: &Env) -> anyhow::Result<Report> {
    let talkers = args.pairs * 2;
    if args.connections == 0 || args.connections > MAX_CONNECTIONS {
        bail!("--connections must be 1..={MAX_CONNECTIONS}");
    }
    if talkers > args.connections {
        bail!(
            "--pairs {} needs {talkers} of the --connections",
            args.pairs
        );
    }
    if !(args.rate.is_finite() && args.rate > 0.0) {
        bail!("--rate must be a positive number of messages per second");
    }
    let deadline = Instant::now() + env.timeout;
    let heal = Arc::new(Mutex::new(Heal::default()));
    let mut keepers = JoinSet::new();

    // The pairs first (accounts: what they were sent is kept), then the
    // idle connections; each is spread over the nodes by its index.
    let started = Instant::now();
    let talker_spec = FleetSpec {
        password: Some(PASSWORD.into()),
        ..env.fleet(deadline, 256)
    };
    let talker_name = |i: usize| env.name(if i.is_multiple_of(2) { "s" } else { "r" }, i / 2);
    let opened = fleet::open(&talker_spec, talkers, talker_name).await;
    if opened.failed > 0 {
        bail!(
            "{} of the {talkers} message pairs' connections failed; first: {}",
            opened.failed,
            opened.first_error.unwrap_or_default()
        );
    }
    let mut registration = opened.registration;
    let mut pairs: Vec<Pair> = Vec::with_capacity(args.pairs);
    let talker_spec = Arc::new(talker_spec);
    let mut members = opened.members.into_iter().flatten().enumerate();
    while let (Some((s, sender)), Some((r, receiver))) = (members.next(), members.next()) {
        let (sender_tx, sender_rx) = watch::channel(None);
        let (receiver_tx, receiver_rx) = watch::channel(None);
        let received = Arc::new(Mutex::new(Received::default()));
        let keeper = |index, current, received| Keeper {
            index,
            name: talker_name(index),
            spec: Arc::clone(&talker_spec),
            retry: args.retry,
            deadline,
            current: Some(current),
            received,
            heal: Arc::clone(&heal),
        };
        keepers.spawn(keeper(s, sender_tx, None).keep(sender));
        keepers.spawn(keeper(r, receiver_tx, Some(Arc::clone(&received))).keep(receiver));
        pairs.push(Pair {
            sender: sender_rx,
            receiver: receiver_rx,
            receiver_name: talker_name(r),
            sender_name: talker_name(s),
            acked: Mutex::new(Vec::new()),
            received,
        });
    }

    let idle_spec = Arc::new(env.fleet(deadline, 16));
    let idle = args.connections - talkers;
    let opened = fleet::open(&idle_spec, idle, |i| env.name("f", i)).await;
    registration.merge(&opened.registration);
    let registration_time = started.elapsed();
    let (failed, first_error) = (opened.failed, opened.first_error);
    for (index, member) in opened.members.into_iter().enumerate() {
        let Some(member) = member else { continue };
        let keeper = Keeper {
            index,
            name: env.name("f", index),
            spec: Arc::clone(&idle_spec),
            retry: args.retry,
            deadline,
            current: None,
            received: None,
            heal: Arc::clone(&heal),
        };
        keepers.spawn(keeper.keep(member));
    }
    let connections = args.connections - failed;
    if let Some(path) = &args.ready_file {
        std::fs::write(path, format!("{connections} registered, {failed} failed\n"))
            .with_context(|| format!("cannot write --ready-file {}", path.display()))?;
    }

    let pairs = Arc::new(pairs);
    let sending = send_trickle(
        Arc::clone(&pairs),
        args.rate,
        stopped(args.stop_file.as_deref(), deadline),
    )
    .await;
    tokio::time::sleep(args.drain).await;
    let mut verdict = Verdict::default();
    for pair in pairs.iter() {
        verdict.add(pair.verify().await);
    }
    keepers.abort_all();
    while keepers.join_next().await.is_some() {}

    let heal = lock(&heal);
    let result = FailoverResult {
        connections,
        failed,
        first_error,
        connections_per_sec: per_sec(connections as u64, registration_time),
        registration_secs: round3(registration_time.as_secs_f64()),
        lost_connections: heal.lost,
        reconnected: heal.reconnected,
        reconnect_failed: heal.failed,
        reconnect_error: heal.first_error.clone(),
        first_loss_at_ms: heal.first_loss_at_ms,
        last_reconnect_at_ms: heal.last_reconnect_at_ms,
        reconnect: heal.took.summary(),
        sent: sending.sent,
        acknowledged: sending.acknowledged,
        refused: sending.refused,
        skipped: sending.skipped,
        first_refusal: sending.first_refusal,
        received_live: verdict.live,
        found_in_history: verdict.in_history,
        lost_messages: verdict.lost,
        unverified: verdict.unverified,
        duplicates: pairs.iter().map(|p| lock(&p.received).duplicates).sum(),
    };
    let mut summary = format!(
        "{} of {} connections registered in {:.3}s: {:.0} connections/s\n  registration {}",
        result.connections,
        args.connections,
        result.registration_secs,
        result.connections_per_sec,
        registration.summary()
    );
    if let Some(error) = &result.first_error {
        summary.push_str(&format!("\n  {} failed; first: {error}", result.failed));
    }
    summary.push_str(&format!(
        "\n  {} connections lost, {} registered again on another node ({} failed); \
         loss to registered again: {}",
        result.lost_connections, result.reconnected, result.reconnect_failed, result.reconnect
    ));
    if let Some(error) = &result.reconnect_error {
        summary.push_str(&format!("\n  first reconnection failure: {error}"));
    }
    summary.push_str(&format!(
        "\n  messages: {} sent, {} acknowledged ({} refused, {} skipped while the sender was away); \
         of the acknowledged {} received live, {} found in the history, {} lost, {} unverified",
        result.sent,
        result.acknowledged,
        result.refused,
        result.skipped,
        result.received_live,
        result.found_in_history,
        result.lost_messages,
        result.unverified
    ));
    if let Some(refusal) = &result.first_refusal {
        summary.push_str(&format!("\n  first refusal: {refusal}"));
    }
    Ok(Report {
        workload: "failover",
        run: env.run,
        params: json!({
            "connections": args.connections,
            "pairs": args.pairs,
            "rate": args.rate,
            "retry_secs": args.retry.as_secs_f64(),
            "drain_secs": args.drain.as_secs_f64(),
            "nodes": env.servers.len(),
            "sources": env.sources,
            "connect_concurrency": env.connect_concurrency,
        }),
        ok: result.failed == 0
            && result.reconnect_failed == 0
            && result.lost_messages == 0
            && result.unverified == 0,
        rate: result.connections_per_sec,
        rate_unit: "connections/s",
        p99_us: result.reconnect.p99_us,
        result: serde_json::to_value(&result).unwrap_or(Value::Null),
        server: None,
        summary,
    })
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Resolves when `stop_file` exists, or at `deadline`.
async fn stopped(stop_file: Option<&Path>, deadline: Instant) {
    while Instant::now() < deadline {
        if stop_file.is_some_and(Path::exists) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Lost connections and how they came back.
#[derive(Default)]
struct Heal {
    lost: usize,
    reconnected: usize,
    failed: usize,
    first_error: Option<String>,
    first_loss_at_ms: Option<u64>,
    last_reconnect_at_ms: Option<u64>,
    took: Latency,
}

/// One connection, kept registered under its name for the whole run:
/// when its node goes, it registers again on another.
struct Keeper {
    index: usize,
    name: String,
    spec: Arc<FleetSpec>,
    retry: Duration,
    deadline: Instant,
    /// Where a message pair's end publishes its client (`None` while it
    /// is away).
    current: Option<watch::Sender<Option<Client>>>,
    /// A receiver's record of what it got.
    received: Option<Arc<Mutex<Received>>>,
    heal: Arc<Mutex<Heal>>,
}

impl Keeper {
    async fn keep(self, mut member: Member) {
        // Connection `index` started on node `index % nodes`.
        let mut node = self.index % self.spec.servers.len();
        loop {
            if let Some(current) = &self.current {
                current.send_replace(Some(member.client.clone()));
            }
            while let Some(event) = member.events.recv().await {
                match event {
                    Event::Message(message) => {
                        if let Some(received) = &self.received {
                            lock(received).record(message.id.0);
                        }
                    }
                    Event::Closed { .. } => break,
                    _ => {}
                }
            }
            if let Some(current) = &self.current {
                current.send_replace(None);
            }
            drop(member);
            let lost_at = Instant::now();
            {
                let mut heal = lock(&self.heal);
                heal.lost += 1;
                heal.first_loss_at_ms.get_or_insert_with(unix_ms);
            }
            match self.reconnect(&mut node).await {
                Ok(again) => {
                    let mut heal = lock(&self.heal);
                    heal.reconnected += 1;
                    heal.took.record(lost_at.elapsed());
                    heal.last_reconnect_at_ms = Some(unix_ms());
                    member = again;
                }
                Err(error) => {
                    let mut heal = lock(&self.heal);
                    heal.failed += 1;
                    heal.first_error
                        .get_or_insert_with(|| format!("{}: {error}", self.name));
                    return;
                }
            }
        }
    }

    /// Connects to another node than `node` and registers the name
    /// there; `node` becomes the one it is on. The lost node's connections
    /// are spread over the others by their index.
    async fn reconnect(&self, node: &mut usize) -> Result<Member, String> {
        let nodes = self.spec.servers.len();
        let others = (nodes - 1).max(1);
        let mut step = 1 + (self.index / nodes) % others;
        let mut last_error = String::from("no attempt");
        while Instant::now() < self.deadline {
            let next = (*node + step) % nodes;
            match fleet::dial(&self.spec, self.spec.servers[next], self.index).await {
                Ok(member) => match self.register(&member.client).await {
                    Ok(()) => {
                        *node = next;
                        return Ok(member);
                    }
                    Err(error) => last_error = error,
                },
                Err(error) => last_error = error.to_string(),
            }
            // That node did not take it (it may be the dead one): the
            // next one.
            step = step % others + 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(format!("not registered again in time; last: {last_error}"))
    }

    /// Registers on a fresh connection, asking again while the name is
    /// still held by the dead node or the cluster cannot claim it yet, as
    /// often as the server lets one connection try.
    async fn register(&self, client: &Client) -> Result<(), String> {
        // The first wait depends on the index, so that thousands of
        // connections do not ask at the same moment.
        let mut wait = self.retry.mul_f64(0.5 + (self.index % 16) as f64 / 16.0);
        for _ in 0..REGISTER_ATTEMPTS {
            match client
                .register(&self.name, self.spec.password.as_deref())
                .await
            {
                Ok(_) => return Ok(()),
                Err(ClientError::Server {
                    code: ErrorCode::NameTaken | ErrorCode::ClusterUnavailable,
                    ..
                }) if Instant::now() + wait < self.deadline => {
                    tokio::time::sleep(wait).await;
                    wait = self.retry;
                }
                Err(error) => return Err(error.to_string()),
            }
        }
        Err(format!("still taken after {REGISTER_ATTEMPTS} attempts"))
    }
}

/// The ids a receiver got.
#[derive(Default)]
struct Received {
    ids: HashSet<u64>,
    duplicates: u64,
}

impl Received {
    fn record(&mut self, id: u64) {
        if !self.ids.insert(id) {
            self.duplicates += 1;
        }
    }
}

/// A sender and a receiver on different nodes.
struct Pair {
    sender: watch::Receiver<Option<Client>>,
    receiver: watch::Receiver<Option<Client>>,
    sender_name: String,
    receiver_name: String,
    /// The ids of the messages acknowledged (SENT).
    acked: Mutex<Vec<u64>>,
    received: Arc<Mutex<Received>>,
}

/// What became of one pair's acknowledged messages.
#[derive(Default)]
struct Verdict {
    live: u64,
    in_history: u64,
    lost: u64,
    unverified: u64,
}

impl Verdict {
    fn add(&mut self, other: Verdict) {
        self.live += other.live;
        self.in_history += other.in_history;
        self.lost += other.lost;
        self.unverified += other.unverified;
    }
}

impl Pair {
    /// Checks every acknowledged message: received live, or else in the
    /// receiver's history of the conversation.
    async fn verify(&self) -> Verdict {
        let acked = lock(&self.acked).clone();
        let missing: Vec<u64> = {
            let received = lock(&self.received);
            acked
                .iter()
                .copied()
                .filter(|id| !received.ids.contains(id))
                .collect()
        };
        let mut verdict = Verdict {
            live: (acked.len() - missing.len()) as u64,
            ..Verdict::default()
        };
        let Some(&oldest) = missing.iter().min() else {
            return verdict;
        };
        let client = self.receiver.borrow().clone();
        let Some(client) = client else {
            verdict.unverified = missing.len() as u64;
            return verdict;
        };
        match self.history_since(&client, oldest).await {
            Ok(found) => {
                for id in missing {
                    if found.contains(&id) {
                        verdict.in_history += 1;
                    } else {
                        verdict.lost += 1;
                    }
                }
            }
            Err(error) => {
                eprintln!(
                    "chinwag-bench: {} cannot read its history: {error}",
                    self.receiver_name
                );
                verdict.unverified = missing.len() as u64;
            }
        }
        verdict
    }

    /// The ids of the conversation's messages from `oldest` on, read
    /// page by page from the newest.
    async fn history_since(
        &self,
        client: &Client,
        oldest: u64,
    ) -> Result<HashSet<u64>, ClientError> {
        let mut found = HashSet::new();
        let mut before = None;
        loop {
            let page = client
                .history(&HistoryQuery {
                    with: Some(self.sender_name.as_str()),
                    before,
                    after: None,
                    limit: PAGE,
                })
                .await?;
            found.extend(page.iter().map(|m| m.id.0));
            match page.iter().map(|m| m.id.0).min() {
                Some(lowest) if lowest > oldest && page.len() == usize::from(PAGE) => {
                    before = Some(lowest)
                }
                _ => return Ok(found),
            }
        }
    }
}

/// What the senders did.
#[derive(Default)]
struct Sending {
    sent: u64,
    acknowledged: u64,
    refused: u64,
    skipped: u64,
    first_refusal: Option<String>,
}

impl Sending {
    fn account(&mut self, pairs: &[Pair], (pair, outcome): (usize, Result<u64, ClientError>)) {
        match outcome {
            Ok(id) => {
                self.acknowledged += 1;
                lock(&pairs[pair].acked).push(id);
            }
            Err(error) => {
                self.refused += 1;
                self.first_refusal.get_or_insert_with(|| {
                    format!(
                        "{} -> {}: {error}",
                        pairs[pair].sender_name, pairs[pair].receiver_name
                    )
                });
            }
        }
    }
}

/// Sends `rate` direct messages per second, pair after pair, until
/// `stop`; then waits for the answers still on their way.
async fn send_trickle(
    pairs: Arc<Vec<Pair>>,
    rate: f64,
    stop: impl std::future::Future<Output = ()>,
) -> Sending {
    let mut sending = Sending::default();
    if pairs.is_empty() {
        stop.await;
        return sending;
    }
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut in_flight = JoinSet::new();
    tokio::pin!(stop);
    for count in 0u64.. {
        tokio::select! {
            () = &mut stop => break,
            _ = tick.tick() => {}
        }
        let index = (count % pairs.len() as u64) as usize;
        let pair = &pairs[index];
        let sender = pair.sender.borrow().clone();
        let Some(sender) = sender else {
            sending.skipped += 1;
            continue;
        };
        sending.sent += 1;
        let to = pair.receiver_name.clone();
        in_flight.spawn(async move {
            let text = format!("failover message {count}");
            (index, sender.send(&to, &text).await.map(|sent| sent.id.0))
        });
        while let Some(Ok(done)) = in_flight.try_join_next() {
            sending.account(&pairs, done);
        }
    }
    while let Some(done) = in_flight.join_next().await {
        if let Ok(done) = done {
            sending.account(&pairs, done);
        }
    }
    sending
}
