//! The reference conformance suite, shared by every place the engine runs: the native tests
//! (CPU and wgpu) and the browser tests (WebGPU in Chromium). One loaded model is checked against
//! the goldens `scripts/make_fixtures.py` wrote with transformers' Janus:
//!
//! - special-token ids, rendered prompts and prompt ids equal;
//! - first-step logits within a relative-error tolerance (1e-4 on the CPU, 1e-3 on GPUs);
//! - greedy text ids identical — a two-turn chat with a system prompt, a raw prompt, and a
//!   question about a non-square image;
//! - the understanding prompt run a few query rows at a time, and two pictures encoded one at a
//!   time, give what one pass gives (how long prompts and many pictures stay within a device's
//!   binding limit);
//! - a prompt started from the last chat's kept cache (regenerated, a follow-up turn, the same
//!   picture asked about again, another picture under the same ids) gives what it gives run
//!   afresh;
//! - log-probabilities, asked for, change no id, and match the reference's logits and a prefill
//!   of the same tokens (`logprobs`);
//! - a JSON reply's tokens are each the most likely the grammar allows, and its text the
//!   beginning of a JSON object (`json`);
//! - all greedy classifier-free-guided image codes identical for a batch of two;
//! - decoded images within PSNR 40 dB of the reference PNGs.
//!
//! Inputs are bytes (goldens JSON, image files), so the browser build can embed them. A failure
//! is an `Err` naming the case and the numbers; success returns the measured figures.

mod cases;
mod chunks;
mod json;
mod kept;
#[cfg(feature = "wgpu-kernels")]
pub mod kernels;
mod logprobs;
#[cfg(feature = "wgpu-kernels")]
pub mod vq;

pub use cases::{Figures, Goldens, check, check_text, f32s, u32s};

use janus_model::LoadPlan;
use janus_model::config::JanusConfig;

/// A device buffer limit (bytes, f32 working dtype) that splits the vocabulary matrices
/// (`embed_tokens`, `lm_head`) into at least two row blocks while every tensor that must stay
/// whole (non-matrices, the VQ codebook) still fits: how the split path is forced in tests.
pub fn vocabulary_split_limit(config: &JanusConfig, plan: &LoadPlan) -> u64 {
    let vocab_bytes = (config.language.vocab_size * config.language.hidden_size * 4) as u64;
    let whole = plan
        .reads
        .iter()
        .flat_map(|r| &r.placements)
        .filter(|p| p.shape.len() != 2 || p.target.starts_with("gen_vision_model."))
        .map(|p| p.shape.iter().product::<usize>() as u64 * 4)
        .max()
        .unwrap_or(0);
    (vocab_bytes / 3).max(whole)
}
