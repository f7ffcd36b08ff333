//! Matching a checkpoint's headers against the expected tensor list, before reading any data.
//!
//! Loading is strict and total: every tensor in the files must be expected (by name and shape,
//! with a usable dtype), every required tensor must be present exactly once, and a shard index
//! must agree with the headers. The result is a list of byte ranges to read, in file order; the
//! known-unused tensors are listed as skipped and never read.

use std::collections::{BTreeMap, HashMap};

use super::index::ShardIndex;
use super::packed;
use super::safetensors::{HeaderTensor, ShardHeader, StoredDtype};
use super::spec::{Placement, TensorSpec, Usage, expected_tensors};
use crate::config::JanusConfig;
use crate::error::WeightsError;
use crate::quant::QuantFormat;

/// One tensor to read and where its values go.
#[derive(Clone, Debug)]
pub struct TensorRead {
    pub file: String,
    pub name: String,
    /// Absolute byte offset in `file`.
    pub offset: u64,
    pub len: u64,
    pub dtype: StoredDtype,
    pub shape: Vec<usize>,
    pub placements: Vec<Placement>,
    /// The rows are a packed quantised matrix in this format (a pack's `U8` tensor).
    pub packed: Option<QuantFormat>,
    /// A pack's row part: the target row it starts at (its parts are read in row order).
    pub first_row: Option<usize>,
}

impl TensorRead {
    /// The read of header tensor `t` of `file`, whole, stored as floats.
    pub(super) fn of(
        file: &str,
        t: &HeaderTensor,
        dtype: StoredDtype,
        placements: Vec<Placement>,
    ) -> Self {
        TensorRead {
            file: file.to_string(),
            name: t.name.clone(),
            offset: t.start,
            len: t.end - t.start,
            dtype,
            shape: t.shape.clone(),
            placements,
            packed: None,
            first_row: None,
        }
    }

    /// This read as row parts of at most `max_bytes` each (whole rows, at least one), so a
    /// loader never holds a whole 0.4 GB vocabulary matrix: the store joins the parts (they
    /// arrive in order, each saying its first row). A read that places row ranges of itself
    /// (a fused q/k/v) or is one row stays whole.
    pub fn row_parts(&self, max_bytes: u64) -> Vec<TensorRead> {
        let rows = self.shape.first().copied().unwrap_or(1);
        if self.len <= max_bytes
            || self.shape.is_empty()
            || rows <= 1
            || self.placements.iter().any(|p| p.rows.is_some())
        {
            return vec![self.clone()];
        }
        let row_bytes = self.len / rows as u64;
        let per = (max_bytes / row_bytes.max(1)).max(1) as usize;
        (0..rows)
            .step_by(per)
            .map(|start| {
                let end = (start + per).min(rows);
                let mut shape = self.shape.clone();
                shape[0] = end - start;
                TensorRead {
                    offset: self.offset + start as u64 * row_bytes,
                    len: (end - start) as u64 * row_bytes,
                    shape,
                    first_row: Some(self.first_row.unwrap_or(0) + start),
                    ..self.clone()
                }
            })
            .collect()
    }
}

/// What a load will do.
#[derive(Clone, Debug)]
pub struct LoadPlan {
    pub reads: Vec<TensorRead>,
    /// Known-unused tensors present in the checkpoint, never read.
    pub skipped: Vec<String>,
    pub loaded_params: u64,
    pub skipped_params: u64,
    /// Bytes that will be read.
    pub loaded_bytes: u64,
    /// The checkpoint is a pack (`janus pack`) quantised in this format.
    pub pack: Option<QuantFormat>,
}

impl LoadPlan {
    /// Every tensor in the checkpoint.
    pub fn tensor_count(&self) -> usize {
        self.reads.len() + self.skipped.len()
    }

    pub fn total_params(&self) -> u64 {
        self.loaded_params + self.skipped_params
    }

    /// The largest single read, which bounds loader memory.
    pub fn largest_read(&self) -> u64 {
        self.reads.iter().map(|r| r.len).max().unwrap_or(0)
    }
}

