//! Field encodings: big-endian integers and `u16`-length-prefixed UTF-8
//! strings. [`Reader`] checks every length before it takes any byte, so a
//! truncated or lying body is an error, never a panic.

use bytes::{Buf, BufMut, Bytes};
use bytestring::ByteString;

use crate::error::{BodyError, EncodeError};
use crate::limits::MAX_FIELD_LEN;

/// Reads the fields of one frame body, front to back.
pub struct Reader {
    body: Bytes,
}

impl Reader {
    pub fn new(body: Bytes) -> Self {
        Reader { body }
    }

    fn need(&self, field: &'static str, n: usize) -> Result<(), BodyError> {
        if self.body.len() < n {
            Err(BodyError::Truncated { field })
        } else {
            Ok(())
        }
    }

    pub fn u8(&mut self, field: &'static str) -> Result<u8, BodyError> {
        self.need(field, 1)?;
        Ok(self.body.get_u8())
    }

    pub fn u16(&mut self, field: &'static str) -> Result<u16, BodyError> {
        self.need(field, 2)?;
        Ok(self.body.get_u16())
    }

    pub fn u32(&mut self, field: &'static str) -> Result<u32, BodyError> {
        self.need(field, 4)?;
        Ok(self.body.get_u32())
    }

    pub fn u64(&mut self, field: &'static str) -> Result<u64, BodyError> {
        self.need(field, 8)?;
        Ok(self.body.get_u64())
    }

    /// Exactly `n` raw bytes.
    pub fn bytes(&mut self, field: &'static str, n: usize) -> Result<Bytes, BodyError> {
        self.need(field, n)?;
        Ok(self.body.split_to(n))
    }

    /// A `u16` length and that many bytes of UTF-8. The string shares the
    /// frame's buffer: no copy.
    pub fn str(&mut self, field: &'static str) -> Result<ByteString, BodyError> {
        let len = usize::from(self.u16(field)?);
        let raw = self.bytes(field, len)?;
        ByteString::try_from(raw).map_err(|_| BodyError::InvalidUtf8 { field })
    }

    /// Whether every byte has been read (for a trailing optional field).
    pub fn is_empty(&self) -> bool {
        self.body.is_empty()
    }

    /// Ends the body: bytes left over make the frame malformed.
    pub fn finish(self) -> Result<(), BodyError> {
        if self.body.is_empty() {
            Ok(())
        } else {
            Err(BodyError::TrailingBytes {
                extra: self.body.len(),
            })
        }
    }
}

/// Appends a `u16` length and the string's bytes.
pub fn put_str(dst: &mut impl BufMut, field: &'static str, value: &str) -> Result<(), EncodeError> {
    if value.len() > MAX_FIELD_LEN {
        return Err(EncodeError::FieldTooLong {
            field,
            len: value.len(),
        });
    }
    dst.put_u16(value.len() as u16);
    dst.put_slice(value.as_bytes());
    Ok(())
}

/// The encoded size of a string field.
pub fn str_len(value: &str) -> usize {
    2 + value.len()
}

/// Writes one whole frame: length, type, request id and the body that
/// `body` appends. The length is patched in afterwards, so the body is
/// written once, straight into `dst`. On error `dst` is left as it was.
pub fn put_frame(
    dst: &mut bytes::BytesMut,
    frame_type: crate::FrameType,
    id: crate::RequestId,
    body: impl FnOnce(&mut bytes::BytesMut) -> Result<(), EncodeError>,
) -> Result<(), EncodeError> {
    let start = dst.len();
    dst.put_u32(0);
    dst.put_u8(frame_type as u8);
    dst.put_u32(id.0);
    if let Err(error) = body(dst) {
        dst.truncate(start);
        return Err(error);
    }
    let len = dst.len() - start - crate::frame::LENGTH_SIZE;
    let Ok(len) = u32::try_from(len) else {
        dst.truncate(start);
        return Err(EncodeError::FieldTooLong {
            field: "frame",
            len,
        });
    };
    dst[start..start + 4].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

/// A type that can be written as a whole frame.
pub trait Encode {
    fn encode(&self, id: crate::RequestId, dst: &mut bytes::BytesMut) -> Result<(), EncodeError>;

    /// The frame as its own buffer, ready to be shared among many sockets.
    ///
    /// Encoded into a reused per-thread scratch buffer, then copied into one
    /// allocation of exactly its size. Encoding straight into a fresh
    /// `BytesMut` regrew it several times per frame (a measured 300 ns of a
    /// 390 ns TRANSFER dispatch); an exact copy also keeps no spare capacity
    /// alive while the frame waits in outbound queues.
    fn to_frame(&self, id: crate::RequestId) -> Result<Bytes, EncodeError> {
        /// A scratch buffer that grew beyond this (a long USER_LIST) is
        /// given back rather than kept for the thread's lifetime.
        const KEEP: usize = 16 * 1024;
        thread_local! {
            static SCRATCH: std::cell::RefCell<bytes::BytesMut> =
                std::cell::RefCell::new(bytes::BytesMut::with_capacity(1024));
        }
        SCRATCH.with(|scratch| {
            // Not re-entrant: `encode` never calls `to_frame`. Should that
            // ever change, fall back to a buffer of its own.
            let Ok(mut buf) = scratch.try_borrow_mut() else {
                let mut buf = bytes::BytesMut::new();
                self.encode(id, &mut buf)?;
                return Ok(buf.freeze());
            };
            buf.clear();
            let encoded = self.encode(id, &mut buf);
            let frame = encoded.map(|()| Bytes::copy_from_slice(&buf));
            if buf.capacity() > KEEP {
                *buf = bytes::BytesMut::with_capacity(1024);
            }
            frame
        })
    }
}

/// A type that can be read from a frame's type byte and body.
pub trait Decode: Sized {
    fn decode(frame_type: u8, body: Bytes) -> Result<Self, BodyError>;
}
