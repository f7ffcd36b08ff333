//! `janus random-model`: a model folder with random weights in the exact layout of a config —
//! what the browser and benchmark tests load when the real checkpoint cannot be downloaded.
//! Values are uniform in ±0.05 (norm weights around 1), stored as bf16 like the published files,
//! written one shard at a time so a full-size model never sits in memory at once.

use std::collections::BTreeMap;

use janus_model::config::{CheckpointFormat, Preset};
use janus_model::weights::{INDEX_FILE, SINGLE_FILE, TensorSpec, Usage, expected_tensors};
use janus_model::{CONFIG_FILE, JanusConfig, TOKENIZER_FILE};
use safetensors::tensor::{Dtype, TensorView};

use crate::args::RandomModelArgs;

pub fn run(args: &RandomModelArgs) -> Result<(), String> {
    let config_text = match Preset::ALL.iter().find(|p| p.id() == args.config) {
        Some(p) => p.config_json().to_string(),
        None => {
            std::fs::read_to_string(&args.config).map_err(|e| format!("{}: {e}", args.config))?
        }
    };
    let config = JanusConfig::from_json(&config_text).map_err(|e| e.to_string())?;
    let tokenizer =
        std::fs::read(&args.tokenizer).map_err(|e| format!("{}: {e}", args.tokenizer.display()))?;
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let write = |name: &str, bytes: &[u8]| {
        let path = args.out.join(name);
        std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))
    };
    write(CONFIG_FILE, config_text.as_bytes())?;
    write(TOKENIZER_FILE, &tokenizer)?;
    for stale in [SINGLE_FILE, INDEX_FILE] {
        let _ = std::fs::remove_file(args.out.join(stale));
    }

    let specs: Vec<TensorSpec> = expected_tensors(&config)
        .into_iter()
        .filter(|s| s.required || (!args.skip_unused && s.usage == Usage::Unused))
        .collect();
    let shards = group(&specs, args.shard_mib.max(1) << 20);
    let mut weight_map = BTreeMap::new();
    let mut rng = args.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let total = shards.len();
    for (i, shard) in shards.iter().enumerate() {
        let file = if total == 1 {
            SINGLE_FILE.to_string()
        } else {
            format!("model-{:05}-of-{total:05}.safetensors", i + 1)
        };
        let data: Vec<Vec<u8>> = shard.iter().map(|s| values(s, &mut rng)).collect();
        let views = shard
            .iter()
            .zip(&data)
            .map(|(s, d)| {
                TensorView::new(Dtype::BF16, s.shape.clone(), d).map(|v| (s.name.clone(), v))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let path = args.out.join(&file);
        safetensors::serialize_to_file(views, None, &path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        for s in shard {
            weight_map.insert(s.name.clone(), file.clone());
        }
        eprintln!("{file}: {} tensors", shard.len());
    }
    if total > 1 {
        let index = serde_json::json!({
            "metadata": { "total_size": specs.iter().map(|s| s.num_elements() * 2).sum::<u64>() },
            "weight_map": weight_map,
        });
        write(INDEX_FILE, index.to_string().as_bytes())?;
    }
    let format = match config.format {
        CheckpointFormat::DeepSeek => "deepseek",
        CheckpointFormat::HuggingFace => "huggingface",
    };
    println!(
        "{}: {} tensors, {} parameters, {format} layout, {total} shard(s)",
        args.out.display(),
        specs.len(),
        specs.iter().map(TensorSpec::num_elements).sum::<u64>()
    );
    Ok(())
}

/// Consecutive tensors in shards of at most `max_bytes` (a larger tensor gets its own shard).
fn group(specs: &[TensorSpec], max_bytes: u64) -> Vec<Vec<TensorSpec>> {
    let mut out: Vec<Vec<TensorSpec>> = vec![Vec::new()];
    let mut size = 0;
    for s in specs {
        let bytes = s.num_elements() * 2;
        if size + bytes > max_bytes && !out.last().is_some_and(Vec::is_empty) {
            out.push(Vec::new());
            size = 0;
        }
        size += bytes;
        if let Some(last) = out.last_mut() {
            last.push(s.clone());
        }
    }
    out
}

/// bf16 little-endian bytes: uniform ±0.05, or 1 ± 0.05 for norm weights (a zero-mean norm
/// weight would silence every layer).
fn values(spec: &TensorSpec, rng: &mut u64) -> Vec<u8> {
    let n = spec.num_elements() as usize;
    let norm = is_norm(&spec.name, &spec.shape);
    let mut out = Vec::with_capacity(n * 2);
    for _ in 0..n {
        // xorshift64*: fast, deterministic, plenty for weights nobody reads for meaning.
        *rng ^= *rng >> 12;
        *rng ^= *rng << 25;
        *rng ^= *rng >> 27;
        let r = rng.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let u = (r >> 40) as f32 / (1u64 << 24) as f32 * 0.1 - 0.05;
        let v = if norm { 1.0 + u } else { u };
        out.extend_from_slice(&half::bf16::from_f32(v).to_le_bytes());
    }
    out
}

fn is_norm(name: &str, shape: &[usize]) -> bool {
    shape.len() == 1 && name.ends_with(".weight") && (name.contains("norm") || name.contains("ln"))
}
