//! `shaders/group_norm_stats.wgsl` + `group_norm.wgsl`: the VQ decoder's GroupNorm, with the
//! swish that follows it fused in, in two launches (reference: `model::nn::GroupNorm` and
//! `silu`, about a dozen generic launches, each a pass over the activations).

use burn::backend::Cube;
use burn::cubecl::CubeCount;
use burn::cubecl::ir::attributes::BufferIOAttr;
use burn::cubecl::server::KernelArguments;
use burn::tensor::{DType, Tensor};

use super::launch::{MAX_GRID, TemplateSource, empty_like, float_handle, grid, info, launch_elem};

const WGSL_STATS: &str = include_str!("../../../../shaders/group_norm_stats.wgsl");
const WGSL: &str = include_str!("../../../../shaders/group_norm.wgsl");
/// Invocations per workgroup of both shaders.
const WORKGROUP: u32 = 256;

/// `x: [B, C, H, W]` f32 normalised over `groups` groups of channels, scaled and shifted by
/// `weight, bias: [C]`, then `silu` when asked. `None` when it does not apply (not f32, `C` not
/// a multiple of `groups`, more groups than a grid holds); the caller then uses the reference.
pub fn group_norm(
    x: Tensor<4>,
    (weight, bias): (&Tensor<1>, &Tensor<1>),
    groups: usize,
    eps: f64,
    silu: bool,
) -> Option<Tensor<4>> {
    let [b, c, h, w] = x.dims();
    let total = b * c * h * w;
    if x.dtype() != DType::F32
        || groups == 0
        || !c.is_multiple_of(groups)
        || b * groups > MAX_GRID
        || total == 0
        || total > u32::MAX as usize
    {
        return None;
    }
    let per_group = c / groups * h * w;
    let x = float_handle(x);
    let (wt, bs) = (
        float_handle(weight.clone().cast(DType::F32)),
        float_handle(bias.clone().cast(DType::F32)),
    );
    let client = x.client.clone();
    let stats = empty_like(&x, vec![b * groups, 2], DType::F32);
    launch_elem(
        &client,
        (WGSL_STATS, DType::F32, WORKGROUP),
        CubeCount::Static((b * groups) as u32, 1, 1),
        KernelArguments::new()
            .with_buffer_io(x.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_buffer_io(stats.handle.clone().binding(), BufferIOAttr::ReadWrite)
            .with_info(info(&[per_group as u32, (eps as f32).to_bits()])),
    );
    let out = empty_like(&x, vec![b, c, h, w], DType::F32);
    let (gx, gy) = grid(total.div_ceil(WORKGROUP as usize));
    TemplateSource::new(WGSL, DType::F32, WORKGROUP)
        .with("silu", u32::from(silu))
        .launch(
            &client,
            CubeCount::Static(gx, gy, 1),
            KernelArguments::new()
                .with_buffer_io(x.handle.clone().binding(), BufferIOAttr::ReadOnly)
                .with_buffer_io(wt.handle.clone().binding(), BufferIOAttr::ReadOnly)
                .with_buffer_io(bs.handle.clone().binding(), BufferIOAttr::ReadOnly)
                .with_buffer_io(stats.handle.clone().binding(), BufferIOAttr::ReadOnly)
                .with_buffer_io(out.handle.clone().binding(), BufferIOAttr::ReadWrite)
                .with_info(info(&[
                    total as u32,
                    (h * w) as u32,
                    c as u32,
                    (c / groups) as u32,
                    gx,
                ])),
        );
    Some(Tensor::<4>::from_primitive::<Cube>(out))
}
