//! `idle`: open N registered connections, hold them, and measure how fast
//! they were accepted and how much server memory each one costs.

use std::time::{Duration, Instant};

use anyhow::bail;
use serde::Serialize;
use serde_json::{Value, json};

use super::Env;
use crate::fleet;
use crate::flow::{per_sec, round3};
use crate::latency::LatencySummary;
use crate::report::{Report, ServerProbe};

#[derive(Clone, Debug, clap::Args)]
pub struct IdleArgs {
    /// Connections to open and register
    #[arg(long, short = 'n', default_value_t = 1000)]
    pub connections: usize,
    /// How long to hold them once all are registered, before the server's
    /// memory is read and they are closed
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub hold: Duration,
}

/// Most connections: the file limit here is 20,000 per process, and the
/// benchmark needs a few descriptors of its own.
const MAX_CONNECTIONS: usize = 19_500;

#[derive(Debug, Serialize)]
struct IdleResult {
    /// Connections registered.
    connections: usize,
    /// Connections that failed to connect or register.
    failed: usize,
    first_error: Option<String>,
    /// Registered connections that the server closed while held.
    dropped: usize,
    connections_per_sec: f64,
    elapsed_secs: f64,
    /// Server memory growth per registered connection (needs
    /// --server-pid).
    bytes_per_connection: Option<u64>,
    /// Registration latency: from connect to REGISTERED.
    #[serde(flatten)]
    registration: LatencySummary,
}

pub async fn run(args: &IdleArgs, env: &Env) -> anyhow::Result<Report> {
    if args.connections == 0 || args.connections > MAX_CONNECTIONS {
        bail!("--connections must be 1..={MAX_CONNECTIONS}");
    }
    if args.hold > Duration::from_secs(3600) {
        bail!("--hold is at most 1h");
    }
    let probe = ServerProbe::start(env.server_pid)?;
    let deadline = Instant::now() + env.timeout;
    // Small event channels: an idle connection only ever gets notices,
    // and they are discarded (the events are dropped below).
    let opened = fleet::open(&env.fleet(deadline, 16), args.connections, |i| {
        env.name("i", i)
    })
    .await;
    let clients: Vec<_> = opened
        .members
        .into_iter()
        .flatten()
        .map(|member| member.client)
        .collect();
    tokio::time::sleep(args.hold).await;
    let dropped = clients.iter().filter(|c| c.is_closed()).count();
    let server = probe.map(ServerProbe::finish).transpose()?;
    drop(clients);

    let connections = args.connections - opened.failed;
    let bytes_per_connection = server.as_ref().and_then(|s| {
        let grown = s.rss_after_bytes.saturating_sub(s.rss_before_bytes);
        (connections > 0).then(|| grown / connections as u64)
    });
    let result = IdleResult {
        connections,
        failed: opened.failed,
        first_error: opened.first_error,
        dropped,
        connections_per_sec: per_sec(connections as u64, opened.elapsed),
        elapsed_secs: round3(opened.elapsed.as_secs_f64()),
        bytes_per_connection,
        registration: opened.registration.summary(),
    };
    let mut summary = format!(
        "{} of {} connections registered in {:.3}s: {:.0} connections/s\n  registration {}",
        result.connections,
        args.connections,
        result.elapsed_secs,
        result.connections_per_sec,
        result.registration
    );
    if let Some(bytes) = bytes_per_connection {
        summary.push_str(&format!("\n  server memory: {bytes} bytes per connection"));
    }
    if let Some(error) = &result.first_error {
        summary.push_str(&format!("\n  {} failed; first: {error}", result.failed));
    }
    if dropped > 0 {
        summary.push_str(&format!(
            "\n  {dropped} were closed by the server while held"
        ));
    }
    Ok(Report {
        workload: "idle",
        run: env.run,
        params: json!({
            "connections": args.connections,
            "hold_secs": args.hold.as_secs_f64(),
            "sources": env.sources,
            "connect_concurrency": env.connect_concurrency,
        }),
        ok: result.failed == 0 && dropped == 0,
        rate: result.connections_per_sec,
        rate_unit: "connections/s",
        p99_us: result.registration.p99_us,
        result: serde_json::to_value(&result).unwrap_or(Value::Null),
        server,
        summary,
    })
}
