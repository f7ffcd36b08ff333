//! Which checkpoint tensors are quantised: the linear layers the issue names (LLM attention and
//! MLP, `lm_head`, the SigLIP linears, the generation head) and the token embedding, by their
//! canonical names (`weights::spec`), when their rows split into whole blocks. The small
//! `gen_embed` table, norms, convolutions, the aligners and the VQ decoder stay in the working
//! float type.

use super::BLOCK;

const LLM_LAYER: &str = "language_model.model.layers.";
const LLM_LINEARS: [&str; 7] = [
    ".self_attn.q_proj.weight",
    ".self_attn.k_proj.weight",
    ".self_attn.v_proj.weight",
    ".self_attn.o_proj.weight",
    ".mlp.gate_proj.weight",
    ".mlp.up_proj.weight",
    ".mlp.down_proj.weight",
];
const SIGLIP_BLOCK: &str = "vision_model.vision_tower.blocks.";
const SIGLIP_LINEARS: [&str; 6] = [
    ".attn.q.weight",
    ".attn.k.weight",
    ".attn.v.weight",
    ".attn.proj.weight",
    ".mlp.fc1.weight",
    ".mlp.fc2.weight",
];
/// Tables read by row lookup (gather), not by matrix product: quantised too (the token
/// embedding is 0.42 GB of Janus-1.3B in f16), unpacked row by row on lookup.
const LOOKUPS: [&str; 1] = ["language_model.model.embed_tokens.weight"];
const HEADS: [&str; 3] = [
    "language_model.lm_head.weight",
    "gen_head.output_mlp_projector.weight",
    "gen_head.vision_head.weight",
];

/// True when `name` (canonical) of `shape` is stored quantised under a quantised format.
pub fn quantizable(name: &str, shape: &[usize]) -> bool {
    let [_, cols] = shape else { return false };
    if *cols == 0 || !cols.is_multiple_of(BLOCK) {
        return false;
    }
    HEADS.contains(&name)
        || LOOKUPS.contains(&name)
        || (name.starts_with(LLM_LAYER) && LLM_LINEARS.iter().any(|s| name.ends_with(s)))
        || (name.starts_with(SIGLIP_BLOCK) && SIGLIP_LINEARS.iter().any(|s| name.ends_with(s)))
}

/// True for the quantised tables that are read by row lookup rather than matrix product.
pub fn is_lookup(name: &str) -> bool {
    LOOKUPS.contains(&name)
}
