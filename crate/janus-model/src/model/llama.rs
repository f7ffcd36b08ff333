//! The LLaMA decoder (DeepSeek-LLM): pre-norm blocks of causal self-attention with RoPE and a
//! SwiGLU MLP, RMSNorm, no biases (janus-spec.md §2.1). Runs on input *embeddings* so text tokens,
//! SigLIP features and generated image-token embeddings enter the same way. On wgpu the norms,
//! the rotation, the decode attention and the SwiGLU gate run as fused WGSL kernels (`fused`);
//! in the flat matrix-vector layout (GPUs) decode runs its norms and residual connections
//! inside the products (`Llama::decode_fused`).

use burn::tensor::{Bool, DType, Device, Tensor, TensorData};

use super::cursor::Cursor;
use super::fused;
use super::kv_cache::KvCache;
use super::nn::{Embedding, Linear, RmsNorm, RowBlocks, silu, softmax_f32};
use super::rope::Rope;
use crate::config::LlamaConfig;
use crate::error::WeightsError;
use crate::quant::device::MATVEC_MAX_ROWS;
use crate::weights::TensorStore;

/// Multi-head (or grouped-query) causal self-attention.
#[derive(Clone, Debug)]
pub struct Attention {
    /// `q_proj`, `k_proj` and `v_proj` one under another, `[(heads + 2 kv_heads) * head_dim,
    /// hidden]`: one product (one launch in decode) whose output is each row's queries, keys,
    /// then values (`RowBlocks::stack`).
    qkv: Linear,
    o_proj: Linear,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
}

impl Attention {
    fn load(store: &mut TensorStore, p: &str, c: &LlamaConfig) -> Result<Self, WeightsError> {
        let parts = ["q_proj", "k_proj", "v_proj"]
            .iter()
            .map(|n| RowBlocks::load(store, &format!("{p}.{n}.weight")))
            .collect::<Result<Vec<_>, _>>()?;
        let max_bytes = store.max_tensor_bytes();
        Ok(Self {
            qkv: Linear {
                weight: RowBlocks::stack(parts, max_bytes)?,
                bias: None,
            },
            o_proj: Linear::load(store, &format!("{p}.o_proj"), false)?,
            heads: c.num_heads,
            kv_heads: c.num_kv_heads,
            head_dim: c.head_dim,
        })
    }

    /// One decode position, `x: [B, 1, H]`, at the cursor's position of caches that already
    /// hold every earlier position: the rotation, the cache write and the attention run as
    /// fused kernels reading the position from the device, so the launches are the same at
    /// every step (`kernels::graph`). Returns `[B, 1, H]`; `cache` is written in place, its
    /// host-side length untouched.
    fn decode(&self, x: Tensor<3>, cache: &KvCache, cursor: &Cursor) -> Tensor<3> {
        let [b, _, _] = x.dims();
        let qkv = self
            .qkv
            .forward(x)
            .reshape([b, (self.heads + 2 * self.kv_heads) * self.head_dim]);
        let caches = Self::caches(cache);
        let q = fused::rope_kv(qkv, self.dims(), caches, cursor);
        let out = Self::attend(q, caches, cursor);
        self.o_proj
            .forward(out.reshape([b, 1, self.heads * self.head_dim]))
    }

    /// [`Self::decode`] up to `o_proj`'s input `[B, heads * D]`, from the residual stream `h:
    /// [B, H]` and the input norm: the joint product with the norm inside it, and the rotation
    /// and cache write too where the layout fuses them (`fused::qkv_rope`; else `rope_kv`), then
    /// the attention.
    fn decode_normed(
        &self,
        h: Tensor<2>,
        norm: &RmsNorm,
        cache: &KvCache,
        cursor: &Cursor,
    ) -> Tensor<2> {
        let caches = Self::caches(cache);
        let q = fused::qkv_rope(&self.qkv, &h, norm, self.dims(), caches, cursor).unwrap_or_else(
            || {
                let qkv = fused::linear_normed(&self.qkv, h, norm);
                fused::rope_kv(qkv, self.dims(), caches, cursor)
            },
        );
        Self::attend(q, caches, cursor)
    }

