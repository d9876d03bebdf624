//! Malformed frames, protocol violations, timeouts and slow readers, sent
//! over raw sockets: each gets a defined answer, and other clients carry on.

mod common;

use std::time::Duration;

use bytes::BytesMut;
use chinwag_proto::request::{Broadcast, Hello, Request};
use chinwag_proto::server::NoticeKind;
use chinwag_proto::wire::Encode;
use chinwag_proto::{ErrorCode, RequestId, ServerFrame};
use common::raw::{Raw, frame};
use common::*;

#[tokio::test]
async fn a_malformed_body_gets_an_error_and_the_connection_goes_on() {
    let server = start().await;
    let mut raw = Raw::registered(&server, "alice").await;
    // TRANSFER whose `dst` says 200 bytes follow but only 3 do.
    raw.send_bytes(&frame(0x00, 7, &[0, 0, 0, 200, b'b', b'o', b'b']))
        .await;
    assert_eq!(raw.error().await, (7, ErrorCode::MalformedFrame));
    // Invalid UTF-8 in the content.
    raw.send_bytes(&frame(0x07, 8, &[0, 0, 0, 0, 0, 2, 0xff, 0xfe]))
        .await;
    assert_eq!(raw.error().await, (8, ErrorCode::MalformedFrame));
    // Trailing bytes after a PING.
    raw.send_bytes(&frame(0x0B, 9, &[1, 2, 3])).await;
    assert_eq!(raw.error().await, (9, ErrorCode::MalformedFrame));
    // An unknown type, and a server-only type sent by a client.
    raw.send_bytes(&frame(0x7e, 10, b"")).await;
    assert_eq!(raw.error().await, (10, ErrorCode::UnknownFrameType));
    raw.send_bytes(&frame(0x90, 11, b"")).await;
    assert_eq!(raw.error().await, (11, ErrorCode::UnknownFrameType));
    raw.ping_ok(12).await;
}

#[tokio::test]
async fn an_oversized_frame_closes_only_that_connection() {
    let server = start().await;
    let mut bystander = Raw::registered(&server, "bystander").await;
    let mut raw = Raw::registered(&server, "mallory").await;
    // A length far above the limit: refused from the prefix alone.
    raw.send_bytes(&[0x7f, 0xff, 0xff, 0xff, 0x00]).await;
    assert_eq!(raw.error().await, (0, ErrorCode::FrameTooLarge));
    raw.assert_closed().await;
    // A length below the header size is just as fatal.
    let mut raw = Raw::registered(&server, "mallory2").await;
    raw.send_bytes(&[0, 0, 0, 2, 0, 0]).await;
    assert_eq!(raw.error().await, (0, ErrorCode::FrameTooLarge));
    raw.assert_closed().await;

    bystander.ping_ok(3).await;
    let mut fresh = Raw::registered(&server, "fresh").await;
    fresh.ping_ok(3).await;
}

#[tokio::test]
async fn too_many_bad_frames_close_the_connection() {
    let server = start().await;
    let mut raw = Raw::registered(&server, "mallory").await;
    for id in 1..=10 {
        raw.send_bytes(&frame(0x7e, id, b"")).await;
    }
    for id in 1..=10 {
        assert_eq!(raw.error().await, (id, ErrorCode::UnknownFrameType));
    }
    assert_eq!(raw.error().await, (0, ErrorCode::TooManyErrors));
    raw.assert_closed().await;
}

#[tokio::test]
async fn the_first_frame_must_be_hello() {
    let server = start().await;
    let mut raw = Raw::connect(&server).await;
    raw.send(1, Request::Ping).await;
    assert_eq!(raw.error().await, (1, ErrorCode::HandshakeRequired));
    raw.assert_closed().await;

    // An unknown frame type first: the same, not a second chance.
    let mut raw = Raw::connect(&server).await;
    raw.send_bytes(&frame(0x7e, 2, b"")).await;
    assert_eq!(raw.error().await, (2, ErrorCode::HandshakeRequired));
    raw.assert_closed().await;

    // A HELLO cut short: malformed, and the connection ends.
    let mut raw = Raw::connect(&server).await;
    raw.send_bytes(&frame(0x0C, 3, b"CHW")).await;
    assert_eq!(raw.error().await, (3, ErrorCode::MalformedFrame));
    raw.assert_closed().await;
}

#[tokio::test]
async fn an_unknown_version_or_bad_magic_is_refused() {
    let server = start().await;
    let mut raw = Raw::connect(&server).await;
    raw.send(
        1,
        Request::Hello(Hello {
            version: 99,
            client: "future".into(),
            server_password: "".into(),
        }),
    )
    .await;
    assert_eq!(raw.error().await, (1, ErrorCode::UnsupportedVersion));
    raw.assert_closed().await;

    let mut raw = Raw::connect(&server).await;
    raw.send_bytes(&frame(0x0C, 1, b"HTTP\x00\x01\x00\x00"))
        .await;
    assert_eq!(raw.error().await, (1, ErrorCode::UnsupportedVersion));
}

