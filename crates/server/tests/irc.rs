//! The IRC front end through real sockets, beside the native protocol on
//! the same server: IRC and native users talk in direct messages and
//! rooms both ways, one account is online from both at once, and bad input
//! gets clear numerics without hurting anyone else.

mod common;

use std::net::SocketAddr;

use chinwag_client::Event;
use chinwag_proto::Request;
use chinwag_proto::request::Profile;
use chinwag_proto::server::NoticeKind;
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
    async fn connect(addr: SocketAddr) -> Irc {
        let (rd, wr) = TcpStream::connect(addr).await.unwrap().into_split();
        Irc {
            lines: BufReader::new(rd).lines(),
            wr,
        }
    }

    /// Connects and registers as `nick` (with `PASS password` if given).
    async fn register(addr: SocketAddr, nick: &str, password: Option<&str>) -> Irc {
        let mut irc = Irc::connect(addr).await;
        if let Some(password) = password {
            irc.send(&format!("PASS {password}")).await;
        }
        irc.send(&format!("NICK {nick}")).await;
        irc.send(&format!("USER {nick} 0 * :{nick} on IRC")).await;
        irc.expect(" 001 ").await;
        irc.expect(" 376 ").await;
        irc
    }

    async fn send(&mut self, line: &str) {
        self.send_bytes(format!("{line}\r\n").as_bytes()).await;
    }

    async fn send_bytes(&mut self, bytes: &[u8]) {
        self.wr.write_all(bytes).await.unwrap();
    }

    /// The next line containing `what` (lines before it are skipped).
    async fn expect(&mut self, what: &str) -> String {
        loop {
            let line = tokio::time::timeout(PATIENCE, self.lines.next_line())
                .await
                .unwrap_or_else(|_| panic!("no line containing {what:?}"))
                .unwrap()
                .unwrap_or_else(|| panic!("closed before a line containing {what:?}"));
            if line.contains(what) {
                return line;
            }
        }
    }

    /// Whether the server closes the connection (after any lines).
    async fn closes(&mut self) -> bool {
        loop {
            match tokio::time::timeout(PATIENCE, self.lines.next_line()).await {
                Ok(Ok(Some(_))) => continue,
                Ok(_) => return true,
                Err(_) => return false,
            }
        }
    }
}

/// The next message a native client receives.
async fn message(events: &mut chinwag_client::Events) -> chinwag_proto::server::Message {
    wait_for(events, |e| match e {
        Event::Message(m) => Some(m),
        _ => None,
    })
    .await
}

#[tokio::test]
async fn irc_and_native_users_talk_in_direct_messages_and_rooms() {
    let (server, irc_addr) = start_irc().await;
    let (alice, mut alice_events) = account(&server, "alice", "alice-secret").await;
    // PASS with a new name creates the account, as REGISTER does.
    let mut bob = Irc::register(irc_addr, "bob", Some("bob-secret")).await;
    let joined = notice(&mut alice_events, NoticeKind::Joined).await;
    assert_eq!(
        &*joined.subject, "bob",
        "IRC registration goes through the core"
    );

    // Direct messages both ways.
    alice.send("bob", "hello from native").await.unwrap();
    assert!(
        bob.expect("PRIVMSG")
            .await
            .ends_with(":alice!alice@chinwag PRIVMSG bob :hello from native")
    );
    bob.send("PRIVMSG alice :hello from IRC").await;
    let got = message(&mut alice_events).await;
    assert_eq!(
        (&*got.from, &*got.to, &*got.text),
        ("bob", "alice", "hello from IRC")
    );

    // A room is a channel, both ways.
    alice.join("#mixed", None).await.unwrap();
    bob.send("JOIN #mixed").await;
    assert_eq!(bob.expect("JOIN").await, ":bob!bob@chinwag JOIN #mixed");
    let names = bob.expect(" 353 ").await;
    assert!(names.ends_with(":@alice bob"), "{names}");
    bob.expect(" 366 ").await;
    bob.send("PRIVMSG #mixed :hello, room").await;
    let got = message(&mut alice_events).await;
    assert_eq!(
        (&*got.from, &*got.to, &*got.text),
        ("bob", "#mixed", "hello, room")
    );
    alice.say("#mixed", "hello, channel").await.unwrap();
    assert!(
        bob.expect("PRIVMSG #mixed")
            .await
            .ends_with(":alice!alice@chinwag PRIVMSG #mixed :hello, channel")
    );

    // A /me is the same action on both sides (protocol.md 2.4); a native
    // "/me" typed as text stays text.
    bob.send("PRIVMSG #mixed :\u{1}ACTION waves\u{1}").await;
    let got = message(&mut alice_events).await;
    assert_eq!(chinwag_proto::text::as_action(&got.text), Some("waves"));
    alice.say("#mixed", "/me is text").await.unwrap();
    assert!(
        bob.expect("PRIVMSG #mixed")
            .await
            .ends_with(":alice!alice@chinwag PRIVMSG #mixed :/me is text")
    );
    alice
        .say("#mixed", &chinwag_proto::text::action("bows"))
        .await
        .unwrap();
    assert!(
        bob.expect("PRIVMSG #mixed")
            .await
            .ends_with(":\u{1}ACTION bows\u{1}")
    );

    // The topic and a kick: the core decides, IRC shows it.
    alice.set_topic("#mixed", "chat here").await.unwrap();
    assert!(
        bob.expect("TOPIC")
            .await
            .ends_with(" TOPIC #mixed :chat here")
    );
    bob.send("TOPIC #mixed :mine now").await;
    assert!(
        bob.expect(" 482 ").await.contains("#mixed"),
        "bob is no operator"
    );
    alice.room_kick("#mixed", "bob", "enough").await.unwrap();
    assert_eq!(
        bob.expect("KICK").await,
        ":alice!alice@chinwag KICK #mixed bob :enough"
    );

    // The history of the conversation, read back from IRC.
    bob.send("CAP REQ :batch server-time message-tags").await;
    bob.expect("ACK").await;
    bob.send("CHATHISTORY LATEST alice * 10").await;
    bob.expect("BATCH +").await;
    assert!(
        bob.expect("PRIVMSG")
            .await
            .contains(":alice!alice@chinwag PRIVMSG bob :hello from native")
    );
    assert!(
        bob.expect("PRIVMSG")
            .await
            .contains(":bob!bob@chinwag PRIVMSG alice :hello from IRC")
    );
    bob.expect("BATCH -").await;

    // QUIT is LOGOUT: the native side sees bob leave.
    bob.send("QUIT :bye").await;
    assert_eq!(bob.expect("ERROR").await, "ERROR :Closing link (quit: bye)");
    let left = notice(&mut alice_events, NoticeKind::Left).await;
    assert_eq!(&*left.subject, "bob");
    server.stop().await;
}

