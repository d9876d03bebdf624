//! What a message is, through real sockets, from IRC and the native
//! protocol on the same server: a NOTICE is a kind of its own, client tags
//! (and TAGMSG, tags alone) reach whoever asked for them, SENT says that
//! the recipient is away (IRC's 301), QUIT's reason is LOGOUT's, and a
//! message deleted with REDACT leaves history and every screen.

mod common;

use std::net::SocketAddr;

use chinwag_client::Event;
use chinwag_client::HistoryQuery;
use chinwag_proto::request::{Profile, Redact, SendOptions, Transfer};
use chinwag_proto::room::RoomSend;
use chinwag_proto::server::{Message, NoticeKind};
use chinwag_proto::{ErrorCode, Request, RoomRequest, ServerFrame};
use common::*;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// An IRC connection, read line by line.
struct Irc {
    lines: Lines<BufReader<OwnedReadHalf>>,
    wr: OwnedWriteHalf,
}

impl Irc {
    /// Connects and registers as `nick`, with the capabilities `caps`.
    async fn register(addr: SocketAddr, nick: &str, caps: &str) -> Irc {
        let (rd, wr) = TcpStream::connect(addr).await.unwrap().into_split();
        let mut irc = Irc {
            lines: BufReader::new(rd).lines(),
            wr,
        };
        if !caps.is_empty() {
            irc.send("CAP LS 302").await;
            irc.send(&format!("CAP REQ :{caps}")).await;
            irc.expect(" ACK ").await;
        }
        irc.send(&format!("NICK {nick}")).await;
        irc.send(&format!("USER {nick} 0 * :{nick}")).await;
        if !caps.is_empty() {
            irc.send("CAP END").await;
        }
        irc.expect(" 001 ").await;
        irc.expect(" 376 ").await;
        irc
    }

    async fn send(&mut self, line: &str) {
        self.wr
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .unwrap();
    }

    async fn next(&mut self) -> String {
        tokio::time::timeout(PATIENCE, self.lines.next_line())
            .await
            .expect("no line came")
            .unwrap()
            .expect("the connection closed")
    }

    /// The next line containing `what` (lines before it are skipped).
    async fn expect(&mut self, what: &str) -> String {
        loop {
            let line = self.next().await;
            if line.contains(what) {
                return line;
            }
        }
    }

    /// The lines up to the answer to a PING sent now: what came before
    /// it, in order (so that "nothing came" is checked, not waited for).
    async fn until_pong(&mut self) -> Vec<String> {
        self.send("PING sync").await;
        let mut lines = Vec::new();
        loop {
            let line = self.next().await;
            if line.contains(" PONG ") && line.ends_with("sync") {
                return lines;
            }
            lines.push(line);
        }
    }

    /// Joins `channel` and waits for the end of its names.
    async fn join(&mut self, channel: &str) {
        self.send(&format!("JOIN {channel}")).await;
        self.expect(" 366 ").await;
    }
}

/// The next message a native client receives.
async fn message(events: &mut chinwag_client::Events) -> Message {
    wait_for(events, |e| match e {
        Event::Message(m) => Some(m),
        _ => None,
    })
    .await
}

/// The value of tag `key` on an IRC line.
fn tag<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let tags = line.strip_prefix('@')?.split(' ').next()?;
    tags.split(';').find_map(|t| match t.split_once('=') {
        Some((k, v)) if k == key => Some(v),
        None if t == key => Some(""),
        _ => None,
    })
}

#[tokio::test]
async fn a_notice_is_a_kind_of_message_on_every_front_end() {
    let (server, irc_addr) = start_irc().await;
    let (alice, mut alice_events) = user(&server, "alice").await;
    let mut bob = Irc::register(irc_addr, "bob", "").await;

    // IRC to native: stored and delivered as a NOTICE.
    bob.send("NOTICE alice :the build is green").await;
    let got = message(&mut alice_events).await;
    assert!(got.notice, "{got:?}");
    assert_eq!(&*got.text, "the build is green");

    // Native to IRC: a NOTICE line, in a room too.
    let notice = SendOptions {
        notice: true,
        ..SendOptions::default()
    };
    alice
        .request(Request::Transfer(Transfer {
            src: "".into(),
            dst: "bob".into(),
            content: "automatic reply".into(),
            options: notice.clone(),
        }))
        .await
        .unwrap();
    assert!(
        bob.expect("automatic reply")
            .await
            .ends_with(":alice!alice@chinwag NOTICE bob :automatic reply")
    );
    alice.join("#ops", None).await.unwrap();
    bob.join("#ops").await;
    alice
        .request(Request::Room(RoomRequest::Send(RoomSend {
            src: "".into(),
            room: "#ops".into(),
            content: "deploying".into(),
            options: notice,
        })))
        .await
        .unwrap();
    assert!(
        bob.expect("deploying")
            .await
            .ends_with(":alice!alice@chinwag NOTICE #ops :deploying")
    );

    // History keeps the kind.
    let page = alice
        .history(&HistoryQuery::newest(Some("#ops"), 5))
        .await
        .unwrap();
    assert!(page[0].notice && &*page[0].text == "deploying", "{page:?}");

    // No automatic reply to a NOTICE, not even an error.
    bob.send("NOTICE nobody-here :hello?").await;
    bob.send("NOTICE #nowhere :hello?").await;
    assert_eq!(bob.until_pong().await, Vec::<String>::new());
    server.stop().await;
}

