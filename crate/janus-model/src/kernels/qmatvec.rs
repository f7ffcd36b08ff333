//! The quantised matrix-vector products of decode: `y = x W^T` with `W` block-quantised (Q8 or
//! Q4) for up to [`MAX_BATCH`] rows of `x`, and the SwiGLU pair `silu(x Gᵀ) * (x Uᵀ)`. 16-byte
//! loads of packed weights are dequantised in registers and used for every batch row, so every
//! weight is read once per step, at 4.5 or 8.5 bits instead of 16 or 32.
//!
//! Two layouts ([`Layout`]), chosen once from the adapter the app opened ([`set_layout`],
//! [`Layout::for_adapter`]):
//! - [`Layout::Flat`] (`shaders/qmatvec_flat.wgsl`, `qmatvec_swiglu_flat.wgsl`), the GPUs'
//!   default: `lanes` invocations (32: two rows per 64-wide workgroup) share one output row, and
//!   each lane's loads of a trip and the vectors of `x` they meet are written out in straight-line
//!   code, so the compiler issues them together rather than waiting on each in turn. A group of
//!   lanes may own two or four rows instead (`flat:LANES:1:ROWS`), loading the same columns of
//!   each, so every vector of `x` serves them all: with one row a lane reads 4 bytes of `x` (f16)
//!   for every byte of Q4 weights. In decode
//!   they also run the RMSNorm of their input or the residual connection after them, and the
//!   joint q/k/v product the rotation and KV-cache write after it ([`qmatvec_fused`],
//!   [`Fused`]), each saving a launch of its own.
//! - [`Layout::Vector`] (`shaders/qmatvec_cpu.wgsl`, `qmatvec_swiglu_cpu.wgsl`), for CPU adapters
//!   (SwiftShader, lavapipe): one invocation per `rows` output rows (default 8), four rows as a
//!   vector's components. A barrier there is a switch between emulated invocations and costs more
//!   than it saves; a load of `x` costs as much as a load of weights, so each serves 8 rows; and
//!   SwiftShader keeps arrays indexed at run time in memory, so the shader has none. BENCHMARKS.md
//!   has the figures that chose these.
//!
//! The GPUs' layout before the flat one (`shared:LANES:ROWS`: the same 16-byte loads walked
//! through loops over arrays of rows and batch entries) took twice as long per product on an
//! H200, and was removed once the flat walk had replaced it (BENCHMARKS.md, "third session").

use std::cell::Cell;

use burn::backend::Cube;
use burn::backend::wgpu::{CubeTensor, SourceKernel};
use burn::cubecl::ir::attributes::BufferIOAttr;
use burn::cubecl::server::KernelArguments;
use burn::cubecl::{CubeCount, CubeDim};
use burn::tensor::{Int, Shape, Tensor};

use super::launch::{Epilogue, QuantSource, dequant_mode, float_handle, grid, int_handle, params};
use crate::quant::QuantFormat;

const WGSL_CPU: &str = include_str!("../../../../shaders/qmatvec_cpu.wgsl");
const WGSL_SWIGLU_CPU: &str = include_str!("../../../../shaders/qmatvec_swiglu_cpu.wgsl");
const WGSL_FLAT: &str = include_str!("../../../../shaders/qmatvec_flat.wgsl");
const WGSL_SWIGLU_FLAT: &str = include_str!("../../../../shaders/qmatvec_swiglu_flat.wgsl");
/// Invocations per workgroup (a power of two, at most WebGPU's 256).
const WORKGROUP: u32 = 64;
/// Parameter words of every launch: `qmatvec_flat.wgsl` declares them as a uniform of this
/// size (three vectors of four).
const PARAMS: usize = 12;