    /// The rotated queries' attention over the caches (this position's key and value already
    /// written): `q: [B, heads, D]` -> `[B, heads * D]`, `o_proj`'s input.
    fn attend(q: Tensor<3>, (kc, vc): (&Tensor<4>, &Tensor<4>), cursor: &Cursor) -> Tensor<2> {
        let [b, nh, hd] = q.dims();
        let scale = (hd as f64).powf(-0.5) as f32;
        fused::attention_decode(q, kc, vc, &cursor.state, scale).reshape([b, nh * hd])
    }

    /// Query heads, key/value heads, head dimension.
    fn dims(&self) -> (usize, usize, usize) {
        (self.heads, self.kv_heads, self.head_dim)
    }

    fn caches(cache: &KvCache) -> (&Tensor<4>, &Tensor<4>) {
        cache
            .buffers()
            .expect("decode follows a prefill, which allocates the caches")
    }

    /// `x: [B, T, H]` at positions `cache.len() ..`; returns `[B, T, H]`. With `kernels`, the
    /// rotation runs fused.
    fn forward(
        &self,
        x: Tensor<3>,
        rope: (&Tensor<2>, &Tensor<2>),
        mask: Option<&Tensor<2, Bool>>,
        cache: &mut KvCache,
        kernels: bool,
    ) -> Tensor<3> {
        let [b, t, _] = x.dims();
        let (nh, nkv, hd) = (self.heads, self.kv_heads, self.head_dim);
        // [B, T, heads, head_dim] from the joint product's queries, keys, then values.
        let qkv = self.qkv.forward(x);
        let part = |start: usize, heads: usize| {
            qkv.clone()
                .narrow(2, start * hd, heads * hd)
                .reshape([b, t, heads, hd])
        };
        let (q, k, v) = (part(0, nh), part(nh, nkv), part(nh + nkv, nkv));
        // [B, heads, T, head_dim]
        let (q, k) = if kernels {
            (
                fused::rope(q, rope.0, rope.1).swap_dims(1, 2),
                fused::rope(k, rope.0, rope.1).swap_dims(1, 2),
            )
        } else {
            (
                Rope::apply(q.swap_dims(1, 2), rope.0, rope.1),
                Rope::apply(k.swap_dims(1, 2), rope.0, rope.1),
            )
        };
        let v = v.swap_dims(1, 2);
        // [B, kv_heads, S, head_dim], S = all positions so far
        let (k, v) = cache.append(k, v);
        let s = k.dims()[2];
        let (k, v) = if nkv == nh {
            (k, v)
        } else {
            let rep = nh / nkv;
            let expand = |x: Tensor<4>| {
                x.unsqueeze_dim::<5>(2)
                    .expand([b, nkv, rep, s, hd])
                    .reshape([b, nh, s, hd])
            };
            (expand(k), expand(v))
        };
        let dtype = q.dtype();
        let scale = (hd as f64).powf(-0.5);
        // [B, heads, T, S], in f32
        let mut scores = q
            .cast(DType::F32)
            .matmul(k.cast(DType::F32).swap_dims(2, 3))
            .mul_scalar(scale);
        if let Some(mask) = mask {
            let mask = mask.clone().reshape([1, 1, t, s]).expand([b, nh, t, s]);
            scores = scores.mask_fill(mask, f32::NEG_INFINITY);
        }
        let probs = softmax_f32(scores, 3).cast(dtype);
        let out = probs.matmul(v).swap_dims(1, 2).reshape([b, t, nh * hd]);
        self.o_proj.forward(out)
    }
}

/// SwiGLU: `down(silu(gate x) * up x)`.
#[derive(Clone, Debug)]
pub struct Mlp {
    gate: Linear,
    up: Linear,
    down: Linear,
}

impl Mlp {
    fn load(store: &mut TensorStore, p: &str) -> Result<Self, WeightsError> {
        Ok(Self {
            gate: Linear::load(store, &format!("{p}.gate_proj"), false)?,
            up: Linear::load(store, &format!("{p}.up_proj"), false)?,
            down: Linear::load(store, &format!("{p}.down_proj"), false)?,
        })
    }

