//! IRC over WebSocket (the IRCv3 WebSocket transport): one IRC line per
//! WebSocket message, without its CR LF, as text (`text.ircv3.net`) or
//! binary (`binary.ircv3.net`) messages. Browser IRC clients (gamja, Kiwi
//! IRC) connect to the web listener at `/` or `/irc` with one of these
//! subprotocols.
//!
//! Nothing of IRC is here: the socket's messages become a byte stream of
//! CR LF lines that `chinwag_irc::run` serves exactly as it serves a TCP
//! connection, and the lines it writes become messages again.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket};
use bytes::{Bytes, BytesMut};
use chinwag_core::state::State;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The subprotocol of text messages.
pub const TEXT: &str = "text.ircv3.net";
/// The subprotocol of binary messages.
pub const BINARY: &str = "binary.ircv3.net";

/// Most bytes of one message: a line with its tags (8191 + 512), with room
/// to spare; the line parser enforces the real limits.
pub const MAX_MESSAGE: usize = 16 * 1024;

/// Bytes buffered between the socket and the IRC session, each way.
const PIPE: usize = 64 * 1024;

/// The subprotocol to answer with for a `Sec-WebSocket-Protocol` header:
/// the first of the client's that is IRC's, in the client's order.
pub fn choose(offered: Option<&str>) -> Option<&'static str> {
    offered?
        .split(',')
        .map(str::trim)
        .find_map(|p| [TEXT, BINARY].into_iter().find(|ours| *ours == p))
}

/// Serves one IRC session over `socket`; `binary`: the session's lines go
/// out as binary messages (they come in as either).
pub async fn run(socket: WebSocket, addr: SocketAddr, state: Arc<State>, binary: bool) {
    let (session_end, pump_end) = tokio::io::duplex(PIPE);
    let (mut from_session, mut to_session) = tokio::io::split(pump_end);
    let (mut sink, mut stream) = socket.split();

    // Messages in, as lines to the session; ends when the client does, and
    // so ends the session's input.
    let inbound = async move {
        while let Some(Ok(message)) = stream.next().await {
            let bytes: Bytes = match message {
                Message::Text(text) => Bytes::from(text),
                Message::Binary(bytes) => bytes,
                Message::Close(_) => break,
                Message::Ping(_) | Message::Pong(_) => continue,
            };
            // A message is one line: whatever follows a line break in it
            // is not a line of its own.
            let line = bytes
                .split(|b| *b == b'\r' || *b == b'\n')
                .next()
                .unwrap_or_default();
            if to_session.write_all(line).await.is_err()
                || to_session.write_all(b"\r\n").await.is_err()
            {
                break;
            }
        }
        let _ = to_session.shutdown().await;
    };

    // The session's lines out, one message each; ends when the session
    // does, closing the socket.
    let outbound = async move {
        let mut buf = BytesMut::with_capacity(4096);
        'read: loop {
            match from_session.read_buf(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            while let Some(end) = buf.iter().position(|b| *b == b'\n') {
                let mut line = buf.split_to(end + 1);
                line.truncate(end);
                if line.last() == Some(&b'\r') {
                    line.truncate(end - 1);
                }
                let message = if binary {
                    Message::Binary(line.freeze())
                } else {
                    Message::Text(String::from_utf8_lossy(&line).into_owned().into())
                };
                if sink.send(message).await.is_err() {
                    break 'read;
                }
            }
        }
        let _ = sink.close().await;
    };

    let pumps = async move {
        tokio::pin!(inbound, outbound);
        tokio::select! {
            () = &mut outbound => {}
            () = &mut inbound => outbound.await,
        }
    };
    tokio::join!(Box::pin(chinwag_irc::run(session_end, addr, state)), pumps);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clients_first_irc_subprotocol_wins() {
        assert_eq!(
            choose(Some("binary.ircv3.net, text.ircv3.net")),
            Some(BINARY)
        );
        assert_eq!(choose(Some("text.ircv3.net,binary.ircv3.net")), Some(TEXT));
        assert_eq!(choose(Some("chat, text.ircv3.net")), Some(TEXT));
        assert_eq!(choose(Some("chat")), None);
        assert_eq!(choose(None), None);
    }
}
