//! The subcommands.

use std::ops::ControlFlow;

use janus_model::generate::image::{ImageRequest, decode_images, generate_image_codes};
use janus_model::generate::sampling::SamplingParams;
use janus_model::preprocess::prompt::render_image_prompt;
use janus_model::quant::QuantFormat;
use janus_model::tokenizer::{BEGIN_OF_IMAGE, JanusTokenizer, RoleNames};
use janus_model::{DirSource, Loaded, TensorStore, WorkingDtype, inspect, load_into};
use serde_json::json;

use crate::args::{Cli, Command, ImagineArgs, ModelArg, Roles};
use crate::output::{parse_codes, write_pngs};

pub fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Inspect { model, json } => inspect_cmd(&model, json),
        Command::Chat(args) => {
            let mut loaded = open(&args.model, cli.backend)?;
            // JANUS_SCORE_BYTES: the most bytes of attention scores one prefill pass may take
            // (a device's binding limit sets it in the browser): small, a short prompt runs in
            // passes, as a long one does (measurements, tests of the passes' progress line).
            let bound = std::env::var("JANUS_SCORE_BYTES").ok();
            if let Some(bytes) = bound.and_then(|v| v.parse().ok()) {
                loaded.model.llm.set_score_bytes(bytes);
            }
            crate::chat::chat(&loaded, &args)
        }
        Command::Imagine(args) => {
            let loaded = open(&args.model, cli.backend)?;
            imagine(&loaded, &args)
        }
        Command::Decode { model, codes, out } => {
            let loaded = open(&model, cli.backend)?;
            let text =
                std::fs::read_to_string(&codes).map_err(|e| format!("{}: {e}", codes.display()))?;
            let codes = parse_codes(&text)?;
            let images = pollster::block_on(decode_images(&loaded.model, &codes))
                .map_err(|e| e.to_string())?;
            for path in write_pngs(&images, &out)? {
                println!("{}", path.display());
            }
            Ok(())
        }
        Command::RandomModel(args) => crate::random_model::run(&args),
        Command::Bench(args) => crate::bench::run(&args, cli.backend),
        Command::Pack(args) => crate::pack::run(&args),
    }
}

fn source(model: &ModelArg) -> Result<DirSource, String> {
    if !model.model.is_dir() {
        return Err(format!("{}: not a model folder", model.model.display()));
    }
    Ok(DirSource::new(&model.model))
}

fn open(model: &ModelArg, backend: crate::args::Backend) -> Result<Loaded, String> {
    let source = source(model)?;
    let device = crate::device::open(backend)?;
    let quant = match model.quant.as_str() {
        "none" => None,
        q => Some(QuantFormat::parse(q).ok_or_else(|| format!("unknown --quant {q}"))?),
    };
    let store = TensorStore::new(&device, WorkingDtype::F32).with_quant(quant);
    load_into(&source, store).map_err(|e| e.to_string())
}

