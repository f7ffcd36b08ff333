//! The language model's config: a transformers `LlamaConfig`, as DeepSeek's `language_config`
//! and transformers' `text_config` both store it. Missing fields take transformers' LLaMA
//! defaults (Janus-Pro-7B states only layers, vocabulary and positions). RoPE settings are read in
//! both spellings: transformers 4 (`rope_theta`, `rope_scaling`) and 5 (`rope_parameters`).

use super::LlamaConfig;
use super::json::Obj;
use crate::error::ConfigError;

/// transformers' `LlamaConfig` defaults.
mod defaults {
    pub const HIDDEN: usize = 4096;
    pub const INTERMEDIATE: usize = 11008;
    pub const LAYERS: usize = 32;
    pub const HEADS: usize = 32;
    pub const VOCAB: usize = 32000;
    pub const MAX_POSITIONS: usize = 2048;
    pub const RMS_EPS: f64 = 1e-6;
    pub const ROPE_THETA: f64 = 10000.0;
}

pub(super) fn parse(c: &Obj) -> Result<LlamaConfig, ConfigError> {
    use defaults as d;
    if let Some(kind) = c.opt_str("model_type")?
        && kind != "llama"
    {
        return Err(c.unsupported("model_type", kind, "Janus' language model is LLaMA"));
    }
    if let Some(act) = c.opt_str("hidden_act")?
        && act != "silu"
    {
        return Err(c.unsupported("hidden_act", act, "Janus' LLaMA uses SiLU"));
    }
    for key in ["attention_bias", "mlp_bias"] {
        if c.opt_bool(key)? == Some(true) {
            return Err(c.unsupported(key, true, "Janus' LLaMA has no biases"));
        }
    }
    let hidden = c.opt_usize("hidden_size")?.unwrap_or(d::HIDDEN);
    let heads = c.opt_usize("num_attention_heads")?.unwrap_or(d::HEADS);
    Ok(LlamaConfig {
        vocab_size: c.opt_usize("vocab_size")?.unwrap_or(d::VOCAB),
        hidden_size: hidden,
        intermediate_size: c.opt_usize("intermediate_size")?.unwrap_or(d::INTERMEDIATE),
        num_layers: c.opt_usize("num_hidden_layers")?.unwrap_or(d::LAYERS),
        num_heads: heads,
        num_kv_heads: c.opt_usize("num_key_value_heads")?.unwrap_or(heads),
        head_dim: c
            .opt_usize("head_dim")?
            .unwrap_or(hidden.checked_div(heads).unwrap_or(0)),
        rms_norm_eps: c.opt_f64("rms_norm_eps")?.unwrap_or(d::RMS_EPS),
        rope_theta: rope_theta(c)?.unwrap_or(d::ROPE_THETA),
        max_position_embeddings: c
            .opt_usize("max_position_embeddings")?
            .unwrap_or(d::MAX_POSITIONS),
        tie_word_embeddings: c.opt_bool("tie_word_embeddings")?.unwrap_or(false),
    })
}

/// `rope_parameters.rope_theta` (transformers 5) or `rope_theta` (4); any scaling is refused.
fn rope_theta(c: &Obj) -> Result<Option<f64>, ConfigError> {
    let mut theta = c.opt_f64("rope_theta")?;
    for key in ["rope_parameters", "rope_scaling"] {
        let Some(rp) = c.opt_obj(key)? else {
            if c.has(key) {
                return Err(c.unsupported(key, "(not an object)", "Janus uses plain RoPE"));
            }
            continue;
        };
        let kind = match rp.opt_str("rope_type")? {
            Some(k) => Some(k),
            None => rp.opt_str("type")?,
        };
        if let Some(kind) = kind
            && kind != "default"
        {
            return Err(rp.unsupported("rope_type", kind, "Janus uses plain RoPE"));
        }
        if let Some(t) = rp.opt_f64("rope_theta")? {
            theta = Some(t);
        }
    }
    Ok(theta)
}
