//! What every kernel launch shares: the WGSL template, the 2-D grid, tensors as cubecl handles.

use std::borrow::Cow;
use std::cell::Cell;

use burn::backend::Cube;
use burn::backend::wgpu::{
    CubeTensor, KernelSource, SourceKernel, SourceTemplate, into_contiguous,
};
use burn::cubecl::client::Client;
use burn::cubecl::prelude::KernelId;
use burn::cubecl::server::KernelArguments;
use burn::cubecl::server::MetadataBindingInfo;
use burn::cubecl::{CubeCount, CubeDim};
use burn::tensor::{DType, Int, Tensor};

use crate::quant::QuantFormat;

/// Shared functions for reading packed weights, pasted into kernels at `{{ quant }}`.
const QUANT_WGSL: &str = include_str!("../../../../shaders/quant.wgsl");
/// The q/k/v product's rotation and cache write, appended to `qmatvec_flat.wgsl` ([`Epilogue`]).
const ROPE_WGSL: &str = include_str!("../../../../shaders/qmatvec_rope.wgsl");
/// WebGPU's limit on workgroups per grid dimension.
pub const MAX_GRID: usize = 65_535;

/// How the quantised kernels make their codes floats (`shaders/quant.wgsl`, `codes4`): both
/// give the same values exactly, so only speed tells them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dequant {
    /// The bits `0x4B000000 | code` are the float `2^23 + code`: a logic op and a float
    /// subtraction per code, no conversion (the default). An integer-to-float conversion runs
    /// at 16 per clock per SM on NVIDIA's recent GPUs, an eighth of the float rate, and the
    /// matrix-vector products pay one per weight; on an H200 `lm_head` read at 0.48 of the copy
    /// rate (BENCHMARKS.md). Not yet timed on a GPU in the flat walk; in the layout before it
    /// (`shared`, bound by its arrays in memory) it changed nothing.
    Exponent,
    /// An integer-to-float conversion per code (the kernels before; `JANUS_DEQUANT=convert`
    /// for measurements).
    Convert,
}

impl Dequant {
    /// `exponent` or `convert`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "exponent" => Some(Dequant::Exponent),
            "convert" => Some(Dequant::Convert),
            _ => None,
        }
    }
}

thread_local! {
    /// Per thread, like the matrix-vector layout.
    static DEQUANT: Cell<Dequant> = const { Cell::new(Dequant::Exponent) };
}

/// Set how later launches from this thread make codes floats.
pub fn set_dequant(dequant: Dequant) {
    DEQUANT.with(|d| d.set(dequant));
}

/// How this thread's launches make codes floats.
pub fn dequant_mode() -> Dequant {
    DEQUANT.with(Cell::get)
}

/// A WGSL source with the template values the quantised kernels share.
#[derive(Debug)]
pub struct QuantSource {
    pub wgsl: &'static str,
    pub elem: DType,
    pub format: QuantFormat,
    pub workgroup: u32,
    /// Invocations per output row (`{{ lanes }}`, kernels that use it; a power of two dividing
    /// `workgroup`).
    pub lanes: u32,
    /// Output rows per group of `lanes` invocations (`{{ rows }}`, the matrix-vector kernels).
    pub rows: u32,
    /// Rows of `x` (`{{ batch }}`, the matrix-vector kernels; a constant so that their
    /// accumulators are registers, not memory).
    pub batch: u32,
    /// Loads per trip (`{{ unroll }}`, `qmatvec_flat.wgsl`; 1 elsewhere).
    pub unroll: u32,
    /// What the flat matrix-vector kernels do besides the product (none elsewhere).
    pub epilogue: Epilogue,
    /// How codes become floats (`{{ exponent }}` in `shaders/quant.wgsl`).
    pub dequant: Dequant,
}

/// What a flat matrix-vector kernel (`shaders/qmatvec_flat.wgsl`, `qmatvec_swiglu_flat.wgsl`)
/// does besides its product, each saving a launch of its own in decode: the RMSNorm of its
/// input (`norm`: x is the residual stream, the norm weight a binding of its own), the
/// residual connection after it (`residual`: y = r + product, `qmatvec_flat.wgsl` only) and
/// the rotation and cache write after the joint q/k/v product (`rope`:
/// `shaders/qmatvec_rope.wgsl` appended, the caches and the decode state its bindings;
/// `qmatvec_flat.wgsl` only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Epilogue {
    pub norm: bool,
    pub residual: bool,
    pub rope: bool,
    /// The kernel's buffers before these (its first binding; `params` follows them).
    pub first_binding: u32,
}

