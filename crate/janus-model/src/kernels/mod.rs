//! Hand-written WGSL kernels (`shaders/`), launched through burn's kernel extension on the wgpu
//! backend (feature `wgpu-kernels`). Each has a plain-burn reference that runs on every device
//! (see [`crate::quant::device`]) and a test comparing the two (`janus_conformance::kernels`).
//! How the launch works in burn 0.22: docs/burn-0.22-kernels.md.

pub mod attention;
pub mod conv2d;
pub mod copy;
pub mod dequant;
pub mod graph;
pub mod group_norm;
pub mod keep_rows;
mod launch;
pub mod memory;
pub mod qembed;
pub mod qmatvec;
pub mod rms_norm;
pub mod rope;
pub mod rope_kv;
pub mod sample;
pub mod swiglu;
pub mod take_ids;

pub use launch::{Dequant, dequant_mode, set_dequant};

use burn::backend::{CubeDevice, DispatchDevice};
use burn::tensor::Device;

/// Every kernel setting chosen by adapter type, for later launches from this thread: the
/// matrix-vector layout ([`qmatvec::Layout::for_adapter`]), the VQ convolution's tile
/// ([`conv2d::pixels_for_adapter`]), the decode attention's chunk and lanes
/// ([`attention::chunk_for_adapter`], [`attention::lanes_for_adapter`]) and the norms' walk
/// ([`rms_norm::Walk::for_adapter`]); codes become floats by the exponent trick on every
/// adapter ([`Dequant`]). `cpu_adapter`: a CPU implementation of the API
/// (SwiftShader, lavapipe), which wants other shapes than a GPU (BENCHMARKS.md). Called once
/// where a device is opened; measurements may then override a setting.
pub fn set_for_adapter(cpu_adapter: bool) {
    qmatvec::set_layout(qmatvec::Layout::for_adapter(cpu_adapter));
    conv2d::set_pixels(conv2d::pixels_for_adapter(cpu_adapter));
    attention::set_chunk(attention::chunk_for_adapter(cpu_adapter));
    attention::set_lanes(attention::lanes_for_adapter(cpu_adapter));
    rms_norm::set_walk(rms_norm::Walk::for_adapter(cpu_adapter));
    set_dequant(Dequant::Exponent);
}

/// True when `device` is burn's wgpu backend, where the WGSL kernels can run.
pub fn on_wgpu(device: &Device) -> bool {
    matches!(
        device.as_dispatch(),
        DispatchDevice::Cube(CubeDevice::Wgpu(_))
    )
}
