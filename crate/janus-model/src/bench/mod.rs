//! Speed and memory of a full-size model with random weights (issue 7's benchmarks): the same
//! measurements natively (`janus bench`) and in the browser (`npm run bench`). Nothing here is
//! asserted; the figures are printed and recorded in BENCHMARKS.md with the adapter they ran on.
//!
//! The caller supplies the clock (seconds; `std::time::Instant` does not exist on wasm) and,
//! on wgpu, the adapter's copy bandwidth and memory figures ([`crate::kernels`]).

#[cfg(feature = "wgpu-kernels")]
pub mod conv;
pub mod json;
#[cfg(feature = "wgpu-kernels")]
pub mod kernels;
mod random;
mod report;

pub use random::random_model;
pub use report::{BenchReport, decode_bytes_per_token};

use std::ops::ControlFlow;
use std::sync::Arc;

use burn::tensor::{Int, Tensor, TensorData};

use crate::Janus;
use crate::error::JanusError;
use crate::generate::image::{ImageRequest, generate_image_codes};
use crate::generate::json::{JsonMode, TokenTable};
use crate::generate::on_device::IMAGE_READBACK_EVERY;
use crate::generate::prompt_cache::PromptCache;
use crate::generate::sampling::SamplingParams;
use crate::generate::text::{StopReason, TextRequest, generate_text_with};

/// What to run.
#[derive(Clone, Debug)]
pub struct BenchPlan {
    /// Prompt length of the measured prefill.
    pub prompt_tokens: usize,
    /// Decode steps measured after it (the first generated token is the prefill's).
    pub decode_tokens: usize,
    /// Image steps measured (one image, CFG pair); a whole image is extrapolated from them.
    /// 0 skips images (slow CPU adapters).
    pub image_steps: usize,
    /// VQ-decode a whole image.
    pub vq_decode: bool,
    /// Ask the measured text turn for log-probabilities with this many alternatives a token
    /// (what they cost: each step's logits read back and ranked on the host).
    pub logprobs: Option<usize>,
    /// Ask the measured text turn for a JSON reply over this table (what the grammar costs:
    /// a mask worked out and written before each step, which then waits for the id before
    /// the next is queued). Its decode may end early, where the object closes.
    pub json: Option<Arc<TokenTable>>,
}

/// What the measured text turn asks for besides its tokens.
#[derive(Clone, Debug, Default)]
pub struct TextAsks {
    pub logprobs: Option<usize>,
    pub json: Option<Arc<TokenTable>>,
}

/// New prompt tokens of the measured follow-up turn (a short question).
pub const FOLLOW_UP_TOKENS: usize = 16;

/// Times of the text path: prefill of `prompt_tokens`, then `decode_tokens` steps, then a
/// follow-up turn of [`FOLLOW_UP_TOKENS`] new tokens from the kept cache (to its first token).
#[derive(Clone, Copy, Debug, Default)]
pub struct TextTimes {
    pub prefill_s: f64,
    /// Steps measured after the first token (fewer than asked where a JSON reply closed).
    pub decoded: usize,
    pub decode_s: f64,
    pub follow_up_s: f64,
}

/// Deterministic token ids below `vocab` (not special; random weights give them no meaning).
fn prompt(len: usize, vocab: usize) -> Vec<u32> {
    (0..len)
        .map(|i| (1 + (i * 7919) % (vocab - 2)) as u32)
        .collect()
}

/// Prefill `prompt_tokens`, then greedy decode `decode_tokens` more, with the library's text
/// loop (its per-step readback included; `asks`: log-probabilities or a JSON reply too). Prefill
/// time is the time to the first token. Then a chat's next turn: that prompt, its reply and
/// [`FOLLOW_UP_TOKENS`] more, started from the cache the first turn kept, timed to its first
/// token.
pub async fn text(
    model: &Janus,
    (prompt_tokens, decode_tokens): (usize, usize),
    asks: &TextAsks,
    clock: &dyn Fn() -> f64,
) -> Result<TextTimes, JanusError> {
    let vocab = model.config().language.vocab_size;
    let req = TextRequest {
        prompt_ids: prompt(prompt_tokens, vocab),
        images: vec![],
        max_new_tokens: decode_tokens + 1,
        sampling: SamplingParams::greedy(),
        stop_token: None,
        // No image placeholders in the prompt: an id the prompt never uses.
        image_token: (vocab - 1) as u32,
        logprobs: asks.logprobs,
        json: asks.json.clone().map(JsonMode::new),
    };
    let mut kept = PromptCache::new();
    let start = clock();
    let mut stamps = Vec::with_capacity(decode_tokens + 1);
    let reply = generate_text_with(model, &req, Some(&mut kept), |_| {
        stamps.push(clock());
        ControlFlow::Continue(())
    })
    .await?;
    let first = stamps.first().copied().unwrap_or(start);
    let last = stamps.last().copied().unwrap_or(first);
    let question = prompt(prompt_tokens + FOLLOW_UP_TOKENS, vocab).split_off(prompt_tokens);
    let next = TextRequest {
        prompt_ids: [req.prompt_ids.as_slice(), &reply.ids, &question].concat(),
        max_new_tokens: 1,
        ..req
    };
    let asked = clock();
    let mut answered = asked;
    generate_text_with(model, &next, Some(&mut kept), |_| {
        answered = clock();
        ControlFlow::Break(StopReason::Cancelled)
    })
    .await?;
    Ok(TextTimes {
        prefill_s: first - start,
        decoded: stamps.len().saturating_sub(1),
        decode_s: last - first,
        follow_up_s: answered - asked,
    })
}

