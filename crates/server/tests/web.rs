//! The web front end through real sockets: a WebSocket client (JSON) and
//! native clients on one server. They chat both ways, one account is open
//! in both at once, and bad input (malformed JSON, binary and oversized
//! messages, floods, a reader that never reads, another site's page) gets
//! a clear answer and close code while the others carry on.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use chinwag_client::{ConnectOptions, Event, RegisterOptions};
use chinwag_proto::server::NoticeKind;
use chinwag_server::Server;
use chinwag_server::ratelimit::RateLimits;
use common::*;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

struct WebServer {
    server: TestServer,
    web: SocketAddr,
}

/// A server with a native and a web listener, both on free ports.
async fn start_web(config: chinwag_server::Config) -> WebServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let trusted = config.web_trusted_proxies.clone();
    let mut server = Server::new(listener, config);
    let web_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let web = web_listener.local_addr().unwrap();
    server
        .add_web_listener(web_listener, None, &trusted)
        .unwrap();
    let addr = server.local_addr().unwrap();
    let handle = server.handle();
    let task = tokio::spawn(server.run());
    WebServer {
        server: TestServer { addr, handle, task },
        web,
    }
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A WebSocket client speaking the JSON protocol.
struct Web {
    socket: Socket,
    next_rid: u32,
    /// Events read while waiting for a reply.
    events: Vec<Value>,
}

impl Web {
    async fn connect(web: SocketAddr) -> Web {
        let (socket, _) = tokio_tungstenite::connect_async(format!("ws://{web}/ws"))
            .await
            .unwrap();
        Web {
            socket,
            next_rid: 1,
            events: Vec::new(),
        }
    }

    /// Connected, greeted and registered as `name`.
    async fn user(web: SocketAddr, name: &str, password: &str) -> Web {
        let mut client = Web::connect(web).await;
        let welcome = client
            .request("hello", json!({"version": 1, "client": "test"}))
            .await;
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        let registered = client
            .request(
                "register",
                json!({"name": name, "password": password, "multi_session": true}),
            )
            .await;
        assert_eq!(registered["type"], "registered", "{registered}");
        client
    }

    async fn send_text(&mut self, text: String) {
        self.socket.send(Message::text(text)).await.unwrap();
    }

    /// Sends a request and returns its reply.
    async fn request(&mut self, ty: &str, body: Value) -> Value {
        let rid = self.next_rid;
        self.next_rid += 1;
        let message = json!({"rid": rid, "type": ty, "body": body});
        self.send_text(message.to_string()).await;
        loop {
            let value = self.recv().await;
            if value["rid"] == rid {
                return value;
            }
            self.events.push(value);
        }
    }

    /// The next message from the server.
    async fn recv(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .expect("nothing from the server")
                .expect("the socket ended")
                .expect("a WebSocket error");
            match message {
                Message::Text(text) => return serde_json::from_str(&text).unwrap(),
                Message::Close(frame) => panic!("closed: {frame:?}"),
                _ => {}
            }
        }
    }

    /// The first event (kept or new) that `pick` accepts.
    async fn event(&mut self, pick: impl Fn(&Value) -> bool) -> Value {
        if let Some(at) = self.events.iter().position(&pick) {
            return self.events.remove(at);
        }
        loop {
            let value = self.recv().await;
            if pick(&value) {
                return value;
            }
        }
    }

    /// Reads until the server closes: the text messages before, and the
    /// close code and reason.
    async fn closed(&mut self) -> (Vec<Value>, u16, String) {
        let mut before = Vec::new();
        loop {
            let next = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .expect("the server did not close");
            match next {
                Some(Ok(Message::Text(text))) => before.push(serde_json::from_str(&text).unwrap()),
                Some(Ok(Message::Close(Some(frame)))) => {
                    return (before, u16::from(frame.code), frame.reason.to_string());
                }
                Some(Ok(Message::Close(None))) | None => panic!("closed without a code"),
                Some(Ok(_)) => {}
                Some(Err(error)) => panic!("{error}"),
            }
        }
    }
}

fn is_message(value: &Value) -> bool {
    value["type"] == "message"
}

