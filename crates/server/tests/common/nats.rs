//! A real `nats-server` child process with JetStream on, on a free
//! loopback port, its store in a fresh temporary directory. Killed (by its
//! own PID) when dropped; it can be stopped and started again on the same
//! port and store, as an outage.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::PATIENCE;

pub struct Nats {
    child: Option<Child>,
    pub port: u16,
    dir: PathBuf,
    /// The certificate and key it serves TLS with, if it does.
    tls: Option<(PathBuf, PathBuf)>,
}

/// The nats-server binary: `CHINWAG_NATS_SERVER`, or Debian's (which
/// scripts/test installs), or the one on the PATH.
fn binary() -> String {
    const DEBIAN: &str = "/usr/sbin/nats-server";
    std::env::var("CHINWAG_NATS_SERVER").unwrap_or_else(|_| {
        if std::path::Path::new(DEBIAN).exists() {
            DEBIAN.into()
        } else {
            "nats-server".into()
        }
    })
}

impl Nats {
    pub fn start() -> Nats {
        Nats::start_with(None)
    }

    /// A server that takes only TLS connections, with this certificate
    /// and key (PEM files).
    pub fn start_tls(cert: PathBuf, key: PathBuf) -> Nats {
        Nats::start_with(Some((cert, key)))
    }

    fn start_with(tls: Option<(PathBuf, PathBuf)>) -> Nats {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "chinwag-nats-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let port = {
            let probe = TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let mut nats = Nats {
            child: None,
            port,
            dir,
            tls,
        };
        nats.resume();
        nats
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "tls" } else { "nats" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again), on the same port and store.
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "nats-server is already running");
        let child = Command::new(binary())
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(&self.dir)
            .args(self.tls.iter().flat_map(|(cert, key)| {
                [
                    "--tls".as_ref(),
                    "--tlscert".as_ref(),
                    cert.as_os_str(),
                    "--tlskey".as_ref(),
                    key.as_os_str(),
                ]
            }))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {} ({e}); scripts/test installs nats-server",
                    binary()
                )
            });
        self.child = Some(child);
        let deadline = Instant::now() + PATIENCE;
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Deletes the server's JetStream store (while it is stopped): it
    /// comes back having forgotten every bucket.
    pub fn wipe(&mut self) {
        assert!(self.child.is_none(), "stop nats-server first");
        std::fs::remove_dir_all(&self.dir).unwrap();
        std::fs::create_dir_all(&self.dir).unwrap();
    }

    /// Kills the server (an outage); [`Nats::resume`] brings it back.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
