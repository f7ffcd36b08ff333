//! `shaders/sample.wgsl`: the next token of every sequence chosen on the GPU (guidance,
//! temperature, top-k, top-p, a seeded Gumbel-max draw), so generation loops feed the chosen ids
//! straight into the next step and read back nothing (images) or one id (text).

use burn::cubecl::CubeCount;
use burn::cubecl::ir::attributes::BufferIOAttr;
use burn::cubecl::server::KernelArguments;
use burn::tensor::{Int, Tensor};

use super::launch::{TemplateSource, float_handle, info, int_handle};
use super::memory::i32_tensor;

const WGSL: &str = include_str!("../../../../shaders/sample.wgsl");
const WORKGROUP: u32 = 256;

/// How a step chooses (the same for every step of a generation).
#[derive(Clone, Copy, Debug)]
pub struct SampleStep {
    /// Guidance weight: rows come in (conditional, unconditional) pairs. None: rows are
    /// sequences of their own.
    pub cfg_weight: Option<f32>,
    /// 0: greedy.
    pub temperature: f32,
    /// 0: all tokens.
    pub top_k: u32,
    /// 1: all tokens.
    pub top_p: f32,
    pub seed: u64,
}

/// Where a step's choice goes, all on the device and written in place.
#[derive(Clone, Copy, Debug)]
pub struct SampleTarget<'a> {
    /// `[rows, 1]` (i32): this step's ids.
    pub out: &'a Tensor<2, Int>,
    /// `[rows, columns]` (i32): every id chosen so far; this step's go to column `state[1]`
    /// (none when it is past the end).
    pub history: &'a Tensor<2, Int>,
    /// The decode state (`model::cursor`): `state[1]` is the index of the token being chosen,
    /// which keys the draw.
    pub state: &'a Tensor<1, Int>,
    /// `[ceil(K / 32)]` (i32 bits): where given, only the ids whose bit is set may be chosen
    /// (a JSON reply's grammar); the others count as past the vocabulary's end, for top-k and
    /// top-p too. Read in place at every launch, so the host can rewrite it between replays.
    pub allowed: Option<&'a Tensor<1, Int>>,
}

/// `logits: [rows, K]` (f32 or f16 on wgpu) -> the chosen ids of draw `step` `[rows, 1]` (i32;
/// both rows of a guided pair carry their pair's id). For one-off choices (tests): a
/// generation loop chooses in place with [`sample_into`].
pub fn sample(logits: Tensor<2>, how: &SampleStep, step: u32) -> Tensor<2, Int> {
    sample_once(logits, how, step, None)
}

/// [`sample`] restricted to the ids `allowed` holds (bit `k % 32` of word `k / 32`), as a JSON
/// reply's steps are (tests).
pub fn sample_allowed(
    logits: Tensor<2>,
    how: &SampleStep,
    step: u32,
    allowed: &[u32],
) -> Tensor<2, Int> {
    sample_once(logits, how, step, Some(allowed))
}

fn sample_once(
    logits: Tensor<2>,
    how: &SampleStep,
    step: u32,
    allowed: Option<&[u32]>,
) -> Tensor<2, Int> {
    let rows = logits.dims()[0];
    let device = logits.device();
    let out = i32_tensor::<2>(&device, [rows, 1], &vec![0; rows]);
    let history = i32_tensor::<2>(&device, [rows, 1], &vec![0; rows]);
    let state = i32_tensor::<1>(&device, [4], &[0, step as i32, 0, 0]);
    let mask = allowed.map(|words| {
        let words: Vec<i32> = words.iter().map(|&w| w as i32).collect();
        i32_tensor::<1>(&device, [words.len()], &words)
    });
    sample_into(
        logits,
        how,
        SampleTarget {
            out: &out,
            history: &history,
            state: &state,
            allowed: mask.as_ref(),
        },
    );
    out
}

/// Choose as [`sample`], into `target` (one launch, nothing allocated but the kernel's
/// scratch, nothing read back: a captured graph may hold it).
pub fn sample_into(logits: Tensor<2>, how: &SampleStep, target: SampleTarget<'_>) {
    let [rows, k] = logits.dims();
    let columns = target.history.dims()[1];
    let logits = float_handle(logits);
    let client = logits.client.clone();
    let sequences = if how.cfg_weight.is_some() {
        rows / 2
    } else {
        rows
    };
    let out = int_handle(target.out);
    let history = int_handle(target.history);
    let state = int_handle(target.state);
    // Unrestricted: a word the shader never reads stands in (a pipeline's bindings are fixed).
    let allowed = match target.allowed {
        Some(allowed) => int_handle(allowed).handle.clone(),
        None => client.empty(4),
    };
    // Four f32 scores per vector, the last vector padded.
    let scores = client.empty(sequences * k.div_ceil(4) * 16);
    let greedy = how.temperature <= 0.0;
    let top_k = how.top_k > 0 && (how.top_k as usize) < k;
    let top_p = how.top_p < 1.0;
    let filtered = top_k || top_p;
    let mode = if greedy {
        0
    } else if filtered {
        2
    } else {
        1
    };
    let params = info(&[
        k as u32,
        how.cfg_weight.is_some() as u32,
        columns as u32,
        how.seed as u32,
        (how.seed >> 32) as u32,
        greedy as u32,
        how.top_k,
        how.cfg_weight.unwrap_or(1.0).to_bits(),
        (if greedy { 1.0 } else { 1.0 / how.temperature }).to_bits(),
        how.top_p.clamp(0.0, 1.0).to_bits(),
    ]);
    // The shader's MODE: 0 greedy, 1 a draw from every token, 2 a draw with top-k and/or top-p
    // (a search each).
    TemplateSource::new(WGSL, logits.dtype, WORKGROUP)
        .with("mode", mode)
        .with("top_k", top_k as u32)
        .with("top_p", top_p as u32)
        .with("masked", target.allowed.is_some() as u32)
        .launch(
            &client,
            CubeCount::Static(sequences as u32, 1, 1),
            KernelArguments::new()
                .with_buffer_io(logits.handle.clone().binding(), BufferIOAttr::ReadOnly)
                .with_buffer_io(out.handle.clone().binding(), BufferIOAttr::ReadWrite)
                .with_buffer_io(scores.binding(), BufferIOAttr::ReadWrite)
                .with_buffer_io(history.handle.clone().binding(), BufferIOAttr::ReadWrite)
                .with_buffer_io(state.handle.clone().binding(), BufferIOAttr::ReadOnly)
                .with_buffer_io(allowed.binding(), BufferIOAttr::ReadOnly)
                .with_info(params),
        );
}
