//! A `tokio_util` codec for either side of a connection.
//!
//! Decoding checks the length prefix before it buffers anything: a length
//! above the limit is refused at once, so a peer cannot make the other side
//! allocate a large buffer. A frame whose length is fine but whose body is
//! bad is consumed whole and returned as a [`Rejected`] item: the stream
//! stays in sync and the connection can go on.

use std::marker::PhantomData;

use bytes::{Buf, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::error::{EncodeError, FrameError, Rejected};
use crate::frame::{HEADER_SIZE, LENGTH_SIZE, Packet, RequestId};
use crate::limits::MAX_SERVER_FRAME;
use crate::request::Request;
use crate::server::ServerFrame;
use crate::wire::{Decode, Encode};

/// Decodes `In` frames and encodes `Out` frames.
#[derive(Debug)]
pub struct Codec<In, Out> {
    max_frame: u32,
    _types: PhantomData<fn(Out) -> In>,
}

/// The server's side: reads requests, writes server frames.
pub type ServerCodec = Codec<Request, ServerFrame>;
/// The client's side: reads server frames, writes requests.
pub type ClientCodec = Codec<ServerFrame, Request>;

impl<In, Out> Codec<In, Out> {
    /// A codec that refuses incoming frames whose length exceeds `max_frame`.
    pub fn new(max_frame: u32) -> Self {
        Codec {
            max_frame,
            _types: PhantomData,
        }
    }

    pub fn max_frame(&self) -> u32 {
        self.max_frame
    }
}

impl ClientCodec {
    /// A client codec with the client-side limit for server frames.
    pub fn client() -> Self {
        Codec::new(MAX_SERVER_FRAME)
    }
}

/// Finds the next whole frame in `src` and splits it off.
/// `Ok(None)`: more bytes are needed (not an error).
pub fn split_frame(
    src: &mut BytesMut,
    max_frame: u32,
) -> Result<Option<(u8, RequestId, bytes::Bytes)>, FrameError> {
    if src.len() < LENGTH_SIZE {
        return Ok(None);
    }
    let len = u32::from_be_bytes([src[0], src[1], src[2], src[3]]);
    if len > max_frame {
        return Err(FrameError::TooLarge {
            len,
            max: max_frame,
        });
    }
    if (len as usize) < HEADER_SIZE {
        return Err(FrameError::TooShort { len });
    }
    let total = LENGTH_SIZE + len as usize;
    if src.len() < total {
        // No reserve for the declared length: a peer could announce large
        // frames on many connections and never send them. The buffer grows
        // as bytes actually arrive.
        return Ok(None);
    }
    let mut frame = src.split_to(total);
    frame.advance(LENGTH_SIZE);
    let frame_type = frame.get_u8();
    let id = RequestId(frame.get_u32());
    Ok(Some((frame_type, id, frame.freeze())))
}

impl<In: Decode, Out> Decoder for Codec<In, Out> {
    type Item = Result<Packet<In>, Rejected>;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, FrameError> {
        let Some((frame_type, id, body)) = split_frame(src, self.max_frame)? else {
            return Ok(None);
        };
        Ok(Some(match In::decode(frame_type, body) {
            Ok(body) => Ok(Packet { id, body }),
            Err(error) => Err(Rejected {
                id,
                frame_type,
                error,
            }),
        }))
    }
}

impl<In, Out: Encode> Encoder<Packet<Out>> for Codec<In, Out> {
    type Error = EncodeError;

    fn encode(&mut self, item: Packet<Out>, dst: &mut BytesMut) -> Result<(), EncodeError> {
        item.body.encode(item.id, dst)
    }
}

impl<In, Out: Encode> Encoder<&Packet<Out>> for Codec<In, Out> {
    type Error = EncodeError;

    fn encode(&mut self, item: &Packet<Out>, dst: &mut BytesMut) -> Result<(), EncodeError> {
        item.body.encode(item.id, dst)
    }
}
