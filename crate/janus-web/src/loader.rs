//! Loading a model from an [`AsyncSource`], tensor by tensor: the same sans-IO steps as the
//! native loader (`janus_model::weights`), driven with `await`s.
//!
//! config.json and tokenizer.json are read whole; each shard contributes two small reads (its
//! length prefix and JSON header); then the plan's tensors are fetched in file order. Small
//! neighbouring tensors share one request (up to [`BATCH_BYTES`]) so a checkpoint of hundreds of
//! norm vectors is not hundreds of round trips; a large tensor is one request of its own. Host
//! memory therefore peaks near `max(largest tensor, BATCH_BYTES)` times the decode factor, never
//! near the checkpoint size.

use std::ops::ControlFlow;

use janus_model::config::JanusConfig;
use janus_model::weights::pack_writer::{DEFAULT_SHARD_BYTES, PackOptions, PackOutput, PackWriter};
use janus_model::weights::{
    INDEX_FILE, SINGLE_FILE, ShardHeader, ShardIndex, TensorRead, TensorStore, plan, safetensors,
};
use janus_model::{CONFIG_FILE, Janus, JanusTokenizer, Loaded, TOKENIZER_FILE};

use crate::error::{WebError, codes};
use crate::source::AsyncSource;

/// Tensors closer than this many bytes in one file are fetched in one request...
const MAX_GAP: u64 = 64 * 1024;
/// ...as long as the request stays below this size.
pub const BATCH_BYTES: u64 = 8 * 1024 * 1024;

/// Which step a load is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Config,
    Tokenizer,
    Headers,
    Weights,
}

/// A progress report, sent after every step.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadProgress {
    pub phase: Phase,
    pub file: String,
    pub tensors_done: usize,
    pub tensors_total: usize,
    pub bytes_done: u64,
    pub bytes_total: u64,
}

/// What a finished load measured.
#[derive(Clone, Debug, Default)]
pub struct LoadStats {
    /// Sum of the shard files' sizes.
    pub checkpoint_bytes: u64,
    /// Bytes fetched for tensors.
    pub tensor_bytes: u64,
    pub largest_tensor_bytes: u64,
    pub requests: usize,
    /// The most bytes one request brought in.
    pub largest_request_bytes: u64,
    /// A pack was written while loading, of this many bytes.
    pub pack_written: bool,
    pub pack_bytes: u64,
}

/// Where the pack written while loading goes, file by file (the page stores it in IndexedDB).
/// Single-threaded wasm: its futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait PackSink {
    async fn put(&mut self, file: &PackOutput) -> Result<(), WebError>;
}

/// No pack is written.
pub struct NoPack;

impl PackSink for NoPack {
    async fn put(&mut self, _: &PackOutput) -> Result<(), WebError> {
        Ok(())
    }
}

/// Read config, tokenizer, headers and every used tensor from `src` into `store`.
///
/// `progress` is called after each step and may stop the load (`aborted`; nothing is kept);
/// `memory_probe` runs after each upload (the browser build samples wasm memory there).
pub async fn load<S: AsyncSource>(
    src: &S,
    store: TensorStore,
    progress: impl FnMut(&LoadProgress) -> ControlFlow<()>,
    memory_probe: impl FnMut(),
) -> Result<(Loaded, LoadStats), WebError> {
    load_with_pack(src, store, progress, memory_probe, None::<&mut NoPack>).await
}

