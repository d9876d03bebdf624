//! The limits at the door and on each connection: connections per address,
//! flood control, the REGISTER cap; and the counters that show them on
//! `/metrics`. Each abuse gets its defined answer while other clients carry
//! on.

mod common;

use chinwag_proto::ErrorCode;
use chinwag_proto::request::{Register, Request};
use chinwag_proto::server::ServerFrame;
use chinwag_server::Config;
use chinwag_server::ratelimit::RateLimits;
use common::raw::Raw;
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[tokio::test]
async fn connections_over_the_per_address_limit_are_refused_and_counted() {
    let server = start_with(Config {
        max_connections_per_ip: 2,
        limit_loopback: true,
        ..config()
    })
    .await;
    let mut a = Raw::registered(&server, "a").await;
    let b = Raw::registered(&server, "b").await;
    let mut c = Raw::connect(&server).await;
    assert_eq!(c.error().await, (0, ErrorCode::TooManyConnections));
    c.assert_closed().await;
    a.ping_ok(5).await;

    // A place is freed when a connection closes.
    drop(b);
    let state = server.handle.state();
    until("the place is free", || state.admission.open() == 1).await;
    Raw::registered(&server, "b2").await.ping_ok(6).await;
    assert_eq!(state.metrics.connections_refused.get(), 1);
    assert_eq!(state.metrics.errors_sent(ErrorCode::TooManyConnections), 1);
}

#[tokio::test]
async fn loopback_is_exempt_from_the_per_address_limit_by_default() {
    let server = start_with(Config {
        max_connections_per_ip: 1,
        ..config()
    })
    .await;
    let mut a = Raw::registered(&server, "a").await;
    let mut b = Raw::registered(&server, "b").await;
    a.ping_ok(3).await;
    b.ping_ok(3).await;
}

#[tokio::test]
async fn requests_beyond_the_burst_are_delayed_not_refused() {
    let server = start_with(Config {
        rate: RateLimits {
            requests_per_sec: 20,
            request_burst: 10,
            max_lag: std::time::Duration::from_secs(10),
            ..RateLimits::DEFAULT
        },
        ..config()
    })
    .await;
    // HELLO and REGISTER take 2 of the 10 tokens; 20 pings more than the
    // burst: each gets its PONG, in order, the last ones a little later.
    let mut paster = Raw::registered(&server, "paster").await;
    for id in 10..30 {
        paster.send(id, Request::Ping).await;
    }
    for id in 10..30 {
        let (got, frame) = paster.recv().await;
        assert_eq!(got.0, id);
        assert!(matches!(frame, ServerFrame::Pong { .. }), "{frame:?}");
    }
    let metrics = &server.handle.state().metrics;
    assert!(
        metrics.rate_limited.get() >= 10,
        "{}",
        metrics.rate_limited.get()
    );
    assert_eq!(metrics.rate_limit_disconnects.get(), 0);
}

#[tokio::test]
async fn a_flood_is_slowed_then_cut_off_while_others_carry_on() {
    let server = start_with(Config {
        rate: RateLimits {
            requests_per_sec: 10,
            request_burst: 10,
            max_lag: std::time::Duration::from_secs(1),
            ..RateLimits::DEFAULT
        },
        ..config()
    })
    .await;
    let (alice, _alice_events) = user(&server, "alice").await;
    // HELLO and REGISTER take 2 of the 10 tokens; the next 8 go at once,
    // the next 10 are held back 0.1 s to 1 s, and one more would wait
    // longer than a second: the connection is closed.
    let mut flood = Raw::registered(&server, "flood").await;
    for id in 10..60 {
        flood.send(id, Request::Ping).await;
    }
    let mut pongs = 0;
    let last = loop {
        match flood.recv().await {
            (_, ServerFrame::Pong { .. }) => pongs += 1,
            (_, ServerFrame::Error { code, message }) => {
                assert_eq!(code, ErrorCode::RateLimited);
                break message;
            }
            (_, other) => panic!("unexpected {other:?}"),
        }
    };
    flood.assert_closed().await;
    assert!(
        last.contains("excess flood") && last.contains("closing"),
        "{last}"
    );
    assert!((8..=20).contains(&pongs), "{pongs} pongs");
    // Alice was never slowed down.
    alice.echo("still here").await.unwrap();
    let metrics = &server.handle.state().metrics;
    assert_eq!(metrics.rate_limit_disconnects.get(), 1);
}

