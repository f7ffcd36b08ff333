//! The Rust engine against the PyTorch reference (transformers' Janus), on the committed tiny
//! random-weight checkpoints in both layouts, through the shared conformance suite
//! (`crate/janus-conformance`, also run in the browser on WebGPU). Goldens and fixtures come from
//! `scripts/make_fixtures.py` (its header gives the exact command).
//!
//! Proven here, for two configurations that share no size, each in both checkpoint layouts:
//! prompt ids equal, first-step logits within 1e-4 relative error, greedy text ids identical
//! (text-only, raw, and with a non-square image), all 576 greedy-CFG image codes identical for a
//! batch of two, decoded pixels within PSNR 40 dB — and the same with the vocabulary matrices
//! split into row blocks by a small device buffer limit.

mod common;

use common::*;
use janus_conformance::{Goldens, check};
use janus_model::{DirSource, Loaded, TensorStore, WorkingDtype, load_into};

const LOGIT_TOL: f32 = 1e-4;

fn read(path: std::path::PathBuf) -> Vec<u8> {
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn run_conformance(m: &Loaded, name: &str, config: &str) {
    let json = std::fs::read_to_string(fixtures().join(format!("goldens/{config}.json"))).unwrap();
    let g: serde_json::Value = serde_json::from_str(&json).unwrap();
    let file =
        |dir: &str, key: &serde_json::Value| read(fixtures().join(dir).join(key.as_str().unwrap()));
    let question_image = file("images", &g["cases"]["understand"]["image"]);
    let imagine_png = file("goldens", &g["cases"]["imagine"]["png"]);
    let decode_png = file("goldens", &g["cases"]["decode"]["png"]);
    let goldens = Goldens {
        json: &json,
        question_image: &question_image,
        imagine_png: &imagine_png,
        decode_png: &decode_png,
    };
    match pollster::block_on(check(m, &goldens, LOGIT_TOL)) {
        Ok(figures) => eprintln!("{name}: {figures}"),
        Err(e) => panic!("{name}: {e}"),
    }
}

fn check_fixture(name: &str, config: &str) {
    run_conformance(&load_fixture(name), name, config);
}

#[test]
fn tiny_a_deepseek_layout_matches_reference() {
    check_fixture("tiny-a-deepseek", "tiny-a");
}

#[test]
fn tiny_a_hf_layout_matches_reference() {
    check_fixture("tiny-a-hf", "tiny-a");
}

#[test]
fn tiny_b_deepseek_layout_matches_reference() {
    check_fixture("tiny-b-deepseek", "tiny-b");
}

#[test]
fn tiny_b_hf_layout_matches_reference() {
    check_fixture("tiny-b-hf", "tiny-b");
}

/// A small device buffer limit splits `embed_tokens` and `lm_head` into row blocks (as the real
/// 102,400-row matrices are on WebGPU); results are unchanged.
#[test]
fn split_vocabulary_matrices_match_reference() {
    // tiny-b: its vocabulary matrix is larger than every tensor that must stay whole.
    for (name, config) in [("tiny-b-hf", "tiny-b"), ("tiny-b-deepseek", "tiny-b")] {
        let source = DirSource::new(model_dir(name));
        let info = janus_model::inspect(&source).unwrap();
        let limit = janus_conformance::vocabulary_split_limit(&info.config, &info.plan);
        let store = TensorStore::new(&device(), WorkingDtype::F32).with_max_tensor_bytes(limit);
        let m = load_into(&source, store).unwrap();
        for t in [
            "language_model.model.embed_tokens.weight",
            "language_model.lm_head.weight",
        ] {
            assert!(
                m.split_tensors.iter().any(|s| s == t),
                "{name}: {t} not split: {:?}",
                m.split_tensors
            );
        }
        assert!(m.model.lm_head.weight.block_count() >= 2, "{name}");
        run_conformance(&m, &format!("{name} (split)"), config);
    }
}

/// Every tensor converted and written to the device a row at a time (a one-byte stage), the
/// vocabulary matrices in row blocks as well: the model is the same.
#[test]
fn rows_written_a_row_at_a_time_match_reference() {
    let source = DirSource::new(model_dir("tiny-b-hf"));
    let info = janus_model::inspect(&source).unwrap();
    let limit = janus_conformance::vocabulary_split_limit(&info.config, &info.plan);
    let store = TensorStore::new(&device(), WorkingDtype::F32)
        .with_max_tensor_bytes(limit)
        .with_stage_bytes(1);
    let m = load_into(&source, store).unwrap();
    assert!(m.model.lm_head.weight.block_count() >= 2);
    run_conformance(&m, "tiny-b-hf (a row at a time)", "tiny-b");
}

#[test]
fn preprocessing_matches_reference_pixels() {
    let g = golden("tiny-a");
    for (file, info) in g["preprocess"].as_object().unwrap() {
        let bytes = std::fs::read(fixtures().join("images").join(file)).unwrap();
        let img = janus_model::preprocess::image::decode_image(&bytes).unwrap();
        let (canvas, resized) = janus_model::preprocess::image::resize_and_pad(&img, 384);
        assert_eq!(
            [resized.0 as u64, resized.1 as u64],
            [
                info["resized"][0].as_u64().unwrap(),
                info["resized"][1].as_u64().unwrap()
            ]
        );
        let reference = read_png(
            fixtures()
                .join("goldens")
                .join(info["canvas"].as_str().unwrap()),
        );
        let worst = canvas
            .as_raw()
            .iter()
            .zip(reference.as_raw())
            .map(|(&a, &b)| (a as i32 - b as i32).abs())
            .max()
            .unwrap();
        assert!(worst <= 2, "{file}: worst pixel difference {worst} levels");
        eprintln!("{file}: worst pixel difference {worst} levels");
    }
}

/// The f16 working dtype (chosen in browsers whose GPU has `shader-f16`): weights and
/// activations in half precision, norms/softmax in f32, the VQ decoder in f32. Greedy decisions
/// of random tiny models are too close to survive f16 rounding, so the first-step logits are
/// compared (text with an image, and the image head), and every path must run.
#[test]
fn f16_working_dtype_stays_close_to_reference() {
    use janus_model::generate::image::{ImageRequest, generate_image_codes};
    use janus_model::generate::sampling::SamplingParams;
    use janus_model::generate::text::{TextRequest, generate_text};
    use janus_model::preprocess::image::preprocess;
    use std::ops::ControlFlow;

    let m = janus_model::load(
        &DirSource::new(model_dir("tiny-a-hf")),
        &device(),
        WorkingDtype::F16,
    )
    .unwrap();
    let g = golden("tiny-a");
    let case = &g["cases"]["understand"];
    let image = preprocess(&read(fixtures().join("images/photo.png")), 384).unwrap();
    let req = TextRequest {
        prompt_ids: u32s(&case["prompt_ids"]),
        images: vec![image],
        max_new_tokens: 2,
        sampling: SamplingParams::greedy(),
        stop_token: None,
        image_token: m.tokenizer.special().image,
        logprobs: None,
        json: None,
    };
    let out =
        pollster::block_on(generate_text(&m.model, &req, |_| ControlFlow::Continue(()))).unwrap();
    let text_err = rel_err(&out.first_logits, &f32s(&case["first_logits"]));
    let case = &g["cases"]["imagine"];
    let req = ImageRequest {
        prompt_ids: u32s(&case["prompt_ids"]),
        count: 1,
        cfg_weight: case["cfg_weight"].as_f64().unwrap() as f32,
        sampling: SamplingParams::greedy(),
        pad_token: m.tokenizer.special().pad,
        preview_every: 0,
    };
    let out = pollster::block_on(generate_image_codes(&m.model, &req, |s| {
        if s.step >= 3 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }))
    .unwrap();
    let image_err = rel_err(&out.first_logits[2], &f32s(&case["first_cfg_logits"]));
    eprintln!(
        "f16: first-step logits rel err {text_err:.2e} (understand), {image_err:.2e} (CFG image)"
    );
    assert!(
        text_err < 2e-2 && image_err < 2e-2,
        "f16 logits drift: {text_err:e}, {image_err:e}"
    );
    let decoded = pollster::block_on(janus_model::generate::image::decode_images(
        &m.model,
        &[u32s(&g["cases"]["decode"]["codes"])],
    ))
    .unwrap();
    let reference = read_png(fixtures().join("goldens/tiny-a-decode.png"));
    let p = psnr(decoded[0].as_raw(), reference.as_raw());
    eprintln!("f16 model, f32 VQ decoder: decoded PSNR {p:.1} dB");
    assert!(p >= 40.0, "decoded PSNR {p:.1} dB");
}