/// How the kernels spread a matrix's rows over invocations (see the module notes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// One invocation per `rows` rows: 4, 8, 12 or 16 (the SwiGLU pair takes at most 8).
    Vector { rows: u32 },
    /// `lanes` invocations (a power of two up to 64) per group of `rows` rows (1, 2 or 4),
    /// each taking `unroll` loads per row per trip (1, 2 or 4; 1 with several rows) in
    /// straight-line code
    /// (`shaders/qmatvec_flat.wgsl`, `qmatvec_swiglu_flat.wgsl`). With several rows each vector
    /// of `x` a lane loads serves all of them.
    Flat { lanes: u32, unroll: u32, rows: u32 },
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

    /// Parse `flat:LANES:UNROLL[:ROWS]` or `vector:ROWS` (measurements:
    /// `JANUS_QMATVEC`, the browser benchmark's `layout`); clamped to the ranges above.
    pub fn parse(text: &str) -> Option<Self> {
        let parts: Vec<&str> = text.split(':').collect();
        let n = |i: usize| parts.get(i).and_then(|p| p.parse::<u32>().ok());
        match parts.first().copied() {
            Some("vector") if parts.len() == 2 => Some(Layout::Vector { rows: n(1)? }),
            Some("flat") if (3..=4).contains(&parts.len()) => Some(Layout::Flat {
                lanes: n(1)?,
                unroll: n(2)?,
                rows: if parts.len() == 4 { n(3)? } else { 1 },
            }),
            _ => None,
        }
        .map(Layout::clamped)
    }

    fn clamped(self) -> Self {
        match self {
            Layout::Vector { rows } => Layout::Vector {
                rows: (rows.clamp(4, 16) / 4) * 4,
            },
            Layout::Flat {
                lanes,
                unroll,
                rows,
            } => {
                let rows = 1 << rows.clamp(1, 4).ilog2();
                Layout::Flat {
                    lanes: 1 << lanes.clamp(1, WORKGROUP).ilog2(),
                    unroll: if rows > 1 {
                        1
                    } else {
                        1 << unroll.clamp(1, 4).ilog2()
                    },
                    rows,
                }
            }
        }
    }

    /// True when each invocation owns whole rows (no lanes share one): products of many rows
    /// (prefill) then go through the kernel in chunks rather than by dequantising.
    pub fn owns_rows(self) -> bool {
        matches!(self, Layout::Vector { .. } | Layout::Flat { lanes: 1, .. })
    }
}

/// The GPU layout: 32 lanes per row, two rows per 64-wide workgroup, one 16-byte load per
/// trip in straight-line code. On an H200 (BENCHMARKS.md, "NVIDIA H200 ..., 2026-11-27, third
/// session") it ran `lm_head` (102,400 rows) in 134 µs where the same lanes walking through
/// arrays (`shared:32:1`, the layout before, since removed) took 279, and decode at 260
/// tokens/s against 210; two or four loads per trip, 16 or 64 lanes were slower.
const GPU_LAYOUT: Layout = Layout::Flat {
    lanes: 32,
    unroll: 1,
    rows: 1,
};

thread_local! {
    /// Per thread: the engine launches from one thread, and tests on other threads keep theirs.
    /// The GPU layout until set.
    static LAYOUT: Cell<Layout> = const { Cell::new(GPU_LAYOUT) };
    /// See [`set_fusing`].
    static FUSING: Cell<bool> = const { Cell::new(true) };
    /// See [`set_rope_fusing`].
    static ROPE_FUSING: Cell<bool> = const { Cell::new(true) };
}

/// Whether decode on this thread, where it fuses ([`fusing`]), also runs the rotation and cache
/// write inside the joint q/k/v product ([`Fused::rope`]): the default; off, they run as a
/// kernel of their own, `rope_kv` (measurements compare the two: `JANUS_FUSE_ROPE=0`).
pub fn set_rope_fusing(on: bool) {
    ROPE_FUSING.with(|f| f.set(on));
}

/// True when decode fuses the rotation ([`set_rope_fusing`]), fuses at all ([`fusing`]), and
/// the layout can ([`rotates`]).
pub fn rope_fusing() -> bool {
    ROPE_FUSING.with(Cell::get) && fusing() && rotates(layout())
}

/// Whether `layout`'s product can rotate ([`Fused::rope`]): flat, with a rotation pair's two
/// rows in one group of lanes (two or more rows per group), or in two groups of one workgroup
/// that reduce their lanes in workgroup memory (two or more lanes, two or more groups).
pub fn rotates(layout: Layout) -> bool {
    matches!(layout, Layout::Flat { lanes, rows, .. }
        if rows >= 2 || (2..=WORKGROUP / 2).contains(&lanes))
}

/// Whether decode on this thread runs its norms and residual connections inside the products
/// where the layout can ([`Layout::Flat`], [`qmatvec_fused`]): the default; off, they run as
/// kernels of their own (measurements compare the two: `JANUS_FUSE=0`).
pub fn set_fusing(on: bool) {
    FUSING.with(|f| f.set(on));
}

