//! The decoder's fused WGSL kernels (`shaders/rms_norm.wgsl`, `rope.wgsl`, `attn_decode.wgsl`,
//! `swiglu.wgsl`, `kv_write.wgsl`),
//! called by `llama` when its weights live on wgpu with the kernels built in. Each replaces a
//! chain of generic kernels whose launches, not their arithmetic, bound a decode step; each is
//! tested against that chain (`janus_conformance::kernels`).

use burn::tensor::Tensor;

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

/// One position's attention, `q: [B, heads, D]`, over `len` cached positions of
/// `k, v: [B, kv_heads, capacity, D]`.
pub fn attention_decode(
    q: Tensor<3>,
    k: &Tensor<4>,
    v: &Tensor<4>,
    len: usize,
    scale: f32,
) -> Tensor<3> {
    #[cfg(feature = "wgpu-kernels")]
    {
        crate::kernels::attention::attention_decode(q, k, v, len, scale)
    }
    #[cfg(not(feature = "wgpu-kernels"))]
    {
        let _ = (q, k, v, len, scale);
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

/// A decode step's key (rotated by `cos, sin: [1, D]`) and value, `[B, kv_heads, D]`, written in
/// place at `pos` of the caches `[B, kv_heads, capacity, D]`.
pub fn kv_write(
    k: Tensor<3>,
    v: Tensor<3>,
    tables: (&Tensor<2>, &Tensor<2>),
    caches: (&Tensor<4>, &Tensor<4>),
    pos: usize,
) {
    #[cfg(feature = "wgpu-kernels")]
    {
        crate::kernels::kv_write::kv_write(k, v, tables, caches, pos)
    }
    #[cfg(not(feature = "wgpu-kernels"))]
    {
        let _ = (k, v, tables, caches, pos);
        unreachable!("fused kernels are only enabled with wgpu-kernels")
    }
}
