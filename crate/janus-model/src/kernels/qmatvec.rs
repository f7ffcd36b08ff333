//! The quantised matrix-vector products of decode: `y = x W^T` with `W` block-quantised (Q8 or
//! Q4) for up to [`MAX_BATCH`] rows of `x`, and the SwiGLU pair `silu(x Gᵀ) * (x Uᵀ)`. 16-byte
//! loads of packed weights are dequantised in registers and used for every batch row, so every
//! weight is read once per step, at 4.5 or 8.5 bits instead of 16 or 32.
//!
//! Two layouts ([`Layout`]), chosen once from the adapter the app opened ([`set_layout`],
//! [`Layout::for_adapter`]):
//! - [`Layout::Shared`] (`shaders/qmatvec.wgsl`, `qmatvec_swiglu.wgsl`), for GPUs: a group of
//!   `lanes` invocations shares `rows` output rows, `wg / lanes` groups per workgroup, and sums
//!   its partial sums in workgroup memory (`shaders/lanes_barrier.wgsl`) or, where the device's
//!   subgroups are at least `lanes` wide and the layout asks for it, by subgroup shuffles
//!   (`shaders/lanes_subgroup.wgsl`; [`set_subgroup_min`]).
//! - [`Layout::Vector`] (`shaders/qmatvec_cpu.wgsl`, `qmatvec_swiglu_cpu.wgsl`), for CPU adapters
//!   (SwiftShader, lavapipe): one invocation per `rows` output rows (default 8), four rows as a
//!   vector's components. A barrier there is a switch between emulated invocations and costs more
//!   than it saves; a load of `x` costs as much as a load of weights, so each serves 8 rows; and
//!   SwiftShader keeps arrays indexed at run time in memory, so the shader has none. BENCHMARKS.md
//!   has the figures that chose these.

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, Ordering};

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
const WGSL_CPU: &str = include_str!("../../../../shaders/qmatvec_cpu.wgsl");
const WGSL_SWIGLU_CPU: &str = include_str!("../../../../shaders/qmatvec_swiglu_cpu.wgsl");
/// Invocations per workgroup of the vector layout, and the shared layout's default.
const WORKGROUP: u32 = 64;
/// The largest workgroup (WebGPU's default limit on invocations per workgroup).
const MAX_WORKGROUP: u32 = 256;

/// How the kernels spread a matrix's rows over invocations (see the module notes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `lanes` invocations (a power of two up to `wg`) share `rows` rows (1..=8), in workgroups
    /// of `wg` invocations (a power of two, 64..=256); `subgroup`: sum the lanes by subgroup
    /// shuffles where the device allows (else through workgroup memory).
    Shared {
        lanes: u32,
        rows: u32,
        wg: u32,
        subgroup: bool,
    },
    /// One invocation per `rows` rows: 4, 8, 12 or 16 (the SwiGLU pair takes at most 8).
    Vector { rows: u32 },
}

impl Layout {
    /// The layout suited to an adapter (see the module notes).
    pub fn for_adapter(cpu_adapter: bool) -> Self {
        if cpu_adapter {
            Layout::Vector { rows: 8 }
        } else {
            GPU_LAYOUT
        }
    }

    /// Parse `shared:LANES:ROWS[:WG][:sg]` or `vector:ROWS` (measurements: `JANUS_QMATVEC`,
    /// the browser benchmark's `layout`; `sg` asks for subgroup sums); clamped to the ranges
    /// above.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts: Vec<&str> = text.split(':').collect();
        let subgroup = parts.last() == Some(&"sg");
        if subgroup {
            parts.pop();
        }
        let n = |i: usize| parts.get(i).and_then(|p| p.parse::<u32>().ok());
        match parts.first().copied() {
            Some("shared") if (3..=4).contains(&parts.len()) => Some(Layout::Shared {
                lanes: n(1)?,
                rows: n(2)?,
                wg: if parts.len() == 4 { n(3)? } else { WORKGROUP },
                subgroup,
            }),
            Some("vector") if parts.len() == 2 => Some(Layout::Vector { rows: n(1)? }),
            _ => None,
        }
        .map(Layout::clamped)
    }

    fn clamped(self) -> Self {
        match self {
            Layout::Shared {
                lanes,
                rows,
                wg,
                subgroup,
            } => {
                let wg = 1 << wg.clamp(WORKGROUP, MAX_WORKGROUP).ilog2();
                Layout::Shared {
                    lanes: 1 << lanes.clamp(1, wg).ilog2(),
                    rows: rows.clamp(1, 8),
                    wg,
                    subgroup,
                }
            }
            Layout::Vector { rows } => Layout::Vector {
                rows: (rows.clamp(4, 16) / 4) * 4,
            },
        }
    }

    /// True when each invocation owns whole rows (no lanes share one): products of many rows
    /// (prefill) then go through the kernel in chunks rather than by dequantising.
    pub fn owns_rows(self) -> bool {
        matches!(
            self,
            Layout::Vector { .. } | Layout::Shared { lanes: 1, .. }
        )
    }
}

