//! A real `chinwagd` child process, started on 127.0.0.1:0 and killed (by
//! its own PID) when dropped.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::PATIENCE;

pub struct Daemon {
    pub child: Child,
    /// The main listener (--listen).
    pub addr: SocketAddr,
    /// A separate TLS listener (--tls-listen), if any.
    pub tls_addr: Option<SocketAddr>,
    /// The metrics listener (--metrics-listen), if any.
    pub metrics_addr: Option<SocketAddr>,
    /// The generated admin password, if one was logged.
    pub password: Option<String>,
    /// Its log (stderr) after the start-up lines, line by line.
    log: mpsc::Receiver<String>,
    /// Its data directory, when the test did not give one.
    _data: Option<tempfile::TempDir>,
}

/// The socket address after `addr=` in a log line.
fn addr_in(line: &str) -> SocketAddr {
    let addr = line.split("addr=").nth(1).expect("address in log line");
    let addr = addr.split_whitespace().next().unwrap();
    addr.parse().expect("a socket address")
}

impl Daemon {
    /// A daemon with a fresh temporary data directory.
    pub fn start(extra: &[&str]) -> Daemon {
        let data = tempfile::tempdir().unwrap();
        let mut daemon = Daemon::start_in(data.path(), extra);
        daemon._data = Some(data);
        daemon
    }

    /// A daemon on the data directory `data`. Flood control is off (the
    /// tests pipeline as bots do) unless `extra` sets it: flags beat the
    /// environment.
    pub fn start_in(data: &std::path::Path, extra: &[&str]) -> Daemon {
        let mut child = Command::new(env!("CARGO_BIN_EXE_chinwagd"))
            .args(["--listen", "127.0.0.1:0"])
            .arg("--data")
            .arg(data)
            .args(extra)
            // The web listener on a free port: tests run side by side.
            .env("CHINWAG_WEB_LISTEN", "127.0.0.1:0")
            .env("CHINWAG_RATE_REQUESTS", "0")
            .env("CHINWAG_RATE_BYTES", "0")
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
        let (mut password, mut tls_addr, mut metrics_addr) = (None, None, None);
        // chinwagd logs the main listener last.
        let addr = loop {
            let line = rx
                .recv_timeout(PATIENCE)
                .expect("chinwagd printed no address");
            if let Some(rest) = line.split("generated for this run: ").nth(1) {
                password = Some(rest.trim().to_owned());
            }
            if line.contains("TLS listening") {
                tls_addr = Some(addr_in(&line));
            }
            if line.contains("metrics listening") {
                metrics_addr = Some(addr_in(&line));
            }
            if line.contains("chinwagd listening") {
                break addr_in(&line);
            }
        };
        Daemon {
            child,
            addr,
            tls_addr,
            metrics_addr,
            password,
            log: rx,
            _data: None,
        }
    }

    /// Waits for a log line that contains `what` and returns it.
    pub fn expect_log(&self, what: &str) -> String {
        let deadline = std::time::Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.log.recv_timeout(left) {
                Ok(line) if line.contains(what) => return line,
                Ok(_) => {}
                Err(_) => panic!("chinwagd logged no line with {what:?}"),
            }
        }
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit and returns its exit code.
    pub fn wait(&mut self) -> i32 {
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

    /// The process's resident memory, in KiB, from /proc (Linux).
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
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