/// [`load`], and with `pack`, a store with a quantised format, and a source that is not a pack
/// already, the same reads also write the model's pack (`janus pack`'s files) into `pack`, so
/// a later start loads that instead: no re-quantising, a quarter of the bytes.
pub async fn load_with_pack<S: AsyncSource, P: PackSink>(
    src: &S,
    mut store: TensorStore,
    mut progress: impl FnMut(&LoadProgress) -> ControlFlow<()>,
    mut memory_probe: impl FnMut(),
    mut pack: Option<&mut P>,
) -> Result<(Loaded, LoadStats), WebError> {
    let mut progress = |p: &LoadProgress| match progress(p) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(()) => Err(WebError::new(
            codes::ABORTED,
            "the model load was cancelled",
        )),
    };
    let mut report = LoadProgress {
        phase: Phase::Config,
        file: CONFIG_FILE.into(),
        tensors_done: 0,
        tensors_total: 0,
        bytes_done: 0,
        bytes_total: 0,
    };
    progress(&report)?;
    let config_bytes = src.read_all(CONFIG_FILE).await?;
    let config_text = String::from_utf8(config_bytes.clone())
        .map_err(|_| WebError::new(codes::BAD_CONFIG, "config.json is not UTF-8 text"))?;
    let config = JanusConfig::from_json(&config_text)
        .map_err(|e| WebError::new(codes::BAD_CONFIG, e.to_string()))?;

    report.phase = Phase::Tokenizer;
    report.file = TOKENIZER_FILE.into();
    progress(&report)?;
    let tokenizer_bytes = src.read_all(TOKENIZER_FILE).await?;
    let tokenizer = JanusTokenizer::from_bytes(&tokenizer_bytes, config.language.vocab_size)
        .map_err(|e| WebError::new(codes::BAD_TOKENIZER, e.to_string()))?;

    report.phase = Phase::Headers;
    let (index, files) = match src.read_optional(INDEX_FILE).await? {
        Some(bytes) => {
            let index = ShardIndex::parse(&bytes)?;
            let files = index.shards();
            (Some(index), files)
        }
        None => (None, vec![SINGLE_FILE.to_string()]),
    };
    let mut stats = LoadStats::default();
    let mut shards = Vec::with_capacity(files.len());
    for file in &files {
        report.file = file.clone();
        progress(&report)?;
        let header = read_header(src, file).await.map_err(|e| match e.code {
            codes::NOT_FOUND if index.is_none() => WebError::new(
                codes::NOT_FOUND,
                format!(
                    "{}: neither {INDEX_FILE} nor {SINGLE_FILE} was found; is this a Janus model in Hugging Face layout?",
                    src.describe()
                ),
            ),
            _ => e,
        })?;
        stats.checkpoint_bytes += header.file_len;
        shards.push(header);
    }
    let plan = plan(&config, &shards, index.as_ref())?;
    // Refuse what cannot fit the device before downloading any of it.
    store.prepare(&plan)?;

    // The pack's writer, when one is wanted and makes sense.
    let mut writer = match (&pack, store.quant(), plan.pack) {
        (Some(_), Some(format), None) => Some(PackWriter::new(
            &plan,
            PackOptions {
                format,
                shard_bytes: DEFAULT_SHARD_BYTES,
                source_name: src.describe(),
            },
        )?),
        _ => None,
    };
    if let (Some(w), Some(sink)) = (writer.as_mut(), pack.as_mut()) {
        for file in w.start(&config_bytes, &tokenizer_bytes) {
            sink.put(&file).await?;
        }
    }
    drop((config_bytes, tokenizer_bytes));

    report.phase = Phase::Weights;
    report.tensors_total = plan.reads.len();
    report.bytes_total = plan.loaded_bytes;
    stats.largest_tensor_bytes = plan.largest_read();
    // Large tensors in row parts: wasm memory holds one request, never a 0.4 GB matrix.
    let mut reads: Vec<TensorRead> = Vec::new();
    // Per part: whether it is its tensor's last (progress counts whole tensors).
    let mut last_part: Vec<bool> = Vec::new();
    for r in &plan.reads {
        let parts = r.row_parts(BATCH_BYTES);
        last_part.extend((0..parts.len()).map(|i| i + 1 == parts.len()));
        reads.extend(parts);
    }
    for range in batches(&reads) {
        let batch = &reads[range.clone()];
        let first = &batch[0];
        let start = first.offset;
        let end = batch
            .iter()
            .map(|r| r.offset + r.len)
            .max()
            .unwrap_or(start);
        report.file = first.file.clone();
        let bytes = src.read_range(&first.file, start, end - start).await?;
        stats.requests += 1;
        stats.largest_request_bytes = stats.largest_request_bytes.max(end - start);
        for (read, &last) in batch.iter().zip(&last_part[range]) {
            let at = (read.offset - start) as usize;
            let part = &bytes[at..at + read.len as usize];
            store.accept(read, part)?;
            memory_probe();
            if let (Some(w), Some(sink)) = (writer.as_mut(), pack.as_mut()) {
                w.accept(read, part)?;
                while let Some(file) = w.next_shard()? {
                    stats.pack_bytes += file.bytes.len() as u64;
                    sink.put(&file).await?;
                    // The next shard is written into this one's allocation.
                    w.recycle(file.bytes);
                }
                memory_probe();
            }
            if last {
                report.tensors_done += 1;
            }
            report.bytes_done += read.len;
        }
        stats.tensor_bytes += end - start;
        drop(bytes);
        crate::device::settle(store.device()).await?;
        memory_probe();
        progress(&report)?;
    }
    if let (Some(w), Some(sink)) = (writer, pack.as_mut()) {
        let (manifest, _) = w.finish()?;
        stats.pack_bytes += manifest.bytes.len() as u64;
        stats.pack_written = true;
        sink.put(&manifest).await?;
    }
    let split_tensors = store.split_tensors().to_vec();
    let quantized_tensors = store.quantized_tensors().to_vec();
    let model = Janus::from_store(&config, &mut store)?;
    Ok((
        Loaded {
            model,
            tokenizer,
            plan,
            split_tensors,
            quantized_tensors,
        },
        stats,
    ))
}

/// One shard's header: the 8-byte length prefix (with the file size), then the JSON.
async fn read_header<S: AsyncSource>(src: &S, file: &str) -> Result<ShardHeader, WebError> {
    let (prefix, size) = src.read_prefix(file, safetensors::PREFIX_LEN).await?;
    let n = safetensors::header_len(file, &prefix, size)?;
    let header = src.read_range(file, safetensors::PREFIX_LEN, n).await?;
    Ok(safetensors::parse_header(file, &header, size)?)
}

/// The plan's reads grouped into requests: same file, in order, small gaps, bounded size.
fn batches(reads: &[TensorRead]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=reads.len() {
        let close = i == reads.len() || {
            let (first, prev, next) = (&reads[start], &reads[i - 1], &reads[i]);
            next.file != first.file
                || next.offset < prev.offset + prev.len
                || next.offset - (prev.offset + prev.len) > MAX_GAP
                || next.offset + next.len - first.offset > BATCH_BYTES
        };
        if close {
            out.push(start..i);
            start = i;
        }
    }
    out
}