/// True when decode fuses ([`set_fusing`]) and the layout can.
pub fn fusing() -> bool {
    FUSING.with(Cell::get) && matches!(layout(), Layout::Flat { .. })
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
        Layout::Vector { rows } => Shader::vector(WGSL_CPU, rows),
        Layout::Flat {
            lanes,
            unroll,
            rows,
        } => Shader::flat(WGSL_FLAT, lanes, unroll, rows),
    };
    launch(
        shader,
        x,
        (codes, scales),
        None,
        rows,
        format,
        Fused::default(),
    )
}

/// What decode fuses into a product (flat layout only, [`Layout::Flat`]): the RMSNorm of its
/// input, the residual connection after it, or the rotation and cache write after the joint
/// q/k/v product (`shaders/qmatvec_flat.wgsl`, `Epilogue`).
#[derive(Clone, Debug, Default)]
pub struct Fused<'a> {
    /// The product is of `rms_norm(x) * weight` (`[cols]`) with this epsilon.
    pub norm: Option<(&'a Tensor<1>, f64)>,
    /// `[m, rows]`, added to the product.
    pub residual: Option<Tensor<2>>,
    /// The matrix is q, k and v one under another: the output is the rotated queries, and the
    /// rotated key and the value go into the caches (not with `residual`).
    pub rope: Option<RopeKv<'a>>,
}

/// Where the joint q/k/v product's rotation reads and writes (reference: `kernels::rope_kv`,
/// the same step as a kernel of its own).
#[derive(Clone, Copy, Debug)]
pub struct RopeKv<'a> {
    /// Query heads, key/value heads, head dimension D (even): the matrix has `(heads + 2
    /// kv_heads) * D` rows.
    pub heads: (usize, usize, usize),
    /// `[m, kv_heads, capacity, D]`, written at the state's position.
    pub caches: (&'a Tensor<4>, &'a Tensor<4>),
    /// The decode state (`model::cursor`): the position and its cos and sin rows.
    pub state: &'a Tensor<1, Int>,
}

/// [`qmatvec`] with `fused`'s steps in the same launch, where the layout is flat (None
/// elsewhere: the caller runs them apart). Decode on GPUs: each saves a launch of its own. The
/// output is `[m, rows]`, or with [`Fused::rope`] the rotated queries `[m, heads * D]`; the
/// rotation needs two or more rows per workgroup, so layouts of one row per workgroup (64
/// lanes) or one invocation per row decline it.
pub fn qmatvec_fused(
    x: Tensor<2>,
    (codes, scales): (&Tensor<1, Int>, &Tensor<1, Int>),
    rows: usize,
    format: QuantFormat,
    fused: Fused<'_>,
) -> Option<Tensor<2>> {
    let Layout::Flat {
        lanes,
        unroll,
        rows: group_rows,
    } = layout()
    else {
        return None;
    };
    if fused.rope.is_some() && (fused.residual.is_some() || !rotates(layout())) {
        return None;
    }
    let shader = Shader::flat(WGSL_FLAT, lanes, unroll, group_rows);
    Some(launch(
        shader,
        x,
        (codes, scales),
        None,
        rows,
        format,
        fused,
    ))
}

/// `silu(x Gᵀ) * (x Uᵀ)` for gate and up matrices packed alike
/// (`shaders/qmatvec_swiglu_flat.wgsl`, `qmatvec_swiglu_cpu.wgsl`); with `norm`, of
/// `rms_norm(x) * weight` instead (flat layout only: None elsewhere, and the caller runs the
/// norm apart).
pub fn qmatvec_swiglu(
    x: Tensor<2>,
    gate: (&Tensor<1, Int>, &Tensor<1, Int>),
    up: (&Tensor<1, Int>, &Tensor<1, Int>),
    rows: usize,
    format: QuantFormat,
    norm: Option<(&Tensor<1>, f64)>,
) -> Option<Tensor<2>> {
    let shader = match layout() {
        Layout::Flat {
            lanes,
            unroll,
            rows,
        } => Shader::flat(
            WGSL_SWIGLU_FLAT,
            lanes,
            unroll,
            swiglu_rows(rows, x.dims()[0]),
        ),
        Layout::Vector { .. } if norm.is_some() => return None,
        Layout::Vector { rows } => Shader::vector(WGSL_SWIGLU_CPU, rows.min(8)),
    };
    let fused = Fused {
        norm,
        ..Fused::default()
    };
    Some(launch(shader, x, gate, Some(up), rows, format, fused))
}

