//! The VQ-16 convolutional decoder (janus-spec.md §2.4, "Decoder forward"): latent ->
//! conv_in -> mid (Res, Attn, Res) -> one level per channel multiplier, lowest resolution first,
//! each with `num_res_blocks + 1` ResBlocks (plus AttnBlocks at the lowest level) and an upsample
//! between levels -> GroupNorm -> swish -> conv_out to RGB.

use burn::tensor::Tensor;

use super::blocks::{AttnBlock, ResBlock, Upsample};
use crate::config::VqConfig;
use crate::error::WeightsError;
use crate::model::nn::{Conv2d, GroupNorm};
use crate::weights::TensorStore;

#[derive(Clone, Debug)]
struct Level {
    res: Vec<ResBlock>,
    attn: Vec<AttnBlock>,
    upsample: Option<Upsample>,
}

#[derive(Clone, Debug)]
pub struct VqDecoder {
    conv_in: Conv2d,
    mid: (ResBlock, AttnBlock, ResBlock),
    levels: Vec<Level>,
    norm_out: GroupNorm,
    conv_out: Conv2d,
}

impl VqDecoder {
    pub fn load(store: &mut TensorStore, prefix: &str, c: &VqConfig) -> Result<Self, WeightsError> {
        let g = c.norm_groups;
        let n = c.ch_mult.len();
        let mut ch = c.base_channels * c.ch_mult[n - 1];
        let mid = (
            ResBlock::load(store, &format!("{prefix}.mid.0"), ch, ch, g)?,
            AttnBlock::load(store, &format!("{prefix}.mid.1"), g)?,
            ResBlock::load(store, &format!("{prefix}.mid.2"), ch, ch, g)?,
        );
        let mut levels = Vec::with_capacity(n);
        for j in 0..n {
            let out = c.base_channels * c.ch_mult[n - 1 - j];
            let p = format!("{prefix}.conv_blocks.{j}");
            let mut res = Vec::new();
            let mut attn = Vec::new();
            for r in 0..=c.num_res_blocks {
                res.push(ResBlock::load(store, &format!("{p}.res.{r}"), ch, out, g)?);
                ch = out;
                if j == 0 {
                    attn.push(AttnBlock::load(store, &format!("{p}.attn.{r}"), g)?);
                }
            }
            let upsample = if j + 1 < n {
                Some(Upsample::load(store, &format!("{p}.upsample"))?)
            } else {
                None
            };
            levels.push(Level {
                res,
                attn,
                upsample,
            });
        }
        Ok(Self {
            conv_in: Conv2d::load(store, &format!("{prefix}.conv_in"), 1, 1)?,
            mid,
            levels,
            norm_out: GroupNorm::load(store, &format!("{prefix}.norm_out"), g, 1e-6)?,
            conv_out: Conv2d::load(store, &format!("{prefix}.conv_out"), 1, 1)?,
        })
    }

    /// `z: [B, z_channels, grid, grid]` -> `[B, 3, grid * 2^(levels-1), ...]`, roughly in [-1, 1].
    pub fn forward(&self, z: Tensor<4>) -> Tensor<4> {
        let mut h = self.conv_in.forward(z);
        h = self.mid.0.forward(h);
        h = self.mid.1.forward(h);
        h = self.mid.2.forward(h);
        for level in &self.levels {
            for (i, res) in level.res.iter().enumerate() {
                h = res.forward(h);
                if let Some(attn) = level.attn.get(i) {
                    h = attn.forward(h);
                }
            }
            if let Some(up) = &level.upsample {
                h = up.forward(h);
            }
        }
        self.conv_out.forward(self.norm_out.forward_silu(h))
    }
}
