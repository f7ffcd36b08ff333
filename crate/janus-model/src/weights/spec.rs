//! The expected tensor list of a checkpoint, derived from its config alone.
//!
//! The structure (which tensors exist, with which shapes) is written once, in DeepSeek's names
//! (janus-spec.md §3.2), which are also the *canonical* names the model modules are built from.
//! [`hf_name`] maps a canonical name to transformers' names (§3.4); the two format differences
//! that are not renames are handled in [`SpecBuilder::qkv`] (fused vs split SigLIP q/k/v) and
//! [`SpecBuilder::pos_embed`] (`[1, N, C]` vs `[N, C]`).
//!
//! Tensors a checkpoint carries but inference never reads (VQ encoder, `quant_conv`,
//! `codebook_used`, SigLIP `attn_pool`) are listed as [`Usage::Unused`]: accepted by name and
//! shape, never read.

use crate::config::{CheckpointFormat, JanusConfig, ProjectorConfig, VqConfig};

/// Where the bytes of one checkpoint tensor go.
#[derive(Clone, Debug, PartialEq)]
pub struct Placement {
    /// Canonical (DeepSeek) name the model modules ask for.
    pub target: String,
    /// Rows `[start, end)` of the stored tensor's first dimension (a fused qkv split), or all.
    pub rows: Option<(usize, usize)>,
    /// Shape of the canonical tensor.
    pub shape: Vec<usize>,
}

/// Whether inference reads a tensor.
#[derive(Clone, Debug, PartialEq)]
pub enum Usage {
    Load(Vec<Placement>),
    Unused,
}

/// One tensor a checkpoint of this config holds.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorSpec {
    /// Name in the checkpoint file.
    pub name: String,
    /// Shape in the checkpoint file.
    pub shape: Vec<usize>,
    pub usage: Usage,
    /// A checkpoint without it is rejected. Unused tensors and a tied `lm_head` are optional.
    pub required: bool,
}

impl TensorSpec {
    pub fn num_elements(&self) -> u64 {
        self.shape
            .iter()
            .fold(1u64, |n, &d| n.saturating_mul(d as u64))
    }
}

/// Every tensor a checkpoint of `config` (in `config.format`) may contain.
pub fn expected_tensors(config: &JanusConfig) -> Vec<TensorSpec> {
    let mut b = SpecBuilder {
        format: config.format,
        out: Vec::new(),
    };
    language(&mut b, config);
    vision(&mut b, config);
    projector(&mut b, "aligner", &config.aligner);
    generation(&mut b, config);
    vq(&mut b, &config.gen_vision);
    b.out
}

/// Total parameter count of the expected list (used and unused).
pub fn parameter_count(specs: &[TensorSpec]) -> u64 {
    specs.iter().map(TensorSpec::num_elements).sum()
}

struct SpecBuilder {
    format: CheckpointFormat,
    out: Vec<TensorSpec>,
}

impl SpecBuilder {
    fn name(&self, canonical: &str) -> Option<String> {
        match self.format {
            CheckpointFormat::DeepSeek => Some(canonical.to_string()),
            CheckpointFormat::HuggingFace => hf_name(canonical),
        }
    }

    /// A tensor read as stored.
    fn load(&mut self, canonical: &str, shape: &[usize]) {
        self.push(canonical, shape, true, true);
    }

    /// A tensor that is read when present but may be absent (tied `lm_head`).
    fn optional(&mut self, canonical: &str, shape: &[usize]) {
        self.push(canonical, shape, true, false);
    }

    fn push(&mut self, canonical: &str, shape: &[usize], read: bool, required: bool) {
        let Some(name) = self.name(canonical) else {
            return;
        };
        let usage = if read {
            Usage::Load(vec![Placement {
                target: canonical.to_string(),
                rows: None,
                shape: shape.to_vec(),
            }])
        } else {
            Usage::Unused
        };
        self.out.push(TensorSpec {
            name,
            shape: shape.to_vec(),
            usage,
            required,
        });
    }

    /// A tensor inference never reads; skipped if this format does not carry it.
    fn unused(&mut self, canonical: &str, shape: &[usize]) {
        self.push(canonical, shape, false, false);
    }

    fn linear(&mut self, prefix: &str, out: usize, inp: usize, bias: bool) {
        self.load(&format!("{prefix}.weight"), &[out, inp]);
        if bias {
            self.load(&format!("{prefix}.bias"), &[out]);
        }
    }

    fn unused_linear(&mut self, prefix: &str, out: usize, inp: usize) {
        self.unused(&format!("{prefix}.weight"), &[out, inp]);
        self.unused(&format!("{prefix}.bias"), &[out]);
    }

