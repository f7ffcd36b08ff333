//! Model configuration: one `JanusConfig` for every checkpoint, read from either `config.json`
//! format (janus-spec.md §2.6 DeepSeek `multi_modality`, and the HF-native `janus` format), plus
//! presets for the published models.
//!
//! Every size that shapes a tensor lives here; nothing downstream assumes a value of the real
//! model (head counts, MLP ratios, channel multipliers, embed sizes all come from the file).

mod deepseek;
mod hf;
mod json;
mod llama;
mod presets;

use crate::error::ConfigError;

pub use presets::Preset;

/// The two checkpoint layouts (config format + tensor names) Janus ships in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckpointFormat {
    /// DeepSeek's original `MultiModalityCausalLM` layout (`deepseek-ai/Janus-*`).
    DeepSeek,
    /// transformers' `JanusForConditionalGeneration` layout (`deepseek-community/Janus-*`).
    HuggingFace,
}

impl CheckpointFormat {
    pub fn name(self) -> &'static str {
        match self {
            CheckpointFormat::DeepSeek => "deepseek (multi_modality)",
            CheckpointFormat::HuggingFace => "hugging-face (janus)",
        }
    }
}

/// The LLaMA language model (DeepSeek-LLM).
#[derive(Clone, Debug, PartialEq)]
pub struct LlamaConfig {
    /// Embedding and `lm_head` rows (102400 for every Janus).
    pub vocab_size: usize,
    /// Model width H.
    pub hidden_size: usize,
    /// SwiGLU inner width.
    pub intermediate_size: usize,
    /// Decoder layers.
    pub num_layers: usize,
    /// Query heads.
    pub num_heads: usize,
    /// Key/value heads (equal to `num_heads` for Janus; fewer means grouped-query attention).
    pub num_kv_heads: usize,
    /// Width of one head.
    pub head_dim: usize,
    /// RMSNorm epsilon.
    pub rms_norm_eps: f64,
    /// RoPE base.
    pub rope_theta: f64,
    /// Longest sequence the positions are trained for.
    pub max_position_embeddings: usize,
    /// `lm_head` shares the embedding matrix (false for every Janus checkpoint).
    pub tie_word_embeddings: bool,
}

impl LlamaConfig {
    /// Device bytes one position of one sequence takes in the KV caches: the keys and values of
    /// every layer, `dtype_bytes` a value (192 KiB for Janus-1.3B in f16).
    pub fn kv_bytes_per_position(&self, dtype_bytes: u64) -> u64 {
        2 * (self.num_layers * self.num_kv_heads * self.head_dim) as u64 * dtype_bytes
    }
}

/// The SigLIP ViT that encodes images for understanding.
#[derive(Clone, Debug, PartialEq)]
pub struct SiglipConfig {
    /// Input side in pixels (384).
    pub image_size: usize,
    /// Patch side in pixels (16).
    pub patch_size: usize,
    /// Token width C.
    pub width: usize,
    /// Transformer blocks actually run (and stored).
    pub layers: usize,
    /// Attention heads.
    pub heads: usize,
    /// MLP inner width, `int(width * mlp_ratio)`.
    pub mlp_dim: usize,
    /// LayerNorm epsilon.
    pub layer_norm_eps: f64,
}

impl SiglipConfig {
    /// Patches per side (24).
    pub fn grid(&self) -> usize {
        self.image_size / self.patch_size
    }
    /// Tokens per image (576).
    pub fn num_patches(&self) -> usize {
        self.grid() * self.grid()
    }
}

/// A `mlp_gelu` projector: Linear(input -> n_embed), then (depth - 1) x [GELU, Linear(n_embed -> n_embed)].
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectorConfig {
    pub input_dim: usize,
    pub n_embed: usize,
    pub depth: usize,
}

/// The VQ-16 image tokenizer (only its decoder and codebook run at inference).
#[derive(Clone, Debug, PartialEq)]
pub struct VqConfig {
    /// Codebook rows = image token vocabulary (16384).
    pub codebook_size: usize,
    /// Codebook vector width (8).
    pub codebook_embed_dim: usize,
    /// Latent channels between `post_quant_conv` and the decoder (256).
    pub z_channels: usize,
    /// Base channel count (128).
    pub base_channels: usize,
    /// Channel multiplier per resolution level, highest resolution first ([1, 1, 2, 2, 4]).
    pub ch_mult: Vec<usize>,
    /// ResBlocks per level in the encoder; the decoder has one more.
    pub num_res_blocks: usize,
    /// GroupNorm groups (32).
    pub norm_groups: usize,
    /// Output image channels (3).
    pub out_channels: usize,
    /// Code grid side (24): the decoder input is grid x grid codes.
    pub grid: usize,
}

