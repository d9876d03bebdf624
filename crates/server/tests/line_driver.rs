//! A front end written in this test alone: a line protocol over TCP, driven
//! through the protocol-neutral session core (`chinwag_server::session`)
//! beside the native listener, on the same server. No command handler knows
//! it exists: it only turns lines into requests and renders replies and
//! events as lines. A native client and a line client register, exchange
//! direct messages, talk in a room, and an administrator kicks the line
//! client.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use chinwag_client::Event;
use chinwag_proto::request::{Admin, Kickout, Register, Transfer};
use chinwag_proto::room::{Join, RoomSend};
use chinwag_proto::server::{MessageId, NoticeKind};
use chinwag_proto::{Request, RequestId, RoomRequest, ServerFrame};
use chinwag_server::cmd::{Now, Reply};
use chinwag_server::event::Shared;
use chinwag_server::session::{Greeting, Session, Sink};
use chinwag_server::state::State;
use common::*;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpListener, TcpStream};

/// The line protocol: one command per line, the request id being the
/// line's number.
fn parse(line: &str) -> Option<Request> {
    let (command, rest) = line.split_once(' ').unwrap_or((line, ""));
    let (first, text) = rest.split_once(' ').unwrap_or((rest, ""));
    Some(match command {
        "NICK" => Request::Register(Register {
            name: first.into(),
            ip: "".into(),
            port: 0,
            password: "".into(),
            take_offline: true,
            multi_session: false,
        }),
        "MSG" => Request::Transfer(Transfer {
            src: "".into(),
            dst: first.into(),
            content: text.into(),
            ..Default::default()
        }),
        "JOIN" => Request::Room(RoomRequest::Join(Join {
            src: "".into(),
            room: first.into(),
            password: "".into(),
        })),
        "SAY" => Request::Room(RoomRequest::Send(RoomSend {
            src: "".into(),
            room: first.into(),
            content: text.into(),
            ..Default::default()
        })),
        "OPER" => Request::Admin(Admin {
            src: "".into(),
            password: first.into(),
        }),
        "KICK" => Request::Kickout(Kickout {
            src: "".into(),
            dst: first.into(),
            reason: text.into(),
        }),
        _ => return None,
    })
}

/// Renders what the session says as lines.
#[derive(Default)]
struct Rendered {
    out: String,
}

impl Sink for Rendered {
    fn reply(&mut self, id: RequestId, reply: Reply) {
        let line = match reply {
            Ok(ServerFrame::Sent(sent)) => format!("{} SENT {}", id.0, sent.id.0),
            Ok(ServerFrame::Registered(r)) => format!("{} WELCOME {}", id.0, r.name),
            Ok(other) => format!("{} OK {}", id.0, other.frame_type().name()),
            Err(error) => format!("{} ERROR {:?} {}", id.0, error.code, error.message),
        };
        self.out.push_str(&line);
        self.out.push('\n');
    }

    fn event(&mut self, event: &Shared) {
        let line = match event.frame() {
            ServerFrame::Message(m) => format!("* MSG {} {} {}", m.from, m.to, m.text),
            ServerFrame::Notice(n) => {
                format!("* NOTICE {} {} {}", n.kind.name(), n.subject, n.text)
            }
            ServerFrame::RoomNotice(n) => {
                format!("* ROOM {} {} {}", n.room, n.kind.name(), n.subject)
            }
            other => format!("* {}", other.frame_type().name()),
        };
        self.out.push_str(&line);
        self.out.push('\n');
    }

    fn delivered_up_to(&mut self, _: MessageId) {}

    fn backlog(&self) -> usize {
        self.out.len()
    }

    fn discard_unwritten(&mut self) {
        self.out.clear();
    }
}

/// Serves one line connection with a session of the server's core.
async fn serve(stream: TcpStream, addr: SocketAddr, state: Arc<State>) {
    let (rd, mut wr) = stream.into_split();
    let mut lines: Lines<BufReader<OwnedReadHalf>> = BufReader::new(rd).lines();
    let mut session = Session::new(state, addr, Greeting::None, Instant::now());
    let mut sink = Rendered::default();
    let mut number = 0;
    while !session.is_done() {
        session.check(Instant::now(), sink.backlog());
        tokio::select! {
            line = lines.next_line(), if session.accepts_requests() => {
                let Ok(Some(line)) = line else { break };
                number += 1;
                session.received(Instant::now(), false);
                match parse(&line) {
                    Some(request) => {
                        session.request(Now::current(), RequestId(number), request, line.len(), &mut sink);
                    }
                    None => sink.out.push_str(&format!("{number} ERROR unknown command\n")),
                }
            }
            wake = session.wait() => session.wake(wake, Now::current(), &mut sink),
        }
        session.pull(&mut sink);
        if !sink.out.is_empty()
            && wr
                .write_all(std::mem::take(&mut sink.out).as_bytes())
                .await
                .is_err()
        {
            break;
        }
    }
    session.pull(&mut sink);
    let _ = wr.write_all(sink.out.as_bytes()).await;
    session.finish();
}

