//! The cases, in the order a failure is cheapest to read.

use std::ops::ControlFlow;

use janus_model::Loaded;
use janus_model::generate::image::{ImageRequest, decode_images, generate_image_codes};
use janus_model::generate::prompt_cache::PromptCache;
use janus_model::generate::sampling::SamplingParams;
use janus_model::generate::text::{StopReason, TextOutput, TextRequest, generate_text_with};
use janus_model::metrics::{psnr, rel_err};
use janus_model::preprocess::image::{PreparedImage, preprocess};
use janus_model::preprocess::prompt::{Message, render_chat, render_image_prompt};
use janus_model::tokenizer::RoleNames;
use serde_json::Value;

/// Everything a check reads besides the model: `tests/fixtures/goldens/<config>.json`, the image
/// the understanding case asks about, and the reference PNGs of the image cases.
pub struct Goldens<'a> {
    pub json: &'a str,
    /// Bytes of the file named by `cases.understand.image` (under `tests/fixtures/images`).
    pub question_image: &'a [u8],
    /// `cases.imagine.png` and `cases.decode.png` (under `tests/fixtures/goldens`).
    pub imagine_png: &'a [u8],
    pub decode_png: &'a [u8],
}

/// Figures measured by a passing check.
#[derive(Clone, Debug, Default)]
pub struct Figures {
    /// Worst first-step logits relative error over every case.
    pub worst_logits_rel_err: f32,
    pub text_ids_compared: usize,
    pub image_codes_compared: usize,
    pub imagine_psnr_db: f64,
    pub decode_psnr_db: f64,
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "logits rel err <= {:.2e}, {} text ids identical",
            self.worst_logits_rel_err, self.text_ids_compared
        )?;
        if self.image_codes_compared > 0 {
            write!(
                f,
                ", {} image codes identical, PSNR {:.1} dB (generated) / {:.1} dB (decoded)",
                self.image_codes_compared, self.imagine_psnr_db, self.decode_psnr_db
            )?;
        }
        Ok(())
    }
}

pub(crate) type Check<T = ()> = Result<T, String>;

pub(crate) fn ensure(ok: bool, what: impl FnOnce() -> String) -> Check {
    if ok { Ok(()) } else { Err(what()) }
}

/// A golden array of numbers, each converted by `get` (`None`: not that kind of number).
fn numbers<T>(v: &Value, what: &str, get: impl Fn(&Value) -> Option<T>) -> Check<Vec<T>> {
    v.as_array()
        .ok_or_else(|| format!("golden: expected an array of {what}"))?
        .iter()
        .map(|x| get(x).ok_or_else(|| format!("golden: {x} is not one of the {what}")))
        .collect()
}

/// Token ids or image codes of a golden.
pub fn u32s(v: &Value) -> Check<Vec<u32>> {
    numbers(v, "ids", |x| x.as_u64().map(|n| n as u32))
}

/// Logits or pixel values of a golden.
pub fn f32s(v: &Value) -> Check<Vec<f32>> {
    numbers(v, "floats", |x| x.as_f64().map(|n| n as f32))
}

pub(crate) fn text(v: &Value) -> Check<&str> {
    v.as_str().ok_or_else(|| "golden: expected a string".into())
}

fn png(bytes: &[u8]) -> Check<image::RgbImage> {
    Ok(image::load_from_memory(bytes)
        .map_err(|e| format!("reference PNG: {e}"))?
        .to_rgb8())
}

/// Run every case of `goldens` on `m`; logits must agree within `logits_tol` relative error.
pub async fn check(m: &Loaded, goldens: &Goldens<'_>, logits_tol: f32) -> Check<Figures> {
    let g: Value = serde_json::from_str(goldens.json).map_err(|e| format!("goldens: {e}"))?;
    let roles = roles(&g)?;
    let mut fig = text_cases(m, &g, &roles, goldens, logits_tol).await?;
    imagine(
        m,
        &g["cases"]["imagine"],
        &roles,
        goldens,
        logits_tol,
        &mut fig,
    )
    .await?;

    // VQ decode of arbitrary codes.
    let case = &g["cases"]["decode"];
    let images = decode_images(&m.model, &[u32s(&case["codes"])?])
        .await
        .map_err(|e| e.to_string())?;
    let reference = png(goldens.decode_png)?;
    ensure(images[0].dimensions() == reference.dimensions(), || {
        "decode: image size differs".into()
    })?;
    fig.decode_psnr_db = psnr(images[0].as_raw(), reference.as_raw());
    ensure(fig.decode_psnr_db >= 40.0, || {
        format!("decode: PSNR {:.1} dB", fig.decode_psnr_db)
    })?;
    Ok(fig)
}

