//! The PROXY protocol through real sockets: behind a trusted proxy the
//! session, the address bans and the per-address limit see the address the
//! header names (v1 and v2, plain and TLS); a trusted listener closes a
//! connection without a valid header; an untrusted one refuses a header and
//! serves chat clients as before.
//!
//! Every "proxy" here is the test itself, writing a header on a loopback
//! connection with a documentation address (203.0.113.7) as the source.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use chinwag_client::{Client, ConnectOptions, Events, TlsOptions};
use chinwag_proto::ErrorCode;
use chinwag_proto::request::{Hello, Request};
use chinwag_proto::server::{NoticeKind, ServerFrame};
use chinwag_proto::wire::Encode;
use chinwag_server::config::TlsFiles;
use chinwag_server::{Config, Server, tls};
use common::raw::Raw;
use common::*;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::Framed;

/// The address the proxy vouches for in most tests.
const CLIENT_IP: &str = "203.0.113.7";

fn behind_proxy() -> Config {
    Config {
        proxy_protocol: true,
        ..config()
    }
}

/// A v1 header from `source` (to the proxy's own port 7070).
fn v1(source: SocketAddr) -> Vec<u8> {
    let family = if source.is_ipv4() { "TCP4" } else { "TCP6" };
    let destination = if source.is_ipv4() {
        "192.0.2.1"
    } else {
        "2001:db8::1"
    };
    let (ip, port) = (source.ip(), source.port());
    format!("PROXY {family} {ip} {destination} {port} 7070\r\n").into_bytes()
}

/// A v2 PROXY header from `source`, with a TLV after the addresses.
fn v2(source: SocketAddr) -> Vec<u8> {
    let mut body = Vec::new();
    let family = match source {
        SocketAddr::V4(a) => {
            body.extend_from_slice(&a.ip().octets());
            body.extend_from_slice(&[192, 0, 2, 1]);
            0x11
        }
        SocketAddr::V6(a) => {
            body.extend_from_slice(&a.ip().octets());
            body.extend_from_slice(
                &"2001:db8::1"
                    .parse::<std::net::Ipv6Addr>()
                    .unwrap()
                    .octets(),
            );
            0x21
        }
    };
    body.extend_from_slice(&source.port().to_be_bytes());
    body.extend_from_slice(&7070u16.to_be_bytes());
    // A NOOP TLV, which the server skips.
    body.extend_from_slice(&[0x04, 0x00, 0x02, 0xAA, 0xBB]);
    let mut header = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    header.extend_from_slice(&[0x21, family]);
    header.extend_from_slice(&(body.len() as u16).to_be_bytes());
    header.extend_from_slice(&body);
    header
}

