//! `shaders/copy.wgsl`: the memory-bandwidth yardstick of the benchmarks. A buffer-to-buffer
//! copy in a compute shader moves 2 bytes per byte copied with the access pattern a
//! memory-bound kernel can best hope for; decode steps are reported as a fraction of it.

use burn::backend::wgpu::CubeTensor;
use burn::cubecl::CubeCount;
use burn::cubecl::ir::attributes::BufferIOAttr;
use burn::cubecl::server::KernelArguments;
use burn::tensor::{DType, Device, Int, Tensor};

use super::launch::{grid, int_handle, launch_elem, params};

const WGSL: &str = include_str!("../../../../shaders/copy.wgsl");
const WORKGROUP: u32 = 256;

/// Two device buffers of the same size, copied one into the other by [`CopyBench::run`].
pub struct CopyBench {
    src: CubeTensor,
    dst: CubeTensor,
    /// Bytes per buffer (a multiple of 16).
    pub bytes: usize,
}

impl CopyBench {
    /// Allocate two `bytes` buffers (rounded down to 16 bytes) on `device` (wgpu).
    pub fn new(device: &Device, bytes: usize) -> Self {
        let words = bytes / 16 * 4;
        Self {
            src: int_handle(&Tensor::<1, Int>::ones([words], device)),
            dst: int_handle(&Tensor::<1, Int>::zeros([words], device)),
            bytes: words * 4,
        }
    }

    /// Queue one copy of the whole buffer (`2 * bytes` moved); the caller syncs and times.
    pub fn run(&self) {
        let client = self.src.client.clone();
        let vectors = self.bytes / 16;
        let (gx, gy) = grid(vectors.div_ceil(WORKGROUP as usize));
        let params = params(&[vectors, gx as usize]);
        // The shader is not templated on the element type (it moves u32 words).
        launch_elem(
            &client,
            (WGSL, DType::F32, WORKGROUP),
            CubeCount::Static(gx, gy, 1),
            KernelArguments::new()
                .with_buffer_io(self.src.handle.clone().binding(), BufferIOAttr::ReadOnly)
                .with_buffer_io(self.dst.handle.clone().binding(), BufferIOAttr::ReadWrite)
                .with_info(params),
        );
    }

    /// True when the last copy arrived (every word of `dst` equals `src`'s ones).
    pub async fn verify(&self) -> bool {
        let dst = Tensor::<1, Int>::from_primitive::<burn::backend::Cube>(self.dst.clone());
        match dst.sum().into_data_async().await {
            Ok(d) => d
                .iter::<i64>()
                .next()
                .is_some_and(|s| s == (self.bytes / 4) as i64),
            Err(_) => false,
        }
    }
}