    fn forward(&self, x: Tensor<3>, kernels: bool) -> Tensor<3> {
        // Decode with packed weights: both products and the gate in one kernel.
        if kernels
            && let (Some(g), Some(u)) = (
                self.gate.weight.single_quant(),
                self.up.weight.single_quant(),
            )
        {
            let [b, t, cols] = x.dims();
            if let Some(h) = g.swiglu_with(u, &x.clone().reshape([b * t, cols]), None) {
                return self.down.forward(h.reshape([b, t, g.rows]));
            }
        }
        let (gate, up) = (self.gate.forward(x.clone()), self.up.forward(x));
        let h = if kernels {
            fused::swiglu(gate, up)
        } else {
            silu(gate) * up
        };
        self.down.forward(h)
    }

    /// Decode's MLP block from the residual stream `h: [B, H]`: `h + down(swiglu(rms_norm(h)))`,
    /// the norm inside the gate and up kernel and the residual connection inside down's where
    /// the layout fuses them ([`fused::fusing`]); each apart otherwise.
    fn decode_fused(&self, h: Tensor<2>, norm: &RmsNorm) -> Tensor<2> {
        let mid = match (
            self.gate.weight.single_quant(),
            self.up.weight.single_quant(),
        ) {
            (Some(g), Some(u)) => g.swiglu_with(u, &h, Some((&norm.weight, norm.eps))),
            _ => None,
        };
        let mid = mid.unwrap_or_else(|| {
            let x = fused::rms_norm(h.clone(), &norm.weight, norm.eps);
            fused::swiglu(self.gate.forward(x.clone()), self.up.forward(x))
        });
        fused::linear_residual(&self.down, mid, h)
    }
}

#[derive(Clone, Debug)]
pub struct DecoderLayer {
    input_norm: RmsNorm,
    attn: Attention,
    post_norm: RmsNorm,
    mlp: Mlp,
}

/// The most bytes a prefill's attention scores (`[B, heads, rows, S]`, f32) take at once: a
/// longer prompt runs through the layers a chunk of query rows at a time ([`prefill_rows`]).
/// Half of WebGPU's smallest storage binding limit (128 MiB), so that any device binds them and
/// the softmax's copies beside them stay small. Janus-1.3B (16 heads) runs a 1,024-position
/// prompt whole, and one of 4,096 positions in chunks of 256 rows, where whole its scores would
/// take 1 GiB.
pub const PREFILL_SCORE_BYTES: u64 = 64 << 20;

/// Query rows a prefill chunk may hold: as many as keep `[batch, heads, rows, positions]` f32
/// scores within `limit` bytes, and at least one.
pub fn prefill_rows(batch: usize, heads: usize, positions: usize, limit: u64) -> usize {
    let per_row = (batch * heads * positions * 4).max(1) as u64;
    ((limit / per_row) as usize).max(1)
}

/// The decoder stack with its embedding table and final norm (the heads live elsewhere).
#[derive(Clone, Debug)]
pub struct Llama {
    pub embed: Embedding,
    layers: Vec<DecoderLayer>,
    norm: RmsNorm,
    rope: Rope,
    config: LlamaConfig,
    /// Use the fused WGSL kernels (norms, rotation, decode attention).
    kernels: bool,
    /// The most bytes a prefill chunk's attention scores take: [`PREFILL_SCORE_BYTES`], or the
    /// device's largest tensor where that is smaller.
    score_bytes: u64,
}

impl Llama {
    pub fn load(store: &mut TensorStore, c: &LlamaConfig) -> Result<Self, WeightsError> {
        let root = "language_model.model";
        let mut layers = Vec::with_capacity(c.num_layers);
        for i in 0..c.num_layers {
            let p = format!("{root}.layers.{i}");
            layers.push(DecoderLayer {
                input_norm: RmsNorm::load(
                    store,
                    &format!("{p}.input_layernorm.weight"),
                    c.rms_norm_eps,
                )?,
                attn: Attention::load(store, &format!("{p}.self_attn"), c)?,
                post_norm: RmsNorm::load(
                    store,
                    &format!("{p}.post_attention_layernorm.weight"),
                    c.rms_norm_eps,
                )?,
                mlp: Mlp::load(store, &format!("{p}.mlp"))?,
            });
        }
        Ok(Self {
            embed: Embedding::load(store, &format!("{root}.embed_tokens.weight"))?,
            layers,
            norm: RmsNorm::load(store, &format!("{root}.norm.weight"), c.rms_norm_eps)?,
            rope: Rope::new(c.head_dim, c.rope_theta),
            config: c.clone(),
            kernels: crate::quant::device::kernel_available(store.device()),
            score_bytes: PREFILL_SCORE_BYTES.min(store.max_tensor_bytes()),
        })
    }

