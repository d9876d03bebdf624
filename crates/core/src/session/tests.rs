//! The session's lifecycle without a socket: requests in, replies and
//! events out to a sink, time passed in.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chinwag_proto::request::{Hello, Register, Transfer};
use chinwag_proto::server::{DeliveryStatus, MessageId};
use chinwag_proto::{ErrorCode, Request, RequestId, ServerFrame};

use super::*;
use crate::auth::AdminSecret;
use crate::config::Config;
use crate::store::{Durability, SqliteStore};

/// What a session said, in order.
#[derive(Default)]
struct Said {
    replies: Vec<(RequestId, Reply)>,
    events: Vec<Shared>,
    delivered: Vec<MessageId>,
}

impl Sink for Said {
    fn reply(&mut self, id: RequestId, reply: Reply) {
        self.replies.push((id, reply));
    }
    fn event(&mut self, event: &Shared) {
        self.events.push(Arc::clone(event));
    }
    fn delivered_up_to(&mut self, id: MessageId) {
        self.delivered.push(id);
    }
    fn backlog(&self) -> usize {
        0
    }
    fn discard_unwritten(&mut self) {
        self.replies.clear();
        self.events.clear();
    }
}

fn state(dir: &std::path::Path) -> Arc<State> {
    let store = SqliteStore::open(dir, Durability::Normal).unwrap();
    State::new(
        Config::default(),
        AdminSecret::new("admin-pw".into()),
        Arc::new(store),
    )
}

fn addr() -> std::net::SocketAddr {
    "127.0.0.1:1".parse().unwrap()
}

/// Runs the session until the request `id` is answered, acting on what it
/// waits for (the store, a password hash) as a driver would.
async fn answer(session: &mut Session, said: &mut Said, id: u32) -> Reply {
    loop {
        if let Some(at) = said.replies.iter().position(|(r, _)| r.0 == id) {
            return said.replies.remove(at).1;
        }
        let wake = tokio::time::timeout(Duration::from_secs(10), session.wait())
            .await
            .expect("the session answers");
        session.wake(wake, Now::current(), said);
    }
}

async fn registered(state: &Arc<State>, name: &str) -> (Session, Said) {
    let mut session = Session::new(Arc::clone(state), addr(), Greeting::Hello, Instant::now());
    let mut said = Said::default();
    let hello = Request::Hello(Hello::current("test"));
    session.request(Now::current(), RequestId(1), hello, 10, &mut said);
    let register = Request::Register(Register {
        name: name.into(),
        ip: "".into(),
        port: 0,
        password: "".into(),
        take_offline: true,
        multi_session: false,
    });
    session.request(Now::current(), RequestId(2), register, 10, &mut said);
    assert!(matches!(
        answer(&mut session, &mut said, 1).await,
        Ok(ServerFrame::Welcome(_))
    ));
    assert!(matches!(
        answer(&mut session, &mut said, 2).await,
        Ok(ServerFrame::Registered(_))
    ));
    (session, said)
}

#[tokio::test]
async fn two_sessions_talk_without_a_socket() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path());
    let (mut alice, mut alice_said) = registered(&state, "alice").await;
    let (mut bob, mut bob_said) = registered(&state, "bob").await;
    // alice was told bob joined: pulled from her queue.
    alice.pull(&mut alice_said);
    assert!(alice_said.events.iter().any(|e| matches!(
        e.frame(),
        ServerFrame::Notice(n) if n.subject == "bob"
    )));

    let send = Request::Transfer(Transfer {
        src: "".into(),
        dst: "bob".into(),
        content: "hi".into(),
        ..Default::default()
    });
    alice.request(Now::current(), RequestId(3), send, 10, &mut alice_said);
    let Ok(ServerFrame::Sent(sent)) = answer(&mut alice, &mut alice_said, 3).await else {
        panic!("a SENT");
    };
    assert_eq!(sent.status, DeliveryStatus::Delivered);
    bob.pull(&mut bob_said);
    let got = bob_said
        .events
        .last()
        .and_then(|e| e.message().cloned())
        .unwrap();
    assert_eq!((got.id, &*got.from, &*got.text), (sent.id, "alice", "hi"));

    // LOGOUT: answered, then the session is done; the others are told.
    bob.request(
        Now::current(),
        RequestId(4),
        Request::Logout(chinwag_proto::request::Logout {
            src: "".into(),
            ..Default::default()
        }),
        10,
        &mut bob_said,
    );
    assert!(matches!(
        answer(&mut bob, &mut bob_said, 4).await,
        Ok(ServerFrame::Ok { .. })
    ));
    assert!(bob.is_done());
    bob.finish();
    alice.pull(&mut alice_said);
    assert!(matches!(
        alice_said.events.last().map(|e| e.frame()),
        Some(ServerFrame::Notice(n)) if n.subject == "bob" && n.text == "logout"
    ));
}

