//! The README's "tour in three terminals", done with the real binaries as a
//! newcomer would: a `chinwagd` process with a generated admin password, and
//! `chinwag` processes for listeners, one-shot commands and the line mode.
//!
//! `chinwagd` is not a target of this package: it is found next to
//! `chinwag` in the same target directory, where `cargo test --workspace`
//! (or `cargo build -p chinwag-server`) puts it.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{CHINWAG_ENV, chinwag_bin, chinwagd_bin};
use serde_json::Value;

/// How long to wait for something that should happen at once. Only a guard
/// against hanging forever, never a performance assertion.
const PATIENCE: Duration = Duration::from_secs(10);

/// A child process the test started. Its stdout arrives line by line on a
/// channel (read by a thread), its stderr is collected; it is killed, by
/// its own handle, if it is still running when dropped.
struct Proc {
    label: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    seen: Vec<String>,
    stderr: Option<JoinHandle<String>>,
}

/// How a finished process ended.
struct Finished {
    code: i32,
    stdout: Vec<String>,
    stderr: String,
}

impl Proc {
    /// Spawns `command` with stdout and stderr piped (and stdin piped if
    /// `stdin` is true).
    fn spawn(label: &str, mut command: Command, stdin: bool) -> Proc {
        command
            .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {label}: {e}"));
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = BufReader::new(stderr).read_to_string(&mut text);
            text
        });
        Proc {
            label: label.to_owned(),
            stdin: child.stdin.take(),
            child,
            lines,
            seen: Vec::new(),
            stderr: Some(stderr),
        }
    }

    /// Reads stdout lines until one satisfies `wanted`, and returns it.
    fn expect(&mut self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if wanted(&line) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.fail(&format!("no line with {what} within {PATIENCE:?}"))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.fail(&format!("stdout ended without a line with {what}"))
                }
            }
        }
    }

    /// Like [`Proc::expect`] for `listen --json`: every line must be a JSON
    /// object; returns the first that satisfies `wanted`.
    fn expect_json(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let line = self.expect(what, |line| {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("listen --json printed a non-JSON line {line:?}: {e}"));
            assert!(value.is_object(), "not a JSON object: {line}");
            wanted(&value)
        });
        serde_json::from_str(&line).unwrap()
    }

    /// Types a line on the process's stdin.
    fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is piped and open");
        writeln!(stdin, "{line}").unwrap_or_else(|e| panic!("cannot write to {}: {e}", self.label));
        stdin.flush().unwrap();
    }

    /// Closes stdin: the end of input.
    fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for the process to exit; returns its exit code, the stdout
    /// lines not read yet, and its stderr.
    fn finish(mut self) -> Finished {
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() >= deadline {
                self.fail(&format!("did not exit within {PATIENCE:?}"));
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let Some(code) = status.code() else {
            self.fail(&format!("ended by a signal: {status}"));
        };
        // The process is gone, so its pipes reach their end.
        let mut stdout = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(PATIENCE) {
            self.seen.push(line.clone());
            stdout.push(line);
        }
        let stderr = self.stderr.take().unwrap().join().unwrap_or_default();
        Finished {
            code,
            stdout,
            stderr,
        }
    }

    /// Panics with what the process printed so far.
    fn fail(&mut self, problem: &str) -> ! {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let stderr = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        panic!(
            "{}: {problem}\n--- stdout so far ---\n{}\n--- stderr ---\n{stderr}",
            self.label,
            self.seen.join("\n")
        );
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The running `chinwagd`, with what it logged at start.
struct Daemon {
    proc: Proc,
    addr: SocketAddr,
    password: String,
    /// Its data directory when the test did not give one, removed when the
    /// test ends.
    _data: Option<tempfile::TempDir>,
}

impl Daemon {
    /// `chinwagd --listen 127.0.0.1:0` with no admin password configured
    /// and a fresh data directory (the only other flag: a newcomer's default
    /// directory is in their home, which a test must not touch).
    /// Its log goes to stderr, so that is what is read line by line here.
    fn start() -> Daemon {
        let data = tempfile::tempdir().expect("a temporary data directory");
        let mut daemon = Daemon::start_in(data.path());
        daemon._data = Some(data);
        daemon
    }

    /// The same on the data directory `data`, which the test keeps.
    fn start_in(data: &std::path::Path) -> Daemon {
        let mut command = Command::new(chinwagd_bin());
        command
            .args(["--listen", "127.0.0.1:0"])
            .args(["--web-listen", "127.0.0.1:0"])
            .arg("--data")
            .arg(data);
        for var in CHINWAG_ENV {
            command.env_remove(var);
        }
        command
            .env("CHINWAG_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("cannot start chinwagd");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut proc = Proc {
            label: "chinwagd".to_owned(),
            child,
            stdin: None,
            lines,
            seen: Vec::new(),
            // Its stderr is `lines`; there is no other output to collect.
            stderr: Some(std::thread::spawn(String::new)),
        };
        let mut password = None;
        let addr = loop {
            let line = proc.expect("the listening address", |line| {
                line.contains("generated for this run: ") || line.contains("chinwagd listening")
            });
            if let Some(rest) = line.split("generated for this run: ").nth(1) {
                password = Some(rest.trim().to_owned());
            }
            if line.contains("chinwagd listening") {
                let addr = line.split("addr=").nth(1).expect("addr= in the log line");
                break addr.trim().parse().expect("a socket address after addr=");
            }
        };
        let password = password.unwrap_or_else(|| {
            proc.fail("listening, but no generated admin password was logged before")
        });
        assert!(!password.is_empty());
        Daemon {
            proc,
            addr,
            password,
            _data: None,
        }
    }

    /// `chinwag --server ADDR --name NAME ARGS...`, with a clean environment.
    fn chinwag(&self, name: &str, args: &[&str]) -> Command {
        chinwag_at(&self.addr.to_string(), name, args)
    }

    /// Starts a long-running `chinwag` (a listener or the line mode).
    fn spawn(&self, label: &str, name: &str, args: &[&str], stdin: bool) -> Proc {
        Proc::spawn(label, self.chinwag(name, args), stdin)
    }

    /// Runs a one-shot `chinwag` to its end.
    fn run(&self, name: &str, args: &[&str]) -> Finished {
        oneshot(self.chinwag(name, args), &format!("{name} {args:?}"))
    }

    /// Runs `chinwag --name root admin ...` with the admin password in
    /// CHINWAG_ADMIN_PASSWORD, as the README says.
    fn admin(&self, password: &str, args: &[&str]) -> Finished {
        let mut command = self.chinwag("root", &[&["admin"][..], args].concat());
        command.env("CHINWAG_ADMIN_PASSWORD", password);
        oneshot(command, &format!("root admin {args:?}"))
    }

    /// Waits until `name` is in the user list (asked by a name of its own).
    fn wait_online(&self, name: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let out = self.run("watcher", &["users", "--json"]);
            if out.code == 0 && user_names(&out).contains(name) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not come online; last `users`: {:?} {}",
                out.stdout,
                out.stderr
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn chinwag_at(server: &str, name: &str, args: &[&str]) -> Command {
    let mut command = Command::new(chinwag_bin());
    for var in CHINWAG_ENV {
        command.env_remove(var);
    }
    command
        .args(["--server", server, "--name", name])
        .args(args);
    command
}

fn oneshot(command: Command, label: &str) -> Finished {
    Proc::spawn(label, command, false).finish()
}

/// The names in the output of `users --json`.
fn user_names(out: &Finished) -> BTreeSet<String> {
    let json: Value = serde_json::from_str(&out.stdout.join("\n"))
        .unwrap_or_else(|e| panic!("users --json printed {:?}: {e}", out.stdout));
    json.as_array()
        .expect("users --json prints an array")
        .iter()
        .map(|u| u["name"].as_str().expect("a user has a name").to_owned())
        .collect()
}

fn is_notice(v: &Value, kind: &str) -> bool {
    v["type"] == "notice" && v["kind"] == kind
}

#[test]
fn the_readme_tour_with_the_real_binaries() {
    let daemon = Daemon::start();

    // Terminal 2: bob listens, one JSON object per line.
    let mut bob = daemon.spawn("bob listen --json", "bob", &["listen", "--json"], false);
    daemon.wait_online("bob");
    // A second listener, in the human format. Bob hearing that carol joined
    // means both are online.
    let mut carol = daemon.spawn("carol listen", "carol", &["listen"], false);
    bob.expect_json("carol joined", |v| {
        is_notice(v, "joined") && v["subject"] == "carol"
    });

    // Terminal 3: alice talks.
    let out = daemon.run("alice", &["send", "bob", "hi"]);
    assert_eq!(out.code, 0, "send failed: {}", out.stderr);
    assert_eq!(out.stdout, ["delivered to bob"]);
    let message = bob.expect_json("alice's message", |v| v["type"] == "message");
    assert_eq!(message["kind"], "direct", "{message}");
    assert_eq!(message["from"], "alice", "{message}");
    assert_eq!(message["to"], "bob", "{message}");
    assert_eq!(message["text"], "hi", "{message}");
    assert!(message["ts"].is_u64(), "ts is not a number: {message}");
    assert!(message["id"].is_u64(), "id is not a number: {message}");

    let out = daemon.run("alice", &["broadcast", "hello", "everyone"]);
    assert_eq!(out.code, 0, "broadcast failed: {}", out.stderr);
    // Everyone but alice: bob and carol.
    assert_eq!(out.stdout, ["broadcast to 2 connection(s)"]);
    let message = bob.expect_json("alice's broadcast", |v| v["type"] == "message");
    assert_eq!(message["kind"], "broadcast", "{message}");
    assert_eq!(message["from"], "alice", "{message}");
    assert_eq!(message["text"], "hello everyone", "{message}");
    assert!(message.get("to").is_none(), "{message}");
    carol.expect("alice's broadcast", |line| {
        line.starts_with('[') && line.ends_with("] alice -> everyone: hello everyone")
    });

    let out = daemon.run("alice", &["users", "--json"]);
    assert_eq!(out.code, 0, "users failed: {}", out.stderr);
    assert_eq!(
        user_names(&out),
        BTreeSet::from(["alice", "bob", "carol"].map(String::from))
    );
    let out = daemon.run("alice", &["users"]);
    assert_eq!(out.code, 0, "users failed: {}", out.stderr);
    let table: Vec<&str> = out
        .stdout
        .iter()
        .map(|row| row.split_whitespace().next().unwrap_or(""))
        .collect();
    assert_eq!(table, ["NAME", "alice", "bob", "carol"], "{:?}", out.stdout);

    let out = daemon.run("alice", &["echo", "ping"]);
    assert_eq!(out.code, 0, "echo failed: {}", out.stderr);
    assert_eq!(out.stdout.first().map(String::as_str), Some("ping"));

    // An administrator mutes bob; bob's listener is told.
    let pw = daemon.password.as_str();
    let out = daemon.admin(
        pw,
        &["mute", "bob", "--for", "10m", "--reason", "calm down"],
    );
    assert_eq!(out.code, 0, "mute failed: {}", out.stderr);
    assert_eq!(out.stdout, ["muted bob for 10m"]);
    let muted = bob.expect_json("the muted notice", |v| is_notice(v, "muted"));
    assert_eq!(muted["actor"], "root", "{muted}");
    assert_eq!(muted["subject"], "bob", "{muted}");
    assert_eq!(muted["text"], "calm down", "{muted}");
    assert!(muted["until"].is_u64(), "{muted}");

    // The README has bob try a one-shot now, but bob's name is held by his
    // listener, so the one-shot cannot even register.
    let out = daemon.run("bob", &["send", "alice", "can I talk?"]);
    assert_eq!(out.code, 1, "stderr: {}", out.stderr);
    assert!(out.stderr.contains("(NameTaken)"), "{}", out.stderr);

    // A muted user in the line mode instead: dave, typing on a pipe.
    let mut dave = daemon.spawn("dave (line mode)", "dave", &[], true);
    bob.expect_json("dave joined", |v| {
        is_notice(v, "joined") && v["subject"] == "dave"
    });
    let out = daemon.admin(pw, &["mute", "dave", "--for", "10m"]);
    assert_eq!(out.code, 0, "mute failed: {}", out.stderr);
    dave.expect("the muted notice", |line| {
        line.ends_with("] * you are muted by root for 10m")
    });
    dave.type_line("/all hi");
    dave.expect("the muted error", |line| {
        line.starts_with("! you are muted for another ")
    });
    let out = daemon.admin(pw, &["unmute", "dave"]);
    assert_eq!(out.code, 0, "unmute failed: {}", out.stderr);
    assert_eq!(out.stdout, ["unmuted dave"]);
    dave.expect("the unmuted notice", |line| {
        line.ends_with("] * you may talk again")
    });
    dave.type_line("/all hi");
    dave.expect("dave's own broadcast", |line| {
        line.starts_with('[') && line.ends_with("] dave -> everyone: hi")
    });
    carol.expect("dave's broadcast", |line| {
        line.ends_with("] dave -> everyone: hi")
    });
    let message = bob.expect_json("dave's broadcast", |v| v["type"] == "message");
    assert_eq!(
        (&message["from"], &message["text"]),
        (&"dave".into(), &"hi".into())
    );
    // The end of input logs dave out; a line was refused (muted), so the
    // exit status is 1, though the lines after it ran.
    dave.close_stdin();
    let out = dave.finish();
    assert_eq!(out.code, 1, "dave: {}", out.stderr);

    let out = daemon.admin(pw, &["unmute", "bob"]);
    assert_eq!(out.code, 0, "unmute failed: {}", out.stderr);
    bob.expect_json("the unmuted notice", |v| is_notice(v, "unmuted"));

    // A wrong admin password is refused.
    let out = daemon.admin("not the password", &["unmute", "bob"]);
    assert_eq!(out.code, 1, "stdout: {:?}", out.stdout);
    assert!(
        out.stderr
            .contains("error: wrong admin password (BadPassword)"),
        "{}",
        out.stderr
    );

    // So is a message to someone who is not online.
    let out = daemon.run("alice", &["send", "nobody", "hi"]);
    assert_eq!(out.code, 1, "stdout: {:?}", out.stdout);
    assert!(out.stderr.starts_with("error: "), "{}", out.stderr);
    assert!(out.stderr.contains("(NoSuchUser)"), "{}", out.stderr);

    // Kicking bob ends his listener with exit code 4.
    let out = daemon.admin(pw, &["kick", "bob", "--reason", "bye"]);
    assert_eq!(out.code, 0, "kick failed: {}", out.stderr);
    assert_eq!(out.stdout, ["kicked bob"]);
    let kicked = bob.expect_json("the kicked notice", |v| is_notice(v, "kicked"));
    assert_eq!(kicked["actor"], "root", "{kicked}");
    assert_eq!(kicked["text"], "bye", "{kicked}");
    let out = bob.finish();
    assert_eq!(out.code, 4, "bob: {:?} {}", out.stdout, out.stderr);
    carol.expect("bob left", |line| line.contains("] * bob left"));

    // Nobody listens on a port that was just released.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = oneshot(
        chinwag_at(&closed.to_string(), "alice", &["users"]),
        "chinwag at a closed port",
    );
    assert_eq!(out.code, 3, "stderr: {}", out.stderr);
    assert!(out.stderr.starts_with("error: "), "{}", out.stderr);

    // Shutdown: carol is told and exits 0, and so does the server.
    let out = daemon.admin(pw, &["shutdown", "--reason", "maintenance"]);
    assert_eq!(out.code, 0, "shutdown failed: {}", out.stderr);
    carol.expect("the shutdown notice", |line| {
        line.ends_with("] * server shutting down: maintenance")
    });
    let out = carol.finish();
    assert_eq!(out.code, 0, "carol: {:?} {}", out.stdout, out.stderr);
    let addr = daemon.addr;
    let out = daemon.proc.finish();
    assert_eq!(out.code, 0, "chinwagd exited with {}", out.code);

    // The server is gone: connecting to it fails with exit code 3.
    let out = oneshot(
        chinwag_at(&addr.to_string(), "alice", &["users"]),
        "chinwag after shutdown",
    );
    assert_eq!(out.code, 3, "stderr: {}", out.stderr);
}

/// The README's accounts section: an account's name needs its password, a
/// message to an offline account waits for it, and history is still there
/// after the server restarts.
#[test]
fn accounts_offline_delivery_and_history_across_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_in(data.path());
    let alice = |daemon: &Daemon, args: &[&str]| {
        daemon.run(
            "alice",
            &[&["--password", "alice-secret"][..], args].concat(),
        )
    };
    let bob_pw = ["--password", "bob-secret"];

    // Registering with a password creates the account.
    let out = daemon.run("bob", &[&bob_pw[..], &["users"]].concat());
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = alice(&daemon, &["send", "bob", "see you"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, ["queued for bob (offline)"]);
    // Nobody else is alice, not even without a terminal to ask on.
    let out = daemon.run("alice", &["send", "bob", "it's me, honest"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("(AccountRequired)"), "{}", out.stderr);
    let out = daemon.run("alice", &["--password", "guess-guess", "users"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("(BadPassword)"), "{}", out.stderr);

    // The server goes away (killed: what it acknowledged is on disk).
    drop(daemon);
    let daemon = Daemon::start_in(data.path());
    let mut bob = daemon.spawn(
        "bob listen --json",
        "bob",
        &[&bob_pw[..], &["listen", "--json"]].concat(),
        false,
    );
    let message = bob.expect_json("the queued message", |v| v["type"] == "message");
    assert_eq!(message["from"], "alice", "{message}");
    assert_eq!(message["text"], "see you", "{message}");

    let out = alice(&daemon, &["history", "bob", "--json", "--limit", "5"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.len(), 1, "{:?}", out.stdout);
    let line: Value = serde_json::from_str(&out.stdout[0]).unwrap();
    assert_eq!(line["id"], message["id"]);
    assert_eq!(line["text"], "see you");

    // The line mode reads history and changes passwords too (and back).
    let mut line = daemon.spawn(
        "alice (line mode)",
        "alice",
        &["--password", "alice-secret"],
        true,
    );
    line.type_line("/history bob");
    line.expect("the stored message", |l| {
        l.ends_with("] alice -> bob: see you")
    });
    line.type_line("/passwd alice-secret alice-secret-2");
    line.expect("the change", |l| l == "password changed");
    line.type_line("/passwd alice-secret-2 alice-secret");
    line.expect("the change back", |l| l == "password changed");
    line.close_stdin();
    assert_eq!(line.finish().code, 0);

    // Passwords change; the old one stops working.
    let out = alice(&daemon, &["passwd", "alice-secret-2"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, ["password changed"]);
    let out = alice(&daemon, &["users"]);
    assert_eq!(out.code, 1, "the old password: {:?}", out.stdout);
}

/// The README's rooms tour with guests: a room made in the line mode,
/// followed by `listen --join`, its topic, the room list, moderation by an
/// administrator, and a non-member refused.
#[test]
fn rooms_with_the_real_binaries() {
    let daemon = Daemon::start();

    let mut alice = daemon.spawn("alice (line mode)", "alice", &[], true);
    alice.type_line("/join #general");
    alice.expect("alice's join", |l| {
        l.contains("you are in #general (1 member, you are owner)")
    });

    let mut bob = daemon.spawn(
        "bob listen",
        "bob",
        &["listen", "--json", "--join", "#general"],
        false,
    );
    alice.expect("bob's arrival", |l| l.contains("* #general: bob joined"));

    alice.type_line("/say #general hello room");
    let m = bob.expect_json("the room message", |v| v["type"] == "message");
    assert_eq!(m["kind"], "room");
    assert_eq!(m["room"], "#general");
    assert_eq!(m["from"], "alice");
    assert_eq!(m["text"], "hello room");
    assert!(
        m.get("to").is_none(),
        "a room message has `room`, not `to`: {m}"
    );

    alice.type_line("/topic #general all things chinwag");
    let n = bob.expect_json("the topic", |v| v["type"] == "room_notice");
    assert_eq!(n["kind"], "room-topic");
    assert_eq!(n["text"], "all things chinwag");

    let rooms = daemon.run("carol", &["rooms", "--json"]);
    assert_eq!(rooms.code, 0, "{}", rooms.stderr);
    let rooms: Value = serde_json::from_str(&rooms.stdout.join("\n")).unwrap();
    assert_eq!(rooms[0]["room"], "#general");
    assert_eq!(rooms[0]["members"], 2);
    assert_eq!(rooms[0]["topic"], "all things chinwag");

    let members = daemon.run("carol", &["members", "#general"]);
    assert_eq!(members.code, 0, "{}", members.stderr);
    assert!(
        members.stdout[1].starts_with("alice  owner"),
        "{:?}",
        members.stdout
    );

    // carol is not a member: refused, exit 1, with the code.
    let refused = daemon.run("carol", &["say", "#general", "let me in"]);
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("NotAMember"), "{}", refused.stderr);

    // An administrator moderates the room without being in it.
    let mut kick = daemon.chinwag(
        "root",
        &["room", "kick", "#general", "bob", "--reason", "testing"],
    );
    kick.env("CHINWAG_ADMIN_PASSWORD", &daemon.password);
    let kicked = oneshot(kick, "root room kick");
    assert_eq!(kicked.code, 0, "{}", kicked.stderr);
    assert_eq!(kicked.stdout, ["kicked bob out of #general"]);
    let n = bob.expect_json("the room kick", |v| v["type"] == "room_notice");
    assert_eq!(n["kind"], "room-kicked");
    assert_eq!(n["actor"], "root");
    alice.expect("bob leaving", |l| {
        l.contains("* #general: bob left (kicked by root: testing)")
    });

    alice.close_stdin();
    assert_eq!(alice.finish().code, 0);
}

/// One account from several terminals at once: bob listens, and while his
/// listener runs, one-shot commands as bob just work; what they send, his
/// listener sees as his own; alice, watching, sees bob come online once
/// and never the one-shots come and go.
#[test]
fn an_account_in_several_terminals_at_once() {
    let daemon = Daemon::start();
    let bob_pw = ["--password", "bob-secret"];
    let alice_pw = ["--password", "alice-secret"];
    let mut alice = daemon.spawn(
        "alice listen --json",
        "alice",
        &[&alice_pw[..], &["listen", "--json"]].concat(),
        false,
    );
    daemon.wait_online("alice");
    let mut bob = daemon.spawn(
        "bob listen --json",
        "bob",
        &[&bob_pw[..], &["listen", "--json"]].concat(),
        false,
    );
    alice.expect_json("bob joined", |v| {
        is_notice(v, "joined") && v["subject"] == "bob"
    });

    // A one-shot as bob beside his listener: it registers, sends, leaves.
    let out = daemon.run(
        "bob",
        &[&bob_pw[..], &["send", "alice", "from my other terminal"]].concat(),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let got = alice.expect_json("bob's message", |v| v["type"] == "message");
    assert_eq!(
        (got["from"].as_str(), got["text"].as_str()),
        (Some("bob"), Some("from my other terminal"))
    );
    // bob's listener sees it as his own, the same message.
    let echoed = bob.expect_json("bob's own message", |v| v["type"] == "message");
    assert_eq!(echoed["id"], got["id"], "{echoed}");
    assert_eq!(echoed["to"], "alice", "{echoed}");
    // History and the user list as bob work too.
    let out = daemon.run(
        "bob",
        &[&bob_pw[..], &["history", "alice", "--json"]].concat(),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .iter()
            .any(|l| l.contains("from my other terminal")),
        "{:?}",
        out.stdout
    );
    let out = daemon.run("bob", &[&bob_pw[..], &["users", "--json"]].concat());
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(user_names(&out), ["alice", "bob"].map(String::from).into());

    // alice replies: bob's listener gets it. Then a message of alice's own
    // marks the end: nothing about bob came between (no leave, no join).
    let out = daemon.run(
        "alice",
        &[&alice_pw[..], &["send", "bob", "got it"]].concat(),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let reply = bob.expect_json("alice's reply", |v| {
        v["type"] == "message" && v["from"] == "alice"
    });
    assert_eq!(reply["text"], "got it");
    let out = daemon.run("bob", &[&bob_pw[..], &["send", "alice", "end"]].concat());
    assert_eq!(out.code, 0, "{}", out.stderr);
    alice.expect_json("the end marker", |v| {
        v["type"] == "message" && v["text"] == "end"
    });
    let noise: Vec<&String> = alice
        .seen
        .iter()
        .filter(|l| l.contains("\"notice\"") && l.contains("\"bob\""))
        .collect();
    assert_eq!(noise.len(), 1, "only bob's first join: {noise:?}");
}

/// The line mode reads to the end of its input and exits 1 if a line was
/// not understood, 0 if every line went through.
#[test]
fn the_line_mode_exit_status_says_whether_a_line_failed() {
    let daemon = Daemon::start();
    let mut fine = daemon.spawn("fine (line mode)", "fine", &[], true);
    fine.type_line("/echo one");
    fine.close_stdin();
    let out = fine.finish();
    assert_eq!(out.code, 0, "{:?} {}", out.stdout, out.stderr);

    let mut typo = daemon.spawn("typo (line mode)", "typo", &[], true);
    typo.type_line("/nonsense");
    typo.type_line("/echo after the typo");
    typo.close_stdin();
    let out = typo.finish();
    assert_eq!(out.code, 1, "{:?} {}", out.stdout, out.stderr);
    let at = |prefix: &str| out.stdout.iter().position(|l| l.starts_with(prefix));
    let typo = at("! unknown command /nonsense").expect("the typo's error");
    let after = at("echo: after the typo").expect("the line after it ran");
    assert!(typo < after, "{:?}", out.stdout);
}

/// Credentials per user in files, as the README's tours use them: each
/// user's commands read their own password file; an empty or missing file
/// is a usage error that says which file.
#[test]
fn password_files_keep_each_users_credentials_apart() {
    let daemon = Daemon::start();
    let dir = tempfile::tempdir().unwrap();
    let alice_pw = dir.path().join("alice.pw");
    let bob_pw = dir.path().join("bob.pw");
    std::fs::write(&alice_pw, "alice-secret\n").unwrap();
    std::fs::write(&bob_pw, "bob-secret\n").unwrap();
    let file = |path: &std::path::Path| path.to_str().unwrap().to_owned();
    // Creating the accounts, then using them, each with its own file.
    for (name, path) in [("alice", &alice_pw), ("bob", &bob_pw)] {
        let out = daemon.run(name, &["--password-file", &file(path), "users"]);
        assert_eq!(out.code, 0, "{name}: {}", out.stderr);
    }
    let out = daemon.run(
        "alice",
        &["--password-file", &file(&alice_pw), "send", "bob", "hi"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    // The wrong file is the wrong password.
    let out = daemon.run("alice", &["--password-file", &file(&bob_pw), "users"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("(BadPassword)"), "{}", out.stderr);
    // An empty or missing file says so, as a usage error.
    let empty = dir.path().join("empty.pw");
    std::fs::write(&empty, "").unwrap();
    let out = daemon.run("alice", &["--password-file", &file(&empty), "users"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("is empty"), "{}", out.stderr);
    let out = daemon.run(
        "alice",
        &["--password-file", "/nonexistent/alice.pw", "users"],
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("cannot read the password file"),
        "{}",
        out.stderr
    );
}
