//! Accounts, passwords, throttling, roles, and moderation that sticks:
//! against a real server on loopback, restarted on the same data directory
//! where the point is surviving a restart.

mod common;

use std::time::Duration;

use chinwag_client::ClientError;
use chinwag_proto::ErrorCode;
use chinwag_proto::server::{MuteState, NoticeKind, Role};
use chinwag_server::Config;
use chinwag_server::config::{Guests, Signup};
use chinwag_server::store::{AuditAction, Durability, SqliteStore, Store};
use common::*;

fn code(result: Result<impl std::fmt::Debug, ClientError>) -> ErrorCode {
    result.unwrap_err().code().expect("a server error")
}

const ALICE_PW: &str = "alice-secret";

#[tokio::test]
async fn an_account_protects_its_name() {
    let server = start().await;
    let (alice, _) = account(&server, "Alice", ALICE_PW).await;
    alice.logout().await.unwrap();

    // Nobody gets the name without the password, in any spelling.
    let (guest, _) = connect(&server).await;
    assert_eq!(
        code(guest.register("alice", None).await),
        ErrorCode::AccountRequired
    );
    assert_eq!(
        code(guest.register("ALICE", Some("wrong-password")).await),
        ErrorCode::BadPassword
    );
    // The right password logs in; the account's spelling is kept.
    let registered = guest.register("alice", Some(ALICE_PW)).await.unwrap();
    assert_eq!(&*registered.name, "alice", "the spelling given at login");
    assert_eq!(registered.role, Role::User);

    // Guests still use any other name; a new account needs a good password.
    let (bob, _) = connect(&server).await;
    bob.register("bob", None).await.unwrap();
    let (carol, _) = connect(&server).await;
    assert_eq!(
        code(carol.register("carol", Some("short")).await),
        ErrorCode::InvalidArgument
    );
    // A client that asks for the account alone (as clients did before
    // sessions) is refused while it is online; one that shares it joins
    // (see sessions.rs).
    let (again, _) = connect(&server).await;
    let alone = chinwag_client::RegisterOptions {
        multi_session: false,
        ..Default::default()
    };
    assert_eq!(
        code(again.register_with("alice", Some(ALICE_PW), &alone).await),
        ErrorCode::NameTaken
    );
    again.register("alice", Some(ALICE_PW)).await.unwrap();
}

#[tokio::test]
async fn signup_and_guests_can_be_switched_off() {
    let server = start_with(Config {
        signup: Signup::Closed,
        guests: Guests::Deny,
        ..config()
    })
    .await;
    let (c, _) = connect(&server).await;
    assert_eq!(
        code(c.register("dave", Some("a-good-password")).await),
        ErrorCode::SignupClosed
    );
    assert_eq!(
        code(c.register("dave", None).await),
        ErrorCode::AccountRequired
    );
}

#[tokio::test]
async fn wrong_passwords_are_throttled_per_connection_and_per_address() {
    let server = start().await;
    account(&server, "alice", ALICE_PW)
        .await
        .0
        .logout()
        .await
        .unwrap();
    let (c, _) = connect(&server).await;
    for _ in 0..3 {
        assert_eq!(
            code(c.register("alice", Some("guess-guess")).await),
            ErrorCode::BadPassword
        );
    }
    // Locked: even the right password is not looked at.
    assert_eq!(
        code(c.register("alice", Some(ALICE_PW)).await),
        ErrorCode::TooManyAttempts
    );
    // New connections from the same address share a count: after ten
    // failures in all, the address is locked too.
    for _ in 0..7 {
        let (fresh, _) = connect(&server).await;
        assert_eq!(
            code(fresh.register("alice", Some("guess-guess")).await),
            ErrorCode::BadPassword
        );
    }
    let (fresh, _) = connect(&server).await;
    assert_eq!(
        code(fresh.register("alice", Some(ALICE_PW)).await),
        ErrorCode::TooManyAttempts
    );
    // Guests are not affected.
    fresh.register("mallory", None).await.unwrap();
}

#[tokio::test]
async fn passwd_changes_the_password() {
    let server = start().await;
    let (alice, _) = account(&server, "alice", ALICE_PW).await;
    assert_eq!(
        code(alice.passwd("not-the-password", "next-secret").await),
        ErrorCode::BadPassword
    );
    assert_eq!(
        code(alice.passwd(ALICE_PW, "short").await),
        ErrorCode::InvalidArgument
    );
    alice.passwd(ALICE_PW, "next-secret").await.unwrap();
    alice.logout().await.unwrap();
    let (c, _) = connect(&server).await;
    assert_eq!(
        code(c.register("alice", Some(ALICE_PW)).await),
        ErrorCode::BadPassword
    );
    c.register("alice", Some("next-secret")).await.unwrap();

    let (guest, _) = user(&server, "guest").await;
    assert_eq!(
        code(guest.passwd("x-x-x-x-x", "y-y-y-y-y").await),
        ErrorCode::AccountRequired
    );
}