#[tokio::test]
async fn time_is_passed_in() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path());
    let start = Instant::now();
    let handshake = state.config.handshake_timeout;
    let idle = state.config.idle_timeout();

    // Nothing after connecting: the handshake deadline ends it.
    let mut silent = Session::new(Arc::clone(&state), addr(), Greeting::Hello, start);
    let mut said = Said::default();
    assert_eq!(silent.deadline(), start + handshake);
    assert!(silent.on_timer(start + handshake - Duration::from_millis(1), &mut said));
    assert!(!silent.is_leaving());
    silent.on_timer(start + handshake, &mut said);
    assert!(silent.is_leaving());
    assert!(matches!(
        &said.replies[..],
        [(RequestId::NONE, Err(e))] if e.code == ErrorCode::HandshakeTimeout
    ));

    // A registered session that starts a request and never finishes it:
    // the request must be complete within the idle timeout of its start,
    // however often bytes trickle in.
    let (mut slow, mut said) = registered(&state, "slow").await;
    let t0 = Instant::now();
    slow.received(t0, true);
    for second in 1..idle.as_secs() {
        slow.received(t0 + Duration::from_secs(second), true);
        assert!(slow.on_timer(t0 + Duration::from_secs(second), &mut said));
        assert!(!slow.is_leaving(), "at {second}s");
    }
    assert_eq!(slow.deadline(), t0 + idle);
    slow.on_timer(t0 + idle, &mut said);
    assert!(slow.is_leaving());
    assert!(matches!(
        said.replies.last(),
        Some((RequestId::NONE, Err(e))) if e.code == ErrorCode::IdleTimeout
            && e.message.contains("started and not finished")
    ));
}

#[tokio::test]
async fn a_front_end_without_a_greeting_starts_at_registration() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path());
    let mut session = Session::new(Arc::clone(&state), addr(), Greeting::None, Instant::now());
    assert_eq!(session.phase(), Phase::AwaitRegister);
    let mut said = Said::default();
    let register = Request::Register(Register {
        name: "carol".into(),
        ip: "".into(),
        port: 0,
        password: "".into(),
        take_offline: true,
        multi_session: false,
    });
    session.request(Now::current(), RequestId(1), register, 10, &mut said);
    assert!(matches!(
        answer(&mut session, &mut said, 1).await,
        Ok(ServerFrame::Registered(_))
    ));
    assert!(state.users.get("carol").is_some());
}

#[tokio::test]
async fn the_answers_of_one_commit_are_given_in_one_turn() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path());
    let (mut alice, mut said) = registered(&state, "alice").await;
    let (_bob, _bob_said) = registered(&state, "bob").await;
    let sends = 3..11;
    for id in sends.clone() {
        let send = Request::Transfer(Transfer {
            src: "".into(),
            dst: "bob".into(),
            content: format!("message {id}").as_str().into(),
            ..Default::default()
        });
        alice.request(Now::current(), RequestId(id), send, 10, &mut said);
    }
    // The writer answers in submission order: once a later write is
    // answered, every send's write is too.
    let barrier = crate::store::NewMessage {
        ts: chinwag_proto::Timestamp::now(),
        from: chinwag_proto::UserName::parse("carol").unwrap(),
        to: None,
        text: "barrier".into(),
        notice: false,
        queue_for: None,
    };
    state.store.append(barrier).await.unwrap();
    said.replies.clear();
    let wake = alice.wait().await;
    alice.wake_all(wake, Now::current(), &mut said);
    let answered: Vec<u32> = said.replies.iter().map(|(id, _)| id.0).collect();
    assert_eq!(
        answered,
        sends.collect::<Vec<_>>(),
        "all, in order, at once"
    );
    assert!(said.replies.iter().all(|(_, reply)| matches!(
        reply,
        Ok(ServerFrame::Sent(sent)) if sent.status == DeliveryStatus::Delivered
    )));
}

