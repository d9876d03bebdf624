//! `chinwagd`: the chinwag chat server.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use chinwag_server::Server;
use chinwag_server::config::{self, Settings};
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// The chinwag chat server.
///
/// Starts with embedded defaults: no config file and no other service is
/// needed. Settings come, from lowest to highest priority, from the built-in
/// defaults, the config file (TOML, keys named like the flags with `_`
/// instead of `-`), environment variables (CHINWAG_*), and flags.
///
/// Without an admin password (--admin-password, CHINWAG_ADMIN_PASSWORD or
/// `admin_password` in the config file) a strong one is generated and
/// logged once at start-up.
///
/// SIGINT and SIGTERM shut the server down gracefully: every client is
/// told, queued messages are delivered, connections are closed, and the
/// process exits 0.
///
/// With --cluster, this process is one node of a cluster: several
/// chinwagd share a NATS server (JetStream on) and behave as one server
/// (see docs/cluster.md).
#[derive(Debug, Parser)]
#[command(name = "chinwagd", version, about, long_about, after_help = EXAMPLES)]
struct Cli {
    /// Config file (TOML)
    #[arg(long, short, env = "CHINWAG_CONFIG")]
    config: Option<PathBuf>,

    /// Log filter: error, warn, info, debug, trace, or a tracing directive
    /// such as `chinwag_server=debug`
    #[arg(long, env = "CHINWAG_LOG", default_value = "info")]
    log: String,

    #[command(flatten)]
    settings: Settings,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Make a certificate for trying TLS out: a throw-away certificate
    /// authority (ca.pem, for `chinwag --ca-file`) and a server certificate
    /// it signed (cert.pem and key.pem, for --tls-cert and --tls-key).
    ///
    /// For local use only: a public server should use a certificate from a
    /// real certificate authority.
    Cert {
        /// Directory to write ca.pem, cert.pem and key.pem into
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Names the certificate is valid for: DNS names or IP addresses
        #[arg(long = "name", value_name = "NAME", default_values = ["localhost", "127.0.0.1", "::1"])]
        names: Vec<String>,
    },
}

const EXAMPLES: &str = "\
Examples:
  chinwagd                                   listen on 127.0.0.1:7070
  chinwagd --listen 0.0.0.0:7070 --admin-password s3cret
  CHINWAG_HEARTBEAT=15s chinwagd --config /etc/chinwag/chinwagd.toml
  chinwagd cert --out tls && chinwagd --tls-cert tls/cert.pem --tls-key tls/key.pem
                                             TLS only, on 127.0.0.1:7070
  chinwagd --tls-cert tls/cert.pem --tls-key tls/key.pem --tls-listen 127.0.0.1:7443
                                             plain on 7070 and TLS on 7443
  chinwagd --metrics-listen 127.0.0.1:9090   Prometheus /metrics and /healthz
  chinwagd --cluster nats://127.0.0.1:4222 --node-id n1 --listen 127.0.0.1:7071
                                             one node of a cluster (docs/cluster.md)";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&cli.log).context("invalid --log filter")?)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    if let Some(Command::Cert { out, names }) = cli.command {
        let files = chinwag_server::tls::generate(&out, &names)?;
        println!(
            "wrote {}, {} and {}\nserve:   chinwagd --tls-cert {} --tls-key {}\nconnect: chinwag --ca-file {} ...",
            files.ca.display(),
            files.cert.display(),
            files.key.display(),
            files.cert.display(),
            files.key.display(),
            files.ca.display(),
        );
        return Ok(());
    }

    let config = config::resolve(cli.config.as_deref(), cli.settings)?;
    let generated = config.admin_password.is_none();
    let server = Server::bind(config).await?;
    if generated {
        tracing::warn!(
            "no admin password configured; generated for this run: {}",
            server.admin_password()
        );
    }
    if let Some(cluster) = server.handle().state().cluster() {
        tracing::info!(
            node = %cluster.node(),
            nats = %cluster.config().servers.join(","),
            "joined the cluster"
        );
    }
    if let Some(addr) = server.metrics_addr() {
        tracing::info!(%addr, "metrics listening");
    }
    // The main listener (--listen) is logged last, so that a script that
    // reads the log up to "chinwagd listening" has seen every address.
    let listeners = server.listen_addrs()?;
    for extra in &listeners[1..] {
        tracing::info!(addr = %extra.addr, "TLS listening");
    }
    let main = listeners[0];
    let transport = if main.tls { "tls" } else { "tcp" };
    tracing::info!(transport = %transport, addr = %main.addr, "chinwagd listening");

    let handle = server.handle();
    tokio::spawn(async move {
        let reason = wait_for_signal().await;
        tracing::info!("{reason}; shutting down");
        handle.shut_down(&format!("the server is shutting down ({reason})"));
    });
    server.run().await;
    Ok(())
}

/// Waits for SIGINT or SIGTERM and names it.
async fn wait_for_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return "received SIGINT";
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => "received SIGINT",
            _ = term.recv() => "received SIGTERM",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "received Ctrl-C"
    }
}