#[tokio::test]
async fn a_web_user_and_a_native_user_chat_both_ways() {
    let web = start_web(config()).await;
    let (bob, mut bob_events) = user(&web.server, "bob").await;
    // An account: only accounts have direct message history.
    let mut alice = Web::user(web.web, "alice", "alice's password").await;
    let joined = notice(&mut bob_events, NoticeKind::Joined).await;
    assert_eq!(&*joined.subject, "alice");

    // Web to native, with CJK and emoji.
    let sent = alice
        .request("transfer", json!({"dst": "bob", "content": "你好 bob 👋"}))
        .await;
    assert_eq!(sent["type"], "sent", "{sent}");
    let got = wait_for(&mut bob_events, |e| match e {
        Event::Message(m) => Some(m),
        _ => None,
    })
    .await;
    assert_eq!((&*got.from, &*got.text), ("alice", "你好 bob 👋"));
    assert_eq!(sent["body"]["id"], got.id.0);

    // Native to web.
    bob.send("alice", "こんにちは alice").await.unwrap();
    let message = alice.event(is_message).await;
    assert_eq!(message["body"]["from"], "bob");
    assert_eq!(message["body"]["kind"], "direct");
    assert_eq!(message["body"]["text"], "こんにちは alice");
    assert!(message.get("rid").is_none(), "an event answers no request");

    // A room of both front ends.
    bob.join("#mixed", None).await.unwrap();
    let joined = alice.request("join", json!({"room": "#mixed"})).await;
    assert_eq!(joined["type"], "room_list", "{joined}");
    bob.say("#mixed", "welcome").await.unwrap();
    let said = alice.event(is_message).await;
    assert_eq!(
        (said["body"]["kind"].as_str(), said["body"]["to"].as_str()),
        (Some("room"), Some("#mixed"))
    );
    let members = alice.request("members", json!({"room": "#mixed"})).await;
    let names: Vec<&str> = members["body"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{members}");

    // History, the native request, newest first.
    let page = alice
        .request("history", json!({"dst": "bob", "limit": 10}))
        .await;
    let texts: Vec<&str> = page["body"]
        .as_array()
        .unwrap_or_else(|| panic!("{page}"))
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["こんにちは alice", "你好 bob 👋"]);

    // Semantic errors are replies; the connection lives on.
    let error = alice
        .request("transfer", json!({"dst": "nobody", "content": "hi"}))
        .await;
    assert_eq!(
        (error["type"].as_str(), error["body"]["code"].as_u64()),
        (Some("error"), Some(205))
    );
    let pong = alice.request("ping", Value::Null).await;
    assert_eq!(pong["type"], "pong");

    let logout = alice.request("logout", json!({})).await;
    assert_eq!(logout["type"], "ok", "{logout}");
    let (_, code, _) = alice.closed().await;
    assert_eq!(code, 1000);
    let left = notice(&mut bob_events, NoticeKind::Left).await;
    assert_eq!(&*left.subject, "alice");
}

#[tokio::test]
async fn one_account_in_the_browser_and_the_terminal_at_once() {
    let web = start_web(config()).await;
    let (carol, mut carol_events) = connect(&web.server).await;
    carol
        .register_with("carol", Some("secret pw"), &RegisterOptions::default())
        .await
        .unwrap();
    let mut carol_web = Web::user(web.web, "carol", "secret pw").await;
    let (dave, _dave_events) = user(&web.server, "dave").await;

    // A message to carol reaches both of her sessions.
    dave.send("carol", "to both").await.unwrap();
    let on_web = carol_web.event(is_message).await;
    assert_eq!(on_web["body"]["text"], "to both");
    let on_native = wait_for(&mut carol_events, |e| match e {
        Event::Message(m) => Some(m),
        _ => None,
    })
    .await;
    assert_eq!(&*on_native.text, "to both");

    // What she sends from the browser, her terminal sees too.
    carol_web
        .request(
            "transfer",
            json!({"dst": "dave", "content": "from the browser"}),
        )
        .await;
    let echo = wait_for(&mut carol_events, |e| match e {
        Event::Message(m) => Some(m),
        _ => None,
    })
    .await;
    assert_eq!(
        (&*echo.from, &*echo.to, &*echo.text),
        ("carol", "dave", "from the browser")
    );

    // The wrong password gets the account in no front end.
    let mut mallory = Web::connect(web.web).await;
    mallory
        .request("hello", json!({"version": 1, "client": "x"}))
        .await;
    let refused = mallory
        .request(
            "register",
            json!({"name": "carol", "password": "guess", "multi_session": true}),
        )
        .await;
    assert_eq!(refused["body"]["code"], 301, "{refused}");
}

