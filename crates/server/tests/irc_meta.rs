//! IRC read markers (draft/read-marker), metadata (draft/metadata-3), HELP
//! and LINKS, and IRC over WebSocket, through real sockets; metadata and
//! markers set on IRC are the core's, seen by native clients too.

mod common;

use std::net::SocketAddr;

use chinwag_proto::Request;
use chinwag_proto::request::{MarkReadAt, MetadataGet};
use chinwag_proto::server::ServerFrame;
use chinwag_server::Server;
use common::*;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// An IRC connection, read line by line.
struct Irc {
    lines: Lines<BufReader<OwnedReadHalf>>,
    wr: OwnedWriteHalf,
}

impl Irc {
    /// Connects, asks for `caps`, and registers as `nick` (with `PASS` if
    /// given).
    async fn register(addr: SocketAddr, nick: &str, caps: &str, pass: Option<&str>) -> Irc {
        let (rd, wr) = TcpStream::connect(addr).await.unwrap().into_split();
        let mut irc = Irc {
            lines: BufReader::new(rd).lines(),
            wr,
        };
        if let Some(pass) = pass {
            irc.send(&format!("PASS {pass}")).await;
        }
        if !caps.is_empty() {
            irc.send(&format!("CAP REQ :{caps}")).await;
            irc.expect("ACK").await;
            irc.send("CAP END").await;
        }
        irc.send(&format!("NICK {nick}")).await;
        irc.send(&format!("USER {nick} 0 * :{nick}")).await;
        irc.expect(" 376 ").await;
        irc
    }

    async fn send(&mut self, line: &str) {
        self.wr
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .unwrap();
    }

    /// The next line containing `what` (lines before it are skipped).
    async fn expect(&mut self, what: &str) -> String {
        loop {
            let line = tokio::time::timeout(PATIENCE, self.lines.next_line())
                .await
                .unwrap_or_else(|_| panic!("no line containing {what:?}"))
                .unwrap()
                .unwrap_or_else(|| panic!("closed before a line containing {what:?}"));
            if line.contains(what) {
                return line;
            }
        }
    }

    /// Every line up to the PONG of a PING sent now.
    async fn sync(&mut self) -> Vec<String> {
        self.send("PING sync").await;
        let mut lines = Vec::new();
        loop {
            let line = self.expect("").await;
            if line.contains("PONG") && line.ends_with("sync") {
                return lines;
            }
            lines.push(line);
        }
    }
}

#[tokio::test]
async fn read_markers_by_time_follow_the_account_and_show_on_join() {
    let (server, irc_addr) = start_irc().await;
    let mut one = Irc::register(irc_addr, "alys", "draft/read-marker", Some("alys-password")).await;
    let mut two = Irc::register(irc_addr, "alys", "draft/read-marker", Some("alys-password")).await;
    one.send("JOIN #tea").await;
    // The marker comes before the end of NAMES; none yet.
    let marker = one.expect("MARKREAD").await;
    assert!(marker.ends_with("MARKREAD #tea *"), "{marker}");
    one.expect(" 366 ").await;

    one.send("MARKREAD #tea timestamp=2022-11-11T11:11:11.111Z")
        .await;
    let set = one.expect("MARKREAD").await;
    assert!(
        set.ends_with("MARKREAD #tea timestamp=2022-11-11T11:11:11.111Z"),
        "{set}"
    );
    // The account's other session is told.
    let told = two.expect("MARKREAD").await;
    assert!(
        told.ends_with("MARKREAD #tea timestamp=2022-11-11T11:11:11.111Z"),
        "{told}"
    );
    // Never back in time.
    one.send("MARKREAD #tea timestamp=2020-01-01T00:00:00.000Z")
        .await;
    let kept = one.expect("MARKREAD").await;
    assert!(
        kept.ends_with("timestamp=2022-11-11T11:11:11.111Z"),
        "{kept}"
    );
    // Malformed times are refused.
    one.send("MARKREAD #tea *").await;
    assert!(
        one.expect("FAIL")
            .await
            .contains("FAIL MARKREAD INVALID_PARAMS #tea")
    );
    one.send("MARKREAD").await;
    assert!(
        one.expect("FAIL")
            .await
            .contains("FAIL MARKREAD NEED_MORE_PARAMS")
    );

    // The same marker, for a native client of the account.
    let (alys, _events) = account_with(&server, "alys", "alys-password").await;
    let reply = alys
        .request(Request::MarkReadAt(MarkReadAt {
            src: "".into(),
            conversation: "#tea".into(),
            ts: 0,
        }))
        .await
        .unwrap();
    let ServerFrame::ReadMarkerAt(marker) = reply else {
        panic!("expected READ_MARKER_AT, got {reply:?}")
    };
    assert_eq!(
        chinwag_irc::conn::iso8601(marker.ts),
        "2022-11-11T11:11:11.111Z"
    );

    // After a PART and a JOIN, the stored marker.
    one.send("PART #tea").await;
    one.send("JOIN #tea").await;
    let marker = one.expect("MARKREAD").await;
    assert!(
        marker.ends_with("timestamp=2022-11-11T11:11:11.111Z"),
        "{marker}"
    );
}

