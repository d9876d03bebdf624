//! Runs the real `chinwag-bench` binary at a tiny size against a server in
//! this process (on 127.0.0.1:0) and checks what it reports: the JSON
//! fields, every message delivered and nothing lost. No timing is asserted.

use std::net::SocketAddr;
use std::process::{Command, Output};

use chinwag_server::{Config, Server};
use serde_json::Value;

/// A fresh server for each test, on a runtime of its own thread (the
/// thread ends with the test process). Broadcasts reach everyone online,
/// so tests must not share a server.
fn start_server() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            // As scripts/bench runs it: flood control off, as for the
            // peers it is compared with.
            let config = Config {
                listen: "127.0.0.1:0".into(),
                admin_password: Some("bench-test".into()),
                rate: chinwag_server::ratelimit::RateLimits::OFF,
                ..Config::default()
            };
            let server = Server::new(listener, config);
            tx.send(server.local_addr().unwrap()).unwrap();
            server.run().await;
        });
    });
    rx.recv().unwrap()
}

fn bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chinwag-bench"))
        .args(["--server", &start_server().to_string(), "--timeout", "30s"])
        .args(args)
        .output()
        .expect("cannot run chinwag-bench")
}

/// Runs with `--json` and returns the one object per run.
fn bench_json(args: &[&str]) -> Vec<Value> {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = bench(&all);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "chinwag-bench {args:?} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect()
}

fn u64_field(report: &Value, field: &str) -> u64 {
    report[field]
        .as_u64()
        .unwrap_or_else(|| panic!("no integer {field:?} in {report}"))
}

/// The fields every message workload reports, and a clean run.
fn check_flow(report: &Value, expected: u64) {
    assert_eq!(u64_field(report, "expected"), expected, "{report}");
    assert_eq!(u64_field(report, "delivered"), expected, "{report}");
    assert_eq!(u64_field(report, "lost"), 0, "{report}");
    assert_eq!(u64_field(report, "duplicates"), 0, "{report}");
    assert_eq!(u64_field(report, "send_errors"), 0, "{report}");
    assert!(
        report["delivered_per_sec"].as_f64().unwrap() > 0.0,
        "{report}"
    );
    let p50 = u64_field(report, "p50_us");
    let p99 = u64_field(report, "p99_us");
    let p999 = u64_field(report, "p999_us");
    let max = u64_field(report, "max_us");
    assert!(
        0 < p50 && p50 <= p99 && p99 <= p999 && p999 <= max,
        "{report}"
    );
}

#[test]
fn dm_delivers_every_message() {
    let reports = bench_json(&[
        "--runs",
        "2",
        "dm",
        "--pairs",
        "3",
        "--messages",
        "50",
        "--size",
        "64",
        "--window",
        "4",
    ]);
    assert_eq!(reports.len(), 2);
    for (i, report) in reports.iter().enumerate() {
        assert_eq!(report["workload"], "dm");
        assert_eq!(u64_field(report, "run"), i as u64 + 1);
        assert_eq!(report["params"]["pairs"], 3);
        assert_eq!(report["params"]["window"], 4);
        check_flow(report, 3 * 50);
    }
}

#[test]
fn paced_dm_delivers_every_message() {
    let reports = bench_json(&[
        "dm",
        "--pairs",
        "2",
        "--messages",
        "20",
        "--size",
        "100",
        "--rate",
        "400",
    ]);
    assert_eq!(reports[0]["params"]["rate"], 400.0);
    check_flow(&reports[0], 2 * 20);
}

#[test]
fn broadcast_reaches_every_other_member() {
    let reports = bench_json(&[
        "broadcast",
        "--members",
        "6",
        "--senders",
        "2",
        "--messages",
        "10",
        "--window",
        "2",
    ]);
    let report = &reports[0];
    assert_eq!(report["workload"], "broadcast");
    assert_eq!(report["params"]["members"], 6);
    assert_eq!(u64_field(report, "recipients_mismatch"), 0, "{report}");
    check_flow(report, 2 * 10 * 5);
}

#[test]
fn room_reaches_every_other_member_of_the_room() {
    let reports = bench_json(&[
        "room",
        "--members",
        "6",
        "--senders",
        "2",
        "--messages",
        "10",
        "--window",
        "2",
    ]);
    let report = &reports[0];
    assert_eq!(report["workload"], "room");
    assert_eq!(report["params"]["members"], 6);
    assert_eq!(u64_field(report, "recipients_mismatch"), 0, "{report}");
    check_flow(report, 2 * 10 * 5);
}

