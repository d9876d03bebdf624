//! Users and presence through the IRC front end and the native protocol
//! at once: profile changes (away-notify, setname, extended-monitor),
//! renames (NICK), user flags (bot, invisible), WHOIS and WHOWAS. Every
//! feature is the core's; the IRC lines are how one front end shows it.

mod common;

use std::net::SocketAddr;

use chinwag_client::Event;
use chinwag_proto::request::{Target, UserMode, Whowas};
use chinwag_proto::server::{UserUpdate, user_changed, user_flags};
use chinwag_proto::{ErrorCode, Request, ServerFrame};
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
    /// Connects, enables `caps` and registers as `nick` (with `PASS` if
    /// a password is given).
    async fn register(addr: SocketAddr, nick: &str, password: Option<&str>, caps: &str) -> Irc {
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
        if let Some(password) = password {
            irc.send(&format!("PASS {password}")).await;
        }
        irc.send(&format!("NICK {nick}")).await;
        irc.send(&format!("USER {nick}-user 0 * :The {nick}")).await;
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

    /// WHOWAS `nick count`: the 314 lines, having checked the 369 (and
    /// the 406 when there is none).
    async fn whowas(&mut self, nick: &str, count: i32) -> Vec<String> {
        self.send(&format!("WHOWAS {nick} {count}")).await;
        let lines = self.drain().await;
        assert!(
            lines.last().is_some_and(|l| l.contains(" 369 ")),
            "{lines:?}"
        );
        let found: Vec<String> = lines
            .iter()
            .filter(|l| l.contains(" 314 "))
            .cloned()
            .collect();
        if found.is_empty() {
            assert!(lines.iter().any(|l| l.contains(" 406 ")), "{lines:?}");
        }
        found
    }

    /// Every line up to the answer to a PING sent now: what arrived
    /// before it.
    async fn drain(&mut self) -> Vec<String> {
        self.send("PING drained").await;
        let mut lines = Vec::new();
        loop {
            let line = tokio::time::timeout(PATIENCE, self.lines.next_line())
                .await
                .expect("no PONG")
                .unwrap()
                .expect("closed");
            if line.contains("PONG") && line.ends_with("drained") {
                return lines;
            }
            lines.push(line);
        }
    }
}

/// The next USER_UPDATE a native client receives.
async fn user_update(events: &mut chinwag_client::Events) -> UserUpdate {
    wait_for(events, |e| match e {
        Event::User(u) => Some(u),
        _ => None,
    })
    .await
}

#[tokio::test]
async fn profile_changes_reach_channels_and_watchers_as_away_and_setname() {
    let (server, irc_addr) = start_irc().await;
    let (alice, mut alice_events) = user(&server, "alice").await;
    alice.join("#tea", None).await.unwrap();
    // bob shares #tea with alice; carol only watches her with MONITOR;
    // dave shares the channel but asked for nothing.
    let mut bob = Irc::register(irc_addr, "bob", None, "away-notify setname").await;
    bob.send("JOIN #tea").await;
    bob.expect(" 366 ").await;
    let mut carol = Irc::register(
        irc_addr,
        "carol",
        None,
        "extended-monitor away-notify setname",
    )
    .await;
    carol.send("MONITOR + alice").await;
    carol.expect(" 730 ").await;
    let mut dave = Irc::register(irc_addr, "dave", None, "").await;
    dave.send("JOIN #tea").await;
    dave.expect(" 366 ").await;
    bob.drain().await;

    alice.profile("alice", "Alice L.", "at tea").await.unwrap();
    assert_eq!(
        bob.expect("AWAY").await,
        ":alice!alice@chinwag AWAY :at tea"
    );
    assert_eq!(
        bob.expect("SETNAME").await,
        ":alice!alice@chinwag SETNAME :Alice L."
    );
    assert_eq!(
        carol.expect("AWAY").await,
        ":alice!alice@chinwag AWAY :at tea"
    );
    alice.profile("alice", "Alice L.", "").await.unwrap();
    assert_eq!(bob.expect("AWAY").await, ":alice!alice@chinwag AWAY");
    assert!(
        dave.drain().await.iter().all(|l| !l.contains("AWAY")),
        "no away-notify asked, none shown"
    );

    // The other way: SETNAME and AWAY from IRC reach native clients as
    // USER_UPDATE, the answer only the sender.
    bob.send("SETNAME :Robert the Builder").await;
    assert_eq!(
        bob.expect("SETNAME").await,
        ":bob!bob@chinwag SETNAME :Robert the Builder"
    );
    let update = user_update(&mut alice_events).await;
    assert_eq!(&*update.name, "bob");
    assert_eq!(update.changed, user_changed::REALNAME);
    assert_eq!(&*update.realname, "Robert the Builder");
    assert_eq!(
        &*update.username, "bob-user",
        "USER's name came with REGISTER"
    );
    bob.send("AWAY :fishing").await;
    bob.expect(" 306 ").await;
    let update = user_update(&mut alice_events).await;
    assert_eq!(
        (update.changed, &*update.away),
        (user_changed::AWAY, "fishing")
    );

    // Someone away who joins a channel is shown away to its members.
    bob.send("PART #tea").await;
    bob.expect("PART").await;
    let mut erin = Irc::register(irc_addr, "erin", None, "away-notify extended-join").await;
    erin.send("JOIN #tea").await;
    erin.expect(" 366 ").await;
    erin.drain().await;
    bob.send("JOIN #tea").await;
    assert_eq!(
        erin.expect("JOIN").await,
        ":bob!bob@chinwag JOIN #tea * :Robert the Builder",
        "extended-join: a guest, with its real name"
    );
    assert_eq!(erin.expect("AWAY").await, ":bob!bob@chinwag AWAY fishing");
    server.stop().await;
}

