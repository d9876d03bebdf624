//! The room settings IRC expresses as channel modes, through real sockets:
//! set from IRC or from a native client, enforced by the core for both,
//! shown as numerics and modes on IRC, and kept across a restart.

mod common;

use std::net::SocketAddr;

use chinwag_client::{ClientError, Event, Events};
use chinwag_proto::room::{MaskList, RoomMode};
use chinwag_proto::server::{MessageKind, NoticeKind};
use chinwag_proto::{ErrorCode, RoomRole};
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
    async fn register(addr: SocketAddr, nick: &str) -> Irc {
        let (rd, wr) = TcpStream::connect(addr).await.unwrap().into_split();
        let mut irc = Irc {
            lines: BufReader::new(rd).lines(),
            wr,
        };
        irc.send(&format!("NICK {nick}")).await;
        irc.send(&format!("USER {nick}-user 0 * :{nick} on IRC"))
            .await;
        irc.expect(" 376 ").await;
        irc
    }

    async fn send(&mut self, line: &str) {
        self.wr
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .unwrap();
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

    /// Sends `line`, then a PING: the lines answering `line`, up to the
    /// PONG (the server answers in order).
    async fn ask(&mut self, line: &str) -> Vec<String> {
        self.send(line).await;
        self.send("PING :sync").await;
        let mut got = Vec::new();
        loop {
            let line = tokio::time::timeout(PATIENCE, self.lines.next_line())
                .await
                .expect("no PONG")
                .unwrap()
                .expect("closed");
            if line.contains("PONG") && line.ends_with("sync") {
                return got;
            }
            got.push(line);
        }
    }
}

fn code(result: Result<impl std::fmt::Debug, ClientError>) -> ErrorCode {
    result.unwrap_err().code().expect("a server error")
}

/// The next message whose text is `text` (others are skipped).
async fn message(events: &mut Events, text: &str) -> chinwag_proto::server::Message {
    wait_for(events, |e| match e {
        Event::Message(m) if &*m.text == text => Some(m),
        _ => None,
    })
    .await
}

/// Whether one of `lines` contains `what`.
fn has(lines: &[String], what: &str) -> bool {
    lines.iter().any(|l| l.contains(what))
}

#[tokio::test]
async fn limits_moderation_voice_and_members_only_sending() {
    let (server, irc_addr) = start_irc().await;
    let mut op = Irc::register(irc_addr, "chanop").await;
    op.ask("JOIN #c").await;

    // +l: the echo, the join it refuses with the core's RoomFull (471 on
    // IRC), and what MODE shows.
    assert!(has(&op.ask("MODE #c +l 2").await, "MODE #c +l 2"));
    let (alice, mut alice_events) = user(&server, "alice").await;
    let info = alice.join("#c", None).await.unwrap();
    assert_eq!((info.limit, info.mode), (2, RoomMode::NEW));
    assert!(info.created.0 > 0, "the creation time is kept");
    let (bob, mut bob_events) = user(&server, "bob").await;
    assert_eq!(code(bob.join("#c", None).await), ErrorCode::RoomFull);
    let mut carol = Irc::register(irc_addr, "carol").await;
    let refused = carol.ask("JOIN #c").await;
    assert!(has(&refused, " 471 carol #c "), "{refused:?}");
    let modes = op.ask("MODE #c").await;
    assert!(has(&modes, " 324 chanop #c +ntl 2"), "{modes:?}");
    assert!(has(&modes, " 329 chanop #c "), "{modes:?}");
    // Invalid limits are IRC syntax errors; the limit stays.
    assert!(has(&op.ask("MODE #c +l 0").await, " 696 chanop #c l 0 "));
    assert!(has(&op.ask("MODE #c +l x").await, " 696 chanop #c l x "));
    // An invitation gets past the limit.
    op.ask("INVITE bob #c").await;
    bob.join("#c", None).await.unwrap();
    assert!(has(&op.ask("MODE #c -l").await, "MODE #c -l"));

    // +m: only the operator and the voiced talk, native or IRC.
    assert!(has(&op.ask("MODE #c +m").await, "MODE #c +m"));
    assert_eq!(code(alice.say("#c", "hi").await), ErrorCode::Muted);
    let voice = op.ask("MODE #c +v alice").await;
    assert!(has(&voice, "MODE #c +v alice"), "{voice:?}");
    let members = bob.members("#c").await.unwrap();
    let entry = members.iter().find(|m| &*m.name == "alice").unwrap();
    assert!(entry.voiced);
    alice.say("#c", "voiced now").await.unwrap();
    assert!(op.expect("PRIVMSG #c").await.ends_with(":voiced now"));
    // NAMES: op first, then voiced; multi-prefix shows both.
    op.ask("MODE #c +v chanop").await;
    let names = op.ask("NAMES #c").await;
    assert!(
        has(&names, " 353 chanop = #c :@chanop +alice bob"),
        "{names:?}"
    );
    op.ask("CAP REQ multi-prefix").await;
    let names = op.ask("NAMES #c").await;
    assert!(has(&names, ":@+chanop +alice bob"), "{names:?}");

    // Members only sending, until -n; the default is +n.
    assert!(has(&carol.ask("PRIVMSG #c :from outside").await, " 404 "));
    op.ask("MODE #c -mn").await;
    carol.send("PRIVMSG #c :from outside").await;
    let got = message(&mut bob_events, "from outside").await;
    assert_eq!(&*got.from, "carol");

    // Topic lock: without +t any member sets the topic.
    bob.set_topic("#c", "bob's topic")
        .await
        .expect_err("+t by default");
    op.ask("MODE #c -t").await;
    bob.set_topic("#c", "bob's topic").await.unwrap();
    let topic = op.ask("TOPIC #c").await;
    assert!(has(&topic, " 333 chanop #c bob "), "{topic:?}");

    // STATUSMSG: to the operators only, from anyone who may send.
    alice.say_to_operators("#c", "ops, help").await.unwrap();
    assert!(
        op.expect("PRIVMSG @#c")
            .await
            .ends_with("PRIVMSG @#c :ops, help")
    );
    op.send("PRIVMSG @#c :ops only").await;
    op.send("PRIVMSG #c :everyone here").await;
    // Neither bob nor alice (voiced, but no operator) is told: the next
    // message each gets is the one to everyone.
    for events in [&mut bob_events, &mut alice_events] {
        let got = wait_for(events, |e| match e {
            Event::Message(m) if &*m.from == "chanop" => Some(m),
            _ => None,
        })
        .await;
        assert_eq!((&*got.text, got.kind), ("everyone here", MessageKind::Room));
    }
    server.stop().await;
}

