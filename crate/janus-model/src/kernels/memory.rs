//! The wgpu device's memory: what its pools hold (the benchmarks' GPU-memory figures), and small
//! i32 tensors written in place (a decode step's state and ids).

use burn::backend::Cube;
use burn::backend::wgpu::CubeTensor;
use burn::cubecl::MemoryScope;
use burn::tensor::{DType, Device, Int, Shape, Tensor};

use super::launch::{float_handle, int_handle};

/// Bytes in use by live tensors and bytes reserved from the device, over every stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryFigures {
    pub in_use: u64,
    pub reserved: u64,
}

/// The device's memory now (wgpu only).
pub fn memory_figures(device: &Device) -> MemoryFigures {
    let probe = float_handle(Tensor::<1>::zeros([1], device));
    let usage = probe.client.memory_report(MemoryScope::Device).usage();
    MemoryFigures {
        in_use: usage.bytes_in_use,
        reserved: usage.bytes_reserved,
    }
}

/// An i32 tensor of `shape` holding `values`, on the wgpu `device` (ids and decode state: the
/// kernels read them as i32 whatever burn's default int type).
pub fn i32_tensor<const D: usize>(
    device: &Device,
    shape: [usize; D],
    values: &[i32],
) -> Tensor<D, Int> {
    let probe = float_handle(Tensor::<1>::zeros([1], device));
    let client = probe.client.clone();
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let handle = client.create_from_slice(&bytes);
    Tensor::<D, Int>::from_primitive::<Cube>(CubeTensor::new_contiguous(
        client,
        probe.device.clone(),
        Shape::from(shape.to_vec()),
        handle,
        DType::I32,
    ))
}

/// Overwrite an i32 tensor's values in place (same buffer: what a captured graph reads), in
/// order after every launch already issued on this thread and before every later one.
pub fn write_i32<const D: usize>(tensor: &Tensor<D, Int>, values: &[i32]) {
    let t = int_handle(tensor);
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    t.client
        .write(&t.handle, burn::cubecl::bytes::Bytes::from_bytes_vec(bytes));
}