impl VqConfig {
    /// Output image side in pixels: one doubling per level transition.
    pub fn image_size(&self) -> usize {
        self.grid << (self.ch_mult.len().saturating_sub(1))
    }
    /// Codes per image (576).
    pub fn tokens_per_image(&self) -> usize {
        self.grid * self.grid
    }
}

/// The image-token head: Linear(H -> hidden), GELU, Linear(hidden -> codebook).
#[derive(Clone, Debug, PartialEq)]
pub struct GenHeadConfig {
    pub input_dim: usize,
    pub hidden_dim: usize,
    pub codebook_size: usize,
}

/// Everything needed to build and load a Janus model.
#[derive(Clone, Debug, PartialEq)]
pub struct JanusConfig {
    pub format: CheckpointFormat,
    pub language: LlamaConfig,
    pub vision: SiglipConfig,
    pub aligner: ProjectorConfig,
    pub gen_vision: VqConfig,
    pub gen_aligner: ProjectorConfig,
    pub gen_head: GenHeadConfig,
    /// Dtype the file says the weights are stored in (informational).
    pub stored_dtype: Option<String>,
}

impl JanusConfig {
    /// Parse either `config.json` format; the format is detected from its keys.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        if let Some(key) = crate::json_keys::duplicate_key(text.as_bytes()) {
            return Err(ConfigError::Json(format!("{key:?} appears twice")));
        }
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| ConfigError::Json(e.to_string()))?;
        let root = json::Obj::root(&value)?;
        let model_type = root.opt_str("model_type")?;
        let config = match model_type.as_deref() {
            Some("multi_modality") => deepseek::parse(&root)?,
            Some("janus") => hf::parse(&root)?,
            None if root.has("language_config") => deepseek::parse(&root)?,
            None if root.has("text_config") => hf::parse(&root)?,
            Some(other) => return Err(ConfigError::UnknownFormat(other.to_string())),
            None => return Err(ConfigError::UnknownFormat("(none)".into())),
        };
        config.validate()?;
        Ok(config)
    }

    /// Image tokens per understanding image (576) and per generated image.
    pub fn image_tokens(&self) -> usize {
        self.vision.num_patches()
    }

    /// Check internal consistency: every divisibility and equality the modules rely on.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |field: &str, reason: String| {
            Err(ConfigError::Invalid {
                field: field.to_string(),
                reason,
            })
        };
        let l = &self.language;
        for (name, v) in [
            ("vocab_size", l.vocab_size),
            ("hidden_size", l.hidden_size),
            ("intermediate_size", l.intermediate_size),
            ("num_hidden_layers", l.num_layers),
            ("num_attention_heads", l.num_heads),
            ("num_key_value_heads", l.num_kv_heads),
            ("head_dim", l.head_dim),
        ] {
            if v == 0 {
                return bad(name, "must be positive".into());
            }
        }
        // Bounds far above any real model keep every size product inside u64.
        let sizes = [
            ("vocab_size", l.vocab_size, 1 << 22),
            ("hidden_size", l.hidden_size, 1 << 16),
            ("intermediate_size", l.intermediate_size, 1 << 18),
            ("num_hidden_layers", l.num_layers, 512),
            ("num_attention_heads", l.num_heads, 1024),
            ("head_dim", l.head_dim, 1 << 12),
            (
                "max_position_embeddings",
                l.max_position_embeddings,
                1 << 22,
            ),
            ("vision.width", self.vision.width, 1 << 16),
            ("vision.layers", self.vision.layers, 512),
            ("vision.image_size", self.vision.image_size, 4096),
            ("vision.mlp_dim", self.vision.mlp_dim, 1 << 18),
            ("aligner.depth", self.aligner.depth, 64),
            ("gen_aligner.depth", self.gen_aligner.depth, 64),
            (
                "gen_vision.codebook_size",
                self.gen_vision.codebook_size,
                1 << 22,
            ),
            (
                "gen_vision.codebook_embed_dim",
                self.gen_vision.codebook_embed_dim,
                1 << 12,
            ),
            ("gen_vision.z_channels", self.gen_vision.z_channels, 1 << 14),
            (
                "gen_vision.base_channels",
                self.gen_vision.base_channels,
                1 << 12,
            ),
            (
                "gen_vision.num_res_blocks",
                self.gen_vision.num_res_blocks,
                64,
            ),
            ("gen_head.hidden_dim", self.gen_head.hidden_dim, 1 << 16),
        ];
        for (name, value, max) in sizes {
            if value > max {
                return bad(name, format!("{value} is larger than {max}"));
            }
        }
        if self.gen_vision.ch_mult.iter().any(|&m| m > 64) {
            return bad("gen_vision.ch_mult", "multipliers above 64".into());
        }
        if !l.num_heads.is_multiple_of(l.num_kv_heads) {
            return bad(
                "num_key_value_heads",
                format!(
                    "{} heads are not a multiple of {}",
                    l.num_heads, l.num_kv_heads
                ),
            );
        }
        if !l.head_dim.is_multiple_of(2) {
            return bad(
                "head_dim",
                "rotary embeddings need an even head width".into(),
            );
        }
        if l.rope_theta.is_nan()
            || l.rope_theta <= 0.0
            || l.rms_norm_eps.is_nan()
            || l.rms_norm_eps < 0.0
        {
            return bad("rope_theta", "must be positive".into());
        }
        let v = &self.vision;
        if v.patch_size == 0 || v.image_size == 0 || !v.image_size.is_multiple_of(v.patch_size) {
            return bad(
                "vision.patch_size",
                format!(
                    "{} does not divide image size {}",
                    v.patch_size, v.image_size
                ),
            );
        }
        if v.width == 0
            || v.heads == 0
            || !v.width.is_multiple_of(v.heads)
            || v.layers == 0
            || v.mlp_dim == 0
        {
            return bad(
                "vision.width",
                format!(
                    "width {} is not a positive multiple of {} heads",
                    v.width, v.heads
                ),
            );
        }
        for (name, p) in [
            ("aligner", &self.aligner),
            ("gen_aligner", &self.gen_aligner),
        ] {
            if p.depth == 0 || p.input_dim == 0 || p.n_embed == 0 {
                return bad(name, "depth and widths must be positive".into());
            }
            if p.n_embed != l.hidden_size {
                return bad(
                    name,
                    format!("n_embed {} != LLM hidden size {}", p.n_embed, l.hidden_size),
                );
            }
        }
        if self.aligner.input_dim != v.width {
            return bad(
                "aligner.input_dim",
                format!("{} != vision width {}", self.aligner.input_dim, v.width),
            );
        }
        let q = &self.gen_vision;
        if q.codebook_size == 0 || q.codebook_embed_dim == 0 || q.z_channels == 0 {
            return bad(
                "gen_vision",
                "codebook and latent sizes must be positive".into(),
            );
        }
        if self.gen_aligner.input_dim != q.codebook_embed_dim {
            return bad(
                "gen_aligner.input_dim",
                format!(
                    "{} != codebook width {}",
                    self.gen_aligner.input_dim, q.codebook_embed_dim
                ),
            );
        }
        if q.ch_mult.is_empty() || q.ch_mult.contains(&0) || q.ch_mult.len() > 8 {
            return bad(
                "gen_vision.ch_mult",
                format!("{:?} is not usable", q.ch_mult),
            );
        }
        for &m in &q.ch_mult {
            if !(q.base_channels * m).is_multiple_of(q.norm_groups) || q.base_channels == 0 {
                return bad(
                    "gen_vision.base_channels",
                    format!(
                        "{} x {} channels are not divisible into {} GroupNorm groups",
                        q.base_channels, m, q.norm_groups
                    ),
                );
            }
        }
        if q.grid != v.grid() {
            return bad(
                "gen_vision",
                format!("code grid {} != vision grid {}", q.grid, v.grid()),
            );
        }
        let h = &self.gen_head;
        if h.input_dim != l.hidden_size || h.codebook_size != q.codebook_size || h.hidden_dim == 0 {
            return bad(
                "gen_head",
                format!(
                    "input {} / output {} do not match hidden {} / codebook {}",
                    h.input_dim, h.codebook_size, l.hidden_size, q.codebook_size
                ),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