#[tokio::test]
async fn something_that_is_not_chinwag_is_refused() {
    let server = start().await;
    let mut raw = Raw::connect(&server).await;
    raw.send_bytes(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(raw.error().await, (0, ErrorCode::FrameTooLarge));
    raw.assert_closed().await;
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_handshake_timeout() {
    let server = start_with(chinwag_server::Config {
        handshake_timeout: Duration::from_millis(300),
        ..config()
    })
    .await;
    let mut raw = Raw::connect(&server).await;
    assert_eq!(raw.error().await, (0, ErrorCode::HandshakeTimeout));
    raw.assert_closed().await;
    // The server lingers until the client closes its side too (so that a
    // client still sending does not lose the error); then the place is free.
    drop(raw);
    until("the place is free", || server.handle.connections() == 0).await;
}

#[tokio::test]
async fn an_idle_connection_is_closed_after_the_idle_timeout() {
    let server = start_with(chinwag_server::Config {
        heartbeat: Duration::from_millis(200),
        ..config()
    })
    .await;
    let mut raw = Raw::registered(&server, "sleepy").await;
    assert_eq!(raw.error().await, (0, ErrorCode::IdleTimeout));
    raw.assert_closed().await;
}

#[tokio::test]
async fn connections_over_the_limit_are_told_the_server_is_busy() {
    let server = start_with(chinwag_server::Config {
        max_connections: 2,
        ..config()
    })
    .await;
    let mut a = Raw::registered(&server, "a").await;
    let _b = Raw::registered(&server, "b").await;
    let mut c = Raw::connect(&server).await;
    assert_eq!(c.error().await, (0, ErrorCode::ServerBusy));
    c.assert_closed().await;
    a.ping_ok(5).await;
}

#[tokio::test]
async fn a_reader_that_never_reads_is_cut_off_without_slowing_the_others() {
    let server = start_with(chinwag_server::Config {
        outbox_frames: 64,
        outbox_bytes: 64 * 1024,
        ..config()
    })
    .await;
    // The stuck reader registers, then never reads another byte.
    let stuck = Raw::connect_small_buffer(&server)
        .await
        .register("stuck")
        .await;
    let (alice, mut alice_events) = user(&server, "alice").await;
    let (_bob, mut bob_events) = user(&server, "bob").await;

    let text = "x".repeat(4000);
    let mut stuck_left = false;
    let mut sent = 0;
    // Enough to fill the stuck reader's socket buffers and its queue many
    // times over; bounded in count, so the test ends by itself.
    for _ in 0..10_000 {
        alice.broadcast(&text).await.unwrap();
        sent += 1;
        // Drain bob as a well-behaved client would.
        while let Ok(Some(_)) =
            tokio::time::timeout(Duration::from_millis(0), bob_events.recv()).await
        {}
        if server.handle.state().users.get("stuck").is_none() {
            stuck_left = true;
            break;
        }
    }
    assert!(
        stuck_left,
        "the stuck reader was never cut off ({sent} sent)"
    );
    let left = notice(&mut alice_events, NoticeKind::Left).await;
    assert_eq!(&*left.subject, "stuck");
    // Everyone else is fine.
    alice.send("bob", "still here").await.unwrap();
    assert_eq!(alice.users().await.unwrap().len(), 2);
    drop(stuck);
}

#[tokio::test]
async fn a_client_may_pipeline_requests_without_waiting() {
    let server = start().await;
    let mut raw = Raw::registered(&server, "piper").await;
    let mut batch = BytesMut::new();
    for id in 100..200u32 {
        Request::Broadcast(Broadcast {
            src: "".into(),
            content: format!("n{id}").into(),
            ..Default::default()
        })
        .encode(RequestId(id), &mut batch)
        .unwrap();
    }
    raw.send_bytes(&batch).await;
    for id in 100..200u32 {
        let (got, frame) = raw.recv().await;
        assert_eq!(got.0, id, "replies come back in order");
        assert!(matches!(frame, ServerFrame::Sent(_)), "{frame:?}");
    }
}

#[tokio::test]
async fn a_bad_magic_closes_the_connection() {
    let server = start().await;
    let mut raw = Raw::connect(&server).await;
    raw.send_bytes(&frame(0x0C, 1, b"HTTP\x00\x01\x00\x00"))
        .await;
    assert_eq!(raw.error().await, (1, ErrorCode::UnsupportedVersion));
    raw.assert_closed().await;
}

#[tokio::test]
async fn src_is_checked_before_register_and_on_logout() {
    use chinwag_proto::request::Logout;
    let server = start().await;
    let mut raw = Raw::connect(&server).await;
    raw.send(1, Request::Hello(Hello::current("raw-test")))
        .await;
    raw.recv().await;
    raw.send(
        2,
        Request::Logout(Logout {
            src: "bob".into(),
            ..Default::default()
        }),
    )
    .await;
    assert_eq!(raw.error().await, (2, ErrorCode::SpoofedSource));
    let mut raw = Raw::registered(&server, "alice").await;
    raw.send(
        3,
        Request::Logout(Logout {
            src: "bob".into(),
            ..Default::default()
        }),
    )
    .await;
    assert_eq!(raw.error().await, (3, ErrorCode::SpoofedSource));
    raw.ping_ok(4).await;
}
