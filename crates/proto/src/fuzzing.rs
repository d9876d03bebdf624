//! Entry points for the fuzz targets in `fuzz/` and for the test that
//! replays their seed corpus on stable Rust (`tests/fuzz_corpus.rs`).
//!
//! Each takes arbitrary bytes. None may panic on any input, and each
//! asserts an invariant of the decoders: what is accepted re-encodes to the
//! same bytes (one encoding per value), nothing is consumed beyond a frame's
//! announced length, and decoding a stream in pieces gives what decoding it
//! whole gives. A failed assertion is a bug the fuzzer reports as a crash.

use bytes::{Bytes, BytesMut};
use tokio_util::codec::Decoder;

use crate::frame::{LENGTH_SIZE, Packet, RequestId};
use crate::limits::{Limits, MAX_SERVER_FRAME};
use crate::wire::{Decode, Encode};
use crate::{ClientCodec, Request, ServerCodec, ServerFrame};

/// The server's frame decoder on a byte stream, as a hostile client would
/// send it: frames are decoded until one is incomplete or the stream is
/// refused; every accepted request re-encodes to exactly its bytes.
pub fn server_stream(data: &[u8]) {
    let max_frame = Limits::DEFAULT.max_frame;
    let mut codec = ServerCodec::new(max_frame);
    let mut buf = BytesMut::from(data);
    loop {
        let before = buf.clone();
        match codec.decode(&mut buf) {
            Ok(None) => {
                assert_eq!(buf, before, "an incomplete frame consumes nothing");
                break;
            }
            Ok(Some(item)) => {
                let consumed = before.len() - buf.len();
                assert!(consumed <= LENGTH_SIZE + max_frame as usize);
                if let Ok(packet) = item {
                    assert_canonical(&packet, &before[..consumed]);
                }
            }
            Err(_) => break,
        }
    }
}

/// The client's frame decoder on a byte stream, as a hostile server would
/// send it.
pub fn client_stream(data: &[u8]) {
    let mut codec = ClientCodec::client();
    let mut buf = BytesMut::from(data);
    loop {
        let before = buf.clone();
        match codec.decode(&mut buf) {
            Ok(None) | Err(_) => break,
            Ok(Some(item)) => {
                let consumed = before.len() - buf.len();
                assert!(consumed <= LENGTH_SIZE + MAX_SERVER_FRAME as usize);
                if let Ok(packet) = item {
                    assert_canonical(&packet, &before[..consumed]);
                }
            }
        }
    }
}

/// The request parser alone: the first byte is the frame type, the rest
/// the body.
pub fn request_body(data: &[u8]) {
    body::<Request>(data);
}

/// The server-frame parser alone: the first byte is the frame type, the
/// rest the body.
pub fn server_frame_body(data: &[u8]) {
    body::<ServerFrame>(data);
}

fn body<T: Decode + Encode + std::fmt::Debug>(data: &[u8]) {
    let Some((&frame_type, body)) = data.split_first() else {
        return;
    };
    if let Ok(value) = T::decode(frame_type, Bytes::copy_from_slice(body)) {
        let frame = value
            .to_frame(RequestId(1))
            .expect("a decoded value encodes");
        let header = LENGTH_SIZE + 5;
        assert_eq!(frame[LENGTH_SIZE], frame_type, "{value:?}");
        assert_eq!(&frame[header..], body, "{value:?} re-encodes differently");
    }
}

/// The server's decoder fed the same stream in pieces: the first byte
/// picks the piece sizes, the rest is the stream. The frames (and the
/// point where the stream is refused, if it is) must be the same as when
/// it arrives all at once.
pub fn split_stream(data: &[u8]) {
    let Some((&seed, stream)) = data.split_first() else {
        return;
    };
    let max_frame = Limits::DEFAULT.max_frame;
    let whole = decode_all(&mut ServerCodec::new(max_frame), [stream]);
    let step = usize::from(seed % 16) + 1;
    let pieces = stream.chunks(step);
    let split = decode_all(&mut ServerCodec::new(max_frame), pieces);
    assert_eq!(whole, split);
}

/// What decoding produced, in a comparable form.
#[derive(Debug, PartialEq, Eq)]
enum Decoded {
    Packet(Packet<Request>),
    Rejected(crate::Rejected),
    Refused(String),
}

fn decode_all<'a>(
    codec: &mut ServerCodec,
    pieces: impl IntoIterator<Item = &'a [u8]>,
) -> Vec<Decoded> {
    let mut out = Vec::new();
    let mut buf = BytesMut::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            match codec.decode(&mut buf) {
                Ok(None) => break,
                Ok(Some(Ok(packet))) => out.push(Decoded::Packet(packet)),
                Ok(Some(Err(rejected))) => out.push(Decoded::Rejected(rejected)),
                Err(error) => {
                    out.push(Decoded::Refused(error.to_string()));
                    return out;
                }
            }
        }
    }
    out
}

fn assert_canonical<T: Encode + std::fmt::Debug>(packet: &Packet<T>, bytes: &[u8]) {
    let again = packet
        .body
        .to_frame(packet.id)
        .expect("a decoded value encodes");
    assert_eq!(&again[..], bytes, "{packet:?} re-encodes differently");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_and_invalid_inputs_pass_through_every_entry_point() {
        let ping = Request::Ping.to_frame(RequestId(3)).unwrap();
        let pong = ServerFrame::Pong {
            ts: crate::Timestamp(5),
        }
        .to_frame(RequestId(3))
        .unwrap();
        for input in [&ping[..], &pong[..], b"", b"\x00\x00\x00\x03", &[0xff; 64]] {
            server_stream(input);
            client_stream(input);
            request_body(input);
            server_frame_body(input);
            split_stream(input);
        }
        request_body(&[0x0b]);
    }
}