/// The GPU layout: 32 lanes per row, two rows per 64-wide workgroup, summed in workgroup
/// memory. On an H200 it ran the decode kernels fastest of the layouts measured (BENCHMARKS.md,
/// "Matrix-vector layouts on an H200"): the 102,400-row `lm_head` in 279 µs against 333 µs with
/// 64 lanes; 256-wide workgroups and subgroup sums changed nothing beyond the noise there.
const GPU_LAYOUT: Layout = Layout::Shared {
    lanes: 32,
    rows: 1,
    wg: WORKGROUP,
    subgroup: false,
};

thread_local! {
    /// Per thread: the engine launches from one thread, and tests on other threads keep theirs.
    /// The GPU layout until set.
    static LAYOUT: Cell<Layout> = const { Cell::new(GPU_LAYOUT) };
}

/// The device's smallest subgroup size where it has subgroups, 0 where not (or not yet told):
/// a property of the one device a process opens, so not per thread like the layout.
static SUBGROUP_MIN: AtomicU32 = AtomicU32::new(0);

/// Record the device's smallest subgroup size: `None` where it has no subgroups (wgpu's
/// `SUBGROUP` feature not enabled on it, as where WebGPU's `subgroups` is missing). A layout's
/// `subgroup` applies only where this is at least its `lanes`; elsewhere the lanes sum through
/// workgroup memory.
pub fn set_subgroup_min(size: Option<u32>) {
    SUBGROUP_MIN.store(size.unwrap_or(0), Ordering::Relaxed);
}

/// The smallest subgroup size recorded by [`set_subgroup_min`].
pub fn subgroup_min() -> Option<u32> {
    Some(SUBGROUP_MIN.load(Ordering::Relaxed)).filter(|&n| n > 0)
}

/// Whether a group of `lanes` invocations can sum through subgroup shuffles on the device.
fn subgroups_span(lanes: u32) -> bool {
    lanes > 1 && subgroup_min().is_some_and(|min| min >= lanes)
}

/// Set the layout of later launches from this thread (clamped to the ranges [`Layout`] states).
pub fn set_layout(layout: Layout) {
    LAYOUT.with(|l| l.set(layout.clamped()));
}

/// The layout this thread's launches use.
pub fn layout() -> Layout {
    LAYOUT.with(Cell::get)
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
    let shader = match layout() {
        Layout::Shared {
            lanes,
            rows,
            wg,
            subgroup,
        } => Shader::shared(WGSL, lanes, rows, wg, subgroup),
        Layout::Vector { rows } => Shader::vector(WGSL_CPU, rows),
    };
    launch(shader, x, (codes, scales), None, None, rows, format)
}

/// `residual + x Wᵀ` in one launch, `residual: [m, rows]` in `x`'s dtype: the product as
/// [`qmatvec`] computes it, rounded to the dtype, plus the residual. A decode layer's two
/// residual connections then cost no launch of their own.
pub fn qmatvec_add(
    x: Tensor<2>,
    codes: &Tensor<1, Int>,
    scales: &Tensor<1, Int>,
    rows: usize,
    format: QuantFormat,
    residual: Tensor<2>,
) -> Tensor<2> {
    let shader = match layout() {
        Layout::Shared {
            lanes,
            rows,
            wg,
            subgroup,
        } => Shader::shared(WGSL, lanes, rows, wg, subgroup),
        Layout::Vector { rows } => Shader::vector(WGSL_CPU, rows),
    };
    launch(
        shader,
        x,
        (codes, scales),
        None,
        Some(residual),
        rows,
        format,
    )
}

/// `silu(x Gᵀ) * (x Uᵀ)` for gate and up matrices packed alike (`shaders/qmatvec_swiglu.wgsl`).
pub fn qmatvec_swiglu(
    x: Tensor<2>,
    gate: (&Tensor<1, Int>, &Tensor<1, Int>),
    up: (&Tensor<1, Int>, &Tensor<1, Int>),
    rows: usize,
    format: QuantFormat,
) -> Tensor<2> {
    let shader = match layout() {
        Layout::Shared {
            lanes,
            rows,
            wg,
            subgroup,
        } => Shader::shared(WGSL_SWIGLU, lanes, rows, wg, subgroup),
        Layout::Vector { rows } => Shader::vector(WGSL_SWIGLU_CPU, rows.min(8)),
    };
    launch(shader, x, gate, Some(up), None, rows, format)
}