#[tokio::test]
async fn the_first_message_must_be_hello() {
    let web = start_web(config()).await;
    let mut client = Web::connect(web.web).await;
    client
        .send_text(json!({"rid": 1, "type": "register", "body": {"name": "x"}}).to_string())
        .await;
    let (before, code, _) = client.closed().await;
    assert_eq!(before[0]["body"]["code"], 104, "{before:?}");
    assert_eq!(code, 4104);
}

#[tokio::test]
async fn bad_messages_are_answered_then_too_many_close_the_connection() {
    let web = start_web(chinwag_server::Config {
        max_bad_frames: 3,
        ..config()
    })
    .await;
    let (bob, _bob_events) = user(&web.server, "bob").await;
    let mut client = Web::user(web.web, "eve", "").await;
    client.send_text("{not json".into()).await;
    let error = client.recv().await;
    assert_eq!(error["body"]["code"], 100, "{error}");
    assert!(
        error["body"]["message"]
            .as_str()
            .unwrap()
            .starts_with("not a request")
    );

    let unknown = client.request("frobnicate", json!({})).await;
    assert_eq!(unknown["body"]["code"], 102, "{unknown}");

    client
        .send_text(json!({"rid": 9, "type": "transfer", "body": {"dst": 1}}).to_string())
        .await;
    let (before, code, reason) = client.closed().await;
    assert_eq!(before[0]["rid"], 9);
    assert_eq!(before[0]["body"]["code"], 100);
    assert_eq!(before[1]["body"]["code"], 107, "{before:?}");
    assert_eq!(
        (code, reason.as_str()),
        (4107, "too many bad frames; closing")
    );
    // The others carry on.
    bob.echo("still here").await.unwrap();
}

#[tokio::test]
async fn binary_and_oversized_messages_close_with_their_codes() {
    let web = start_web(config()).await;
    let mut client = Web::user(web.web, "bin", "").await;
    client
        .socket
        .send(Message::binary(vec![0u8, 1, 2]))
        .await
        .unwrap();
    let (before, code, reason) = client.closed().await;
    assert_eq!(before[0]["body"]["code"], 100, "{before:?}");
    assert_eq!(code, u16::from(CloseCode::Unsupported));
    assert!(reason.contains("JSON text"), "{reason}");

    let mut client = Web::user(web.web, "big", "").await;
    let huge = "x".repeat(200_000);
    client
        .send_text(json!({"rid": 2, "type": "reflect", "body": {"content": huge}}).to_string())
        .await;
    let (before, code, reason) = client.closed().await;
    assert_eq!(before[0]["body"]["code"], 101, "{before:?}");
    assert_eq!(code, u16::from(CloseCode::Size));
    assert!(reason.contains("limited to"), "{reason}");
}

#[tokio::test]
async fn a_flood_is_cut_off_with_4400() {
    let web = start_web(chinwag_server::Config {
        rate: RateLimits {
            requests_per_sec: 10,
            request_burst: 10,
            max_lag: Duration::from_secs(1),
            ..RateLimits::DEFAULT
        },
        ..config()
    })
    .await;
    let (bob, _bob_events) = user(&web.server, "bob").await;
    let mut flood = Web::user(web.web, "flood", "").await;
    for rid in 10..60 {
        flood
            .send_text(json!({"rid": rid, "type": "ping"}).to_string())
            .await;
    }
    let (before, code, reason) = flood.closed().await;
    let last = before.last().unwrap();
    assert_eq!(last["body"]["code"], 400, "{last}");
    assert_eq!(code, 4400);
    assert!(reason.contains("excess flood"), "{reason}");
    bob.echo("never slowed").await.unwrap();
}

#[tokio::test]
async fn a_browser_that_never_reads_is_cut_off_and_nobody_waits_for_it() {
    let web = start_web(chinwag_server::Config {
        outbox_frames: 64,
        outbox_bytes: 64 * 1024,
        ..config()
    })
    .await;
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(web.web).await.unwrap();
    let (socket, _) = tokio_tungstenite::client_async(
        format!("ws://{}/ws", web.web),
        MaybeTlsStream::Plain(stream),
    )
    .await
    .unwrap();
    let mut stuck = Web {
        socket,
        next_rid: 1,
        events: Vec::new(),
    };
    stuck
        .request("hello", json!({"version": 1, "client": "x"}))
        .await;
    stuck.request("register", json!({"name": "stuck"})).await;
    // From here on it reads nothing.
    let (alice, mut alice_events) = user(&web.server, "alice").await;
    let text = "x".repeat(4000);
    let mut gone = false;
    for _ in 0..10_000 {
        alice.broadcast(&text).await.unwrap();
        if web.server.handle.state().users.get("stuck").is_none() {
            gone = true;
            break;
        }
    }
    assert!(gone, "the stuck reader was never cut off");
    let left = notice(&mut alice_events, NoticeKind::Left).await;
    assert_eq!(&*left.subject, "stuck");
    alice.echo("still here").await.unwrap();
    // What it reads now ends with why, and the close code.
    let (before, code, _) = stuck.closed().await;
    assert_eq!(before.last().unwrap()["body"]["code"], 403);
    assert_eq!(code, 4403);
}

