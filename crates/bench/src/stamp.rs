//! The send timestamp carried inside a message's text.
//!
//! A message text is `sender:seq:nanos|` in lower-case hex, padded with
//! `.` to the requested size. Sender and receiver run in the same process,
//! so `nanos` is read from one monotonic clock ([`Clock`]) on both sides
//! and the difference is the one-way latency through the server.

use std::fmt::Write;
use std::time::{Duration, Instant};

/// The longest header: three `u64`s in hex, two `:` and a `|`.
pub const MAX_HEADER: usize = 3 * 16 + 3;

/// A monotonic clock shared by the senders and receivers of one run.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    origin: Instant,
}

impl Clock {
    pub fn start() -> Clock {
        Clock {
            origin: Instant::now(),
        }
    }

    /// Nanoseconds since the clock started.
    pub fn now_ns(&self) -> u64 {
        self.ns_at(Instant::now())
    }

    pub fn ns_at(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.origin).as_nanos() as u64
    }

    pub fn instant_at(&self, ns: u64) -> Instant {
        self.origin + Duration::from_nanos(ns)
    }
}

/// What a receiver learns from a message text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub sender: u64,
    pub seq: u64,
    /// When the message was (or, paced, should have been) sent.
    pub sent_ns: u64,
}

impl Stamp {
    /// The message text: the stamp, padded with `.` to `size` bytes (or
    /// longer if `size` cannot hold the stamp; [`check_size`] prevents that).
    pub fn text(&self, size: usize) -> String {
        let mut text = String::with_capacity(size.max(MAX_HEADER));
        let _ = write!(text, "{:x}:{:x}:{:x}|", self.sender, self.seq, self.sent_ns);
        while text.len() < size {
            text.push('.');
        }
        text
    }

    /// Reads the stamp back; `None` for a text no benchmark sender wrote.
    pub fn parse(text: &str) -> Option<Stamp> {
        let (header, _) = text.split_once('|')?;
        let mut fields = header.splitn(3, ':');
        let mut next = || u64::from_str_radix(fields.next()?, 16).ok();
        Some(Stamp {
            sender: next()?,
            seq: next()?,
            sent_ns: next()?,
        })
    }
}

/// Checks that messages of `size` bytes can carry a stamp and fit the
/// server's limit.
pub fn check_size(size: usize, max_content: usize) -> Result<(), String> {
    if size < MAX_HEADER {
        return Err(format!(
            "--size {size} is too small: a message carries a timestamp header of up to {MAX_HEADER} bytes"
        ));
    }
    if size > max_content {
        return Err(format!(
            "--size {size} is above the server's max_content of {max_content} bytes"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_pads() {
        let stamp = Stamp {
            sender: 7,
            seq: 123_456,
            sent_ns: u64::MAX,
        };
        let text = stamp.text(64);
        assert_eq!(text.len(), 64);
        assert!(text.starts_with("7:1e240:ffffffffffffffff|."));
        assert_eq!(Stamp::parse(&text), Some(stamp));
        assert_eq!(Stamp::parse("hello"), None);
        assert_eq!(Stamp::parse("1:2|"), None);
        assert_eq!(Stamp::parse("x:2:3|"), None);
    }

    #[test]
    fn the_largest_stamp_fits_max_header() {
        let stamp = Stamp {
            sender: u64::MAX,
            seq: u64::MAX,
            sent_ns: u64::MAX,
        };
        assert_eq!(stamp.text(0).len(), MAX_HEADER);
        assert!(check_size(MAX_HEADER, 4096).is_ok());
        assert!(check_size(MAX_HEADER - 1, 4096).is_err());
        assert!(check_size(5000, 4096).is_err());
    }
}
