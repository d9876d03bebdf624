//! Real IRC clients end to end: irssi in a tmux pane (so it has a
//! terminal) and a headless weechat each register an account with the
//! server's IRC listener, join a room, chat with a native client both
//! ways, reconnect, get what they missed and read the room's history.
//! irssi's keys are typed with `send-keys` and its screen read with
//! `capture-pane`; weechat reads commands from its FIFO and writes each
//! buffer to a log file. Every wait polls with a deadline. The tmux
//! server is a private one (`tmux -L`), killed when the test ends.
//! `./scripts/test` installs irssi, weechat-headless and tmux.

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
async fn irssi_chats_reconnects_and_reads_what_it_missed() {
    let (server, irc_addr) = start_irc().await;
    let (alice, mut alice_events) = user(&server, "alice").await;
    alice.join("#mixed", None).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let command = format!(
        "irssi --home={} -n carol -w carol-password -c {} -p {}",
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

    // Offline: what alice says now is kept for carol's account. Back
    // online, the direct message comes by itself and the room's history
    // has what was said in it meanwhile.
    with_pane(&pane, |pane| pane.type_line("/disconnect")).await;
    let left = notice(&mut alice_events, NoticeKind::Left).await;
    assert_eq!(&*left.subject, "carol");
    alice.send("carol", "while you were away").await.unwrap();
    alice.say("#mixed", "missed in the room").await.unwrap();
    let reconnect = format!(
        "/connect {} {} carol-password carol",
        irc_addr.ip(),
        irc_addr.port()
    );
    with_pane(&pane, move |pane| pane.type_line(&reconnect)).await;
    let joined = notice(&mut alice_events, NoticeKind::Joined).await;
    assert_eq!(&*joined.subject, "carol", "irssi reconnected");
    with_pane(&pane, |pane| {
        pane.type_line("/window goto alice");
        pane.wait_for("while you were away");
        pane.type_line("/quote CHATHISTORY LATEST #mixed * 10");
        pane.type_line("/window goto #mixed");
        pane.wait_for("missed in the room");
    })
    .await;

    with_pane(&pane, |pane| pane.type_line("/quit")).await;
    let left = notice(&mut alice_events, NoticeKind::Left).await;
    assert_eq!(&*left.subject, "carol");
    server.stop().await;
}

/// A headless weechat (`weechat-headless`, no terminal needed) with a
/// home of its own: commands go in through its FIFO, and what it shows
/// comes out through its logger, one file per buffer. Killed on drop.
struct Weechat {
    child: std::process::Child,
    home: tempfile::TempDir,
}

impl Weechat {
    /// Starts weechat connected to `irc` as the account `nick`, whose
    /// password it sends with PASS (creating the account on first use).
    fn start(irc: std::net::SocketAddr, nick: &str, password: &str) -> Weechat {
        let found = Command::new("weechat-headless").arg("--version").output();
        assert!(
            found.is_ok(),
            "weechat-headless is not installed (./scripts/test installs it)"
        );
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().display();
        let startup = [
            format!("/set fifo.file.path {dir}/fifo"),
            // Write every line at once, not every two minutes.
            "/set logger.file.flush_delay 0".to_owned(),
            format!("/set logger.file.path {dir}/logs"),
            format!(
                "/server add chinwag {}/{} -notls -password={password} -nicks={nick}",
                irc.ip(),
                irc.port()
            ),
            "/connect chinwag".to_owned(),
        ]
        .join(";");
        let child = Command::new("weechat-headless")
            .arg("--dir")
            .arg(home.path().join("weechat"))
            .args(["-r", &startup])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("cannot run weechat-headless");
        Weechat { child, home }
    }

    /// Runs `command` (or says `text`) in `buffer`, such as
    /// `irc.server.chinwag` or `irc.chinwag.#room`.
    fn input(&self, buffer: &str, text: &str) {
        let fifo = self.home.path().join("fifo");
        let deadline = Instant::now() + PATIENCE;
        // The FIFO exists once weechat has started.
        while !fifo.exists() {
            assert!(Instant::now() < deadline, "weechat made no FIFO");
            std::thread::sleep(POLL);
        }
        std::fs::write(&fifo, format!("{buffer} *{text}\n")).unwrap();
    }

    /// The log of `buffer` so far (empty before its first line).
    fn log(&self, buffer: &str) -> String {
        let file = format!("{}.weechatlog", buffer.to_lowercase());
        std::fs::read_to_string(self.home.path().join("logs").join(file)).unwrap_or_default()
    }

    /// Waits until the log of `buffer` shows `text` `times` times.
    fn wait_for(&self, buffer: &str, text: &str, times: usize) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let log = self.log(buffer);
            if log.matches(text).count() >= times {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{buffer} never showed {text:?} {times} times:\n{log}"
            );
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for Weechat {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `f` with weechat on a blocking thread (its waits block).
async fn with_weechat(weechat: &Arc<Weechat>, f: impl FnOnce(&Weechat) + Send + 'static) {
    let weechat = Arc::clone(weechat);
    tokio::task::spawn_blocking(move || f(&weechat))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn weechat_chats_reconnects_and_reads_what_it_missed() {
    const ROOM: &str = "irc.chinwag.#mixed";
    const SERVER: &str = "irc.server.chinwag";
    let (server, irc_addr) = start_irc().await;
    let (alice, mut alice_events) = user(&server, "alice").await;
    alice.join("#mixed", None).await.unwrap();
    let weechat = Arc::new(Weechat::start(irc_addr, "dave", "dave-password"));
    let joined = notice(&mut alice_events, NoticeKind::Joined).await;
    assert_eq!(&*joined.subject, "dave", "weechat registered");

    with_weechat(&weechat, |w| w.input(SERVER, "/join #mixed")).await;
    wait_for(&mut alice_events, |e| match e {
        Event::RoomNotice(n) if n.kind == NoticeKind::RoomJoined => Some(n),
        _ => None,
    })
    .await;

    // Both ways in the room, then a direct message.
    alice.say("#mixed", "hello weechat").await.unwrap();
    with_weechat(&weechat, |w| w.wait_for(ROOM, "hello weechat", 1)).await;
    with_weechat(&weechat, |w| w.input(ROOM, "hi from weechat")).await;
    let got = wait_for(&mut alice_events, |e| match e {
        Event::Message(m) => Some(m),
        _ => None,
    })
    .await;
    assert_eq!(
        (&*got.from, &*got.to, &*got.text),
        ("dave", "#mixed", "hi from weechat")
    );
    alice.send("dave", "psst, dave").await.unwrap();
    with_weechat(&weechat, |w| {
        w.wait_for("irc.chinwag.alice", "psst, dave", 1)
    })
    .await;

    // Offline: what alice says now is kept for the account.
    with_weechat(&weechat, |w| w.input(SERVER, "/disconnect")).await;
    let left = notice(&mut alice_events, NoticeKind::Left).await;
    assert_eq!(&*left.subject, "dave");
    alice.send("dave", "while you were away").await.unwrap();
    alice.say("#mixed", "missed in the room").await.unwrap();

    // Back: the direct message comes by itself, the room is joined again
    // for the account (weechat's own rejoin is not shown twice), and the
    // room's history has what was said meanwhile.
    with_weechat(&weechat, |w| w.input(SERVER, "/connect chinwag")).await;
    let joined = notice(&mut alice_events, NoticeKind::Joined).await;
    assert_eq!(&*joined.subject, "dave", "weechat reconnected");
    with_weechat(&weechat, |w| {
        w.wait_for("irc.chinwag.alice", "while you were away", 1);
        // With extended-join weechat shows the account and real name
        // between the nick and the mask.
        w.wait_for(ROOM, "(dave@chinwag) has joined #mixed", 2);
        w.input(SERVER, "/quote CHATHISTORY LATEST #mixed * 10");
        w.wait_for(ROOM, "missed in the room", 1);
        let log = w.log(ROOM);
        assert_eq!(
            log.matches("has joined #mixed").count(),
            // dave twice (first join, reconnect), nobody else.
            2,
            "one JOIN per connection:\n{log}"
        );
    })
    .await;

    with_weechat(&weechat, |w| w.input(SERVER, "/quit")).await;
    let left = notice(&mut alice_events, NoticeKind::Left).await;
    assert_eq!(&*left.subject, "dave");
    server.stop().await;
}