impl Epilogue {
    /// Nothing besides the product, for a kernel of `buffers` bindings before `params`.
    pub fn none(buffers: u32) -> Self {
        Self {
            first_binding: buffers,
            ..Self::default()
        }
    }

    /// The template values `epilogue_bindings`, `params_binding`, `norm`, `residual`, `rope`,
    /// `gain_body`, `residual_body` and `rope_body`, and with `rope` the appended
    /// `qmatvec_rope.wgsl` and its bindings' numbers (`elem`: the working type's WGSL name).
    fn register(self, template: SourceTemplate, elem: &str) -> SourceTemplate {
        let mut next = self.first_binding;
        let mut bindings = String::new();
        let mut bind = |decl: String| {
            bindings += &format!("@group(0) @binding({next}) var<storage, read_write> {decl};\n");
            next += 1;
        };
        if self.norm {
            bind(format!("gain_w: array<vec4<{elem}>>"));
        }
        if self.residual {
            bind(format!("resid: array<{elem}>"));
        }
        let mut template = template;
        if self.rope {
            // The caches and the state, in that order, after the others.
            template = template
                .add_template(ROPE_WGSL)
                .register("k_cache_binding", next.to_string())
                .register("v_cache_binding", (next + 1).to_string())
                .register("state_binding", (next + 2).to_string());
            next += 3;
        }
        template
            .register("epilogue_bindings", bindings)
            .register("params_binding", next.to_string())
            .register("norm", u32::from(self.norm).to_string())
            .register("residual", u32::from(self.residual).to_string())
            .register("rope", u32::from(self.rope).to_string())
            .register(
                "rope_body",
                if self.rope {
                    "rope_write(b, row, value, partner);"
                } else {
                    ""
                },
            )
            .register(
                "gain_body",
                if self.norm {
                    "return vec4<f32>(gain_w[l * (PER_LOAD / 4u) + v]);"
                } else {
                    "return vec4<f32>(1.0);"
                },
            )
            .register(
                "residual_body",
                if self.residual {
                    "return f32(resid[i]);"
                } else {
                    "return 0.0;"
                },
            )
    }
}

impl KernelSource for QuantSource {
    fn source(&self) -> SourceTemplate {
        let f16 = self.elem == DType::F16;
        let template = SourceTemplate::new(self.wgsl)
            // One pass fills the template, so quant.wgsl's own value goes in first.
            .register(
                "quant",
                QUANT_WGSL.replace(
                    "{{ exponent }}",
                    if self.dequant == Dequant::Exponent {
                        "1"
                    } else {
                        "0"
                    },
                ),
            )
            .register("enable_f16", if f16 { "enable f16;" } else { "" })
            .register("elem", if f16 { "f16" } else { "f32" })
            .register("wg", self.workgroup.to_string())
            .register("lanes", self.lanes.to_string())
            .register("rows", self.rows.to_string())
            .register("batch", self.batch.to_string())
            .register("unroll", self.unroll.to_string())
            .register("bits", self.format.bits().to_string());
        self.epilogue
            .register(template, if f16 { "f16" } else { "f32" })
    }

