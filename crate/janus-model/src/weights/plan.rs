//! Matching a checkpoint's headers against the expected tensor list, before reading any data.
//!
//! Loading is strict and total: every tensor in the files must be expected (by name and shape,
//! with a usable dtype), every required tensor must be present exactly once, and a shard index
//! must agree with the headers. The result is a list of byte ranges to read, in file order; the
//! known-unused tensors are listed as skipped and never read.

use std::collections::{BTreeMap, HashMap};

use super::index::ShardIndex;
use super::safetensors::{ShardHeader, StoredDtype};
use super::spec::{Placement, TensorSpec, Usage, expected_tensors};
use crate::config::JanusConfig;
use crate::error::WeightsError;

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
pub fn plan(
    config: &JanusConfig,
    shards: &[ShardHeader],
    index: Option<&ShardIndex>,
) -> Result<LoadPlan, WeightsError> {
    let specs: HashMap<String, TensorSpec> = expected_tensors(config)
        .into_iter()
        .map(|s| (s.name.clone(), s))
        .collect();
    let mut problems: Vec<WeightsError> = Vec::new();
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    let mut plan = LoadPlan {
        reads: Vec::new(),
        skipped: Vec::new(),
        loaded_params: 0,
        skipped_params: 0,
        loaded_bytes: 0,
    };
    for shard in shards {
        for t in &shard.tensors {
            if let Some(first) = seen.insert(&t.name, &shard.file) {
                problems.push(WeightsError::Duplicate {
                    name: t.name.clone(),
                    first: first.to_string(),
                    second: shard.file.clone(),
                });
                continue;
            }
            if let Some(idx) = index {
                match idx.weight_map.get(&t.name) {
                    Some(f) if *f == shard.file => {}
                    Some(f) => problems.push(WeightsError::IndexMismatch {
                        name: t.name.clone(),
                        indexed: f.clone(),
                        found: shard.file.clone(),
                    }),
                    None => problems.push(WeightsError::IndexMismatch {
                        name: t.name.clone(),
                        indexed: "(not in the index)".into(),
                        found: shard.file.clone(),
                    }),
                }
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
                        Ok(d) => *d,
                        Err(found) => {
                            problems.push(WeightsError::Dtype {
                                name: t.name.clone(),
                                dtype: found.clone(),
                            });
                            continue;
                        }
                    };
                    plan.loaded_params += params;
                    plan.loaded_bytes += t.end - t.start;
                    plan.reads.push(TensorRead {
                        file: shard.file.clone(),
                        name: t.name.clone(),
                        offset: t.start,
                        len: t.end - t.start,
                        dtype,
                        shape: t.shape.clone(),
                        placements: placements.clone(),
                    });
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
    match problems.len() {
        0 => Ok(plan),
        1 => Err(problems.remove(0)),
        count => Err(WeightsError::Many {
            count,
            first: Box::new(problems.remove(0)),
        }),
    }
}