fn axum_free_header_name(name: &str) -> tokio_tungstenite::tungstenite::http::HeaderName {
    name.parse().unwrap()
}

/// A handshake with these extra headers: the HTTP status of a refusal.
async fn handshake(web: SocketAddr, headers: &[(&str, &str)]) -> Result<Socket, u16> {
    let mut request = format!("ws://{web}/ws").into_client_request().unwrap();
    for (name, value) in headers {
        let name = axum_free_header_name(name);
        request.headers_mut().insert(name, value.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(WsError::Http(response)) => Err(response.status().as_u16()),
        Err(other) => panic!("{other}"),
    }
}

#[tokio::test]
async fn another_sites_page_may_not_open_the_websocket() {
    let web = start_web(chinwag_server::Config {
        web_origins: vec!["https://chat.example.org".into()],
        ..config()
    })
    .await;
    let own = format!("http://{}", web.web);
    assert!(handshake(web.web, &[("origin", &own)]).await.is_ok());
    assert!(
        handshake(web.web, &[("origin", "https://chat.example.org")])
            .await
            .is_ok()
    );
    assert_eq!(
        handshake(web.web, &[("origin", "https://evil.example")])
            .await
            .err(),
        Some(403)
    );
    assert_eq!(
        handshake(web.web, &[("origin", "null")]).await.err(),
        Some(403)
    );
}

#[tokio::test]
async fn x_forwarded_for_is_believed_from_trusted_proxies_only() {
    // Untrusted: the header is ignored, the connection is from 127.0.0.1.
    let web = start_web(config()).await;
    let mut client = Web {
        socket: handshake(web.web, &[("x-forwarded-for", "203.0.113.9")])
            .await
            .unwrap(),
        next_rid: 1,
        events: Vec::new(),
    };
    client
        .request("hello", json!({"version": 1, "client": "x"}))
        .await;
    client.request("register", json!({"name": "far"})).await;
    let (root, _) = admin(&web.server, "root").await;
    let far = root
        .users()
        .await
        .unwrap()
        .into_iter()
        .find(|u| &*u.name == "far")
        .unwrap();
    assert!(far.addr.starts_with("127.0.0.1:"), "{}", far.addr);

    // Trusted: the client is the address the proxy names.
    let web = start_web(chinwag_server::Config {
        web_trusted_proxies: vec!["127.0.0.0/8".into()],
        ..config()
    })
    .await;
    let mut client = Web {
        socket: handshake(web.web, &[("x-forwarded-for", "198.51.100.1, 203.0.113.9")])
            .await
            .unwrap(),
        next_rid: 1,
        events: Vec::new(),
    };
    client
        .request("hello", json!({"version": 1, "client": "x"}))
        .await;
    client.request("register", json!({"name": "far"})).await;
    let (root, _) = admin(&web.server, "root").await;
    let far = root
        .users()
        .await
        .unwrap()
        .into_iter()
        .find(|u| &*u.name == "far")
        .unwrap();
    assert_eq!(far.addr, "203.0.113.9:0");
}

/// A plain HTTP/1.1 GET: the status line and the headers, lower-cased.
async fn get(web: SocketAddr, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(web).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {web}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(PATIENCE, stream.read_to_string(&mut response))
        .await
        .unwrap()
        .unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.to_ascii_lowercase(), body.to_owned())
}

