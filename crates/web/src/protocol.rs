//! The WebSocket protocol, without I/O: a JSON text message in, a request
//! out; replies and events out as JSON text; why a connection closes as a
//! WebSocket close code.
//!
//! Every message is the JSON form of a native frame (`chinwag_proto::json`,
//! derived from the same types): `{"rid": 7, "type": "transfer", "body":
//! {...}}` in, `{"rid": 7, "type": "sent", "body": {...}}` back, events
//! without `rid`. `docs/websocket.md` describes it with examples.

use chinwag_proto::json::frame_type;
use chinwag_proto::{ErrorCode, FrameType, Request, RequestId, ServerFrame};
use serde::{Deserialize, Serialize};

/// The largest text message taken, for a server whose largest native frame
/// is `max_frame`: JSON spends at most a few bytes per byte of text (an
/// escaped quote takes two), and the names of the fields more.
pub fn max_message(max_frame: u32) -> usize {
    2 * max_frame as usize + 1024
}

/// A message that is not a request, with what the session is told.
#[derive(Debug, PartialEq, Eq)]
pub struct Rejected {
    /// The `rid` it carried, if it could be read.
    pub id: RequestId,
    pub code: ErrorCode,
    pub message: String,
    /// Whether it claimed to be a HELLO (which a front end that greets
    /// must get right first).
    pub hello: bool,
}

/// What every client message has: the request id, the type and its body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    #[serde(default)]
    rid: u32,
    #[serde(rename = "type")]
    ty: String,
    body: Option<serde_json::Value>,
}

/// Reads one client message.
pub fn parse(text: &str) -> Result<(RequestId, Request), Rejected> {
    let envelope: Envelope = serde_json::from_str(text).map_err(|error| Rejected {
        id: RequestId::NONE,
        code: ErrorCode::MalformedFrame,
        message: format!(
            "not a request: {error} (send {{\"rid\": N, \"type\": ..., \"body\": {{...}}}})"
        ),
        hello: false,
    })?;
    let id = RequestId(envelope.rid);
    let hello = envelope.ty == "hello";
    let rejected = |code, message| Rejected {
        id,
        code,
        message,
        hello,
    };
    let ty = frame_type(&envelope.ty)
        .filter(|ty| ty.is_request())
        .ok_or_else(|| {
            rejected(
                ErrorCode::UnknownFrameType,
                format!("there is no request type {:?}", envelope.ty),
            )
        })?;
    let mut value = serde_json::Map::new();
    value.insert("type".into(), envelope.ty.into());
    if let Some(body) = envelope.body {
        value.insert("body".into(), body);
    }
    let request = Request::deserialize(serde_json::Value::Object(value));
    request.map(|request| (id, request)).map_err(|error| {
        rejected(
            ErrorCode::MalformedFrame,
            format!("bad {} request: {error}", frame_name(ty)),
        )
    })
}

fn frame_name(ty: FrameType) -> String {
    chinwag_proto::json::type_name(ty)
}

/// A server message as it goes out.
#[derive(Serialize)]
struct Outgoing<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    rid: Option<u32>,
    #[serde(flatten)]
    frame: &'a ServerFrame,
}

/// Renders a reply to request `id` (an event when it is
/// [`RequestId::NONE`]).
pub fn render(id: RequestId, frame: &ServerFrame) -> String {
    let outgoing = Outgoing {
        rid: (id != RequestId::NONE).then_some(id.0),
        frame,
    };
    serde_json::to_string(&outgoing).unwrap_or_else(|error| {
        tracing::error!(%error, "cannot render a frame as JSON");
        serde_json::to_string(&Outgoing {
            rid: outgoing.rid,
            frame: &ServerFrame::error(ErrorCode::Internal, "internal error"),
        })
        .unwrap_or_default()
    })
}

/// Close codes: the WebSocket standard's where one fits, else 4000 plus
/// the code of the ERROR the server sent before closing.
pub mod close {
    use chinwag_proto::ErrorCode;

    /// The client logged out.
    pub const NORMAL: u16 = 1000;
    /// The server is shutting down.
    pub const GOING_AWAY: u16 = 1001;
    /// A binary message: this protocol is JSON text.
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// A message above [`super::max_message`].
    pub const TOO_BIG: u16 = 1009;
    /// Kicked by an administrator (NOTICE kicked).
    pub const KICKED: u16 = 4001;
    /// Banned by an administrator (NOTICE banned).
    pub const BANNED: u16 = 4002;