/// A second session of `name`'s account, native.
async fn account_with(
    server: &TestServer,
    name: &str,
    password: &str,
) -> (chinwag_client::Client, chinwag_client::Events) {
    let (client, events) = connect(server).await;
    client
        .register_with(
            name,
            Some(password),
            &chinwag_client::RegisterOptions {
                multi_session: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    (client, events)
}

#[tokio::test]
async fn metadata_is_set_read_and_sent_to_subscribers_sharing_a_room() {
    let (server, irc_addr) = start_irc().await;
    let caps = "draft/metadata-3 batch";
    let mut foo = Irc::register(irc_addr, "foo", caps, None).await;
    let mut bar = Irc::register(irc_addr, "bar", caps, None).await;
    assert!(foo.sync().await.is_empty());

    bar.send("METADATA * SUB display-name avatar").await;
    let ok = bar.expect(" 770 ").await;
    assert!(ok.ends_with("770 bar display-name avatar"), "{ok}");

    // Not sharing a room: set, but bar is not told.
    foo.send("METADATA * SET display-name :Foo The First").await;
    let set = foo.expect(" 761 ").await;
    assert!(
        set.ends_with("761 foo foo display-name * :Foo The First"),
        "{set}"
    );
    assert!(bar.sync().await.is_empty());

    // bar joins foo's room: told foo's subscribed keys then.
    foo.send("JOIN #chan").await;
    foo.expect(" 366 ").await;
    bar.send("JOIN #chan").await;
    let lines = bar.sync().await;
    let values: Vec<_> = lines.iter().filter(|l| l.contains(" 761 ")).collect();
    assert_eq!(values.len(), 1, "{lines:?}");
    assert!(values[0].ends_with("761 bar foo display-name * :Foo The First"));

    // Changes now reach bar, unsets too.
    foo.send("METADATA * SET display-name").await;
    assert!(
        foo.expect(" 766 ")
            .await
            .contains("766 foo foo display-name")
    );
    assert!(
        bar.expect(" 766 ")
            .await
            .contains("766 bar foo display-name")
    );

    // Someone else's metadata is not one's to set.
    bar.send("METADATA foo SET avatar :x").await;
    let fail = bar.expect("FAIL").await;
    assert!(
        fail.contains("FAIL METADATA KEY_NO_PERMISSION foo avatar"),
        "{fail}"
    );
    // A room's is its operators'.
    bar.send("METADATA #chan SET avatar :x").await;
    assert!(
        bar.expect("FAIL")
            .await
            .contains("KEY_NO_PERMISSION #chan avatar")
    );
    foo.send("METADATA #chan SET avatar :https://example.com/c.png")
        .await;
    foo.expect(" 761 ").await;
    assert!(
        bar.expect(" 761 ")
            .await
            .ends_with("761 bar #chan avatar * https://example.com/c.png")
    );

    // LIST in a batch; a value over the limit is refused.
    foo.send("METADATA #chan LIST").await;
    let start = foo.expect("BATCH +").await;
    assert!(start.ends_with("metadata #chan"), "{start}");
    assert!(foo.expect(" 761 ").await.starts_with("@batch="));
    foo.expect("BATCH -").await;
    foo.send(&format!("METADATA * SET display-name :{}", "x".repeat(301)))
        .await;
    assert!(
        foo.expect("FAIL")
            .await
            .contains("FAIL METADATA INVALID_VALUE display-name")
    );

    // What IRC set is the core's: a native client reads it.
    let (native, _events) = user(&server, "nat").await;
    let reply = native
        .request(Request::MetadataGet(MetadataGet {
            src: "".into(),
            target: "#chan".into(),
            keys: vec!["avatar".into()],
        }))
        .await
        .unwrap();
    let ServerFrame::Metadata(m) = reply else {
        panic!("expected METADATA, got {reply:?}")
    };
    assert_eq!(&*m.entries[0].value, "https://example.com/c.png");
}

#[tokio::test]
async fn an_accounts_metadata_is_kept_for_its_next_session() {
    let (_server, irc_addr) = start_irc().await;
    let mut first = Irc::register(irc_addr, "keeper", "draft/metadata-3", Some("keeper-pw")).await;
    first.send("METADATA * SET color :#c90076").await;
    first.expect(" 761 ").await;
    first.send("QUIT").await;
    drop(first);
    let mut again = Irc::register(irc_addr, "keeper", "draft/metadata-3", Some("keeper-pw")).await;
    again.send("METADATA * GET color").await;
    assert!(again.expect(" 761 ").await.ends_with("color * #c90076"));
    again.send("WHOIS keeper").await;
    assert!(
        again
            .expect(" 760 ")
            .await
            .ends_with("760 keeper keeper color * #c90076")
    );
    again.expect(" 318 ").await;
}

#[tokio::test]
async fn help_and_links_answer_from_the_irc_front_end() {
    let (_server, irc_addr) = start_irc().await;
    let mut irc = Irc::register(irc_addr, "helpme", "", None).await;
    irc.send("HELP PRIVMSG").await;
    assert!(irc.expect(" 704 ").await.contains("704 helpme PRIVMSG"));
    irc.expect(" 706 ").await;
    irc.send("HELPOP NOSUCHTHING").await;
    assert!(irc.expect(" 524 ").await.contains("NOSUCHTHING"));
    irc.send("LINKS").await;
    let link = irc.expect(" 364 ").await;
    assert!(
        link.contains("364 helpme chinwag chinwag :0 chinwag chat server"),
        "{link}"
    );
    irc.expect(" 365 ").await;
}

#[tokio::test]
async fn irc_over_websocket_speaks_lines_as_messages() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let irc_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let irc_addr = irc_listener.local_addr().unwrap();
    let web_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let web = web_listener.local_addr().unwrap();
    let mut server = Server::new(listener, config());
    server.add_listener(irc_listener, None, chinwag_server::server::Protocol::Irc);
    server.add_web_listener(web_listener, None, &[]).unwrap();
    tokio::spawn(server.run());

    for (protocols, chosen) in [
        ("binary.ircv3.net, text.ircv3.net", "binary.ircv3.net"),
        ("text.ircv3.net, binary.ircv3.net", "text.ircv3.net"),
    ] {
        let mut request = format!("ws://{web}/").into_client_request().unwrap();
        request
            .headers_mut()
            .insert("sec-websocket-protocol", protocols.parse().unwrap());
        let (mut ws, response) = tokio_tungstenite::connect_async(request).await.unwrap();
        assert_eq!(
            response.headers()["sec-websocket-protocol"],
            chosen,
            "the client's first choice"
        );
        let nick = if chosen.starts_with("text") {
            "webtext"
        } else {
            "webbin"
        };
        let line = |text: String| {
            if chosen.starts_with("text") {
                Message::Text(text.into())
            } else {
                Message::Binary(text.into_bytes().into())
            }
        };
        ws.send(line(format!("NICK {nick}"))).await.unwrap();
        ws.send(line(format!("USER {nick} 0 * :{nick}")))
            .await
            .unwrap();
        let mut tcp = Irc::register(irc_addr, &format!("tcp{nick}"), "", None).await;
        // One line per message, without CR LF.
        loop {
            let message = tokio::time::timeout(PATIENCE, ws.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            let text = match message {
                Message::Text(text) => {
                    assert!(chosen.starts_with("text"));
                    text.to_string()
                }
                Message::Binary(bytes) => {
                    assert!(chosen.starts_with("binary"));
                    String::from_utf8(bytes.to_vec()).unwrap()
                }
                other => panic!("{other:?}"),
            };
            assert!(!text.contains('\n') && !text.contains('\r'), "{text:?}");
            if text.contains(" 376 ") {
                break;
            }
        }
        ws.send(line(format!("PRIVMSG tcp{nick} :hello from the web")))
            .await
            .unwrap();
        let got = tcp.expect("PRIVMSG").await;
        assert!(
            got.ends_with(&format!(
                ":{nick}!{nick}@chinwag PRIVMSG tcp{nick} :hello from the web"
            )),
            "{got}"
        );
        tcp.send(&format!("PRIVMSG {nick} :hello back")).await;
        loop {
            let message = tokio::time::timeout(PATIENCE, ws.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            let text = message.into_text().unwrap().to_string();
            if text.contains("PRIVMSG") {
                assert!(
                    text.ends_with("PRIVMSG webtext :hello back")
                        || text.ends_with("PRIVMSG webbin :hello back"),
                    "{text}"
                );
                break;
            }
        }
    }

    // The web client's page is still there for a plain GET.
    let mut http = TcpStream::connect(web).await.unwrap();
    http.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut http, &mut response)
        .await
        .unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}

#[tokio::test]
async fn a_server_password_is_asked_of_every_front_end() {
    use chinwag_proto::request::{Hello, Register};
    use chinwag_proto::{ErrorCode, PROTOCOL_VERSION};
    use common::raw::Raw;

    let native = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let irc_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let irc_addr = irc_listener.local_addr().unwrap();
    let mut server = Server::new(
        native,
        chinwag_server::Config {
            server_password: Some("door-password".into()),
            ..config()
        },
    );
    server.add_listener(irc_listener, None, chinwag_server::server::Protocol::Irc);
    let addr = server.local_addr().unwrap();
    let handle = server.handle();
    let task = tokio::spawn(server.run());
    let server = TestServer { addr, handle, task };

    // IRC: PASS is the server's password.
    let _ok = Irc::register(irc_addr, "withpass", "", Some("door-password")).await;
    for pass in [None, Some("wrong-password")] {
        let (rd, wr) = TcpStream::connect(irc_addr).await.unwrap().into_split();
        let mut irc = Irc {
            lines: BufReader::new(rd).lines(),
            wr,
        };
        if let Some(pass) = pass {
            irc.send(&format!("PASS {pass}")).await;
        }
        irc.send("NICK nopass").await;
        irc.send("USER nopass 0 * :nopass").await;
        assert!(irc.expect(" 464 ").await.contains("464"));
        assert!(irc.expect("ERROR").await.starts_with("ERROR"));
    }

    // Native: HELLO's server_password.
    let register = |name: &str| {
        Request::Register(Register {
            name: name.into(),
            ip: "".into(),
            port: 0,
            password: "".into(),
            take_offline: true,
            multi_session: false,
        })
    };
    let mut without = Raw::connect(&server).await;
    without.send(1, Request::Hello(Hello::current("t"))).await;
    without.recv().await;
    without.send(2, register("native1")).await;
    assert_eq!(without.error().await, (2, ErrorCode::BadPassword));
    without.assert_closed().await;
    let mut with = Raw::connect(&server).await;
    with.send(
        1,
        Request::Hello(Hello {
            version: PROTOCOL_VERSION,
            client: "t".into(),
            server_password: "door-password".into(),
        }),
    )
    .await;
    with.recv().await;
    with.send(2, register("native2")).await;
    assert!(matches!(with.recv().await.1, ServerFrame::Registered(_)));
}