#[tokio::test]
async fn one_account_is_online_from_irc_and_native_at_once() {
    let (server, irc_addr) = start_irc().await;
    let (_carol, mut carol_events) = account(&server, "carol", "carol-secret").await;
    let (dave, mut dave_events) = user(&server, "dave").await;

    // A wrong password is refused, and the client may try again.
    let mut irc = Irc::connect(irc_addr).await;
    irc.send("PASS wrong-password").await;
    irc.send("NICK carol").await;
    irc.send("USER carol 0 * :Carol").await;
    assert!(irc.expect(" 464 ").await.contains("password"));

    // Logged in with SASL PLAIN: the same account as the native session.
    let mut irc = Irc::connect(irc_addr).await;
    irc.send("CAP LS 302").await;
    irc.send("NICK carol").await;
    irc.send("USER carol 0 * :Carol").await;
    irc.send("CAP REQ :sasl").await;
    irc.expect("ACK").await;
    irc.send("AUTHENTICATE PLAIN").await;
    irc.expect("AUTHENTICATE +").await;
    // base64("carol\0carol\0carol-secret")
    irc.send("AUTHENTICATE Y2Fyb2wAY2Fyb2wAY2Fyb2wtc2VjcmV0")
        .await;
    irc.expect(" 903 ").await;
    irc.send("CAP END").await;
    irc.expect(" 001 carol ").await;
    irc.expect(" 376 ").await;

    // A message to carol reaches both of her sessions.
    dave.send("carol", "to both").await.unwrap();
    assert!(
        irc.expect("PRIVMSG")
            .await
            .ends_with(":dave!dave@chinwag PRIVMSG carol :to both")
    );
    assert_eq!(&*message(&mut carol_events).await.text, "to both");

    // What carol says on IRC, her native session sees too.
    irc.send("PRIVMSG dave :from IRC").await;
    let got = message(&mut dave_events).await;
    assert_eq!((&*got.from, &*got.text), ("carol", "from IRC"));
    let echo = message(&mut carol_events).await;
    assert_eq!(
        (&*echo.from, &*echo.to, &*echo.text),
        ("carol", "dave", "from IRC")
    );
    server.stop().await;
}

