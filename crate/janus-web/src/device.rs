//! The WebGPU device: one per wasm instance, created with the adapter's own limits (burn's wgpu
//! runtime requests `adapter.limits()` and every adapter feature, `shader-f16` included), and
//! described to the page: adapter, f16 support, the buffer limits that decide tensor splitting.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use burn::tensor::Device;
use burn::tensor::wgpu::wgpu;
use janus_model::WorkingDtype;

use crate::error::{WebError, codes};

/// What the page is told about the GPU.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceInfo {
    pub adapter: String,
    pub backend: String,
    /// The adapter offers `shader-f16` (half-precision weights and activations).
    pub shader_f16: bool,
    pub max_buffer_size: u64,
    pub max_storage_buffer_binding_size: u64,
    /// The largest tensor (or row block) the engine puts in one buffer.
    pub max_tensor_bytes: u64,
}

impl DeviceInfo {
    /// f16 where the adapter has it, unless the caller insists on f32.
    pub fn working_dtype(&self, wanted: DtypeChoice) -> Result<WorkingDtype, WebError> {
        match wanted {
            DtypeChoice::Auto if self.shader_f16 => Ok(WorkingDtype::F16),
            DtypeChoice::Auto | DtypeChoice::F32 => Ok(WorkingDtype::F32),
            DtypeChoice::F16 if self.shader_f16 => Ok(WorkingDtype::F16),
            DtypeChoice::F16 => Err(WebError::new(
                codes::DEVICE,
                "f16 was requested but this GPU does not offer shader-f16",
            )),
        }
    }
}

/// The working precision the page asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DtypeChoice {
    #[default]
    Auto,
    F32,
    F16,
}

/// The device and what is known about it.
pub struct Gpu {
    pub device: Device,
    pub info: DeviceInfo,
    /// Set by wgpu's device-lost callback: the reason, once the device is gone.
    lost: Arc<Mutex<Option<String>>>,
    /// The wgpu device under burn's, for the device-loss test hook.
    raw: wgpu::Device,
}

impl Gpu {
    /// `Err(device-lost)` once the device is gone: nothing on it can run again.
    pub fn check_alive(&self) -> Result<(), WebError> {
        match self.lost_reason() {
            Some(reason) => Err(WebError::new(
                codes::DEVICE_LOST,
                format!("the GPU device was lost ({reason}); start a new engine to continue"),
            )),
            None => Ok(()),
        }
    }

    fn lost_reason(&self) -> Option<String> {
        self.lost.lock().map(|l| l.clone()).unwrap_or(None)
    }

    /// A failure seen while the device was being lost is the loss (`device-lost`, the same
    /// message as [`Gpu::check_alive`]'s): the GPU work fails first
    /// (a readback's map is refused), and the loss itself is announced a moment later. Lets the
    /// event loop run for 50 ms so that the announcement can arrive, then classifies.
    pub async fn classify(&self, error: WebError) -> WebError {
        if error.code != codes::DEVICE && error.code != codes::INTERNAL {
            return error;
        }
        yield_now().await;
        // The failure itself (a refused map, a poisoned stream) is only the loss's echo.
        self.check_alive().err().unwrap_or(error)
    }
}

