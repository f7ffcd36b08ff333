//! `shaders/rms_norm.wgsl`: LLaMA's RMSNorm in one launch (reference: `model::nn::RmsNorm`), and
//! `shaders/add_rms_norm.wgsl`: a residual connection and the RMSNorm after it in one launch
//! (reference: `h + a`, then the norm).

use burn::backend::Cube;
use burn::backend::wgpu::CubeTensor;
use burn::cubecl::CubeCount;
use burn::cubecl::ir::attributes::BufferIOAttr;
use burn::cubecl::server::KernelArguments;
use burn::tensor::Tensor;

use super::launch::{empty_like, float_handle, grid, info, launch_elem};

const WGSL: &str = include_str!("../../../../shaders/rms_norm.wgsl");
const WGSL_ADD: &str = include_str!("../../../../shaders/add_rms_norm.wgsl");
const WORKGROUP: u32 = 128;

/// `x: [..., dim]` normalised over the last dimension and scaled by `weight: [dim]` (same
/// dtype as `x`).
pub fn rms_norm<const D: usize>(x: Tensor<D>, weight: &Tensor<1>, eps: f64) -> Tensor<D> {
    let dims = x.dims();
    let x = float_handle(x);
    let out = empty_like(&x, dims.to_vec(), x.dtype);
    let args =
        KernelArguments::new().with_buffer_io(x.handle.clone().binding(), BufferIOAttr::ReadOnly);
    launch(WGSL, &x, weight, eps, args, [&out]);
    Tensor::<D>::from_primitive::<Cube>(out)
}

/// `(h + a, rms_norm(h + a))` for `h, a: [..., dim]` of one shape and dtype: the residual
/// stream after a block and the next block's normalised input.
pub fn add_rms_norm<const D: usize>(
    h: Tensor<D>,
    a: Tensor<D>,
    weight: &Tensor<1>,
    eps: f64,
) -> (Tensor<D>, Tensor<D>) {
    let dims = h.dims();
    assert_eq!(dims, a.dims(), "add_rms_norm: h and a differ in shape");
    let a = a.cast(h.dtype());
    let (h, a) = (float_handle(h), float_handle(a));
    let sum = empty_like(&h, dims.to_vec(), h.dtype);
    let out = empty_like(&h, dims.to_vec(), h.dtype);
    let args = KernelArguments::new()
        .with_buffer_io(h.handle.clone().binding(), BufferIOAttr::ReadOnly)
        .with_buffer_io(a.handle.clone().binding(), BufferIOAttr::ReadOnly);
    launch(WGSL_ADD, &h, weight, eps, args, [&sum, &out]);
    (
        Tensor::<D>::from_primitive::<Cube>(sum),
        Tensor::<D>::from_primitive::<Cube>(out),
    )
}

/// One workgroup per row of `x` (its inputs already in `args`), then the weight, the
/// `outputs` and the parameters.
fn launch<const N: usize>(
    wgsl: &'static str,
    x: &CubeTensor,
    weight: &Tensor<1>,
    eps: f64,
    args: KernelArguments,
    outputs: [&CubeTensor; N],
) {
    let dim = *x.meta.shape().last().expect("a tensor of rank >= 1");
    let rows = x.meta.shape().iter().product::<usize>() / dim.max(1);
    let w = float_handle(weight.clone().cast(x.dtype));
    let (gx, gy) = grid(rows);
    let mut args = args.with_buffer_io(w.handle.clone().binding(), BufferIOAttr::ReadOnly);
    for out in outputs {
        args = args.with_buffer_io(out.handle.clone().binding(), BufferIOAttr::ReadWrite);
    }
    let params = info(&[dim as u32, gx, rows as u32, (eps as f32).to_bits()]);
    launch_elem(
        &x.client,
        (wgsl, x.dtype, WORKGROUP),
        CubeCount::Static(gx, gy, 1),
        args.with_info(params),
    );
}
