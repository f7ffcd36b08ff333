//! The Rust engine against the PyTorch reference (transformers' Janus), on the committed tiny
//! random-weight checkpoints in both layouts. Goldens and fixtures come from
//! `scripts/make_fixtures.py` (its header gives the exact command).
//!
//! Proven here, for two configurations that share no size, each in both checkpoint layouts:
//! prompt ids equal, first-step logits within 1e-4 relative error, greedy text ids identical
//! (text-only, raw, and with a non-square image), all 576 greedy-CFG image codes identical for a
//! batch of two, decoded pixels within PSNR 40 dB.

mod common;

use std::ops::ControlFlow;

use common::*;
use janus_model::Loaded;
use janus_model::generate::image::{ImageRequest, decode_images, generate_image_codes};
use janus_model::generate::sampling::SamplingParams;
use janus_model::generate::text::{StopReason, TextRequest, generate_text};
use janus_model::preprocess::image::preprocess;
use janus_model::preprocess::prompt::{Message, render_chat, render_image_prompt};
use janus_model::tokenizer::RoleNames;
use serde_json::Value;

const LOGIT_TOL: f32 = 1e-4;

fn roles(g: &Value) -> RoleNames {
    let r = g["roles"].as_array().unwrap();
    RoleNames {
        user: r[0].as_str().unwrap().into(),
        assistant: r[1].as_str().unwrap().into(),
    }
}

fn check_special_ids(m: &Loaded, g: &Value) {
    let s = m.tokenizer.special();
    let ids = &g["special_ids"];
    for (key, got) in [
        ("bos", s.bos),
        ("eos", s.eos),
        ("pad", s.pad),
        ("image", s.image),
        ("boi", s.begin_of_image),
        ("eoi", s.end_of_image),
    ] {
        assert_eq!(got as u64, ids[key].as_u64().unwrap(), "special id {key}");
    }
}

fn run_text(
    m: &Loaded,
    case: &Value,
    prompt_ids: Vec<u32>,
    images: Vec<janus_model::preprocess::image::PreparedImage>,
    what: &str,
) {
    let req = TextRequest {
        prompt_ids,
        images,
        max_new_tokens: case["max_new_tokens"].as_u64().unwrap() as usize,
        sampling: SamplingParams::greedy(),
        stop_token: Some(m.tokenizer.special().eos),
        image_token: m.tokenizer.special().image,
    };
    let out =
        pollster::block_on(generate_text(&m.model, &req, |_| ControlFlow::Continue(()))).unwrap();
    let err = rel_err(&out.first_logits, &f32s(&case["first_logits"]));
    assert!(err < LOGIT_TOL, "{what}: first-step logits rel err {err:e}");
    assert_eq!(out.ids, u32s(&case["output_ids"]), "{what}: greedy ids");
    let eos = case["stopped_on_eos"].as_bool().unwrap();
    assert_eq!(
        out.stop == StopReason::Eos,
        eos,
        "{what}: stop reason {:?}",
        out.stop
    );
    eprintln!(
        "{what}: logits rel err {err:.2e}, {} ids equal",
        out.ids.len()
    );
}

