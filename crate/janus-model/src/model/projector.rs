//! `mlp_gelu` projectors (janus-spec.md §2.3, §2.5): `aligner` maps SigLIP features into the LLM
//! width, `gen_aligner` maps generation-codebook embeddings into it.

use burn::tensor::Tensor;

use super::nn::{Linear, gelu};
use crate::config::ProjectorConfig;
use crate::error::WeightsError;
use crate::weights::TensorStore;

#[derive(Clone, Debug)]
pub struct MlpProjector {
    /// Linear layers; GELU sits between consecutive ones.
    layers: Vec<Linear>,
}

impl MlpProjector {
    /// `prefix` is `aligner` or `gen_aligner`; Linear layers sit at even indices of DeepSeek's
    /// `nn.Sequential` (`layers.0`, `layers.2`, ...).
    pub fn load(
        store: &mut TensorStore,
        prefix: &str,
        c: &ProjectorConfig,
    ) -> Result<Self, WeightsError> {
        let layers = (0..c.depth)
            .map(|k| Linear::load(store, &format!("{prefix}.layers.{}", 2 * k), true))
            .collect::<Result<_, _>>()?;
        Ok(Self { layers })
    }

    /// `[..., input_dim] -> [..., n_embed]`
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let mut x = x;
        for (i, layer) in self.layers.iter().enumerate() {
            if i > 0 {
                x = gelu(x);
            }
            x = layer.forward(x);
        }
        x
    }
}