    fn norm(&mut self, prefix: &str, c: usize) {
        self.load(&format!("{prefix}.weight"), &[c]);
        self.load(&format!("{prefix}.bias"), &[c]);
    }

    fn conv(&mut self, prefix: &str, out: usize, inp: usize, k: usize, read: bool) {
        self.push(&format!("{prefix}.weight"), &[out, inp, k, k], read, read);
        self.push(&format!("{prefix}.bias"), &[out], read, read);
    }

    /// SigLIP attention input projection: DeepSeek fuses q|k|v rows into one `qkv` tensor,
    /// transformers stores three. Canonical names are the split ones (`attn.q`, `attn.k`, `attn.v`).
    fn qkv(&mut self, prefix: &str, c: usize) {
        let parts = ["q", "k", "v"];
        match self.format {
            CheckpointFormat::DeepSeek => {
                for (kind, shape) in [("weight", vec![3 * c, c]), ("bias", vec![3 * c])] {
                    let placements = parts
                        .iter()
                        .enumerate()
                        .map(|(i, p)| Placement {
                            target: format!("{prefix}.{p}.{kind}"),
                            rows: Some((i * c, (i + 1) * c)),
                            shape: shape
                                .iter()
                                .enumerate()
                                .map(|(d, &n)| if d == 0 { c } else { n })
                                .collect(),
                        })
                        .collect();
                    self.out.push(TensorSpec {
                        name: format!("{prefix}.qkv.{kind}"),
                        shape,
                        usage: Usage::Load(placements),
                        required: true,
                    });
                }
            }
            CheckpointFormat::HuggingFace => {
                for p in parts {
                    self.linear(&format!("{prefix}.{p}"), c, c, true);
                }
            }
        }
    }

    /// Learned position embedding: `[1, N, C]` in DeepSeek's timm layout, `[N, C]` in transformers'.
    fn pos_embed(&mut self, canonical: &str, n: usize, c: usize) {
        let stored = match self.format {
            CheckpointFormat::DeepSeek => vec![1, n, c],
            CheckpointFormat::HuggingFace => vec![n, c],
        };
        let Some(name) = self.name(canonical) else {
            return;
        };
        self.out.push(TensorSpec {
            name,
            shape: stored,
            usage: Usage::Load(vec![Placement {
                target: canonical.to_string(),
                rows: None,
                shape: vec![n, c],
            }]),
            required: true,
        });
    }
}

fn language(b: &mut SpecBuilder, config: &JanusConfig) {
    let l = &config.language;
    let (h, i, v) = (l.hidden_size, l.intermediate_size, l.vocab_size);
    let (q, kv) = (l.num_heads * l.head_dim, l.num_kv_heads * l.head_dim);
    b.load("language_model.model.embed_tokens.weight", &[v, h]);
    for n in 0..l.num_layers {
        let p = format!("language_model.model.layers.{n}");
        b.load(&format!("{p}.input_layernorm.weight"), &[h]);
        b.linear(&format!("{p}.self_attn.q_proj"), q, h, false);
        b.linear(&format!("{p}.self_attn.k_proj"), kv, h, false);
        b.linear(&format!("{p}.self_attn.v_proj"), kv, h, false);
        b.linear(&format!("{p}.self_attn.o_proj"), h, q, false);
        b.load(&format!("{p}.post_attention_layernorm.weight"), &[h]);
        b.linear(&format!("{p}.mlp.gate_proj"), i, h, false);
        b.linear(&format!("{p}.mlp.up_proj"), i, h, false);
        b.linear(&format!("{p}.mlp.down_proj"), h, i, false);
    }
    b.load("language_model.model.norm.weight", &[h]);
    if l.tie_word_embeddings {
        b.optional("language_model.lm_head.weight", &[v, h]);
    } else {
        b.load("language_model.lm_head.weight", &[v, h]);
    }
}

