//! The HF-native `janus` config.json written by transformers' converter
//! (`deepseek-community/Janus-*`): `text_config` (LLaMA), `vision_config`, `vq_config`.
//!
//! Both transformers 4 and 5 spellings are accepted: `rope_theta` or
//! `rope_parameters.rope_theta`, `torch_dtype` or `dtype`.

use super::json::Obj;
use super::{
    CheckpointFormat, GenHeadConfig, JanusConfig, ProjectorConfig, SiglipConfig, VqConfig,
    deepseek::vq16, llama,
};
use crate::error::ConfigError;

pub(super) fn parse(root: &Obj) -> Result<JanusConfig, ConfigError> {
    let text = root.obj("text_config")?;
    let mut language = llama::parse(&text)?;
    // Tying comes from text_config (read above) or else the top level; absent means untied,
    // which is what every Janus checkpoint is (the loader also uses a stored `lm_head`).
    if !text.has("tie_word_embeddings") {
        language.tie_word_embeddings = root.opt_bool("tie_word_embeddings")?.unwrap_or(false);
    }
    let v = root.obj("vision_config")?;
    let (vision, aligner) = vision(&v, language.hidden_size)?;
    let q = root.obj("vq_config")?;
    let (gen_vision, gen_aligner, gen_head) = vq(&q, vision.grid())?;
    let stored_dtype = match root.opt_str("dtype")? {
        Some(s) => Some(s),
        None => root.opt_str("torch_dtype")?,
    };
    Ok(JanusConfig {
        format: CheckpointFormat::HuggingFace,
        language,
        vision,
        aligner,
        gen_vision,
        gen_aligner,
        gen_head,
        stored_dtype,
    })
}

fn vision(v: &Obj, hidden: usize) -> Result<(SiglipConfig, ProjectorConfig), ConfigError> {
    if let Some(act) = v.opt_str("hidden_act")?
        && act != "gelu"
    {
        return Err(v.unsupported("hidden_act", act, "Janus' SigLIP uses exact GELU"));
    }
    if v.opt_bool("use_qk_norm")? == Some(true) {
        return Err(v.unsupported("use_qk_norm", true, "Janus' SigLIP has no qk-norm"));
    }
    if v.opt_bool("attention_bias")? == Some(false) {
        return Err(v.unsupported("attention_bias", false, "Janus' SigLIP has qkv biases"));
    }
    if let Some(c) = v.opt_usize("num_channels")?
        && c != 3
    {
        return Err(v.unsupported("num_channels", c, "images are RGB"));
    }
    let width = v.opt_usize("hidden_size")?.unwrap_or(1024);
    let ratio = v.opt_f64("mlp_ratio")?.unwrap_or(4.0);
    let vision = SiglipConfig {
        image_size: v.opt_square("image_size")?.unwrap_or(384),
        patch_size: v.opt_square("patch_size")?.unwrap_or(16),
        width,
        layers: v.opt_usize("num_hidden_layers")?.unwrap_or(24),
        heads: v.opt_usize("num_attention_heads")?.unwrap_or(16),
        // transformers: intermediate_size = int(hidden_size * mlp_ratio)
        mlp_dim: (width as f64 * ratio) as usize,
        layer_norm_eps: v.opt_f64("layer_norm_eps")?.unwrap_or(1e-6),
    };
    if let Some(n) = v.opt_usize("num_image_tokens")?
        && vision.patch_size > 0
        && n != vision.num_patches()
    {
        return Err(ConfigError::Invalid {
            field: "vision_config.num_image_tokens".into(),
            reason: format!(
                "{n} does not match ({} / {})^2",
                vision.image_size, vision.patch_size
            ),
        });
    }
    let aligner = ProjectorConfig {
        input_dim: width,
        n_embed: v.opt_usize("projection_dim")?.unwrap_or(hidden),
        depth: v.opt_usize("depth")?.unwrap_or(2),
    };
    Ok((vision, aligner))
}

fn vq(q: &Obj, grid: usize) -> Result<(VqConfig, ProjectorConfig, GenHeadConfig), ConfigError> {
    if q.opt_bool("double_latent")? == Some(true) {
        return Err(q.unsupported("double_latent", true, "not used by Janus"));
    }
    if let Some(act) = q.opt_str("hidden_act")?
        && act != "gelu"
    {
        return Err(q.unsupported("hidden_act", act, "Janus' generation MLPs use exact GELU"));
    }
    let codebook = q.opt_usize("num_embeddings")?.unwrap_or(vq16::CODEBOOK);
    let code_dim = q.opt_usize("embed_dim")?.unwrap_or(vq16::CODE_DIM);
    let projection = q.opt_usize("projection_dim")?.unwrap_or(2048);
    let vq = VqConfig {
        codebook_size: codebook,
        codebook_embed_dim: code_dim,
        z_channels: q.opt_usize("latent_channels")?.unwrap_or(vq16::Z_CHANNELS),
        base_channels: q.opt_usize("base_channels")?.unwrap_or(vq16::BASE_CHANNELS),
        ch_mult: q
            .opt_usize_list("channel_multiplier")?
            .unwrap_or_else(|| vq16::CH_MULT.to_vec()),
        num_res_blocks: q
            .opt_usize("num_res_blocks")?
            .unwrap_or(vq16::NUM_RES_BLOCKS),
        norm_groups: vq16::NORM_GROUPS,
        out_channels: q.opt_usize("out_channels")?.unwrap_or(3),
        grid,
    };
    if vq.out_channels != 3 {
        return Err(q.unsupported("out_channels", vq.out_channels, "images are RGB"));
    }
    let gen_aligner = ProjectorConfig {
        input_dim: code_dim,
        n_embed: projection,
        depth: q.opt_usize("num_hidden_layers")?.unwrap_or(2),
    };
    let gen_head = GenHeadConfig {
        input_dim: q.opt_usize("image_token_embed_dim")?.unwrap_or(2048),
        hidden_dim: projection,
        codebook_size: codebook,
    };
    Ok((vq, gen_aligner, gen_head))
}
