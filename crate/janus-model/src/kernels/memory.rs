//! What the wgpu device's memory pools hold, for the benchmarks' GPU-memory figures.

use burn::cubecl::MemoryScope;
use burn::tensor::{Device, Tensor};

use super::launch::float_handle;

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