#[tokio::test]
async fn roles_are_granted_revoked_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path()).await;
    let (root, _) = admin(&server, "root").await;
    assert_eq!(code(root.grant("nobody").await), ErrorCode::NoSuchUser);
    let (carol, _) = account(&server, "carol", "carol-secret").await;
    root.grant("carol").await.unwrap();
    // Online: an administrator at once.
    let (bob, _) = user(&server, "bob").await;
    carol.kick("bob", "testing my new role").await.unwrap();
    drop(bob);
    carol.logout().await.unwrap();
    server.stop().await;

    let server = start_in(dir.path()).await;
    let (carol, _) = account(&server, "carol", "carol-secret").await;
    let registered_role = carol
        .users()
        .await
        .unwrap()
        .into_iter()
        .find(|u| &*u.name == "carol")
        .unwrap()
        .role;
    assert_eq!(registered_role, Role::Admin, "admin from login on");
    carol.revoke("carol").await.unwrap();
    assert_eq!(code(carol.audit(None, 10).await), ErrorCode::Forbidden);
}

#[tokio::test]
async fn a_mute_survives_reconnecting_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path()).await;
    let (root, _) = admin(&server, "root").await;
    let (bob, mut bob_events) = account(&server, "bob", "bob-secret").await;
    root.mute("bob", None, "calm down").await.unwrap();
    notice(&mut bob_events, NoticeKind::Muted).await;
    bob.logout().await.unwrap();
    let (bob, _) = account(&server, "bob", "bob-secret").await;
    assert_eq!(code(bob.broadcast("hi").await), ErrorCode::Muted);
    bob.logout().await.unwrap();
    server.stop().await;

    let server = start_in(dir.path()).await;
    let (bob_conn, _) = connect(&server).await;
    let registered = bob_conn.register("bob", Some("bob-secret")).await.unwrap();
    assert_eq!(registered.muted, MuteState::UntilLifted);
    assert_eq!(code(bob_conn.send("bob", "hi").await), ErrorCode::Muted);
    let (root, _) = admin(&server, "root").await;
    root.unmute("bob").await.unwrap();
    bob_conn.broadcast("free again").await.unwrap();
    bob_conn.logout().await.unwrap();
    server.stop().await;

    let server = start_in(dir.path()).await;
    let (bob, _) = account(&server, "bob", "bob-secret").await;
    bob.broadcast("still free after a restart").await.unwrap();
}

#[tokio::test]
async fn an_offline_account_can_be_muted_before_it_logs_in() {
    let server = start().await;
    account(&server, "Bob", "bob-secret")
        .await
        .0
        .logout()
        .await
        .unwrap();
    let (root, _) = admin(&server, "root").await;
    root.mute("bob", Some(Duration::from_secs(600)), "cool off")
        .await
        .unwrap();
    // Neither online nor an account: nobody to mute.
    assert_eq!(
        code(root.mute("nobody", None, "").await),
        ErrorCode::NoSuchUser
    );
    let (bob_conn, _) = connect(&server).await;
    let registered = bob_conn.register("bob", Some("bob-secret")).await.unwrap();
    assert!(
        matches!(registered.muted, MuteState::Until(_)),
        "{:?}",
        registered.muted
    );
    assert_eq!(code(bob_conn.broadcast("hi").await), ErrorCode::Muted);
    let audit = root.audit(None, 10).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| &*e.action == "mute" && &*e.target == "Bob"),
        "{audit:?}"
    );
}

#[tokio::test]
async fn bans_disconnect_keep_out_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path()).await;
    let (root, _) = admin(&server, "root").await;
    let (_bob, mut bob_events) = user(&server, "bob").await;
    let (_carol, mut carol_events) = user(&server, "carol").await;

    root.ban("Bob", Some(Duration::from_secs(3600)), "spam")
        .await
        .unwrap();
    let banned = notice(&mut bob_events, NoticeKind::Banned).await;
    assert_eq!(&*banned.actor, "root");
    assert_eq!(&*banned.text, "spam");
    assert!(matches!(
        MuteState::from_wire(banned.until),
        MuteState::Until(_)
    ));
    closed(&mut bob_events).await;
    let left = notice(&mut carol_events, NoticeKind::Left).await;
    assert_eq!(&*left.text, "banned by root: spam");

    let (c, _) = connect(&server).await;
    let refused = c.register("bob", None).await.unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::Banned));
    assert!(
        refused.to_string().contains("spam") && refused.to_string().contains("for another"),
        "{refused}"
    );
    root.logout().await.unwrap();
    server.stop().await;

    // After a restart the ban still holds; an address ban keeps everyone
    // from that address out, except the administrator who placed it.
    let server = start_in(dir.path()).await;
    let (c, _) = connect(&server).await;
    assert_eq!(code(c.register("bob", None).await), ErrorCode::Banned);
    let (root, _) = admin(&server, "root").await;
    let (_dave, mut dave_events) = user(&server, "dave").await;
    root.ban("127.0.0.1", None, "").await.unwrap();
    notice(&mut dave_events, NoticeKind::Banned).await;
    let (e, _) = connect(&server).await;
    assert_eq!(code(e.register("erin", None).await), ErrorCode::Banned);
    root.unban("127.0.0.1").await.unwrap();
    assert_eq!(
        code(root.unban("127.0.0.1").await),
        ErrorCode::InvalidArgument
    );
    e.register("erin", None).await.unwrap();
    root.unban("bob").await.unwrap();
    c.register("bob", None).await.unwrap();
}

