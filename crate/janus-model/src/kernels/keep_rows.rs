//! `shaders/keep_rows.wgsl`: a decode step's logits kept as f32 in a buffer of their own, for
//! the host to read back when a chat asked for log-probabilities (reference: `cast(F32)`). The
//! step's own logits are scratch a recorded step reuses; this buffer outlives the steps.

use burn::backend::wgpu::CubeTensor;
use burn::cubecl::CubeCount;
use burn::cubecl::ir::attributes::BufferIOAttr;
use burn::cubecl::server::KernelArguments;
use burn::tensor::{DType, Device, Tensor};

use super::launch::{empty_like, float_handle, grid, launch_elem, params};
use super::memory::Reader;

const WGSL: &str = include_str!("../../../../shaders/keep_rows.wgsl");
const WORKGROUP: u32 = 256;

/// `[rows, columns]` f32 on the device, written by [`Self::keep`] and read by [`Self::reader`].
pub struct KeptRows {
    dst: CubeTensor,
}

impl KeptRows {
    /// An (uninitialised) buffer of `rows` × `columns` f32 on `device` (wgpu).
    pub fn new(device: &Device, rows: usize, columns: usize) -> Self {
        let probe = float_handle(Tensor::<1>::zeros([1], device));
        Self {
            dst: empty_like(&probe, vec![rows, columns], DType::F32),
        }
    }

    /// Copy `src` (`[rows, columns]`, f32 or f16) into the buffer: one launch, nothing
    /// allocated, nothing read back (a captured graph may hold it).
    pub fn keep(&self, src: Tensor<2>) {
        let src = float_handle(src);
        let values = src.meta.shape().num_elements();
        assert_eq!(
            values,
            self.dst.meta.shape().num_elements(),
            "kept rows of another shape"
        );
        let (gx, gy) = grid(values.div_ceil(WORKGROUP as usize));
        launch_elem(
            &src.client,
            (WGSL, src.dtype, WORKGROUP),
            CubeCount::Static(gx, gy, 1),
            KernelArguments::new()
                .with_buffer_io(src.handle.clone().binding(), BufferIOAttr::ReadOnly)
                .with_buffer_io(self.dst.handle.clone().binding(), BufferIOAttr::ReadWrite)
                .with_info(params(&[values, gx as usize])),
        );
    }

    /// A reader of the buffer, row-major, as the launches queued before each read leave it.
    pub fn reader(&self) -> Reader<f32> {
        Reader::of(self.dst.clone())
    }
}