/// Only the text cases (two-turn chat, raw prompt, image understanding): the quick subset.
pub async fn check_text(m: &Loaded, goldens: &Goldens<'_>, logits_tol: f32) -> Check<Figures> {
    let g: Value = serde_json::from_str(goldens.json).map_err(|e| format!("goldens: {e}"))?;
    let roles = roles(&g)?;
    text_cases(m, &g, &roles, goldens, logits_tol).await
}

fn roles(g: &Value) -> Check<RoleNames> {
    let r = g["roles"].as_array().ok_or("golden: roles")?;
    Ok(RoleNames {
        user: text(&r[0])?.into(),
        assistant: text(&r[1])?.into(),
    })
}

async fn text_cases(
    m: &Loaded,
    g: &Value,
    roles: &RoleNames,
    goldens: &Goldens<'_>,
    logits_tol: f32,
) -> Check<Figures> {
    let mut fig = Figures::default();
    special_ids(m, g)?;
    let tok = &m.tokenizer;

    // Text only: system prompt, two turns.
    let case = &g["cases"]["text"];
    let turns = case["turns"].as_array().ok_or("golden: turns")?;
    let messages = [
        Message::user(text(&turns[0])?),
        Message::assistant(text(&turns[1])?),
        Message::user(text(&turns[2])?),
    ];
    let prompt = render_chat(text(&case["system"])?, &messages, roles);
    ensure(prompt == text(&case["prompt"])?, || {
        "text: rendered chat differs".into()
    })?;
    let ids = tok.encode(&prompt).map_err(|e| e.to_string())?;
    ensure(ids == u32s(&case["prompt_ids"])?, || {
        "text: prompt ids differ".into()
    })?;
    let prompt = Prompt::text(ids);
    run_text(m, case, prompt, "text", logits_tol, &mut fig, None).await?;

    // Raw prompt, no template.
    let case = &g["cases"]["raw"];
    let ids = tok
        .encode(text(&case["prompt"])?)
        .map_err(|e| e.to_string())?;
    ensure(ids == u32s(&case["prompt_ids"])?, || {
        "raw: prompt ids differ".into()
    })?;
    let prompt = Prompt::text(ids.clone());
    run_text(m, case, prompt, "raw", logits_tol, &mut fig, None).await?;
    crate::logprobs::logprobs(m, case, &ids, logits_tol).await?;
    let golden = u32s(&case["output_ids"])?;
    crate::json::json_replies(m, &ids, &golden, logits_tol).await?;

    // Understanding a non-square image.
    let case = &g["cases"]["understand"];
    let question = Message::user_with_images(1, text(&case["question"])?);
    let prompt = render_chat("", &[question], roles);
    ensure(prompt == text(&case["prompt"])?, || {
        "understand: rendered prompt differs".into()
    })?;
    let encoded = tok.encode(&prompt).map_err(|e| e.to_string())?;
    let (ids, n) = tok.expand_images(&encoded, m.model.config().image_tokens());
    ensure(n == 1 && ids == u32s(&case["prompt_ids"])?, || {
        "understand: prompt ids differ".into()
    })?;
    let size = m.model.config().vision.image_size;
    let image = preprocess(goldens.question_image, size).map_err(|e| e.to_string())?;
    let prompt = Prompt {
        ids,
        images: vec![image.clone()],
    };
    run_text(
        m,
        case,
        prompt.clone(),
        "understand",
        logits_tol,
        &mut fig,
        None,
    )
    .await?;
    crate::chunks::in_chunks(m, case, &prompt, logits_tol, &mut fig).await?;

    crate::kept::kept_cache(m, g, roles, image, logits_tol, &mut fig).await?;
    Ok(fig)
}

fn special_ids(m: &Loaded, g: &Value) -> Check {
    let s = m.tokenizer.special();
    for (key, got) in [
        ("bos", s.bos),
        ("eos", s.eos),
        ("pad", s.pad),
        ("image", s.image),
        ("boi", s.begin_of_image),
        ("eoi", s.end_of_image),
    ] {
        let want = g["special_ids"][key].as_u64();
        ensure(want == Some(got as u64), || {
            format!("special id {key}: {got}, golden {want:?}")
        })?;
    }
    Ok(())
}

