//! `shaders/qembed.wgsl`: rows of a block-quantised lookup table with f32 scales (the token
//! embedding) unpacked in one launch (reference: `QuantMatrix::select`'s plain-burn unpacking).

use burn::backend::Cube;
use burn::backend::wgpu::SourceKernel;
use burn::cubecl::ir::attributes::BufferIOAttr;
use burn::cubecl::server::KernelArguments;
use burn::cubecl::{CubeCount, CubeDim};
use burn::tensor::{DType, Int, Tensor};

use super::launch::{
    Epilogue, QuantSource, dequant_mode, empty_like, float_handle, grid, int_handle, params,
};
use crate::quant::QuantFormat;

const WGSL: &str = include_str!("../../../../shaders/qembed.wgsl");
const WORKGROUP: u32 = 256;

/// Rows `ids: [N]` of the `[rows, cols]` table held as `codes` (words, i32 bits) and f32
/// `scales` (one per block of 32) -> `[N, cols]` f32.
pub fn lookup(
    codes: &Tensor<1, Int>,
    scales: &Tensor<1>,
    ids: Tensor<1, Int>,
    (rows, cols): (usize, usize),
    format: QuantFormat,
) -> Tensor<2> {
    let n = ids.dims()[0];
    let words = cols * format.bits() / 32;
    let (codes, ids) = (int_handle(codes), int_handle(&ids));
    let scales = float_handle(scales.clone());
    let out = empty_like(&scales, vec![n, cols], DType::F32);
    let client = scales.client.clone();
    let (gx, gy) = grid((n * words).div_ceil(WORKGROUP as usize));
    client.launch(
        Box::new(SourceKernel::new(
            // The quantised kernels' template (it fills `bits` and `wg`; the element type is
            // the output's, f32).
            QuantSource {
                wgsl: WGSL,
                elem: DType::F32,
                format,
                workgroup: WORKGROUP,
                lanes: 1,
                rows: 1,
                batch: 1,
                unroll: 1,
                epilogue: Epilogue::none(4),
                dequant: dequant_mode(),
            },
            CubeDim::new_1d(WORKGROUP),
        )),
        CubeCount::Static(gx, gy, 1),
        KernelArguments::new()
            .with_buffer_io(codes.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_buffer_io(scales.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_buffer_io(ids.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_buffer_io(out.handle.clone().binding(), BufferIOAttr::ReadWrite)
            .with_info(params(&[n * words, words, rows, gx as usize])),
    );
    Tensor::<2>::from_primitive::<Cube>(out)
}
