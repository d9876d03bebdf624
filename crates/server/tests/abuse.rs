//! Hostile clients against a real `chinwagd` process, all at once: one
//! floods requests, some send garbage, one registers and never reads while
//! broadcasts pour in (and one more that can catch up from history, so it
//! is kept on instead of cut off). Meanwhile a well-behaved pair keeps talking. The
//! server must answer each abuse as documented (docs/security.md), keep
//! serving the good clients, keep its memory bounded (RSS from /proc), and
//! show it all on /metrics.

mod common;

use std::time::{Duration, Instant};

use chinwag_client::{Client, ConnectOptions, Event};
use chinwag_proto::request::{Hello, History, MY_CONVERSATIONS, Register, Request};
use chinwag_proto::wire::Encode;
use chinwag_proto::{ClientCodec, ErrorCode, RequestId, ServerFrame};
use common::PATIENCE;
use common::daemon::Daemon;
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_util::codec::FramedRead;

/// Requests the flooder pipelines: far above the burst (5 000, set below)
/// plus what a second of lag allows (5 000), so it must be cut off.
const FLOOD: u32 = 40_000;
/// Garbage connections, each sending this many random bytes.
const GARBAGE_CONNECTIONS: usize = 20;
const GARBAGE_BYTES: usize = 64 * 1024;
/// Users online that read everything they get.
const READERS: usize = 20;
/// 4000-byte broadcasts sent while one reader is stuck: 20 MB, far more
/// than one connection's outbound queue (1 MiB) may hold.
const BROADCASTS: usize = 5_000;

async fn connect(daemon: &Daemon, name: &str) -> (Client, chinwag_client::Events) {
    let (client, events) = Client::connect(daemon.addr, ConnectOptions::default())
        .await
        .unwrap();
    client.register(name, None).await.unwrap();
    (client, events)
}

/// HELLO and REGISTER written by hand, for connections that misbehave.
fn handshake(name: &str) -> Vec<u8> {
    let mut bytes = Request::Hello(Hello::current("abuse"))
        .to_frame(RequestId(1))
        .unwrap()
        .to_vec();
    bytes.extend_from_slice(
        &Request::Register(Register {
            name: name.into(),
            ip: "".into(),
            port: 0,
            password: "".into(),
            take_offline: true,
            multi_session: false,
        })
        .to_frame(RequestId(2))
        .unwrap(),
    );
    bytes
}

/// Floods PINGs while reading replies; returns the last ERROR before the
/// server closed the connection.
async fn flood(addr: std::net::SocketAddr) -> (ErrorCode, String) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        wr.write_all(&handshake("flooder")).await.unwrap();
        let ping = Request::Ping.to_frame(RequestId(9)).unwrap();
        let batch: Vec<u8> = ping
            .iter()
            .copied()
            .cycle()
            .take(ping.len() * 1000)
            .collect();
        for _ in 0..FLOOD / 1000 {
            // The server closes the connection part-way: stop then.
            if wr.write_all(&batch).await.is_err() {
                break;
            }
        }
    });
    let mut frames = FramedRead::new(rd, ClientCodec::client());
    let mut last_error = None;
    loop {
        let next = tokio::time::timeout(PATIENCE, frames.next())
            .await
            .expect("the flooder was never cut off");
        match next {
            Some(Ok(Ok(packet))) => {
                if let ServerFrame::Error { code, message } = packet.body {
                    last_error = Some((code, message.to_string()));
                }
            }
            // Closed, or reset once the server stopped lingering.
            _ => break,
        }
    }
    writer.abort();
    last_error.expect("no error before the close")
}

/// Sends random bytes; returns the code of the ERROR the server answered.
async fn garbage(addr: std::net::SocketAddr, seed: u64) -> ErrorCode {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // A cheap deterministic generator (xorshift): no need for `rand` here.
    let mut x = seed | 1;
    let bytes: Vec<u8> = (0..GARBAGE_BYTES)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    // The server may close before it has read it all.
    let _ = stream.write_all(&bytes).await;
    let mut frames = FramedRead::new(stream, ClientCodec::client());
    let first = tokio::time::timeout(PATIENCE, frames.next())
        .await
        .expect("no answer to garbage");
    match first {
        Some(Ok(Ok(packet))) => match packet.body {
            ServerFrame::Error { code, .. } => code,
            other => panic!("garbage got {other:?}"),
        },
        other => panic!("garbage got {other:?}"),
    }
}