/// A prompt's ids (images expanded) and its pictures, in order.
#[derive(Clone)]
pub(crate) struct Prompt {
    pub ids: Vec<u32>,
    pub images: Vec<PreparedImage>,
}

impl Prompt {
    pub fn text(ids: Vec<u32>) -> Self {
        Self {
            ids,
            images: Vec::new(),
        }
    }
}

pub(crate) async fn run_text(
    m: &Loaded,
    case: &Value,
    prompt: Prompt,
    what: &str,
    tol: f32,
    fig: &mut Figures,
    kept: Option<&mut PromptCache>,
) -> Check<TextOutput> {
    let req = TextRequest {
        prompt_ids: prompt.ids,
        images: prompt.images,
        max_new_tokens: case["max_new_tokens"]
            .as_u64()
            .ok_or("golden: max_new_tokens")? as usize,
        sampling: SamplingParams::greedy(),
        stop_token: Some(m.tokenizer.special().eos),
        image_token: m.tokenizer.special().image,
        logprobs: None,
        json: None,
    };
    let out = generate_text_with(&m.model, &req, kept, |_| ControlFlow::Continue(()))
        .await
        .map_err(|e| format!("{what}: {e}"))?;
    let err = rel_err(&out.first_logits, &f32s(&case["first_logits"])?);
    ensure(err < tol, || {
        format!("{what}: first-step logits rel err {err:e}")
    })?;
    fig.worst_logits_rel_err = fig.worst_logits_rel_err.max(err);
    let want = u32s(&case["output_ids"])?;
    ensure(out.ids == want, || {
        format!("{what}: greedy ids {:?}, golden {want:?}", out.ids)
    })?;
    let eos = case["stopped_on_eos"].as_bool() == Some(true);
    ensure((out.stop == StopReason::Eos) == eos, || {
        format!("{what}: stop reason {:?}", out.stop)
    })?;
    fig.text_ids_compared += out.ids.len();
    Ok(out)
}

/// Text to image: greedy CFG, two images in one batch, every code.
async fn imagine(
    m: &Loaded,
    case: &Value,
    roles: &RoleNames,
    goldens: &Goldens<'_>,
    tol: f32,
    fig: &mut Figures,
) -> Check {
    let tok = &m.tokenizer;
    let prompt = render_image_prompt(text(&case["prompt"])?, roles);
    ensure(prompt == text(&case["full_prompt"])?, || {
        "imagine: rendered prompt differs".into()
    })?;
    let ids = tok.encode(&prompt).map_err(|e| e.to_string())?;
    ensure(ids == u32s(&case["prompt_ids"])?, || {
        "imagine: prompt ids differ".into()
    })?;
    let req = ImageRequest {
        prompt_ids: ids,
        count: 2,
        cfg_weight: case["cfg_weight"].as_f64().ok_or("golden: cfg_weight")? as f32,
        sampling: SamplingParams::greedy(),
        pad_token: tok.special().pad,
        preview_every: 0,
    };
    let mut steps = 0;
    let out = generate_image_codes(&m.model, &req, |s| {
        steps = s.step + 1;
        ControlFlow::Continue(())
    })
    .await
    .map_err(|e| format!("imagine: {e}"))?;
    let want = u32s(&case["codes"])?;
    ensure(steps == want.len(), || format!("imagine: {steps} steps"))?;
    for (k, key) in [
        "first_cond_logits",
        "first_uncond_logits",
        "first_cfg_logits",
    ]
    .iter()
    .enumerate()
    {
        let err = rel_err(&out.first_logits[k], &f32s(&case[*key])?);
        ensure(err < tol, || format!("imagine: {key} rel err {err:e}"))?;
        fig.worst_logits_rel_err = fig.worst_logits_rel_err.max(err);
    }
    for (i, codes) in out.codes.iter().enumerate() {
        let same = codes.iter().zip(&want).take_while(|(a, b)| a == b).count();
        ensure(codes == &want, || {
            format!("imagine: image {i} codes diverge at step {same}")
        })?;
        fig.image_codes_compared += codes.len();
    }
    let images = decode_images(&m.model, &out.codes[..1])
        .await
        .map_err(|e| e.to_string())?;
    let reference = png(goldens.imagine_png)?;
    fig.imagine_psnr_db = psnr(images[0].as_raw(), reference.as_raw());
    ensure(fig.imagine_psnr_db >= 40.0, || {
        format!("imagine: PSNR {:.1} dB", fig.imagine_psnr_db)
    })?;
    Ok(())
}