#[tokio::test]
async fn bans_exceptions_mute_masks_and_secret_rooms() {
    let (server, irc_addr) = start_irc().await;
    let mut op = Irc::register(irc_addr, "chanop").await;
    op.ask("JOIN #b").await;

    // +b keeps a nick out; +e lets it in again.
    assert!(has(&op.ask("MODE #b +b Dave").await, "MODE #b +b dave!*@*"));
    let (dave, _) = user(&server, "dave").await;
    assert_eq!(code(dave.join("#b", None).await), ErrorCode::Banned);
    let mut davey = Irc::register(irc_addr, "davey").await;
    op.ask("MODE #b +b davey!*@*").await;
    assert!(has(&davey.ask("JOIN #b").await, " 474 davey #b "));
    let list = op.ask("MODE #b +b").await;
    assert!(has(&list, " 367 chanop #b dave!*@* chanop "), "{list:?}");
    assert!(has(&list, " 368 chanop #b "), "{list:?}");
    op.ask("MODE #b +e dave").await;
    dave.join("#b", None).await.unwrap();
    let masks = dave.room_masks("#b", MaskList::BanException).await.unwrap();
    assert_eq!(masks.len(), 1);
    assert_eq!((&*masks[0].mask, &*masks[0].set_by), ("dave!*@*", "chanop"));

    // The mute extban m: (mute masks), matched on the USER name too; +v
    // and a mute exception spare.
    let mut qux = Irc::register(irc_addr, "qux").await;
    qux.ask("JOIN #b").await;
    assert!(has(
        &op.ask("MODE #b +b m:*!qux-user@*").await,
        "+b m:*!qux-user@*"
    ));
    assert!(has(&qux.ask("PRIVMSG #b :hi").await, " 404 qux #b "));
    op.ask("MODE #b +v qux").await;
    qux.send("PRIVMSG #b :voiced now").await;
    assert!(op.expect("PRIVMSG #b").await.ends_with(":voiced now"));
    op.ask("MODE #b -v qux").await;
    op.ask("MODE #b +e m:qux").await;
    qux.send("PRIVMSG #b :excepted now").await;
    assert!(op.expect("PRIVMSG #b").await.ends_with(":excepted now"));
    let list = op.ask("MODE #b +e").await;
    assert!(has(&list, " 348 chanop #b dave!*@* "), "{list:?}");
    assert!(has(&list, " 348 chanop #b m:qux!*@* "), "{list:?}");

    // +I: an invite-only room lets the matching in.
    op.ask("MODE #b +i").await;
    let (erin, _) = user(&server, "erin").await;
    assert_eq!(code(erin.join("#b", None).await), ErrorCode::InviteOnly);
    op.ask("MODE #b +I erin").await;
    erin.join("#b", None).await.unwrap();
    erin.leave("#b", "").await.unwrap();

    // +s: hidden from LIST and NAMES of non-members, `@` in NAMES.
    op.ask("MODE #b +s").await;
    let names = op.ask("NAMES #b").await;
    assert!(has(&names, " 353 chanop @ #b :"), "{names:?}");
    assert!(erin.rooms().await.unwrap().is_empty());
    assert_eq!(code(erin.members("#b").await), ErrorCode::NotAMember);
    let mut frank = Irc::register(irc_addr, "frank").await;
    assert!(!has(&frank.ask("LIST").await, " 322 "));

    // 401 for names that do not exist; 441 for those not in the room.
    assert!(has(
        &op.ask("MODE #b +o nobody").await,
        " 401 chanop nobody "
    ));
    assert!(has(
        &op.ask("INVITE nobody #b").await,
        " 401 chanop nobody "
    ));
    assert!(has(&op.ask("MODE #b +o frank").await, " 441 "));
    server.stop().await;
}

