//! The client against a tiny fake server over `tokio::io::duplex`.

use std::time::Duration;

use bytes::Bytes;
use chinwag_client::{
    Client, ClientError, ConnectOptions, DeliveryStatus, ErrorCode, Event, MessageKind, MuteState,
    Registered, Role, Sent, ServerFrame, Timestamp, UserInfo, Welcome,
};
use chinwag_proto::request::Request;
use chinwag_proto::server::Message;
use chinwag_proto::{MessageId, Packet, RequestId, ServerCodec};
use futures::{SinkExt, StreamExt};
use tokio::io::DuplexStream;
use tokio_util::codec::Framed;

type Server = Framed<DuplexStream, ServerCodec>;

fn welcome(heartbeat_secs: u16) -> Welcome {
    Welcome {
        version: 1,
        server: "fake/0".into(),
        max_frame: 8 * 1024,
        max_name: 32,
        max_content: 16,
        heartbeat_secs,
    }
}

/// Connects a client to a fake server and completes the handshake.
async fn connect_with(
    opts: ConnectOptions,
    heartbeat_secs: u16,
) -> (Client, chinwag_client::Events, Server) {
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let mut server = Framed::new(server_io, ServerCodec::new(8 * 1024));
    let handshake = tokio::spawn(async move {
        let hello = recv(&mut server).await;
        let Request::Hello(h) = hello.body else {
            panic!("expected HELLO, got {hello:?}");
        };
        assert_eq!(h.client, "test-client");
        reply(
            &mut server,
            hello.id,
            ServerFrame::Welcome(welcome(heartbeat_secs)),
        )
        .await;
        server
    });
    let (client, events) = Client::connect_stream(client_io, opts).await.unwrap();
    (client, events, handshake.await.unwrap())
}

async fn connect() -> (Client, chinwag_client::Events, Server) {
    let opts = ConnectOptions {
        client_name: "test-client".into(),
        heartbeat: false,
        ..ConnectOptions::default()
    };
    connect_with(opts, 30).await
}

async fn recv(server: &mut Server) -> Packet<Request> {
    server
        .next()
        .await
        .expect("client closed")
        .expect("frame error")
        .expect("bad request")
}

async fn reply(server: &mut Server, id: RequestId, frame: ServerFrame) {
    server.send(Packet::new(id, frame)).await.unwrap();
}

fn sent(id: u64) -> ServerFrame {
    ServerFrame::Sent(Sent {
        id: MessageId(id),
        ts: Timestamp(1_000),
        status: DeliveryStatus::Delivered,
        recipients: 1,
        ..Default::default()
    })
}

