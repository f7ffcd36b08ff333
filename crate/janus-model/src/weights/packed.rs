//! Reading a *pack*: the checkpoint `janus pack` writes (see [`super::pack_writer`]).
//!
//! A pack is an ordinary sharded safetensors checkpoint (index + shards, each shard at most
//! 64 MiB so any CDN caches it) whose headers say `"janus.pack": "1"` and `"janus.quant":
//! "q4"|"q8"` in `__metadata__`. It holds the *canonical* tensors (the names the model modules
//! ask for, fused q/k/v already split), so it loads the same whatever format it was packed from:
//!
//! - a quantisable matrix `[rows, cols]` (`quant::quantizable`) is a `U8` tensor
//!   `[rows, PackedMatrix::row_bytes(cols)]`: each row its codes then its f16 scales, the GPU's
//!   own layout, so loading copies codes without re-quantising;
//! - every other tensor keeps the source's float dtype and shape;
//! - a tensor too large for one shard is cut into row parts named `name@first_row`, which must
//!   tile its rows exactly and lie in row order across the shards.

use std::collections::BTreeMap;

use super::index::ShardIndex;
use super::plan::{LoadPlan, TensorRead, finish, first_sighting};
use super::safetensors::{ShardHeader, StoredDtype};
use super::spec::{Placement, Usage, expected_tensors};
use crate::config::JanusConfig;
use crate::error::WeightsError;
use crate::quant::{PackedMatrix, QuantFormat, quantizable};

/// `__metadata__` key holding the pack layout version.
pub const PACK_KEY: &str = "janus.pack";
/// The layout version this build writes and reads.
pub const PACK_VERSION: &str = "1";
/// `__metadata__` key holding the quantisation format.
pub const QUANT_KEY: &str = "janus.quant";
/// Separator of a row part's name: `name@first_row`.
pub const PART_SEPARATOR: char = '@';

/// The pack's format when `shards` are a pack; `None` for a plain checkpoint.
pub fn pack_format(shards: &[ShardHeader]) -> Result<Option<QuantFormat>, WeightsError> {
    let mut found: Option<(QuantFormat, &str)> = None;
    let mut plain: Option<&str> = None;
    for shard in shards {
        let bad = |reason: String| WeightsError::Pack {
            file: shard.file.clone(),
            reason,
        };
        let Some(version) = shard.metadata.get(PACK_KEY) else {
            plain = Some(&shard.file);
            continue;
        };
        if version != PACK_VERSION {
            return Err(bad(format!(
                "pack layout version {version:?}; this build reads version {PACK_VERSION}"
            )));
        }
        let quant = shard.metadata.get(QUANT_KEY).map(String::as_str);
        let format = quant.and_then(QuantFormat::parse).ok_or_else(|| {
            bad(format!(
                "`{QUANT_KEY}` is {quant:?}; expected \"q8\" or \"q4\""
            ))
        })?;
        match found {
            Some((first, file)) if first != format => {
                return Err(bad(format!(
                    "its format {} differs from {file}'s {}",
                    format.name(),
                    first.name()
                )));
            }
            _ => found = Some((format, &shard.file)),
        }
    }
    match (found, plain) {
        (Some((_, pack)), Some(plain)) => Err(WeightsError::Pack {
            file: plain.to_string(),
            reason: format!("a plain shard beside the pack shard {pack}"),
        }),
        (found, _) => Ok(found.map(|(format, _)| format)),
    }
}

/// Split `name@first_row` into its target and first row (`None` for a whole tensor). Only the
/// canonical spelling of the row names a part (`@007` does not), so each part has one name.
pub fn split_part_name(name: &str) -> (&str, Option<usize>) {
    if let Some((target, row)) = name.rsplit_once(PART_SEPARATOR)
        && let Ok(first) = row.parse::<usize>()
        && first.to_string() == row
    {
        return (target, Some(first));
    }
    (name, None)
}

/// The name of the row part of `target` that starts at `first_row`.
pub fn part_name(target: &str, first_row: usize) -> String {
    format!("{target}{PART_SEPARATOR}{first_row}")
}

/// One canonical tensor a model of the config loads.
#[derive(Clone, Debug)]
pub struct CanonicalTensor {
    pub shape: Vec<usize>,
    pub required: bool,
}

/// Every canonical tensor the model of `config` loads (the targets of the checkpoint's reads).
pub fn canonical_tensors(config: &JanusConfig) -> BTreeMap<String, CanonicalTensor> {
    let mut out = BTreeMap::new();
    for spec in expected_tensors(config) {
        if let Usage::Load(placements) = spec.usage {
            for p in placements {
                out.insert(
                    p.target,
                    CanonicalTensor {
                        shape: p.shape,
                        required: spec.required,
                    },
                );
            }
        }
    }
    out
}

/// How a pack stores a canonical tensor: packed rows in `format` or its values, and the shape
/// of one row as stored.
pub fn stored_row(
    name: &str,
    shape: &[usize],
    format: QuantFormat,
) -> (Option<QuantFormat>, Vec<usize>) {
    if quantizable(name, shape) {
        (
            Some(format),
            vec![PackedMatrix::row_bytes(format, shape[1])],
        )
    } else {
        (None, shape.iter().skip(1).copied().collect())
    }
}