/// Seconds per image step (CFG pair, temperature 1) and seconds for a whole image
/// (extrapolated), from `steps` steps (rounded up to whole readback batches, at least two).
///
/// Where the GPU chooses codes, the host sees them in batches of
/// [`IMAGE_READBACK_EVERY`] steps, so the rate is taken between the ends of batches (the same
/// points on the host path, where every step is read back).
pub async fn image_steps(
    model: &Janus,
    steps: usize,
    clock: &dyn Fn() -> f64,
) -> Result<(f64, f64), JanusError> {
    let batch = IMAGE_READBACK_EVERY;
    let steps = steps.max(2 * batch).div_ceil(batch) * batch;
    let req = image_request(model.config().language.vocab_size);
    let start = clock();
    // (steps done, time) at the end of each batch.
    let mut ends: Vec<(usize, f64)> = Vec::new();
    generate_image_codes(model, &req, |s| {
        let done = s.step + 1;
        if done.is_multiple_of(batch) {
            ends.push((done, clock()));
        }
        if done >= steps {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .await?;
    let (&(d0, t0), &(d1, t1)) = match (ends.first(), ends.last()) {
        (Some(a), Some(b)) if b.0 > a.0 => (a, b),
        _ => return Err(JanusError::Device("the image loop ended early".into())),
    };
    let per_step = (t1 - t0) / (d1 - d0) as f64;
    let total = model.config().gen_vision.tokens_per_image();
    Ok((
        per_step,
        t0 - start + per_step * total.saturating_sub(d0) as f64,
    ))
}

/// One image, a 24-token prompt, CFG 5, temperature 1.
fn image_request(vocab: usize) -> ImageRequest {
    ImageRequest {
        prompt_ids: prompt(24, vocab),
        count: 1,
        cfg_weight: 5.0,
        sampling: SamplingParams {
            temperature: 1.0,
            top_k: None,
            top_p: None,
            seed: 1,
        },
        pad_token: 0,
        preview_every: 0,
    }
}

/// Seconds to VQ-decode `rows` rows of codes of one image (all rows: a whole image).
pub async fn vq_decode(
    model: &Janus,
    rows: usize,
    clock: &dyn Fn() -> f64,
) -> Result<f64, JanusError> {
    let q = &model.config().gen_vision;
    let n = rows * q.grid;
    let codes: Vec<i64> = (0..n)
        .map(|i| ((i * 131) % q.codebook_size) as i64)
        .collect();
    let ids = Tensor::<2, Int>::from_data(TensorData::new(codes, [1, n]), model.device());
    let start = clock();
    crate::generate::read_f32(model.decode_codes(ids)).await?;
    Ok(clock() - start)
}

/// Warm every pipeline the measured runs use (shader compilation is paid here), then measure.
/// The copy bandwidth and memory figures are the caller's (see the module docs).
pub async fn run(
    model: &Janus,
    plan: &BenchPlan,
    clock: &dyn Fn() -> f64,
) -> Result<BenchReport, JanusError> {
    let vocab = model.config().language.vocab_size;
    let recorded_before = recorded_steps().0;
    let asks = TextAsks {
        logprobs: plan.logprobs,
        json: plan.json.clone(),
    };
    // The measured shapes, once: pipelines are compiled per shape.
    text(model, (plan.prompt_tokens, 2), &asks, clock).await?;
    if plan.image_steps > 0 {
        generate_image_codes(model, &image_request(vocab), |_| ControlFlow::Break(())).await?;
    }
    // The VQ decode warms at the measured size (a whole image): its generic ops compile and
    // autotune per shape, which a one-row warm-up left to the measured decode (2.6 s on an H200
    // against 0.04 s of convolutions).
    let vq_first_s = if plan.vq_decode {
        Some(vq_decode(model, model.config().gen_vision.grid, clock).await?)
    } else {
        None
    };
    let text_times = text(
        model,
        (plan.prompt_tokens, plan.decode_tokens),
        &asks,
        clock,
    )
    .await?;
    let image = if plan.image_steps > 0 {
        Some(image_steps(model, plan.image_steps, clock).await?)
    } else {
        None
    };
    let vq_s = if plan.vq_decode {
        Some(vq_decode(model, model.config().gen_vision.grid, clock).await?)
    } else {
        None
    };
    Ok(BenchReport {
        prompt_tokens: plan.prompt_tokens,
        prefill_s: text_times.prefill_s,
        decode_tokens: text_times.decoded,
        decode_s: text_times.decode_s,
        logprobs: plan.logprobs,
        json: plan.json.is_some(),
        follow_up_s: text_times.follow_up_s,
        image_steps: plan.image_steps,
        image_step_s: image.map(|i| i.0),
        image_s: image.map(|i| i.1),
        vq_decode_s: vq_s,
        vq_first_s,
        steps: match recorded_steps() {
            (after, _) if after > recorded_before => "replayed".into(),
            (_, Some(why)) => format!("launched: {why}"),
            _ => "launched".into(),
        },
        ..BenchReport::default()
    })
}

/// Decode steps recorded so far on this thread, and the last recording's failure.
fn recorded_steps() -> (usize, Option<String>) {
    #[cfg(feature = "wgpu-kernels")]
    return crate::kernels::graph::recorded();
    #[cfg(not(feature = "wgpu-kernels"))]
    (0, None)
}
