//! The full-screen UI end to end: the real `chinwag` binary in tmux panes
//! (so it has a real terminal) against a real `chinwagd`. Keys are typed
//! with `send-keys`, the screen is read with `capture-pane`, and every
//! wait polls the screen with a deadline.
//!
//! The tmux server is a private one (`tmux -L <unique name>`), killed when
//! the test ends; `chinwagd` is found next to `chinwag` in the target
//! directory (see `tour.rs`). `./scripts/test` installs tmux if missing.

mod common;

use common::{CHINWAG_ENV, chinwag_bin, chinwagd_bin};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long to wait for something that should happen at once. Only a guard
/// against hanging forever, never a performance assertion.
const PATIENCE: Duration = Duration::from_secs(15);

/// How often the screen is read while waiting.
const POLL: Duration = Duration::from_millis(50);

const ADMIN_PASSWORD: &str = "tmux-test-admin";

/// What the pane's shell prints when the program exits: `[chinwag exited N]`.
const EXITED: &str = "[chinwag exited ";

/// A `chinwagd` this test started, killed (by its own handle) on drop.
struct Daemon {
    child: Child,
    addr: SocketAddr,
}

impl Daemon {
    /// Starts `chinwagd --listen LISTEN --data DATA` and waits for its
    /// address.
    fn start(listen: &str, data: &std::path::Path) -> Daemon {
        let mut command = Command::new(chinwagd_bin());
        for var in CHINWAG_ENV {
            command.env_remove(var);
        }
        command
            .args(["--listen", listen, "--admin-password", ADMIN_PASSWORD])
            .args(["--web-listen", "127.0.0.1:0"])
            .arg("--data")
            .arg(data)
            .env("CHINWAG_LOG", "info")
            .env("NO_COLOR", "1")
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
        let deadline = Instant::now() + PATIENCE;
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = lines
                .recv_timeout(left)
                .unwrap_or_else(|e| panic!("chinwagd did not say where it listens: {e}"));
            if line.contains("chinwagd listening") {
                let addr = line.split("addr=").nth(1).expect("addr= in the log line");
                break addr.trim().parse().expect("a socket address after addr=");
            }
        };
        // Keep draining its log so it never blocks on a full pipe.
        std::thread::spawn(move || while lines.recv().is_ok() {});
        Daemon { child, addr }
    }

    /// Kills the server abruptly, as a crash would.
    fn crash(mut self) -> SocketAddr {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.addr
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A private tmux server; each user is one session (one pane) in it.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn new() -> Tmux {
        let found = Command::new("tmux").arg("-V").output();
        assert!(
            found.as_ref().is_ok_and(|o| o.status.success()),
            "this test needs tmux (`./scripts/test` installs it; or apt-get install tmux): {found:?}"
        );
        // One tmux server per test: tests run in parallel threads.
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let socket = format!(
            "chinwag-tui-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        Tmux { socket }
    }

    fn command(&self) -> Command {
        let mut command = Command::new("tmux");
        for var in CHINWAG_ENV {
            command.env_remove(var);
        }
        command.env("LC_ALL", "C.UTF-8").env_remove("TMUX").args([
            "-u",
            "-L",
            &self.socket,
            "-f",
            "/dev/null",
        ]);
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        let output = self.command().args(args).output().expect("cannot run tmux");
        assert!(
            output.status.success(),
            "tmux {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// Opens a 100x30 terminal running `chinwag --name NAME` (the UI).
    fn open(&self, name: &str, server: SocketAddr) {
        self.open_as(name, name, server, &[]);
    }

    /// Opens a 100x30 terminal `session` running `chinwag --name NAME
    /// EXTRA...`.
    fn open_as(&self, session: &str, name: &str, server: SocketAddr, extra: &[&str]) {
        let bin = chinwag_bin();
        let server = server.to_string();
        let shell = format!("\"$0\" \"$@\"; echo \"{EXITED}$?]\"; exec sleep 3600");
        let mut args = vec![
            "new-session",
            "-d",
            "-s",
            session,
            "-x",
            "100",
            "-y",
            "30",
            "--",
            // A shell waits for the program and prints its exit status,
            // then keeps the pane (and the terminal the program left
            // behind) for inspection. tmux's own `pane_dead_status` was
            // seen to lag: the exited program stayed an unreaped zombie
            // of the tmux server for over 15 s.
            "sh",
            "-c",
            &shell,
            bin.to_str().unwrap(),
            "--server",
            &server,
            "--name",
            name,
        ];
        args.extend(extra);
        self.run(&args);
    }

    /// Types `text` literally, with no Enter.
    fn type_text(&self, name: &str, text: &str) {
        self.run(&["send-keys", "-t", name, "-l", text]);
    }

    fn screen(&self, name: &str) -> String {
        let out = self.run(&["capture-pane", "-p", "-t", name]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A tmux format about the pane, like `#{pane_dead}`.
    fn pane(&self, name: &str, format: &str) -> String {
        let out = self.run(&["display-message", "-p", "-t", name, format]);
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Types `text` literally, then Enter.
    fn type_line(&self, name: &str, text: &str) {
        self.run(&["send-keys", "-t", name, "-l", text]);
        self.run(&["send-keys", "-t", name, "Enter"]);
    }

    /// Presses keys named the tmux way (`C-n`, `M-1`, `PageUp`).
    fn press(&self, name: &str, key: &str) {
        self.run(&["send-keys", "-t", name, key]);
    }

    /// Polls `name`'s screen until `wanted` holds; returns that screen.
    fn wait_for(&self, name: &str, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let screen = self.screen(name);
            if wanted(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "{name}: no {what} within {PATIENCE:?}; the screen:\n{screen}"
            );
            std::thread::sleep(POLL);
        }
    }

    fn wait_text(&self, name: &str, text: &str) -> String {
        self.wait_for(name, &format!("{text:?}"), |s| s.contains(text))
    }

    /// Waits for the program in `name` to exit; returns its exit status.
    fn wait_exit(&self, name: &str) -> String {
        let screen = self.wait_text(name, EXITED);
        let status = screen
            .split(EXITED)
            .nth(1)
            .and_then(|s| s.split(']').next());
        status.expect("an exit status after the marker").to_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").output();
    }
}

/// Runs a one-shot `chinwag --server ADDR --name NAME ARGS...` to the end;
/// returns its stdout, after checking it succeeded.
fn chinwag(server: SocketAddr, name: &str, args: &[&str]) -> String {
    let mut command = Command::new(chinwag_bin());
    for var in CHINWAG_ENV {
        command.env_remove(var);
    }
    let out = command
        .args(["--server", &server.to_string(), "--name", name])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("cannot run chinwag");
    assert!(out.status.success(), "chinwag {name} {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The conversation list's row for `title` (the left pane, 20 columns).
fn conversation_row(screen: &str, title: &str) -> Option<String> {
    screen
        .lines()
        .map(|line| line.chars().take(20).collect::<String>())
        .find(|row| row.trim_matches('│').split_whitespace().nth(1) == Some(title))
}

#[test]
fn two_people_chat_moderate_survive_a_restart_and_quit_cleanly() {
    let tmux = Tmux::new();
    let data = tempfile::tempdir().unwrap();
    let daemon = Daemon::start("127.0.0.1:0", data.path());
    let addr = daemon.addr;
    tmux.open("alice", addr);
    tmux.wait_text("alice", &format!("connected to {addr} as alice"));
    tmux.open("bob", addr);
    tmux.wait_text("bob", &format!("connected to {addr} as bob"));
    let screen = tmux.wait_text("alice", "online 2");
    // bob has not spoken: the smart filter folds his arrival away.
    assert!(!screen.contains("bob joined"), "{screen}");
    assert!(
        screen.contains(&format!(" {addr} | alice | online")),
        "{screen}"
    );

    // A broadcast, in Chinese too.
    tmux.type_line("alice", "hello bob 你好，世界");
    tmux.wait_text("bob", "alice: hello bob 你好，世界");

    // A direct message shows as unread until alice opens it.
    tmux.type_line("bob", "/msg alice psst, over here");
    tmux.wait_text("bob", "alice (direct)");
    let screen = tmux.wait_for("alice", "an unread count for bob", |s| {
        conversation_row(s, "bob").is_some_and(|row| row.trim_end_matches('│').ends_with(" 1"))
    });
    assert!(screen.contains("| 1 unread"), "{screen}");
    tmux.press("alice", "C-n");
    let screen = tmux.wait_text("alice", "bob (direct)");
    assert!(screen.contains("bob: psst, over here"), "{screen}");
    assert!(
        conversation_row(&screen, "bob").is_some_and(|row| !row.contains(" 1")),
        "opening it clears the count:\n{screen}"
    );
    tmux.type_line("alice", "hi bob");
    tmux.wait_text("bob", "alice: hi bob");
    // Alt-1 goes back to everyone.
    tmux.press("alice", "M-1");
    tmux.wait_text("alice", "┌ everyone ");

    // alice becomes administrator, mutes bob, then kicks him.
    tmux.type_line("alice", &format!("/admin {ADMIN_PASSWORD}"));
    tmux.wait_text("alice", "you are now an administrator");
    tmux.type_line("alice", "/mute bob 5m calm down");
    tmux.wait_text("alice", "muted bob for 5m");
    tmux.wait_text("alice", " bob muted");
    tmux.wait_text("bob", "you are muted by alice for 5m (calm down)");
    tmux.type_line("bob", "can I talk?");
    tmux.wait_text("bob", "! you are muted for another");
    tmux.type_line("alice", "/kick bob bye now");
    tmux.wait_text("bob", "you were kicked by alice: bye now");
    tmux.wait_text("bob", "not reconnecting");
    tmux.wait_text("alice", "bob left (kicked by alice: bye now)");
    // The audit log, in the UI.
    tmux.type_line("alice", "/audit");
    let screen = tmux.wait_text("alice", "ACTION");
    assert!(
        screen.contains("kick") && screen.contains("bye now"),
        "{screen}"
    );

    // The server crashes and comes back on the same address: alice's UI
    // reconnects by itself and registers again.
    let addr = daemon.crash();
    tmux.wait_text("alice", "connection lost");
    tmux.wait_text("alice", "offline");
    let daemon = Daemon::start(&addr.to_string(), data.path());
    tmux.wait_text("alice", &format!("reconnected to {addr} as alice"));
    let screen = tmux.wait_text("alice", "online 1");
    assert!(screen.contains(" | alice | online"), "{screen}");
    tmux.type_line("alice", "anyone back?");
    tmux.wait_text("alice", "alice: anyone back?");
    // Kicked bob stayed out.
    let screen = tmux.screen("bob");
    assert!(!screen.contains("reconnected"), "{screen}");
    assert!(screen.contains("disconnected: kicked by alice"), "{screen}");

    // Quitting leaves the terminal as it was: main screen, no mouse
    // reporting, a visible cursor, nothing of the UI left; kicked bob
    // exits 4.
    tmux.type_line("alice", "/quit");
    assert_eq!(tmux.wait_exit("alice"), "0");
    assert_eq!(
        tmux.pane("alice", "#{?cursor_flag,cursor,no cursor}"),
        "cursor"
    );
    assert_eq!(
        tmux.pane("alice", "#{?alternate_on,alternate,main}"),
        "main"
    );
    assert_eq!(
        tmux.pane("alice", "#{?mouse_any_flag,mouse,no mouse}"),
        "no mouse"
    );
    assert!(!tmux.screen("alice").contains("conversations"));
    tmux.press("bob", "C-c");
    assert_eq!(tmux.wait_exit("bob"), "4");
    assert_eq!(tmux.pane("bob", "#{?alternate_on,alternate,main}"), "main");
    drop(daemon);
}

#[test]
fn an_account_gets_what_came_while_away_and_its_history_after_a_restart() {
    let tmux = Tmux::new();
    let data = tempfile::tempdir().unwrap();
    let daemon = Daemon::start("127.0.0.1:0", data.path());
    let addr = daemon.addr;
    // dora's account exists; while she is away, erin (a guest) writes to
    // her and to everyone.
    chinwag(addr, "dora", &["--password", "first-secret", "users"]);
    chinwag(addr, "erin", &["broadcast", "said before dora came"]);
    chinwag(addr, "erin", &["send", "dora", "while you were away"]);

    // No --password: the UI asks for it on the plain terminal, before it
    // takes the screen over.
    tmux.open("dora", addr);
    tmux.wait_text("dora", "password for dora:");
    tmux.type_line("dora", "first-secret");
    tmux.wait_text("dora", &format!("connected to {addr} as dora"));
    let screen = tmux.wait_for("dora", "erin's queued message as unread", |s| {
        conversation_row(s, "erin").is_some_and(|row| row.trim_end_matches('│').ends_with(" 1"))
    });
    assert!(
        screen.contains("| 1 unread, 1 sent while you were away"),
        "{screen}"
    );
    // Opening it shows the message and loads the conversation's history.
    tmux.press("dora", "C-n");
    tmux.wait_text("dora", "erin (direct)");
    tmux.wait_text("dora", "erin: while you were away");
    let screen = tmux.wait_text("dora", "— start of the conversation —");
    assert!(!screen.contains("unread"), "{screen}");

    // A new password through the hidden prompt; it never shows.
    tmux.type_line("dora", "/passwd");
    tmux.wait_text("dora", "current password (hidden");
    tmux.type_line("dora", "first-secret");
    tmux.wait_text("dora", "new password (hidden");
    tmux.type_line("dora", "second-secret");
    tmux.wait_text("dora", "new password again (hidden");
    tmux.type_text("dora", "second-secret");
    let screen = tmux.screen("dora");
    assert!(!screen.contains("secret"), "{screen}");
    tmux.press("dora", "Enter");
    let screen = tmux.wait_text("dora", "password changed");
    assert!(!screen.contains("secret"), "{screen}");

    // The server restarts: the UI logs in again, with the new password.
    let addr = daemon.crash();
    tmux.wait_text("dora", "connection lost");
    let daemon = Daemon::start(&addr.to_string(), data.path());
    tmux.wait_text("dora", &format!("reconnected to {addr} as dora"));
    // The broadcast from before she came is in the everyone history.
    tmux.press("dora", "M-1");
    tmux.wait_text("dora", "┌ everyone ");
    tmux.type_line("dora", "/history");
    tmux.wait_text("dora", "erin: said before dora came");
    tmux.wait_text("dora", "— start of the conversation —");

    // A ban ends the session for good: no reconnecting, exit 4.
    chinwag(
        addr,
        "root",
        &[
            "admin",
            "--admin-password",
            ADMIN_PASSWORD,
            "ban",
            "dora",
            "--reason",
            "enough",
        ],
    );
    tmux.wait_text("dora", "banned by root: enough; not reconnecting");
    tmux.wait_text("dora", "| disconnected: banned by root");
    tmux.press("dora", "C-c");
    assert_eq!(tmux.wait_exit("dora"), "4");
    assert_eq!(tmux.pane("dora", "#{?alternate_on,alternate,main}"), "main");
    drop(daemon);
}

#[test]
fn a_cjk_account_opens_with_its_rooms_is_mentioned_and_keeps_its_place_across_a_reconnect() {
    let tmux = Tmux::new();
    let data = tempfile::tempdir().unwrap();
    let daemon = Daemon::start("127.0.0.1:0", data.path());
    let addr = daemon.addr;
    // 小明’s account is a member of #tea (it created it, with a topic) and of
    // #rust; its UI has not run yet.
    let xm = ["--password", "xiaoming-secret"];
    chinwag(addr, "小明", &[&xm[..], &["join", "#tea"]].concat());
    chinwag(
        addr,
        "小明",
        &[&xm[..], &["topic", "#tea", "绿茶 and oolong"]].concat(),
    );
    chinwag(addr, "小明", &[&xm[..], &["join", "#rust"]].concat());
    chinwag(addr, "li", &["broadcast", "morning all"]);

    tmux.open_as("xm", "小明", addr, &xm);
    // It opens with both rooms listed and the latest broadcasts shown.
    let screen = tmux.wait_for("xm", "both rooms listed", |s| {
        conversation_row(s, "#tea").is_some() && conversation_row(s, "#rust").is_some()
    });
    assert!(screen.contains("| 小明 | online"), "{screen}");
    tmux.wait_text("xm", "li: morning all");
    // The room's header has its topic and 小明's role (the rooms come in
    // the server's order, by name).
    tmux.press("xm", "M-3");
    tmux.wait_text("xm", "#tea (1 member, you are owner): 绿茶 and oolong");

    // A mention in the other room: counted apart, highlighted there.
    let li = ["--password", "li-secret"];
    chinwag(addr, "li", &[&li[..], &["join", "#rust"]].concat());
    chinwag(
        addr,
        "li",
        &[&li[..], &["say", "#rust", "小明 have you seen this?"]].concat(),
    );
    let screen = tmux.wait_for("xm", "a mention count for #rust", |s| {
        conversation_row(s, "#rust").is_some_and(|row| row.contains("1/@1"))
    });
    assert!(screen.contains("| 1 unread | 1 for you"), "{screen}");
    tmux.press("xm", "M-2");
    tmux.wait_text("xm", "li: 小明 have you seen this?");

    // The server restarts; the UI comes back to the same conversation.
    let addr = daemon.crash();
    tmux.wait_text("xm", "connection lost");
    let daemon = Daemon::start(&addr.to_string(), data.path());
    let screen = tmux.wait_text("xm", &format!("reconnected to {addr} as 小明"));
    assert!(screen.contains("┌ #rust"), "{screen}");
    // Give the joins again a moment to be answered: still in #rust.
    tmux.type_line("xm", "/echo still here");
    let screen = tmux.wait_text("xm", "echo: still here");
    assert!(screen.contains("┌ #rust"), "{screen}");
    tmux.type_line("xm", "yes, 看到了");
    tmux.wait_text("xm", "小明: yes, 看到了");
    // An action.
    tmux.type_line("xm", "/me 喝茶");
    tmux.wait_text("xm", "* 小明 喝茶");
    // Away, as everyone's user list shows it; /whois says so too.
    tmux.type_line("xm", "/away 喝茶 (tea time)");
    tmux.wait_text("xm", "you are away: 喝茶 (tea time)");
    tmux.wait_text("xm", " 小明 away");
    tmux.type_line("xm", "/whois 小明");
    tmux.wait_text("xm", "away: 喝茶 (tea time)");
    tmux.wait_text("xm", "in your rooms: #rust, #tea");
    // It spoke a moment ago.
    tmux.wait_text("xm", "  idle ");
    tmux.press("xm", "C-c");
    drop(daemon);
}
