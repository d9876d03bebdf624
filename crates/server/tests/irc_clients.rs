//! A real IRC client end to end: irssi in a tmux pane (so it has a
//! terminal) registers with the server's IRC listener, joins a room and
//! chats with a native client both ways, then quits. Keys are typed with
//! `send-keys`, the screen is read with `capture-pane`, and every wait
//! polls with a deadline. The tmux server is a private one (`tmux -L`),
//! killed when the test ends. `./scripts/test` installs irssi and tmux.

mod common;

use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chinwag_client::Event;
use chinwag_proto::server::NoticeKind;
use common::*;

/// How often the screen is read while waiting.
const POLL: Duration = Duration::from_millis(100);

/// A private tmux server with one pane running irssi; killed on drop.
struct Pane {
    socket: String,
}

impl Pane {
    fn start(command: &str) -> Pane {
        for tool in ["tmux", "irssi"] {
            let found = Command::new(tool).arg("--version").output();
            let found = found.is_ok() || Command::new(tool).arg("-V").output().is_ok();
            assert!(
                found,
                "{tool} is not installed (./scripts/test installs it)"
            );
        }
        let pane = Pane {
            socket: format!("chinwag-irc-{}", std::process::id()),
        };
        let started = pane.tmux(&["new-session", "-d", "-x", "160", "-y", "40", command]);
        assert!(started.status.success(), "tmux: {started:?}");
        pane
    }

    fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("cannot run tmux")
    }

    /// Types `text` and Enter.
    fn type_line(&self, text: &str) {
        self.tmux(&["send-keys", "-l", text]);
        self.tmux(&["send-keys", "Enter"]);
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p"]).stdout).into_owned()
    }

    /// Waits until the screen shows `text`.
    fn wait_for(&self, text: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no {text:?} on the screen:\n{screen}"
            );
            std::thread::sleep(POLL);
        }
    }
}

/// Runs `f` with the pane on a blocking thread (tmux calls block).
async fn with_pane(pane: &Arc<Pane>, f: impl FnOnce(&Pane) + Send + 'static) {
    let pane = Arc::clone(pane);
    tokio::task::spawn_blocking(move || f(&pane)).await.unwrap();
}

impl Drop for Pane {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn irssi_chats_with_a_native_user() {
    let (server, irc_addr) = start_irc().await;
    let (alice, mut alice_events) = user(&server, "alice").await;
    alice.join("#mixed", None).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let command = format!(
        "irssi --home={} -n carol -c {} -p {}",
        home.path().display(),
        irc_addr.ip(),
        irc_addr.port()
    );
    let pane = tokio::task::spawn_blocking(move || Pane::start(&command))
        .await
        .unwrap();

    let joined = notice(&mut alice_events, NoticeKind::Joined).await;
    assert_eq!(
        &*joined.subject, "carol",
        "irssi registered through the core"
    );

    let pane = Arc::new(pane);
    with_pane(&pane, |pane| pane.type_line("/join #mixed")).await;
    wait_for(&mut alice_events, |e| match e {
        Event::RoomNotice(n) if n.kind == NoticeKind::RoomJoined => Some(n),
        _ => None,
    })
    .await;

    // Native to IRC, then IRC to native.
    alice.say("#mixed", "hello irssi").await.unwrap();
    with_pane(&pane, |pane| pane.wait_for("hello irssi")).await;
    with_pane(&pane, |pane| pane.type_line("hi from irssi")).await;
    let got = wait_for(&mut alice_events, |e| match e {
        Event::Message(m) => Some(m),
        _ => None,
    })
    .await;
    assert_eq!(
        (&*got.from, &*got.to, &*got.text),
        ("carol", "#mixed", "hi from irssi")
    );

    // A direct message from the native side opens a query window in
    // irssi, named after alice.
    alice.send("carol", "psst, carol").await.unwrap();
    with_pane(&pane, |reading| {
        // Until the window exists, going to it does nothing: try again.
        let deadline = Instant::now() + PATIENCE;
        while !reading.screen().contains("psst, carol") {
            assert!(Instant::now() < deadline, "no query window from alice");
            reading.type_line("/window goto alice");
            std::thread::sleep(POLL * 5);
        }
    })
    .await;

    with_pane(&pane, |pane| pane.type_line("/quit")).await;
    let left = notice(&mut alice_events, NoticeKind::Left).await;
    assert_eq!(&*left.subject, "carol");
    server.stop().await;
}
