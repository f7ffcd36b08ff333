//! `shaders/attn_decode.wgsl`: one new position's attention over the KV cache in one launch
//! (reference: the generic path of `model::llama::Attention`).

use burn::backend::Cube;
use burn::cubecl::CubeCount;
use burn::cubecl::ir::attributes::BufferIOAttr;
use burn::cubecl::server::KernelArguments;
use burn::tensor::{Int, Tensor};

use super::launch::{empty_like, float_handle, info, int_handle, launch_elem};

const WGSL: &str = include_str!("../../../../shaders/attn_decode.wgsl");
const WORKGROUP: u32 = 128;

/// `q: [B, heads, D]` against the first `state[0] + 1` positions (the one just written and all
/// before it) of `k, v: [B, kv_heads, capacity, D]` (same dtype) -> `[B, heads, D]`.
pub fn attention_decode(
    q: Tensor<3>,
    k: &Tensor<4>,
    v: &Tensor<4>,
    state: &Tensor<1, Int>,
    scale: f32,
) -> Tensor<3> {
    let [b, heads, d] = q.dims();
    let [_, kv_heads, capacity, _] = k.dims();
    let q = float_handle(q);
    let (k, v) = (float_handle(k.clone()), float_handle(v.clone()));
    let state = int_handle(state);
    let out = empty_like(&q, vec![b, heads, d], q.dtype);
    let client = q.client.clone();
    // Sized for the whole cache: the length is on the device.
    let scores = client.empty(b * heads * capacity * 4);
    let params = info(&[
        heads as u32,
        kv_heads as u32,
        d as u32,
        capacity as u32,
        scale.to_bits(),
    ]);
    launch_elem(
        &client,
        (WGSL, q.dtype, WORKGROUP),
        CubeCount::Static((b * heads) as u32, 1, 1),
        KernelArguments::new()
            .with_buffer_io(q.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_buffer_io(k.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_buffer_io(v.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_buffer_io(out.handle.clone().binding(), BufferIOAttr::ReadWrite)
            .with_buffer_io(scores.binding(), BufferIOAttr::ReadWrite)
            .with_buffer_io(state.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_info(params),
    );
    Tensor::<3>::from_primitive::<Cube>(out)
}
