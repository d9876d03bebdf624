//! The client's frame decoder on a stream a hostile server sends.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| chinwag_proto::fuzzing::client_stream(data));