fn from(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

/// A loopback connection to `addr` that has sent `header`.
async fn proxied(addr: SocketAddr, header: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(header).await.unwrap();
    stream
}

/// A client behind the proxy: `header`, then HELLO.
async fn client_via(server: &TestServer, header: &[u8]) -> (Client, Events) {
    Client::connect_stream(
        proxied(server.addr, header).await,
        ConnectOptions::default(),
    )
    .await
    .unwrap()
}

/// A raw connection behind the proxy, before HELLO.
async fn raw_via(server: &TestServer, header: &[u8]) -> Raw {
    Raw {
        framed: Framed::new(
            proxied(server.addr, header).await,
            chinwag_proto::ClientCodec::client(),
        ),
    }
}

/// The address GETALLUSER shows for `name`.
async fn seen_address(admin: &Client, name: &str) -> String {
    let users = admin.users().await.unwrap();
    let user = users.iter().find(|u| &*u.name == name).unwrap();
    user.addr.to_string()
}

fn code<T: std::fmt::Debug>(result: Result<T, chinwag_client::ClientError>) -> ErrorCode {
    result
        .unwrap_err()
        .code()
        .expect("an ERROR from the server")
}

/// Waits until the peer has closed `stream`, without the server having
/// sent a byte.
async fn closed_silently<S: AsyncRead + Unpin>(stream: &mut S) {
    use tokio::io::AsyncReadExt;
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(PATIENCE, stream.read(&mut byte))
        .await
        .expect("timed out waiting for the close");
    assert!(matches!(read, Ok(0) | Err(_)), "got {read:?}");
}

#[tokio::test]
async fn sessions_and_bans_see_the_address_the_header_names() {
    let server = start_with(behind_proxy()).await;
    // The proxy's own health check style connection: the socket's address
    // stands.
    let (root, _) = client_via(&server, b"PROXY UNKNOWN\r\n").await;
    root.register("root", None).await.unwrap();
    root.admin(ADMIN_PASSWORD).await.unwrap();

    let (carol, mut carol_events) = client_via(&server, &v1(from("203.0.113.7:40001"))).await;
    carol.register("carol", None).await.unwrap();
    let (dave, mut dave_events) = client_via(&server, &v2(from("203.0.113.7:40002"))).await;
    dave.register("dave", None).await.unwrap();
    let (erin, _) = client_via(&server, &v2(from("[2001:db8::7]:40003"))).await;
    erin.register("erin", None).await.unwrap();
    let (frank, _) = client_via(&server, &v1(from("[2001:db8::8]:40004"))).await;
    frank.register("frank", None).await.unwrap();

    assert_eq!(seen_address(&root, "carol").await, "203.0.113.7:40001");
    assert_eq!(seen_address(&root, "dave").await, "203.0.113.7:40002");
    assert_eq!(seen_address(&root, "erin").await, "[2001:db8::7]:40003");
    assert_eq!(seen_address(&root, "frank").await, "[2001:db8::8]:40004");
    assert!(seen_address(&root, "root").await.starts_with("127.0.0.1:"));

    // A ban on the real address reaches both of its users, and keeps it
    // out afterwards, over either version; other addresses behind the same
    // proxy are not touched.
    root.ban(CLIENT_IP, None, "from a load balancer")
        .await
        .unwrap();
    notice(&mut carol_events, NoticeKind::Banned).await;
    notice(&mut dave_events, NoticeKind::Banned).await;
    for header in [v1(from("203.0.113.7:40005")), v2(from("203.0.113.7:40006"))] {
        let (again, _) = client_via(&server, &header).await;
        assert_eq!(
            code(again.register("carol2", None).await),
            ErrorCode::Banned
        );
    }
    erin.echo("still here").await.unwrap();
    let (grace, _) = client_via(&server, &v1(from("198.51.100.9:40007"))).await;
    grace.register("grace", None).await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn the_per_address_limit_counts_the_real_address() {
    // Loopback, the proxy's own address, is exempt: only the real
    // addresses can hit the limit.
    let server = start_with(Config {
        max_connections_per_ip: 1,
        ..behind_proxy()
    })
    .await;
    let mut first = raw_via(&server, &v1(from("203.0.113.7:40001"))).await;
    first = first.register("first").await;
    let mut second = raw_via(&server, &v2(from("203.0.113.7:40002"))).await;
    assert_eq!(second.error().await, (0, ErrorCode::TooManyConnections));
    second.assert_closed().await;
    raw_via(&server, &v1(from("198.51.100.9:40003")))
        .await
        .register("other")
        .await
        .ping_ok(5)
        .await;
    first.ping_ok(6).await;
    let state = server.handle.state();
    assert_eq!(state.admission.open_from(CLIENT_IP.parse().unwrap()), 1);
    server.stop().await;
}

#[tokio::test]
async fn a_trusted_listener_closes_connections_without_a_valid_header() {
    let server = start_with(Config {
        handshake_timeout: Duration::from_millis(300),
        ..behind_proxy()
    })
    .await;
    // Silent: closed at the handshake timeout, without an answer.
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    closed_silently(&mut silent).await;
    // A chat client straight to the listener, bypassing the proxy.
    let mut direct = TcpStream::connect(server.addr).await.unwrap();
    let hello = Request::Hello(Hello::current("direct"))
        .to_frame(chinwag_proto::RequestId(1))
        .unwrap();
    direct.write_all(&hello).await.unwrap();
    closed_silently(&mut direct).await;
    // A malformed header, and a header cut short.
    let mut malformed = proxied(server.addr, b"PROXY TCP4 203.0.113.300 192.0.2.1 1 2\r\n").await;
    closed_silently(&mut malformed).await;
    let mut cut = proxied(server.addr, b"PROXY TCP4 203.0.113.7 ").await;
    closed_silently(&mut cut).await;
    assert_eq!(server.handle.state().admission.open(), 0, "never admitted");

    // The header may arrive in pieces.
    let header = v2(from("203.0.113.7:40001"));
    let mut stream = proxied(server.addr, &header[..5]).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    stream.write_all(&header[5..]).await.unwrap();
    let (client, _) = Client::connect_stream(stream, ConnectOptions::default())
        .await
        .unwrap();
    client.register("pieces", None).await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn an_untrusted_listener_refuses_a_header_and_serves_chat_clients_as_before() {
    let server = start().await;
    for header in [v1(from("203.0.113.7:40001")), v2(from("203.0.113.7:40002"))] {
        let mut stream = proxied(server.addr, &header).await;
        let hello = Request::Hello(Hello::current("posing"))
            .to_frame(chinwag_proto::RequestId(1))
            .unwrap();
        stream.write_all(&hello).await.unwrap();
        closed_silently(&mut stream).await;
    }
    // "PROXY " sent in pieces is refused too.
    let mut pieces = proxied(server.addr, b"PRO").await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    pieces.write_all(b"XY UNKNOWN\r\n").await.unwrap();
    closed_silently(&mut pieces).await;

    // A chat client whose first bytes come alone is served.
    let hello = Request::Hello(Hello::current("slow"))
        .to_frame(chinwag_proto::RequestId(1))
        .unwrap();
    let mut slow = Raw::connect(&server).await;
    slow.send_bytes(&hello[..2]).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    slow.send_bytes(&hello[2..]).await;
    assert!(matches!(slow.recv().await.1, ServerFrame::Welcome(_)));
    // Garbage is answered as before.
    let mut http = Raw::connect(&server).await;
    http.send_bytes(b"POST / HTTP/1.1\r\n\r\n").await;
    assert_eq!(http.error().await, (0, ErrorCode::FrameTooLarge));

    let (root, _) = admin(&server, "root").await;
    assert!(seen_address(&root, "root").await.starts_with("127.0.0.1:"));
    server.stop().await;
}

#[tokio::test]
async fn a_silent_client_on_an_untrusted_listener_gets_the_handshake_timeout() {
    let server = start_with(Config {
        handshake_timeout: Duration::from_millis(300),
        ..config()
    })
    .await;
    let mut raw = Raw::connect(&server).await;
    assert_eq!(raw.error().await, (0, ErrorCode::HandshakeTimeout));
    raw.assert_closed().await;
    until("the place is free", || server.handle.connections() == 0).await;
}

/// A server behind the proxy with a TLS listener beside the plain one.
async fn start_tls_behind_proxy(dir: &std::path::Path) -> (TestServer, SocketAddr, TlsOptions) {
    let files = tls::generate(dir, &["localhost".into()]).unwrap();
    let acceptor = tls::acceptor(&TlsFiles {
        cert: files.cert.clone(),
        key: files.key.clone(),
    })
    .unwrap();
    let plain = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let secure = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tls_addr = secure.local_addr().unwrap();
    let mut server = Server::new(plain, behind_proxy());
    server.add_tls_listener(secure, acceptor);
    let addr = server.local_addr().unwrap();
    let handle = server.handle();
    let task = tokio::spawn(server.run());
    let trust = TlsOptions {
        ca_file: Some(files.ca.clone()),
        server_name: Some("localhost".into()),
    };
    (TestServer { addr, handle, task }, tls_addr, trust)
}

/// The TLS handshake over `stream`, then HELLO.
async fn tls_client<S>(stream: S, trust: &TlsOptions) -> (Client, Events)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let connector = chinwag_client::tls::connector(trust).unwrap();
    let name = chinwag_client::tls::server_name("localhost:0", trust).unwrap();
    let stream = connector.connect(name, stream).await.unwrap();
    Client::connect_stream(stream, ConnectOptions::default())
        .await
        .unwrap()
}

#[tokio::test]
async fn on_a_tls_listener_the_header_comes_before_the_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let (server, tls_addr, trust) = start_tls_behind_proxy(dir.path()).await;
    let (root, _) = client_via(&server, b"PROXY UNKNOWN\r\n").await;
    root.register("root", None).await.unwrap();
    root.admin(ADMIN_PASSWORD).await.unwrap();

    let header = v2(from("203.0.113.7:40001"));
    let (carol, _) = tls_client(proxied(tls_addr, &header).await, &trust).await;
    carol.register("carol", None).await.unwrap();
    assert_eq!(seen_address(&root, "carol").await, "203.0.113.7:40001");

    // Without the header the TLS listener closes the connection too.
    let connector = chinwag_client::tls::connector(&trust).unwrap();
    let name = chinwag_client::tls::server_name("localhost:0", &trust).unwrap();
    let bare = TcpStream::connect(tls_addr).await.unwrap();
    assert!(connector.connect(name, bare).await.is_err());
    server.stop().await;
}

#[test]
fn the_setting_comes_from_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chinwagd.toml");
    std::fs::write(&path, "proxy_protocol = true\n").unwrap();
    let no_env = |_: &str| None;
    let config = chinwag_server::config::resolve(Some(&path), &no_env, &[]).unwrap();
    assert!(config.proxy_protocol);
    let default = chinwag_server::config::resolve(None, &no_env, &[]).unwrap();
    assert!(!default.proxy_protocol, "off unless asked for");
}
