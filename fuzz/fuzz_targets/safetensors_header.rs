//! A safetensors file's header and tensor table, then the load plan built from it.
//! The harness, its input layout and what it checks: `janus_model::fuzzing::safetensors_header`
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| janus_model::fuzzing::safetensors_header(data));
