//! The command line: options every workload shares, then the workload.

use std::time::Duration;

use clap::Parser;

use crate::workload::Workload;

/// Load generator and latency meter for chinwagd.
///
/// Drives a running chinwagd over loopback through the chinwag client
/// library and reports throughput, one-way latency (from timestamps carried
/// in each message) and lost messages. Every run is bounded by --timeout and
/// by the counts given, and only loopback servers are accepted.
///
/// Exit status: 0 when every run delivered everything, 1 when a run lost
/// messages or connections, 2 on a usage or set-up error.
#[derive(Debug, Parser)]
#[command(name = "chinwag-bench", version, about, long_about, after_help = EXAMPLES)]
pub struct Cli {
    /// The server to measure (a loopback address). Several, comma-separated,
    /// are the nodes of one cluster: connections are spread over them in
    /// turn, and a dm pair's sender and receiver are on different nodes
    #[arg(long, default_value = "127.0.0.1:7070", value_delimiter = ',')]
    pub server: Vec<String>,

    /// The server's process id: report its memory (VmRSS) and CPU time
    #[arg(long)]
    pub server_pid: Option<u32>,

    /// Print one JSON object per run instead of a human summary
    #[arg(long)]
    pub json: bool,

    /// Also append each run's JSON object to this file (with human output
    /// on stdout)
    #[arg(long, value_name = "FILE")]
    pub json_out: Option<std::path::PathBuf>,

    /// Upper bound on connecting and sending, per run
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,

    /// Repeat the workload this many times (a human run ends with the median)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub runs: u32,

    /// Spread client connections over this many source addresses
    /// (127.0.0.1 ..= 127.0.0.N), so that ephemeral ports do not run out
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=254))]
    pub sources: u16,

    /// Connections being opened at the same time
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=4096))]
    pub connect_concurrency: u16,

    #[command(subcommand)]
    pub workload: Workload,
}

const EXAMPLES: &str = "\
Examples:
  chinwag-bench idle --connections 19000 --server-pid $(pidof chinwagd)
  chinwag-bench dm --pairs 100 --messages 20000 --size 64 --window 16
  chinwag-bench dm --pairs 100 --messages 2000 --size 64 --window 16 --rate 20000
  chinwag-bench --json --runs 3 broadcast --members 1000 --senders 4 --messages 500
  chinwag-bench --sources 16 room --members 10000 --senders 4 --messages 200
  chinwag-bench --server 127.0.0.1:7071,127.0.0.1:7072,127.0.0.1:7073 dm --pairs 100
                                             across the nodes of a cluster
  chinwag-bench --server A,B,C --sources 16 failover --connections 15000 --stop-file /tmp/stop
                                             hold a cluster's users through a node's death
                                             (scripts/cluster-demo)";