#[tokio::test]
async fn a_register_storm_is_refused_then_closed() {
    let server = start_with(Config {
        max_register_attempts: 3,
        ..config()
    })
    .await;
    let (_alice, _events) = user(&server, "alice").await;
    let mut storm = Raw::connect(&server).await;
    storm
        .send(
            1,
            Request::Hello(chinwag_proto::request::Hello::current("storm")),
        )
        .await;
    assert!(matches!(storm.recv().await.1, ServerFrame::Welcome(_)));
    for id in 2..7 {
        storm
            .send(
                id,
                Request::Register(Register {
                    name: "alice".into(),
                    ip: "".into(),
                    port: 0,
                    password: "".into(),
                    take_offline: true,
                    multi_session: false,
                }),
            )
            .await;
    }
    for id in 2..5 {
        assert_eq!(storm.error().await, (id, ErrorCode::NameTaken));
    }
    assert_eq!(storm.error().await, (5, ErrorCode::TooManyAttempts));
    storm.assert_closed().await;
}

#[tokio::test]
async fn metrics_and_health_are_served_over_http() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics_addr = metrics_listener.local_addr().unwrap();
    let mut server = chinwag_server::Server::new(listener, config());
    server.add_metrics_listener(metrics_listener);
    let addr = server.local_addr().unwrap();
    let handle = server.handle();
    tokio::spawn(server.run());
    let test_server = TestServer {
        addr,
        handle: handle.clone(),
        task: tokio::spawn(async {}),
    };

    let mut raw = Raw::registered(&test_server, "alice").await;
    raw.send_bytes(&common::raw::frame(0x0d, 9, &[])).await;
    assert_eq!(raw.error().await, (9, ErrorCode::UnknownFrameType));

    let (status, body) = http_get(metrics_addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(body.contains("chinwag_connections_open 1\n"), "{body}");
    assert!(body.contains("chinwag_users_online 1\n"));
    assert!(body.contains("chinwag_connections_accepted_total 1\n"));
    assert!(body.contains("chinwag_frames_rejected_total 1\n"));
    assert!(body.contains("chinwag_errors_sent_total{code=\"102\",name=\"UnknownFrameType\"} 1\n"));
    assert!(body.contains("# TYPE chinwag_frames_in_total counter\n"));

    assert_eq!(
        http_get(metrics_addr, "/healthz").await,
        (200, "ok\n".into())
    );
    assert_eq!(http_get(metrics_addr, "/nope").await.0, 404);
    handle.shut_down("test over");
}

/// A bare HTTP/1.1 GET; returns the status and the body.
async fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut response = String::new();
    tokio::time::timeout(PATIENCE, stream.read_to_string(&mut response))
        .await
        .unwrap()
        .unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response.split_once("\r\n\r\n").unwrap().1.to_owned();
    (status, body)
}

#[tokio::test]
async fn a_configured_name_limit_is_announced_and_enforced() {
    let server = start_with(Config {
        limits: chinwag_proto::Limits {
            max_name: 8,
            ..chinwag_proto::Limits::DEFAULT
        },
        ..config()
    })
    .await;
    let (client, _events) = connect(&server).await;
    assert_eq!(client.welcome().max_name, 8);
    let error = client.register("ninechars", None).await.unwrap_err();
    assert_eq!(error.code(), Some(ErrorCode::InvalidName));
    client.register("eight888", None).await.unwrap();
}

