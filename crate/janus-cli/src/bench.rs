//! `janus bench`: a full-size model with random weights on this machine's adapter, measured by
//! `janus_model::bench`; prints the BENCHMARKS.md row (and JSON with --json).

use std::sync::Arc;
use std::time::Instant;

use janus_model::bench::json::{MaskTimes, mask_times, words_table};
use janus_model::bench::{BenchPlan, BenchReport, decode_bytes_per_token, random_model};
use janus_model::config::Preset;
use janus_model::generate::json::TokenTable;
use janus_model::quant::QuantFormat;
use janus_model::tokenizer::JanusTokenizer;
use janus_model::{JanusConfig, TensorStore, WorkingDtype};

use crate::args::{Backend, BenchArgs};
use crate::device::open_described;

pub fn run(args: &BenchArgs, backend: Backend) -> Result<(), String> {
    // A preset, or a config.json (small configs check the command itself).
    let (name, text) = match Preset::ALL.iter().find(|p| p.id() == args.preset) {
        Some(p) => (p.id().to_string(), p.config_json().to_string()),
        None => (
            args.preset.clone(),
            std::fs::read_to_string(&args.preset)
                .map_err(|e| format!("{}: not a preset or a config file: {e}", args.preset))?,
        ),
    };
    let config = JanusConfig::from_json(&text).map_err(|e| e.to_string())?;
    let quant = match args.quant.as_str() {
        "none" => None,
        q => Some(QuantFormat::parse(q).ok_or_else(|| format!("unknown format {q}"))?),
    };
    let opened = open_described(backend)?;
    let dtype = match args.dtype.as_deref() {
        Some("f32") => WorkingDtype::F32,
        Some("f16") => WorkingDtype::F16,
        None if opened.shader_f16 => WorkingDtype::F16,
        None => WorkingDtype::F32,
        Some(other) => return Err(format!("unknown dtype {other} (f16 or f32)")),
    };
    // The yardstick first, while the device is empty: two buffers of 256 MiB, or of the largest
    // binding the adapter allows (lavapipe: 128 MiB).
    let copy_bytes = (args.copy_mib << 20).min(opened.max_tensor_bytes as usize);
    let copy_gbps = copy_bandwidth(&opened, copy_bytes)?;
    if args.kernels {
        return kernels(&opened, &config, dtype, quant, args, copy_gbps);
    }
    if args.vq_convs {
        return vq_convs(&opened, &config, args);
    }
    let origin = Instant::now();
    let clock = move || origin.elapsed().as_secs_f64();
    eprintln!("{}: building {name} with random weights", opened.adapter);
    let store = TensorStore::new(&opened.device, dtype)
        .with_max_tensor_bytes(opened.max_tensor_bytes)
        .with_quant(quant);
    let (model, load_s) =
        pollster::block_on(random_model(&config, store, 1, &clock)).map_err(|e| e.to_string())?;
    let gpu_loaded = memory(&opened);
    let json = match &args.json_tokenizer {
        Some(path) => Some(json_table(path, &config, &clock)?),
        None => None,
    };
    eprintln!("loaded in {load_s:.1} s; running");
    let plan = BenchPlan {
        prompt_tokens: args.prompt_tokens,
        decode_tokens: args.decode_tokens.max(1),
        image_steps: args.image_steps,
        vq_decode: !args.no_vq,
        logprobs: args.logprobs,
        json,
    };
    let mut report = pollster::block_on(janus_model::bench::run(&model, &plan, &clock))
        .map_err(|e| e.to_string())?;
    let gpu_after = memory(&opened);
    drop(model);
    report.adapter = opened.adapter.clone();
    report.model = name;
    report.weights = match quant {
        Some(q) => format!("{} + {}", dtype.name(), q.name()),
        None => dtype.name().to_string(),
    };
    report.load_s = load_s;
    report.gpu_bytes_loaded = gpu_loaded;
    report.gpu_bytes_after = gpu_after;
    report.decode_bytes = decode_bytes_per_token(&config, dtype, quant);
    report.copy_gbps = copy_gbps;
    report.copy_buffer_bytes = copy_bytes as u64;
    eprintln!("decode steps: {}", report.steps);
    println!("{}", BenchReport::markdown_header());
    println!("{}", report.markdown_row());
    if let Some(first) = report.vq_first_s {
        eprintln!("first VQ decode (compiling its kernels): {first:.2} s");
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&report).map_err(|e| e.to_string())?
        );
    }
    Ok(())
}