    /// The close code after an ERROR with `code` that ends the connection.
    pub fn after(code: ErrorCode) -> u16 {
        match code {
            ErrorCode::FrameTooLarge => TOO_BIG,
            other => 4000 + other.as_u16().min(999),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chinwag_proto::RoomRequest;
    use chinwag_proto::request::Transfer;
    use chinwag_proto::room::Join;
    use chinwag_proto::server::{MessageId, Sent, Timestamp};

    #[test]
    fn a_request_is_read_with_its_id() {
        let (id, request) =
            parse(r#"{"rid":7,"type":"transfer","body":{"dst":"bob","content":"你好 👋"}}"#)
                .unwrap();
        assert_eq!(id, RequestId(7));
        assert_eq!(
            request,
            Request::Transfer(Transfer {
                src: "".into(),
                dst: "bob".into(),
                content: "你好 👋".into(),
                ..Default::default()
            })
        );
        let (_, join) = parse(r##"{"rid":8,"type":"join","body":{"room":"#rust"}}"##).unwrap();
        assert_eq!(
            join,
            Request::Room(RoomRequest::Join(Join {
                src: "".into(),
                room: "#rust".into(),
                password: "".into(),
            }))
        );
        assert_eq!(
            parse(r#"{"type":"ping"}"#).unwrap(),
            (RequestId::NONE, Request::Ping)
        );
    }

    #[test]
    fn what_is_not_a_request_is_said_clearly() {
        let bad = parse("{not json").unwrap_err();
        assert_eq!(
            (bad.id, bad.code),
            (RequestId::NONE, ErrorCode::MalformedFrame)
        );
        assert!(
            bad.message.starts_with("not a request: "),
            "{}",
            bad.message
        );

        let bad = parse(r#"{"rid":3,"type":"frobnicate"}"#).unwrap_err();
        assert_eq!(
            (bad.id, bad.code),
            (RequestId(3), ErrorCode::UnknownFrameType)
        );
        assert_eq!(bad.message, "there is no request type \"frobnicate\"");

        let bad = parse(r#"{"rid":4,"type":"sent","body":{}}"#).unwrap_err();
        assert_eq!(
            bad.code,
            ErrorCode::UnknownFrameType,
            "a server frame is no request"
        );

        let bad =
            parse(r##"{"rid":5,"type":"room_mode","body":{"room":"#a","mode":64}}"##).unwrap_err();
        assert_eq!(
            (bad.id, bad.code),
            (RequestId(5), ErrorCode::MalformedFrame)
        );
        assert!(
            bad.message.starts_with("bad room_mode request: "),
            "{}",
            bad.message
        );

        let bad = parse(r#"{"rid":6,"type":"transfer","body":{"dst":7}}"#).unwrap_err();
        assert!(bad.message.contains("invalid type"), "{}", bad.message);

        let bad = parse(r#"{"rid":1,"type":"hello","extra":1}"#).unwrap_err();
        assert!(bad.message.contains("unknown field `extra`"), "{bad:?}");
        let bad = parse(r#"{"rid":1,"type":"hello","body":{"version":"one"}}"#).unwrap_err();
        assert!(bad.hello && bad.id == RequestId(1), "{bad:?}");

        let bad = parse(r#"{"rid":-1,"type":"ping"}"#).unwrap_err();
        assert_eq!(bad.code, ErrorCode::MalformedFrame);
    }

    #[test]
    fn replies_carry_their_id_and_events_none() {
        let sent = ServerFrame::Sent(Sent {
            id: MessageId(42),
            ts: Timestamp(1_700_000_000_000),
            status: chinwag_proto::server::DeliveryStatus::Delivered,
            recipients: 2,
            ..Default::default()
        });
        assert_eq!(
            render(RequestId(9), &sent),
            r#"{"rid":9,"type":"sent","body":{"id":42,"ts":1700000000000,"status":"delivered","recipients":2}}"#
        );
        assert_eq!(
            render(RequestId::NONE, &ServerFrame::Pong { ts: Timestamp(5) }),
            r#"{"type":"pong","body":{"ts":5}}"#
        );
    }

    /// Every example in docs/websocket.md: what a client sends (`→`) is a
    /// request, what the server sends (`←`) a frame, with a `rid` on
    /// replies only.
    #[test]
    fn the_examples_in_the_documentation_are_real() {
        let doc = include_str!("../../../docs/websocket.md");
        let (mut sent, mut told) = (0, 0);
        // A bad request's example is followed by its exact answer.
        let mut refused = None;
        for line in doc.lines() {
            if let Some(text) = line.strip_prefix("→ ") {
                refused = parse(text).err().map(|rejected| {
                    let error = ServerFrame::error(rejected.code, rejected.message);
                    render(rejected.id, &error)
                });
                sent += 1;
            } else if let Some(text) = line.strip_prefix("← ") {
                if let Some(answer) = refused.take() {
                    assert_eq!(answer, text, "the documented answer");
                }
                let mut value: serde_json::Value = serde_json::from_str(text).unwrap();
                let object = value.as_object_mut().unwrap();
                let rid = object.remove("rid");
                let frame = ServerFrame::deserialize(value.clone())
                    .unwrap_or_else(|e| panic!("{text}: {e}"));
                assert_eq!(
                    render(
                        RequestId(rid.map_or(0, |r| r.as_u64().unwrap() as u32)),
                        &frame
                    ),
                    text,
                    "rendered as documented"
                );
                told += 1;
            }
        }
        assert!(sent >= 34 && told >= 50, "{sent} requests, {told} frames");
    }

    #[test]
    fn close_codes_follow_the_error() {
        assert_eq!(close::after(ErrorCode::FrameTooLarge), close::TOO_BIG);
        assert_eq!(close::after(ErrorCode::RateLimited), 4400);
        assert_eq!(close::after(ErrorCode::SlowConsumer), 4403);
        assert_eq!(close::after(ErrorCode::TooManyErrors), 4107);
    }
}
