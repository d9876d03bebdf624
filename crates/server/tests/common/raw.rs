//! A bare connection that speaks frames without the client library, for
//! tests that send what a well-behaved client never would.

use bytes::{BufMut, Bytes, BytesMut};
use chinwag_proto::request::{Hello, Register, Request};
use chinwag_proto::{ClientCodec, ErrorCode, Packet, RequestId, ServerFrame};
use futures::{SinkExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

use super::{PATIENCE, TestServer};

/// A bare connection that speaks frames without the client library.
pub struct Raw {
    pub framed: Framed<TcpStream, ClientCodec>,
}

impl Raw {
    pub async fn connect(server: &TestServer) -> Raw {
        let stream = TcpStream::connect(server.addr).await.unwrap();
        Raw {
            framed: Framed::new(stream, ClientCodec::client()),
        }
    }

    /// Like `connect`, with a small socket receive buffer, so that a client
    /// that stops reading backs up into the server quickly.
    pub async fn connect_small_buffer(server: &TestServer) -> Raw {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let stream = socket.connect(server.addr).await.unwrap();
        Raw {
            framed: Framed::new(stream, ClientCodec::client()),
        }
    }

    /// Connects, says HELLO and registers `name`.
    pub async fn registered(server: &TestServer, name: &str) -> Raw {
        let raw = Raw::connect(server).await;
        raw.register(name).await
    }

    pub async fn register(mut self, name: &str) -> Raw {
        let raw = &mut self;
        raw.send(1, Request::Hello(Hello::current("raw-test")))
            .await;
        assert!(matches!(raw.recv().await.1, ServerFrame::Welcome(_)));
        raw.send(
            2,
            Request::Register(Register {
                name: name.into(),
                ip: "".into(),
                port: 0,
                password: "".into(),
                take_offline: true,
                multi_session: false,
            }),
        )
        .await;
        assert!(matches!(raw.recv().await.1, ServerFrame::Registered(_)));
        self
    }

    pub async fn send(&mut self, id: u32, req: Request) {
        self.framed
            .send(Packet::new(RequestId(id), req))
            .await
            .unwrap();
    }

    pub async fn send_bytes(&mut self, bytes: &[u8]) {
        self.framed.get_mut().write_all(bytes).await.unwrap();
    }

    pub async fn recv(&mut self) -> (RequestId, ServerFrame) {
        let packet = tokio::time::timeout(PATIENCE, self.framed.next())
            .await
            .expect("timed out")
            .expect("connection closed")
            .expect("undecodable frame")
            .expect("rejected frame");
        (packet.id, packet.body)
    }

    /// The next ERROR frame's id and code.
    pub async fn error(&mut self) -> (u32, ErrorCode) {
        match self.recv().await {
            (id, ServerFrame::Error { code, .. }) => (id.0, code),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    pub async fn assert_closed(&mut self) {
        let next = tokio::time::timeout(PATIENCE, self.framed.next())
            .await
            .expect("timed out waiting for close");
        assert!(
            matches!(next, None | Some(Err(_))),
            "expected close, got {next:?}"
        );
    }

    /// PING and wait for the PONG, skipping events (join notices) on the way.
    pub async fn ping_ok(&mut self, id: u32) {
        self.send(id, Request::Ping).await;
        loop {
            match self.recv().await {
                (RequestId::NONE, ServerFrame::Notice(_) | ServerFrame::Message(_)) => continue,
                (got, frame) => {
                    assert_eq!(got.0, id);
                    assert!(matches!(frame, ServerFrame::Pong { .. }), "{frame:?}");
                    return;
                }
            }
        }
    }
}

/// A frame with the given type, id and raw body.
pub fn frame(frame_type: u8, id: u32, body: &[u8]) -> Bytes {
    let mut b = BytesMut::new();
    b.put_u32(5 + body.len() as u32);
    b.put_u8(frame_type);
    b.put_u32(id);
    b.put_slice(body);
    b.freeze()
}
