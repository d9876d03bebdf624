//! `history`: how fast a long conversation is read back. One writer fills a
//! room of this run alone with `--messages` messages; then `--readers`
//! members page through it backwards, `--page-size` messages a page, each
//! reading `--pages` pages (starting over at the newest page when they
//! reach the first message). Reports pages and messages read per second
//! and the latency of one page (HISTORY request to HISTORY_PAGE).

use std::time::Instant;

use anyhow::{Context, bail};
use chinwag_client::{Client, HistoryQuery};
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use serde_json::{Value, json};

use super::Env;
use crate::fleet;
use crate::flow::{per_sec, round3};
use crate::latency::{Latency, LatencySummary};
use crate::report::{Report, ServerProbe};

#[derive(Clone, Debug, clap::Args)]
pub struct HistoryArgs {
    /// Messages in the conversation, written before reading starts
    #[arg(long, short = 'm', default_value_t = 10_000)]
    pub messages: u64,
    /// Members reading the conversation at the same time
    #[arg(long, short = 'r', default_value_t = 4)]
    pub readers: usize,
    /// Pages each reader reads
    #[arg(long, default_value_t = 1000)]
    pub pages: u64,
    /// Messages per page, 1 to 500 (the protocol's most)
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u16).range(1..=500))]
    pub page_size: u16,
}

/// Most messages written for one run.
const MAX_MESSAGES: u64 = 1_000_000;
/// Most readers.
const MAX_READERS: usize = 1_000;
/// Sends the writer keeps in flight while filling the conversation.
const WRITE_WINDOW: usize = 64;

#[derive(Debug, Serialize)]
struct HistoryResult {
    /// Messages in the conversation.
    written: u64,
    write_secs: f64,
    /// Pages read, by all readers together.
    pages: u64,
    /// Messages those pages held.
    messages_read: u64,
    pages_per_sec: f64,
    messages_read_per_sec: f64,
    read_secs: f64,
    /// Page latency: HISTORY sent to HISTORY_PAGE received.
    #[serde(flatten)]
    latency: LatencySummary,
}

pub async fn run(args: &HistoryArgs, env: &Env) -> anyhow::Result<Report> {
    if args.messages == 0 || args.messages > MAX_MESSAGES {
        bail!("--messages must be 1..={MAX_MESSAGES}");
    }
    if args.readers == 0 || args.readers > MAX_READERS {
        bail!("--readers must be 1..={MAX_READERS}");
    }
    if args.pages == 0 {
        bail!("--pages must be at least 1");
    }
    let deadline = Instant::now() + env.timeout;
    // Readers join after the writing, so live messages never pile up in
    // their event buffers; what they get is a few join notices.
    let members = fleet::open(&env.fleet(deadline, 1024), args.readers + 1, |i| {
        env.name("h", i)
    })
    .await
    .all()?;
    let room = format!("#{}h{}", env.prefix, env.run);
    let writer = &members[0].client;
    writer
        .join(&room, None)
        .await
        .with_context(|| format!("joining {room}"))?;

    let writing = Instant::now();
    let text = "h".repeat(64);
    futures::stream::iter(0..args.messages)
        .map(|_| writer.say(&room, &text))
        .buffer_unordered(WRITE_WINDOW)
        .try_for_each(|_| async { Ok(()) })
        .await
        .with_context(|| format!("writing {room}"))?;
    let write_secs = writing.elapsed().as_secs_f64();

    let readers: Vec<Client> = members[1..].iter().map(|m| m.client.clone()).collect();
    for reader in &readers {
        reader
            .join(&room, None)
            .await
            .with_context(|| format!("joining {room}"))?;
    }

    let probe = ServerProbe::start(env.server_pid)?;
    let reading = Instant::now();
    let per_reader = futures::future::try_join_all(
        readers
            .iter()
            .map(|reader| read_pages(reader, &room, args, deadline)),
    )
    .await?;
    let read_time = reading.elapsed();
    let server = probe.map(ServerProbe::finish).transpose()?;

    let mut latency = Latency::default();
    let mut messages_read = 0;
    for (reader_latency, read) in &per_reader {
        latency.merge(reader_latency);
        messages_read += read;
    }
    let pages = latency.count();
    let result = HistoryResult {
        written: args.messages,
        write_secs: round3(write_secs),
        pages,
        messages_read,
        pages_per_sec: per_sec(pages, read_time),
        messages_read_per_sec: per_sec(messages_read, read_time),
        read_secs: round3(read_time.as_secs_f64()),
        latency: latency.summary(),
    };
    let summary = format!(
        "{} readers read {} pages of {} ({} messages) in {:.3}s: {:.0} pages/s, {:.0} messages/s\n  \
         page latency {}\n  (the conversation: {} messages written in {:.3}s)",
        args.readers,
        result.pages,
        args.page_size,
        result.messages_read,
        result.read_secs,
        result.pages_per_sec,
        result.messages_read_per_sec,
        result.latency,
        result.written,
        result.write_secs,
    );
    Ok(Report {
        workload: "history",
        run: env.run,
        params: json!({
            "messages": args.messages,
            "readers": args.readers,
            "pages": args.pages,
            "page_size": args.page_size,
        }),
        ok: pages == args.pages * args.readers as u64,
        rate: result.pages_per_sec,
        rate_unit: "pages/s",
        p99_us: result.latency.p99_us,
        result: serde_json::to_value(&result).unwrap_or(Value::Null),
        server,
        summary,
    })
}

/// One reader's pages, newest first, wrapping around at the start of the
/// conversation; returns their latencies and how many messages they held.
async fn read_pages(
    reader: &Client,
    room: &str,
    args: &HistoryArgs,
    deadline: Instant,
) -> anyhow::Result<(Latency, u64)> {
    let mut latency = Latency::default();
    let mut read = 0;
    let mut before = None;
    for _ in 0..args.pages {
        if Instant::now() > deadline {
            bail!("reading history did not finish within --timeout");
        }
        let query = HistoryQuery {
            before,
            ..HistoryQuery::newest(Some(room), args.page_size)
        };
        let asked = Instant::now();
        let page = reader.history(&query).await.context("reading history")?;
        latency.record(asked.elapsed());
        read += page.len() as u64;
        // Newest first: the last message is the oldest of the page.
        before = match page.last() {
            Some(oldest) if page.len() == usize::from(args.page_size) => Some(oldest.id.0),
            _ => None,
        };
    }
    Ok((latency, read))
}