fn vision(b: &mut SpecBuilder, config: &JanusConfig) {
    let s = &config.vision;
    let (c, m, p) = (s.width, s.mlp_dim, s.patch_size);
    let t = "vision_model.vision_tower";
    b.conv(&format!("{t}.patch_embed.proj"), c, 3, p, true);
    b.pos_embed(&format!("{t}.pos_embed"), s.num_patches(), c);
    for n in 0..s.layers {
        let blk = format!("{t}.blocks.{n}");
        b.norm(&format!("{blk}.norm1"), c);
        b.qkv(&format!("{blk}.attn"), c);
        b.linear(&format!("{blk}.attn.proj"), c, c, true);
        b.norm(&format!("{blk}.norm2"), c);
        b.linear(&format!("{blk}.mlp.fc1"), m, c, true);
        b.linear(&format!("{blk}.mlp.fc2"), c, m, true);
    }
    b.norm(&format!("{t}.norm"), c);
    // timm's attention-pool head: in DeepSeek checkpoints, never executed (janus-spec.md §2.2).
    let a = format!("{t}.attn_pool");
    b.unused(&format!("{a}.latent"), &[1, 1, c]);
    b.unused_linear(&format!("{a}.q"), c, c);
    b.unused_linear(&format!("{a}.kv"), 2 * c, c);
    b.unused_linear(&format!("{a}.proj"), c, c);
    b.unused(&format!("{a}.norm.weight"), &[c]);
    b.unused(&format!("{a}.norm.bias"), &[c]);
    b.unused_linear(&format!("{a}.mlp.fc1"), m, c);
    b.unused_linear(&format!("{a}.mlp.fc2"), c, m);
}

fn projector(b: &mut SpecBuilder, prefix: &str, p: &ProjectorConfig) {
    // DeepSeek's nn.Sequential: Linear at even indices, GELU (no weights) at odd ones.
    b.linear(&format!("{prefix}.layers.0"), p.n_embed, p.input_dim, true);
    for k in 1..p.depth {
        b.linear(
            &format!("{prefix}.layers.{}", 2 * k),
            p.n_embed,
            p.n_embed,
            true,
        );
    }
}

fn generation(b: &mut SpecBuilder, config: &JanusConfig) {
    let q = &config.gen_vision;
    b.load("gen_embed.weight", &[q.codebook_size, q.codebook_embed_dim]);
    projector(b, "gen_aligner", &config.gen_aligner);
    let h = &config.gen_head;
    b.linear(
        "gen_head.output_mlp_projector",
        h.hidden_dim,
        h.input_dim,
        true,
    );
    b.linear("gen_head.vision_head", h.codebook_size, h.hidden_dim, true);
}

/// Size of LlamaGen's `codebook_used` training buffer (fixed, whatever the codebook size).
const CODEBOOK_USED_LEN: usize = 65536;

fn vq(b: &mut SpecBuilder, q: &VqConfig) {
    let g = "gen_vision_model";
    let (z, d, base) = (q.z_channels, q.codebook_embed_dim, q.base_channels);
    let levels = q.ch_mult.len();
    b.load(
        &format!("{g}.quantize.embedding.weight"),
        &[q.codebook_size, d],
    );
    b.unused(&format!("{g}.quantize.codebook_used"), &[CODEBOOK_USED_LEN]);
    b.conv(&format!("{g}.quant_conv"), d, z, 1, false);
    b.conv(&format!("{g}.post_quant_conv"), z, d, 1, true);

    // Decoder: conv_blocks.0 is the lowest resolution (widest) level.
    let dec = format!("{g}.decoder");
    let mut ch = base * q.ch_mult[levels - 1];
    b.conv(&format!("{dec}.conv_in"), ch, z, 3, true);
    res_block(b, &format!("{dec}.mid.0"), ch, ch, true);
    attn_block(b, &format!("{dec}.mid.1"), ch, true);
    res_block(b, &format!("{dec}.mid.2"), ch, ch, true);
    for j in 0..levels {
        let out = base * q.ch_mult[levels - 1 - j];
        let lvl = format!("{dec}.conv_blocks.{j}");
        for r in 0..=q.num_res_blocks {
            res_block(b, &format!("{lvl}.res.{r}"), ch, out, true);
            ch = out;
            if j == 0 {
                attn_block(b, &format!("{lvl}.attn.{r}"), ch, true);
            }
        }
        if j + 1 != levels {
            b.conv(&format!("{lvl}.upsample.conv"), ch, ch, 3, true);
        }
    }
    norm_group(b, &format!("{dec}.norm_out"), ch, true);
    b.conv(&format!("{dec}.conv_out"), q.out_channels, ch, 3, true);

    // Encoder: only in the checkpoint (images are never encoded at inference).
    let enc = format!("{g}.encoder");
    b.conv(&format!("{enc}.conv_in"), base, q.out_channels, 3, false);
    let mut ch = base;
    for i in 0..levels {
        let out = base * q.ch_mult[i];
        let lvl = format!("{enc}.conv_blocks.{i}");
        for r in 0..q.num_res_blocks {
            res_block(b, &format!("{lvl}.res.{r}"), ch, out, false);
            ch = out;
            if i + 1 == levels {
                attn_block(b, &format!("{lvl}.attn.{r}"), ch, false);
            }
        }
        if i + 1 != levels {
            b.conv(&format!("{lvl}.downsample.conv"), ch, ch, 3, false);
        }
    }
    res_block(b, &format!("{enc}.mid.0"), ch, ch, false);
    attn_block(b, &format!("{enc}.mid.1"), ch, false);
    res_block(b, &format!("{enc}.mid.2"), ch, ch, false);
    norm_group(b, &format!("{enc}.norm_out"), ch, false);
    b.conv(&format!("{enc}.conv_out"), z, ch, 3, false);
}

