//! Rotary position embedding, HF "rotate_half" style (janus-spec.md §10.11): the first half of
//! each head is paired with the second half, not interleaved.
//!
//! Frequencies and angles are computed exactly as transformers does in f32 (`inv_freq = 1 /
//! theta^(2i/d)`, `angle = pos * inv_freq`), then cos/sin are taken in f64 and rounded, so the
//! rotation matches the reference to the last bit or so even at large positions.

use burn::tensor::{Device, Tensor, TensorData};

#[derive(Clone, Debug)]
pub struct Rope {
    /// `[head_dim / 2]`, f32 as the reference computes it.
    inv_freq: Vec<f32>,
    head_dim: usize,
}

impl Rope {
    pub fn new(head_dim: usize, theta: f64) -> Self {
        let theta = theta as f32;
        let inv_freq = (0..head_dim / 2)
            .map(|i| {
                let exponent = (2 * i) as f32 / head_dim as f32;
                1.0f32 / theta.powf(exponent)
            })
            .collect();
        Self { inv_freq, head_dim }
    }

    /// cos and sin values for positions `start .. start + len`, each `[len, head_dim]` row-major.
    fn values(&self, start: usize, len: usize) -> (Vec<f32>, Vec<f32>) {
        let d = self.head_dim;
        let mut cos = Vec::with_capacity(len * d);
        let mut sin = Vec::with_capacity(len * d);
        for pos in start..start + len {
            let p = pos as f32;
            // emb = cat(freqs, freqs)
            for _ in 0..2 {
                for &f in &self.inv_freq {
                    let angle = (p * f) as f64;
                    cos.push(angle.cos() as f32);
                    sin.push(angle.sin() as f32);
                }
            }
        }
        (cos, sin)
    }

    /// cos and sin tables for positions `start .. start + len`, each `[len, head_dim]`.
    pub fn tables(&self, start: usize, len: usize, device: &Device) -> (Tensor<2>, Tensor<2>) {
        let d = self.head_dim;
        let (cos, sin) = self.values(start, len);
        (
            Tensor::from_data(TensorData::new(cos, [len, d]), device),
            Tensor::from_data(TensorData::new(sin, [len, d]), device),
        )
    }

    /// The cos and sin rows of position `pos`, each `[head_dim]` (the decode state carries them,
    /// `model::cursor`).
    pub fn row(&self, pos: usize) -> (Vec<f32>, Vec<f32>) {
        self.values(pos, 1)
    }

    /// Rotate `x: [B, heads, T, head_dim]` by tables `[T, head_dim]`.
    pub fn apply(x: Tensor<4>, cos: &Tensor<2>, sin: &Tensor<2>) -> Tensor<4> {
        let [b, h, t, d] = x.dims();
        let half = d / 2;
        let x1 = x.clone().narrow(3, 0, half);
        let x2 = x.clone().narrow(3, half, half);
        // rotate_half(x) = cat(-x2, x1)
        let rotated = Tensor::cat(vec![x2.neg(), x1], 3);
        let cos = cos.clone().cast(x.dtype()).reshape([1, 1, t, d]);
        let sin = sin.clone().cast(x.dtype()).reshape([1, 1, t, d]);
        let _ = (b, h);
        x * cos + rotated * sin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_frequencies_follow_the_reference_formula() {
        let r = Rope::new(8, 10000.0);
        assert_eq!(r.inv_freq.len(), 4);
        assert_eq!(r.inv_freq[0], 1.0);
        assert!((r.inv_freq[1] - 0.1).abs() < 1e-7);
        assert!((r.inv_freq[3] - 0.001).abs() < 1e-9);
    }
}
