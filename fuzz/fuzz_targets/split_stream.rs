//! The server's decoder fed a stream in pieces gives what it gives whole.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| chinwag_proto::fuzzing::split_stream(data));
