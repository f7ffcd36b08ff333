//! The understanding encoder: SigLIP-L/16 ViT as DeepSeek runs it (janus-spec.md §2.2) — patch
//! conv with bias, learned absolute positions, pre-LN blocks with exact GELU, the final LayerNorm,
//! no CLS token and no pooling (the checkpoint's `attn_pool` is never executed).

use burn::tensor::{DType, Tensor};

use super::nn::{Conv2d, LayerNorm, Linear, gelu, softmax_f32};
use crate::config::SiglipConfig;
use crate::error::WeightsError;
use crate::weights::TensorStore;

const PREFIX: &str = "vision_model.vision_tower";

#[derive(Clone, Debug)]
struct Block {
    norm1: LayerNorm,
    q: Linear,
    k: Linear,
    v: Linear,
    proj: Linear,
    norm2: LayerNorm,
    fc1: Linear,
    fc2: Linear,
}

#[derive(Clone, Debug)]
pub struct SiglipVit {
    patch_embed: Conv2d,
    /// `[patches, width]`
    pos_embed: Tensor<2>,
    blocks: Vec<Block>,
    norm: LayerNorm,
    heads: usize,
}

impl SiglipVit {
    pub fn load(store: &mut TensorStore, c: &SiglipConfig) -> Result<Self, WeightsError> {
        let eps = c.layer_norm_eps;
        let mut blocks = Vec::with_capacity(c.layers);
        for i in 0..c.layers {
            let p = format!("{PREFIX}.blocks.{i}");
            blocks.push(Block {
                norm1: LayerNorm::load(store, &format!("{p}.norm1"), eps)?,
                q: Linear::load(store, &format!("{p}.attn.q"), true)?,
                k: Linear::load(store, &format!("{p}.attn.k"), true)?,
                v: Linear::load(store, &format!("{p}.attn.v"), true)?,
                proj: Linear::load(store, &format!("{p}.attn.proj"), true)?,
                norm2: LayerNorm::load(store, &format!("{p}.norm2"), eps)?,
                fc1: Linear::load(store, &format!("{p}.mlp.fc1"), true)?,
                fc2: Linear::load(store, &format!("{p}.mlp.fc2"), true)?,
            });
        }
        Ok(Self {
            patch_embed: Conv2d::load(
                store,
                &format!("{PREFIX}.patch_embed.proj"),
                c.patch_size,
                0,
            )?,
            pos_embed: store.take(&format!("{PREFIX}.pos_embed"))?,
            blocks,
            norm: LayerNorm::load(store, &format!("{PREFIX}.norm"), eps)?,
            heads: c.heads,
        })
    }

    /// `pixels: [N, 3, S, S]` in [-1, 1] -> `[N, patches, width]`.
    pub fn forward(&self, pixels: Tensor<4>) -> Tensor<3> {
        let x = self
            .patch_embed
            .forward(pixels.cast(self.pos_embed.dtype()));
        let [n, c, gh, gw] = x.dims();
        // [N, C, g, g] -> [N, g*g, C], row-major patches
        let mut x = x.reshape([n, c, gh * gw]).swap_dims(1, 2);
        x = x + self.pos_embed.clone().unsqueeze();
        for block in &self.blocks {
            x = x.clone() + self.attention(block, block.norm1.forward(x));
            x = x.clone()
                + block
                    .fc2
                    .forward(gelu(block.fc1.forward(block.norm2.forward(x))));
        }
        self.norm.forward(x)
    }

    /// Bidirectional multi-head attention over all patches.
    fn attention(&self, b: &Block, x: Tensor<3>) -> Tensor<3> {
        let [n, t, c] = x.dims();
        let (h, hd) = (self.heads, c / self.heads);
        let split = |y: Tensor<3>| y.reshape([n, t, h, hd]).swap_dims(1, 2);
        let q = split(b.q.forward(x.clone()));
        let k = split(b.k.forward(x.clone()));
        let v = split(b.v.forward(x));
        let dtype = q.dtype();
        let scores = q
            .cast(DType::F32)
            .matmul(k.cast(DType::F32).swap_dims(2, 3))
            .mul_scalar((hd as f64).powf(-0.5));
        let out = softmax_f32(scores, 3).cast(dtype).matmul(v);
        b.proj.forward(out.swap_dims(1, 2).reshape([n, t, c]))
    }
}
