//! VQ decoder blocks (janus-spec.md §2.4): ResBlock, single-head spatial AttnBlock, nearest x2
//! upsample + conv. GroupNorm(32, eps 1e-6) and swish throughout.

use burn::tensor::{DType, Tensor};

use crate::error::WeightsError;
use crate::model::nn::{Conv2d, GroupNorm, softmax_f32};
use crate::weights::TensorStore;

const EPS: f64 = 1e-6;

/// `skip(x) + conv2(swish(GN2(conv1(swish(GN1(x))))))`, with a 1x1 `nin_shortcut` when widths differ.
#[derive(Clone, Debug)]
pub struct ResBlock {
    norm1: GroupNorm,
    conv1: Conv2d,
    norm2: GroupNorm,
    conv2: Conv2d,
    shortcut: Option<Conv2d>,
}

impl ResBlock {
    pub fn load(
        store: &mut TensorStore,
        p: &str,
        inp: usize,
        out: usize,
        groups: usize,
    ) -> Result<Self, WeightsError> {
        Ok(Self {
            norm1: GroupNorm::load(store, &format!("{p}.norm1"), groups, EPS)?,
            conv1: Conv2d::load(store, &format!("{p}.conv1"), 1, 1)?,
            norm2: GroupNorm::load(store, &format!("{p}.norm2"), groups, EPS)?,
            conv2: Conv2d::load(store, &format!("{p}.conv2"), 1, 1)?,
            shortcut: if inp != out {
                Some(Conv2d::load(store, &format!("{p}.nin_shortcut"), 1, 0)?)
            } else {
                None
            },
        })
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let h = self.conv1.forward(self.norm1.forward_silu(x.clone()));
        let h = self.conv2.forward(self.norm2.forward_silu(h));
        let skip = match &self.shortcut {
            Some(conv) => conv.forward(x),
            None => x,
        };
        skip + h
    }
}

/// Single-head self-attention over all `H*W` positions, 1x1 conv projections, residual.
#[derive(Clone, Debug)]
pub struct AttnBlock {
    norm: GroupNorm,
    q: Conv2d,
    k: Conv2d,
    v: Conv2d,
    proj_out: Conv2d,
}

impl AttnBlock {
    pub fn load(store: &mut TensorStore, p: &str, groups: usize) -> Result<Self, WeightsError> {
        Ok(Self {
            norm: GroupNorm::load(store, &format!("{p}.norm"), groups, EPS)?,
            q: Conv2d::load(store, &format!("{p}.q"), 1, 0)?,
            k: Conv2d::load(store, &format!("{p}.k"), 1, 0)?,
            v: Conv2d::load(store, &format!("{p}.v"), 1, 0)?,
            proj_out: Conv2d::load(store, &format!("{p}.proj_out"), 1, 0)?,
        })
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [b, c, h, w] = x.dims();
        let n = h * w;
        let y = self.norm.forward(x.clone());
        // q: [B, N, C]; k, v: [B, C, N]
        let q = self.q.forward(y.clone()).reshape([b, c, n]).swap_dims(1, 2);
        let k = self.k.forward(y.clone()).reshape([b, c, n]);
        let v = self.v.forward(y).reshape([b, c, n]);
        let dtype = q.dtype();
        // [B, N(query), N(key)]
        let scores = q
            .cast(DType::F32)
            .matmul(k.cast(DType::F32))
            .mul_scalar((c as f64).powf(-0.5));
        let p = softmax_f32(scores, 2).cast(dtype);
        // out[b, c, i] = sum_j v[b, c, j] p[b, i, j]
        let out = v.matmul(p.swap_dims(1, 2)).reshape([b, c, h, w]);
        x + self.proj_out.forward(out)
    }
}

/// Nearest-neighbour x2 (every pixel becomes a 2x2 block), then a 3x3 conv.
#[derive(Clone, Debug)]
pub struct Upsample {
    conv: Conv2d,
}

impl Upsample {
    pub fn load(store: &mut TensorStore, p: &str) -> Result<Self, WeightsError> {
        Ok(Self {
            conv: Conv2d::load(store, &format!("{p}.conv"), 1, 1)?,
        })
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.conv.forward_upsampled(x)
    }
}
