//! The Janus model: every component, assembled from loaded weights.
//!
//! Components follow the reference's module boundaries (janus-spec.md §1): the LLaMA decoder with
//! its two heads (`lm_head` for text, `gen_head` for image tokens), the SigLIP tower and its
//! aligner for understanding, the generation input path, and the VQ decoder. The methods here are
//! single forward steps; loops and sampling live in `generate`.

pub mod conv;
pub mod cursor;
pub mod fused;
pub mod gen_head;
pub mod kv_cache;
pub mod llama;
pub mod nn;
pub mod projector;
pub mod rope;
pub mod siglip;
pub mod vq;

#[cfg(test)]
mod tests;

use burn::tensor::{DType, Device, Int, Tensor, TensorData};

use self::gen_head::{GenHead, GenInput};
use self::kv_cache::KvCache;
use self::llama::Llama;
use self::nn::Linear;
use self::projector::MlpProjector;
use self::siglip::SiglipVit;
use self::vq::VqModel;
use crate::config::JanusConfig;
use crate::error::WeightsError;
use crate::weights::TensorStore;

#[derive(Clone, Debug)]
pub struct Janus {
    config: JanusConfig,
    pub llm: Llama,
    /// `[vocab, H]`
    pub lm_head: Linear,
    pub vision: SiglipVit,
    pub aligner: MlpProjector,
    pub gen_input: GenInput,
    pub gen_head: GenHead,
    pub vq: VqModel,
    device: Device,
}

impl Janus {
    /// Build every module from `store`, which must then be empty.
    pub fn from_store(config: &JanusConfig, store: &mut TensorStore) -> Result<Self, WeightsError> {
        let llm = Llama::load(store, &config.language)?;
        let lm_head = if store.contains("language_model.lm_head.weight") {
            Linear::load(store, "language_model.lm_head", false)?
        } else if config.language.tie_word_embeddings {
            Linear {
                weight: llm.embed.weight.clone(),
                bias: None,
            }
        } else {
            return Err(WeightsError::Missing {
                name: "language_model.lm_head.weight".into(),
            });
        };
        let model = Self {
            config: config.clone(),
            lm_head,
            vision: SiglipVit::load(store, &config.vision)?,
            aligner: MlpProjector::load(store, "aligner", &config.aligner)?,
            gen_input: GenInput::load(store, config)?,
            gen_head: GenHead::load(store)?,
            vq: VqModel::load(store, &config.gen_vision)?,
            device: store.device().clone(),
            llm,
        };
        let left = store.remaining();
        if let Some(first) = left.first() {
            return Err(WeightsError::Internal(format!(
                "{} loaded tensors were not used, first {first}",
                left.len()
            )));
        }
        Ok(model)
    }

    pub fn config(&self) -> &JanusConfig {
        &self.config
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The working dtype: of the activations and the KV caches.
    pub fn dtype(&self) -> DType {
        self.llm.embed.weight.dtype()
    }

    /// Device bytes one position of one sequence takes in this model's KV caches (in its
    /// working dtype).
    pub fn kv_bytes_per_position(&self) -> u64 {
        (self.config.language).kv_bytes_per_position(self.dtype().size() as u64)
    }

    /// Fresh KV caches for a sequence of about `capacity` positions.
    pub fn new_cache(&self, capacity: usize) -> Vec<KvCache> {
        self.llm.new_cache(capacity)
    }

    /// Token ids `[B][T]` (equal lengths) -> `[B, T]` on the device.
    pub fn ids_tensor(&self, rows: &[Vec<u32>]) -> Tensor<2, Int> {
        let b = rows.len();
        let t = rows.first().map_or(0, Vec::len);
        let flat: Vec<i64> = rows.iter().flatten().map(|&id| id as i64).collect();
        Tensor::from_data(TensorData::new(flat, [b, t]), &self.device)
    }

    /// `ids: [B, T]` -> `[B, T, H]`
    pub fn embed_tokens(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        self.llm.embed.forward(ids)
    }

    /// Understanding features: `pixels: [N, 3, S, S]` -> `[N, 576, H]`. Many pictures run a few
    /// at a time, so that SigLIP's attention scores (`[n, heads, 576, 576]` f32, 20 MiB a
    /// picture) stay within the bound a prefill's do ([`llama::PREFILL_SCORE_BYTES`]).
    pub fn encode_images(&self, pixels: Tensor<4>) -> Tensor<3> {
        let v = &self.config.vision;
        let patches = v.num_patches();
        // A picture is one "row" of `heads × patches` scores over `patches` positions.
        let per_pass = llama::prefill_rows(v.heads, patches, patches, self.llm.score_bytes());
        self.encode_images_by(pixels, per_pass)
    }

    /// [`Self::encode_images`], `per_pass` pictures at a time (tests compare it with one pass).
    pub fn encode_images_by(&self, pixels: Tensor<4>, per_pass: usize) -> Tensor<3> {
        let n = pixels.dims()[0];
        let per_pass = per_pass.max(1);
        let encode = |p: Tensor<4>| self.aligner.forward(self.vision.forward(p));
        if n <= per_pass {
            return encode(pixels);
        }
        let parts = (0..n)
            .step_by(per_pass)
            .map(|at| encode(pixels.clone().narrow(0, at, per_pass.min(n - at))))
            .collect();
        Tensor::cat(parts, 0)
    }

    /// Run the decoder over input embeddings, extending `cache`; returns normed hidden `[B, T, H]`.
    pub fn forward_embeds(&self, x: Tensor<3>, cache: &mut [KvCache]) -> Tensor<3> {
        self.llm.forward(x, cache)
    }

    /// Text logits of the last position: `hidden: [B, T, H]` -> `[B, vocab]`.
    pub fn text_logits(&self, hidden: Tensor<3>) -> Tensor<2> {
        let [b, t, h] = hidden.dims();
        self.lm_head
            .forward(hidden.narrow(1, t - 1, 1).reshape([b, h]))
    }

    /// Image-token logits of the last position: `[B, T, H]` -> `[B, codebook]`.
    pub fn image_logits(&self, hidden: Tensor<3>) -> Tensor<2> {
        let [b, t, h] = hidden.dims();
        self.gen_head
            .forward(hidden.narrow(1, t - 1, 1).reshape([b, h]))
    }

    /// Next-step input for sampled image codes: `codes: [B, 1]` -> `[B, 1, H]`.
    pub fn image_code_embeds(&self, codes: Tensor<2, Int>) -> Tensor<3> {
        self.gen_input.forward(codes)
    }

    /// VQ-decode code rows: `codes: [N, rows*grid]` -> `[N, 3, rows*S/grid, S]` f32 (576 codes: whole images).
    pub fn decode_codes(&self, codes: Tensor<2, Int>) -> Tensor<4> {
        self.vq.decode(codes)
    }
}
