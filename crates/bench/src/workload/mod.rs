//! The workloads: one file each, with its arguments and its run.
//!
//! A workload gets an [`Env`] (the server, limits, naming) and returns a
//! [`Report`]. The message workloads describe their senders and receivers
//! and leave the sending, timing and counting to [`crate::flow`].

pub mod broadcast;
pub mod dm;
pub mod failover;
pub mod history;
pub mod idle;
pub mod room;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::bail;
use serde_json::{Value, json};

use crate::fleet::FleetSpec;
use crate::flow::{FlowResult, Plan};
use crate::report::{Report, ServerUsage};
use crate::stamp;

/// What to run.
#[derive(Debug, clap::Subcommand)]
pub enum Workload {
    /// Open many registered connections and hold them: connections per
    /// second, registration latency, server memory per connection
    Idle(idle::IdleArgs),
    /// Sender/receiver pairs exchanging direct messages
    Dm(dm::DmArgs),
    /// Members of the whole server, some of whom broadcast to all others
    Broadcast(broadcast::BroadcastArgs),
    /// Members of one room, some of whom send to it
    Room(room::RoomArgs),
    /// A long conversation, then readers paging through it: pages read per
    /// second and page latency
    History(history::HistoryArgs),
    /// Hold connections spread over a cluster's nodes with a trickle of
    /// direct messages; when a node dies, register its users again on the
    /// others: time to heal, and acknowledged messages lost (the cluster
    /// scale demonstration, scripts/cluster-demo)
    Failover(failover::FailoverArgs),
}

impl Workload {
    /// Runs the workload once. Each workload bounds its own phases; as a
    /// last resort, a run that outlives `--timeout` plus its drain time
    /// and a minute is abandoned with an error.
    pub async fn run(&self, env: &Env) -> anyhow::Result<Report> {
        let limit = env.timeout + self.drain() + Duration::from_secs(60);
        tokio::time::timeout(limit, self.run_unbounded(env))
            .await
            .map_err(|_| {
                anyhow::anyhow!(
                    "run {} did not finish within {}; giving up",
                    env.run,
                    humantime::format_duration(limit)
                )
            })?
    }

    fn drain(&self) -> Duration {
        match self {
            Workload::Idle(args) => args.hold,
            Workload::Dm(args) => args.flow.drain,
            Workload::Broadcast(args) => args.flow.drain,
            Workload::Room(args) => args.flow.drain,
            Workload::History(_) => Duration::ZERO,
            Workload::Failover(args) => args.drain,
        }
    }

    async fn run_unbounded(&self, env: &Env) -> anyhow::Result<Report> {
        match self {
            Workload::Idle(args) => idle::run(args, env).await,
            Workload::Dm(args) => dm::run(args, env).await,
            Workload::Broadcast(args) => broadcast::run(args, env).await,
            Workload::Room(args) => room::run(args, env).await,
            Workload::History(args) => history::run(args, env).await,
            Workload::Failover(args) => failover::run(args, env).await,
        }
    }
}

/// What every workload runs with.
#[derive(Clone, Debug)]
pub struct Env {
    /// The server, or the nodes of a cluster (never empty).
    pub servers: Vec<SocketAddr>,
    pub server_pid: Option<u32>,
    pub timeout: Duration,
    pub sources: usize,
    pub connect_concurrency: usize,
    /// Which run this is (from 1).
    pub run: u32,
    /// Starts every user name of this process, so that runs never collide
    /// with each other or with another benchmark on the same server.
    pub prefix: String,
}

impl Env {
    /// The name of connection `index` in role `role` ("s" sender, "r"
    /// receiver, ...): e.g. `b3f2a1r2-s17`.
    pub fn name(&self, role: &str, index: usize) -> String {
        format!("{}r{}-{role}{index}", self.prefix, self.run)
    }

    /// How to open connections; they must be registered by `deadline`.
    /// Connection `i` goes to node `i % nodes`.
    pub fn fleet(&self, deadline: Instant, event_buffer: usize) -> FleetSpec {
        FleetSpec {
            servers: self.servers.clone(),
            sources: self.sources,
            concurrency: self.connect_concurrency,
            deadline,
            event_buffer,
            password: None,
        }
    }
}

/// Most messages one run may track (4 bytes of bookkeeping each).
const MAX_TRACKED_MESSAGES: u64 = 20_000_000;

/// The options every message workload has.
#[derive(Clone, Debug, clap::Args)]
pub struct FlowArgs {
    /// Messages each sender sends
    #[arg(long, short = 'm', default_value_t = 10_000)]
    pub messages: u64,
    /// Bytes per message text (at least 51, the timestamp header)
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// Messages in flight per sender: sent, not yet received by every
    /// recipient
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub window: u16,
    /// Pace the senders at this many messages per second in total, for
    /// latency at a steady load
    #[arg(long)]
    pub rate: Option<f64>,
    /// After the last send, how long to wait for deliveries still on their
    /// way before counting them lost
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub drain: Duration,
}

