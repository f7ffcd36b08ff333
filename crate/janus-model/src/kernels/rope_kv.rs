//! `shaders/rope_kv.wgsl`: a decode step's rotary embedding and KV-cache write in one launch, at
//! the position the decode state holds on the device (reference: `Rope::apply` and
//! `KvCache::write`). The flat layout (GPUs) runs the same step inside the q/k/v product
//! instead (`qmatvec::Fused::rope`).

use burn::backend::Cube;
use burn::cubecl::CubeCount;
use burn::cubecl::ir::attributes::BufferIOAttr;
use burn::cubecl::server::KernelArguments;
use burn::tensor::{Int, Tensor};

use super::launch::{empty_like, float_handle, int_handle, launch_elem, params};
use crate::model::cursor::STATE_HEADER;

const WGSL: &str = include_str!("../../../../shaders/rope_kv.wgsl");
const WORKGROUP: u32 = 256;

/// From `qkv: [B, (heads + 2 kv_heads) * D]` (each batch row's queries, keys, then values: the
/// joint q/k/v product), rotate the queries by the cos and sin rows the decode state carries
/// (`model::cursor`: position `state[0]`) into a new `[B, heads, D]` (returned), and write the
/// rotated key and the value at that position of the caches `[B, kv_heads, capacity, D]`
/// (modified in place; the caller owns them).
pub fn rope_kv(
    qkv: Tensor<2>,
    (heads, kv_heads, d): (usize, usize, usize),
    (k_cache, v_cache): (&Tensor<4>, &Tensor<4>),
    state: &Tensor<1, Int>,
) -> Tensor<3> {
    let [b, width] = qkv.dims();
    assert_eq!(
        width,
        (heads + 2 * kv_heads) * d,
        "rope_kv: a row holds the queries, keys and values"
    );
    assert!(
        state.dims()[0] >= STATE_HEADER + 2 * d,
        "rope_kv: the decode state holds the position's cos and sin rows"
    );
    let capacity = k_cache.dims()[2];
    let qkv = float_handle(qkv);
    let q = empty_like(&qkv, vec![b, heads, d], qkv.dtype);
    let (kc, vc) = (float_handle(k_cache.clone()), float_handle(v_cache.clone()));
    let state = int_handle(state);
    let client = q.client.clone();
    let (q_pairs, k_pairs) = (b * heads * d / 2, b * kv_heads * d / 2);
    let params = params(&[q_pairs, k_pairs, d, capacity, heads, kv_heads]);
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
            .with_buffer_io(qkv.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_buffer_io(q.handle.clone().binding(), BufferIOAttr::ReadWrite)
            .with_buffer_io(kc.handle.clone().binding(), BufferIOAttr::ReadWrite)
            .with_buffer_io(vc.handle.clone().binding(), BufferIOAttr::ReadWrite)
            .with_buffer_io(state.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_info(params),
    );
    Tensor::<3>::from_primitive::<Cube>(q)
}
