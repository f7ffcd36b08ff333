//! `janus-pack.json`: what a pack holds — its format, and every file with its size and SHA-256,
//! so a downloader knows the whole download before the first byte and verifies each file.

use serde::{Deserialize, Serialize};

use super::source::{ByteSource, check_file_name};
use crate::error::WeightsError;

/// File name of a pack's manifest.
pub const MANIFEST_FILE: &str = "janus-pack.json";
/// The manifest's `format` field.
pub const MANIFEST_FORMAT: &str = "janus-pack";

/// One file of a pack.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PackFile {
    /// Relative to the pack's base URL (a plain file name).
    pub path: String,
    pub size: u64,
    /// Lower-case hex.
    pub sha256: String,
}

/// The parsed manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PackManifest {
    pub format: String,
    pub version: u32,
    /// `q8` or `q4`.
    pub quant: String,
    /// What it was packed from (informational).
    pub source: String,
    /// The largest shard allowed when it was written.
    pub shard_bytes: u64,
    pub files: Vec<PackFile>,
}

impl PackManifest {
    /// Parse and check: the format, plain unique file names, hex digests.
    pub fn parse(bytes: &[u8]) -> Result<Self, WeightsError> {
        let bad = |reason: String| WeightsError::Pack {
            file: MANIFEST_FILE.into(),
            reason,
        };
        if let Some(key) = crate::json_keys::duplicate_key(bytes) {
            return Err(bad(format!("{key:?} appears twice")));
        }
        let m: PackManifest =
            serde_json::from_slice(bytes).map_err(|e| bad(format!("invalid JSON: {e}")))?;
        if m.format != MANIFEST_FORMAT || m.version != 1 {
            return Err(bad(format!(
                "format {:?} version {}; this build reads {MANIFEST_FORMAT:?} version 1",
                m.format, m.version
            )));
        }
        if crate::quant::QuantFormat::parse(&m.quant).is_none() {
            return Err(bad(format!("quant {:?} is not q8 or q4", m.quant)));
        }
        let mut seen = std::collections::HashSet::new();
        for f in &m.files {
            check_file_name(&f.path)
                .map_err(|_| bad(format!("{:?} is not a plain file name", f.path)))?;
            if !seen.insert(f.path.as_str()) {
                return Err(bad(format!("{} is listed twice", f.path)));
            }
            if f.sha256.len() != 64
                || !f
                    .sha256
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                return Err(bad(format!(
                    "{}: {:?} is not a SHA-256 in hex",
                    f.path, f.sha256
                )));
            }
        }
        Ok(m)
    }

    /// Total bytes of the listed files.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// Every listed file must be there at its stated size (a copy that stopped midway, or files
    /// from two packs, fail here before any tensor is read). Hashes are the downloader's job.
    pub fn check_sizes(&self, source: &dyn ByteSource) -> Result<(), WeightsError> {
        for f in &self.files {
            let size = source.size(&f.path)?;
            if size != f.size {
                return Err(WeightsError::Pack {
                    file: f.path.clone(),
                    reason: format!(
                        "{size} bytes, but {MANIFEST_FILE} lists {} (an incomplete copy?)",
                        f.size
                    ),
                });
            }
        }
        Ok(())
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }
}