#[test]
fn history_reads_the_whole_conversation_back() {
    // 10 messages in pages of 4, read twice over: 4 + 4 + 2, then again.
    let reports = bench_json(&[
        "history",
        "--messages",
        "10",
        "--readers",
        "2",
        "--pages",
        "6",
        "--page-size",
        "4",
    ]);
    let report = &reports[0];
    assert_eq!(report["workload"], "history");
    assert_eq!(u64_field(report, "written"), 10);
    assert_eq!(u64_field(report, "pages"), 2 * 6);
    assert_eq!(u64_field(report, "messages_read"), 2 * 2 * 10, "{report}");
    for field in ["pages_per_sec", "messages_read_per_sec"] {
        assert!(
            report[field].as_f64().is_some_and(|x| x > 0.0),
            "{field}: {report}"
        );
    }
    for field in ["p50_us", "p99_us", "p999_us", "max_us"] {
        u64_field(report, field);
    }
}

#[test]
fn idle_reports_connections_and_server_memory() {
    // The server runs in this process, so this process's id is its PID.
    let pid = std::process::id().to_string();
    let reports = bench_json(&[
        "--server-pid",
        &pid,
        "--sources",
        "3",
        "idle",
        "--connections",
        "40",
        "--hold",
        "0s",
    ]);
    let report = &reports[0];
    assert_eq!(report["workload"], "idle");
    assert_eq!(u64_field(report, "connections"), 40);
    assert_eq!(u64_field(report, "failed"), 0);
    assert_eq!(u64_field(report, "dropped"), 0);
    assert!(report["connections_per_sec"].as_f64().unwrap() > 0.0);
    assert!(report["bytes_per_connection"].is_u64(), "{report}");
    assert!(u64_field(report, "p99_us") > 0);
    assert!(u64_field(&report["server"], "rss_after_bytes") > 0);
}

#[test]
fn refuses_servers_that_are_not_loopback() {
    let out = Command::new(env!("CARGO_BIN_EXE_chinwag-bench"))
        .args(["--server", "10.1.2.3:7070", "idle", "--connections", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a loopback address"), "{stderr}");
}

#[test]
fn refuses_bad_parameters() {
    for (args, why) in [
        (&["dm", "--size", "10", "--pairs", "1"][..], "too small"),
        (&["dm", "--messages", "0", "--pairs", "1"][..], "at least 1"),
        (
            &["broadcast", "--members", "3", "--senders", "4"][..],
            "--senders",
        ),
        (&["idle", "--connections", "0"][..], "--connections"),
    ] {
        let out = bench(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(why), "{args:?}: {stderr}");
    }
}

#[test]
fn failover_holds_its_connections_and_loses_no_acknowledged_message() {
    // No node dies here (one server): every connection is held, every
    // acknowledged message is received; the run ends at its stop file.
    let dir = tempfile::tempdir().unwrap();
    let (ready, stop) = (dir.path().join("ready"), dir.path().join("stop"));
    let stopper = {
        let (ready, stop) = (ready.clone(), stop.clone());
        std::thread::spawn(move || {
            while !ready.exists() {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            std::thread::sleep(std::time::Duration::from_millis(500));
            std::fs::write(stop, "").unwrap();
        })
    };
    let reports = bench_json(&[
        "failover",
        "--connections",
        "12",
        "--pairs",
        "2",
        "--rate",
        "100",
        "--drain",
        "200ms",
        "--ready-file",
        ready.to_str().unwrap(),
        "--stop-file",
        stop.to_str().unwrap(),
    ]);
    stopper.join().unwrap();
    let report = &reports[0];
    assert_eq!(report["workload"], "failover");
    assert_eq!(u64_field(report, "connections"), 12, "{report}");
    assert_eq!(u64_field(report, "lost_connections"), 0, "{report}");
    let acknowledged = u64_field(report, "acknowledged");
    assert!(acknowledged > 0, "{report}");
    assert_eq!(u64_field(report, "received_live"), acknowledged, "{report}");
    assert_eq!(u64_field(report, "lost_messages"), 0, "{report}");
    assert_eq!(u64_field(report, "unverified"), 0, "{report}");
}
