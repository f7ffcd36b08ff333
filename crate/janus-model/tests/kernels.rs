//! The WGSL kernels against their plain-burn references on a native wgpu device (lavapipe in
//! CI: `.ci/run` sets `JANUS_WGPU_TESTS=1`); the cases live in the conformance suite, which the
//! browser tests run on SwiftShader too. Then a whole model with its matrices packed on the
//! device (the kernels in every product) against the same numbers dequantised on the host.
#![cfg(feature = "wgpu-kernels")]

mod common;

use burn::tensor::Tensor;
use burn::tensor::{DType, Device};
use common::{first_logits, golden, image_request, model_dir, text_request, u32s};
use janus_conformance::kernels::max_diff;
use janus_model::quant::QuantFormat;
use janus_model::quant::device::QuantMatrix;
use janus_model::quant::quantize;
use janus_model::{DirSource, Loaded, TensorStore, WorkingDtype, load_into};

fn wgpu() -> Option<Device> {
    if std::env::var("JANUS_WGPU_TESTS").as_deref() != Ok("1") {
        eprintln!("kernel test skipped: set JANUS_WGPU_TESTS=1 where a wgpu adapter exists");
        return None;
    }
    // The wgpu service starts once per process: the tests share one device.
    static DEVICE: std::sync::OnceLock<Device> = std::sync::OnceLock::new();
    Some(DEVICE.get_or_init(baseline_device).clone())
}

/// A device on the first adapter with WebGPU's default limits rather than the adapter's own
/// (which burn asks for, and which lavapipe and SwiftShader set high: 10 storage buffers per
/// stage, 32 KiB of workgroup memory). A browser on a modest GPU may give no more than the
/// defaults, so every kernel must run within them: 8 storage buffers per stage (the fused
/// q/k/v product binds all 8), 256 invocations per workgroup. Past them wgpu refuses the
/// pipeline, and the test fails here rather than on a user's machine. (wgpu does not check a
/// kernel's workgroup memory against the limit, so `kernels::qmatvec`'s own test holds the
/// largest kernels within 16 KiB.) The adapter's features are all kept (`shader-f16`, where it
/// has it, for the f16 tests).
fn baseline_device() -> Device {
    use burn::tensor::wgpu::{WgpuSetup, wgpu};
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapter =
        pollster::block_on(instance.request_adapter(&Default::default())).expect("a wgpu adapter");
    let limits = wgpu::Limits::default();
    assert_eq!(
        (
            limits.max_compute_workgroup_storage_size,
            limits.max_storage_buffers_per_shader_stage,
            limits.max_compute_invocations_per_workgroup,
        ),
        (16_384, 8, 256),
        "wgpu's default limits are WebGPU's"
    );
    let (device, queue) = pollster::block_on(
        adapter.request_device(&wgpu::DeviceDescriptor {
            required_features: adapter
                .features()
                .difference(wgpu::Features::MAPPABLE_PRIMARY_BUFFERS),
            required_limits: limits,
            ..Default::default()
        }),
    )
    .expect("a device with WebGPU's default limits");
    let backend = adapter.get_info().backend;
    let setup = WgpuSetup {
        instance,
        adapter,
        device,
        queue,
        backend,
    };
    Device::wgpu_options()
        .setup(setup)
        .init()
        .expect("burn registers the device")
}

