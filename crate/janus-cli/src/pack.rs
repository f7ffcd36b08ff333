//! `janus pack`: write a model folder's quantised pack (see `janus_model::weights::pack_writer`).

use std::path::Path;
use std::time::Instant;

use janus_model::error::SourceError;
use janus_model::quant::QuantFormat;
use janus_model::weights::manifest::MANIFEST_FILE;
use janus_model::weights::pack_writer::{PackOptions, write_pack};
use janus_model::{DirSource, inspect};

use crate::args::PackArgs;

pub fn run(args: &PackArgs) -> Result<(), String> {
    let format = QuantFormat::parse(&args.quant)
        .ok_or_else(|| format!("--quant {}: a pack is q4 or q8", args.quant))?;
    if !args.model.is_dir() {
        return Err(format!("{}: not a model folder", args.model.display()));
    }
    let shard_bytes = match args.shard_kib {
        Some(kib) => kib << 10,
        None => args.shard_mib << 20,
    };
    let source = DirSource::new(&args.model);
    let info = inspect(&source).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    // A pack is complete once its manifest exists: drop an old one before anything is replaced.
    remove_if_present(&args.out.join(MANIFEST_FILE))?;
    let options = PackOptions {
        format,
        shard_bytes,
        // The folder's name (a repository's), not where it happened to be on this machine.
        source_name: std::fs::canonicalize(&args.model)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| args.model.display().to_string()),
    };
    let start = Instant::now();
    let mut write = |file: &str, bytes: &[u8]| write_file(&args.out, file, bytes);
    let report =
        write_pack(&source, &info.plan, &options, &mut write).map_err(|e| e.to_string())?;
    let bytes = report.manifest.bytes();
    let shards = report
        .manifest
        .files
        .iter()
        .filter(|f| f.path.ends_with(".safetensors"))
        .count();
    println!(
        "{}: {} pack, {} files ({} shards), {:.1} MB from {:.1} MB of tensors ({:.2}x), {} tensors ({} quantised, {} in row parts), {:.1} s",
        args.out.display(),
        format.name(),
        report.manifest.files.len() + 1,
        shards,
        bytes as f64 / 1e6,
        report.source_bytes as f64 / 1e6,
        bytes as f64 / report.source_bytes.max(1) as f64,
        report.tensors,
        report.quantized_tensors,
        report.split_tensors,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Write through a temporary name, so a file is never half there under its own name.
fn write_file(dir: &Path, file: &str, bytes: &[u8]) -> Result<(), SourceError> {
    let io = |e: std::io::Error| SourceError::Io {
        file: file.to_string(),
        message: e.to_string(),
    };
    let path = dir.join(file);
    let partial = dir.join(format!("{file}.partial"));
    std::fs::write(&partial, bytes).map_err(io)?;
    std::fs::rename(&partial, &path).map_err(io)
}

fn remove_if_present(path: &Path) -> Result<(), String> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(format!("{}: {e}", path.display()))
        }
        _ => Ok(()),
    }
}
