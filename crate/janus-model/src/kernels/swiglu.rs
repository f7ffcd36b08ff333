//! `shaders/swiglu.wgsl`: `silu(gate) * up` in one launch (reference: `model::llama::Mlp`).

use burn::backend::Cube;
use burn::cubecl::CubeCount;
use burn::cubecl::ir::attributes::BufferIOAttr;
use burn::cubecl::server::KernelArguments;
use burn::tensor::Tensor;

use super::launch::{empty_like, float_handle, grid, launch_elem, params};

const WGSL: &str = include_str!("../../../../shaders/swiglu.wgsl");
const WORKGROUP: u32 = 256;

/// `silu(gate) * up` for two tensors of one shape and dtype.
pub fn swiglu<const D: usize>(gate: Tensor<D>, up: Tensor<D>) -> Tensor<D> {
    let dims = gate.dims();
    let (g, u) = (float_handle(gate), float_handle(up));
    let out = empty_like(&g, dims.to_vec(), g.dtype);
    let client = g.client.clone();
    let total: usize = dims.iter().product();
    let (gx, gy) = grid(total.div_ceil(WORKGROUP as usize));
    let params = params(&[total, gx as usize]);
    launch_elem(
        &client,
        (WGSL, g.dtype, WORKGROUP),
        CubeCount::Static(gx, gy, 1),
        KernelArguments::new()
            .with_buffer_io(g.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_buffer_io(u.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_buffer_io(out.handle.clone().binding(), BufferIOAttr::ReadWrite)
            .with_info(params),
    );
    Tensor::<D>::from_primitive::<Cube>(out)
}