#[tokio::test]
async fn bad_input_gets_clear_numerics_and_hurts_nobody_else() {
    let (server, irc_addr) = start_irc().await;
    let (alice, _alice_events) = user(&server, "alice").await;
    let (_zed, mut zed_events) = user(&server, "zed").await;

    // Before registration.
    let mut early = Irc::connect(irc_addr).await;
    early.send("PRIVMSG alice :hi").await;
    assert!(early.expect(" 451 ").await.contains("not registered"));
    early.send("NICK bad.nick").await;
    early.send("USER x 0 * :x").await;
    assert!(early.expect(" 432 ").await.contains("bad.nick"));
    early.send("NICK alice").await;
    assert!(early.expect(" 433 ").await.contains("alice"));

    let mut bob = Irc::register(irc_addr, "bob", None).await;
    // An over-long line, invalid UTF-8, an unknown command, a line with
    // no command, a message to nobody.
    bob.send(&format!("PRIVMSG alice :{}", "x".repeat(600)))
        .await;
    assert!(bob.expect(" 417 ").await.contains("too long"));
    bob.send_bytes(b"PRIVMSG alice :caf\xe9\r\n").await;
    assert!(bob.expect("FAIL").await.contains("INVALID_UTF8"));
    bob.send("FROBNICATE now").await;
    assert!(bob.expect(" 421 ").await.contains("FROBNICATE"));
    bob.send("PRIVMSG nobody-here :hello").await;
    assert!(bob.expect(" 401 ").await.contains("nobody-here"));
    bob.send("JOIN #not.a.room").await;
    assert!(bob.expect(" 479 ").await.contains("#not.a.room"));
    // A line far beyond any limit is dropped as it arrives.
    bob.send(&"y".repeat(20_000)).await;
    assert!(bob.expect(" 417 ").await.contains("too long"));

    // Still connected and served; the others too.
    bob.send("PING :still-here").await;
    assert!(bob.expect("PONG").await.ends_with(" still-here"));
    bob.send("PRIVMSG zed :fine").await;
    assert_eq!(&*message(&mut zed_events).await.text, "fine");
    alice.send("zed", "me too").await.unwrap();
    assert_eq!(&*message(&mut zed_events).await.text, "me too");

    // Too many bad lines: the core's limit closes the connection.
    for _ in 0..20 {
        bob.send_bytes(b"\xff\xfe\r\n").await;
    }
    assert!(bob.expect("ERROR").await.contains("too many"));
    assert!(bob.closes().await);
    alice.send("zed", "after it").await.unwrap();
    assert_eq!(&*message(&mut zed_events).await.text, "after it");
    server.stop().await;
}

#[tokio::test]
async fn operators_use_the_cores_administration() {
    let (server, irc_addr) = start_irc().await;
    let (_alice, mut alice_events) = user(&server, "alice").await;
    let mut root = Irc::register(irc_addr, "root", None).await;
    let mut bob = Irc::register(irc_addr, "bob", None).await;

    root.send("KILL bob :not yet").await;
    assert!(root.expect(" 481 ").await.contains("administrators"));
    root.send("OPER root wrong").await;
    root.expect(" 464 ").await;
    root.send(&format!("OPER root {ADMIN_PASSWORD}")).await;
    root.expect(" 381 ").await;

    // A broadcast is NOTICE $*.
    root.send("NOTICE $* :hello everyone").await;
    let got = message(&mut alice_events).await;
    assert_eq!((&*got.from, &*got.text), ("root", "hello everyone"));
    assert!(
        bob.expect("NOTICE $*")
            .await
            .ends_with(":root!root@chinwag NOTICE $* :hello everyone")
    );

    // MUTE is BANTALK: bob's messages are refused by the core.
    root.send("MUTE bob 60 :calm down").await;
    root.expect("NOTICE root").await;
    bob.expect("muted").await;
    bob.send("PRIVMSG alice :can I?").await;
    assert!(bob.expect(" 404 ").await.contains("muted"));

    // KILL is KICKOUT.
    root.send("KILL bob :goodbye").await;
    assert!(bob.expect("ERROR").await.contains("goodbye"));
    assert!(bob.closes().await);
    server.stop().await;
}

#[tokio::test]
async fn profiles_and_away_status_are_the_cores() {
    let (server, irc_addr) = start_irc().await;
    let (alice, _alice_events) = user(&server, "alice").await;
    let mut bob = Irc::connect(irc_addr).await;
    bob.send("NICK bob").await;
    bob.send("USER bobby 0 * :Bob Builder").await;
    bob.expect(" 376 ").await;

    // USER's names and AWAY reach native users through PROFILE.
    bob.send("AWAY :at lunch").await;
    bob.expect(" 306 ").await;
    let users = alice.users().await.unwrap();
    let entry = users.iter().find(|u| &*u.name == "bob").unwrap();
    assert_eq!(
        (&*entry.username, &*entry.realname, &*entry.away),
        ("bobby", "Bob Builder", "at lunch")
    );

    // A native user's PROFILE, seen from IRC.
    let profile = Request::Profile(Profile {
        src: "".into(),
        username: "al".into(),
        realname: "Alice Liddell".into(),
        away: "down the rabbit hole".into(),
    });
    alice.request(profile).await.unwrap();
    bob.send("WHOIS alice").await;
    assert!(
        bob.expect(" 311 ")
            .await
            .ends_with(" alice al chinwag * :Alice Liddell")
    );
    assert!(
        bob.expect(" 301 ")
            .await
            .ends_with(" alice :down the rabbit hole")
    );
    bob.send("WHO alice").await;
    assert!(bob.expect(" 352 ").await.contains(" al chinwag "));
    bob.send("AWAY").await;
    bob.expect(" 305 ").await;
    let users = alice.users().await.unwrap();
    assert_eq!(&*users.iter().find(|u| &*u.name == "bob").unwrap().away, "");

    // MONITOR follows the core's presence.
    bob.send("MONITOR + carol").await;
    assert!(bob.expect(" 731 ").await.ends_with(" carol"));
    let (_carol, _carol_events) = user(&server, "carol").await;
    assert!(bob.expect(" 730 ").await.ends_with(" carol!carol@chinwag"));
    server.stop().await;
}
