//! The wgpu device's memory: what its pools hold (the benchmarks' GPU-memory figures), and small
//! i32 tensors written in place and read back (a decode step's state and ids).

use burn::backend::Cube;
use burn::backend::wgpu::CubeTensor;
use burn::cubecl::MemoryScope;
use burn::cubecl::bytes::Bytes;
use burn::tensor::{DType, Device, Int, Shape, Tensor};
use bytemuck::NoUninit;

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
    write_at(int_handle(tensor), 0, values.to_vec());
}

/// Write `values` into a float tensor's buffer from element `at` on, in place: a queue write
/// (what an upload is), no launch, after every launch already issued on this thread. WebGPU
/// writes whole 4-byte words: the caller checks the offset and length in bytes are multiples
/// of 4 and that `E` is the tensor's element type.
pub fn write_float_at<E: NoUninit + Send + Sync>(tensor: &Tensor<1>, at: usize, values: Vec<E>) {
    write_at(float_handle(tensor.clone()), at * size_of::<E>(), values);
}

/// [`write_float_at`] for an i32 tensor (packed words, scale pairs).
pub fn write_i32_at(tensor: &Tensor<1, Int>, at: usize, values: Vec<i32>) {
    write_at(int_handle(tensor), at * size_of::<i32>(), values);
}

/// `values` written at byte `offset` of `t`'s buffer. The handle is narrowed to exactly those
/// bytes at both ends: cubecl writes the whole range a handle names, so a handle naming the
/// rest of the tensor would stage (and write) everything after `offset` at every write, which
/// is quadratic in the rows and holds a tensor-sized staging copy in wasm memory.
fn write_at<E: NoUninit + Send + Sync>(t: CubeTensor, offset: usize, values: Vec<E>) {
    let bytes = Bytes::from_elems(values);
    let (offset, len) = (offset as u64, bytes.len() as u64);
    // The tensor's bytes are what its handle's offsets leave of its buffer; both offsets add.
    let after = t.handle.size_in_used() - offset - len;
    let handle = t.handle.offset_start(offset).offset_end(after);
    t.client.write(&handle, bytes);
}

/// Reads a tensor's buffer back as `T` values, each read started when asked for
/// ([`Self::start`]): the copy to the host is queued and submitted before `start` returns
/// (cubecl's reads are eager), so launches queued after it do not delay it. A text decode reads
/// each step's id this way ([`I32Reader`]) and queues the next step before awaiting it, so the
/// GPU runs that step while the host waits for the id.
pub struct Reader<T> {
    tensor: CubeTensor,
    values: usize,
    kind: std::marker::PhantomData<T>,
}

/// A reader of ids and decode state.
pub type I32Reader = Reader<i32>;

impl I32Reader {
    /// A reader of `tensor`'s buffer (the same buffer, as later launches write it).
    pub fn new<const D: usize>(tensor: &Tensor<D, Int>) -> Self {
        Self::of(int_handle(tensor))
    }
}

impl<T: bytemuck::Pod> Reader<T> {
    /// A reader of `tensor`'s buffer, whose elements are `T`s.
    pub fn of(tensor: CubeTensor) -> Self {
        Self {
            values: tensor.meta.shape().num_elements(),
            tensor,
            kind: std::marker::PhantomData,
        }
    }

    /// Queue a read of the values as every launch issued so far leaves them.
    pub fn start(&self) -> impl Future<Output = Result<Vec<T>, String>> + '_ {
        let read = (self.tensor.client).read_async(vec![self.tensor.handle.clone()]);
        let values = self.values;
        async move {
            let bytes = read.await.map_err(|e| format!("{e:?}"))?;
            let bytes = bytes.first().ok_or("a read returned no buffer")?;
            Ok(bytes
                .chunks_exact(size_of::<T>())
                .take(values)
                .map(bytemuck::pod_read_unaligned)
                .collect())
        }
    }
}