/// A kernel and its template's layout values.
struct Shader {
    wgsl: &'static str,
    /// Invocations per group of rows (1 for the vector kernels).
    lanes: u32,
    /// Output rows per group.
    rows: u32,
    /// Invocations per workgroup.
    wg: u32,
    /// Lanes summed by subgroup shuffles (the device allows it).
    subgroup: bool,
}

impl Shader {
    fn shared(wgsl: &'static str, lanes: u32, rows: u32, wg: u32, subgroup: bool) -> Self {
        Self {
            wgsl,
            lanes,
            rows,
            wg,
            subgroup: subgroup && subgroups_span(lanes),
        }
    }

    fn vector(wgsl: &'static str, rows: u32) -> Self {
        Self {
            wgsl,
            lanes: 1,
            rows,
            wg: WORKGROUP,
            subgroup: false,
        }
    }
}

fn launch(
    shader: Shader,
    x: Tensor<2>,
    (codes, scales): (&Tensor<1, Int>, &Tensor<1, Int>),
    second: Option<(&Tensor<1, Int>, &Tensor<1, Int>)>,
    residual: Option<Tensor<2>>,
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
    let groups = rows.div_ceil(shader.rows as usize);
    let (gx, gy) = grid(groups.div_ceil((shader.wg / shader.lanes) as usize));
    let params = params(&[m, rows, cols, gx as usize]);
    // Inputs declared read-only: a failed launch then cannot mark the weights as written.
    let mut args = KernelArguments::new()
        .with_buffer_io(codes.handle.clone().binding(), BufferIOAttr::ReadOnly)
        .with_buffer_io(scales.handle.clone().binding(), BufferIOAttr::ReadOnly)
        .with_buffer_io(x.handle.clone().binding(), BufferIOAttr::ReadOnly)
        .with_buffer_io(out.handle.clone().binding(), BufferIOAttr::ReadWrite)
        .with_info(params);
    let has_residual = residual.is_some();
    if let Some(residual) = residual {
        assert_eq!(
            residual.dims(),
            [m, rows],
            "qmatvec_add: residual of the output's shape"
        );
        let residual = float_handle(residual);
        assert_eq!(residual.dtype, dtype, "qmatvec_add: residual in x's dtype");
        args = args.with_buffer_io(residual.handle.clone().binding(), BufferIOAttr::ReadOnly);
    }
    if let Some((codes2, scales2)) = second {
        let (codes2, scales2) = (int_handle(codes2), int_handle(scales2));
        args = args
            .with_buffer_io(codes2.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_buffer_io(scales2.handle.clone().binding(), BufferIOAttr::ReadOnly);
    }
    client.launch(
        Box::new(SourceKernel::new(
            QuantSource {
                wgsl: shader.wgsl,
                elem: dtype,
                format,
                workgroup: shader.wg,
                lanes: shader.lanes,
                rows: shader.rows,
                batch: m as u32,
                subgroup: shader.subgroup,
                residual: has_residual,
            },
            CubeDim::new_1d(shader.wg),
        )),
        CubeCount::Static(gx, gy, 1),
        args,
    );
    Tensor::<2>::from_primitive::<Cube>(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_parse_and_clamp() {
        assert_eq!(Layout::parse("shared:32:1"), Some(GPU_LAYOUT));
        assert_eq!(
            Layout::parse("shared:32:2:256:sg"),
            Some(Layout::Shared {
                lanes: 32,
                rows: 2,
                wg: 256,
                subgroup: true
            })
        );
        // Lanes no wider than the workgroup; workgroups a power of two in 64..=256.
        assert_eq!(
            Layout::parse("shared:512:9:100"),
            Some(Layout::Shared {
                lanes: 64,
                rows: 8,
                wg: 64,
                subgroup: false
            })
        );
        assert_eq!(Layout::parse("vector:10"), Some(Layout::Vector { rows: 8 }));
        for bad in [
            "shared:32",
            "shared:a:1",
            "shared:32:1:256:sg:1",
            "vector",
            "sg",
        ] {
            assert_eq!(Layout::parse(bad), None, "{bad}");
        }
    }
}
