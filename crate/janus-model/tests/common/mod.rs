//! Shared helpers for the integration tests: fixture paths, goldens, comparisons.
#![allow(dead_code)]

use std::ops::ControlFlow;
use std::path::PathBuf;

use burn::tensor::Device;
use janus_model::generate::image::{ImageRequest, generate_image_codes};
use janus_model::generate::sampling::SamplingParams;
use janus_model::generate::text::{TextRequest, generate_text};
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

/// First-step logits: the golden text prompt's next token, and the guided image token.
pub fn first_logits(m: &Loaded, config: &str) -> (Vec<f32>, Vec<f32>) {
    let g = golden(config);
    let text = pollster::block_on(generate_text(&m.model, &text_request(m, &g, 1), |_| {
        ControlFlow::Continue(())
    }))
    .unwrap();
    let image = pollster::block_on(generate_image_codes(
        &m.model,
        &image_request(m, &g),
        |_| ControlFlow::Break(()),
    ))
    .unwrap();
    let [_, _, guided] = image.first_logits;
    (text.first_logits, guided)
}

/// The golden text prompt, greedy, `max_new_tokens` of them (no stop token: the whole budget).
pub fn text_request(m: &Loaded, g: &Value, max_new_tokens: usize) -> TextRequest {
    TextRequest {
        prompt_ids: u32s(&g["cases"]["text"]["prompt_ids"]),
        images: vec![],
        max_new_tokens,
        sampling: SamplingParams::greedy(),
        stop_token: None,
        image_token: m.tokenizer.special().image,
        logprobs: None,
        json: None,
    }
}

/// The golden image prompt: one image, greedy, guidance 5 (a batch of two rows).
pub fn image_request(m: &Loaded, g: &Value) -> ImageRequest {
    ImageRequest {
        prompt_ids: u32s(&g["cases"]["imagine"]["prompt_ids"]),
        count: 1,
        cfg_weight: 5.0,
        sampling: SamplingParams::greedy(),
        pad_token: m.tokenizer.special().pad,
        preview_every: 0,
    }
}

/// `janus pack` of a fixture into memory: the pack's files by name.
pub fn pack_fixture(
    name: &str,
    format: janus_model::quant::QuantFormat,
    shard_bytes: u64,
) -> janus_model::MemorySource {
    use janus_model::weights::pack_writer::{PackOptions, write_pack};
    let source = DirSource::new(model_dir(name));
    let info = janus_model::inspect(&source).unwrap();
    let mut out = janus_model::MemorySource::new();
    let options = PackOptions {
        format,
        shard_bytes,
        source_name: name.into(),
    };
    write_pack(&source, &info.plan, &options, &mut |file, bytes| {
        out.insert(file, bytes.to_vec());
        Ok(())
    })
    .unwrap_or_else(|e| panic!("packing {name}: {e}"));
    out
}