/// WebGPU's least `maxComputeWorkgroupStorageSize`: what every adapter allows a workgroup.
const WORKGROUP_STORAGE: usize = 16_384;

/// Rows per group of lanes that the SwiGLU pair's flat kernel takes at `batch` rows of x:
/// `rows`, halved until its workgroup memory fits [`WORKGROUP_STORAGE`]. The kernel keeps
/// `[ROWS, BATCH, WG]` pairs of f32 partial sums and `[BATCH, WG]` f32 sums of squares
/// (`shaders/qmatvec_swiglu_flat.wgsl`), so four rows fit up to a batch of 7 and two up to 8.
/// (`qmatvec_flat.wgsl` keeps single f32 sums: four rows fit at every batch.)
fn swiglu_rows(rows: u32, batch: usize) -> u32 {
    let bytes = |rows: u32| WORKGROUP as usize * batch * (8 * rows as usize + 4);
    let mut rows = rows;
    while rows > 1 && bytes(rows) > WORKGROUP_STORAGE {
        rows /= 2;
    }
    rows
}

/// A kernel and its template's layout values.
struct Shader {
    wgsl: &'static str,
    /// Invocations per group of rows (1 for the vector kernels).
    lanes: u32,
    /// Output rows per group.
    rows: u32,
    /// Loads per trip (the flat kernel).
    unroll: u32,
}

impl Shader {
    fn flat(wgsl: &'static str, lanes: u32, unroll: u32, rows: u32) -> Self {
        Self {
            wgsl,
            lanes,
            rows,
            unroll,
        }
    }

    /// The vector kernels: one invocation per group of rows, one load per trip.
    fn vector(wgsl: &'static str, rows: u32) -> Self {
        Self::flat(wgsl, 1, 1, rows)
    }
}

