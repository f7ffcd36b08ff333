//! `shaders/rope_kv.wgsl`: a decode step's rotary embedding and KV-cache write in one launch, at
//! the position the decode state holds on the device (reference: `Rope::apply` and
//! `KvCache::write`).

use burn::backend::Cube;
use burn::cubecl::CubeCount;
use burn::cubecl::ir::attributes::BufferIOAttr;
use burn::cubecl::server::KernelArguments;
use burn::tensor::{Int, Tensor};

use super::launch::{float_handle, int_handle, launch_elem, params};

const WGSL: &str = include_str!("../../../../shaders/rope_kv.wgsl");
const WORKGROUP: u32 = 256;

/// Rotate `q: [B, heads, D]` (in place; returned) and `k: [B, kv_heads, D]` by row `state[0]`
/// of `tables: [capacity, 2, D]` (f32: cos row, sin row), and write the rotated key and `v`
/// at that position of the caches `[B, kv_heads, capacity, D]` (modified in place; the caller
/// owns them).
pub fn rope_kv(
    q: Tensor<3>,
    k: Tensor<3>,
    v: Tensor<3>,
    tables: &Tensor<3>,
    (k_cache, v_cache): (&Tensor<4>, &Tensor<4>),
    state: &Tensor<1, Int>,
) -> Tensor<3> {
    let [b, heads, d] = q.dims();
    let kv_heads = k.dims()[1];
    let capacity = k_cache.dims()[2];
    let q = float_handle(q);
    // Rotated in place: a buffer another tensor shares is copied first (a decode step's
    // queries, fresh from their product, never are).
    let q = if q.can_mut() { q } else { q.copy() };
    let (k, v) = (float_handle(k), float_handle(v));
    let tables = float_handle(tables.clone());
    let (kc, vc) = (float_handle(k_cache.clone()), float_handle(v_cache.clone()));
    let state = int_handle(state);
    let client = q.client.clone();
    let (q_pairs, k_pairs) = (b * heads * d / 2, b * kv_heads * d / 2);
    let params = params(&[q_pairs, k_pairs, d, capacity]);
    launch_elem(
        &client,
        (WGSL, q.dtype, WORKGROUP),
        // Decode shapes are small (B * heads * D / 2, a few thousand): one grid row suffices.
        CubeCount::Static(
            q_pairs.max(k_pairs).div_ceil(WORKGROUP as usize) as u32,
            1,
            1,
        ),
        KernelArguments::new()
            .with_buffer_io(q.handle.clone().binding(), BufferIOAttr::ReadWrite)
            .with_buffer_io(k.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_buffer_io(v.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_buffer_io(tables.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_buffer_io(kc.handle.clone().binding(), BufferIOAttr::ReadWrite)
            .with_buffer_io(vc.handle.clone().binding(), BufferIOAttr::ReadWrite)
            .with_buffer_io(state.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_info(params),
    );
    Tensor::<3>::from_primitive::<Cube>(q)
}
