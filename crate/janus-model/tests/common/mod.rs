//! Shared helpers for the integration tests: fixture paths, goldens, comparisons.
#![allow(dead_code)]

use std::path::PathBuf;

use burn::tensor::Device;
use janus_model::{DirSource, Loaded, WorkingDtype, load};
use serde_json::Value;

/// The committed fixtures (written by scripts/make_fixtures.py).
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

pub fn model_dir(name: &str) -> PathBuf {
    fixtures().join("models").join(name)
}

pub fn golden(config: &str) -> Value {
    let path = fixtures().join("goldens").join(format!("{config}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

pub fn device() -> Device {
    Device::flex()
}

pub fn load_fixture(name: &str) -> Loaded {
    load(
        &DirSource::new(model_dir(name)),
        &device(),
        WorkingDtype::F32,
    )
    .unwrap_or_else(|e| panic!("loading {name}: {e}"))
}

/// Golden arrays, read by the conformance suite's readers.
pub fn u32s(v: &Value) -> Vec<u32> {
    janus_conformance::u32s(v).unwrap()
}

pub fn f32s(v: &Value) -> Vec<f32> {
    janus_conformance::f32s(v).unwrap()
}

#[allow(unused_imports)] // each test binary uses a subset
pub use janus_model::metrics::{psnr, rel_err};

pub fn read_png(path: PathBuf) -> image::RgbImage {
    image::open(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8()
}