#[tokio::test]
async fn the_owner_steps_down_and_multi_kick() {
    let (server, irc_addr) = start_irc().await;
    let mut foo = Irc::register(irc_addr, "foo").await;
    foo.ask("JOIN #k").await;
    let (bar, mut bar_events) = user(&server, "bar").await;
    let (baz, _) = user(&server, "baz").await;
    bar.join("#k", None).await.unwrap();
    baz.join("#k", None).await.unwrap();

    // KICK #k a,b: one KICK each.
    foo.send("KICK #k bar,baz :out").await;
    foo.expect("KICK #k bar :out").await;
    foo.expect("KICK #k baz :out").await;
    bar.join("#k", None).await.unwrap();
    foo.ask("MODE #k +o bar").await;
    wait_for(&mut bar_events, |e| match e {
        Event::RoomNotice(n) if n.kind == NoticeKind::RoomRole => Some(()),
        _ => None,
    })
    .await;

    // -o on itself: the owner steps down, the operator owns the room.
    let down = foo.ask("MODE #k -o foo").await;
    assert!(has(&down, "MODE #k -o foo"), "{down:?}");
    let members = bar.members("#k").await.unwrap();
    let role = |name: &str| members.iter().find(|m| &*m.name == name).unwrap().role;
    assert_eq!(
        (role("foo"), role("bar")),
        (RoomRole::Member, RoomRole::Owner)
    );
    foo.ask("MODE #k +i").await;
    assert!(has(&foo.ask("INVITE baz #k").await, " 482 foo #k "));
    server.stop().await;
}

#[tokio::test]
async fn room_settings_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path()).await;
    let (alice, _) = account(&server, "alice", "alice-secret").await;
    let (bob, _) = account(&server, "bob", "bob-secret").await;
    alice.join("#kept", None).await.unwrap();
    bob.join("#kept", None).await.unwrap();
    alice.room_limit("#kept", 7).await.unwrap();
    alice.room_voice("#kept", "bob", true).await.unwrap();
    alice
        .room_mask("#kept", MaskList::Ban, "mallory", true)
        .await
        .unwrap();
    alice
        .room_mode("#kept", RoomMode::NEW.with(RoomMode::SECRET, true), None)
        .await
        .unwrap();
    alice.set_topic("#kept", "kept").await.unwrap();
    let before = alice.room("#kept").await.unwrap().unwrap();
    alice.logout().await.unwrap();
    bob.logout().await.unwrap();
    server.stop().await;

    let server = start_in(dir.path()).await;
    let (alice, _) = account(&server, "alice", "alice-secret").await;
    let after = alice.room("#kept").await.unwrap().unwrap();
    assert_eq!(
        (after.limit, after.mode, after.created, &after.topic_by),
        (7, before.mode, before.created, &before.topic_by)
    );
    assert!(after.mode.secret());
    let members = alice.members("#kept").await.unwrap();
    assert!(members.iter().any(|m| &*m.name == "bob" && m.voiced));
    let bans = alice.room_masks("#kept", MaskList::Ban).await.unwrap();
    assert_eq!(&*bans[0].mask, "mallory!*@*");
    let (mallory, _) = user(&server, "mallory").await;
    assert_eq!(code(mallory.join("#kept", None).await), ErrorCode::Banned);
    server.stop().await;
}
