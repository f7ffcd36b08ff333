//! Backend selection.

use burn::tensor::Device;

use crate::args::Backend;

pub fn open(backend: Backend) -> Result<Device, String> {
    match backend {
        Backend::Cpu => Ok(Device::flex()),
        Backend::Wgpu => wgpu(),
    }
}

#[cfg(feature = "wgpu")]
fn wgpu() -> Result<Device, String> {
    Device::wgpu_options()
        .init()
        .map_err(|e| format!("no usable wgpu adapter: {e}"))
}

#[cfg(not(feature = "wgpu"))]
fn wgpu() -> Result<Device, String> {
    Err("this build has no wgpu backend (rebuild with --features wgpu)".into())
}
