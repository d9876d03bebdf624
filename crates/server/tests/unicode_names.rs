//! Unicode names end to end: accounts and guests with names in any script,
//! direct messages between them, fullwidth spellings of one name, and
//! lookalike names refused (docs/protocol.md 2.3).

mod common;

use chinwag_client::{ClientError, Event};
use chinwag_proto::ErrorCode;
use common::*;

const PASSWORD: &str = "a-good-password";

fn refusal(result: Result<impl std::fmt::Debug, ClientError>) -> (ErrorCode, String) {
    match result.unwrap_err() {
        ClientError::Server { code, message } => (code, message),
        other => panic!("expected a server error, got {other}"),
    }
}

#[tokio::test]
async fn names_in_any_script_register_and_exchange_messages() {
    let server = start().await;
    let (xiaoming, mut xiaoming_events) = account(&server, "小明", PASSWORD).await;
    let (jose, mut jose_events) = user(&server, "José").await;

    // A decomposed é is the same name, and reaches José.
    xiaoming.send("Jose\u{301}", "你好, José").await.unwrap();
    let msg = wait_for(&mut jose_events, |e| match e {
        Event::Message(m) => Some(m),
        _ => None,
    })
    .await;
    assert_eq!((&*msg.from, &*msg.to), ("小明", "José"));
    assert_eq!(&*msg.text, "你好, José");

    jose.send("小明", "olá").await.unwrap();
    let msg = wait_for(&mut xiaoming_events, |e| match e {
        Event::Message(m) => Some(m),
        _ => None,
    })
    .await;
    assert_eq!((&*msg.from, &*msg.to), ("José", "小明"));

    let names: Vec<String> = xiaoming
        .users()
        .await
        .unwrap()
        .iter()
        .map(|u| u.name.to_string())
        .collect();
    assert!(names.contains(&"José".to_owned()), "{names:?}");
    assert!(names.contains(&"小明".to_owned()), "{names:?}");
}

#[tokio::test]
async fn a_fullwidth_spelling_is_the_same_name() {
    let server = start().await;
    let (alice, _) = account(&server, "alice", PASSWORD).await;
    alice.logout().await.unwrap();
    let (wide, _) = connect(&server).await;
    assert_eq!(
        refusal(wide.register("ＡＬＩＣＥ", None).await).0,
        ErrorCode::AccountRequired
    );
    let registered = wide.register("ＡＬＩＣＥ", Some(PASSWORD)).await.unwrap();
    assert_eq!(&*registered.name, "ALICE", "mapped to the ordinary width");
}

#[tokio::test]
async fn a_lookalike_of_an_account_or_of_a_user_online_is_refused() {
    let server = start().await;
    let (alice, _) = account(&server, "alice", PASSWORD).await;
    alice.logout().await.unwrap();
    let (bob, _) = user(&server, "bob").await;

    // "аlice" with a Cyrillic а, as a new account and as a guest: the
    // account alice is offline, so the store finds it.
    let (mallory, _) = connect(&server).await;
    for password in [Some(PASSWORD), None] {
        let (code, message) = refusal(mallory.register("\u{430}lice", password).await);
        assert_eq!(code, ErrorCode::NameTaken);
        assert!(
            message.contains("looks like the existing name alice"),
            "{message}"
        );
    }
    // "bоb" with a Cyrillic о: the guest bob is online.
    let (code, message) = refusal(mallory.register("b\u{43e}b", None).await);
    assert_eq!(code, ErrorCode::NameTaken);
    assert!(
        message.contains("looks like the existing name bob"),
        "{message}"
    );
    // Once bob is gone, his lookalike is free (he is no account).
    bob.logout().await.unwrap();
    let (bob_again, _) = connect(&server).await;
    bob_again.register("b\u{43e}b", None).await.unwrap();
    // Names that only share letters are fine, and so is alice herself.
    mallory.register("alicia", None).await.unwrap();
    let (again, _) = connect(&server).await;
    again.register("Alice", Some(PASSWORD)).await.unwrap();
}
