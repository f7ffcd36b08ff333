//! What every kernel launch shares: the WGSL template, the 2-D grid, tensors as cubecl handles.

use burn::backend::Cube;
use burn::backend::wgpu::{CubeTensor, KernelSource, SourceTemplate, into_contiguous};
use burn::cubecl::prelude::KernelId;
use burn::tensor::{DType, Int, Tensor};

use crate::quant::QuantFormat;

/// Shared functions for reading packed weights, pasted into kernels at `{{ quant }}`.
const QUANT_WGSL: &str = include_str!("../../../../shaders/quant.wgsl");
/// WebGPU's limit on workgroups per grid dimension.
pub const MAX_GRID: usize = 65_535;

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
    /// Rows of `x` (`{{ batch }}`, the matrix-vector kernels; a constant so that their
    /// accumulators are registers, not memory).
    pub batch: u32,
}

impl KernelSource for QuantSource {
    fn source(&self) -> SourceTemplate {
        let f16 = self.elem == DType::F16;
        SourceTemplate::new(self.wgsl)
            .register("quant", QUANT_WGSL)
            .register("enable_f16", if f16 { "enable f16;" } else { "" })
            .register("elem", if f16 { "f16" } else { "f32" })
            .register("wg", self.workgroup.to_string())
            .register("lanes", self.lanes.to_string())
            .register("batch", self.batch.to_string())
            .register("bits", self.format.bits().to_string())
    }

    fn id(&self) -> KernelId {
        // The pipeline cache key: every template input.
        KernelId::new::<Self>().info((
            self.wgsl.as_ptr() as usize,
            self.elem == DType::F16,
            self.format.bits(),
            self.workgroup,
            self.lanes,
            self.batch,
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

/// An Int tensor (packed words) as a cubecl handle.
pub fn int_handle(t: &Tensor<1, Int>) -> CubeTensor {
    t.clone()
        .try_into_primitive::<Cube>()
        .expect("packed weights on the wgpu device (checked by the caller)")
}

/// Little-endian u32 words for a params buffer.
pub fn params(values: &[usize]) -> Vec<u8> {
    values
        .iter()
        .flat_map(|&v| (v as u32).to_le_bytes())
        .collect()
}

/// A WGSL source templated on the element type and workgroup size only.
#[derive(Debug)]
pub struct ElemSource {
    pub wgsl: &'static str,
    pub elem: DType,
    pub workgroup: u32,
}

impl KernelSource for ElemSource {
    fn source(&self) -> SourceTemplate {
        let f16 = self.elem == DType::F16;
        SourceTemplate::new(self.wgsl)
            .register("enable_f16", if f16 { "enable f16;" } else { "" })
            .register("elem", if f16 { "f16" } else { "f32" })
            .register("wg", self.workgroup.to_string())
    }

    fn id(&self) -> KernelId {
        KernelId::new::<Self>().info((
            self.wgsl.as_ptr() as usize,
            self.elem == DType::F16,
            self.workgroup,
        ))
    }

    fn lang(&self) -> &'static str {
        "wgsl"
    }
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
