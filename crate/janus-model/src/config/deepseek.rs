//! DeepSeek's original `multi_modality` config.json (janus-spec.md §2.6).
//!
//! Sub-configs are `{cls, model_type, params}`; `language_config` is a plain `LlamaConfig` whose
//! missing fields take transformers' LLaMA defaults (Janus-Pro-7B relies on that). The format cannot
//! express small sizes for the vision tower or the VQ model, so test checkpoints may add optional
//! `params` fields (`width`, `layers`, `heads`, `mlp_ratio`, `patch_size`, `layer_norm_eps` for
//! the vision tower; `codebook_size`, `codebook_embed_dim`, `z_channels`, `base_channels`,
//! `ch_mult`, `num_res_blocks` for the VQ model). Real checkpoints omit them and get real values.

use super::json::Obj;
use super::{
    CheckpointFormat, GenHeadConfig, JanusConfig, ProjectorConfig, SiglipConfig, VqConfig, llama,
};
use crate::error::ConfigError;

/// SigLIP towers known by `model_name`: (width, layers, heads, mlp_ratio, patch, eps).
const SIGLIP_MODELS: &[(&str, usize, usize, usize, f64, usize, f64)] =
    &[("siglip_large_patch16_384", 1024, 24, 16, 4.0, 16, 1e-6)];

/// VQ-16 defaults (identical for every Janus variant, janus-spec.md §2.4).
pub(crate) mod vq16 {
    pub const CODEBOOK: usize = 16384;
    pub const CODE_DIM: usize = 8;
    pub const Z_CHANNELS: usize = 256;
    pub const BASE_CHANNELS: usize = 128;
    pub const CH_MULT: [usize; 5] = [1, 1, 2, 2, 4];
    pub const NUM_RES_BLOCKS: usize = 2;
    pub const NORM_GROUPS: usize = 32;
}

pub(super) fn parse(root: &Obj) -> Result<JanusConfig, ConfigError> {
    let language = llama::parse(&root.obj("language_config")?)?;
    let vision = vision(&root.obj("vision_config")?.obj("params")?)?;
    let aligner = projector(&root.obj("aligner_config")?.obj("params")?)?;
    let gen_aligner = projector(&root.obj("gen_aligner_config")?.obj("params")?)?;
    let gen_vision_cfg = root.obj("gen_vision_config")?;
    if let Some(cls) = gen_vision_cfg.opt_str("cls")?
        && cls != "VQ-16"
    {
        return Err(gen_vision_cfg.unsupported(
            "cls",
            cls,
            "only the VQ-16 image tokenizer exists",
        ));
    }
    let gen_vision = vq(&gen_vision_cfg.obj("params")?, vision.grid())?;
    let head = root.obj("gen_head_config")?.obj("params")?;
    let gen_head = GenHeadConfig {
        input_dim: head.usize("n_embed")?,
        hidden_dim: head.usize("image_token_embed")?,
        codebook_size: head.usize("image_token_size")?,
    };
    Ok(JanusConfig {
        format: CheckpointFormat::DeepSeek,
        language,
        vision,
        aligner,
        gen_vision,
        gen_aligner,
        gen_head,
        stored_dtype: root.opt_str("torch_dtype")?,
    })
}

fn vision(p: &Obj) -> Result<SiglipConfig, ConfigError> {
    let name = p
        .opt_str("model_name")?
        .unwrap_or_else(|| "siglip_large_patch16_384".into());
    let known = SIGLIP_MODELS.iter().find(|m| m.0 == name);
    let explicit = p.has("width") && p.has("layers") && p.has("heads");
    let (width, depth, heads, ratio, patch, eps) = match known {
        Some(&(_, w, l, h, r, ps, e)) => (w, l, h, r, ps, e),
        None if explicit => (0, 0, 0, 4.0, 16, 1e-6),
        None => {
            return Err(p.unsupported(
                "model_name",
                &name,
                "unknown vision tower (known: siglip_large_patch16_384)",
            ));
        }
    };
    let width = p.opt_usize("width")?.unwrap_or(width);
    let depth = p.opt_usize("layers")?.unwrap_or(depth);
    let ratio = p.opt_f64("mlp_ratio")?.unwrap_or(ratio);
    if let Some(sel) = p.opt_str("select_feature")?
        && sel != "same"
    {
        return Err(p.unsupported("select_feature", sel, "only \"same\" (all patch tokens)"));
    }
    // DeepSeek builds the ViT with only the blocks up to `select_layer` (-1: all of them).
    let select = p.opt_i64("select_layer")?.unwrap_or(-1);
    let layers = if select <= 0 {
        (depth as i64 + select + 1).clamp(0, depth as i64) as usize
    } else {
        (select as usize).min(depth)
    };
    Ok(SiglipConfig {
        image_size: p.opt_square("image_size")?.unwrap_or(384),
        patch_size: p.opt_square("patch_size")?.unwrap_or(patch),
        width,
        layers,
        heads: p.opt_usize("heads")?.unwrap_or(heads),
        // timm: hidden = int(width * mlp_ratio)
        mlp_dim: (width as f64 * ratio) as usize,
        layer_norm_eps: p.opt_f64("layer_norm_eps")?.unwrap_or(eps),
    })
}

fn projector(p: &Obj) -> Result<ProjectorConfig, ConfigError> {
    let kind = p
        .opt_str("projector_type")?
        .unwrap_or_else(|| "mlp_gelu".into());
    if kind != "mlp_gelu" {
        return Err(p.unsupported("projector_type", kind, "Janus uses mlp_gelu"));
    }
    Ok(ProjectorConfig {
        input_dim: p.usize("input_dim")?,
        n_embed: p.usize("n_embed")?,
        depth: p.opt_usize("depth")?.unwrap_or(1),
    })
}

fn vq(p: &Obj, grid: usize) -> Result<VqConfig, ConfigError> {
    let codebook = match p.opt_usize("codebook_size")? {
        Some(n) => n,
        None => p.opt_usize("image_token_size")?.unwrap_or(vq16::CODEBOOK),
    };
    let code_dim = match p.opt_usize("codebook_embed_dim")? {
        Some(n) => n,
        None => p.opt_usize("n_embed")?.unwrap_or(vq16::CODE_DIM),
    };
    Ok(VqConfig {
        codebook_size: codebook,
        codebook_embed_dim: code_dim,
        z_channels: p.opt_usize("z_channels")?.unwrap_or(vq16::Z_CHANNELS),
        base_channels: p.opt_usize("base_channels")?.unwrap_or(vq16::BASE_CHANNELS),
        ch_mult: p
            .opt_usize_list("ch_mult")?
            .unwrap_or_else(|| vq16::CH_MULT.to_vec()),
        num_res_blocks: p
            .opt_usize("num_res_blocks")?
            .unwrap_or(vq16::NUM_RES_BLOCKS),
        norm_groups: vq16::NORM_GROUPS,
        out_channels: 3,
        grid,
    })
}
