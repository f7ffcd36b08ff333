//! `config.json` in either format, then the tensor table it implies.
//! The harness, its input layout and what it checks: `janus_model::fuzzing::config_json`
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| janus_model::fuzzing::config_json(data));