    /// Use the fused kernels where they run (the default there), or the generic ops (tests
    /// compare the two on one device).
    pub fn set_kernels(&mut self, on: bool) {
        self.kernels = on && crate::quant::device::kernel_available(&self.embed_device());
    }

    fn embed_device(&self) -> Device {
        self.norm.weight.device()
    }

    pub fn config(&self) -> &LlamaConfig {
        &self.config
    }

    /// One empty cache per layer.
    pub fn new_cache(&self, capacity_hint: usize) -> Vec<KvCache> {
        (0..self.layers.len())
            .map(|_| KvCache::new(capacity_hint))
            .collect()
    }

    /// The most bytes a prefill chunk's attention scores take ([`PREFILL_SCORE_BYTES`], or the
    /// device's largest tensor where smaller).
    pub fn score_bytes(&self) -> u64 {
        self.score_bytes
    }

    /// Bound each prefill pass's attention scores to `bytes` (at least 1), as a device with a
    /// smaller binding limit does: prompts then run in more, shorter passes (tests use it to
    /// make a short prompt run in several).
    pub fn set_score_bytes(&mut self, bytes: u64) {
        self.score_bytes = bytes.max(1);
    }

    /// Query rows of one prefill pass of `batch` sequences whose last position is
    /// `positions - 1` ([`prefill_rows`] for this model's heads and bound).
    pub fn rows_per_pass(&self, batch: usize, positions: usize) -> usize {
        prefill_rows(batch, self.config.num_heads, positions, self.score_bytes)
    }

    /// The fused kernels run here (wgpu with the kernels built, not switched off).
    pub fn kernels(&self) -> bool {
        self.kernels
    }

    /// A decode cursor (see [`Self::decode`]).
    pub fn cursor(&self) -> Cursor {
        Cursor::new(&self.rope, &self.embed_device())
    }

    /// One decode step, `x: [B, 1, H]` (embeddings at the cursor's position), through every
    /// layer and the final RMSNorm with the fused decode kernels (only where [`Self::kernels`]
    /// holds); returns `[B, 1, H]`. The caches, filled up to that position by earlier steps,
    /// are written in place and their host-side lengths left as they are: the cursor counts.
    pub fn decode(&self, x: Tensor<3>, caches: &[KvCache], cursor: &Cursor) -> Tensor<3> {
        if fused::fusing() && x.dims()[0] <= MATVEC_MAX_ROWS && self.packed() {
            return self.decode_fused(x, caches, cursor);
        }
        // Each residual connection runs with the RMSNorm after it as one kernel
        // (fused::add_rms_norm): `h` is the residual stream, `normed` the next block's input.
        // Two launches fewer per layer.
        let add_norm =
            |h: Tensor<3>, a: Tensor<3>, n: &RmsNorm| fused::add_rms_norm(h, a, &n.weight, n.eps);
        let first = self.layers.first().map_or(&self.norm, |l| &l.input_norm);
        let mut normed = fused::rms_norm(x.clone(), &first.weight, first.eps);
        let mut h = x;
        for (i, (layer, cache)) in self.layers.iter().zip(caches).enumerate() {
            let a = layer.attn.decode(normed, cache, cursor);
            let (after_attn, mlp_in) = add_norm(h, a, &layer.post_norm);
            let m = layer.mlp.forward(mlp_in, true);
            // The next layer's input norm, or after the last layer the final one.
            let next = self.layers.get(i + 1).map_or(&self.norm, |l| &l.input_norm);
            (h, normed) = add_norm(after_attn, m, next);
        }
        normed
    }

    /// Every matrix of every layer is packed for the kernels (quantised weights on wgpu), so
    /// [`Self::decode_fused`] fuses every norm and residual connection (with the batch within
    /// the kernels' rows). Otherwise it would run each apart, two launches more per layer than
    /// [`Self::decode`].
    fn packed(&self) -> bool {
        let packed = |l: &Linear| l.weight.single_quant().is_some_and(|q| q.uses_kernel());
        self.layers.iter().all(|l| {
            [
                &l.attn.qkv,
                &l.attn.o_proj,
                &l.mlp.gate,
                &l.mlp.up,
                &l.mlp.down,
            ]
            .into_iter()
            .all(packed)
        })
    }

