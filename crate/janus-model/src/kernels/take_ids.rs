//! `shaders/take_ids.wgsl`: a decode step's input ids from the history of chosen ids, at the
//! column the decode state names (reference: `Tensor::slice` of that column).

use burn::backend::Cube;
use burn::cubecl::CubeCount;
use burn::cubecl::ir::attributes::BufferIOAttr;
use burn::cubecl::server::KernelArguments;
use burn::tensor::{DType, Int, Tensor};

use super::launch::{empty_like, int_handle, launch_elem, params};

const WGSL: &str = include_str!("../../../../shaders/take_ids.wgsl");

/// Column `state[1] - 1` of `history: [rows, columns]` (i32) -> `[rows, 1]` (i32).
pub fn take_ids(history: &Tensor<2, Int>, state: &Tensor<1, Int>) -> Tensor<2, Int> {
    let [rows, columns] = history.dims();
    let h = int_handle(history);
    let s = int_handle(state);
    // Uninitialised: every row is written. Nothing is uploaded, so a captured graph may hold it.
    let o = empty_like(&h, vec![rows, 1], DType::I32);
    launch_elem(
        &h.client,
        (WGSL, DType::F32, 64),
        CubeCount::Static(rows.div_ceil(64) as u32, 1, 1),
        KernelArguments::new()
            .with_buffer_io(h.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_buffer_io(s.handle.clone().binding(), BufferIOAttr::ReadOnly)
            .with_buffer_io(o.handle.clone().binding(), BufferIOAttr::ReadWrite)
            .with_info(params(&[rows, columns])),
    );
    Tensor::<2, Int>::from_primitive::<Cube>(o)
}