/// `--json-tokenizer`: the tokenizer's table for JSON replies, and what its masks cost (printed).
fn json_table(
    path: &std::path::Path,
    config: &JanusConfig,
    clock: &dyn Fn() -> f64,
) -> Result<Arc<TokenTable>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let tok = JanusTokenizer::from_bytes(&bytes, config.language.vocab_size)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let start = clock();
    let table = tok.json_table();
    eprintln!(
        "JSON replies: {} tokens sorted in {:.1} ms",
        table.len(),
        (clock() - start) * 1e3
    );
    let say = |what: &str, t: MaskTimes| {
        eprintln!(
            "JSON masks over {what}, each state afresh: {} states, mean {:.2} ms, max {:.2} ms, \
             {:.0} tokens allowed on average",
            t.states,
            t.mean_s * 1e3,
            t.max_s * 1e3,
            t.mean_allowed
        )
    };
    say("this tokenizer", mask_times(&table, clock));
    let words = words_table(table.len(), table.width());
    say(
        &format!("{} words of letters", words.len()),
        mask_times(&words, clock),
    );
    Ok(table)
}

/// `--kernels`: each decode kernel alone (wgpu with the kernels built in only).
fn kernels(
    opened: &crate::device::Opened,
    config: &JanusConfig,
    dtype: WorkingDtype,
    quant: Option<QuantFormat>,
    args: &BenchArgs,
    copy_gbps: Option<f64>,
) -> Result<(), String> {
    #[cfg(feature = "wgpu")]
    if opened.wgpu {
        use janus_model::bench::kernels::{Timing, kernels, markdown};
        let format = quant.ok_or("--kernels times the quantised kernels: --quant q8 or q4")?;
        let origin = Instant::now();
        let clock = move || origin.elapsed().as_secs_f64();
        let figures = pollster::block_on(kernels(
            config,
            &opened.device,
            dtype.dtype(),
            format,
            args.context,
            &Timing {
                clock: &clock,
                min_s: 0.5,
                only: args.only.as_deref(),
                hot: args.hot,
            },
        ))
        .map_err(|e| e.to_string())?;
        println!("{} ({}, {})", opened.adapter, dtype.name(), format.name());
        print!("{}", markdown(&figures, copy_gbps));
        if let Some(only) = &args.only {
            println!("(--only {only}: the sum covers the kernels above, not a whole step)");
        }
        if args.hot {
            println!("(--hot: each product read one copy of its weights, which a cache may hold)");
        }
        if args.json {
            println!(
                "{}",
                serde_json::to_string(&figures).map_err(|e| e.to_string())?
            );
        }
        return Ok(());
    }
    let _ = (opened, config, dtype, quant, args, copy_gbps);
    Err("--kernels needs the wgpu backend".into())
}

/// `--vq-convs`: each convolution of a VQ decode alone, kernel and burn (wgpu with the kernels
/// built in only).
fn vq_convs(
    opened: &crate::device::Opened,
    config: &JanusConfig,
    args: &BenchArgs,
) -> Result<(), String> {
    #[cfg(feature = "wgpu")]
    if opened.wgpu {
        use janus_model::bench::conv::{markdown, vq_convs};
        let origin = Instant::now();
        let clock = move || origin.elapsed().as_secs_f64();
        let figures = pollster::block_on(vq_convs(
            &config.gen_vision,
            &opened.device,
            !args.no_reference,
            &clock,
            0.5,
        ))
        .map_err(|e| e.to_string())?;
        println!("{} (f32)", opened.adapter);
        print!("{}", markdown(&figures));
        if args.json {
            println!(
                "{}",
                serde_json::to_string(&figures).map_err(|e| e.to_string())?
            );
        }
        return Ok(());
    }
    let _ = (opened, config, args);
    Err("--vq-convs needs the wgpu backend".into())
}

/// Bytes the device's pools hold (wgpu only).
fn memory(opened: &crate::device::Opened) -> Option<u64> {
    #[cfg(feature = "wgpu")]
    if opened.wgpu {
        return Some(janus_model::kernels::memory::memory_figures(&opened.device).in_use);
    }
    let _ = opened;
    None
}

/// GB/s of the WGSL copy kernel over two `bytes` buffers: launched until a second has passed
/// (at least 3 times) after one warm-up, bytes read + written over the time.
fn copy_bandwidth(opened: &crate::device::Opened, bytes: usize) -> Result<Option<f64>, String> {
    #[cfg(feature = "wgpu")]
    if opened.wgpu {
        use janus_model::kernels::copy::CopyBench;
        let bench = CopyBench::new(&opened.device, bytes);
        let sync = || opened.device.sync().map_err(|e| format!("{e:?}"));
        bench.run();
        sync()?;
        if !pollster::block_on(bench.verify()) {
            return Err("the copy kernel did not copy".into());
        }
        let start = Instant::now();
        let mut runs = 0;
        while runs < 3 || start.elapsed().as_secs_f64() < 1.0 {
            bench.run();
            sync()?;
            runs += 1;
        }
        let moved = 2.0 * bench.bytes as f64 * runs as f64;
        return Ok(Some(moved / start.elapsed().as_secs_f64() / 1e9));
    }
    let _ = (opened, bytes);
    Ok(None)
}
