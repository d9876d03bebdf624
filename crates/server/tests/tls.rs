//! TLS: a client with the right CA talks through the TLS listener as on the
//! plain one; the wrong CA, or the wrong protocol on either port, fails
//! cleanly and the server carries on.

mod common;

use std::path::PathBuf;

use chinwag_client::{Client, ClientError, ConnectOptions, TlsOptions};
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

    // A plain client on the TLS port gets a TLS alert for its HELLO, and
    // says so.
    let error = Client::connect(tls_addr, ConnectOptions::default())
        .await
        .unwrap_err();
    assert_eq!(error.to_string(), chinwag_client::tls::TLS_ON_PLAIN);
    assert!(matches!(error, ClientError::Tls(_)), "{error:?}");

    // A TLS client on the plain port: its ClientHello reads as an absurd
    // frame length, so the server answers FrameTooLarge (no TLS record)
    // and closes; the client says the server does not speak TLS there.
    let plain = format!("127.0.0.1:{}", server.addr.port());
    let error = Client::connect_tls(&plain, &trusting(&files.ca), ConnectOptions::default())
        .await
        .unwrap_err();
    assert_eq!(error.to_string(), chinwag_client::tls::NO_TLS_ANSWER);

    let state = server.handle.state();
    assert!(state.metrics.tls_handshake_failures.get() >= 2);
    assert_eq!(state.metrics.errors_sent(ErrorCode::FrameTooLarge), 1);
    // The server is fine.
    let (alice, _events) = user(&server, "alice").await;
    alice.echo("still up").await.unwrap();
}

/// A TLS client on chinwagd's plain listener is named in its log.
#[tokio::test]
async fn the_plain_listener_logs_a_tls_client() {
    let dir = TempDir::new("tls-log");
    let files = tls::generate(&dir.0, &["localhost".into()]).unwrap();
    let daemon = daemon::Daemon::start(&[
        "--admin-password",
        "x",
        "--tls-cert",
        files.cert.to_str().unwrap(),
        "--tls-key",
        files.key.to_str().unwrap(),
        "--tls-listen",
        "127.0.0.1:0",
    ]);
    let plain = format!("localhost:{}", daemon.addr.port());
    let error = Client::connect_tls(&plain, &trusting(&files.ca), ConnectOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Tls(_)), "{error:?}");
    daemon.expect_log("a TLS client connected to the plain listener");
}

/// A self-signed certificate marked as a CA, as `openssl req -x509` makes
/// it, with the subject CN=localhost and the subject alternative names
/// `names` (none: as `-subj /CN=localhost` makes it), expired if
/// `expired`, written to `dir` as `LABEL.pem` and `LABEL-key.pem`.
fn self_signed_ca(dir: &TempDir, label: &str, names: &[&str], expired: bool) -> TlsFiles {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    if expired {
        params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        params.not_after = rcgen::date_time_ymd(2001, 1, 1);
    }
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let files = TlsFiles {
        cert: dir.0.join(format!("{label}.pem")),
        key: dir.0.join(format!("{label}-key.pem")),
    };
    std::fs::write(&files.cert, cert.pem()).unwrap();
    std::fs::write(&files.key, key.serialize_pem()).unwrap();
    files
}

/// A server whose only listener speaks TLS with `files`.
async fn serve_tls(files: &TlsFiles) -> (TestServer, u16) {
    let acceptor = tls::acceptor(files).unwrap();
    let plain = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let secure = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = secure.local_addr().unwrap().port();
    let mut server = Server::new(plain, config());
    server.add_tls_listener(secure, acceptor);
    let addr = server.local_addr().unwrap();
    let handle = server.handle();
    let task = tokio::spawn(server.run());
    (TestServer { addr, handle, task }, port)
}

/// A CA certificate used as the server's own is accepted when the client's
/// CA file holds exactly that certificate (pinned), still only for its
/// names and within its validity; any other CA certificate is refused
/// with a way out.
#[tokio::test]
async fn a_ca_certificate_as_the_servers_own_is_trusted_only_when_pinned() {
    let dir = TempDir::new("tls-pinned");
    // As `openssl req -x509 ... -subj /CN=localhost` makes it: no host
    // names but the CN, which webpki does not read; the pin stands alone.
    let by_hand = self_signed_ca(&dir, "by-hand", &[], false);
    let (_by_hand_server, by_hand_port) = serve_tls(&by_hand).await;
    let (client, _events) = Client::connect_tls(
        &format!("localhost:{by_hand_port}"),
        &trusting(&by_hand.cert),
        ConnectOptions::default(),
    )
    .await
    .unwrap();
    client.register("alice", None).await.unwrap();
    client.echo("pinned").await.unwrap();

    // With host names: checked.
    let own = self_signed_ca(&dir, "own", &["localhost"], false);
    let (_server, port) = serve_tls(&own).await;
    let addr = format!("localhost:{port}");
    let (client, _events) =
        Client::connect_tls(&addr, &trusting(&own.cert), ConnectOptions::default())
            .await
            .unwrap();
    client.register("bob", None).await.unwrap();

    // Pinned, but the server is reached by a name it is not valid for.
    let elsewhere = TlsOptions {
        ca_file: Some(own.cert.clone()),
        server_name: Some("elsewhere.example".into()),
    };
    let error = Client::connect_tls(&addr, &elsewhere, ConnectOptions::default())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("not valid for"), "{error}");

    // Another CA certificate in the file: refused, saying what to do.
    let other = self_signed_ca(&dir, "other", &["localhost"], false);
    let error = Client::connect_tls(&addr, &trusting(&other.cert), ConnectOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Tls(_)), "{error:?}");
    assert!(error.to_string().contains("chinwagd cert"), "{error}");

    // Pinned, but expired.
    let expired = self_signed_ca(&dir, "expired", &["localhost"], true);
    let (_old_server, old_port) = serve_tls(&expired).await;
    let error = Client::connect_tls(
        &format!("localhost:{old_port}"),
        &trusting(&expired.cert),
        ConnectOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(error.to_string().contains("expired"), "{error}");
}
