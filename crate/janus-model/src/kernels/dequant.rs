//! `shaders/dequant.wgsl`: the dense `[rows, cols]` values of a packed matrix, for products
//! with many rows of `x` (prefill), where burn's tiled matmul on the dense copy beats reading the
//! packed weights once per row.

use burn::backend::Cube;
use burn::backend::wgpu::{CubeTensor, SourceKernel};
use burn::cubecl::ir::attributes::BufferIOAttr;
use burn::cubecl::server::KernelArguments;
use burn::cubecl::{CubeCount, CubeDim};
use burn::tensor::{DType, Int, Shape, Tensor};

use super::launch::{Epilogue, QuantSource, dequant_mode, grid, int_handle, params};
use crate::quant::QuantFormat;

const WGSL: &str = include_str!("../../../../shaders/dequant.wgsl");
const WORKGROUP: u32 = 256;

/// The packed `[rows, cols]` matrix (`codes`, `scales` as in [`super::qmatvec::qmatvec`]) in
/// `dtype` (f32 or f16).
pub fn dequantize(
    codes: &Tensor<1, Int>,
    scales: &Tensor<1, Int>,
    rows: usize,
    cols: usize,
    format: QuantFormat,
    dtype: DType,
) -> Tensor<2> {
    let (codes, scales) = (int_handle(codes), int_handle(scales));
    let client = codes.client.clone();
    let out = CubeTensor::new_contiguous(
        client.clone(),
        codes.device.clone(),
        Shape::new([rows, cols]),
        client.empty(rows * cols * dtype.size()),
        dtype,
    );
    // 16-byte loads of codes: 128 bits each.
    let loads = rows * cols * format.bits() / 128;
    let (gx, gy) = grid(loads.div_ceil(WORKGROUP as usize));
    let params = params(&[loads, gx as usize]);
    client.launch(
        Box::new(SourceKernel::new(
            QuantSource {
                wgsl: WGSL,
                elem: dtype,
                format,
                workgroup: WORKGROUP,
                lanes: 1,
                rows: 1,
                batch: 1,
                unroll: 1,
                epilogue: Epilogue::none(3),
                dequant: dequant_mode(),
            },
            CubeDim::new_1d(WORKGROUP),
        )),
        CubeCount::Static(gx, gy, 1),
        KernelArguments::new()
            .with_buffer_io(codes.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_buffer_io(scales.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_buffer_io(out.handle.clone().binding(), BufferIOAttr::ReadWrite)
            .with_info(params),
    );
    Tensor::<2>::from_primitive::<Cube>(out)
}
