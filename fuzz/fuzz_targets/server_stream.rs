//! The server's frame decoder on a stream a hostile client sends.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| chinwag_proto::fuzzing::server_stream(data));
