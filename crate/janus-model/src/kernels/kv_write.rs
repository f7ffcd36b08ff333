//! `shaders/kv_write.wgsl`: a decode step's key (rotated) and value written into the KV cache in
//! place (reference: `Rope::apply` and `KvCache::write`).

use burn::backend::wgpu::SourceKernel;
use burn::cubecl::ir::attributes::BufferIOAttr;
use burn::cubecl::server::KernelArguments;
use burn::cubecl::{CubeCount, CubeDim};
use burn::tensor::{DType, Tensor};

use super::launch::{ElemSource, float_handle, params};

const WGSL: &str = include_str!("../../../../shaders/kv_write.wgsl");
const WORKGROUP: u32 = 256;

/// Write `k` (rotated by the one-position tables `cos, sin: [1, D]`) and `v`, both
/// `[B, kv_heads, D]`, at position `pos` of the caches `[B, kv_heads, capacity, D]`, which are
/// modified in place (the caller owns them).
pub fn kv_write(
    k: Tensor<3>,
    v: Tensor<3>,
    (cos, sin): (&Tensor<2>, &Tensor<2>),
    (k_cache, v_cache): (&Tensor<4>, &Tensor<4>),
    pos: usize,
) {
    let [b, h, d] = k.dims();
    let capacity = k_cache.dims()[2];
    let (k, v) = (float_handle(k), float_handle(v));
    let cos = float_handle(cos.clone().cast(DType::F32));
    let sin = float_handle(sin.clone().cast(DType::F32));
    let (kc, vc) = (float_handle(k_cache.clone()), float_handle(v_cache.clone()));
    let client = k.client.clone();
    let total = b * h * d;
    let params = client.create_from_slice(&params(&[total, d, capacity, pos]));
    client.launch(
        Box::new(SourceKernel::new(
            ElemSource {
                wgsl: WGSL,
                elem: k.dtype,
                workgroup: WORKGROUP,
            },
            CubeDim::new_1d(WORKGROUP),
        )),
        // Decode shapes are small (B * kv_heads * D, a few thousand): one grid row suffices.
        CubeCount::Static(total.div_ceil(WORKGROUP as usize) as u32, 1, 1),
        KernelArguments::new()
            .with_buffer_io(k.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_buffer_io(v.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_buffer_io(cos.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_buffer_io(sin.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_buffer_io(kc.handle.clone().binding(), BufferIOAttr::ReadWrite)
            .with_buffer_io(vc.handle.clone().binding(), BufferIOAttr::ReadWrite)
            .with_buffer_io(params.binding(), BufferIOAttr::ReadOnly),
    );
}
