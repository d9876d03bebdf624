//! The server-frame parser: a frame type byte, then a body.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| chinwag_proto::fuzzing::server_frame_body(data));
