//! TLS end to end with the real binaries: `chinwagd cert` makes the files,
//! `chinwagd` serves TLS with them, and `chinwag --ca-file` talks to it; a
//! `chinwag` without TLS on the TLS-only port, or with TLS on a plain
//! port, fails with a clear error.
//!
//! `chinwagd` is found next to `chinwag` (see tests/common).

mod common;

use common::{chinwag_bin, chinwagd_bin};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const PATIENCE: Duration = Duration::from_secs(10);

/// A `chinwagd` this test started, with its own data directory; killed on
/// drop.
struct Server {
    child: Child,
    _data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `chinwagd` with `args` and returns it with its main address.
fn start_server(args: &[&str]) -> (Server, String) {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(chinwagd_bin())
        .args(["--listen", "127.0.0.1:0", "--admin-password", "pw"])
        .args(["--web-listen", "127.0.0.1:0"])
        .arg("--data")
        .arg(data.path())
        .args(args)
        .env("CHINWAG_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let server = Server { child, _data: data };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    loop {
        let line = rx
            .recv_timeout(PATIENCE)
            .expect("chinwagd printed no address");
        if line.contains("chinwagd listening") {
            let addr = line.split("addr=").nth(1).unwrap().trim().to_owned();
            return (server, addr);
        }
    }
}

fn chinwag(args: &[&str]) -> Output {
    Command::new(chinwag_bin())
        .args(args)
        .env_remove("CHINWAG_SERVER")
        .env_remove("CHINWAG_TLS")
        .env_remove("CHINWAG_CA_FILE")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn the_cli_talks_tls_to_a_server_with_a_generated_certificate() {
    let dir = std::env::temp_dir().join(format!("chinwag-cli-tls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = Command::new(chinwagd_bin())
        .args(["cert", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let ca = dir.join("ca.pem");
    let (_server, addr) = start_server(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);

    let ca = ca.to_str().unwrap();
    let out = chinwag(&[
        "--server",
        &addr,
        "--ca-file",
        ca,
        "--name",
        "alice",
        "echo",
        "over",
        "tls",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.contains("over tls"), "{stdout}");

    // Without --tls the server answers HELLO with a TLS alert: exit 3, a
    // clear message.
    let out = chinwag(&["--server", &addr, "--name", "bob", "users"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("could not connect"), "{stderr}");
    assert!(
        stderr.contains("the server speaks TLS on this port: use --tls or --ca-file"),
        "{stderr}"
    );

    // With TLS on a port that speaks none: exit 3, a clear message.
    let (_plain, plain_addr) = start_server(&[]);
    let out = chinwag(&[
        "--server",
        &plain_addr,
        "--ca-file",
        ca,
        "--name",
        "carol",
        "users",
    ]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the server did not answer the TLS handshake: it may not speak TLS on this port; leave out --tls/--ca-file"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
