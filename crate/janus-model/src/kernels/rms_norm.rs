//! `shaders/rms_norm.wgsl`: LLaMA's RMSNorm in one launch (reference: `model::nn::RmsNorm`), and
//! `shaders/add_rms_norm.wgsl`: a residual connection and the RMSNorm after it in one launch
//! (reference: `h + a`, then the norm).

use std::cell::Cell;

use burn::backend::Cube;
use burn::backend::wgpu::CubeTensor;
use burn::cubecl::CubeCount;
use burn::cubecl::ir::attributes::BufferIOAttr;
use burn::cubecl::server::KernelArguments;
use burn::tensor::Tensor;

use super::launch::{TemplateSource, empty_like, float_handle, grid, info};

const WGSL: &str = include_str!("../../../../shaders/rms_norm.wgsl");
const WGSL_ADD: &str = include_str!("../../../../shaders/add_rms_norm.wgsl");

/// How the norms walk a row: `workgroup` invocations, each loading up to `max_per` values per
/// trip before using any (`{{ per }}`; the shaders' notes say why).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Walk {
    pub workgroup: u32,
    pub max_per: u32,
}

/// The GPUs' walk (see [`Walk::for_adapter`]).
const GPU_WALK: Walk = Walk {
    workgroup: 256,
    max_per: 8,
};

impl Walk {
    /// `WORKGROUP:PER` (measurements: `JANUS_NORM_WALK`).
    pub fn parse(text: &str) -> Option<Self> {
        let (workgroup, max_per) = text.split_once(':')?;
        Some(Walk {
            workgroup: workgroup.parse().ok()?,
            max_per: max_per.parse().ok()?,
        })
    }

    /// GPUs: 256 invocations (WebGPU's most), 8 values each, so a row of up to 2048 (Janus-1.3B's
    /// hidden size) is one trip: one wait for memory where 128 invocations taking one value at
    /// a time waited 16 times. Not yet timed on a GPU (BENCHMARKS.md, "NVIDIA H200 ...,
    /// 2026-11-27, second session": the norm took 9.6 µs there, about 16 memory latencies).
    /// CPU adapters keep 128 invocations taking one value at a time: on lavapipe the wider walk
    /// made a decode step 2–3 % slower (1.41 → 1.45 s per token), since they keep arrays
    /// indexed at run time in memory.
    pub fn for_adapter(cpu_adapter: bool) -> Self {
        if cpu_adapter {
            Walk {
                workgroup: 128,
                max_per: 1,
            }
        } else {
            GPU_WALK
        }
    }
}

thread_local! {
    /// Per thread, like `qmatvec`'s layout. The GPU walk until set.
    static WALK: Cell<Walk> = const { Cell::new(GPU_WALK) };
}

/// The walk this thread's launches use.
pub fn walk() -> Walk {
    WALK.with(Cell::get)
}

/// Set the walk of later launches from this thread (workgroup a power of two in 32..=256,
/// max_per in 1..=16).
pub fn set_walk(walk: Walk) {
    let workgroup = 1 << walk.workgroup.clamp(32, 256).ilog2();
    let max_per = walk.max_per.clamp(1, 16);
    WALK.with(|w| w.set(Walk { workgroup, max_per }));
}

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
    let walk = walk();
    let per = (dim.div_ceil(walk.workgroup as usize) as u32).clamp(1, walk.max_per);
    TemplateSource::new(wgsl, x.dtype, walk.workgroup)
        .with("per", per)
        .launch(
            &x.client,
            CubeCount::Static(gx, gy, 1),
            args.with_info(params),
        );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_parse_and_clamp() {
        assert_eq!(
            Walk::parse("128:1"),
            Some(Walk {
                workgroup: 128,
                max_per: 1
            })
        );
        for bad in ["128", "a:1", "128:b", ""] {
            assert_eq!(Walk::parse(bad), None, "{bad}");
        }
        let before = walk();
        set_walk(Walk {
            workgroup: 1000,
            max_per: 0,
        });
        assert_eq!(
            walk(),
            Walk {
                workgroup: 256,
                max_per: 1
            }
        );
        set_walk(before);
    }
}
