//! The decoder's fused WGSL kernels (`shaders/rms_norm.wgsl`, `add_rms_norm.wgsl`, `rope.wgsl`,
//! `attn_chunk.wgsl`, `swiglu.wgsl`, `rope_kv.wgsl`, and the flat products' epilogues), called
//! by `llama` when its weights live on wgpu with the kernels built in. Each replaces a chain of
//! generic kernels whose launches, not their arithmetic, bound a decode step; each is tested
//! against that chain (`janus_conformance::kernels`).

use burn::tensor::{Int, Tensor};

use super::cursor::Cursor;
use super::nn::{Linear, RmsNorm};

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
        crate::kernels::rope_kv::rope_kv(qkv, heads, caches, &cursor.state)
    }
    #[cfg(not(feature = "wgpu-kernels"))]
    {
        let _ = (qkv, heads, caches, cursor);
        unreachable!("fused kernels are only enabled with wgpu-kernels")
    }
}

/// Whether decode runs each RMSNorm inside the product after it and each residual connection
/// inside the product before it (the flat matrix-vector layout, GPUs; see
/// [`crate::kernels::qmatvec::set_fusing`]).
pub fn fusing() -> bool {
    #[cfg(feature = "wgpu-kernels")]
    {
        crate::kernels::qmatvec::fusing()
    }
    #[cfg(not(feature = "wgpu-kernels"))]
    {
        false
    }
}

/// Decode's joint q/k/v product of `rms_norm(h)` (`h: [B, H]`, the residual stream) with the
/// rotation and cache write inside it: the rotated queries `[B, heads, D]`, the key and value
/// written into the caches at the cursor's position. One launch where `qkv` is packed for the
/// kernels and the layout fuses the rotation
/// ([`crate::kernels::qmatvec::rope_fusing`]); None otherwise, and the caller runs the product
/// ([`linear_normed`]) and [`rope_kv`] apart.
pub fn qkv_rope(
    qkv: &Linear,
    h: &Tensor<2>,
    norm: &RmsNorm,
    heads: (usize, usize, usize),
    caches: (&Tensor<4>, &Tensor<4>),
    cursor: &Cursor,
) -> Option<Tensor<3>> {
    #[cfg(feature = "wgpu-kernels")]
    {
        use crate::kernels::qmatvec::{Fused, RopeKv, rope_fusing};
        let q = qkv.weight.single_quant().filter(|_| rope_fusing())?;
        let fused = Fused {
            norm: Some((&norm.weight, norm.eps)),
            rope: Some(RopeKv {
                heads,
                caches,
                state: &cursor.state,
            }),
            ..Fused::default()
        };
        let out = q.matvec_fused(h.clone(), fused)?;
        let (n, _, d) = heads;
        Some(out.reshape([h.dims()[0], n, d]))
    }
    #[cfg(not(feature = "wgpu-kernels"))]
    {
        let _ = (qkv, h, norm, heads, caches, cursor);
        None
    }
}

/// `rms_norm(x) Wᵀ` for decode, `x: [B, H]` the residual stream: one launch where `linear` is
/// packed for the kernels and the layout fuses ([`fusing`]), else the norm's kernel, then the
/// product.
pub fn linear_normed(linear: &Linear, x: Tensor<2>, norm: &RmsNorm) -> Tensor<2> {
    #[cfg(feature = "wgpu-kernels")]
    if let Some(y) = linear.weight.single_quant().and_then(|q| {
        let fused = crate::kernels::qmatvec::Fused {
            norm: Some((&norm.weight, norm.eps)),
            ..Default::default()
        };
        q.matvec_fused(x.clone(), fused)
    }) {
        return y;
    }
    linear.forward(rms_norm(x, &norm.weight, norm.eps))
}

/// `r + x Wᵀ` for decode (`r`: the residual stream, `[B, out]`): one launch where `linear` is
/// packed for the kernels and the layout fuses ([`fusing`]), else the product, then the sum.
pub fn linear_residual(linear: &Linear, x: Tensor<2>, r: Tensor<2>) -> Tensor<2> {
    #[cfg(feature = "wgpu-kernels")]
    if let Some(y) = linear.weight.single_quant().and_then(|q| {
        let fused = crate::kernels::qmatvec::Fused {
            residual: Some(r.clone()),
            ..Default::default()
        };
        q.matvec_fused(x.clone(), fused)
    }) {
        return y;
    }
    let y = linear.forward(x).cast(r.dtype());
    r + y
}
