//! The decoder's fused WGSL kernels (`shaders/rms_norm.wgsl`, `add_rms_norm.wgsl`, `rope.wgsl`,
//! `attn_chunk.wgsl`, `swiglu.wgsl`, `rope_kv.wgsl`), called by `llama` when its weights live on
//! wgpu with the kernels built in. Each replaces a chain of generic kernels whose launches, not
//! their arithmetic, bound a decode step; each is tested against that chain
//! (`janus_conformance::kernels`).

use burn::tensor::{Int, Tensor};

use super::cursor::Cursor;

/// RMSNorm of `x` over its last dimension (see [`super::nn::RmsNorm`]).
pub fn rms_norm<const D: usize>(x: Tensor<D>, weight: &Tensor<1>, eps: f64) -> Tensor<D> {
    #[cfg(feature = "wgpu-kernels")]
    {
        crate::kernels::rms_norm::rms_norm(x, weight, eps)
    }
    #[cfg(not(feature = "wgpu-kernels"))]
    {
        let _ = (x, weight, eps);
        unreachable!("fused kernels are only enabled with wgpu-kernels")
    }
}

/// `(h + a, RMSNorm(h + a))`: a residual connection and the norm after it in one launch.
pub fn add_rms_norm<const D: usize>(
    h: Tensor<D>,
    a: Tensor<D>,
    weight: &Tensor<1>,
    eps: f64,
) -> (Tensor<D>, Tensor<D>) {
    #[cfg(feature = "wgpu-kernels")]
    {
        crate::kernels::rms_norm::add_rms_norm(h, a, weight, eps)
    }
    #[cfg(not(feature = "wgpu-kernels"))]
    {
        let _ = (h, a, weight, eps);
        unreachable!("fused kernels are only enabled with wgpu-kernels")
    }
}

/// Rotary embedding of `x: [B, T, H, D]` by tables `[T, D]` (see [`super::rope::Rope`]).
pub fn rope(x: Tensor<4>, cos: &Tensor<2>, sin: &Tensor<2>) -> Tensor<4> {
    #[cfg(feature = "wgpu-kernels")]
    {
        crate::kernels::rope::rope(x, cos, sin)
    }
    #[cfg(not(feature = "wgpu-kernels"))]
    {
        let _ = (x, cos, sin);
        unreachable!("fused kernels are only enabled with wgpu-kernels")
    }
}

/// One position's attention, `q: [B, heads, D]`, over the first `state[0] + 1` cached positions
/// of `k, v: [B, kv_heads, capacity, D]` (see [`super::cursor::Cursor`]).
pub fn attention_decode(
    q: Tensor<3>,
    k: &Tensor<4>,
    v: &Tensor<4>,
    state: &Tensor<1, Int>,
    scale: f32,
) -> Tensor<3> {
    #[cfg(feature = "wgpu-kernels")]
    {
        crate::kernels::attention::attention_decode(q, k, v, state, scale)
    }
    #[cfg(not(feature = "wgpu-kernels"))]
    {
        let _ = (q, k, v, state, scale);
        unreachable!("fused kernels are only enabled with wgpu-kernels")
    }
}

/// `silu(gate) * up`.
pub fn swiglu<const D: usize>(gate: Tensor<D>, up: Tensor<D>) -> Tensor<D> {
    #[cfg(feature = "wgpu-kernels")]
    {
        crate::kernels::swiglu::swiglu(gate, up)
    }
    #[cfg(not(feature = "wgpu-kernels"))]
    {
        let _ = (gate, up);
        unreachable!("fused kernels are only enabled with wgpu-kernels")
    }
}

/// A decode step's rotation and cache write at the cursor's position, from the joint q/k/v
/// product `qkv: [B, (heads + 2 kv_heads) * D]`: the queries rotated into `[B, heads, D]`
/// (returned), the key rotated and the value written into the caches `[B, kv_heads, capacity,
/// D]` in place.
pub fn rope_kv(
    qkv: Tensor<2>,
    heads: (usize, usize, usize),
    caches: (&Tensor<4>, &Tensor<4>),
    cursor: &Cursor,
) -> Tensor<3> {
    #[cfg(feature = "wgpu-kernels")]
    {
        crate::kernels::rope_kv::rope_kv(qkv, heads, &cursor.tables, caches, &cursor.state)
    }
    #[cfg(not(feature = "wgpu-kernels"))]
    {
        let _ = (qkv, heads, caches, cursor);
        unreachable!("fused kernels are only enabled with wgpu-kernels")
    }
}