#[tokio::test]
async fn the_pages_come_with_their_security_headers() {
    let web = start_web(config()).await;
    let (head, body) = get(web.web, "/").await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-type: text/html"), "{head}");
    for header in [
        "content-security-policy: default-src 'none'; script-src 'self'",
        "frame-ancestors 'none'",
        "x-content-type-options: nosniff",
        "referrer-policy: no-referrer",
    ] {
        assert!(head.contains(header), "{header} missing in {head}");
    }
    assert!(body.contains("app.js"), "the client's page");
    let (head, _) = get(web.web, "/app.js").await;
    assert!(head.contains("content-type: text/javascript"), "{head}");
    let (head, _) = get(web.web, "/nothing-here").await;
    assert!(head.starts_with("http/1.1 404"), "{head}");
    assert!(head.contains("x-content-type-options: nosniff"), "{head}");
    let (head, _) = get(web.web, "/ws").await;
    assert!(
        !head.starts_with("http/1.1 200"),
        "not without an upgrade: {head}"
    );
}

#[tokio::test]
async fn the_connection_limit_applies_to_websockets_too() {
    let web = start_web(chinwag_server::Config {
        max_connections: 1,
        ..config()
    })
    .await;
    let _first = Web::user(web.web, "first", "").await;
    let mut second = Web::connect(web.web).await;
    let (before, code, _) = second.closed().await;
    assert_eq!(before[0]["body"]["code"], 401, "{before:?}");
    assert_eq!(code, 4401);
}

#[tokio::test]
async fn a_shutdown_says_goodbye_with_1001() {
    let web = start_web(config()).await;
    let mut client = Web::user(web.web, "alice", "").await;
    web.server.handle.shut_down("maintenance");
    let (before, code, _) = client.closed().await;
    assert!(
        before
            .iter()
            .any(|v| v["type"] == "notice" && v["body"]["kind"] == "shutdown"),
        "{before:?}"
    );
    assert_eq!(code, 1001);
    let _ = ConnectOptions::default();
    web.server.stop().await;
}

#[tokio::test]
async fn messages_that_waited_come_right_after_login() {
    let web = start_web(config()).await;
    // erin's account exists, and she is offline.
    let erin = Web::user(web.web, "erin", "erin's password").await;
    drop(erin);
    let (frank, _frank_events) = user(&web.server, "frank").await;
    let mut queued = false;
    for _ in 0..50 {
        match frank.send("erin", "while you were out").await {
            Ok(sent) if sent.status == chinwag_proto::server::DeliveryStatus::Queued => {
                queued = true;
                break;
            }
            // Her first session may not have been let go yet.
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    assert!(queued, "the message waits for erin");
    let mut erin = Web::user(web.web, "erin", "erin's password").await;
    let waited = erin.event(is_message).await;
    assert_eq!(waited["body"]["text"], "while you were out");
    assert_eq!(waited["body"]["from"], "frank");
}

#[tokio::test]
async fn the_web_listener_speaks_tls_with_the_servers_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let files = chinwag_server::tls::generate(dir.path(), &["localhost".into()]).unwrap();
    let acceptor = chinwag_server::tls::acceptor(&chinwag_server::config::TlsFiles {
        cert: files.cert.clone(),
        key: files.key.clone(),
    })
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut server = Server::new(listener, config());
    let web_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let web = web_listener.local_addr().unwrap();
    server
        .add_web_listener(web_listener, Some(acceptor), &[])
        .unwrap();
    assert_eq!(server.web_url().unwrap(), format!("https://{web}/"));
    let handle = server.handle();
    let task = tokio::spawn(server.run());

    let options = chinwag_client::TlsOptions {
        ca_file: Some(files.ca.clone()),
        server_name: Some("localhost".into()),
    };
    let connector = chinwag_client::tls::connector(&options).unwrap();
    let name = chinwag_client::tls::server_name("localhost", &options).unwrap();
    let tcp = TcpStream::connect(web).await.unwrap();
    let tls = connector.connect(name, tcp).await.unwrap();
    let url = format!("wss://localhost:{}/ws", web.port());
    let (mut socket, _) = tokio_tungstenite::client_async(url, tls).await.unwrap();
    let hello = json!({"rid": 1, "type": "hello", "body": {"version": 1, "client": "x"}});
    socket.send(Message::text(hello.to_string())).await.unwrap();
    let reply = tokio::time::timeout(PATIENCE, socket.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let reply: Value = serde_json::from_str(reply.to_text().unwrap()).unwrap();
    assert_eq!(reply["type"], "welcome", "{reply}");

    // Plain HTTP on the TLS port gets nowhere, and the server carries on.
    let mut plain = TcpStream::connect(web).await.unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, plain.read_to_end(&mut buf)).await;
    assert!(!String::from_utf8_lossy(&buf).contains("chinwag"));
    TestServer {
        addr: web,
        handle,
        task,
    }
    .stop()
    .await;
}
