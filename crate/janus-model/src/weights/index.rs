//! `model.safetensors.index.json`: which shard holds which tensor.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::source::check_file_name;
use crate::error::WeightsError;

/// File name of the shard index in a Hugging Face repository.
pub const INDEX_FILE: &str = "model.safetensors.index.json";
/// File name of a single-file checkpoint.
pub const SINGLE_FILE: &str = "model.safetensors";

#[derive(Deserialize)]
struct RawIndex {
    weight_map: BTreeMap<String, String>,
}

/// The parsed shard index.
#[derive(Clone, Debug, PartialEq)]
pub struct ShardIndex {
    /// Tensor name -> shard file.
    pub weight_map: BTreeMap<String, String>,
}

impl ShardIndex {
    pub fn parse(bytes: &[u8]) -> Result<Self, WeightsError> {
        if let Some(key) = crate::json_keys::duplicate_key(bytes) {
            return Err(WeightsError::BadIndex(format!("{key:?} appears twice")));
        }
        let raw: RawIndex =
            serde_json::from_slice(bytes).map_err(|e| WeightsError::BadIndex(e.to_string()))?;
        if raw.weight_map.is_empty() {
            return Err(WeightsError::BadIndex("weight_map is empty".into()));
        }
        for file in raw.weight_map.values() {
            check_file_name(file).map_err(|_| {
                WeightsError::BadIndex(format!("shard name {file:?} is not a plain file name"))
            })?;
            if !file.ends_with(".safetensors") {
                return Err(WeightsError::BadIndex(format!(
                    "shard {file:?} is not a .safetensors file"
                )));
            }
        }
        Ok(Self {
            weight_map: raw.weight_map,
        })
    }

    /// Shard files in a stable order.
    pub fn shards(&self) -> Vec<String> {
        let mut files: Vec<String> = self.weight_map.values().cloned().collect();
        files.sort();
        files.dedup();
        files
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_lists_shards() {
        let idx = ShardIndex::parse(
            br#"{"metadata":{"total_size":8},"weight_map":{"a":"m-2.safetensors","b":"m-1.safetensors","c":"m-2.safetensors"}}"#,
        )
        .unwrap();
        assert_eq!(idx.shards(), vec!["m-1.safetensors", "m-2.safetensors"]);
    }

    #[test]
    fn rejects_bad_indexes() {
        for bad in [
            &b"{}"[..],
            br#"{"weight_map":{}}"#,
            br#"{"weight_map":{"a":"../evil.safetensors"}}"#,
            br#"{"weight_map":{"a":"model.bin"}}"#,
            br#"{"weight_map":{"a":3}}"#,
            // One tensor in two shards: readers keeping either entry would disagree.
            br#"{"weight_map":{"a":"x.safetensors","a":"y.safetensors"}}"#,
            b"not json",
        ] {
            assert!(
                ShardIndex::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