#[tokio::test]
async fn a_frame_cut_off_by_a_disconnect_just_ends_the_connection() {
    let server = start().await;
    let mut bystander = Raw::registered(&server, "bystander").await;
    let mut raw = Raw::registered(&server, "cut").await;
    // A REFLECT announcing 18 bytes, of which only 9 arrive.
    raw.send_bytes(&[0, 0, 0, 18, 0x07, 0, 0, 0, 3, 0, 0, 0, 0])
        .await;
    drop(raw);
    let users = &server.handle.state().users;
    until("cut is gone", || users.get("cut").is_none()).await;
    bystander.ping_ok(4).await;
}

/// The attack the defaults are sized against: a guest pipes 10 000 lines.
/// The burst reaches the others, then the flooder is cut off for falling
/// more than 10 s behind; nobody else sees the rest.
#[tokio::test]
async fn the_default_flood_control_stops_a_piped_flood_after_its_burst() {
    let server = start_with(Config {
        rate: RateLimits::DEFAULT,
        ..config()
    })
    .await;
    let (watcher, mut watcher_events) = user(&server, "watcher").await;
    let mut flood = Raw::registered(&server, "flood").await;
    let mut batch = Vec::new();
    for id in 10..10_010 {
        let broadcast = Request::Broadcast(chinwag_proto::request::Broadcast {
            src: "".into(),
            content: format!("line {id}").into(),
            ..Default::default()
        });
        batch.extend_from_slice(
            &chinwag_proto::wire::Encode::to_frame(&broadcast, chinwag_proto::RequestId(id))
                .unwrap(),
        );
    }
    // The server may close the connection before taking all of it.
    let _ = flood.framed.get_mut().write_all(&batch).await;
    let last = loop {
        match flood.recv().await {
            (_, ServerFrame::Sent(_)) => {}
            (_, ServerFrame::Error { code, message }) => {
                assert_eq!(code, ErrorCode::RateLimited, "{message}");
                break message;
            }
            (_, other) => panic!("unexpected {other:?}"),
        }
    };
    assert!(last.contains("closing"), "{last}");
    // The watcher got the burst and no more: a PING behind them drains
    // what the server sent it before.
    watcher.ping().await.unwrap();
    let mut seen = 0;
    while let Some(event) = watcher_events.try_recv() {
        if matches!(event, chinwag_client::Event::Message(_)) {
            seen += 1;
        }
    }
    assert!(
        (1..=RateLimits::DEFAULT.request_burst as usize).contains(&seen),
        "{seen} lines reached the watcher"
    );
}

/// A request whose bytes trickle in and never complete is not a way to
/// hold a connection: it must be complete within the idle timeout of its
/// first byte.
#[tokio::test]
async fn a_frame_that_drips_in_and_never_completes_is_cut_off() {
    let server = start_with(Config {
        heartbeat: std::time::Duration::from_millis(500),
        ..config()
    })
    .await;
    let drip = Raw::registered(&server, "drip").await;
    let (rd, mut wr) = drip.framed.into_inner().into_split();
    // A PING frame's header promises its body; send one byte every 200 ms
    // and never the last.
    let ping =
        chinwag_proto::wire::Encode::to_frame(&Request::Ping, chinwag_proto::RequestId(7)).unwrap();
    let dripping = tokio::spawn(async move {
        for byte in &ping[..ping.len() - 1] {
            if wr.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        // Hold the connection open until the server gives up on it.
        tokio::time::sleep(PATIENCE).await;
    });
    let mut frames = tokio_util::codec::FramedRead::new(rd, chinwag_proto::ClientCodec::client());
    let packet = tokio::time::timeout(PATIENCE, futures::StreamExt::next(&mut frames))
        .await
        .expect("the server gives up on the frame")
        .expect("an answer before the close")
        .expect("decodable")
        .expect("a known frame");
    dripping.abort();
    let (id, frame) = (packet.id, packet.body);
    assert_eq!(id.0, 0);
    match frame {
        ServerFrame::Error { code, message } => {
            assert_eq!(code, ErrorCode::IdleTimeout);
            assert!(message.contains("started and not finished"), "{message}");
        }
        other => panic!("expected IdleTimeout, got {other:?}"),
    }
}
