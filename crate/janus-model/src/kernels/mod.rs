//! Hand-written WGSL kernels (`shaders/`), launched through burn's kernel extension on the wgpu
//! backend (feature `wgpu-kernels`). Each has a plain-burn reference that runs on every device
//! (see [`crate::quant::device`]) and a test comparing the two (`tests/kernels.rs`).
//! How the launch works in burn 0.22: docs/burn-0.22-kernels.md.

pub mod qmatvec;

use burn::backend::{CubeDevice, DispatchDevice};
use burn::tensor::Device;

/// True when `device` is burn's wgpu backend, where the WGSL kernels can run.
pub fn on_wgpu(device: &Device) -> bool {
    matches!(
        device.as_dispatch(),
        DispatchDevice::Cube(CubeDevice::Wgpu(_))
    )
}
