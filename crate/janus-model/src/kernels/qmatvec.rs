//! `shaders/qmatvec.wgsl`: `y = x W^T` with `W` block-quantised (Q8 or Q4) for up to
//! [`MAX_BATCH`] rows of `x`: [`lanes`] invocations per output row, 16-byte loads dequantised
//! in registers and used for every batch row. The decode step's matrix products: every weight is
//! read once per step, at 4.5 or 8.5 bits instead of 16 or 32.
//!
//! Lanes per row: a whole workgroup on a GPU (the row's loads spread over 64 invocations, a
//! reduction in workgroup memory); one on a CPU adapter (SwiftShader, lavapipe), where every
//! barrier is a switch between emulated invocations and costs more than it saves. The app sets
//! it once from the adapter it opened ([`set_lanes`]).

use std::cell::Cell;

use burn::backend::Cube;
use burn::backend::wgpu::{CubeTensor, SourceKernel};
use burn::cubecl::ir::attributes::BufferIOAttr;
use burn::cubecl::server::KernelArguments;
use burn::cubecl::{CubeCount, CubeDim};
use burn::tensor::{Int, Shape, Tensor};

use super::launch::{QuantSource, float_handle, grid, int_handle, params};
use crate::quant::QuantFormat;

const WGSL: &str = include_str!("../../../../shaders/qmatvec.wgsl");
const WGSL_SWIGLU: &str = include_str!("../../../../shaders/qmatvec_swiglu.wgsl");
/// Invocations per workgroup (a power of two, at most WebGPU's 256).
const WORKGROUP: u32 = 64;

thread_local! {
    /// Invocations per output row: [`WORKGROUP`] (GPUs, the default) or a smaller power of two.
    /// Per thread: the engine launches from one thread, and tests on other threads keep theirs.
    static LANES: Cell<u32> = const { Cell::new(WORKGROUP) };
}

/// Set the invocations per output row for later launches from this thread: a power of two up
/// to 64 (1 for CPU adapters, see the module notes); other values are rounded down to one.
pub fn set_lanes(lanes: u32) {
    let lanes = lanes.clamp(1, WORKGROUP);
    LANES.with(|l| l.set(1 << lanes.ilog2()));
}

/// The invocations per output row this thread's launches use.
pub fn lanes() -> u32 {
    LANES.with(Cell::get)
}

/// The lanes suited to an adapter: one for a CPU implementation, a workgroup otherwise.
pub fn lanes_for(cpu_adapter: bool) -> u32 {
    if cpu_adapter { 1 } else { WORKGROUP }
}
/// Rows of `x` one launch takes (the shader's `MAX_BATCH`).
pub const MAX_BATCH: usize = 8;

/// `x: [m, cols]` (f32 or f16, on wgpu, `m <= MAX_BATCH`) times the packed matrix (`codes`: the
/// words as i32 bits, `scales`: f16 pairs as i32 bits; [`crate::quant::device::QuantMatrix`])
/// -> `[m, rows]`.
pub fn qmatvec(
    x: Tensor<2>,
    codes: &Tensor<1, Int>,
    scales: &Tensor<1, Int>,
    rows: usize,
    format: QuantFormat,
) -> Tensor<2> {
    launch(WGSL, x, (codes, scales), None, rows, format)
}

/// `silu(x Gᵀ) * (x Uᵀ)` for gate and up matrices packed alike (`shaders/qmatvec_swiglu.wgsl`).
pub fn qmatvec_swiglu(
    x: Tensor<2>,
    gate: (&Tensor<1, Int>, &Tensor<1, Int>),
    up: (&Tensor<1, Int>, &Tensor<1, Int>),
    rows: usize,
    format: QuantFormat,
) -> Tensor<2> {
    launch(WGSL_SWIGLU, x, gate, Some(up), rows, format)
}

fn launch(
    wgsl: &'static str,
    x: Tensor<2>,
    (codes, scales): (&Tensor<1, Int>, &Tensor<1, Int>),
    second: Option<(&Tensor<1, Int>, &Tensor<1, Int>)>,
    rows: usize,
    format: QuantFormat,
) -> Tensor<2> {
    let [m, cols] = x.dims();
    assert!(
        (1..=MAX_BATCH).contains(&m),
        "qmatvec: {m} rows of x (1..={MAX_BATCH}; larger batches dequantise and use matmul)"
    );
    let x = float_handle(x);
    let (codes, scales) = (int_handle(codes), int_handle(scales));
    let client = x.client.clone();
    let dtype = x.dtype;
    let out = CubeTensor::new_contiguous(
        client.clone(),
        x.device.clone(),
        Shape::new([m, rows]),
        client.empty(m * rows * dtype.size()),
        dtype,
    );
    let lanes = lanes();
    let (gx, gy) = grid(rows.div_ceil((WORKGROUP / lanes) as usize));
    let params = params(&[m, rows, cols, gx as usize]);
    // Inputs declared read-only: a failed launch then cannot mark the weights as written.
    let mut args = KernelArguments::new()
        .with_buffer_io(codes.handle.clone().binding(), BufferIOAttr::ReadOnly)
        .with_buffer_io(scales.handle.clone().binding(), BufferIOAttr::ReadOnly)
        .with_buffer_io(x.handle.clone().binding(), BufferIOAttr::ReadOnly)
        .with_buffer_io(out.handle.clone().binding(), BufferIOAttr::ReadWrite)
        .with_info(params);
    if let Some((codes2, scales2)) = second {
        let (codes2, scales2) = (int_handle(codes2), int_handle(scales2));
        args = args
            .with_buffer_io(codes2.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_buffer_io(scales2.handle.clone().binding(), BufferIOAttr::ReadOnly);
    }
    client.launch(
        Box::new(SourceKernel::new(
            QuantSource {
                wgsl,
                elem: dtype,
                format,
                workgroup: WORKGROUP,
                lanes,
                batch: m as u32,
            },
            CubeDim::new_1d(WORKGROUP),
        )),
        CubeCount::Static(gx, gy, 1),
        args,
    );
    Tensor::<2>::from_primitive::<Cube>(out)
}
