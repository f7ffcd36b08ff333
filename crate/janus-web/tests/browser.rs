//! The engine on WebGPU in a real browser (Chromium, SwiftShader adapter), run by
//! `wasm-pack test --headless --chrome` (see scripts/test-wasm.sh): the committed tiny fixtures
//! go through the browser build's asynchronous loader onto the GPU and the shared conformance
//! suite checks them against the PyTorch goldens — greedy text ids and greedy-CFG image codes
//! identical, first-step logits within 1e-3 relative error, decoded images within PSNR 40 dB —
//! also with the vocabulary matrices split by a forced small buffer limit.
#![cfg(target_arch = "wasm32")]

use std::ops::ControlFlow;

use janus_conformance::{Goldens, check, check_text, vocabulary_split_limit};
use janus_model::weights::TensorStore;
use janus_model::{MemorySource, WorkingDtype};
use janus_web::codes;
use janus_web::device::open;
use janus_web::error::WebError;
use janus_web::loader::{PackSink, load, load_with_pack};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const LOGIT_TOL: f32 = 1e-3;

macro_rules! fixture {
    ($path:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/",
            $path
        ))
    };
}

macro_rules! model {
    ($dir:literal, [$($file:literal),*]) => {{
        let mut source = MemorySource::new();
        $(source.insert(
            $file,
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../tests/fixtures/models/",
                $dir,
                "/",
                $file
            ))
            .to_vec(),
        );)*
        source
    }};
}

/// tiny-a in Hugging Face layout, two shards and an index.
fn tiny_a_hf() -> MemorySource {
    model!(
        "tiny-a-hf",
        [
            "config.json",
            "tokenizer.json",
            "model.safetensors.index.json",
            "model-00001-of-00002.safetensors",
            "model-00002-of-00002.safetensors"
        ]
    )
}

/// tiny-b in DeepSeek layout, two shards and an index.
fn tiny_b_deepseek() -> MemorySource {
    model!(
        "tiny-b-deepseek",
        [
            "config.json",
            "tokenizer.json",
            "model.safetensors.index.json",
            "model-00001-of-00002.safetensors",
            "model-00002-of-00002.safetensors"
        ]
    )
}

fn goldens_a() -> Goldens<'static> {
    Goldens {
        json: include_str!("../../../tests/fixtures/goldens/tiny-a.json"),
        question_image: fixture!("images/photo.png"),
        imagine_png: fixture!("goldens/tiny-a-imagine.png"),
        decode_png: fixture!("goldens/tiny-a-decode.png"),
    }
}

fn goldens_b() -> Goldens<'static> {
    Goldens {
        json: include_str!("../../../tests/fixtures/goldens/tiny-b.json"),
        question_image: fixture!("images/photo.png"),
        imagine_png: fixture!("goldens/tiny-b-imagine.png"),
        decode_png: fixture!("goldens/tiny-b-decode.png"),
    }
}

#[wasm_bindgen_test]
async fn webgpu_device_uses_the_adapter_limits() {
    let gpu = open().await.expect("WebGPU device");
    let info = &gpu.info;
    console_log!("adapter: {info:?}");
    // A device created without requiredLimits gets 128 MiB bindings; SwiftShader offers 1 GiB.
    assert!(
        info.max_storage_buffer_binding_size > 128 << 20,
        "device limits are the defaults, not the adapter's: {info:?}"
    );
    assert_eq!(
        info.max_tensor_bytes,
        info.max_storage_buffer_binding_size
            .min(info.max_buffer_size)
    );
}