    /// [`Self::decode`] with each RMSNorm inside the product after it and each residual
    /// connection inside the product before it (the flat layout, [`fused::fusing`]): per layer
    /// the joint q/k/v product (with the input norm, and the rotation and cache write unless
    /// `JANUS_FUSE_ROPE=0`), the attention (two launches), `o_proj` (with the residual
    /// connection), the gate and up pair (with the post-attention norm) and `down` (with the
    /// residual connection): six launches, where [`Self::decode`] takes nine.
    fn decode_fused(&self, x: Tensor<3>, caches: &[KvCache], cursor: &Cursor) -> Tensor<3> {
        let [b, _, width] = x.dims();
        // The residual stream, [B, H].
        let mut h = x.reshape([b, width]);
        for (layer, cache) in self.layers.iter().zip(caches) {
            let attn = &layer.attn;
            let out = attn.decode_normed(h.clone(), &layer.input_norm, cache, cursor);
            h = fused::linear_residual(&attn.o_proj, out, h);
            h = layer.mlp.decode_fused(h, &layer.post_norm);
        }
        fused::rms_norm(h, &self.norm.weight, self.norm.eps).reshape([b, 1, width])
    }

    /// Run `x: [B, T, H]` (embeddings at positions `cache.len() ..`) through every layer and the
    /// final RMSNorm; returns `[B, T, H]` and extends the caches. A long `x` runs in chunks of
    /// query rows whose attention scores stay within the model's bound ([`prefill_rows`]).
    pub fn forward(&self, x: Tensor<3>, caches: &mut [KvCache]) -> Tensor<3> {
        let [b, t, _] = x.dims();
        let start = caches.first().map_or(0, KvCache::len);
        let rows = self.rows_per_pass(b, start + t);
        self.forward_in_chunks(x, caches, rows)
    }

    /// [`Self::forward`], `rows` query rows at a time: each chunk attends to the caches the ones
    /// before it filled, which is the same arithmetic as one pass (tests compare them).
    pub fn forward_in_chunks(
        &self,
        x: Tensor<3>,
        caches: &mut [KvCache],
        rows: usize,
    ) -> Tensor<3> {
        let t = x.dims()[1];
        let rows = rows.max(1);
        if t <= rows {
            return self.forward_rows(x, caches);
        }
        let parts = (0..t)
            .step_by(rows)
            .map(|at| self.forward_rows(x.clone().narrow(1, at, rows.min(t - at)), caches))
            .collect();
        Tensor::cat(parts, 1)
    }

    /// One pass of `x: [B, T, H]` through every layer: `[B, heads, T, S]` attention scores.
    fn forward_rows(&self, x: Tensor<3>, caches: &mut [KvCache]) -> Tensor<3> {
        let [_, t, _] = x.dims();
        let start = caches.first().map_or(0, KvCache::len);
        let device = x.device();
        let (cos, sin) = self.rope.tables(start, t, &device);
        let mask = (t > 1).then(|| causal_mask(start, t, &device));
        let norm = |n: &RmsNorm, x: Tensor<3>| {
            if self.kernels {
                fused::rms_norm(x, &n.weight, n.eps)
            } else {
                n.forward(x)
            }
        };
        let mut h = x;
        for (layer, cache) in self.layers.iter().zip(caches.iter_mut()) {
            let a = layer.attn.forward(
                norm(&layer.input_norm, h.clone()),
                (&cos, &sin),
                mask.as_ref(),
                cache,
                self.kernels,
            );
            h = h + a;
            let m = layer
                .mlp
                .forward(norm(&layer.post_norm, h.clone()), self.kernels);
            h = h + m;
        }
        norm(&self.norm, h)
    }
}

/// `[T, start + T]`, true where query `i` (position `start + i`) must not see key `j`.
fn causal_mask(start: usize, t: usize, device: &Device) -> Tensor<2, Bool> {
    let s = start + t;
    let values: Vec<bool> = (0..t)
        .flat_map(|i| (0..s).map(move |j| j > start + i))
        .collect();
    Tensor::from_data(TensorData::new(values, [t, s]), device)
}