/// The USER_UPDATE events `said` got, in order.
fn user_updates(said: &Said) -> Vec<chinwag_proto::server::UserUpdate> {
    said.events
        .iter()
        .filter_map(|e| match e.frame() {
            ServerFrame::UserUpdate(u) => Some(u.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_guest_renames_and_the_others_are_told_once_and_the_old_name_is_free() {
    use chinwag_proto::request::Target;
    use chinwag_proto::server::user_changed;
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path());
    let (mut alice, mut alice_said) = registered(&state, "alice").await;
    let (mut bob, mut bob_said) = registered(&state, "bob").await;
    let nick = |to: &str| {
        Request::Nick(Target {
            src: "".into(),
            dst: to.into(),
        })
    };
    // Taken.
    bob.request(
        Now::current(),
        RequestId(3),
        nick("Alice"),
        10,
        &mut bob_said,
    );
    let refused = answer(&mut bob, &mut bob_said, 3).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::NameTaken);
    // Free.
    bob.request(
        Now::current(),
        RequestId(4),
        nick("robert"),
        10,
        &mut bob_said,
    );
    let Ok(ServerFrame::Registered(r)) = answer(&mut bob, &mut bob_said, 4).await else {
        panic!("REGISTERED")
    };
    assert_eq!(&*r.name, "robert");
    assert!(state.users.get("bob").is_none(), "the old name is free");
    assert!(state.users.get("robert").is_some());
    alice.pull(&mut alice_said);
    let updates = user_updates(&alice_said);
    assert_eq!(updates.len(), 1, "told once");
    assert_eq!(
        (&*updates[0].old_name, &*updates[0].name, updates[0].changed),
        ("bob", "robert", user_changed::NAME)
    );
    bob.pull(&mut bob_said);
    assert!(
        user_updates(&bob_said).is_empty(),
        "the renamer has its answer"
    );
    // The same name again: nothing changes, nobody is told.
    bob.request(
        Now::current(),
        RequestId(5),
        nick("robert"),
        10,
        &mut bob_said,
    );
    assert!(answer(&mut bob, &mut bob_said, 5).await.is_ok());
    alice.pull(&mut alice_said);
    assert_eq!(user_updates(&alice_said).len(), 1);
    // Recorded for WHOWAS.
    let key = chinwag_proto::NameKey::fold("bob").unwrap();
    assert_eq!(state.whowas.find(&key, 0).len(), 1);
    // Messages to the new name reach the renamed session.
    let send = Request::Transfer(Transfer {
        dst: "robert".into(),
        content: "hi".into(),
        ..Default::default()
    });
    alice.request(Now::current(), RequestId(6), send, 10, &mut alice_said);
    assert!(answer(&mut alice, &mut alice_said, 6).await.is_ok());
    bob.pull(&mut bob_said);
    assert!(bob_said.events.iter().any(|e| e.message().is_some()));
    // Its departure frees the new name.
    bob.request(
        Now::current(),
        RequestId(7),
        Request::Logout(chinwag_proto::request::Logout::default()),
        10,
        &mut bob_said,
    );
    answer(&mut bob, &mut bob_said, 7).await.unwrap();
    bob.finish();
    assert!(state.users.get("robert").is_none());
}

#[tokio::test]
async fn a_profile_before_register_is_the_one_the_user_comes_online_with() {
    use chinwag_proto::request::Profile;
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path());
    let (mut alice, mut alice_said) = registered(&state, "alice").await;
    let mut session = Session::new(Arc::clone(&state), addr(), Greeting::Hello, Instant::now());
    let mut said = Said::default();
    session.request(
        Now::current(),
        RequestId(1),
        Request::Hello(Hello::current("test")),
        10,
        &mut said,
    );
    let profile = Request::Profile(Profile {
        src: "".into(),
        username: "b".into(),
        realname: "Bob B.".into(),
        away: "".into(),
    });
    session.request(Now::current(), RequestId(2), profile, 10, &mut said);
    let register = Request::Register(Register {
        name: "bob".into(),
        ip: "".into(),
        port: 0,
        password: "".into(),
        take_offline: true,
        multi_session: false,
    });
    session.request(Now::current(), RequestId(3), register, 10, &mut said);
    assert!(answer(&mut session, &mut said, 2).await.is_ok());
    assert!(answer(&mut session, &mut said, 3).await.is_ok());
    let bob = state.users.get("bob").unwrap();
    assert_eq!(&*bob.profile().realname, "Bob B.");
    alice.pull(&mut alice_said);
    assert!(
        user_updates(&alice_said).is_empty(),
        "coming online with a profile is no change"
    );
}

/// Sends `request` as `id` and waits for its answer.
async fn ask(session: &mut Session, said: &mut Said, id: u32, request: Request) -> Reply {
    session.request(Now::current(), RequestId(id), request, 10, said);
    answer(session, said, id).await
}

#[tokio::test]
async fn a_notice_keeps_its_kind_and_tags_alone_are_relayed_not_stored() {
    use chinwag_proto::request::SendOptions;
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path());
    let (mut alice, mut alice_said) = registered(&state, "alice").await;
    let (mut bob, mut bob_said) = registered(&state, "bob").await;

    let notice = Request::Transfer(Transfer {
        dst: "bob".into(),
        content: "automatic".into(),
        options: SendOptions {
            notice: true,
            tags: "+draft/reply=1".into(),
        },
        ..Default::default()
    });
    let Ok(ServerFrame::Sent(sent)) = ask(&mut alice, &mut alice_said, 3, notice).await else {
        panic!("a SENT");
    };
    assert!(!sent.id.is_ephemeral());
    bob.pull(&mut bob_said);
    let got = bob_said
        .events
        .last()
        .and_then(|e| e.message().cloned())
        .unwrap();
    assert!(got.notice && &*got.tags == "+draft/reply=1", "{got:?}");

    let typing = Request::Transfer(Transfer {
        dst: "bob".into(),
        options: SendOptions {
            notice: false,
            tags: "+typing=active".into(),
        },
        ..Default::default()
    });
    let Ok(ServerFrame::Sent(ephemeral)) = ask(&mut alice, &mut alice_said, 4, typing).await else {
        panic!("a SENT");
    };
    assert!(ephemeral.id.is_ephemeral());
    bob.pull(&mut bob_said);
    let got = bob_said
        .events
        .last()
        .and_then(|e| e.message().cloned())
        .unwrap();
    assert_eq!((got.id, got.text.is_empty()), (ephemeral.id, true));

    // Bad tags, and a message with neither text nor tags, are refused.
    for (id, tags) in [(5, "typing"), (6, "")] {
        let bad = Request::Transfer(Transfer {
            dst: "bob".into(),
            options: SendOptions {
                notice: false,
                tags: tags.into(),
            },
            ..Default::default()
        });
        let Err(error) = ask(&mut alice, &mut alice_said, id, bad).await else {
            panic!("{tags:?} is refused");
        };
        assert_eq!(error.code, ErrorCode::InvalidContent);
    }

    // Stored: the notice, with its kind and without its tags; not the
    // typing notification. (Guests have no direct history to ask for:
    // the store is read directly.)
    let page = state
        .store
        .history(crate::store::HistoryQuery {
            conversation: crate::store::Conversation::Direct(
                chinwag_proto::NameKey::fold("alice").unwrap(),
                chinwag_proto::NameKey::fold("bob").unwrap(),
            ),
            before: None,
            after: None,
            limit: 10,
            direct_since: chinwag_proto::Timestamp(0),
        })
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    assert!(page[0].notice);
}

