//! The real `chinwagd` process: it starts with no config, logs a generated
//! admin password, and exits 0 on SIGTERM, SIGINT and SHUTDOWN after
//! telling every client.

mod common;

use std::process::Command;
use std::time::Duration;

use chinwag_client::{Client, ConnectOptions};
use chinwag_proto::server::NoticeKind;
use common::daemon::Daemon;
use common::{PATIENCE, closed, notice};

async fn listener(addr: std::net::SocketAddr, name: &str) -> (Client, chinwag_client::Events) {
    let (client, events) = Client::connect(addr, ConnectOptions::default())
        .await
        .unwrap();
    client.register(name, None).await.unwrap();
    (client, events)
}

#[tokio::test]
async fn sigterm_tells_clients_and_exits_zero() {
    let mut daemon = Daemon::start(&["--admin-password", "x"]);
    let (_a, mut a_events) = listener(daemon.addr, "alice").await;
    let (_b, mut b_events) = listener(daemon.addr, "bob").await;
    daemon.signal("TERM");
    for events in [&mut a_events, &mut b_events] {
        let n = notice(events, NoticeKind::Shutdown).await;
        assert!(n.text.contains("SIGTERM"), "{}", n.text);
        closed(events).await;
    }
    assert_eq!(daemon.wait(), 0);
}

#[tokio::test]
async fn sigint_exits_zero() {
    let mut daemon = Daemon::start(&["--admin-password", "x"]);
    let (_a, mut events) = listener(daemon.addr, "alice").await;
    daemon.signal("INT");
    notice(&mut events, NoticeKind::Shutdown).await;
    assert_eq!(daemon.wait(), 0);
}

#[tokio::test]
async fn generated_password_is_logged_once_and_works_for_shutdown() {
    let mut daemon = Daemon::start(&[]);
    let password = daemon.password.clone().expect("generated password logged");
    assert!(password.len() >= 16);
    let (root, mut root_events) = listener(daemon.addr, "root").await;
    let (_bob, mut bob_events) = listener(daemon.addr, "bob").await;
    assert!(root.admin("wrong").await.is_err());
    root.admin(&password).await.unwrap();
    root.shutdown("bye").await.unwrap();
    notice(&mut bob_events, NoticeKind::Shutdown).await;
    notice(&mut root_events, NoticeKind::Shutdown).await;
    assert_eq!(daemon.wait(), 0);
}

#[test]
fn bad_configuration_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_chinwagd"))
        .args(["--listen", "127.0.0.1:0", "--max-content", "999999"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("max_content"), "{stderr}");

    let out = Command::new(env!("CARGO_BIN_EXE_chinwagd"))
        .args(["--config", "/nonexistent/chinwagd.toml"])
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = one_line(&out);
    assert!(
        stderr.starts_with("error: cannot read config file"),
        "{stderr}"
    );
}

/// The stderr of an expected failure: one line, even under RUST_BACKTRACE.
fn one_line(out: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    stderr
}

/// `chinwagd admin ...` on a data directory.
fn chinwagd_admin(data: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_chinwagd"))
        .arg("--data")
        .arg(data)
        .arg("admin")
        .args(args)
        .env("CHINWAG_LOG", "warn")
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap()
}

