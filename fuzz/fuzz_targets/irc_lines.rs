//! The IRC front end's line framer and parser.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| chinwag_irc::fuzzing::irc_lines(data));