#[wasm_bindgen_test]
async fn tiny_a_on_webgpu_matches_reference() {
    let gpu = open().await.unwrap();
    let store = TensorStore::new(&gpu.device, WorkingDtype::F32)
        .with_max_tensor_bytes(gpu.info.max_tensor_bytes);
    let (m, stats) = load(&tiny_a_hf(), store, |_| ControlFlow::Continue(()), || {})
        .await
        .unwrap();
    assert!(m.split_tensors.is_empty());
    console_log!(
        "tiny-a-hf: {} tensors in {} requests",
        m.plan.reads.len(),
        stats.requests
    );
    // Decode steps are recorded once and replayed here too (kernels::graph): a recording that
    // failed would fall back to launching every step, correct but slower, so it is asserted.
    let (before, failed_before) = janus_model::kernels::graph::recorded();
    match check(&m, &goldens_a(), LOGIT_TOL).await {
        Ok(figures) => console_log!("tiny-a-hf on WebGPU: {figures}"),
        Err(e) => panic!("tiny-a-hf on WebGPU: {e}"),
    }
    let (after, failure) = janus_model::kernels::graph::recorded();
    assert_eq!(
        failure, failed_before,
        "recording a decode step failed in the browser"
    );
    assert!(after > before, "no decode step was recorded in the browser");
    console_log!(
        "tiny-a-hf on WebGPU: {} decode steps recorded",
        after - before
    );
}

#[wasm_bindgen_test]
async fn split_vocabulary_on_webgpu_matches_reference() {
    let gpu = open().await.unwrap();
    let source = tiny_b_deepseek();
    // embed_tokens and lm_head become row blocks; everything that must stay whole still fits.
    let info = janus_model::inspect(&source).unwrap();
    let limit = vocabulary_split_limit(&info.config, &info.plan);
    let store = TensorStore::new(&gpu.device, WorkingDtype::F32).with_max_tensor_bytes(limit);
    let (m, _) = load(&source, store, |_| ControlFlow::Continue(()), || {})
        .await
        .unwrap();
    for t in [
        "language_model.model.embed_tokens.weight",
        "language_model.lm_head.weight",
    ] {
        assert!(
            m.split_tensors.iter().any(|s| s == t),
            "{t} not split: {:?}",
            m.split_tensors
        );
    }
    let blocks = m.model.lm_head.weight.block_count();
    assert!(blocks >= 2, "lm_head in {blocks} block(s)");
    // The text cases read every split matrix (prompt embedding lookups, lm_head logits); the
    // 576-step image case is covered unsplit above and would double the SwiftShader time.
    match check_text(&m, &goldens_b(), LOGIT_TOL).await {
        Ok(figures) => {
            console_log!(
                "tiny-b-deepseek, vocabulary in {blocks} blocks of <= {limit} bytes, on WebGPU: {figures}"
            )
        }
        Err(e) => panic!("tiny-b-deepseek split on WebGPU: {e}"),
    }
}

#[wasm_bindgen_test]
async fn tensors_beyond_the_device_limit_are_refused_before_reading() {
    let gpu = open().await.unwrap();
    // 64 bytes: even the norm vectors exceed it, and they cannot be split.
    let store = TensorStore::new(&gpu.device, WorkingDtype::F32).with_max_tensor_bytes(64);
    let mut reads = 0;
    let err = load(
        &tiny_a_hf(),
        store,
        |p| {
            reads = p.tensors_done;
            ControlFlow::Continue(())
        },
        || {},
    )
    .await
    .err()
    .expect("a 64-byte limit must be refused");
    assert_eq!(err.code, codes::TOO_LARGE, "{err}");
    assert_eq!(reads, 0, "refused only after reading tensors");
    console_log!("refused: {err}");
}

#[wasm_bindgen_test]
async fn a_load_stops_when_progress_says_so() {
    let gpu = open().await.unwrap();
    let store = TensorStore::new(&gpu.device, WorkingDtype::F32);
    let mut calls = 0;
    let err = load(
        &tiny_a_hf(),
        store,
        |p| {
            calls += 1;
            if p.tensors_done > 0 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        },
        || {},
    )
    .await
    .err()
    .expect("the load must stop");
    assert_eq!(err.code, codes::ABORTED, "{err}");
    assert!(calls > 1);
}

