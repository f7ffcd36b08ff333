//! The published Janus models, as the config.json text their repositories carry (DeepSeek format),
//! parsed by the same code that reads downloaded files.

use super::{CheckpointFormat, JanusConfig};

/// `deepseek-ai/Janus-1.3B` config.json (janus-spec.md §2.1–2.6).
const JANUS_1_3B: &str = r#"{
  "aligner_config": {"cls": "MlpProjector", "model_type": "aligner",
    "params": {"depth": 2, "input_dim": 1024, "n_embed": 2048, "projector_type": "mlp_gelu"}},
  "architectures": ["MultiModalityCausalLM"],
  "gen_aligner_config": {"cls": "MlpProjector", "model_type": "gen_aligner",
    "params": {"depth": 2, "input_dim": 8, "n_embed": 2048, "projector_type": "mlp_gelu"}},
  "gen_head_config": {"cls": "vision_head", "model_type": "gen_head",
    "params": {"image_token_embed": 2048, "image_token_size": 16384, "n_embed": 2048}},
  "gen_vision_config": {"cls": "VQ-16", "model_type": "gen_vision",
    "params": {"image_token_size": 16384, "n_embed": 8}},
  "language_config": {"hidden_size": 2048, "intermediate_size": 5632, "max_position_embeddings": 16384,
    "model_type": "llama", "num_attention_heads": 16, "num_hidden_layers": 24, "num_key_value_heads": 16,
    "torch_dtype": "bfloat16", "vocab_size": 102400},
  "model_type": "multi_modality",
  "torch_dtype": "bfloat16",
  "vision_config": {"cls": "CLIPVisionTower", "model_type": "vision",
    "params": {"image_size": 384, "model_name": "siglip_large_patch16_384", "select_feature": "same",
      "select_layer": -1}}
}"#;

/// `deepseek-ai/Janus-Pro-7B` config.json: the language model states only what differs from
/// transformers' LLaMA defaults (janus-spec.md §2.1 note).
const JANUS_PRO_7B: &str = r#"{
  "aligner_config": {"cls": "MlpProjector", "model_type": "aligner",
    "params": {"depth": 2, "input_dim": 1024, "n_embed": 4096, "projector_type": "mlp_gelu"}},
  "architectures": ["MultiModalityCausalLM"],
  "gen_aligner_config": {"cls": "MlpProjector", "model_type": "gen_aligner",
    "params": {"depth": 2, "input_dim": 8, "n_embed": 4096, "projector_type": "mlp_gelu"}},
  "gen_head_config": {"cls": "vision_head", "model_type": "gen_head",
    "params": {"image_token_embed": 4096, "image_token_size": 16384, "n_embed": 4096}},
  "gen_vision_config": {"cls": "VQ-16", "model_type": "gen_vision",
    "params": {"image_token_size": 16384, "n_embed": 8}},
  "language_config": {"max_position_embeddings": 16384, "model_type": "llama", "num_hidden_layers": 30,
    "torch_dtype": "bfloat16", "vocab_size": 102400},
  "model_type": "multi_modality",
  "torch_dtype": "bfloat16",
  "vision_config": {"cls": "CLIPVisionTower", "model_type": "vision",
    "params": {"image_size": 384, "model_name": "siglip_large_patch16_384", "select_feature": "same",
      "select_layer": -1}}
}"#;

/// A published Janus model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    Janus1_3B,
    JanusPro1B,
    JanusPro7B,
}

impl Preset {
    pub const ALL: [Preset; 3] = [Preset::Janus1_3B, Preset::JanusPro1B, Preset::JanusPro7B];

    /// Short id used on the command line and in the web registry.
    pub fn id(self) -> &'static str {
        match self {
            Preset::Janus1_3B => "janus-1.3b",
            Preset::JanusPro1B => "janus-pro-1b",
            Preset::JanusPro7B => "janus-pro-7b",
        }
    }

    /// The DeepSeek repository the config comes from.
    pub fn repo(self) -> &'static str {
        match self {
            Preset::Janus1_3B => "deepseek-ai/Janus-1.3B",
            Preset::JanusPro1B => "deepseek-ai/Janus-Pro-1B",
            Preset::JanusPro7B => "deepseek-ai/Janus-Pro-7B",
        }
    }

    /// The DeepSeek-format config.json text.
    pub fn config_json(self) -> &'static str {
        match self {
            // Pro-1B shares Janus-1.3B's architecture exactly (janus-spec.md §2).
            Preset::Janus1_3B | Preset::JanusPro1B => JANUS_1_3B,
            Preset::JanusPro7B => JANUS_PRO_7B,
        }
    }

    /// The configuration, for a checkpoint in the given layout.
    pub fn config(self, format: CheckpointFormat) -> JanusConfig {
        // The embedded text is a compile-time constant covered by tests.
        let mut config = JanusConfig::from_json(self.config_json())
            .expect("preset config.json constants are valid");
        config.format = format;
        config
    }
}
