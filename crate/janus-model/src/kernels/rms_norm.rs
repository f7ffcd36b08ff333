//! `shaders/rms_norm.wgsl`: LLaMA's RMSNorm in one launch (reference: `model::nn::RmsNorm`).

use burn::backend::Cube;
use burn::cubecl::CubeCount;
use burn::cubecl::ir::attributes::BufferIOAttr;
use burn::cubecl::server::KernelArguments;
use burn::tensor::Tensor;

use super::launch::{empty_like, float_handle, grid, info, launch_elem};

const WGSL: &str = include_str!("../../../../shaders/rms_norm.wgsl");
const WORKGROUP: u32 = 128;

/// `x: [..., dim]` normalised over the last dimension and scaled by `weight: [dim]` (same
/// dtype as `x`).
pub fn rms_norm<const D: usize>(x: Tensor<D>, weight: &Tensor<1>, eps: f64) -> Tensor<D> {
    let dims = x.dims();
    let dim = dims[D - 1];
    let rows = dims.iter().product::<usize>() / dim.max(1);
    let weight = weight.clone().cast(x.dtype());
    let (x, w) = (float_handle(x), float_handle(weight));
    let out = empty_like(&x, dims.to_vec(), x.dtype);
    let client = x.client.clone();
    let (gx, gy) = grid(rows);
    let params = info(&[dim as u32, gx, rows as u32, (eps as f32).to_bits()]);
    launch_elem(
        &client,
        (WGSL, x.dtype, WORKGROUP),
        CubeCount::Static(gx, gy, 1),
        KernelArguments::new()
            .with_buffer_io(x.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_buffer_io(w.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_buffer_io(out.handle.clone().binding(), BufferIOAttr::ReadWrite)
            .with_info(params),
    );
    Tensor::<D>::from_primitive::<Cube>(out)
}
