//! `benchmark(options)`: issue 7's benchmark in the browser (`npm run bench`): a full-size model
//! with random weights built on this page's WebGPU adapter, measured by `janus_model::bench`,
//! plus the adapter's WGSL copy bandwidth and the wasm memory the build needed.

use janus_model::bench::{BenchPlan, BenchReport, decode_bytes_per_token, random_model};
use janus_model::config::Preset;
use janus_model::kernels::copy::CopyBench;
use janus_model::kernels::memory::memory_figures;
use janus_model::quant::QuantFormat;
use janus_model::{JanusConfig, TensorStore, WorkingDtype};
use js_sys::Promise;
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::device::{open, settle};
use crate::error::{WebError, codes};
use crate::request::parse;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
struct BenchOptions {
    preset: String,
    quant: String,
    /// "f16" or "f32" (default: f16 where the adapter has shader-f16).
    dtype: Option<String>,
    prompt_tokens: usize,
    decode_tokens: usize,
    image_steps: usize,
    vq_decode: bool,
    /// Ask the measured chat turn for log-probabilities with this many alternatives a token.
    logprobs: Option<usize>,
    copy_mib: usize,
    /// Time each decode kernel alone at the preset's shapes instead (no model is built).
    kernels: bool,
    /// Cached positions the attention kernel reads when `kernels`.
    context: usize,
    /// Time the VQ decoder's convolutions alone instead (the WGSL kernel and burn's conv2d; no
    /// model is built).
    vq_convs: bool,
    /// The matrix-vector kernels' layout instead of the adapter's: `flat:LANES:UNROLL[:ROWS]`
    /// or `vector:ROWS` (janus_model::kernels::qmatvec::Layout; measurements).
    layout: Option<String>,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            preset: "janus-1.3b".into(),
            quant: "q4".into(),
            dtype: None,
            prompt_tokens: 16,
            decode_tokens: 3,
            image_steps: 32,
            vq_decode: false,
            logprobs: None,
            copy_mib: 256,
            kernels: false,
            context: 128,
            vq_convs: false,
            layout: None,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BrowserReport {
    report: BenchReport,
    markdown_header: String,
    markdown_row: String,
    /// WebAssembly memory before building and at the end (it never shrinks, so this is the peak).
    wasm_memory_before: u64,
    wasm_memory_peak: u64,
}

fn now_s() -> f64 {
    js_sys::Date::now() / 1000.0
}

/// The figures of `kernels: true`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KernelsReport {
    adapter: String,
    figures: Vec<janus_model::bench::kernels::KernelFigure>,
    copy_gbps: f64,
    markdown: String,
}

/// The figures of `vqConvs: true`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConvsReport {
    adapter: String,
    figures: Vec<janus_model::bench::conv::ConvFigure>,
    markdown: String,
}

/// `benchmark({preset?, quant?, dtype?, promptTokens?, decodeTokens?, imageSteps?, vqDecode?,
/// logprobs?, copyMib?})` -> `Promise<{report, markdownHeader, markdownRow, wasmMemoryBefore,
/// wasmMemoryPeak}>`; with `kernels: true` (and `context?`), each decode kernel alone:
/// `Promise<{adapter, figures, copyGbps, markdown}>`; with `vqConvs: true`, each convolution of
/// a VQ decode alone: `Promise<{adapter, figures, markdown}>`.
#[wasm_bindgen]
pub fn benchmark(options: JsValue) -> Promise {
    crate::install_panic_hook();
    future_to_promise(async move { run(options).await.map_err(JsValue::from) })
}

