//! TLS between a node and the services it depends on: a NATS server that
//! takes only TLS (`tls://` URLs, `--cluster-ca`) and PostgreSQL behind a
//! TLS endpoint (`sslmode=require`, `--database-ca`). Each side checks the
//! other's certificate: with the right authority the node connects, with
//! none it refuses, and says why. The certificates are throw-away ones made
//! for 127.0.0.1, as `chinwagd cert` makes them.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chinwag_proto::UserName;
use chinwag_proto::server::Timestamp;
use chinwag_server::cluster::{Cluster, ClusterConfig, NodeId};
use chinwag_server::config::TlsFiles;
use chinwag_server::store::{PostgresStore, Store};
use chinwag_server::tls::{GeneratedCert, acceptor, generate};
use common::nats::Nats;
use common::postgres::TestDatabase;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn certificate(dir: &tempfile::TempDir) -> GeneratedCert {
    generate(dir.path(), &["127.0.0.1".to_owned()]).unwrap()
}

fn cluster_config(url: String, ca: Option<std::path::PathBuf>) -> ClusterConfig {
    ClusterConfig {
        servers: vec![url],
        ca,
        node: NodeId::parse("tls-node").unwrap(),
        node_timeout: ClusterConfig::DEFAULT_NODE_TIMEOUT,
        request_timeout: Duration::from_secs(2),
    }
}

#[tokio::test]
async fn a_node_reaches_nats_over_tls_and_checks_its_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cert = certificate(&dir);
    let nats = Nats::start_tls(cert.cert.clone(), cert.key.clone());
    assert!(nats.url().starts_with("tls://"));

    let cluster = Cluster::connect(
        cluster_config(nats.url(), Some(cert.ca.clone())),
        "127.0.0.1:0",
    )
    .await
    .expect("a node trusting the server's authority connects");
    assert!(cluster.is_connected());
    drop(cluster);

    // The server's certificate is signed by an authority the node was not
    // told to trust.
    let refused = Cluster::connect(cluster_config(nats.url(), None), "127.0.0.1:0").await;
    assert!(refused.is_err(), "an unknown authority is refused");
}

/// A PostgreSQL TLS endpoint in front of a real server: it answers the
/// client's SSLRequest with `S`, completes the TLS handshake with `cert`,
/// and passes the decrypted bytes to PostgreSQL (which sees a plain
/// connection). Counts the handshakes that completed.
struct TlsEndpoint {
    addr: SocketAddr,
    handshakes: Arc<AtomicUsize>,
}

/// The first message of a client that asks for TLS: its length (8) and
/// the SSLRequest code.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

impl TlsEndpoint {
    async fn start(postgres: SocketAddr, cert: &GeneratedCert) -> TlsEndpoint {
        let acceptor = acceptor(&TlsFiles {
            cert: cert.cert.clone(),
            key: cert.key.clone(),
        })
        .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let handshakes = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&handshakes);
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let counted = Arc::clone(&counted);
                tokio::spawn(async move {
                    let mut first = [0u8; 8];
                    client.read_exact(&mut first).await?;
                    if first != SSL_REQUEST {
                        // A client that does not ask for TLS is refused.
                        return Ok::<_, std::io::Error>(());
                    }
                    client.write_all(b"S").await?;
                    let mut client = acceptor.accept(client).await?;
                    counted.fetch_add(1, Ordering::SeqCst);
                    let mut server = TcpStream::connect(postgres).await?;
                    tokio::io::copy_bidirectional(&mut client, &mut server).await?;
                    Ok(())
                });
            }
        });
        TlsEndpoint { addr, handshakes }
    }
}

/// `db`'s URL, through `endpoint`, asking for TLS.
fn over_tls(db: &TestDatabase, endpoint: &TlsEndpoint) -> String {
    let host = db.url.split_once('@').unwrap().1.split('/').next().unwrap();
    let url = db.url.replace(host, &endpoint.addr.to_string());
    format!("{url}?sslmode=require")
}

#[tokio::test]
async fn the_store_reaches_postgres_over_tls_and_checks_its_certificate() {
    let db = TestDatabase::create().await;
    let host = db.url.split_once('@').unwrap().1.split('/').next().unwrap();
    let postgres: SocketAddr = host.parse().expect("PostgreSQL at an IP:PORT");
    let dir = tempfile::tempdir().unwrap();
    let cert = certificate(&dir);
    let endpoint = TlsEndpoint::start(postgres, &cert).await;
    let url = over_tls(&db, &endpoint);

    let store = PostgresStore::connect_trusting(&url, Some(&cert.ca))
        .await
        .expect("a store trusting the endpoint's authority connects");
    let name = UserName::parse("tls-user").unwrap();
    let created = store
        .create_account(name.clone(), "hash".into(), Timestamp::now())
        .await
        .unwrap();
    assert!(created, "a write went through");
    let account = store.account(name.key()).await.unwrap();
    assert!(account.is_some(), "and reads back");
    assert!(
        endpoint.handshakes.load(Ordering::SeqCst) > 0,
        "every byte went over TLS"
    );
    drop(store);

    let Err(refused) = PostgresStore::connect(&url).await else {
        panic!("an unknown authority is refused");
    };
    assert!(
        refused.to_string().contains("cannot reach PostgreSQL"),
        "{refused}"
    );

    // A CA file for a URL that does not ask for TLS is a mistake, said
    // at once rather than ignored.
    let Err(mistake) = PostgresStore::connect_trusting(&db.url, Some(&cert.ca)).await else {
        panic!("a CA file without sslmode=require is refused");
    };
    assert!(mistake.to_string().contains("sslmode=require"), "{mistake}");
}
