//! The benchmark's figures, derived rates, and the row BENCHMARKS.md records.

use serde::Serialize;

use crate::config::JanusConfig;
use crate::quant::{QuantFormat, quantizable};
use crate::weights::{Usage, WorkingDtype, expected_tensors};

/// Everything one run measured. Times in seconds, bandwidths in GB/s (10^9 bytes).
#[derive(Clone, Debug, Default, Serialize)]
pub struct BenchReport {
    pub adapter: String,
    pub model: String,
    /// "f16 + q4", "f32", ...
    pub weights: String,
    /// Convert, quantise and upload every tensor (random values; a download is extra).
    pub load_s: f64,
    /// Device memory held after loading, and after the runs (the pools keep their peak).
    pub gpu_bytes_loaded: Option<u64>,
    pub gpu_bytes_after: Option<u64>,
    pub prompt_tokens: usize,
    pub prefill_s: f64,
    pub decode_tokens: usize,
    pub decode_s: f64,
    /// The measured decode asked for log-probabilities with this many alternatives a token
    /// (`TextRequest::logprobs`: each step's logits read back too).
    pub logprobs: Option<usize>,
    /// The measured decode was a JSON reply (`TextRequest::json`).
    pub json: bool,
    /// A chat's next turn after the measured one ([`super::FOLLOW_UP_TOKENS`] new tokens), to
    /// its first token, started from the cache the measured turn kept.
    pub follow_up_s: f64,
    pub image_steps: usize,
    pub image_step_s: Option<f64>,
    /// A whole image: prefill + 576 steps at the measured rate (without the VQ decode).
    pub image_s: Option<f64>,
    pub vq_decode_s: Option<f64>,
    /// The first VQ decode of a whole image, before `vq_decode_s`: what a session's first image
    /// pays once for compiling (and, for burn's generic ops, autotuning) the decoder's kernels.
    pub vq_first_s: Option<f64>,
    /// Weight bytes a decode step reads (every LLM matrix, lm_head).
    pub decode_bytes: u64,
    /// The WGSL copy kernel: (read + written) / time, over two buffers of `copy_buffer_bytes`
    /// (256 MiB, or the adapter's largest binding if smaller).
    pub copy_gbps: Option<f64>,
    pub copy_buffer_bytes: u64,
    /// How decode steps ran: "replayed" (recorded once, `kernels::graph`), "launched" (every
    /// step anew: recording switched off, or no kernels), or "launched: <why recording failed>".
    pub steps: String,
}

impl BenchReport {
    pub fn prefill_tokens_per_s(&self) -> f64 {
        self.prompt_tokens as f64 / self.prefill_s
    }

    pub fn decode_tokens_per_s(&self) -> f64 {
        self.decode_tokens as f64 / self.decode_s
    }

    /// The same follow-up turn with its whole prompt run (the measured prompt, its reply and
    /// the new tokens) at the measured prefill rate: what it costs without the kept cache.
    pub fn follow_up_afresh_s(&self) -> f64 {
        (self.prompt_tokens + self.decode_tokens + super::FOLLOW_UP_TOKENS) as f64
            / self.prefill_tokens_per_s()
    }

    /// Weight bytes per second during decode.
    pub fn decode_gbps(&self) -> f64 {
        self.decode_bytes as f64 * self.decode_tokens_per_s() / 1e9
    }

    /// Decode bandwidth as a fraction of the copy kernel's.
    pub fn bandwidth_fraction(&self) -> Option<f64> {
        self.copy_gbps.map(|c| self.decode_gbps() / c)
    }

    /// The table header matching [`Self::markdown_row`].
    pub fn markdown_header() -> &'static str {
        "| adapter | model | weights | load s | GPU GB (loaded / after) | prefill tok/s | decode tok/s | s per decode token | follow-up turn s (afresh) | s per image step | s per image (extrap.) | VQ decode s | decode GB/s | copy GB/s | fraction |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    }

    pub fn markdown_row(&self) -> String {
        let gb = |b: Option<u64>| b.map_or("–".into(), |b| format!("{:.2}", b as f64 / 1e9));
        let opt =
            |v: Option<f64>, digits: usize| v.map_or("–".into(), |v| format!("{v:.digits$}"));
        format!(
            "| {} | {} | {} | {:.1} | {} / {} | {:.1} | {:.2}{}{} | {:.3} | {:.2} ({:.2}) | {} | {} | {} | {:.1} | {} | {} |",
            self.adapter,
            self.model,
            self.weights,
            self.load_s,
            gb(self.gpu_bytes_loaded),
            gb(self.gpu_bytes_after),
            self.prefill_tokens_per_s(),
            self.decode_tokens_per_s(),
            self.logprobs
                .map_or(String::new(), |n| format!(" (logprobs, top {n})")),
            if self.json { " (JSON reply)" } else { "" },
            1.0 / self.decode_tokens_per_s(),
            self.follow_up_s,
            self.follow_up_afresh_s(),
            opt(self.image_step_s, 3),
            opt(self.image_s, 0),
            opt(self.vq_decode_s, 2),
            self.decode_gbps(),
            opt(self.copy_gbps, 1),
            opt(self.bandwidth_fraction(), 2),
        )
    }
}

/// Weight bytes one decode step reads: every LLM layer matrix and norm, the final norm and
/// `lm_head` (one embedding row is negligible), packed where `quant` packs them.
pub fn decode_bytes_per_token(
    config: &JanusConfig,
    dtype: WorkingDtype,
    quant: Option<QuantFormat>,
) -> u64 {
    let mut bytes = 0;
    for spec in expected_tensors(config) {
        let Usage::Load(placements) = spec.usage else {
            continue;
        };
        for p in placements {
            let read = p.target.starts_with("language_model.")
                && !p.target.ends_with("embed_tokens.weight");
            if !read {
                continue;
            }
            bytes += match quant {
                Some(format) if quantizable(&p.target, &p.shape) => {
                    format.bytes(p.shape[0], p.shape[1])
                }
                _ => p.shape.iter().product::<usize>() as u64 * dtype.size(),
            };
        }
    }
    bytes
}