/// A part of a target found in the headers.
struct Part {
    first_row: usize,
    rows: usize,
    /// Whole tensor (no `@`).
    whole: bool,
    /// Position in the plan's reads (file order).
    read: usize,
}

/// Check a pack's headers against the canonical tensors of `config` and plan the reads.
pub(super) fn plan_pack(
    config: &JanusConfig,
    shards: &[ShardHeader],
    index: Option<&ShardIndex>,
    format: QuantFormat,
) -> Result<LoadPlan, WeightsError> {
    let targets = canonical_tensors(config);
    let mut problems = Vec::new();
    let mut seen = BTreeMap::new();
    let mut parts: BTreeMap<&str, Vec<Part>> = BTreeMap::new();
    let mut plan = LoadPlan::empty(Some(format));
    for shard in shards {
        for t in &shard.tensors {
            if !first_sighting(&mut seen, index, &t.name, &shard.file, &mut problems) {
                continue;
            }
            let (target, first_row) = split_part_name(&t.name);
            let Some((target, spec)) = targets.get_key_value(target) else {
                problems.push(WeightsError::Unexpected {
                    name: t.name.clone(),
                    file: shard.file.clone(),
                });
                continue;
            };
            let (packed, row) = stored_row(target, &spec.shape, format);
            let dtype = match (&t.dtype, packed) {
                (Ok(StoredDtype::U8), Some(_)) => StoredDtype::U8,
                (Ok(d), None) if d.is_float() => *d,
                (Ok(d), _) => {
                    problems.push(WeightsError::Pack {
                        file: shard.file.clone(),
                        reason: format!(
                            "tensor `{}` is {}; a pack stores it as {}",
                            t.name,
                            d.name(),
                            if packed.is_some() {
                                "U8 packed rows"
                            } else {
                                "floats"
                            }
                        ),
                    });
                    continue;
                }
                (Err(found), _) => {
                    problems.push(WeightsError::Dtype {
                        name: t.name.clone(),
                        dtype: found.clone(),
                    });
                    continue;
                }
            };
            // A whole tensor has the target's rows; a part at least one (scalars are whole).
            let total_rows = spec.shape.first().copied();
            let rows = t.shape.first().copied();
            let shape_ok = match (first_row, total_rows) {
                (None, None) => t.shape.is_empty(),
                (None, Some(n)) => rows == Some(n) && t.shape[1..] == row[..],
                (Some(_), Some(_)) => rows.is_some_and(|r| r > 0) && t.shape[1..] == row[..],
                (Some(_), None) => false,
            };
            if !shape_ok {
                let mut expected = vec![total_rows.unwrap_or(0)];
                expected.extend_from_slice(&row);
                problems.push(WeightsError::Shape {
                    name: t.name.clone(),
                    expected: if total_rows.is_some() {
                        expected
                    } else {
                        vec![]
                    },
                    found: t.shape.clone(),
                });
                continue;
            }
            parts.entry(target).or_default().push(Part {
                first_row: first_row.unwrap_or(0),
                rows: rows.unwrap_or(1),
                whole: first_row.is_none(),
                read: plan.reads.len(),
            });
            let placement = Placement {
                target: target.clone(),
                rows: None,
                shape: spec.shape.clone(),
            };
            plan.push(TensorRead {
                packed,
                first_row,
                ..TensorRead::of(&shard.file, t, dtype, vec![placement])
            });
        }
    }
    for (target, list) in &mut parts {
        let spec = &targets[*target];
        let bad = |reason: String| WeightsError::Pack {
            file: shards.first().map(|s| s.file.clone()).unwrap_or_default(),
            reason: format!("tensor `{target}`: {reason}"),
        };
        list.sort_by_key(|p| p.first_row);
        let total = spec.shape.first().copied().unwrap_or(1);
        let mut next = 0;
        let mut last_read = None;
        let problem = list.iter().find_map(|part| {
            if part.whole && list.len() > 1 {
                return Some("stored both whole and in row parts".to_string());
            }
            if part.first_row != next {
                return Some(format!(
                    "its row parts leave a gap or overlap at row {next} (a part starts at {})",
                    part.first_row
                ));
            }
            if last_read.is_some_and(|r| r > part.read) {
                return Some(format!(
                    "its part at row {} is stored before the rows above it",
                    part.first_row
                ));
            }
            last_read = Some(part.read);
            next += part.rows;
            None
        });
        match problem {
            Some(reason) => problems.push(bad(reason)),
            None if next != total => {
                problems.push(bad(format!("its parts hold {next} of {total} rows")))
            }
            None => {}
        }
        plan.loaded_params += spec.shape.iter().product::<usize>() as u64;
    }
    problems.extend(
        targets
            .iter()
            .filter(|(name, t)| t.required && !parts.contains_key(name.as_str()))
            .map(|(name, _)| WeightsError::Missing { name: name.clone() }),
    );
    // A pack leaves out what inference never reads (the VQ encoder, ...); they are counted as
    // skipped all the same, so that a pack reports the parameters of the model, as its source does.
    plan.skipped_params = expected_tensors(config)
        .iter()
        .filter(|s| matches!(s.usage, Usage::Unused))
        .map(|s| s.num_elements())
        .sum();
    finish(plan, problems)
}
