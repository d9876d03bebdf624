//! One process per data directory: a second `chinwagd`, or `chinwagd
//! admin`, on a directory a running chinwagd uses is refused with the
//! holder's PID, and a `kill -9`ed server's lock never blocks a restart.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::PATIENCE;
use common::daemon::Daemon;

/// Runs `chinwagd --data DATA ARGS...` to its end, killing it if it is
/// still running after [`PATIENCE`] (a second server that was not refused
/// would otherwise run forever).
fn chinwagd(data: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_chinwagd"))
        .arg("--data")
        .arg(data)
        .args(args)
        .env_remove("CHINWAG_CONFIG")
        .env_remove("CHINWAG_DATA")
        .env("CHINWAG_WEB_LISTEN", "127.0.0.1:0")
        .env("CHINWAG_LOG", "warn")
        .env("RUST_BACKTRACE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!(
                "chinwagd {args:?} was not refused: {:?}",
                child.wait_with_output()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn a_second_chinwagd_on_the_same_data_directory_is_refused_naming_the_first() {
    let data = tempfile::tempdir().unwrap();
    let mut first = Daemon::start_in(data.path(), &["--admin-password", "x"]);
    let expected = format!(
        "data directory {} is in use by another chinwagd (pid {}); stop it or use --data",
        data.path().display(),
        first.child.id()
    );

    // Even on the same address: the directory is what it is told about.
    let second = chinwagd(data.path(), &["--listen", &first.addr.to_string()]);
    assert!(!second.status.success(), "{second:?}");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(
        stderr.trim(),
        format!("error: {expected}"),
        "one line, no backtrace"
    );

    let admin = chinwagd(data.path(), &["admin", "list"]);
    assert!(!admin.status.success(), "{admin:?}");
    let stderr = String::from_utf8_lossy(&admin.stderr);
    assert!(
        stderr.starts_with(&format!("error: {expected}")),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("`chinwag admin ...`"), "{stderr}");

    // kill -9: no clean-up runs, the lock file stays, and still a new
    // server starts, as does `chinwagd admin` once that one is stopped.
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    assert!(data.path().join("chinwagd.lock").exists());
    let mut again = Daemon::start_in(data.path(), &["--admin-password", "x"]);
    again.signal("TERM");
    assert_eq!(again.wait(), 0);
    let admin = chinwagd(data.path(), &["admin", "list"]);
    assert!(admin.status.success(), "{admin:?}");
}
