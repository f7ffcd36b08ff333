//! Image-generation head and input path (janus-spec.md §2.5): `gen_head` turns the LLM's final
//! hidden state into logits over the image codebook; `gen_embed` + `gen_aligner` turn a sampled
//! code back into the next input embedding. `gen_embed` is its own table, not the VQ codebook.

use burn::tensor::{Int, Tensor};

use super::nn::{Embedding, Linear, gelu};
use super::projector::MlpProjector;
use crate::config::JanusConfig;
use crate::error::WeightsError;
use crate::weights::TensorStore;

/// `Linear(H -> hidden)`, GELU, `Linear(hidden -> codebook)`.
#[derive(Clone, Debug)]
pub struct GenHead {
    proj: Linear,
    head: Linear,
}

impl GenHead {
    pub fn load(store: &mut TensorStore) -> Result<Self, WeightsError> {
        Ok(Self {
            proj: Linear::load(store, "gen_head.output_mlp_projector", true)?,
            head: Linear::load(store, "gen_head.vision_head", true)?,
        })
    }

    /// `[..., H] -> [..., codebook]`
    pub fn forward<const D: usize>(&self, h: Tensor<D>) -> Tensor<D> {
        self.head.forward(gelu(self.proj.forward(h)))
    }
}

/// Code -> LLM input embedding.
#[derive(Clone, Debug)]
pub struct GenInput {
    embed: Embedding,
    aligner: MlpProjector,
}

impl GenInput {
    pub fn load(store: &mut TensorStore, c: &JanusConfig) -> Result<Self, WeightsError> {
        Ok(Self {
            embed: Embedding::load(store, "gen_embed.weight")?,
            aligner: MlpProjector::load(store, "gen_aligner", &c.gen_aligner)?,
        })
    }

    /// `codes: [B, T]` -> `[B, T, H]`
    pub fn forward(&self, codes: Tensor<2, Int>) -> Tensor<3> {
        self.aligner.forward(self.embed.forward(codes))
    }
}