fn norm_group(b: &mut SpecBuilder, prefix: &str, c: usize, read: bool) {
    b.push(&format!("{prefix}.weight"), &[c], read, read);
    b.push(&format!("{prefix}.bias"), &[c], read, read);
}

fn res_block(b: &mut SpecBuilder, p: &str, inp: usize, out: usize, read: bool) {
    norm_group(b, &format!("{p}.norm1"), inp, read);
    b.conv(&format!("{p}.conv1"), out, inp, 3, read);
    norm_group(b, &format!("{p}.norm2"), out, read);
    b.conv(&format!("{p}.conv2"), out, out, 3, read);
    if inp != out {
        b.conv(&format!("{p}.nin_shortcut"), out, inp, 1, read);
    }
}

fn attn_block(b: &mut SpecBuilder, p: &str, c: usize, read: bool) {
    norm_group(b, &format!("{p}.norm"), c, read);
    for n in ["q", "k", "v", "proj_out"] {
        b.conv(&format!("{p}.{n}"), c, c, 1, read);
    }
}

/// transformers' name for a canonical (DeepSeek) tensor name, or `None` where the converter drops
/// the tensor (janus-spec.md §3.4). One rule per line; order matters only where prefixes nest.
pub fn hf_name(canonical: &str) -> Option<String> {
    const RULES: &[(&str, &str)] = &[
        // language model
        ("language_model.model.", "model.language_model."),
        ("language_model.lm_head.", "lm_head."),
        // understanding vision tower
        (
            "vision_model.vision_tower.patch_embed.proj.",
            "model.vision_model.embeddings.patch_embedding.",
        ),
        (
            "vision_model.vision_tower.pos_embed",
            "model.vision_model.embeddings.position_embedding.weight",
        ),
        (
            "vision_model.vision_tower.blocks.",
            "model.vision_model.encoder.layers.",
        ),
        (
            "vision_model.vision_tower.norm.",
            "model.vision_model.post_layernorm.",
        ),
        // projectors, generation head and embedding
        ("aligner.layers.", "model.aligner."),
        ("gen_aligner.layers.", "model.generation_aligner."),
        (
            "gen_head.output_mlp_projector.",
            "model.generation_head.proj_out.",
        ),
        (
            "gen_head.vision_head.",
            "model.generation_head.vision_head.",
        ),
        ("gen_embed.", "model.generation_embeddings."),
        // VQ model
        ("gen_vision_model.", "model.vqmodel."),
    ];
    if canonical.contains(".attn_pool.") || canonical.ends_with("quantize.codebook_used") {
        return None;
    }
    let (from, to) = RULES.iter().find(|(from, _)| canonical.starts_with(from))?;
    let mut name = format!("{to}{}", &canonical[from.len()..]);
    if canonical.starts_with("vision_model.vision_tower.blocks.") {
        name = name
            .replace(".norm1.", ".layer_norm1.")
            .replace(".norm2.", ".layer_norm2.")
            .replace(".attn.proj.", ".self_attn.projection_layer.")
            .replace(".attn.q.", ".self_attn.q_proj.")
            .replace(".attn.k.", ".self_attn.k_proj.")
            .replace(".attn.v.", ".self_attn.v_proj.");
    } else if canonical.starts_with("aligner.") || canonical.starts_with("gen_aligner.") {
        // layers.0 -> fc1; layers.2k -> hidden_layers.(k-1)
        let (head, rest) = name.rsplit_once('.')?;
        let (base, index) = head.rsplit_once('.')?;
        let index: usize = index.parse().ok()?;
        name = if index == 0 {
            format!("{base}.fc1.{rest}")
        } else {
            format!("{base}.hidden_layers.{}.{rest}", index / 2 - 1)
        };
    } else if canonical.starts_with("gen_vision_model.") {
        name = name
            .replace(".decoder.conv_blocks.", ".decoder.up.")
            .replace(".encoder.conv_blocks.", ".encoder.down.")
            .replace(".res.", ".block.")
            .replace(".mid.0.", ".mid.block_1.")
            .replace(".mid.1.", ".mid.attn_1.")
            .replace(".mid.2.", ".mid.block_2.");
    }
    Some(name)
}
