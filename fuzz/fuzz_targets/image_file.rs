//! A file a user attaches to a chat: decoded, resized and padded for the vision tower.
//! The harness, its input layout and what it checks: `janus_model::fuzzing::image_file`
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| janus_model::fuzzing::image_file(data));