async fn run(options: JsValue) -> Result<JsValue, WebError> {
    let o: BenchOptions = parse(options, "benchmark options")?;
    let preset = Preset::ALL
        .iter()
        .find(|p| p.id() == o.preset)
        .ok_or_else(|| WebError::bad_request(format!("unknown preset {}", o.preset)))?;
    let config = JanusConfig::from_json(preset.config_json())
        .map_err(|e| WebError::new(codes::INTERNAL, e.to_string()))?;
    let quant = match o.quant.as_str() {
        "none" => None,
        q => Some(
            QuantFormat::parse(q)
                .ok_or_else(|| WebError::bad_request(format!("unknown format {q}")))?,
        ),
    };
    let gpu = open().await?;
    let dtype = match o.dtype.as_deref() {
        Some("f32") => WorkingDtype::F32,
        Some("f16") if gpu.info.shader_f16 => WorkingDtype::F16,
        None if gpu.info.shader_f16 => WorkingDtype::F16,
        None => WorkingDtype::F32,
        Some(other) => {
            return Err(WebError::bad_request(format!(
                "dtype {other} is not available"
            )));
        }
    };
    let device = &gpu.device;
    if let Some(text) = &o.layout {
        use janus_model::kernels::qmatvec::{Layout, set_layout};
        let layout = Layout::parse(text).ok_or_else(|| {
            WebError::bad_request(format!(
                "layout {text}: not flat:LANES:UNROLL[:ROWS] or vector:ROWS"
            ))
        })?;
        set_layout(layout);
    }
    // The yardstick first, while the device is empty.
    let copy_bytes = (o.copy_mib << 20).min(gpu.info.max_tensor_bytes as usize);
    let copy_gbps = copy_bandwidth(device, copy_bytes).await?;
    let fail = |e: janus_model::JanusError| WebError::new(codes::DEVICE, e.to_string());
    if o.vq_convs {
        let figures =
            janus_model::bench::conv::vq_convs(&config.gen_vision, device, true, &now_s, 0.5)
                .await
                .map_err(fail)?;
        let out = ConvsReport {
            adapter: format!(
                "{} ({}, Chromium WebGPU; f32)",
                gpu.info.adapter, gpu.info.backend
            ),
            markdown: janus_model::bench::conv::markdown(&figures),
            figures,
        };
        return out
            .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
            .map_err(|e| WebError::new(codes::INTERNAL, e.to_string()));
    }
    if o.kernels {
        let format = quant.ok_or_else(|| {
            WebError::bad_request("kernels: times the quantised kernels (quant q8 or q4)")
        })?;
        let figures = janus_model::bench::kernels::kernels(
            &config,
            device,
            dtype.dtype(),
            format,
            o.context,
            &janus_model::bench::kernels::Timing {
                clock: &now_s,
                min_s: 0.5,
                only: None,
                hot: false,
            },
        )
        .await
        .map_err(fail)?;
        let out = KernelsReport {
            adapter: format!(
                "{} ({}, Chromium WebGPU; {}, {})",
                gpu.info.adapter,
                gpu.info.backend,
                dtype.name(),
                format.name()
            ),
            markdown: janus_model::bench::kernels::markdown(&figures, Some(copy_gbps)),
            figures,
            copy_gbps,
        };
        return out
            .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
            .map_err(|e| WebError::new(codes::INTERNAL, e.to_string()));
    }
    let wasm_before = crate::wasm_memory_bytes();
    let store = TensorStore::new(device, dtype)
        .with_max_tensor_bytes(gpu.info.max_tensor_bytes)
        .with_quant(quant);
    let (model, load_s) = random_model(&config, store, 1, &now_s)
        .await
        .map_err(fail)?;
    let gpu_loaded = memory_figures(device).in_use;
    let plan = BenchPlan {
        prompt_tokens: o.prompt_tokens.max(1),
        decode_tokens: o.decode_tokens.max(1),
        image_steps: o.image_steps,
        vq_decode: o.vq_decode,
        logprobs: o.logprobs,
        json: None,
    };
    let mut report = janus_model::bench::run(&model, &plan, &now_s)
        .await
        .map_err(fail)?;
    report.gpu_bytes_loaded = Some(gpu_loaded);
    report.gpu_bytes_after = Some(memory_figures(device).in_use);
    drop(model);
    report.adapter = format!(
        "{} ({}, Chromium WebGPU)",
        gpu.info.adapter, gpu.info.backend
    );
    report.model = preset.id().into();
    report.weights = match quant {
        Some(q) => format!("{} + {}", dtype.name(), q.name()),
        None => dtype.name().into(),
    };
    report.load_s = load_s;
    report.decode_bytes = decode_bytes_per_token(&config, dtype, quant);
    report.copy_gbps = Some(copy_gbps);
    report.copy_buffer_bytes = copy_bytes as u64;
    let out = BrowserReport {
        markdown_header: BenchReport::markdown_header().into(),
        markdown_row: report.markdown_row(),
        report,
        wasm_memory_before: wasm_before,
        wasm_memory_peak: crate::wasm_memory_bytes(),
    };
    out.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| WebError::new(codes::INTERNAL, e.to_string()))
}

/// GB/s of the WGSL copy kernel over two `bytes` buffers (read + written), launched until a
/// second has passed (at least 3 times) after a checked warm-up.
async fn copy_bandwidth(device: &burn::tensor::Device, bytes: usize) -> Result<f64, WebError> {
    let bench = CopyBench::new(device, bytes);
    bench.run();
    settle(device).await?;
    if !bench.verify().await {
        return Err(WebError::new(codes::DEVICE, "the copy kernel did not copy"));
    }
    let start = now_s();
    let mut runs = 0;
    while runs < 3 || now_s() - start < 1.0 {
        bench.run();
        settle(device).await?;
        runs += 1;
    }
    Ok(2.0 * bench.bytes as f64 * runs as f64 / (now_s() - start) / 1e9)
}
