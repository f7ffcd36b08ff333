//! Checkpoint loading, kept apart from compute: headers and index are parsed, matched strictly
//! against the tensor list derived from the config ([`spec`]), then tensors are read one at a time
//! from a [`ByteSource`] and uploaded ([`TensorStore`]).
//!
//! The planning steps are plain functions over bytes, so an asynchronous reader (the browser)
//! drives the same plan with `await`s; [`load_weights`] is the synchronous driver.

pub mod budget;
mod device_rows;
pub mod incoming;
pub mod index;
pub mod manifest;
pub mod pack_writer;
pub mod packed;
pub mod plan;
pub mod safetensors;
pub mod source;
pub mod spec;
pub mod store;

pub use self::budget::{GpuBudget, gpu_budget, gpu_budget_quantized, pack_bytes};
pub use self::index::{INDEX_FILE, SINGLE_FILE, ShardIndex};
pub use self::plan::{LoadPlan, TensorRead, plan};
pub use self::safetensors::{ShardHeader, StoredDtype};
pub use self::source::{ByteSource, DirSource, MemorySource};
pub use self::spec::{TensorSpec, Usage, expected_tensors, parameter_count};
pub use self::store::{TensorStore, WorkingDtype};

use crate::config::JanusConfig;
use crate::error::{SourceError, WeightsError};

/// The most bytes one read brings in: larger tensors are read in row parts
/// ([`TensorRead::row_parts`]), so loading holds 64 MiB of source bytes at a time.
pub const READ_PART_BYTES: u64 = 64 << 20;

/// The checkpoint's shard files and, when sharded, its index.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    pub index: Option<ShardIndex>,
    pub shards: Vec<ShardHeader>,
}

/// Which files hold the weights: the index's shards, or `model.safetensors`.
pub fn shard_files(
    source: &dyn ByteSource,
) -> Result<(Option<ShardIndex>, Vec<String>), WeightsError> {
    if source.exists(INDEX_FILE) {
        let index = ShardIndex::parse(&source.read_all(INDEX_FILE)?)?;
        let files = index.shards();
        return Ok((Some(index), files));
    }
    if source.exists(SINGLE_FILE) {
        return Ok((None, vec![SINGLE_FILE.to_string()]));
    }
    for legacy in ["pytorch_model.bin", "pytorch_model.bin.index.json"] {
        if source.exists(legacy) {
            return Err(WeightsError::BadHeader {
                file: legacy.into(),
                reason: "PyTorch pickle checkpoints are not supported; use the safetensors files (e.g. the deepseek-community conversion)".into(),
            });
        }
    }
    Err(SourceError::NotFound {
        file: SINGLE_FILE.into(),
    }
    .into())
}

/// Read one shard's header (two small reads).
pub fn read_header(source: &dyn ByteSource, file: &str) -> Result<ShardHeader, WeightsError> {
    let size = source.size(file)?;
    let prefix_len = size.min(safetensors::PREFIX_LEN);
    let prefix = source.read(file, 0, prefix_len)?;
    let n = safetensors::header_len(file, &prefix, size)?;
    let header = source.read(file, safetensors::PREFIX_LEN, n)?;
    safetensors::parse_header(file, &header, size)
}

/// Headers of every shard, and the index (a pack's files checked against its manifest first).
pub fn read_checkpoint(source: &dyn ByteSource) -> Result<Checkpoint, WeightsError> {
    if source.exists(manifest::MANIFEST_FILE) {
        manifest::PackManifest::parse(&source.read_all(manifest::MANIFEST_FILE)?)?
            .check_sizes(source)?;
    }
    let (index, files) = shard_files(source)?;
    let shards = files
        .iter()
        .map(|f| read_header(source, f))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Checkpoint { index, shards })
}

/// Check the checkpoint against `config` and the store's device limit, then read every used
/// tensor into `store`.
pub fn load_weights(
    source: &dyn ByteSource,
    config: &JanusConfig,
    mut store: TensorStore,
) -> Result<(TensorStore, LoadPlan), WeightsError> {
    let checkpoint = read_checkpoint(source)?;
    let plan = plan(config, &checkpoint.shards, checkpoint.index.as_ref())?;
    store.prepare(&plan)?;
    for read in plan.reads.iter().flat_map(|r| r.row_parts(READ_PART_BYTES)) {
        let bytes = source.read(&read.file, read.offset, read.len)?;
        store.accept(&read, &bytes)?;
    }
    Ok((store, plan))
}
