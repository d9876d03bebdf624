//! TLS: a client with the right CA talks through the TLS listener as on the
//! plain one; the wrong CA, or the wrong protocol on either port, fails
//! cleanly and the server carries on.

mod common;

use std::path::PathBuf;

use chinwag_client::{Client, ConnectOptions, TlsOptions};
use chinwag_proto::ErrorCode;
use chinwag_server::Server;
use chinwag_server::config::TlsFiles;
use chinwag_server::tls::{self, GeneratedCert};
use common::*;
use tokio::net::TcpListener;

/// A temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("chinwag-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A server with a plain and a TLS listener; returns it, the TLS address
/// and the generated files.
async fn start_tls(dir: &TempDir) -> (TestServer, std::net::SocketAddr, GeneratedCert) {
    let files = tls::generate(&dir.0, &["localhost".into(), "127.0.0.1".into()]).unwrap();
    let acceptor = tls::acceptor(&TlsFiles {
        cert: files.cert.clone(),
        key: files.key.clone(),
    })
    .unwrap();
    let plain = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let secure = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tls_addr = secure.local_addr().unwrap();
    let mut server = Server::new(plain, config());
    server.add_tls_listener(secure, acceptor);
    let addr = server.local_addr().unwrap();
    let handle = server.handle();
    let task = tokio::spawn(server.run());
    (TestServer { addr, handle, task }, tls_addr, files)
}

fn trusting(ca: &std::path::Path) -> TlsOptions {
    TlsOptions {
        ca_file: Some(ca.to_owned()),
        server_name: None,
    }
}

#[tokio::test]
async fn tls_and_plain_clients_talk_to_each_other() {
    let dir = TempDir::new("tls-roundtrip");
    let (server, tls_addr, files) = start_tls(&dir).await;
    for addr in [
        format!("127.0.0.1:{}", tls_addr.port()),
        format!("localhost:{}", tls_addr.port()),
    ] {
        let (alice, _events) =
            Client::connect_tls(&addr, &trusting(&files.ca), ConnectOptions::default())
                .await
                .unwrap();
        alice.register("alice", None).await.unwrap();
        let (bob, mut bob_events) = user(&server, "bob").await;
        alice.send("bob", "over TLS").await.unwrap();
        let message = wait_for(&mut bob_events, |e| match e {
            chinwag_client::Event::Message(m) => Some(m),
            _ => None,
        })
        .await;
        assert_eq!(&*message.text, "over TLS");
        assert_eq!(alice.echo("hi").await.unwrap().content, "hi");
        alice.logout().await.unwrap();
        bob.logout().await.unwrap();
    }
}

#[tokio::test]
async fn the_wrong_ca_or_the_wrong_protocol_fails_cleanly() {
    let dir = TempDir::new("tls-wrong");
    let (server, tls_addr, files) = start_tls(&dir).await;
    let other = TempDir::new("tls-other-ca");
    let other_files = tls::generate(&other.0, &["localhost".into()]).unwrap();
    let addr = format!("127.0.0.1:{}", tls_addr.port());

    // A certificate from another CA is not trusted.
    let error = Client::connect_tls(&addr, &trusting(&other_files.ca), ConnectOptions::default())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("certificate"), "{error}");

    // A plain client on the TLS port gets no WELCOME: the server drops it.
    let error = Client::connect(tls_addr, ConnectOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            chinwag_client::ClientError::Io(_)
                | chinwag_client::ClientError::Closed
                | chinwag_client::ClientError::Protocol(_)
        ),
        "{error:?}"
    );

    // A TLS client on the plain port: its ClientHello reads as an absurd
    // frame length, so the server answers FrameTooLarge and closes.
    let plain = format!("127.0.0.1:{}", server.addr.port());
    assert!(
        Client::connect_tls(&plain, &trusting(&files.ca), ConnectOptions::default())
            .await
            .is_err()
    );

    let state = server.handle.state();
    assert!(state.metrics.tls_handshake_failures.get() >= 2);
    assert_eq!(state.metrics.errors_sent(ErrorCode::FrameTooLarge), 1);
    // The server is fine.
    let (alice, _events) = user(&server, "alice").await;
    alice.echo("still up").await.unwrap();
}