#[tokio::test]
async fn a_message_is_deleted_by_its_sender_not_by_others() {
    use chinwag_proto::request::Redact;
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path());
    let (mut alice, mut alice_said) = registered(&state, "alice").await;
    let (mut bob, mut bob_said) = registered(&state, "bob").await;
    let send = Request::Transfer(Transfer {
        dst: "bob".into(),
        content: "oops".into(),
        ..Default::default()
    });
    let Ok(ServerFrame::Sent(sent)) = ask(&mut alice, &mut alice_said, 3, send).await else {
        panic!("a SENT");
    };
    let redact = |dst: &str, id: u64| {
        Request::Redact(Redact {
            src: "".into(),
            dst: dst.into(),
            id,
            reason: "typo".into(),
        })
    };
    // bob received it but did not send it.
    let Err(error) = ask(&mut bob, &mut bob_said, 3, redact("alice", sent.id.0)).await else {
        panic!("not bob's to delete");
    };
    assert_eq!(error.code, ErrorCode::Forbidden);
    // Another conversation's id is no message of this one.
    let Err(error) = ask(&mut alice, &mut alice_said, 4, redact("carol", sent.id.0)).await else {
        panic!("not in that conversation");
    };
    assert_eq!(error.code, ErrorCode::NoSuchMessage);
    assert!(matches!(
        ask(&mut alice, &mut alice_said, 5, redact("bob", sent.id.0)).await,
        Ok(ServerFrame::Ok { .. })
    ));
    bob.pull(&mut bob_said);
    assert!(bob_said.events.iter().any(|e| matches!(
        e.frame(),
        ServerFrame::Redacted(r) if r.id == sent.id && r.actor == "alice" && r.reason == "typo"
    )));
    assert_eq!(state.store.message(sent.id).await.unwrap(), None);
    let Err(error) = ask(&mut alice, &mut alice_said, 6, redact("bob", sent.id.0)).await else {
        panic!("deleted once");
    };
    assert_eq!(error.code, ErrorCode::NoSuchMessage);
}

#[test]
fn a_logout_reason_is_told_after_logout() {
    assert_eq!(Leave::Logout("".into()).describe(), "logout");
    assert_eq!(Leave::Logout("bye".into()).describe(), "logout: bye");
    assert_eq!(Leave::TimedOut.describe(), "timed out");
}
