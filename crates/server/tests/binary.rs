//! The real `chinwagd` process: it starts with no config, logs a generated
//! admin password, and exits 0 on SIGTERM, SIGINT and SHUTDOWN after
//! telling every client.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use chinwag_client::{Client, ConnectOptions};
use chinwag_proto::server::NoticeKind;
use common::{PATIENCE, closed, notice};

/// A `chinwagd` child process, killed (by its PID) if the test fails.
struct Daemon {
    child: Child,
    addr: std::net::SocketAddr,
    password: Option<String>,
    /// Its data directory, when the test did not give one.
    _data: Option<tempfile::TempDir>,
}

impl Daemon {
    /// A daemon with a fresh temporary data directory.
    fn start(extra: &[&str]) -> Daemon {
        let data = tempfile::tempdir().unwrap();
        let mut daemon = Daemon::start_in(data.path(), extra);
        daemon._data = Some(data);
        daemon
    }

    /// A daemon on the data directory `data`.
    fn start_in(data: &std::path::Path, extra: &[&str]) -> Daemon {
        let mut child = Command::new(env!("CARGO_BIN_EXE_chinwagd"))
            .args(["--listen", "127.0.0.1:0"])
            .arg("--data")
            .arg(data)
            .args(extra)
            .env_remove("CHINWAG_ADMIN_PASSWORD")
            .env_remove("CHINWAG_CONFIG")
            .env_remove("CHINWAG_DATA")
            .env("CHINWAG_LOG", "info")
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start chinwagd");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut password = None;
        let addr = loop {
            let line = rx
                .recv_timeout(PATIENCE)
                .expect("chinwagd printed no address");
            if let Some(rest) = line.split("generated for this run: ").nth(1) {
                password = Some(rest.trim().to_owned());
            }
            if line.contains("chinwagd listening") {
                let addr = line.split("addr=").nth(1).expect("address in log line");
                break addr.trim().parse().expect("a socket address");
            }
        };
        Daemon {
            child,
            addr,
            password,
            _data: None,
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit and returns its exit code.
    fn wait(&mut self) -> i32 {
        let deadline = std::time::Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().expect("exited by a signal");
            }
            assert!(
                std::time::Instant::now() < deadline,
                "chinwagd did not exit"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

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