#[tokio::test]
async fn the_audit_log_shows_who_did_what() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path()).await;
    let (root, _) = admin(&server, "root").await;
    let (_bob, _) = user(&server, "bob").await;
    account(&server, "carol", "carol-secret")
        .await
        .0
        .logout()
        .await
        .unwrap();
    root.mute("bob", Some(Duration::from_secs(60)), "flood")
        .await
        .unwrap();
    root.unmute("bob").await.unwrap();
    root.grant("carol").await.unwrap();
    root.revoke("carol").await.unwrap();
    root.ban("10.1.2.3", None, "botnet").await.unwrap();
    root.unban("10.1.2.3").await.unwrap();
    root.kick("bob", "bye").await.unwrap();

    let log = root.audit(None, 100).await.unwrap();
    let got: Vec<(&str, &str, &str, &str)> = log
        .iter()
        .map(|e| (&*e.actor, &*e.action, &*e.target, &*e.reason))
        .collect();
    assert_eq!(
        got,
        [
            ("root", "kick", "bob", "bye"),
            ("root", "unban", "10.1.2.3", ""),
            ("root", "ban", "10.1.2.3", "botnet"),
            ("root", "revoke", "carol", ""),
            ("root", "grant", "carol", ""),
            ("root", "unmute", "bob", ""),
            ("root", "mute", "bob", "flood"),
            ("root", "elevate", "root", ""),
        ]
    );
    assert_eq!(log[2].until, u64::MAX, "a ban for good");
    assert!(
        log.windows(2)
            .all(|w| w[0].id > w[1].id && w[0].ts >= w[1].ts)
    );
    // Paging: the two entries before the third newest.
    let page = root.audit(Some(log[2].id), 2).await.unwrap();
    assert_eq!(
        page.iter().map(|e| e.id).collect::<Vec<_>>(),
        [log[3].id, log[4].id]
    );

    root.shutdown("maintenance").await.unwrap();
    tokio::time::timeout(PATIENCE, server.task)
        .await
        .unwrap()
        .unwrap();
    // Read straight from the data directory: the shutdown is logged too.
    let store = SqliteStore::open(dir.path(), Durability::Full).unwrap();
    let newest = &store.audit_log(None, 1).await.unwrap()[0].record;
    assert_eq!(newest.action, AuditAction::Shutdown);
    assert_eq!(newest.actor, "root");
    assert_eq!(newest.reason, "maintenance");
    store.close().await.unwrap();
}

/// A connection from the loopback address `source` (127.0.0.0/8: each is
/// another address to the server).
async fn connect_from(
    server: &TestServer,
    source: &str,
) -> (chinwag_client::Client, chinwag_client::Events) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    let stream = socket.connect(server.addr).await.unwrap();
    chinwag_client::Client::connect_stream(stream, chinwag_client::ConnectOptions::default())
        .await
        .unwrap()
}

/// The brute force that used to work: a fresh connection per guess, spread
/// over 20 addresses, at one account. Its budget is the account's, whatever
/// the address: after its free failures every further guess waits
/// (TooManyAttempts, the password not even looked at), while the owner,
/// from the address it logged in from before, gets in at once.
#[tokio::test]
async fn guesses_from_many_addresses_share_the_accounts_budget() {
    let server = start().await;
    let (owner, _events) = account(&server, "alice", ALICE_PW).await;
    owner.logout().await.unwrap();
    let (mut checked, mut held_back) = (0, 0);
    for round in 0..3 {
        for n in 2..22 {
            let (client, _events) = connect_from(&server, &format!("127.0.0.{n}")).await;
            match code(
                client
                    .register("alice", Some(&format!("guess-{round}-{n}")))
                    .await,
            ) {
                ErrorCode::BadPassword => checked += 1,
                ErrorCode::TooManyAttempts => held_back += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert!(
        (10..=12).contains(&checked),
        "{checked} guesses checked, {held_back} held back"
    );
    // The owner, from 127.0.0.1 where it logged in before, is not held back.
    let (again, _events) = connect(&server).await;
    again.register("alice", Some(ALICE_PW)).await.unwrap();
}

/// The admin password is one budget too, however many connections ask.
#[tokio::test]
async fn admin_password_guesses_over_many_connections_are_held_back() {
    let server = start().await;
    let (mut checked, mut held_back) = (0, 0);
    for n in 0..40 {
        let (client, _events) = user(&server, &format!("guesser{n}")).await;
        match code(client.admin(&format!("guess-{n}")).await) {
            ErrorCode::BadPassword => checked += 1,
            ErrorCode::TooManyAttempts => held_back += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        (10..=12).contains(&checked),
        "{checked} checked, {held_back} held back"
    );
}
