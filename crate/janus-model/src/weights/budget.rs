//! What a model needs on the GPU, from its config alone: the figures the web registry shows
//! before anything is downloaded ("needs 2.3 GB of GPU memory with shader-f16").

use super::spec::{Usage, expected_tensors};
use super::store::{F32_ONLY_PREFIX, WorkingDtype};
use crate::config::JanusConfig;
use crate::quant::{QuantFormat, quantizable};

/// Sequences and tokens the registry budgets the KV cache for: the conditional/unconditional
/// pair of one image generation, each up to 2,048 tokens (prompt plus the 576 image tokens),
/// which also covers a chat of 4,096 tokens.
pub const BUDGET_SEQUENCES: u64 = 2;
pub const BUDGET_TOKENS: u64 = 2048;

/// GPU bytes of a model in one working dtype.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GpuBudget {
    /// Every tensor inference reads, in `dtype` (the VQ decoder always in f32).
    pub weights: u64,
    /// Keys and values of every layer for `sequences` x `tokens` positions, in `dtype`.
    pub kv_cache: u64,
}

impl GpuBudget {
    pub fn total(&self) -> u64 {
        self.weights + self.kv_cache
    }
}

/// The budget of `config` in `dtype` for [`BUDGET_SEQUENCES`] x [`BUDGET_TOKENS`] positions.
pub fn gpu_budget(config: &JanusConfig, dtype: WorkingDtype) -> GpuBudget {
    gpu_budget_quantized(config, dtype, None)
}

/// [`gpu_budget`] with the quantisable matrices stored packed in `quant` (codes and f16 block
/// scales, [`QuantFormat::bytes`]); everything else as in `dtype`.
pub fn gpu_budget_quantized(
    config: &JanusConfig,
    dtype: WorkingDtype,
    quant: Option<QuantFormat>,
) -> GpuBudget {
    let mut weights = 0u64;
    for spec in expected_tensors(config) {
        let Usage::Load(placements) = spec.usage else {
            continue;
        };
        for p in placements {
            if let Some(format) = quant
                && quantizable(&p.target, &p.shape)
            {
                weights += format.bytes(p.shape[0], p.shape[1]);
                continue;
            }
            let elems: u64 = p.shape.iter().map(|&d| d as u64).product();
            let size = if p.target.starts_with(F32_ONLY_PREFIX) {
                WorkingDtype::F32.size()
            } else {
                dtype.size()
            };
            weights += elems * size;
        }
    }
    let lm = &config.language;
    let per_token =
        2 * lm.num_layers as u64 * (lm.num_kv_heads * lm.head_dim) as u64 * dtype.size();
    GpuBudget {
        weights,
        kv_cache: per_token * BUDGET_SEQUENCES * BUDGET_TOKENS,
    }
}

/// Tensor bytes of a pack of `config` in `format` (`janus pack`): the quantisable matrices in
/// the file form ([`QuantFormat::bytes`], as on the GPU), everything else as the source stores
/// it (`source_bytes_per_value`: 2 for the bf16 checkpoints). Shard headers add a few KB.
pub fn pack_bytes(config: &JanusConfig, format: QuantFormat, source_bytes_per_value: u64) -> u64 {
    let mut bytes = 0;
    for spec in expected_tensors(config) {
        let Usage::Load(placements) = spec.usage else {
            continue;
        };
        for p in placements {
            bytes += if quantizable(&p.target, &p.shape) {
                format.bytes(p.shape[0], p.shape[1])
            } else {
                p.shape.iter().map(|&d| d as u64).product::<u64>() * source_bytes_per_value
            };
        }
    }
    bytes
}
