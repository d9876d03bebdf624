//! `chinwag-bench`: see `chinwag-bench --help` and docs/BENCHMARKS.md.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;

use chinwag_bench::cli::Cli;
use chinwag_bench::report::{self, Report};
use chinwag_bench::workload::Env;
use chinwag_bench::{sys, target};
use clap::Parser;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("chinwag-bench: cannot start the runtime: {error}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            eprintln!("chinwag-bench: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs the workload `--runs` times; `Ok(false)` if any run lost something.
async fn run(cli: Cli) -> anyhow::Result<bool> {
    let servers = cli
        .server
        .iter()
        .map(|addr| target::resolve_loopback(addr))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if let Some(pid) = cli.server_pid {
        sys::check_pid(pid)?;
    }
    match sys::raise_file_limit() {
        Ok(limit) => tracing_free_note(cli.json, &format!("open file limit: {limit}")),
        Err(error) => eprintln!("chinwag-bench: cannot raise the open file limit: {error}"),
    }
    let mut env = Env {
        servers,
        server_pid: cli.server_pid,
        timeout: cli.timeout,
        sources: usize::from(cli.sources),
        connect_concurrency: usize::from(cli.connect_concurrency),
        run: 0,
        prefix: name_prefix(),
    };
    let mut json_out = match &cli.json_out {
        Some(path) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open --json-out {}", path.display()))?,
        ),
        None => None,
    };
    let mut reports: Vec<Report> = Vec::new();
    for run in 1..=cli.runs {
        env.run = run;
        let report = cli.workload.run(&env).await?;
        if let Some(file) = &mut json_out {
            writeln!(file, "{}", report.json())
                .with_context(|| format!("cannot write to {:?}", cli.json_out))?;
        }
        if cli.json {
            println!("{}", report.json());
        } else {
            println!("{}", report.human());
        }
        reports.push(report);
    }
    if !cli.json
        && let Some(line) = report::median_line(&reports)
    {
        println!("{line}");
    }
    Ok(reports.iter().all(|r| r.ok))
}

/// A note for a human reader, kept out of JSON output.
fn tracing_free_note(json: bool, note: &str) {
    if !json {
        eprintln!("chinwag-bench: {note}");
    }
}

/// `b` and four hex digits from the process id and the clock: distinct
/// between benchmark processes that may share a server.
fn name_prefix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("b{:04x}", (std::process::id() ^ nanos) & 0xffff)
}