/// A connected line client.
struct LineClient {
    lines: Lines<BufReader<OwnedReadHalf>>,
    wr: tokio::net::tcp::OwnedWriteHalf,
}

impl LineClient {
    async fn send(&mut self, line: &str) {
        self.wr
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
    }

    /// The next line that starts with `prefix`.
    async fn expect(&mut self, prefix: &str) -> String {
        loop {
            let line = tokio::time::timeout(PATIENCE, self.lines.next_line())
                .await
                .unwrap_or_else(|_| panic!("no line starting {prefix:?}"))
                .unwrap()
                .unwrap_or_else(|| panic!("closed before a line starting {prefix:?}"));
            if line.starts_with(prefix) {
                return line;
            }
        }
    }
}

#[tokio::test]
async fn a_new_front_end_needs_no_handler_of_its_own() {
    let server = start().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let line_addr = listener.local_addr().unwrap();
    let state = Arc::clone(server.handle.state());
    tokio::spawn(async move {
        while let Ok((stream, addr)) = listener.accept().await {
            tokio::spawn(serve(stream, addr, Arc::clone(&state)));
        }
    });

    let (alice, mut alice_events) = user(&server, "alice").await;
    let stream = TcpStream::connect(line_addr).await.unwrap();
    let (rd, wr) = stream.into_split();
    let mut bob = LineClient {
        lines: BufReader::new(rd).lines(),
        wr,
    };

    // Registration through the core: the native client sees bob join.
    bob.send("NICK bob").await;
    assert_eq!(bob.expect("1 ").await, "1 WELCOME bob");
    let joined = notice(&mut alice_events, NoticeKind::Joined).await;
    assert_eq!(&*joined.subject, "bob");

    // Direct messages both ways.
    alice.send("bob", "hello, line client").await.unwrap();
    assert_eq!(
        bob.expect("* MSG").await,
        "* MSG alice bob hello, line client"
    );
    bob.send("MSG alice hello, native client").await;
    assert!(bob.expect("2 ").await.starts_with("2 SENT "));
    let got = wait_for(&mut alice_events, |e| match e {
        Event::Message(m) => Some(m),
        _ => None,
    })
    .await;
    assert_eq!((&*got.from, &*got.text), ("bob", "hello, native client"));

    // A room, shared by both front ends.
    alice.join("#mixed", None).await.unwrap();
    bob.send("JOIN #mixed").await;
    assert_eq!(bob.expect("3 ").await, "3 OK RoomList");
    bob.send("SAY #mixed hello, room").await;
    assert!(bob.expect("4 ").await.starts_with("4 SENT "));
    let got = wait_for(&mut alice_events, |e| match e {
        Event::Message(m) => Some(m),
        _ => None,
    })
    .await;
    assert_eq!((&*got.to, &*got.text), ("#mixed", "hello, room"));

    // An administrator on the native side kicks the line client.
    let (root, _root_events) = admin(&server, "root").await;
    root.kick("bob", "test over").await.unwrap();
    assert_eq!(
        bob.expect("* NOTICE kicked").await,
        "* NOTICE kicked bob test over"
    );
    assert!(
        tokio::time::timeout(PATIENCE, bob.lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .is_none(),
        "the line connection ends after the kick"
    );
    let left = notice(&mut alice_events, NoticeKind::Left).await;
    assert_eq!(&*left.subject, "bob");

    // The line front end has the server's checks too: not an admin.
    let stream = TcpStream::connect(line_addr).await.unwrap();
    let (rd, wr) = stream.into_split();
    let mut carol = LineClient {
        lines: BufReader::new(rd).lines(),
        wr,
    };
    carol.send("KICK alice").await;
    assert!(
        carol
            .expect("1 ")
            .await
            .starts_with("1 ERROR NotRegistered")
    );
    carol.send("NICK carol").await;
    carol.expect("2 WELCOME").await;
    carol.send("KICK alice no").await;
    assert!(carol.expect("3 ").await.starts_with("3 ERROR Forbidden"));
}