fn check_fixture(name: &str, config: &str) {
    let g = golden(config);
    let m = load_fixture(name);
    check_special_ids(&m, &g);
    let roles = roles(&g);
    let tok = &m.tokenizer;
    let tokens_per_image = m.model.config().image_tokens();

    // Text only: system prompt, two turns.
    let case = &g["cases"]["text"];
    let turns: Vec<&str> = case["turns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    let messages = [
        Message::user(turns[0]),
        Message::assistant(turns[1]),
        Message::user(turns[2]),
    ];
    let text = render_chat(case["system"].as_str().unwrap(), &messages, &roles);
    assert_eq!(
        text,
        case["prompt"].as_str().unwrap(),
        "{name}: rendered chat"
    );
    let ids = tok.encode(&text).unwrap();
    assert_eq!(ids, u32s(&case["prompt_ids"]), "{name}: chat prompt ids");
    run_text(&m, case, ids, vec![], &format!("{name} text"));

    // Raw prompt, no template.
    let case = &g["cases"]["raw"];
    let ids = tok.encode(case["prompt"].as_str().unwrap()).unwrap();
    assert_eq!(ids, u32s(&case["prompt_ids"]), "{name}: raw prompt ids");
    run_text(&m, case, ids, vec![], &format!("{name} raw"));

    // Understanding a non-square image.
    let case = &g["cases"]["understand"];
    let text = render_chat(
        "",
        &[Message::user_with_images(
            1,
            case["question"].as_str().unwrap(),
        )],
        &roles,
    );
    assert_eq!(
        text,
        case["prompt"].as_str().unwrap(),
        "{name}: rendered understanding prompt"
    );
    let (ids, n) = tok.expand_images(&tok.encode(&text).unwrap(), tokens_per_image);
    assert_eq!(n, 1);
    assert_eq!(
        ids,
        u32s(&case["prompt_ids"]),
        "{name}: understanding prompt ids"
    );
    let bytes = std::fs::read(
        fixtures()
            .join("images")
            .join(case["image"].as_str().unwrap()),
    )
    .unwrap();
    let image = preprocess(&bytes, 384).unwrap();
    run_text(&m, case, ids, vec![image], &format!("{name} understand"));

    // Text to image: greedy CFG, two images in one batch, all 576 codes.
    let case = &g["cases"]["imagine"];
    let text = render_image_prompt(case["prompt"].as_str().unwrap(), &roles);
    assert_eq!(text, case["full_prompt"].as_str().unwrap());
    let ids = tok.encode(&text).unwrap();
    assert_eq!(ids, u32s(&case["prompt_ids"]), "{name}: image prompt ids");
    let req = ImageRequest {
        prompt_ids: ids,
        count: 2,
        cfg_weight: case["cfg_weight"].as_f64().unwrap() as f32,
        sampling: SamplingParams::greedy(),
        pad_token: tok.special().pad,
    };
    let mut steps = 0;
    let out = pollster::block_on(generate_image_codes(&m.model, &req, |s| {
        steps = s.step + 1;
        ControlFlow::Continue(())
    }))
    .unwrap();
    assert_eq!(steps, 576);
    for (k, key) in [
        "first_cond_logits",
        "first_uncond_logits",
        "first_cfg_logits",
    ]
    .iter()
    .enumerate()
    {
        let err = rel_err(&out.first_logits[k], &f32s(&case[*key]));
        assert!(err < LOGIT_TOL, "{name}: {key} rel err {err:e}");
    }
    let want = u32s(&case["codes"]);
    for (i, codes) in out.codes.iter().enumerate() {
        let same = codes.iter().zip(&want).take_while(|(a, b)| a == b).count();
        assert_eq!(
            codes, &want,
            "{name}: image {i} codes diverge at step {same}"
        );
    }
    let images = pollster::block_on(decode_images(&m.model, &out.codes[..1])).unwrap();
    let reference = read_png(
        fixtures()
            .join("goldens")
            .join(case["png"].as_str().unwrap()),
    );
    let p = psnr(images[0].as_raw(), reference.as_raw());
    assert!(p >= 40.0, "{name}: generated image PSNR {p:.1} dB");
    eprintln!("{name} imagine: 2 x 576 codes equal, decoded PSNR {p:.1} dB");

    // VQ decode of arbitrary codes.
    let case = &g["cases"]["decode"];
    let images = pollster::block_on(decode_images(&m.model, &[u32s(&case["codes"])])).unwrap();
    let reference = read_png(
        fixtures()
            .join("goldens")
            .join(case["png"].as_str().unwrap()),
    );
    assert_eq!(images[0].dimensions(), reference.dimensions());
    let p = psnr(images[0].as_raw(), reference.as_raw());
    assert!(p >= 40.0, "{name}: decoded PSNR {p:.1} dB");
    eprintln!("{name} decode: PSNR {p:.1} dB");
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
