//! `shaders/qmatvec.wgsl`: `y = x W^T` with `W` block-quantised (Q8 or Q4), one workgroup per
//! output value, dequantising in registers. The decode step's matrix products: every weight is
//! read once, at 4.5 or 8.5 bits instead of 16 or 32.

use burn::backend::Cube;
use burn::backend::wgpu::{
    CubeTensor, KernelSource, SourceKernel, SourceTemplate, into_contiguous,
};
use burn::cubecl::ir::attributes::BufferIOAttr;
use burn::cubecl::prelude::KernelId;
use burn::cubecl::server::KernelArguments;
use burn::cubecl::{CubeCount, CubeDim};
use burn::tensor::{DType, Int, Shape, Tensor};

use crate::quant::QuantFormat;

const WGSL: &str = include_str!("../../../../shaders/qmatvec.wgsl");
/// Invocations per workgroup (a power of two, at most WebGPU's 256).
const WORKGROUP: u32 = 64;
/// WebGPU's limit on workgroups per grid dimension.
const MAX_GRID: usize = 65_535;

#[derive(Debug)]
struct QMatVec {
    elem: DType,
    format: QuantFormat,
}

impl KernelSource for QMatVec {
    fn source(&self) -> SourceTemplate {
        let f16 = self.elem == DType::F16;
        SourceTemplate::new(WGSL)
            .register("enable_f16", if f16 { "enable f16;" } else { "" })
            .register("elem", if f16 { "f16" } else { "f32" })
            .register("wg", WORKGROUP.to_string())
            .register("bits", self.format.bits().to_string())
    }

    fn id(&self) -> KernelId {
        // The pipeline cache key: every template input.
        KernelId::new::<Self>().info((self.elem == DType::F16, self.format.bits(), WORKGROUP))
    }

    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// `x: [m, cols]` (f32 or f16, on wgpu) times the packed matrix (`codes`: the words as i32 bits,
/// `scales`: f16 pairs as i32 bits; [`crate::quant::device::QuantMatrix`]) -> `[m, rows]`.
pub fn qmatvec(
    x: Tensor<2>,
    codes: &Tensor<1, Int>,
    scales: &Tensor<1, Int>,
    rows: usize,
    format: QuantFormat,
) -> Tensor<2> {
    let [m, cols] = x.dims();
    let primitive = |t: Tensor<1, Int>| -> CubeTensor {
        t.try_into_primitive::<Cube>()
            .expect("qmatvec: the packed weights are on the wgpu device (checked by the caller)")
    };
    let x = into_contiguous(
        x.try_into_primitive::<Cube>()
            .expect("qmatvec: x is on the wgpu device (checked by the caller)"),
    );
    let (codes, scales) = (primitive(codes.clone()), primitive(scales.clone()));
    let client = x.client.clone();
    let dtype = x.dtype;
    let out = CubeTensor::new_contiguous(
        client.clone(),
        x.device.clone(),
        Shape::new([m, rows]),
        client.empty(m * rows * dtype.size()),
        dtype,
    );
    let grid_x = rows.clamp(1, MAX_GRID);
    let grid_y = rows.div_ceil(grid_x).max(1);
    let params: Vec<u8> = [m, rows, cols, grid_x]
        .iter()
        .flat_map(|&v| (v as u32).to_le_bytes())
        .collect();
    let params = client.create_from_slice(&params);
    client.launch(
        Box::new(SourceKernel::new(
            QMatVec {
                elem: dtype,
                format,
            },
            CubeDim::new_1d(WORKGROUP),
        )),
        CubeCount::Static(grid_x as u32, grid_y as u32, m as u32),
        // Inputs declared read-only: a failed launch then cannot mark the weights as written.
        KernelArguments::new()
            .with_buffer_io(codes.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_buffer_io(scales.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_buffer_io(x.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_buffer_io(out.handle.clone().binding(), BufferIOAttr::ReadWrite)
            .with_buffer_io(params.binding(), BufferIOAttr::ReadOnly),
    );
    Tensor::<2>::from_primitive::<Cube>(out)
}