#[tokio::test]
async fn a_guest_renames_once_and_frees_its_old_name_and_an_account_does_not() {
    let (server, irc_addr) = start_irc().await;
    let (alice, mut alice_events) = user(&server, "alice").await;
    alice.join("#den", None).await.unwrap();
    let mut bob = Irc::register(irc_addr, "bob", None, "").await;
    bob.send("JOIN #den").await;
    bob.expect(" 366 ").await;
    let mut carol = Irc::register(irc_addr, "carol", None, "").await;
    carol.send("MONITOR + bob,robert").await;
    carol.expect(" 730 ").await;
    carol.expect(" 731 ").await;

    // A name in use is refused, and bob is still bob.
    bob.send("NICK alice").await;
    assert!(bob.expect(" 433 ").await.contains(" alice "));
    bob.send("NICK Robert").await;
    assert_eq!(bob.expect("NICK").await, ":bob!bob@chinwag NICK :Robert");
    let update = user_update(&mut alice_events).await;
    assert_eq!((&*update.old_name, &*update.name), ("bob", "Robert"));
    assert_eq!(update.changed, user_changed::NAME);
    // Watchers see the old name go and the new one come.
    assert!(carol.expect(" 731 ").await.ends_with(" bob"));
    assert!(
        carol
            .expect(" 730 ")
            .await
            .contains("Robert!Robert@chinwag")
    );
    // A case change is free; the same name again is nothing at all.
    bob.send("NICK robert").await;
    assert_eq!(
        bob.expect("NICK").await,
        ":Robert!Robert@chinwag NICK :robert"
    );
    bob.send("NICK robert").await;
    assert!(bob.drain().await.is_empty(), "no-op nick change");

    // The room follows the rename: messages reach robert there.
    alice.say("#den", "hi robert").await.unwrap();
    assert!(
        bob.expect("PRIVMSG #den")
            .await
            .ends_with(":alice!alice@chinwag PRIVMSG #den :hi robert")
    );
    let members = alice.members("#den").await.unwrap();
    assert!(members.iter().any(|m| &*m.name == "robert" && m.online));
    assert!(members.iter().all(|m| &*m.name != "bob"));

    // The old name is free for someone else, and remembered.
    let (_new_bob, _) = user(&server, "bob").await;
    match alice
        .request(Request::Whowas(Whowas {
            src: "".into(),
            dst: "BOB".into(),
            limit: 0,
        }))
        .await
        .unwrap()
    {
        ServerFrame::WhowasList(entries) => {
            assert_eq!(entries.len(), 1);
            assert_eq!(&*entries[0].name, "bob");
            assert_eq!(&*entries[0].realname, "The bob");
        }
        other => panic!("not a WHOWAS_LIST: {other:?}"),
    }

    // An account's name is the account: it does not change.
    let mut dana = Irc::register(irc_addr, "dana", Some("dana-secret"), "").await;
    dana.send("NICK dana2").await;
    assert!(dana.expect(" 447 ").await.contains("account"));
    // Nor does a guest take an account's name.
    bob.send("NICK dana").await;
    bob.expect(" 433 ").await;
    // Native: the same request, the same answers.
    let refused = alice
        .request(Request::Nick(Target {
            src: "".into(),
            dst: "dana".into(),
        }))
        .await;
    assert!(
        matches!(
            refused,
            Err(chinwag_client::ClientError::Server {
                code: ErrorCode::NameTaken,
                ..
            })
        ),
        "{refused:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn bots_are_flagged_and_the_invisible_are_found_only_by_name_or_by_company() {
    let (server, irc_addr) = start_irc().await;
    let (alice, _alice_events) = user(&server, "alice").await;
    let mut beep = Irc::register(irc_addr, "beep", None, "").await;
    let mut reader = Irc::register(irc_addr, "reader", None, "message-tags").await;
    let isupport = beep.drain().await;
    let _ = isupport;
    beep.send("MODE beep +B").await;
    assert_eq!(beep.expect("MODE").await, ":beep!beep@chinwag MODE beep +B");
    beep.send("PRIVMSG reader :beep boop").await;
    let got = reader.expect("PRIVMSG").await;
    assert!(got.starts_with("@bot;") || got.contains(";bot"), "{got}");
    reader.send("WHOIS beep").await;
    assert!(reader.expect(" 335 ").await.contains(" beep "));

    // Native clients see the flag in the user list.
    let users = alice.users().await.unwrap();
    let listed = users.iter().find(|u| &*u.name == "beep").unwrap();
    assert_eq!(listed.flags & user_flags::BOT, user_flags::BOT);

    // Invisible: gone from the list of those who share no room with it,
    // found by name.
    let set = alice
        .request(Request::UserMode(UserMode {
            src: "".into(),
            set: user_flags::INVISIBLE,
            clear: 0,
        }))
        .await
        .unwrap();
    let ServerFrame::UserList(me) = set else {
        panic!("not a USER_LIST: {set:?}")
    };
    assert_eq!(me[0].flags & user_flags::INVISIBLE, user_flags::INVISIBLE);
    reader.send("WHO ali*").await;
    let lines = reader.drain().await;
    assert!(lines.iter().all(|l| !l.contains(" 352 ")), "{lines:?}");
    reader.send("WHO alice").await;
    reader.expect(" 352 ").await;
    alice.join("#lounge", None).await.unwrap();
    reader.send("JOIN #lounge").await;
    reader.expect(" 366 ").await;
    reader.send("WHO ali*").await;
    reader.expect(" 352 ").await;
    server.stop().await;
}

#[tokio::test]
async fn whowas_answers_from_the_record_of_departures() {
    let (server, irc_addr) = start_irc().await;
    let mut asker = Irc::register(irc_addr, "asker", None, "").await;
    for (i, realname) in ["first", "second"].into_iter().enumerate() {
        let mut gone = Irc::register(irc_addr, "gone", None, "").await;
        gone.send(&format!("SETNAME :{realname}")).await;
        gone.drain().await;
        gone.send("QUIT :bye").await;
        // Recorded once the server let the name go.
        let recorded = async {
            while asker.whowas("gone", 0).await.len() != i + 1 {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        };
        tokio::time::timeout(PATIENCE, recorded)
            .await
            .expect("the departure is recorded");
    }
    let all = asker.whowas("gone", 0).await;
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(
        all[0].ends_with(" gone gone-user chinwag * second"),
        "newest first: {all:?}"
    );
    assert!(all[1].ends_with(" gone gone-user chinwag * first"));
    assert_eq!(asker.whowas("gone", 1).await.len(), 1);
    assert!(asker.whowas("nobody", 0).await.is_empty());
    server.stop().await;
}