fn inspect_cmd(model: &ModelArg, as_json: bool) -> Result<(), String> {
    let info = inspect(&source(model)?).map_err(|e| e.to_string())?;
    let c = &info.config;
    let p = &info.plan;
    if as_json {
        let out = json!({
            "format": match c.format {
                janus_model::CheckpointFormat::DeepSeek => "deepseek",
                janus_model::CheckpointFormat::HuggingFace => "huggingface",
            },
            "parameters": p.total_params(),
            "loaded_parameters": p.loaded_params,
            "skipped_parameters": p.skipped_params,
            "tensors": p.tensor_count(),
            "loaded_tensors": p.reads.len(),
            "skipped_tensors": p.skipped,
            "shards": info.shard_files,
            "bytes_to_read": p.loaded_bytes,
            "largest_tensor_bytes": p.largest_read(),
            "hidden_size": c.language.hidden_size,
            "layers": c.language.num_layers,
            "vocab_size": c.language.vocab_size,
            "codebook_size": c.gen_vision.codebook_size,
            "image_size": c.gen_vision.image_size(),
            "stored_dtype": c.stored_dtype,
            "pack": p.pack.map(|f| f.name()),
        });
        println!("{out}");
    } else {
        println!("format:      {}", c.format.name());
        if let Some(format) = p.pack {
            println!("pack:        {} (janus pack)", format.name());
        }
        println!(
            "parameters:  {} ({} loaded, {} skipped)",
            p.total_params(),
            p.loaded_params,
            p.skipped_params
        );
        println!(
            "tensors:     {} ({} loaded, {} skipped) in {} file(s)",
            p.tensor_count(),
            p.reads.len(),
            p.skipped.len(),
            info.shard_files.len()
        );
        println!(
            "language:    {} layers, width {}, {} heads, vocab {}",
            c.language.num_layers,
            c.language.hidden_size,
            c.language.num_heads,
            c.language.vocab_size
        );
        println!(
            "vision:      SigLIP {} layers, width {}, {} px / {} px patches",
            c.vision.layers, c.vision.width, c.vision.image_size, c.vision.patch_size
        );
        println!(
            "generation:  codebook {} x {}, images {} px",
            c.gen_vision.codebook_size,
            c.gen_vision.codebook_embed_dim,
            c.gen_vision.image_size()
        );
        let groups = skipped_groups(&p.skipped);
        println!(
            "skipped:     {}",
            if groups.is_empty() {
                "none".into()
            } else {
                groups.join(", ")
            }
        );
    }
    Ok(())
}

/// Skipped tensor names summarised by group (`...encoder.*` instead of hundreds of names).
fn skipped_groups(names: &[String]) -> Vec<String> {
    let mut groups: Vec<String> = names
        .iter()
        .map(|n| {
            for key in [".encoder.", ".attn_pool."] {
                if let Some(i) = n.find(key) {
                    return format!("{}*", &n[..i + key.len()]);
                }
            }
            n.clone()
        })
        .collect();
    groups.sort();
    groups.dedup();
    groups
}

pub(crate) fn roles(choice: Option<Roles>, tokenizer: &JanusTokenizer) -> RoleNames {
    match choice {
        Some(Roles::Plain) => RoleNames::plain(),
        Some(Roles::Tagged) => RoleNames::tagged(),
        None => tokenizer.default_roles(),
    }
}

fn imagine(loaded: &Loaded, args: &ImagineArgs) -> Result<(), String> {
    let tok = &loaded.tokenizer;
    let text = match (&args.prompt, &args.raw_prompt) {
        (Some(prompt), _) => render_image_prompt(prompt, &roles(args.roles, tok)),
        (None, Some(raw)) if raw.ends_with(BEGIN_OF_IMAGE) => raw.clone(),
        (None, Some(raw)) => format!("{raw}{BEGIN_OF_IMAGE}"),
        (None, None) => return Err("give --prompt or --raw-prompt".into()),
    };
    let prompt_ids = tok.encode(&text).map_err(|e| e.to_string())?;
    let req = ImageRequest {
        prompt_ids: prompt_ids.clone(),
        count: args.count,
        cfg_weight: args.cfg_weight,
        sampling: SamplingParams {
            temperature: args.temperature,
            top_k: None,
            top_p: None,
            seed: args.seed,
        },
        pad_token: tok.special().pad,
        preview_every: 0,
    };
    let quiet = args.json;
    let out = pollster::block_on(generate_image_codes(&loaded.model, &req, |step| {
        let done = step.step + 1;
        if !quiet && (done % (step.total / 8).max(1) == 0 || done == step.total) {
            eprintln!("image tokens: {done}/{}", step.total);
        }
        ControlFlow::Continue(())
    }))
    .map_err(|e| e.to_string())?;
    let images =
        pollster::block_on(decode_images(&loaded.model, &out.codes)).map_err(|e| e.to_string())?;
    let files = write_pngs(&images, &args.out)?;
    if args.json {
        let files: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
        println!(
            "{}",
            json!({"prompt_ids": prompt_ids, "codes": out.codes, "files": files})
        );
    } else {
        for f in files {
            println!("{}", f.display());
        }
    }
    Ok(())
}
