//! The entry point of the `irc_lines` fuzz target (`fuzz/`), which the
//! test suite also runs over the committed seed corpus.

use bytes::BytesMut;

use crate::line::{self, Line, LineError, Lines};

/// Bytes a client sends, cut into lines and parsed: never panics, never
/// keeps more than [`line::MAX_LINE`] bytes of one line, and a parsed
/// message written back parses to itself (unless writing it back made it
/// too long).
pub fn irc_lines(data: &[u8]) {
    let mut buf = BytesMut::new();
    let mut framer = Lines::default();
    // Fed in two pieces, as a socket might deliver it.
    let (first, second) = data.split_at(data.len() / 2);
    for piece in [first, second] {
        buf.extend_from_slice(piece);
        while let Some(cut) = framer.next(&mut buf) {
            if let Line::Text(text) = cut {
                assert!(text.len() < line::MAX_LINE);
                check_round_trip(&text);
            }
        }
        assert!(buf.len() < line::MAX_LINE, "an unfinished line is capped");
    }
}

fn check_round_trip(text: &[u8]) {
    let Ok(message) = line::parse(text) else {
        return;
    };
    let written = line::serialize(&message);
    match line::parse(written.trim_end_matches("\r\n").as_bytes()) {
        Ok(again) => assert_eq!(again, message, "{written:?}"),
        Err(LineError::TooLong { .. } | LineError::TagsTooLong { .. }) => {}
        Err(error) => panic!("{written:?} does not parse back: {error}"),
    }
}
