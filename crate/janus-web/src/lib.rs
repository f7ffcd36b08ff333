//! # janus-web
//!
//! Janus in the browser: `janus-model` compiled to `wasm32-unknown-unknown`, running on the
//! user's GPU through burn's wgpu backend (WebGPU compute shaders), meant to live in a dedicated
//! Web Worker (`web/src/worker.ts`) so the page never freezes. The model crate knows nothing of
//! the browser; this crate owns the browser parts:
//!
//! - [`device`]: the WebGPU device with the adapter's own limits; f16 where `shader-f16` exists.
//! - [`source`]: checkpoint bytes over `fetch` with HTTP `Range` (or from memory).
//! - [`loader`]: config, tokenizer, headers, then tensor by tensor onto the GPU, splitting
//!   matrices larger than one storage binding; memory stays bounded by the largest tensor.
//! - [`engine`]: the `Engine` class JavaScript calls (load, chat, generateImage).
//! - [`error`]: typed errors with stable codes.
//! - [`alloc`]: the allocator, noting a failed allocation (out of wasm memory) for the worker.

pub mod alloc;
pub mod bench;
mod chat_watch;
pub mod device;
pub mod engine;
pub mod error;
pub mod loader;
pub mod reader;
pub mod request;
pub mod source;

use std::cell::RefCell;

use wasm_bindgen::prelude::*;

pub use engine::Engine;
pub use error::{WebError, codes};

/// Static constructors run once, when the instance starts.
///
/// cubecl registers kernels through `inventory`, whose constructors live in
/// `__wasm_call_ctors`. Without an explicit call, wasm-ld treats the module as a "command" and
/// wraps *every* export (even `__wbindgen_malloc`) in a call to it — re-running all
/// registrations on each call into the wasm, which measured 95% of the time of a generation.
/// Calling it once from the wasm-bindgen start function stops the wrapping (the `inventory`
/// crate's documented remedy). The only `unsafe` in the project: a call into the linker's own
/// function, which takes nothing and returns nothing.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod constructors {
    unsafe extern "C" {
        fn __wasm_call_ctors();
    }

    static ONCE: std::sync::Once = std::sync::Once::new();

    pub fn run_once() {
        // SAFETY: the linker-generated constructor function, takes and returns nothing; run once.
        ONCE.call_once(|| unsafe { __wasm_call_ctors() });
    }

    #[wasm_bindgen::prelude::wasm_bindgen(start)]
    fn start() {
        run_once();
    }
}

/// Run the static constructors if the start function has not (a test harness that links this
/// crate may skip it). Every path to the GPU calls this first.
pub fn ensure_started() {
    #[cfg(target_arch = "wasm32")]
    constructors::run_once();
}

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Record panic messages before the instance traps, so the worker can report what happened.
pub fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            LAST_PANIC.with(|p| *p.borrow_mut() = Some(info.to_string()));
            default(info);
        }));
    });
}

/// The message of the last Rust panic (the instance is dead after one).
#[wasm_bindgen(js_name = lastPanic)]
pub fn last_panic() -> Option<String> {
    LAST_PANIC.with(|p| p.borrow().clone())
}

/// Bytes of wasm linear memory (it only grows: the current size is the peak so far).
pub fn wasm_memory_bytes() -> u64 {
    #[cfg(target_arch = "wasm32")]
    {
        core::arch::wasm32::memory_size(0) as u64 * 65_536
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0
    }
}

#[wasm_bindgen(js_name = wasmMemoryBytes)]
pub fn wasm_memory_bytes_js() -> f64 {
    wasm_memory_bytes() as f64
}

/// Bytes of the allocation that failed, after the instance trapped for want of memory
/// (`undefined`: no allocation has failed).
#[wasm_bindgen(js_name = failedAllocation)]
pub fn failed_allocation() -> Option<f64> {
    alloc::failed_allocation().map(|n| n as f64)
}

/// Why the GPU device was lost, once it has been (`undefined` while it works).
#[wasm_bindgen(js_name = deviceLost)]
pub fn device_lost() -> Option<String> {
    device::lost_reason()
}

/// Destroy the GPU device on purpose, as a driver reset or another tab would take it away: the
/// test hook for device loss (the running job must fail with `device-lost`, the page recover).
#[wasm_bindgen(js_name = debugLoseDevice)]
pub fn debug_lose_device() -> bool {
    device::destroy_for_test()
}

/// Submit work the GPU refuses, on purpose: the test hook for a real WebGPU validation error
/// (checklist G5). The attention kernel gets one buffer as both its K and its V cache, two
/// writable bindings of one buffer, which WebGPU forbids. wgpu reports the error to the
/// uncaptured-error handler (cubecl's panics), and the worker must end the instance. Resolves
/// once the work has been submitted and waited for; rejects when there is no GPU yet.
#[wasm_bindgen(js_name = debugGpuRefusal)]
pub fn debug_gpu_refusal() -> js_sys::Promise {
    use burn::tensor::Tensor;
    use janus_model::kernels::{attention::attention_decode, memory::i32_tensor};
    install_panic_hook();
    wasm_bindgen_futures::future_to_promise(async move {
        let gpu = device::current()
            .ok_or_else(|| JsValue::from_str("the engine has no GPU device yet: init first"))?;
        let d = &gpu.device;
        // The shapes of Janus-1.3B's attention, 32 positions.
        let q = Tensor::<3>::ones([1, 16, 128], d);
        let kv = Tensor::<4>::ones([1, 16, 32, 128], d);
        let state = i32_tensor(d, [4], &[15, 0, 0, 0]);
        let out = attention_decode(q, &kv, &kv, &state, 0.088);
        // The readback submits the work and waits for it; its bytes do not matter.
        let _ = out.into_data_async().await;
        Ok(JsValue::TRUE)
    })
}

/// Trap the instance on purpose: the test hook for crash recovery (a dead worker must be
/// reported and replaced without reloading the page).
#[wasm_bindgen(js_name = debugTrap)]
pub fn debug_trap() {
    install_panic_hook();
    panic!("debugTrap: the instance was asked to trap (test hook)");
}