/// Check `shards` (and `index`, for sharded checkpoints) against `config` and plan the reads.
/// A pack (its headers say so) is checked against the canonical tensors instead.
pub fn plan(
    config: &JanusConfig,
    shards: &[ShardHeader],
    index: Option<&ShardIndex>,
) -> Result<LoadPlan, WeightsError> {
    if let Some(format) = packed::pack_format(shards)? {
        return packed::plan_pack(config, shards, index, format);
    }
    let specs: HashMap<String, TensorSpec> = expected_tensors(config)
        .into_iter()
        .map(|s| (s.name.clone(), s))
        .collect();
    let mut problems: Vec<WeightsError> = Vec::new();
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    let mut plan = LoadPlan::empty(None);
    for shard in shards {
        for t in &shard.tensors {
            if !first_sighting(&mut seen, index, &t.name, &shard.file, &mut problems) {
                continue;
            }
            let Some(spec) = specs.get(&t.name) else {
                problems.push(WeightsError::Unexpected {
                    name: t.name.clone(),
                    file: shard.file.clone(),
                });
                continue;
            };
            if t.shape != spec.shape {
                problems.push(WeightsError::Shape {
                    name: t.name.clone(),
                    expected: spec.shape.clone(),
                    found: t.shape.clone(),
                });
                continue;
            }
            let params = spec.num_elements();
            match &spec.usage {
                Usage::Unused => {
                    plan.skipped.push(t.name.clone());
                    plan.skipped_params += params;
                }
                Usage::Load(placements) => {
                    let dtype = match &t.dtype {
                        Ok(d) if d.is_float() => *d,
                        Ok(d) => {
                            problems.push(WeightsError::Dtype {
                                name: t.name.clone(),
                                dtype: d.name().into(),
                            });
                            continue;
                        }
                        Err(found) => {
                            problems.push(WeightsError::Dtype {
                                name: t.name.clone(),
                                dtype: found.clone(),
                            });
                            continue;
                        }
                    };
                    plan.loaded_params += params;
                    plan.push(TensorRead::of(&shard.file, t, dtype, placements.clone()));
                }
            }
        }
    }
    let mut missing: Vec<&TensorSpec> = specs
        .values()
        .filter(|s| s.required && !seen.contains_key(s.name.as_str()))
        .collect();
    missing.sort_by(|a, b| a.name.cmp(&b.name));
    problems.extend(missing.into_iter().map(|s| WeightsError::Missing {
        name: s.name.clone(),
    }));
    finish(plan, problems)
}

impl LoadPlan {
    /// Add a read (and its bytes to the total).
    pub(super) fn push(&mut self, read: TensorRead) {
        self.loaded_bytes += read.len;
        self.reads.push(read);
    }

    /// Nothing to read yet (`pack`: the checkpoint is a pack in that format).
    pub(super) fn empty(pack: Option<QuantFormat>) -> Self {
        LoadPlan {
            reads: Vec::new(),
            skipped: Vec::new(),
            loaded_params: 0,
            skipped_params: 0,
            loaded_bytes: 0,
            pack,
        }
    }
}

/// Record tensor `name` as found in `file`: false, with a problem, when an earlier shard held
/// it too; a shard index must agree.
pub(super) fn first_sighting<'a>(
    seen: &mut BTreeMap<&'a str, &'a str>,
    index: Option<&ShardIndex>,
    name: &'a str,
    file: &'a str,
    problems: &mut Vec<WeightsError>,
) -> bool {
    if let Some(first) = seen.insert(name, file) {
        problems.push(WeightsError::Duplicate {
            name: name.to_string(),
            first: first.to_string(),
            second: file.to_string(),
        });
        return false;
    }
    check_index(index, name, file, problems);
    true
}

/// A sharded checkpoint's index must name the shard each tensor is in.
fn check_index(
    index: Option<&ShardIndex>,
    name: &str,
    file: &str,
    problems: &mut Vec<WeightsError>,
) {
    let Some(idx) = index else { return };
    let indexed = match idx.weight_map.get(name) {
        Some(f) if f == file => return,
        Some(f) => f.clone(),
        None => "(not in the index)".into(),
    };
    problems.push(WeightsError::IndexMismatch {
        name: name.to_string(),
        indexed,
        found: file.to_string(),
    });
}

/// The plan, or every problem found (the first in full).
pub(super) fn finish(
    plan: LoadPlan,
    mut problems: Vec<WeightsError>,
) -> Result<LoadPlan, WeightsError> {
    match problems.len() {
        0 => Ok(plan),
        1 => Err(problems.remove(0)),
        count => Err(WeightsError::Many {
            count,
            first: Box::new(problems.remove(0)),
        }),
    }
}
