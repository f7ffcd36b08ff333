//! Values written into part of a device buffer: a tensor's rows as they arrive while it loads
//! (`weights::device_rows`). On wgpu with the kernels built in, a queue write at the byte offset
//! (what an upload is, no launch); elsewhere, or where WebGPU's 4-byte rule is not met, burn's
//! `slice_assign`, in place when the caller holds the only handle.

use burn::tensor::{Element, Int, Tensor, TensorData};
use bytemuck::NoUninit;

/// `tensor` with `values` (its element type) from element `at` on.
pub fn write_float<E: Element + NoUninit + Send + Sync>(
    tensor: Tensor<1>,
    at: usize,
    values: Vec<E>,
) -> Tensor<1> {
    #[cfg(feature = "wgpu-kernels")]
    if words(at, values.len(), size_of::<E>()) && crate::kernels::on_wgpu(&tensor.device()) {
        crate::kernels::memory::write_float_at(&tensor, at, values);
        return tensor;
    }
    let (n, device, dtype) = (values.len(), tensor.device(), tensor.dtype());
    let part = Tensor::from_data(TensorData::new(values, [n]), (&device, dtype));
    tensor.slice_assign(at..at + n, part)
}

/// [`write_float`] for an i32 tensor (packed words, scale pairs).
pub fn write_i32(tensor: Tensor<1, Int>, at: usize, values: Vec<i32>) -> Tensor<1, Int> {
    #[cfg(feature = "wgpu-kernels")]
    if crate::kernels::on_wgpu(&tensor.device()) {
        crate::kernels::memory::write_i32_at(&tensor, at, values);
        return tensor;
    }
    let (n, device, dtype) = (values.len(), tensor.device(), tensor.dtype());
    let part = Tensor::from_data(TensorData::new(values, [n]), (&device, dtype));
    tensor.slice_assign(at..at + n, part)
}

/// True when `n` elements of `size` bytes from element `at` are whole 4-byte words.
#[cfg(feature = "wgpu-kernels")]
fn words(at: usize, n: usize, size: usize) -> bool {
    (at * size).is_multiple_of(4) && (n * size).is_multiple_of(4)
}