#[test]
fn qmatvec_matches_the_reference_on_awkward_sizes() {
    let Some(device) = wgpu() else { return };
    let report = pollster::block_on(janus_conformance::kernels::qmatvec_matches_reference(
        &device,
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    for line in report {
        println!("{line}");
    }
    pollster::block_on(janus_conformance::kernels::quant_lookup_matches_host(
        &device,
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    // upload() picks the kernel on wgpu.
    let packed = quantize(&[0.5; 64], 32, QuantFormat::Q4);
    assert!(QuantMatrix::upload(&packed, &device).uses_kernel());
}

#[test]
fn the_vq_decoder_kernels_match_burn_and_the_host() {
    let Some(device) = wgpu() else { return };
    let mut report = pollster::block_on(janus_conformance::vq::conv2d_matches_reference(&device))
        .unwrap_or_else(|e| panic!("{e}"));
    report.extend(
        pollster::block_on(janus_conformance::vq::group_norm_matches_generic(&device))
            .unwrap_or_else(|e| panic!("{e}")),
    );
    for line in report {
        println!("{line}");
    }
}

#[test]
fn the_gpu_sampler_matches_the_host() {
    let Some(device) = wgpu() else { return };
    let report = pollster::block_on(janus_conformance::kernels::sampler_matches_host(&device))
        .unwrap_or_else(|e| panic!("{e}"));
    for line in report {
        println!("{line}");
    }
}

#[test]
fn fused_decoder_kernels_match_the_generic_ops() {
    let Some(device) = wgpu() else { return };
    let report = pollster::block_on(janus_conformance::kernels::fused_kernels_match_generic(
        &device,
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    for line in report {
        println!("{line}");
    }
    // A whole model: decode steps with the fused kernels and with the generic ops.
    let load = || {
        load_into(
            &DirSource::new(model_dir("tiny-a-hf")),
            TensorStore::new(&device, WorkingDtype::F32),
        )
        .unwrap()
    };
    let fused = load();
    let mut generic = load();
    generic.model.llm.set_kernels(false);
    let (a, b) = (decode_logits(&fused), decode_logits(&generic));
    within("tiny-a decode, fused vs generic", &a, &b, 1e-4);
}

/// The whole model on wgpu — fused kernels, GPU token choice — against the PyTorch goldens.
#[test]
fn tiny_a_on_wgpu_matches_the_reference() {
    let Some(device) = wgpu() else { return };
    let m = load_into(
        &DirSource::new(model_dir("tiny-a-hf")),
        TensorStore::new(&device, WorkingDtype::F32),
    )
    .unwrap();
    let fixture = |p: &str| std::fs::read(common::fixtures().join(p)).unwrap();
    let json = std::fs::read_to_string(common::fixtures().join("goldens/tiny-a.json")).unwrap();
    let (photo, imagine, decode) = (
        fixture("images/photo.png"),
        fixture("goldens/tiny-a-imagine.png"),
        fixture("goldens/tiny-a-decode.png"),
    );
    let goldens = janus_conformance::Goldens {
        json: &json,
        question_image: &photo,
        imagine_png: &imagine,
        decode_png: &decode,
    };
    // Decode steps recorded once and replayed (the default), then launched anew: both must
    // give the reference's tokens and codes.
    let (before, _) = janus_model::kernels::graph::recorded();
    match pollster::block_on(janus_conformance::check(&m, &goldens, 1e-3)) {
        Ok(figures) => println!("tiny-a-hf on native wgpu, replayed steps: {figures}"),
        Err(e) => panic!("tiny-a-hf on native wgpu, replayed steps: {e}"),
    }
    let (after, failure) = janus_model::kernels::graph::recorded();
    assert_eq!(failure, None, "recording a decode step failed");
    assert!(after > before, "no decode step was recorded");
    janus_model::kernels::graph::set_enabled(false);
    let unrecorded = pollster::block_on(janus_conformance::check(&m, &goldens, 1e-3));
    janus_model::kernels::graph::set_enabled(true);
    match unrecorded {
        Ok(figures) => println!("tiny-a-hf on native wgpu, every step launched: {figures}"),
        Err(e) => panic!("tiny-a-hf on native wgpu, every step launched: {e}"),
    }
    assert_eq!(janus_model::kernels::graph::recorded().0, after);
}

#[test]
fn take_ids_reads_the_previous_column() {
    let Some(device) = wgpu() else { return };
    pollster::block_on(janus_conformance::kernels::take_ids_reads_the_previous_column(&device))
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn keep_rows_copies_a_step_s_logits() {
    let Some(device) = wgpu() else { return };
    pollster::block_on(janus_conformance::kernels::keep_rows_matches_cast(&device))
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_packed_model_computes_what_the_host_round_trip_does() {
    let Some(device) = wgpu() else { return };
    for format in [QuantFormat::Q8, QuantFormat::Q4] {
        // `stage`: every tensor written to the device a row at a time (a one-byte stage).
        let load_staged = |dtype: WorkingDtype, packed: bool, stage: bool| {
            let store = TensorStore::new(&device, dtype)
                .with_quant(Some(format))
                .with_packed(packed);
            let store = if stage {
                store.with_stage_bytes(1)
            } else {
                store
            };
            load_into(&DirSource::new(model_dir("tiny-a-hf")), store).unwrap()
        };
        let load = |dtype: WorkingDtype, packed: bool| load_staged(dtype, packed, false);
        let (packed, host) = (
            load(WorkingDtype::F32, true),
            load(WorkingDtype::F32, false),
        );
        assert!(packed.model.lm_head.weight.is_quantized());
        assert!(packed.model.llm.embed.weight.is_quantized());
        assert!(!host.model.lm_head.weight.is_quantized());
        let name = format.name();
        // Prefill (dense products after the dequantisation kernel) ...
        let (pt, pi) = first_logits(&packed, "tiny-a");
        let (ht, hi) = first_logits(&host, "tiny-a");
        // Same weights, f32 sums in another order.
        let close = |what: &str, a: &[f32], b: &[f32]| {
            within(
                &format!("tiny-a {name} {what}: packed vs host round trip"),
                a,
                b,
                1e-3,
            );
        };
        close("prefill text", &pt, &ht);
        close("prefill image", &pi, &hi);
        // ... and decode steps of a batch of two (the matrix-vector kernel; in the flat
        // layout, this thread's).
        let hd = decode_logits(&host);
        // The packed words, scale pairs and dense values written to the device a row at a time
        // (in place, at their offsets) are the same weights, bit for bit.
        let rowwise = load_staged(WorkingDtype::F32, true, true);
        let same = decode_logits(&rowwise) == decode_logits(&packed);
        assert!(same, "tiny-a {name}: written a row at a time, other logits");
        for (what, logits) in decode_fused_and_apart(&packed) {
            close(what, &logits, &hd);
        }
        // The f16 kernels, which GPUs run (`shader-f16`), where this adapter has them, against
        // the same f32 host round trip (activations rounded to f16 at every step).
        if device.supports_dtype(DType::F16) {
            // As GPUs run them: their attention split and norms' walk too (this thread only).
            janus_model::kernels::set_for_adapter(false);
            let half = load(WorkingDtype::F16, true);
            // f16 rows of one value are half a word: those writes take burn's slice_assign.
            let rowwise = load_staged(WorkingDtype::F16, true, true);
            let same = decode_logits(&rowwise) == decode_logits(&half);
            assert!(
                same,
                "tiny-a {name} f16: written a row at a time, other logits"
            );
            for (what, logits) in decode_fused_and_apart(&half) {
                let label = format!("tiny-a {name} f16 {what}: against the f32 host round trip");
                within(&label, &logits, &hd, 5e-3);
            }
        } else {
            println!("f16 kernels not checked: this adapter has no shader-f16");
        }
    }
}

/// [`decode_logits`] with the norms, residual connections and the rotation inside the products
/// (the flat layout's default), then with the rotation apart, then with all of them apart.
fn decode_fused_and_apart(m: &Loaded) -> [(&'static str, Vec<f32>); 3] {
    use janus_model::kernels::qmatvec::{set_fusing, set_rope_fusing};
    let fused = decode_logits(m);
    set_rope_fusing(false);
    let rope_apart = decode_logits(m);
    set_rope_fusing(true);
    set_fusing(false);
    let apart = decode_logits(m);
    set_fusing(true);
    [
        ("decode", fused),
        ("decode, the rotation apart", rope_apart),
        ("decode, norms, residuals and the rotation apart", apart),
    ]
}

/// `a` within `tolerance` of `b`'s largest magnitude, printed under `label`.
fn within(label: &str, a: &[f32], b: &[f32], tolerance: f32) {
    let (worst, scale) = max_diff(a, b);
    println!("{label}, max |diff| {worst:.2e} (logits up to {scale:.2})");
    assert!(worst <= tolerance * scale, "{label}: {worst}");
}

/// The GPU path as GPUs run it, end to end: generation loops over packed matrices (flat layout,
/// every norm, residual and rotation inside the products, steps recorded and replayed) choose
/// the same greedy text ids and CFG image codes as the host round trip of the same weights
/// (unpacked: the generic decode, rotation apart), with every kernel setting a GPU gets. In f16
/// (where the adapter has it), replayed steps choose what launched ones do.
#[test]
fn packed_generation_chooses_what_the_host_round_trip_does() {
    use janus_model::generate::image::generate_image_codes;
    use janus_model::generate::text::generate_text;
    use janus_model::kernels::graph;
    use std::ops::ControlFlow;
    let Some(device) = wgpu() else { return };
    // Every kernel setting a GPU gets (this test's thread only): the flat layout, the attention's
    // lanes, the norms' walk.
    janus_model::kernels::set_for_adapter(false);
    let g = golden("tiny-a");
    let load = |dtype: WorkingDtype, packed: bool| {
        let store = TensorStore::new(&device, dtype)
            .with_quant(Some(QuantFormat::Q4))
            .with_packed(packed);
        load_into(&DirSource::new(model_dir("tiny-a-hf")), store).unwrap()
    };
    // 24 text ids (no stop token: the whole budget) and one image's codes with its
    // unconditional row (a batch of two).
    let run = |m: &Loaded| {
        let (text, image) = (text_request(m, &g, 24), image_request(m, &g));
        let text = pollster::block_on(generate_text(
            &m.model,
            &text,
            |_| ControlFlow::Continue(()),
        ));
        let codes = pollster::block_on(generate_image_codes(&m.model, &image, |_| {
            ControlFlow::Continue(())
        }));
        let text = text.unwrap();
        (text.ids, codes.unwrap().codes)
    };
    let (recorded, _) = graph::recorded();
    let packed = run(&load(WorkingDtype::F32, true));
    assert!(graph::recorded().0 > recorded, "no step was recorded");
    let host = run(&load(WorkingDtype::F32, false));
    assert_eq!(packed.0.len(), 24);
    same_choices(&packed, &host, "packed (fused, replayed), host round trip");
    println!(
        "tiny-a q4: {} text ids and {} image codes, packed = host round trip",
        packed.0.len(),
        packed.1[0].len()
    );
    if device.supports_dtype(DType::F16) {
        let half = load(WorkingDtype::F16, true);
        let replayed = run(&half);
        graph::set_enabled(false);
        let launched = run(&half);
        graph::set_enabled(true);
        same_choices(&replayed, &launched, "f16: replayed steps, launched ones");
        let same = replayed
            .0
            .iter()
            .zip(&packed.0)
            .filter(|(a, b)| a == b)
            .count();
        println!("tiny-a q4 f16: replayed = launched; {same} of 24 text ids as in f32");
    }
}

/// A chat's follow-up turn started from the kept cache (`generate_text_with`) on packed
/// matrices, where the decode steps write the keys and values in place from inside the fused
/// q/k/v product: the same logits and greedy ids as the whole prompt run afresh, with every
/// position the loop filled reused.
#[test]
fn a_kept_cache_on_packed_weights_gives_what_the_whole_prompt_does() {
    use janus_model::generate::prompt_cache::PromptCache;
    use janus_model::generate::text::generate_text_with;
    use std::ops::ControlFlow;
    let Some(device) = wgpu() else { return };
    janus_model::kernels::set_for_adapter(false);
    let g = golden("tiny-a");
    let store = TensorStore::new(&device, WorkingDtype::F32)
        .with_quant(Some(QuantFormat::Q4))
        .with_packed(true);
    let m = load_into(&DirSource::new(model_dir("tiny-a-hf")), store).unwrap();
    let run = |req: &janus_model::generate::text::TextRequest, kept: Option<&mut PromptCache>| {
        let go = |_| ControlFlow::Continue(());
        pollster::block_on(generate_text_with(&m.model, req, kept, go)).unwrap()
    };
    let mut kept = PromptCache::new();
    let first = text_request(&m, &g, 12);
    let reply = run(&first, Some(&mut kept));
    // The last prompt, the reply, a new question.
    let mut next = first.clone();
    next.prompt_ids.extend_from_slice(&reply.ids);
    let question = m
        .tokenizer
        .encode("\n\nUser: And then?\n\nAssistant:")
        .unwrap();
    next.prompt_ids.extend_from_slice(&question[1..]);
    let follow = run(&next, Some(&mut kept));
    let fresh = run(&next, None);
    // Every reply token but the last was fed in by a decode step.
    assert_eq!(follow.reused, first.prompt_ids.len() + reply.ids.len() - 1);
    assert_eq!(fresh.reused, 0);
    within(
        "tiny-a q4, follow-up from the kept cache against afresh",
        &follow.first_logits,
        &fresh.first_logits,
        1e-4,
    );
    assert_eq!(follow.ids, fresh.ids, "greedy ids from the kept cache");
}

/// Text ids and image codes equal, or a panic naming the first that differs.
fn same_choices(a: &(Vec<u32>, Vec<Vec<u32>>), b: &(Vec<u32>, Vec<Vec<u32>>), what: &str) {
    let first = |x: &[u32], y: &[u32]| {
        let differs = x.iter().zip(y).position(|(p, q)| p != q);
        differs.or((x.len() != y.len()).then_some(x.len().min(y.len())))
    };
    if let Some(i) = first(&a.0, &b.0) {
        panic!(
            "{what}: text ids differ from index {i}: {:?}, {:?}",
            a.0, b.0
        );
    }
    assert_eq!(a.1.len(), b.1.len(), "{what}: image counts");
    for (row, (x, y)) in a.1.iter().zip(&b.1).enumerate() {
        if let Some(i) = first(x, y) {
            panic!(
                "{what}: image {row}'s codes differ from index {i} of {}",
                x.len()
            );
        }
    }
}

#[test]
fn a_pack_loads_onto_the_gpu_as_the_same_packed_matrices() {
    let Some(device) = wgpu() else { return };
    let format = QuantFormat::Q4;
    let store = || TensorStore::new(&device, WorkingDtype::F32);
    let from_source = load_into(
        &DirSource::new(model_dir("tiny-a-hf")),
        store().with_quant(Some(format)),
    )
    .unwrap();
    // Small shards: the vocabulary matrices arrive in row parts.
    let pack = common::pack_fixture("tiny-a-hf", format, 64 << 10);
    let from_pack = load_into(&pack, store()).unwrap();
    assert!(from_pack.model.lm_head.weight.is_quantized());
    let sorted = |l: &Loaded| {
        let mut names = l.quantized_tensors.clone();
        names.sort();
        names
    };
    assert_eq!(sorted(&from_pack), sorted(&from_source));
    assert_eq!(decode_logits(&from_pack), decode_logits(&from_source));
    assert_eq!(
        first_logits(&from_pack, "tiny-a"),
        first_logits(&from_source, "tiny-a")
    );
}

/// Text and image logits of two decode steps after a two-row prefill: `[2 x 2 x (vocab + codebook)]`.
fn decode_logits(m: &Loaded) -> Vec<f32> {
    let model = &m.model;
    let ids = u32s(&golden("tiny-a")["cases"]["text"]["prompt_ids"]);
    let reversed: Vec<u32> = ids.iter().rev().copied().collect();
    let capacity = ids.len() + 2;
    let mut cache = model.new_cache(capacity);
    model.forward_embeds(
        model.embed_tokens(model.ids_tensor(&[ids.clone(), reversed])),
        &mut cache,
    );
    // With the kernels, steps take the fused decode path (position on the device), as the
    // generation loops do; without, the generic one.
    let cursor = model.llm.kernels().then(|| model.llm.cursor());
    let mut out = Vec::new();
    for step in 0..2 {
        let next = vec![vec![ids[step]], vec![ids[step + 1]]];
        let x = model.embed_tokens(model.ids_tensor(&next));
        let hidden = match &cursor {
            Some(cursor) => {
                cursor.set(ids.len() + step, 0);
                model.llm.decode(x, &cache, cursor)
            }
            None => model.forward_embeds(x, &mut cache),
        };
        for logits in [
            model.text_logits(hidden.clone()),
            model.image_logits(hidden.clone()),
        ] {
            out.extend(read(logits));
        }
    }
    out
}

fn read(t: Tensor<2>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

/// A prompt whose attention scores, run in one pass, would not fit WebGPU's default storage
/// binding limit (128 MiB), which this device has: 16 heads over 1,600 positions are 164 MB of
/// f32 scores, a wgpu validation error in one pass. The prefill runs in chunks of query rows
/// whose scores stay within `PREFILL_SCORE_BYTES` (three chunks here), and its first logits are
/// the CPU's for the same random weights. A tiny model otherwise (tiny-a's config with 16 heads
/// of 16 and room for 4,096 positions; one layer).
#[test]
fn a_prompt_past_the_binding_limit_runs_in_chunks() {
    use janus_model::bench::random_model;
    use janus_model::config::JanusConfig;
    use janus_model::generate::text::generate_text;
    use janus_model::model::llama::{PREFILL_SCORE_BYTES, prefill_rows};
    use std::ops::ControlFlow;

    let Some(device) = wgpu() else { return };
    let text = std::fs::read_to_string(model_dir("tiny-a-hf").join("config.json")).unwrap();
    let mut config = JanusConfig::from_json(&text).unwrap();
    let l = &mut config.language;
    (l.num_heads, l.num_kv_heads, l.head_dim) = (16, 16, 16);
    (l.num_layers, l.max_position_embeddings) = (1, 4096);
    let positions = 1600;
    let whole = (l.num_heads * positions * positions * 4) as u64;
    assert!(
        whole > 128 << 20,
        "{whole} bytes of scores fit the default binding limit"
    );
    assert_eq!(prefill_rows(1, 16, positions, PREFILL_SCORE_BYTES), 655);

    let first_logits = |device: &Device| {
        let store = TensorStore::new(device, WorkingDtype::F32);
        let (model, _) = pollster::block_on(random_model(&config, store, 7, &|| 0.0)).unwrap();
        let req = janus_model::generate::text::TextRequest {
            prompt_ids: (0..positions as u32).map(|i| 5 + (i * 37) % 290).collect(),
            images: vec![],
            max_new_tokens: 1,
            sampling: janus_model::generate::sampling::SamplingParams::greedy(),
            stop_token: None,
            image_token: 300,
            logprobs: None,
            json: None,
        };
        pollster::block_on(generate_text(&model, &req, |_| ControlFlow::Continue(())))
            .unwrap()
            .first_logits
    };
    let gpu = first_logits(&device);
    let cpu = first_logits(&common::device());
    let (diff, scale) = max_diff(&gpu, &cpu);
    println!(
        "{positions} positions, 16 heads, on WebGPU's default limits: logits max |diff| {diff:.2e} (up to {scale:.2})"
    );
    assert!(
        diff <= 1e-3 * scale.max(1.0),
        "logits differ from the CPU's by {diff}"
    );
}
