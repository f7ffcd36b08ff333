//! The VQ-16 image decoder side (janus-spec.md §2.4, §7.1 step 6): codebook lookup with L2
//! normalisation, `post_quant_conv`, the convolutional decoder, and the official post-processing
//! to RGB8. The encoder exists only in the checkpoint and is never loaded.

mod blocks;
mod decoder;

use burn::tensor::{DType, Int, Tensor};

pub use super::conv::upsample_nearest_2x;
use decoder::VqDecoder;

use super::nn::Conv2d;
use crate::config::VqConfig;
use crate::error::WeightsError;
use crate::weights::TensorStore;

const PREFIX: &str = "gen_vision_model";

#[derive(Clone, Debug)]
pub struct VqModel {
    /// `[codebook, code_dim]`, normalised at lookup (stored rows are not unit-norm).
    codebook: Tensor<2>,
    post_quant_conv: Conv2d,
    decoder: VqDecoder,
    grid: usize,
}

impl VqModel {
    pub fn load(store: &mut TensorStore, c: &VqConfig) -> Result<Self, WeightsError> {
        Ok(Self {
            codebook: store.take(&format!("{PREFIX}.quantize.embedding.weight"))?,
            post_quant_conv: Conv2d::load(store, &format!("{PREFIX}.post_quant_conv"), 1, 0)?,
            decoder: VqDecoder::load(store, &format!("{PREFIX}.decoder"), c)?,
            grid: c.grid,
        })
    }

    /// `codes: [N, rows*grid]` (raster order, the first `rows` rows of the grid) ->
    /// `[N, 3, rows*f, grid*f]` f32, roughly in [-1, 1], where `f = S / grid`. A whole grid gives
    /// the image; fewer rows give the progressive preview of a generation under way (the decoder is
    /// convolutions and one attention block, so any height works).
    pub fn decode(&self, codes: Tensor<2, Int>) -> Tensor<4> {
        let [n, p] = codes.dims();
        let d = self.codebook.dims()[1];
        let g = self.grid;
        debug_assert!(
            p.is_multiple_of(g),
            "{p} codes is not a whole number of rows"
        );
        let rows = p / g;
        let z = self
            .codebook
            .clone()
            .cast(DType::F32)
            .select(0, codes.reshape([n * p]));
        // F.normalize: x / max(||x||, 1e-12)
        let norm = z.clone().square().sum_dim(1).sqrt().clamp_min(1e-12);
        let z = (z / norm).reshape([n, rows, g, d]).permute([0, 3, 1, 2]);
        let dtype = self.codebook.dtype();
        self.decoder
            .forward(self.post_quant_conv.forward(z.cast(dtype)))
            .cast(DType::F32)
    }
}

/// DeepSeek's post-processing: `clip((x + 1) / 2 * 255, 0, 255)` then truncation to u8, NCHW
/// (`[n, 3, height, width]`) -> one interleaved RGB buffer per image.
pub fn to_rgb8(pixels: &[f32], n: usize, height: usize, width: usize) -> Vec<Vec<u8>> {
    let plane = height * width;
    (0..n)
        .map(|i| {
            let img = &pixels[i * 3 * plane..(i + 1) * 3 * plane];
            let mut out = Vec::with_capacity(3 * plane);
            for y in 0..plane {
                for ch in 0..3 {
                    let v = ((img[ch * plane + y] + 1.0) / 2.0 * 255.0).clamp(0.0, 255.0);
                    out.push(v as u8);
                }
            }
            out
        })
        .collect()
}