async fn scrape(addr: std::net::SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).await.unwrap();
    text
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_clients_cannot_crash_stall_or_bloat_the_server() {
    let daemon = Daemon::start(&[
        "--admin-password",
        "pw",
        "--metrics-listen",
        "127.0.0.1:0",
        // A bot's limits, so that the broadcaster and the readers are not
        // held back, with a short lag so that the flood is over quickly.
        "--rate-requests",
        "5000",
        "--rate-request-burst",
        "5000",
        "--rate-bytes",
        "0",
        "--rate-max-lag",
        "1s",
    ]);
    let metrics_addr = daemon.metrics_addr.expect("metrics address logged");

    // The well-behaved pair, and readers that keep up.
    let (good, mut good_events) = connect(&daemon, "good").await;
    // Clients that read everything they get (the library stops reading the
    // socket when its event buffer is full: that would be a slow reader).
    let good_drain = tokio::spawn(async move { while good_events.recv().await.is_some() {} });
    let (_friend, mut friend_events) = connect(&daemon, "friend").await;
    let mut readers = Vec::new();
    for i in 0..READERS {
        let (client, mut events) = connect(&daemon, &format!("reader{i}")).await;
        readers.push((
            client,
            tokio::spawn(async move { while events.recv().await.is_some() {} }),
        ));
    }
    // The stuck reader: a small receive buffer, and it never reads.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stuck = socket.connect(daemon.addr).await.unwrap();
    stuck.write_all(&handshake("stuck")).await.unwrap();
    // Another, which says it can catch up (HISTORY @me) and then never
    // reads either: it is switched to catch-up, and what waits for it
    // stays bounded however much is broadcast.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut late = socket.connect(daemon.addr).await.unwrap();
    let mut opt_in = handshake("late");
    opt_in.extend_from_slice(
        &Request::History(History {
            src: "".into(),
            dst: MY_CONVERSATIONS.into(),
            before: 0,
            after: 0,
            limit: 1,
        })
        .to_frame(RequestId(3))
        .unwrap(),
    );
    late.write_all(&opt_in).await.unwrap();

    let rss_before = daemon.rss_kib().expect("RSS readable from /proc");

    // The abuse, all at once.
    let flooder = tokio::spawn(flood(daemon.addr));
    let garbage_senders: Vec<_> = (0..GARBAGE_CONNECTIONS)
        .map(|i| tokio::spawn(garbage(daemon.addr, 0x9e37_79b9_7f4a_7c15 ^ i as u64)))
        .collect();
    let (broadcaster, _b_events) = connect(&daemon, "broadcaster").await;
    let broadcasts = tokio::spawn(async move {
        let text = "x".repeat(4000);
        for _ in 0..BROADCASTS {
            broadcaster.broadcast(&text).await.unwrap();
        }
    });

    // The good pair talks throughout; every message arrives.
    let mut worst = Duration::ZERO;
    let mut rounds = 0;
    while !broadcasts.is_finished() || rounds < 20 {
        rounds += 1;
        let started = Instant::now();
        good.send("friend", &format!("round {rounds}"))
            .await
            .unwrap();
        let got = loop {
            match tokio::time::timeout(PATIENCE, friend_events.recv()).await {
                Ok(Some(Event::Message(m))) if &*m.from == "good" => break m,
                Ok(Some(_)) => continue,
                other => panic!("friend stopped getting messages: {other:?}"),
            }
        };
        assert_eq!(&*got.text, format!("round {rounds}"));
        worst = worst.max(started.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    broadcasts.await.unwrap();
    let rss_after = daemon.rss_kib().unwrap();

    let (code, message) = flooder.await.unwrap();
    assert_eq!(code, ErrorCode::RateLimited, "{message}");
    assert!(message.contains("closing"), "{message}");
    for sender in garbage_senders {
        let code = sender.await.unwrap();
        assert!(
            matches!(
                code,
                ErrorCode::FrameTooLarge
                    | ErrorCode::HandshakeRequired
                    | ErrorCode::UnknownFrameType
            ),
            "{code:?}"
        );
    }
    // The stuck reader was cut off: it is no longer online. The one that
    // can catch up is still there.
    let users = good.users().await.unwrap();
    assert!(users.iter().all(|u| &*u.name != "stuck"));
    assert!(users.iter().any(|u| &*u.name == "late"));
    assert_eq!(
        users.len(),
        4 + READERS,
        "good, friend, broadcaster, late, readers"
    );

    let growth_kib = rss_after.saturating_sub(rss_before);
    eprintln!(
        "abuse: {rounds} rounds, worst good-client delivery {worst:?}; \
         RSS {rss_before} KiB -> {rss_after} KiB"
    );
    // Unbounded, each stuck reader's queue alone would hold the whole 20 MB
    // of broadcasts. Bounded, one holds at most 1 MiB before it is cut
    // off, the other at most 1 MiB before it is caught up, and then none.
    assert!(
        growth_kib < 16 * 1024,
        "RSS grew by {growth_kib} KiB ({rss_before} -> {rss_after})"
    );
    // "Noticeably" delayed: a guard against a stall, not a benchmark.
    assert!(worst < Duration::from_secs(3), "worst delivery {worst:?}");

    let text = scrape(metrics_addr).await;
    assert!(metric(&text, "chinwag_rate_limit_disconnects_total") >= 1);
    assert!(metric(&text, "chinwag_rate_limited_total") >= 1);
    assert!(metric(&text, "chinwag_slow_consumer_disconnects_total") >= 1);
    assert_eq!(metric(&text, "chinwag_catch_ups_total"), 1, "{text}");
    assert!(metric(&text, "chinwag_frames_rejected_total") >= GARBAGE_CONNECTIONS as u64);
    assert_eq!(
        metric(&text, "chinwag_users_online"),
        4 + READERS as u64,
        "{text}"
    );
    drop(stuck);
    drop(late);
    good_drain.abort();
    for (client, task) in readers {
        drop(client);
        task.abort();
    }
}