fn message(text: &str) -> Message {
    Message {
        id: MessageId(7),
        ts: Timestamp(1_700_000_000_000),
        kind: MessageKind::Direct,
        from: "bob".into(),
        to: "alice".into(),
        text: text.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn handshake_then_register() {
    let (client, _events, mut server) = connect().await;
    assert_eq!(client.welcome().server, "fake/0");
    assert_eq!(client.name(), None);

    let task = tokio::spawn(async move {
        let req = recv(&mut server).await;
        let Request::Register(r) = req.body else {
            panic!("{req:?}")
        };
        assert_eq!((&*r.name, &*r.password, r.port), ("alice", "", 0));
        assert_ne!(req.id, RequestId::NONE);
        let registered = Registered {
            name: "Alice".into(),
            role: Role::User,
            muted: MuteState::NotMuted,
            server_time: Timestamp(5),
        };
        reply(&mut server, req.id, ServerFrame::Registered(registered)).await;
        server
    });
    let registered = client.register("alice", None).await.unwrap();
    assert_eq!(registered.name, "Alice");
    assert_eq!(client.name().as_deref(), Some("Alice"));
    task.await.unwrap();
}

#[tokio::test]
async fn pipelined_replies_out_of_order_are_matched_by_id() {
    let (client, _events, mut server) = connect().await;
    let task = tokio::spawn(async move {
        let mut requests = Vec::new();
        for _ in 0..3 {
            requests.push(recv(&mut server).await);
        }
        let ids: Vec<_> = requests.iter().map(|r| r.id).collect();
        assert_eq!(ids.len(), 3);
        // Answer in reverse order.
        for req in requests.into_iter().rev() {
            let frame = match req.body {
                Request::Transfer(t) => {
                    assert_eq!(&*t.dst, "bob");
                    assert_eq!(&*t.src, "");
                    sent(42)
                }
                Request::GetAllUser(_) => ServerFrame::UserList(vec![UserInfo {
                    name: "bob".into(),
                    role: Role::Admin,
                    muted: MuteState::UntilLifted,
                    addr: "".into(),
                    advertised: "".into(),
                    connected_at: Timestamp(0),
                    username: "".into(),
                    realname: "".into(),
                    away: "".into(),
                    sessions: 0,
                    last_spoke: chinwag_proto::Timestamp(0),
                    flags: 0,
                }]),
                Request::Reflect(r) => ServerFrame::Echo {
                    ts: Timestamp(9),
                    content: r.content,
                },
                other => panic!("unexpected {other:?}"),
            };
            reply(&mut server, req.id, frame).await;
        }
        server
    });
    let (sent, users, echo) = tokio::join!(
        client.send("bob", "hi"),
        client.users(),
        client.echo("ping?")
    );
    assert_eq!(sent.unwrap().id, MessageId(42));
    let users = users.unwrap();
    assert_eq!(users[0].name, "bob");
    assert_eq!(users[0].muted, MuteState::UntilLifted);
    let echo = echo.unwrap();
    assert_eq!((echo.ts, echo.content.as_str()), (Timestamp(9), "ping?"));
    task.await.unwrap();
}

#[tokio::test]
async fn events_are_routed_to_events() {
    let (client, mut events, mut server) = connect().await;
    reply(
        &mut server,
        RequestId::NONE,
        ServerFrame::Message(message("hello")),
    )
    .await;
    assert_eq!(events.recv().await, Some(Event::Message(message("hello"))));

    // Replies still work alongside.
    let task = tokio::spawn(async move {
        let req = recv(&mut server).await;
        assert_eq!(req.body, Request::Ping);
        reply(&mut server, req.id, ServerFrame::Pong { ts: Timestamp(1) }).await;
        server
    });
    client.ping().await.unwrap();
    task.await.unwrap();
}

#[tokio::test]
async fn server_error_becomes_client_error() {
    let (client, _events, mut server) = connect().await;
    let task = tokio::spawn(async move {
        let req = recv(&mut server).await;
        let error = ServerFrame::error(ErrorCode::Muted, "you are muted for another 59s");
        reply(&mut server, req.id, error).await;
        server
    });
    let error = client.broadcast("hello").await.unwrap_err();
    assert_eq!(error.code(), Some(ErrorCode::Muted));
    assert_eq!(error.to_string(), "you are muted for another 59s (Muted)");
    task.await.unwrap();
}

#[tokio::test]
async fn close_fails_pending_requests_and_ends_events() {
    let (client, mut events, mut server) = connect().await;
    let task = tokio::spawn(async move {
        let _ = recv(&mut server).await;
        drop(server);
    });
    let error = client.users().await.unwrap_err();
    assert!(matches!(error, ClientError::Closed), "{error:?}");
    task.await.unwrap();
    assert_eq!(events.recv().await, Some(Event::Closed { reason: None }));
    assert_eq!(events.recv().await, None);
    assert!(client.is_closed());
    assert!(matches!(client.ping().await, Err(ClientError::Closed)));
}

#[tokio::test]
async fn a_server_error_before_the_close_explains_it() {
    let (client, mut events, mut server) = connect().await;
    let task = tokio::spawn(async move {
        let _ = recv(&mut server).await;
        let error = ServerFrame::error(ErrorCode::SlowConsumer, "you read too slowly");
        reply(&mut server, RequestId::NONE, error).await;
        drop(server);
    });
    let error = client.users().await.unwrap_err();
    assert_eq!(error.code(), Some(ErrorCode::SlowConsumer));
    task.await.unwrap();
    assert_eq!(
        events.recv().await,
        Some(Event::Error {
            code: ErrorCode::SlowConsumer,
            message: "you read too slowly".into()
        })
    );
    assert_eq!(
        events.recv().await,
        Some(Event::Closed {
            reason: Some("you read too slowly (SlowConsumer)".into())
        })
    );
    assert_eq!(events.recv().await, None);
    // Later requests see the same reason.
    assert_eq!(
        client.ping().await.unwrap_err().code(),
        Some(ErrorCode::SlowConsumer)
    );
}

#[tokio::test]
async fn invalid_input_is_caught_before_sending() {
    let (client, _events, mut server) = connect().await;
    for error in [
        client.send("not a name", "hi").await.unwrap_err(),
        client.send("bob", "").await.unwrap_err(),
        client.broadcast("seventeen bytes!!").await.unwrap_err(),
        client.broadcast("\u{1b}[2J").await.unwrap_err(),
        client.register("1abc", None).await.unwrap_err(),
        client.kick("bob", "bad\u{7}reason").await.unwrap_err(),
    ] {
        assert!(matches!(error, ClientError::InvalidInput(_)), "{error:?}");
    }
    assert_eq!(
        client
            .broadcast("seventeen bytes!!")
            .await
            .unwrap_err()
            .to_string(),
        "the text is 17 bytes, more than the limit of 16"
    );
    // Nothing reached the server: the next frame it sees is this PING.
    let task = tokio::spawn(async move {
        let req = recv(&mut server).await;
        assert_eq!(req.body, Request::Ping);
        reply(&mut server, req.id, ServerFrame::Pong { ts: Timestamp(1) }).await;
    });
    client.ping().await.unwrap();
    task.await.unwrap();
}

#[tokio::test]
async fn mute_sends_whole_seconds() {
    let (client, _events, mut server) = connect().await;
    let task = tokio::spawn(async move {
        for expected in [2, 0] {
            let req = recv(&mut server).await;
            let Request::Bantalk(b) = req.body else {
                panic!("{req:?}")
            };
            assert_eq!(b.duration_secs, expected);
            reply(&mut server, req.id, ServerFrame::ok("muted")).await;
        }
    });
    client
        .mute("bob", Some(Duration::from_millis(1_200)), "spam")
        .await
        .unwrap();
    client.mute("bob", None, "").await.unwrap();
    task.await.unwrap();
}

#[tokio::test]
async fn replies_flow_when_events_are_dropped() {
    let (client, events, mut server) = connect().await;
    drop(events);
    let task = tokio::spawn(async move {
        for _ in 0..5_000 {
            reply(
                &mut server,
                RequestId::NONE,
                ServerFrame::Message(message("x")),
            )
            .await;
        }
        let req = recv(&mut server).await;
        reply(&mut server, req.id, ServerFrame::Pong { ts: Timestamp(1) }).await;
        server
    });
    client.ping().await.unwrap();
    task.await.unwrap();
}

#[tokio::test]
async fn a_full_event_buffer_holds_back_reading_not_memory() {
    let opts = ConnectOptions {
        client_name: "test-client".into(),
        heartbeat: false,
        event_buffer: 2,
        ..ConnectOptions::default()
    };
    let (_client, mut events, mut server) = connect_with(opts, 30).await;
    for i in 0..10 {
        reply(
            &mut server,
            RequestId::NONE,
            ServerFrame::Message(message(&i.to_string())),
        )
        .await;
    }
    for i in 0..10 {
        match events.recv().await {
            Some(Event::Message(m)) => assert_eq!(m.text, i.to_string()),
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn heartbeat_pings_while_idle() {
    let opts = ConnectOptions {
        client_name: "test-client".into(),
        ..ConnectOptions::default()
    };
    let (_client, _events, mut server) = connect_with(opts, 2).await;
    let start = tokio::time::Instant::now();
    let req = recv(&mut server).await;
    assert_eq!(req.body, Request::Ping);
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    // The PONG nobody waits for is dropped quietly.
    reply(&mut server, req.id, ServerFrame::Pong { ts: Timestamp(1) }).await;
    let req = recv(&mut server).await;
    assert_eq!(req.body, Request::Ping);
}

#[tokio::test]
async fn raw_bytes_reach_the_socket() {
    let (client, _events, mut server) = connect().await;
    // A PING frame with id 77, built by hand.
    let ping = Bytes::from_static(&[0, 0, 0, 5, 0x0B, 0, 0, 0, 77]);
    client.send_raw(ping.clone()).await.unwrap();
    let req = recv(&mut server).await;
    assert_eq!((req.id, req.body), (RequestId(77), Request::Ping));

    let task = tokio::spawn(async move {
        let req = recv(&mut server).await;
        reply(&mut server, req.id, ServerFrame::Pong { ts: Timestamp(3) }).await;
    });
    let pong = client.request_raw(RequestId(77), ping).await.unwrap();
    assert_eq!(pong, ServerFrame::Pong { ts: Timestamp(3) });
    task.await.unwrap();
}

#[tokio::test]
async fn logout_then_closed() {
    let (client, mut events, mut server) = connect().await;
    let task = tokio::spawn(async move {
        let req = recv(&mut server).await;
        assert!(matches!(req.body, Request::Logout(_)));
        reply(&mut server, req.id, ServerFrame::ok("bye")).await;
    });
    client.logout().await.unwrap();
    task.await.unwrap();
    assert_eq!(events.recv().await, Some(Event::Closed { reason: None }));
}

fn numbered(id: u64) -> Message {
    Message {
        id: MessageId(id),
        text: format!("m{id}").into(),
        kind: MessageKind::Broadcast,
        to: "".into(),
        ..message("")
    }
}

async fn expect_history_me(server: &mut Server, after: u64, limit: u16) -> RequestId {
    let req = recv(server).await;
    let Request::History(h) = &req.body else {
        panic!("expected HISTORY, got {req:?}")
    };
    assert_eq!(
        (&*h.dst, h.before, h.after, h.limit),
        ("@me", 0, after, limit)
    );
    req.id
}

#[tokio::test]
async fn catch_up_reads_what_was_missed_and_delivers_each_message_once() {
    let (client, mut events, mut server) = connect().await;
    let task = tokio::spawn(async move {
        let req = recv(&mut server).await;
        let registered = Registered {
            name: "alice".into(),
            role: Role::User,
            muted: MuteState::NotMuted,
            server_time: Timestamp(5),
        };
        reply(&mut server, req.id, ServerFrame::Registered(registered)).await;
        // The client says it can catch up.
        let opt_in = expect_history_me(&mut server, 0, 1).await;
        reply(&mut server, opt_in, ServerFrame::HistoryPage(vec![])).await;
        for id in 1..=3 {
            let frame = ServerFrame::Message(numbered(id));
            reply(&mut server, RequestId::NONE, frame).await;
        }
        // It fell behind: 4 to 7 were dropped.
        let notice = chinwag_client::Notice {
            kind: chinwag_client::NoticeKind::CatchUp,
            ts: Timestamp(9),
            actor: "".into(),
            subject: "alice".into(),
            until: 3,
            text: "4 messages dropped".into(),
        };
        reply(&mut server, RequestId::NONE, ServerFrame::Notice(notice)).await;
        let page = expect_history_me(&mut server, 3, 500).await;
        // Live delivery resumed with that request: one the page also has,
        // one after it.
        for id in [6, 9] {
            let frame = ServerFrame::Message(numbered(id));
            reply(&mut server, RequestId::NONE, frame).await;
        }
        let newest_first = (4..=7).rev().map(numbered).collect();
        reply(&mut server, page, ServerFrame::HistoryPage(newest_first)).await;
        // A late duplicate, then live as usual.
        for id in [5, 10] {
            let frame = ServerFrame::Message(numbered(id));
            reply(&mut server, RequestId::NONE, frame).await;
        }
        server
    });
    client.register("alice", None).await.unwrap();
    let mut seen = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(10), events.recv()).await {
            Ok(Some(Event::Message(m))) => {
                seen.push(m.id.0.to_string());
                if m.id.0 == 10 {
                    break;
                }
            }
            Ok(Some(Event::Notice(n))) => {
                assert_eq!(n.kind, chinwag_client::NoticeKind::CatchUp);
                assert_eq!(n.until, 3);
                seen.push(n.text.to_string());
            }
            other => panic!("{other:?} after {seen:?}"),
        }
    }
    assert_eq!(
        seen,
        [
            "1",
            "2",
            "3",
            "4",
            "5",
            "6",
            "7",
            "caught up on 4 messages",
            "9",
            "10"
        ]
    );
    assert_eq!(client.caught_up(), 4);
    task.await.unwrap();
}

#[tokio::test]
async fn without_catch_up_the_notice_is_just_an_event() {
    let opts = ConnectOptions {
        client_name: "test-client".into(),
        heartbeat: false,
        catch_up: false,
        ..ConnectOptions::default()
    };
    let (client, mut events, mut server) = connect_with(opts, 30).await;
    let task = tokio::spawn(async move {
        let req = recv(&mut server).await;
        let registered = Registered {
            name: "alice".into(),
            role: Role::User,
            muted: MuteState::NotMuted,
            server_time: Timestamp(5),
        };
        reply(&mut server, req.id, ServerFrame::Registered(registered)).await;
        let notice = chinwag_client::Notice {
            kind: chinwag_client::NoticeKind::CatchUp,
            ts: Timestamp(9),
            actor: "".into(),
            subject: "alice".into(),
            until: 3,
            text: "dropped".into(),
        };
        reply(&mut server, RequestId::NONE, ServerFrame::Notice(notice)).await;
        // No HISTORY follows: the next request is this PING.
        let req = recv(&mut server).await;
        assert_eq!(req.body, Request::Ping);
        reply(&mut server, req.id, ServerFrame::Pong { ts: Timestamp(1) }).await;
    });
    client.register("alice", None).await.unwrap();
    match events.recv().await {
        Some(Event::Notice(n)) => assert_eq!(&*n.text, "dropped"),
        other => panic!("{other:?}"),
    }
    client.ping().await.unwrap();
    task.await.unwrap();
    assert_eq!(client.caught_up(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_refused_catch_up_page_is_asked_for_again() {
    let (client, mut events, mut server) = connect().await;
    let task = tokio::spawn(async move {
        let req = recv(&mut server).await;
        let registered = Registered {
            name: "alice".into(),
            role: Role::User,
            muted: MuteState::NotMuted,
            server_time: Timestamp(5),
        };
        reply(&mut server, req.id, ServerFrame::Registered(registered)).await;
        let opt_in = expect_history_me(&mut server, 0, 1).await;
        reply(&mut server, opt_in, ServerFrame::HistoryPage(vec![])).await;
        let notice = chinwag_client::Notice {
            kind: chinwag_client::NoticeKind::CatchUp,
            ts: Timestamp(9),
            actor: "".into(),
            subject: "alice".into(),
            until: 20,
            text: "1 messages dropped".into(),
        };
        reply(&mut server, RequestId::NONE, ServerFrame::Notice(notice)).await;
        let page = expect_history_me(&mut server, 20, 500).await;
        let refused = ServerFrame::error(ErrorCode::RateLimited, "slow down");
        reply(&mut server, page, refused).await;
        let page = expect_history_me(&mut server, 20, 500).await;
        reply(
            &mut server,
            page,
            ServerFrame::HistoryPage(vec![numbered(21)]),
        )
        .await;
        server
    });
    client.register("alice", None).await.unwrap();
    match next(&mut events).await {
        Event::Message(m) => assert_eq!(m.id.0, 21),
        other => panic!("{other:?}"),
    }
    match next(&mut events).await {
        Event::Notice(n) => assert_eq!(&*n.text, "caught up on 1 messages"),
        other => panic!("{other:?}"),
    }
    task.await.unwrap();
}

async fn next(events: &mut chinwag_client::Events) -> Event {
    tokio::time::timeout(Duration::from_secs(10), events.recv())
        .await
        .expect("no event")
        .expect("events ended")
}