impl FlowArgs {
    /// Checks the options against `senders` and the server's limit.
    pub fn check(&self, senders: usize, max_content: usize) -> anyhow::Result<()> {
        if self.messages == 0 {
            bail!("--messages must be at least 1");
        }
        if self.messages.saturating_mul(senders as u64) > MAX_TRACKED_MESSAGES {
            bail!(
                "{} senders × {} messages is more than the {MAX_TRACKED_MESSAGES} messages one run can track",
                senders,
                self.messages
            );
        }
        if let Some(rate) = self.rate
            && !(rate.is_finite() && rate > 0.0)
        {
            bail!("--rate must be a positive number of messages per second");
        }
        if self.drain > Duration::from_secs(600) {
            bail!("--drain is at most 10m");
        }
        stamp::check_size(self.size, max_content).map_err(anyhow::Error::msg)
    }

    pub fn plan(&self, deadline: Instant) -> Plan {
        Plan {
            messages: self.messages,
            size: self.size,
            window: usize::from(self.window),
            rate: self.rate,
            deadline,
            drain: self.drain,
        }
    }

    pub fn params(&self) -> Value {
        json!({
            "messages": self.messages,
            "size": self.size,
            "window": self.window,
            "rate": self.rate,
            "drain_secs": self.drain.as_secs_f64(),
        })
    }

    /// "10000 messages of 64 B per sender, window 16[, paced at 20000/s]".
    pub fn describe(&self) -> String {
        let mut text = format!(
            "{} messages of {} B per sender, window {}",
            self.messages, self.size, self.window
        );
        if let Some(rate) = self.rate {
            text.push_str(&format!(", paced at {rate}/s in total"));
        }
        text
    }
}

/// Adds `extra` (an object) to `base` (an object).
pub fn merge(mut base: Value, extra: Value) -> Value {
    if let (Value::Object(base), Value::Object(extra)) = (&mut base, extra) {
        base.extend(extra);
    }
    base
}

/// The report of a message workload.
pub fn flow_report(
    workload: &'static str,
    env: &Env,
    params: Value,
    headline: String,
    result: FlowResult,
    server: Option<ServerUsage>,
) -> Report {
    let mut summary = format!(
        "{headline}\n  delivered {} of {} (lost {}) in {:.3}s: {:.0} msgs/s; sent {:.0}/s",
        result.delivered,
        result.expected,
        result.lost,
        result.elapsed_secs,
        result.delivered_per_sec,
        result.sent_per_sec
    );
    summary.push_str(&format!("\n  latency {}", result.latency));
    summary.push_str(&format!(
        "\n  chinwag-bench used {:.2}s CPU",
        result.bench_cpu_secs
    ));
    if result.send_errors > 0 {
        summary.push_str(&format!(
            "\n  {} sends refused; first: {}",
            result.send_errors,
            result.first_error.as_deref().unwrap_or("")
        ));
    }
    if result.closed_receivers > 0 {
        summary.push_str(&format!(
            "\n  {} receivers were disconnected; first: {}",
            result.closed_receivers,
            result.close_reason.as_deref().unwrap_or("")
        ));
    }
    if result.recipients_mismatch > 0 {
        summary.push_str(&format!(
            "\n  {} sends reached a different number of recipients than planned \
             (other users online?)",
            result.recipients_mismatch
        ));
    }
    if result.duplicates > 0 {
        summary.push_str(&format!("\n  {} duplicate deliveries", result.duplicates));
    }
    if result.timed_out {
        summary.push_str("\n  hit --timeout before every message was sent");
    }
    let mut fields = serde_json::to_value(&result).unwrap_or(Value::Null);
    // Server CPU per delivery: the per-core cost, less sensitive than
    // throughput to what else the machine is doing.
    let cpu_per_delivery = server
        .as_ref()
        .filter(|_| result.delivered > 0)
        .map(|s| (s.cpu_secs * 1e7 / result.delivered as f64).round() / 10.0);
    if let (Some(us), Value::Object(fields)) = (cpu_per_delivery, &mut fields) {
        fields.insert("server_cpu_us_per_delivery".into(), us.into());
        summary.push_str(&format!("\n  server CPU per delivery: {us}µs"));
    }
    Report {
        workload,
        run: env.run,
        params,
        ok: result.lost == 0
            && result.send_errors == 0
            && result.duplicates == 0
            && !result.timed_out,
        rate: result.delivered_per_sec,
        rate_unit: "deliveries/s",
        p99_us: result.latency.p99_us,
        result: fields,
        server,
        summary,
    }
}
