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
    wgpu_described().map(|opened| opened.device)
}

/// The device and what the benchmarks say about it.
pub struct Opened {
    pub device: Device,
    /// Adapter name and graphics API, or "CPU (burn flex)".
    pub adapter: String,
    pub wgpu: bool,
    pub shader_f16: bool,
    /// Largest buffer one tensor may use.
    pub max_tensor_bytes: u64,
}

pub fn open_described(backend: Backend) -> Result<Opened, String> {
    match backend {
        Backend::Cpu => Ok(Opened {
            device: Device::flex(),
            adapter: "CPU (burn flex)".into(),
            wgpu: false,
            shader_f16: false,
            max_tensor_bytes: u64::MAX,
        }),
        Backend::Wgpu => wgpu_described(),
    }
}

#[cfg(feature = "wgpu")]
fn wgpu_described() -> Result<Opened, String> {
    let (device, setup) = Device::wgpu_options()
        .init_with_setup()
        .map_err(|e| format!("no usable wgpu adapter: {e}"))?;
    let info = setup.adapter.get_info();
    let limits = setup.device.limits();
    // The kernels' settings by adapter type (janus_model::kernels::set_for_adapter), then the
    // overrides for measurements: JANUS_QMATVEC (`flat:LANES:UNROLL[:ROWS]` or `vector:ROWS`),
    // JANUS_CONV_PIXELS (4 or 8), JANUS_ATTN_CHUNK (`CHUNK[:LANES]`: 16, 32, 64 or 128
    // positions per chunk; 1, 2, 4 or 8 invocations per position), JANUS_NORM_WALK
    // (`WORKGROUP:PER`, the norms' walk).
    use janus_model::kernels::{attention, conv2d, qmatvec, rms_norm};
    let cpu = info.device_type == burn::tensor::wgpu::wgpu::DeviceType::Cpu;
    janus_model::kernels::set_for_adapter(cpu);
    let var = |name: &str| std::env::var(name).ok();
    if let Some(layout) = var("JANUS_QMATVEC").and_then(|v| qmatvec::Layout::parse(&v)) {
        qmatvec::set_layout(layout);
    }
    if let Some(pixels) = var("JANUS_CONV_PIXELS").and_then(|v| v.parse().ok()) {
        conv2d::set_pixels(pixels);
    }
    if let Some((chunk, lanes)) = var("JANUS_ATTN_CHUNK").and_then(|v| attention::parse(&v)) {
        attention::set_chunk(chunk);
        if let Some(lanes) = lanes {
            attention::set_lanes(lanes);
        }
    }
    if let Some(walk) = var("JANUS_NORM_WALK").and_then(|v| rms_norm::Walk::parse(&v)) {
        rms_norm::set_walk(walk);
    }
    // JANUS_DEQUANT=convert: codes made floats by conversion, not the exponent trick.
    if let Some(dequant) =
        var("JANUS_DEQUANT").and_then(|v| janus_model::kernels::Dequant::parse(&v))
    {
        janus_model::kernels::set_dequant(dequant);
    }
    // Decode steps recorded once and replayed (kernels::graph); JANUS_GRAPHS=0 launches every
    // step anew (measurements).
    janus_model::kernels::graph::set_enabled(std::env::var("JANUS_GRAPHS").as_deref() != Ok("0"));
    // Each text step's id read back while the GPU runs the next step; JANUS_OVERLAP=0 reads it
    // before queuing the next (measurements).
    janus_model::generate::on_device::set_overlap(var("JANUS_OVERLAP").as_deref() != Some("0"));
    // Decode's norms and residual connections inside the products (the flat layout);
    // JANUS_FUSE=0 runs them as kernels of their own (measurements).
    qmatvec::set_fusing(var("JANUS_FUSE").as_deref() != Some("0"));
    // Within that, the rotation and cache write inside the q/k/v product; JANUS_FUSE_ROPE=0
    // runs them as a kernel of their own, rope_kv (measurements).
    qmatvec::set_rope_fusing(var("JANUS_FUSE_ROPE").as_deref() != Some("0"));
    Ok(Opened {
        device,
        adapter: format!("{} ({:?}, {})", info.name, setup.backend, info.driver),
        wgpu: true,
        shader_f16: setup
            .device
            .features()
            .contains(burn::tensor::wgpu::wgpu::Features::SHADER_F16),
        max_tensor_bytes: limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size),
    })
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_described() -> Result<Opened, String> {
    wgpu().map(|_| unreachable!())
}

#[cfg(not(feature = "wgpu"))]
fn wgpu() -> Result<Device, String> {
    Err("this build has no wgpu backend (rebuild with --features wgpu)".into())
}
