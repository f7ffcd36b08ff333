//! `shaders/rope.wgsl`: rotary position embedding in one launch (reference: `model::rope::Rope`).

use burn::backend::Cube;
use burn::cubecl::CubeCount;
use burn::cubecl::ir::attributes::BufferIOAttr;
use burn::cubecl::server::KernelArguments;
use burn::tensor::{DType, Tensor};

use super::launch::{empty_like, float_handle, grid, launch_elem, params};

const WGSL: &str = include_str!("../../../../shaders/rope.wgsl");
const WORKGROUP: u32 = 256;

/// Rotate `x: [B, T, H, D]` (positions before heads) by the f32 tables `cos, sin: [T, D]`.
pub fn rope(x: Tensor<4>, cos: &Tensor<2>, sin: &Tensor<2>) -> Tensor<4> {
    let [b, t, h, d] = x.dims();
    let x = float_handle(x);
    let cos = float_handle(cos.clone().cast(DType::F32));
    let sin = float_handle(sin.clone().cast(DType::F32));
    let out = empty_like(&x, vec![b, t, h, d], x.dtype);
    let client = x.client.clone();
    let total = b * t * h * d;
    let (gx, gy) = grid(total.div_ceil(WORKGROUP as usize));
    let params = params(&[total, t, h, d, gx as usize]);
    launch_elem(
        &client,
        (WGSL, x.dtype, WORKGROUP),
        CubeCount::Static(gx, gy, 1),
        KernelArguments::new()
            .with_buffer_io(x.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_buffer_io(cos.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_buffer_io(sin.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_buffer_io(out.handle.clone().binding(), BufferIOAttr::ReadWrite)
            .with_info(params),
    );
    Tensor::<4>::from_primitive::<Cube>(out)
}