#[tokio::test]
async fn admin_subcommands_manage_roles_in_the_data_directory() {
    let data = tempfile::tempdir().unwrap();
    let out = chinwagd_admin(data.path(), &["grant", "alice"]);
    assert_eq!(out.status.code(), Some(1), "no such account yet");
    assert!(one_line(&out).contains("no account named"));

    let out = chinwagd_admin(data.path(), &["add", "alice", "--password", "short"]);
    assert_eq!(out.status.code(), Some(1), "a bad password");
    one_line(&out);
    let out = chinwagd_admin(data.path(), &["add", "alice", "--password", "alice-secret"]);
    assert!(out.status.success(), "{out:?}");
    let out = chinwagd_admin(data.path(), &["add", "ALICE", "--password", "alice-secret"]);
    assert!(!out.status.success(), "already an account");

    let mut daemon = Daemon::start_in(
        data.path(),
        &["--admin-password", "x", "--signup", "closed"],
    );
    let (alice, _) = Client::connect(daemon.addr, ConnectOptions::default())
        .await
        .unwrap();
    alice.register("alice", Some("alice-secret")).await.unwrap();
    alice.logout().await.unwrap();

    // Not while the server runs (it keeps its own view of the roles)...
    let out = chinwagd_admin(data.path(), &["grant", "alice"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = one_line(&out);
    assert!(stderr.contains("in use by another chinwagd"), "{stderr}");
    daemon.signal("TERM");
    assert_eq!(daemon.wait(), 0);

    // ...but once it is stopped.
    let out = chinwagd_admin(data.path(), &["grant", "alice"]);
    assert!(out.status.success(), "{out:?}");
    let out = chinwagd_admin(data.path(), &["list"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "alice\n");
    let mut daemon = Daemon::start_in(data.path(), &["--admin-password", "x"]);
    let (alice, _) = Client::connect(daemon.addr, ConnectOptions::default())
        .await
        .unwrap();
    let registered = alice.register("alice", Some("alice-secret")).await.unwrap();
    assert_eq!(registered.role, chinwag_proto::server::Role::Admin);
    let log = alice.audit(None, 10).await.unwrap();
    assert_eq!((&*log[0].actor, &*log[0].action), ("@console", "grant"));
    alice.shutdown("done").await.unwrap();
    assert_eq!(daemon.wait(), 0);

    let out = chinwagd_admin(data.path(), &["revoke", "alice"]);
    assert!(out.status.success());
    let out = chinwagd_admin(data.path(), &["list"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
}

/// kill -9 under load: every message the server acknowledged is in history
/// after a restart.
#[tokio::test]
async fn acknowledged_messages_survive_kill_dash_nine() {
    use std::sync::{Arc, Mutex};

    let data = tempfile::tempdir().unwrap();
    let mut daemon = Daemon::start_in(data.path(), &["--admin-password", "x"]);
    let mut clients = Vec::new();
    for name in ["alice", "bob"] {
        let (client, events) = Client::connect(daemon.addr, ConnectOptions::default())
            .await
            .unwrap();
        client
            .register(name, Some(&format!("{name}-secret")))
            .await
            .unwrap();
        drop(events);
        clients.push(client);
    }
    let acked = Arc::new(Mutex::new(Vec::new()));
    let mut senders = Vec::new();
    // More senders than the writer's largest multi-row INSERT (64 rows), so
    // that groups fill whole statements of every size.
    for task in 0..80 {
        let client = clients[task % 2].clone();
        let acked = Arc::clone(&acked);
        senders.push(tokio::spawn(async move {
            for i in 0.. {
                let text = format!("t{task} m{i}");
                let sent = if task % 4 == 0 {
                    client.broadcast(&text).await
                } else {
                    client.send(["bob", "alice"][task % 2], &text).await
                };
                match sent {
                    Ok(sent) => acked.lock().unwrap().push((sent.id, text)),
                    Err(_) => return,
                }
            }
        }));
    }
    // Kill while sends are in flight, once a good number were acknowledged.
    let deadline = std::time::Instant::now() + PATIENCE;
    while acked.lock().unwrap().len() < 300 {
        assert!(std::time::Instant::now() < deadline, "too few acks");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    daemon.child.kill().unwrap();
    daemon.child.wait().unwrap();
    for sender in senders {
        tokio::time::timeout(PATIENCE, sender)
            .await
            .unwrap()
            .unwrap();
    }
    let acked = acked.lock().unwrap().clone();

    let daemon = Daemon::start_in(data.path(), &["--admin-password", "x"]);
    let (alice, _) = Client::connect(daemon.addr, ConnectOptions::default())
        .await
        .unwrap();
    alice.register("alice", Some("alice-secret")).await.unwrap();
    let mut stored = std::collections::HashMap::new();
    for with in [Some("bob"), Some("alice"), None] {
        let mut before = None;
        loop {
            let page = alice
                .history(&chinwag_client::HistoryQuery {
                    before,
                    ..chinwag_client::HistoryQuery::newest(with, 500)
                })
                .await
                .unwrap();
            for m in &page {
                stored.insert(m.id, m.text.to_string());
            }
            match page.last() {
                Some(last) if page.len() == 500 => before = Some(last.id.0),
                _ => break,
            }
        }
    }
    let lost: Vec<_> = acked
        .iter()
        .filter(|(id, text)| stored.get(id) != Some(text))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged messages are not in history: {:?}",
        lost.len(),
        acked.len(),
        &lost[..lost.len().min(5)]
    );
    // The writer gives ids itself: none is given twice, even after a kill
    // in the middle of a group.
    let newest = acked.iter().map(|(id, _)| *id).max().unwrap();
    let after = alice.send("alice", "after the restart").await.unwrap();
    assert!(
        after.id > newest,
        "{:?} reuses an id up to {newest:?}",
        after.id
    );
}