fn launch(
    shader: Shader,
    x: Tensor<2>,
    (codes, scales): (&Tensor<1, Int>, &Tensor<1, Int>),
    second: Option<(&Tensor<1, Int>, &Tensor<1, Int>)>,
    rows: usize,
    format: QuantFormat,
    fused: Fused<'_>,
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
    // [m, rows], or the rotated queries [m, heads * D].
    let width = fused.rope.map_or(rows, |r| r.heads.0 * r.heads.2);
    let out = CubeTensor::new_contiguous(
        client.clone(),
        x.device.clone(),
        Shape::new([m, width]),
        client.empty(m * width * dtype.size()),
        dtype,
    );
    let groups = rows.div_ceil(shader.rows as usize);
    let (gx, gy) = grid(groups.div_ceil((WORKGROUP / shader.lanes) as usize));
    let eps = fused
        .norm
        .map_or(0, |(_, eps)| (eps as f32).to_bits() as usize);
    let mut words = vec![m, rows, cols, gx as usize, eps];
    if let Some(rope) = &fused.rope {
        let (heads, kv_heads, d) = rope.heads;
        let (k_cache, v_cache) = rope.caches;
        let capacity = k_cache.dims()[2];
        assert!(
            rows == (heads + 2 * kv_heads) * d && d % 2 == 0,
            "qmatvec: the rotation needs q, k and v's rows, D even"
        );
        assert!(
            k_cache.dims() == [m, kv_heads, capacity, d] && v_cache.dims() == k_cache.dims(),
            "qmatvec: the caches are [m, kv_heads, capacity, D]"
        );
        assert!(
            k_cache.dtype() == dtype && v_cache.dtype() == dtype,
            "qmatvec: the caches hold the activations' type"
        );
        assert!(
            rope.state.dims()[0] >= crate::model::cursor::STATE_HEADER + 2 * d,
            "qmatvec: the decode state holds the position's cos and sin rows"
        );
        words.extend([heads, kv_heads, d, capacity]);
    }
    // qmatvec_flat.wgsl's uniform is PARAMS words; the other kernels read what they use.
    words.resize(PARAMS, 0);
    let params = params(&words);
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
    // The fused steps' inputs, after the kernel's own buffers (`Epilogue`'s bindings).
    let epilogue = Epilogue {
        norm: fused.norm.is_some(),
        residual: fused.residual.is_some(),
        rope: fused.rope.is_some(),
        first_binding: if second.is_some() { 6 } else { 4 },
    };
    if let Some((weight, _)) = fused.norm {
        assert_eq!(
            weight.dims(),
            [cols],
            "qmatvec: the norm weight is one per column"
        );
        let weight = float_handle(weight.clone().cast(dtype));
        args = args.with_buffer_io(weight.handle.clone().binding(), BufferIOAttr::ReadOnly);
    }
    if let Some(residual) = fused.residual {
        assert_eq!(
            residual.dims(),
            [m, rows],
            "qmatvec: the residual is [m, rows]"
        );
        let residual = float_handle(residual.cast(dtype));
        args = args.with_buffer_io(residual.handle.clone().binding(), BufferIOAttr::ReadOnly);
    }
    if let Some(rope) = fused.rope {
        // Written in place: the caller's tensors, not copies (`float_handle` of a contiguous
        // tensor shares its buffer).
        let (k_cache, v_cache) = rope.caches;
        for t in [k_cache, v_cache] {
            let t = float_handle(t.clone());
            args = args.with_buffer_io(t.handle.clone().binding(), BufferIOAttr::ReadWrite);
        }
        let state = int_handle(rope.state);
        args = args.with_buffer_io(state.handle.clone().binding(), BufferIOAttr::ReadOnly);
    }
    client.launch(
        Box::new(SourceKernel::new(
            QuantSource {
                wgsl: shader.wgsl,
                elem: dtype,
                format,
                workgroup: WORKGROUP,
                lanes: shader.lanes,
                rows: shader.rows,
                batch: m as u32,
                unroll: shader.unroll,
                epilogue,
                dequant: dequant_mode(),
            },
            CubeDim::new_1d(WORKGROUP),
        )),
        CubeCount::Static(gx, gy, 1),
        args,
    );
    Tensor::<2>::from_primitive::<Cube>(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every flat kernel's workgroup memory fits what every WebGPU adapter allows, at every
    /// batch and row count a layout may ask for.
    #[test]
    fn flat_kernels_fit_webgpu_workgroup_storage() {
        let wg = WORKGROUP as usize;
        for batch in 1..=MAX_BATCH {
            for rows in [1u32, 2, 4] {
                // qmatvec_flat.wgsl: f32 partial sums and the norm's sums of squares.
                let product = wg * batch * (4 * rows as usize + 4);
                assert!(product <= WORKGROUP_STORAGE, "{rows} rows, batch {batch}");
                // qmatvec_swiglu_flat.wgsl: pairs of f32 partial sums and the sums of squares.
                let taken = swiglu_rows(rows, batch);
                let pair = wg * batch * (8 * taken as usize + 4);
                assert!(pair <= WORKGROUP_STORAGE, "{rows} rows, batch {batch}");
                assert!(
                    taken <= rows && taken >= rows.min(2),
                    "{rows} rows, batch {batch}"
                );
            }
        }
        assert_eq!(swiglu_rows(4, 7), 4);
        assert_eq!(swiglu_rows(4, 8), 2);
        assert_eq!(swiglu_rows(1, 8), 1);
    }

    #[test]
    fn layouts_parse_and_clamp() {
        assert_eq!(Layout::for_adapter(false), GPU_LAYOUT);
        assert_eq!(Layout::parse("flat:32:1"), Some(GPU_LAYOUT));
        assert_eq!(
            Layout::parse("flat:8:3"),
            Some(Layout::Flat {
                lanes: 8,
                unroll: 2,
                rows: 1
            })
        );
        assert_eq!(Layout::parse("flat:32:1:1"), Some(GPU_LAYOUT));
        // Several rows take one load per trip; 3 rows round down to 2.
        assert_eq!(
            Layout::parse("flat:16:4:3"),
            Some(Layout::Flat {
                lanes: 16,
                unroll: 1,
                rows: 2
            })
        );
        assert_eq!(
            Layout::parse("flat:100:1:9"),
            Some(Layout::Flat {
                lanes: 64,
                unroll: 1,
                rows: 4
            })
        );
        assert_eq!(Layout::parse("vector:10"), Some(Layout::Vector { rows: 8 }));
        for bad in [
            "shared:32:1",
            "vector:a",
            "vector",
            "sg",
            "flat:32",
            "flat:32:1:2:1",
            "flat:32:1:x",
        ] {
            assert_eq!(Layout::parse(bad), None, "{bad}");
        }
    }
}
