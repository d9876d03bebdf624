//! The real `chinwagd` process: it starts with no config, logs a generated
//! admin password, and exits 0 on SIGTERM, SIGINT and SHUTDOWN after
//! telling every client.

mod common;

use std::process::Command;

use chinwag_client::{Client, ConnectOptions};
use chinwag_proto::server::NoticeKind;
use common::daemon::Daemon;
use common::{closed, notice};

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
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot read config file"), "{stderr}");
}
