//! `model.safetensors.index.json`.
//! The harness, its input layout and what it checks: `janus_model::fuzzing::shard_index`
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| janus_model::fuzzing::shard_index(data));
