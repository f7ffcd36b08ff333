//! The wgpu device's memory: what its pools hold (the benchmarks' GPU-memory figures), and small
//! i32 tensors written in place and read back (a decode step's state and ids).

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

/// Reads an i32 tensor back, each read started when asked for ([`Self::start`]): the copy to the
/// host is queued and submitted before `start` returns (cubecl's reads are eager), so launches
/// queued after it do not delay it. A text decode reads each step's id this way and queues the
/// next step before awaiting it, so the GPU runs that step while the host waits for the id.
pub struct I32Reader {
    tensor: CubeTensor,
    values: usize,
}

impl I32Reader {
    /// A reader of `tensor`'s buffer (the same buffer, as later launches write it).
    pub fn new<const D: usize>(tensor: &Tensor<D, Int>) -> Self {
        Self {
            values: tensor.shape().num_elements(),
            tensor: int_handle(tensor),
        }
    }

    /// Queue a read of the values as every launch issued so far leaves them.
    pub fn start(&self) -> impl Future<Output = Result<Vec<i32>, String>> + '_ {
        let read = (self.tensor.client).read_async(vec![self.tensor.handle.clone()]);
        let values = self.values;
        async move {
            let bytes = read.await.map_err(|e| format!("{e:?}"))?;
            let bytes = bytes.first().ok_or("a read returned no buffer")?;
            Ok(bytes
                .chunks_exact(4)
                .take(values)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect())
        }
    }
}