#[wasm_bindgen_test]
async fn missing_and_corrupt_files_are_typed_errors() {
    let gpu = open().await.unwrap();
    let store = || TensorStore::new(&gpu.device, WorkingDtype::F32);
    let mut source = tiny_a_hf();
    source.remove("model-00002-of-00002.safetensors");
    let err = load(&source, store(), |_| ControlFlow::Continue(()), || {})
        .await
        .err()
        .unwrap();
    assert_eq!(err.code, codes::NOT_FOUND, "{err}");
    let mut source = tiny_a_hf();
    source.insert("config.json", b"{not json".to_vec());
    let err = load(&source, store(), |_| ControlFlow::Continue(()), || {})
        .await
        .err()
        .unwrap();
    assert_eq!(err.code, codes::BAD_CONFIG, "{err}");
    let mut source = tiny_a_hf();
    let shard = source.get_mut("model-00001-of-00002.safetensors").unwrap();
    shard[0..8].copy_from_slice(&u64::MAX.to_le_bytes());
    let err = load(&source, store(), |_| ControlFlow::Continue(()), || {})
        .await
        .err()
        .unwrap();
    assert_eq!(err.code, codes::BAD_CHECKPOINT, "{err}");
}

/// Janus-Pro-7B's first bf16 shard names its token embedding, 102,400 x 4,096: 2^32.6 bits, past
/// a 32-bit `usize`. The safetensors crate's header check counted in `usize` bits and refused it
/// in wasm32 (the 7B could not load from its checkpoint in a page); `parse_header` counts in
/// u64. The same header's native test: `parses_tensors_past_four_gibibits`.
#[wasm_bindgen_test]
fn a_7b_sized_header_parses_in_wasm32() {
    use janus_model::weights::safetensors::parse_header;
    assert_eq!(usize::BITS, 32);
    let bytes = 102_400u64 * 4_096 * 2;
    let header = format!(
        r#"{{"model.language_model.embed_tokens.weight":{{"dtype":"BF16","shape":[102400,4096],"data_offsets":[0,{bytes}]}}}}"#
    );
    let file_len = 8 + header.len() as u64 + bytes;
    let parsed = parse_header(
        "model-00001-of-00004.safetensors",
        header.as_bytes(),
        file_len,
    )
    .expect("a 7B-sized tensor parses in wasm32");
    assert_eq!(parsed.tensors[0].shape, vec![102_400, 4_096]);
    assert_eq!(parsed.tensors[0].end, file_len);
    // A dimension past 32 bits is refused as a bad header, not truncated.
    let wide = r#"{"a":{"dtype":"U8","shape":[4294967296],"data_offsets":[0,4294967296]}}"#;
    let file_len = 8 + wide.len() as u64 + 4_294_967_296;
    assert!(parse_header("f", wide.as_bytes(), file_len).is_err());
}

/// Every WGSL kernel on WebGPU (SwiftShader) against its plain-burn reference and the host, on
/// the conformance suite's awkward sizes: the quantised products and lookups, the GPU sampler,
/// the decoder's fused kernels and the VQ decoder's convolution and group norm.
#[wasm_bindgen_test]
async fn wgsl_kernels_match_their_references_on_webgpu() {
    use janus_conformance::kernels as k;
    let gpu = open().await.expect("a WebGPU device");
    let device = &gpu.device;
    let mut report = k::qmatvec_matches_reference(device)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    k::quant_lookup_matches_host(device)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    report.extend(
        k::sampler_matches_host(device)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    );
    report.extend(
        k::fused_kernels_match_generic(device)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    );
    k::take_ids_reads_the_previous_column(device)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    k::keep_rows_matches_cast(device)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    report.extend(
        janus_conformance::vq::conv2d_matches_reference(device)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    );
    report.extend(
        janus_conformance::vq::group_norm_matches_generic(device)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    );
    for line in report {
        console_log!("{line}");
    }
}

