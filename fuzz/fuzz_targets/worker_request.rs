//! A chat request, an image request or browser-decoded pixels, as the web worker hands them to
//! the engine, checked to the generation request.
//! The harness, its input layout and what it checks: `janus_model::fuzzing::worker_request`
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| janus_model::fuzzing::worker_request(data));
