//! IGNORE through real sockets: an ignored user's direct messages,
//! broadcasts and room messages reach none of the ignoring account's
//! sessions (live or queued while it was away), the others get them, the
//! ignored user is not told, and the list outlives a restart.

mod common;

use chinwag_client::{ClientError, Event, Events};
use chinwag_proto::ErrorCode;
use chinwag_proto::server::DeliveryStatus;
use common::*;

/// The texts of the messages that arrive within a short while (for what
/// must not arrive, a marker message sent afterwards ends the wait).
async fn texts_until(events: &mut Events, last: &str) -> Vec<String> {
    let mut texts = Vec::new();
    loop {
        match tokio::time::timeout(PATIENCE, events.recv()).await {
            Ok(Some(Event::Message(m))) => {
                texts.push(m.text.to_string());
                if &*m.text == last {
                    return texts;
                }
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => panic!("no {last:?}; got {texts:?}"),
        }
    }
}

fn code(result: Result<impl std::fmt::Debug, ClientError>) -> ErrorCode {
    result.unwrap_err().code().expect("a server error")
}

#[tokio::test]
async fn an_ignored_users_messages_reach_none_of_the_accounts_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path()).await;
    let (alice, mut alice_events) = account(&server, "alice", "alice-secret").await;
    let (carol, mut carol_events) = user(&server, "carol").await;
    let (bob, _bob_events) = user(&server, "bob").await;
    for client in [&alice, &carol, &bob] {
        client.join("#tea", None).await.unwrap();
    }

    assert_eq!(alice.ignore("BOB", true).await.unwrap(), "ignoring bob");
    assert_eq!(
        alice.ignore("bob", true).await.unwrap(),
        "already ignoring bob"
    );
    assert_eq!(alice.ignores().await.unwrap(), ["bob"]);
    assert_eq!(
        code(alice.ignore("alice", true).await),
        ErrorCode::InvalidArgument
    );

    // bob is told nothing: his direct message is "delivered".
    let sent = bob.send("alice", "psst").await.unwrap();
    assert_eq!(sent.status, DeliveryStatus::Delivered);
    bob.broadcast("hello all").await.unwrap();
    bob.say("#tea", "in the room").await.unwrap();
    carol.send("alice", "carol here").await.unwrap();
    // carol hears bob; alice hears only carol.
    assert_eq!(
        texts_until(&mut carol_events, "in the room").await,
        ["hello all", "in the room"]
    );
    assert_eq!(
        texts_until(&mut alice_events, "carol here").await,
        ["carol here"]
    );

    // Queued while alice is away: bob's leave the queue unseen.
    alice.logout().await.unwrap();
    bob.send("alice", "while you were away").await.unwrap();
    carol.send("alice", "me too").await.unwrap();
    server.stop().await;

    // After a restart, a new session of the account still ignores bob.
    let server = start_in(dir.path()).await;
    let (alice, mut alice_events) = account(&server, "alice", "alice-secret").await;
    assert_eq!(texts_until(&mut alice_events, "me too").await, ["me too"]);
    assert_eq!(alice.ignores().await.unwrap(), ["bob"]);
    let (bob, _e) = user(&server, "bob").await;
    bob.send("alice", "still ignored").await.unwrap();
    // Ignoring no more: his messages come again.
    assert_eq!(
        alice.ignore("bob", false).await.unwrap(),
        "no longer ignoring bob"
    );
    bob.send("alice", "now you hear me").await.unwrap();
    assert_eq!(
        texts_until(&mut alice_events, "now you hear me").await,
        ["now you hear me"]
    );
    assert!(alice.ignores().await.unwrap().is_empty());
}