/// A Q4 model packed on WebGPU (the WGSL kernels in every product, the embedding unpacked on
/// lookup) computes what the same Q4 weights dequantised on the host compute: first-step logits
/// close, and the same greedy tokens.
/// A pack written while loading, kept in memory.
#[derive(Default)]
struct MemoryPack(MemorySource);

impl PackSink for MemoryPack {
    async fn put(
        &mut self,
        file: &janus_model::weights::pack_writer::PackOutput,
    ) -> Result<(), WebError> {
        self.0.insert(file.file.clone(), file.bytes.clone());
        Ok(())
    }
}

#[wasm_bindgen_test]
async fn a_packed_q4_model_on_webgpu_matches_the_host_round_trip() {
    use janus_model::generate::sampling::SamplingParams;
    use janus_model::generate::text::{TextRequest, generate_text};
    use janus_model::quant::QuantFormat;
    use janus_model::weights::pack_writer::{DEFAULT_SHARD_BYTES, PackOptions, write_pack};
    let gpu = open().await.unwrap();
    let mut outputs = Vec::new();
    let mut written = MemoryPack::default();
    // Packed on the GPU (writing the pack as it loads), the host round trip, that pack, then
    // that pack again with every tensor written to the GPU a row at a time.
    for run in 0..4 {
        let store = TensorStore::new(&gpu.device, WorkingDtype::F32)
            .with_quant(Some(QuantFormat::Q4))
            .with_packed(run != 1);
        let store = match run {
            3 => store.with_stage_bytes(1),
            _ => store,
        };
        let progress = |_: &_| ControlFlow::Continue(());
        let (m, stats) = match run {
            0 => load_with_pack(&tiny_a_hf(), store, progress, || {}, Some(&mut written)).await,
            1 => load(&tiny_a_hf(), store, progress, || {}).await,
            _ => load(&written.0, store, progress, || {}).await,
        }
        .unwrap();
        assert_eq!(m.model.lm_head.weight.is_quantized(), run != 1);
        assert_eq!(stats.pack_written, run == 0);
        assert_eq!(m.plan.pack.is_some(), run >= 2);
        let special = m.tokenizer.special();
        let req = TextRequest {
            prompt_ids: vec![special.bos, 5, 6, 7, 8, 9],
            images: vec![],
            max_new_tokens: 8,
            sampling: SamplingParams::greedy(),
            stop_token: None,
            image_token: special.image,
            logprobs: None,
            json: None,
        };
        let out = generate_text(&m.model, &req, |_| ControlFlow::Continue(()))
            .await
            .unwrap();
        outputs.push((out.ids, out.first_logits));
    }
    let ((ids_p, logits_p), (ids_h, logits_h)) = (&outputs[0], &outputs[1]);
    let worst = logits_p
        .iter()
        .zip(logits_h)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    console_log!("q4 packed vs host round trip on WebGPU: ids {ids_p:?}, max |dlogit| {worst:.2e}");
    assert!(worst < 1e-3, "{worst}");
    assert_eq!(ids_p, ids_h);
    // The pack written while loading is `janus pack`'s, and loads into the same weights,
    // however its rows reach the GPU.
    assert_eq!(&outputs[2], &outputs[0]);
    assert_eq!(&outputs[3], &outputs[0]);
    let mut expected = MemorySource::new();
    let options = PackOptions {
        format: QuantFormat::Q4,
        shard_bytes: DEFAULT_SHARD_BYTES,
        source_name: "memory".into(),
    };
    let report = write_pack(
        &tiny_a_hf(),
        &janus_model::inspect(&tiny_a_hf()).unwrap().plan,
        &options,
        &mut |f, b| {
            expected.insert(f, b.to_vec());
            Ok(())
        },
    )
    .unwrap();
    for f in report
        .manifest
        .files
        .iter()
        .map(|f| f.path.as_str())
        .chain(["janus-pack.json"])
    {
        use janus_model::ByteSource;
        assert!(
            written.0.read_all(f).ok() == expected.read_all(f).ok(),
            "{f} differs"
        );
    }
}
