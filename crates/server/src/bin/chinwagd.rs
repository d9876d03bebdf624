//! `chinwagd`: the chinwag chat server.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use chinwag_server::Server;
use chinwag_server::config::{self, Settings};
use clap::Parser;
use tokio::net::TcpListener;
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
}

const EXAMPLES: &str = "\
Examples:
  chinwagd                                   listen on 127.0.0.1:7070
  chinwagd --listen 0.0.0.0:7070 --admin-password s3cret
  CHINWAG_HEARTBEAT=15s chinwagd --config /etc/chinwag/chinwagd.toml";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&cli.log).context("invalid --log filter")?)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    let config = config::resolve(cli.config.as_deref(), cli.settings)?;
    let listener = TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let generated = config.admin_password.is_none();
    let server = Server::new(listener, config);
    let addr = server.local_addr()?;
    if generated {
        tracing::warn!(
            "no admin password configured; generated for this run: {}",
            server.admin_password()
        );
    }
    tracing::info!(%addr, "chinwagd listening");

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