/// Let the event loop run for a moment (`setTimeout`, 50 ms: the loss notification crosses from
/// the GPU process as a task, after the failed readback). Only failures wait here.
async fn yield_now() {
    use wasm_bindgen::{JsCast, JsValue};
    if !cfg!(target_arch = "wasm32") {
        return;
    }
    let wait = js_sys::Promise::new(&mut |resolve, _| {
        let global = js_sys::global();
        let timer = js_sys::Reflect::get(&global, &"setTimeout".into())
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
        let scheduled =
            timer.is_some_and(|f| f.call2(&global, &resolve, &JsValue::from(50)).is_ok());
        if !scheduled {
            let _ = resolve.call0(&JsValue::UNDEFINED);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(wait).await;
}

/// The instance's GPU, if it has been opened.
pub fn current() -> Option<Rc<Gpu>> {
    GPU.with(|g| g.borrow().clone())
}

/// Why the instance's device was lost, once it has been.
pub fn lost_reason() -> Option<String> {
    current().and_then(|gpu| gpu.lost_reason())
}

/// Destroy the instance's device (the test hook `debugLoseDevice`); false when there is none.
pub fn destroy_for_test() -> bool {
    current().is_some_and(|gpu| {
        gpu.raw.destroy();
        true
    })
}

thread_local! {
    // burn registers one wgpu runtime per device selector and cannot re-initialise it.
    static GPU: RefCell<Option<Rc<Gpu>>> = const { RefCell::new(None) };
}

/// The instance's GPU, created on first use.
pub async fn open() -> Result<Rc<Gpu>, WebError> {
    crate::ensure_started();
    if let Some(gpu) = current() {
        return Ok(gpu);
    }
    check_webgpu_present()?;
    let (device, setup) = Device::wgpu_options()
        .init_with_setup_async()
        .await
        .map_err(|e| {
            use burn::tensor::wgpu::WgpuInitError;
            match &e {
                // Chrome without WebGPU enabled, or a machine whose GPU is blocklisted.
                WgpuInitError::AdapterUnavailable { .. } => WebError::new(
                    codes::NO_WEBGPU,
                    format!(
                        "WebGPU offers no GPU adapter here, so Janus cannot run on this browser or machine; \
                         update the browser and graphics driver or enable WebGPU (details: {e})"
                    ),
                ),
                _ => WebError::new(codes::DEVICE, format!("the GPU could not be set up: {e}")),
            }
        })?;
    let limits = setup.device.limits();
    let adapter = setup.adapter.get_info();
    let info = DeviceInfo {
        adapter: if adapter.name.is_empty() {
            format!("{:?} adapter", adapter.device_type)
        } else {
            adapter.name.clone()
        },
        backend: format!("{:?}", setup.backend),
        shader_f16: setup.device.features().contains(wgpu::Features::SHADER_F16),
        max_buffer_size: limits.max_buffer_size,
        max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
        max_tensor_bytes: limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size),
    };
    // SwiftShader (a CPU implementation) wants other kernel shapes than a GPU: the matrix-vector
    // layout, the VQ convolution's tile and the attention's chunk, by adapter type.
    janus_model::kernels::set_for_adapter(adapter.device_type == wgpu::DeviceType::Cpu);
    let lost = Arc::new(Mutex::new(None));
    let flag = lost.clone();
    setup
        .device
        .set_device_lost_callback(move |reason, message| {
            if let Ok(mut l) = flag.lock() {
                *l = Some(format!("{reason:?}: {message}"));
            }
        });
    let gpu = Rc::new(Gpu {
        device,
        info,
        lost,
        raw: setup.device.clone(),
    });
    GPU.with(|g| *g.borrow_mut() = Some(gpu.clone()));
    Ok(gpu)
}

/// Wait until the device has executed everything queued so far.
///
/// burn queues uploads on the device stream together with their host bytes, and the stream is
/// only submitted every few dozen operations; a one-element readback submits it and waits, so
/// the bytes of earlier uploads are released. The loader calls this after every request, which
/// keeps wasm memory bounded by one request instead of growing toward the whole checkpoint.
pub async fn settle(device: &Device) -> Result<(), WebError> {
    burn::tensor::Tensor::<1>::zeros([1], device)
        .into_data_async()
        .await
        .map(|_| ())
        .map_err(|e| {
            WebError::new(
                codes::DEVICE,
                format!("the GPU failed while loading: {e:?}"),
            )
        })
}

/// `navigator.gpu` exists (browsers without WebGPU, or with it disabled, have none).
fn check_webgpu_present() -> Result<(), WebError> {
    if !cfg!(target_arch = "wasm32") {
        return Ok(());
    }
    let navigator = js_sys::Reflect::get(&js_sys::global(), &"navigator".into())
        .unwrap_or(wasm_bindgen::JsValue::UNDEFINED);
    let gpu =
        js_sys::Reflect::get(&navigator, &"gpu".into()).unwrap_or(wasm_bindgen::JsValue::UNDEFINED);
    if gpu.is_undefined() || gpu.is_null() {
        return Err(WebError::new(
            codes::NO_WEBGPU,
            "this browser has no WebGPU; use a recent Chrome, Edge or Safari, or enable WebGPU in the browser settings",
        ));
    }
    Ok(())
}
