//! `janus-pack.json`, a pack's manifest, and its round trip.
//! The harness, its input layout and what it checks: `janus_model::fuzzing::pack_manifest`
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| janus_model::fuzzing::pack_manifest(data));
