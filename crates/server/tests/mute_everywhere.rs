//! A muted user puts no text in front of others by any request, through
//! real sockets: not by a message, a topic, a reason for leaving or
//! kicking, or the name of a new room; and a user muted in a room not by
//! any of those in that room. What shows nothing stays allowed (reading,
//! joining an existing room, leaving without a reason). The rule itself,
//! over every request kind, is `cmd::speech` in chinwag-core.

mod common;

use chinwag_client::ClientError;
use chinwag_proto::ErrorCode;
use common::*;

fn muted(result: Result<impl std::fmt::Debug, ClientError>, what: &str) {
    match result {
        Err(error) => assert_eq!(error.code(), Some(ErrorCode::Muted), "{what}: {error}"),
        Ok(value) => panic!("{what}: went through while muted: {value:?}"),
    }
}

#[tokio::test]
async fn a_server_wide_mute_covers_every_text_field() {
    let server = start().await;
    let (root, _root_events) = admin(&server, "root").await;
    let (bob, _bob_events) = user(&server, "bob").await;
    let (alice, _alice_events) = user(&server, "alice").await;
    bob.join("#bobs", None).await.unwrap();
    alice.join("#bobs", None).await.unwrap();
    alice.join("#alices", None).await.unwrap();
    root.mute("bob", None, "flooding").await.unwrap();

    muted(bob.send("alice", "psst").await, "a direct message");
    muted(bob.broadcast("hello").await, "a broadcast");
    muted(bob.say("#bobs", "hello room").await, "a room message");
    muted(
        bob.set_topic("#bobs", "buy now").await,
        "a topic of his own room",
    );
    muted(
        bob.room_kick("#bobs", "alice", "buy now").await,
        "a kick reason in his own room",
    );
    muted(bob.leave("#bobs", "buy now").await, "a reason for leaving");
    muted(bob.join("#buy-now", None).await, "the name of a new room");

    // Nothing of that reached anyone; and what shows no text still works.
    let rooms = alice.rooms().await.unwrap();
    assert!(rooms.iter().all(|r| r.room != "#buy-now"), "{rooms:?}");
    let bobs = alice.room("#bobs").await.unwrap().unwrap();
    assert_eq!(&*bobs.topic, "", "{bobs:?}");
    bob.join("#alices", None).await.unwrap();
    bob.users().await.unwrap();
    bob.leave("#alices", "").await.unwrap();
}

#[tokio::test]
async fn a_room_mute_covers_every_text_field_in_that_room() {
    let server = start().await;
    let (alice, _alice_events) = user(&server, "alice").await;
    let (carol, _carol_events) = user(&server, "carol").await;
    alice.join("#alices", None).await.unwrap();
    carol.join("#alices", None).await.unwrap();
    carol.join("#carols", None).await.unwrap();
    alice
        .room_mute("#alices", "carol", None, "calm down")
        .await
        .unwrap();

    muted(carol.say("#alices", "hi").await, "a room message");
    muted(carol.set_topic("#alices", "spam").await, "a topic");
    muted(
        carol.leave("#alices", "spam spam").await,
        "a reason for leaving",
    );
    // Elsewhere carol talks as before.
    carol.say("#carols", "fine here").await.unwrap();
    carol.send("alice", "sorry").await.unwrap();
    carol.leave("#alices", "").await.unwrap();
}