    fn id(&self) -> KernelId {
        // The pipeline cache key: every template input.
        KernelId::new::<Self>().info((
            self.wgsl.as_ptr() as usize,
            self.elem == DType::F16,
            self.format.bits(),
            self.workgroup,
            self.lanes,
            self.rows,
            self.batch,
            self.unroll,
            self.epilogue,
            self.dequant,
        ))
    }

    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// `workgroups` laid out as `(x, y)` with `x <= 65,535`; kernels index `y * x + x_id`.
pub fn grid(workgroups: usize) -> (u32, u32) {
    let x = workgroups.clamp(1, MAX_GRID);
    (x as u32, workgroups.div_ceil(x).max(1) as u32)
}

/// A float tensor as a contiguous cubecl handle (the caller has checked it is on wgpu).
pub fn float_handle<const D: usize>(t: Tensor<D>) -> CubeTensor {
    into_contiguous(
        t.try_into_primitive::<Cube>()
            .expect("kernel input on the wgpu device (checked by the caller)"),
    )
}

/// An Int tensor (packed words, ids, decode state) as a cubecl handle sharing its buffer.
pub fn int_handle<const D: usize>(t: &Tensor<D, Int>) -> CubeTensor {
    t.clone()
        .try_into_primitive::<Cube>()
        .expect("int tensor on the wgpu device (checked by the caller)")
}

/// A launch's parameters (each a u32: counts, or f32 bits) as its info words: cubecl stages
/// them in a uniform-pool buffer bound after the launch's tensors (the shaders' last binding,
/// `var<storage, read> params: array<u32>`), cached by value and reused by every launch with the
/// same words. Unlike a buffer created per launch this costs no allocation or upload on the
/// hot path, and it is what a captured graph (`kernels::graph`) may hold: nothing can be
/// allocated or written while one records.
pub fn info(values: &[u32]) -> MetadataBindingInfo {
    // The info words are u64: two parameters each, the first in the low half (little-endian
    // memory then reads as the u32 array in order).
    let words = values
        .chunks(2)
        .map(|pair| u64::from(pair[0]) | u64::from(pair.get(1).copied().unwrap_or(0)) << 32)
        .collect();
    MetadataBindingInfo::custom(words)
}

/// [`info`] of sizes and counts (each below 2^32 on any adapter).
pub fn params(values: &[usize]) -> MetadataBindingInfo {
    let words: Vec<u32> = values.iter().map(|&v| v as u32).collect();
    info(&words)
}

/// A WGSL source and its template values: `{{ enable_f16 }}` and `{{ elem }}` from the element
/// type, `{{ wg }}` the invocations per workgroup, named integer constants (`with`) and fixed
/// snippets (`with_text`). Every kernel but the quantised ones ([`QuantSource`]) is launched
/// through it. Decode launches it every step: a snippet is borrowed, not allocated.
#[derive(Debug)]
pub struct TemplateSource {
    wgsl: &'static str,
    elem: DType,
    workgroup: u32,
    values: Vec<(&'static str, Cow<'static, str>)>,
}

impl TemplateSource {
    /// `wgsl` in `elem` (F16 or F32) with `workgroup` invocations per workgroup.
    pub fn new(wgsl: &'static str, elem: DType, workgroup: u32) -> Self {
        Self {
            wgsl,
            elem,
            workgroup,
            values: Vec::new(),
        }
    }

    /// `{{ name }}` becomes `value`.
    pub fn with(mut self, name: &'static str, value: u32) -> Self {
        self.values.push((name, Cow::Owned(value.to_string())));
        self
    }

    /// `{{ name }}` becomes `text` (a type or an expression).
    pub fn with_text(mut self, name: &'static str, text: &'static str) -> Self {
        self.values.push((name, Cow::Borrowed(text)));
        self
    }

    /// Launch on `count` workgroups.
    pub fn launch(self, client: &Client, count: CubeCount, args: KernelArguments) {
        let dim = CubeDim::new_1d(self.workgroup);
        client.launch(Box::new(SourceKernel::new(self, dim)), count, args);
    }
}

impl KernelSource for TemplateSource {
    fn source(&self) -> SourceTemplate {
        let f16 = self.elem == DType::F16;
        let template = SourceTemplate::new(self.wgsl)
            .register("enable_f16", if f16 { "enable f16;" } else { "" })
            .register("elem", if f16 { "f16" } else { "f32" })
            .register("wg", self.workgroup.to_string());
        self.values
            .iter()
            .fold(template, |t, (name, text)| t.register(*name, text.as_ref()))
    }

    fn id(&self) -> KernelId {
        // The pipeline cache key: every template input.
        KernelId::new::<Self>().info((
            self.wgsl.as_ptr() as usize,
            self.elem == DType::F16,
            self.workgroup,
            self.values.clone(),
        ))
    }

    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// Launch a kernel whose WGSL is templated on the element type and workgroup size only:
/// `(wgsl, elem, workgroup)`, on `count` workgroups of `workgroup` invocations.
pub fn launch_elem(
    client: &Client,
    (wgsl, elem, workgroup): (&'static str, DType, u32),
    count: CubeCount,
    args: KernelArguments,
) {
    TemplateSource::new(wgsl, elem, workgroup).launch(client, count, args);
}

/// An uninitialised contiguous output tensor of `shape` on `like`'s device.
pub fn empty_like(like: &CubeTensor, shape: Vec<usize>, dtype: DType) -> CubeTensor {
    let client = like.client.clone();
    let bytes = shape.iter().product::<usize>() * dtype.size();
    CubeTensor::new_contiguous(
        client.clone(),
        like.device.clone(),
        burn::tensor::Shape::from(shape),
        client.empty(bytes),
        dtype,
    )
}