#[tokio::test]
async fn client_tags_reach_those_who_asked_and_tags_alone_are_not_kept() {
    let (server, irc_addr) = start_irc().await;
    let (alice, mut alice_events) = user(&server, "alice").await;
    let mut bob = Irc::register(irc_addr, "bob", "message-tags echo-message").await;
    let mut carol = Irc::register(irc_addr, "carol", "message-tags").await;
    let mut dave = Irc::register(irc_addr, "dave", "server-time").await;
    alice.join("#t", None).await.unwrap();
    for irc in [&mut bob, &mut carol, &mut dave] {
        irc.join("#t").await;
    }
    // Whoever joined after them is shown to the earlier ones: skip it.
    for irc in [&mut bob, &mut carol, &mut dave] {
        irc.until_pong().await;
    }

    // Client-only tags travel with the message; other tags do not.
    bob.send(r"@+draft/reply=7;+example.com/x=a\sb;label=1;fizz=buzz PRIVMSG #t :hi")
        .await;
    let echo = bob.expect("PRIVMSG #t :hi").await;
    let relayed = carol.expect("PRIVMSG #t :hi").await;
    for line in [&echo, &relayed] {
        assert_eq!(tag(line, "+draft/reply"), Some("7"), "{line}");
        assert_eq!(tag(line, "+example.com/x"), Some(r"a\sb"), "{line}");
        assert_eq!(tag(line, "fizz"), None, "{line}");
    }
    assert_eq!(tag(&echo, "msgid"), tag(&relayed, "msgid"));
    let plain = dave.expect("PRIVMSG #t :hi").await;
    assert!(!plain.contains("+draft/reply"), "{plain}");
    let got = message(&mut alice_events).await;
    assert_eq!(&*got.tags, r"+draft/reply=7;+example.com/x=a\sb");

    // TAGMSG: tags alone, only to those with message-tags, never stored.
    bob.send("@+typing=active TAGMSG #t").await;
    let echo = bob.expect("TAGMSG").await;
    let relayed = carol.expect("TAGMSG").await;
    assert!(relayed.ends_with(":bob!bob@chinwag TAGMSG #t"), "{relayed}");
    assert_eq!(tag(&relayed, "+typing"), Some("active"));
    assert_eq!(tag(&echo, "msgid"), tag(&relayed, "msgid"));
    assert_eq!(dave.until_pong().await, Vec::<String>::new());
    let got = message(&mut alice_events).await;
    assert!(got.text.is_empty() && got.id.is_ephemeral(), "{got:?}");
    assert_eq!(&*got.tags, "+typing=active");
    let page = alice
        .history(&HistoryQuery::newest(Some("#t"), 5))
        .await
        .unwrap();
    assert_eq!(page.len(), 1, "only the PRIVMSG is kept: {page:?}");
    assert!(page[0].tags.is_empty(), "tags are not stored");

    // The core checks tags: a native client's bad ones are refused.
    let bad = alice
        .request(Request::Transfer(Transfer {
            src: "".into(),
            dst: "bob".into(),
            content: "".into(),
            options: SendOptions {
                notice: false,
                tags: "no-plus=1".into(),
            },
        }))
        .await;
    assert!(
        matches!(
            bad,
            Err(chinwag_client::ClientError::Server {
                code: ErrorCode::InvalidContent,
                ..
            })
        ),
        "{bad:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_sender_is_told_the_recipient_is_away() {
    let (server, irc_addr) = start_irc().await;
    let (alice, _alice_events) = user(&server, "alice").await;
    let mut bob = Irc::register(irc_addr, "bob", "").await;
    let mut carol = Irc::register(irc_addr, "carol", "").await;

    bob.send("PRIVMSG alice :there?").await;
    assert_eq!(bob.until_pong().await, Vec::<String>::new());
    let away = Request::Profile(Profile {
        src: "".into(),
        away: "at lunch".into(),
        ..Profile::default()
    });
    alice.request(away).await.unwrap();
    bob.send("PRIVMSG alice :there?").await;
    assert!(
        bob.expect(" 301 ")
            .await
            .ends_with(" 301 bob alice :at lunch")
    );
    // Never for a NOTICE.
    bob.send("NOTICE alice :fyi").await;
    assert_eq!(bob.until_pong().await, Vec::<String>::new());

    // An IRC user's AWAY, told to a native sender in SENT.
    carol.send("AWAY :gone fishing").await;
    carol.expect(" 306 ").await;
    let sent = alice.send("carol", "hi").await.unwrap();
    assert_eq!(&*sent.away, "gone fishing");
    server.stop().await;
}

#[tokio::test]
async fn quit_tells_the_others_why() {
    let (server, irc_addr) = start_irc().await;
    let (alice, mut alice_events) = user(&server, "alice").await;
    let mut bob = Irc::register(irc_addr, "bob", "").await;
    let mut carol = Irc::register(irc_addr, "carol", "").await;
    alice.join("#q", None).await.unwrap();
    bob.join("#q").await;
    carol.join("#q").await;
    bob.until_pong().await;

    carol.send("QUIT :see you tomorrow").await;
    assert_eq!(
        bob.expect(" QUIT ").await,
        ":carol!carol@chinwag QUIT :Quit: see you tomorrow"
    );
    let left = notice(&mut alice_events, NoticeKind::Left).await;
    assert_eq!(
        (&*left.subject, &*left.text),
        ("carol", "logout: see you tomorrow")
    );
    server.stop().await;
}

#[tokio::test]
async fn a_redacted_message_leaves_history_and_every_screen() {
    let (server, irc_addr) = start_irc().await;
    let caps = "message-tags echo-message draft/message-redaction";
    // bob creates #r and is its owner; carol is a member.
    let mut bob = Irc::register(irc_addr, "bob", caps).await;
    bob.join("#r").await;
    let (alice, mut alice_events) = user(&server, "alice").await;
    alice.join("#r", None).await.unwrap();
    let mut carol = Irc::register(irc_addr, "carol", caps).await;
    carol.join("#r").await;
    bob.until_pong().await;

    // carol deletes her own message; everyone is told.
    carol.send("PRIVMSG #r :oops, wrong room").await;
    let msgid = tag(&carol.expect("oops").await, "msgid")
        .unwrap()
        .to_owned();
    bob.expect("oops").await;
    message(&mut alice_events).await;
    carol.send(&format!("REDACT #r {msgid} :a typo")).await;
    assert_eq!(
        carol.expect("REDACT").await,
        format!(":carol!carol@chinwag REDACT #r {msgid} :a typo")
    );
    assert_eq!(
        bob.expect("REDACT").await,
        format!(":carol!carol@chinwag REDACT #r {msgid} :a typo")
    );
    let redacted = wait_for(&mut alice_events, |e| match e {
        Event::Redacted(r) => Some(r),
        _ => None,
    })
    .await;
    assert_eq!(
        (redacted.id.0.to_string(), &*redacted.actor, &*redacted.to),
        (msgid.clone(), "carol", "#r")
    );
    let page = alice
        .history(&HistoryQuery::newest(Some("#r"), 5))
        .await
        .unwrap();
    assert!(page.is_empty(), "deleted: {page:?}");

    // Someone else's message: only its room's operators (bob) may.
    alice.say("#r", "buy cheap watches").await.unwrap();
    let spam = tag(&carol.expect("cheap watches").await, "msgid")
        .unwrap()
        .to_owned();
    carol.send(&format!("REDACT #r {spam}")).await;
    assert!(
        carol
            .expect("FAIL")
            .await
            .contains(&format!("FAIL REDACT REDACT_FORBIDDEN #r {spam} :"))
    );
    bob.send(&format!("REDACT #r {spam} :spam")).await;
    bob.expect("REDACT").await;
    // Deleted once: the second time, there is no such message.
    bob.send(&format!("REDACT #r {spam}")).await;
    assert!(
        bob.expect("FAIL")
            .await
            .contains(&format!("FAIL REDACT UNKNOWN_MSGID #r {spam} :"))
    );
    bob.send("REDACT #nowhere 1").await;
    assert!(
        bob.expect("FAIL")
            .await
            .contains("FAIL REDACT INVALID_TARGET #nowhere :")
    );

    // The native request: a direct message, deleted by its sender.
    let sent = alice.send("carol", "secret").await.unwrap();
    carol.expect("secret").await;
    let deleted = alice
        .request(Request::Redact(Redact {
            src: "".into(),
            dst: "carol".into(),
            id: sent.id.0,
            reason: "".into(),
        }))
        .await
        .unwrap();
    assert!(matches!(deleted, ServerFrame::Ok { .. }));
    assert_eq!(
        carol.expect("REDACT").await,
        format!(":alice!alice@chinwag REDACT carol {}", sent.id.0)
    );
    server.stop().await;
}
