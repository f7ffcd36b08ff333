//! safetensors headers, read without the tensor data.
//!
//! A file is `u64 LE header length n` + `n bytes of JSON` + data. The JSON is checked as the
//! `safetensors` crate checks it (its dtype names; offsets sorted, contiguous and non-overlapping,
//! each tensor's length dtype x shape) plus what needs the file length, so a truncated or padded
//! file is rejected before any tensor is read.
//!
//! The arithmetic is in u64, not the crate's `usize`: in wasm32 a `usize` is 32 bits, and the
//! crate's `Metadata` counts a tensor's size in bits, so a bf16 tensor of 2^28 elements or more
//! overflowed and the header was refused. Janus-Pro-7B's token embedding and `lm_head` (102,400 x
//! 4,096) are such tensors: its bf16 checkpoint could not be loaded in a page at all.

use std::collections::BTreeMap;

use safetensors::Dtype;
use serde::Deserialize;

use crate::error::WeightsError;

/// Length of the little-endian header-size prefix.
pub const PREFIX_LEN: u64 = 8;
/// Headers larger than this are refused (the safetensors crate's own limit).
pub const MAX_HEADER_LEN: u64 = 100_000_000;

/// The storage types Janus checkpoints use. `U8` holds the rows of a packed quantised matrix
/// (`janus pack`, see [`super::packed`]); it is refused anywhere else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoredDtype {
    BF16,
    F16,
    F32,
    U8,
}

impl StoredDtype {
    pub fn size(self) -> usize {
        match self {
            StoredDtype::U8 => 1,
            StoredDtype::BF16 | StoredDtype::F16 => 2,
            StoredDtype::F32 => 4,
        }
    }

    /// The float types (values, not packed bytes).
    pub fn is_float(self) -> bool {
        !matches!(self, StoredDtype::U8)
    }

    /// The safetensors name.
    pub fn name(self) -> &'static str {
        match self {
            StoredDtype::BF16 => "BF16",
            StoredDtype::F16 => "F16",
            StoredDtype::F32 => "F32",
            StoredDtype::U8 => "U8",
        }
    }
}

/// One tensor's entry in a header; offsets are absolute within the file.
#[derive(Clone, Debug, PartialEq)]
pub struct HeaderTensor {
    pub name: String,
    /// `Err(name)` for a dtype Janus cannot use (reported by the planner, which knows if it matters).
    pub dtype: Result<StoredDtype, String>,
    pub shape: Vec<usize>,
    pub start: u64,
    pub end: u64,
}

/// The parsed header of one safetensors file.
#[derive(Clone, Debug)]
pub struct ShardHeader {
    /// File name relative to the model root (`model.safetensors`, `model-00001-of-00002.safetensors`).
    pub file: String,
    pub file_len: u64,
    /// Tensors in storage order.
    pub tensors: Vec<HeaderTensor>,
    /// The header's `__metadata__` strings (a pack states its format there).
    pub metadata: BTreeMap<String, String>,
}

/// Header length from the first 8 bytes, checked against the file length.
pub fn header_len(file: &str, prefix: &[u8], file_len: u64) -> Result<u64, WeightsError> {
    let bad = |reason: String| WeightsError::BadHeader {
        file: file.to_string(),
        reason,
    };
    let bytes: [u8; 8] = prefix.try_into().map_err(|_| {
        bad(format!(
            "file is {} bytes, too short for a header",
            prefix.len()
        ))
    })?;
    let n = u64::from_le_bytes(bytes);
    if n > MAX_HEADER_LEN {
        return Err(bad(format!(
            "header length {n} exceeds {MAX_HEADER_LEN} bytes"
        )));
    }
    if PREFIX_LEN + n > file_len {
        return Err(bad(format!(
            "header length {n} runs past the end of the {file_len}-byte file"
        )));
    }
    Ok(n)
}

/// One tensor's entry as a header states it (offsets relative to the data, as stored).
#[derive(Deserialize)]
struct RawTensor {
    dtype: Dtype,
    shape: Vec<u64>,
    data_offsets: (u64, u64),
}

/// Parse and validate the JSON header; `file_len` must equal header + data exactly.
pub fn parse_header(file: &str, header: &[u8], file_len: u64) -> Result<ShardHeader, WeightsError> {
    let bad = |reason: String| WeightsError::BadHeader {
        file: file.to_string(),
        reason,
    };
    let text = std::str::from_utf8(header).map_err(|e| bad(format!("header is not UTF-8: {e}")))?;
    if let Some(name) = crate::json_keys::duplicate_key(header) {
        return Err(bad(format!("{name:?} appears twice in the header")));
    }
    let entries: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|e| bad(format!("header is invalid: {e}")))?;
    let mut metadata = BTreeMap::new();
    let mut raw: Vec<(String, RawTensor)> = Vec::with_capacity(entries.len());
    for (name, value) in entries {
        if name == "__metadata__" {
            metadata = serde_json::from_value(value)
                .map_err(|e| bad(format!("header is invalid: __metadata__: {e}")))?;
            continue;
        }
        let tensor = serde_json::from_value(value)
            .map_err(|e| bad(format!("header is invalid: {name:?}: {e}")))?;
        raw.push((name, tensor));
    }
    // Storage order; then each tensor must start where the one before ended, from 0.
    raw.sort_by_key(|(_, t)| t.data_offsets);
    let data_start = PREFIX_LEN + header.len() as u64;
    let mut data_len = 0u64;
    let mut tensors = Vec::with_capacity(raw.len());
    for (name, t) in raw {
        let (start, end) = t.data_offsets;
        if start != data_len || end < start {
            return Err(bad(format!(
                "header is invalid: {name:?} has data_offsets [{start}, {end}], expected to start at {data_len}"
            )));
        }
        let overflow = || bad(format!("header is invalid: {name:?}: its size overflows"));
        let elements = t
            .shape
            .iter()
            .try_fold(1u64, |n, &d| n.checked_mul(d))
            .ok_or_else(overflow)?;
        let bits = elements
            .checked_mul(t.dtype.bitsize() as u64)
            .ok_or_else(overflow)?;
        if bits % 8 != 0 || end - start != bits / 8 {
            return Err(bad(format!(
                "header is invalid: {name:?} holds {} bytes, but {:?} x {:?} is {bits} bits",
                end - start,
                t.dtype,
                t.shape
            )));
        }
        // Every dimension is an index on this platform (a 32-bit one in wasm32).
        let shape = t
            .shape
            .iter()
            .map(|&d| usize::try_from(d).map_err(|_| overflow()))
            .collect::<Result<Vec<usize>, _>>()?;
        data_len = end;
        tensors.push(HeaderTensor {
            dtype: match t.dtype {
                Dtype::BF16 => Ok(StoredDtype::BF16),
                Dtype::F16 => Ok(StoredDtype::F16),
                Dtype::F32 => Ok(StoredDtype::F32),
                Dtype::U8 => Ok(StoredDtype::U8),
                other => Err(format!("{other:?}")),
            },
            shape,
            start: data_start + start,
            end: data_start + end,
            name,
        });
    }
    if data_start.checked_add(data_len) != Some(file_len) {
        return Err(bad(format!(
            "header describes {data_len} data bytes after byte {data_start}, but the file is {file_len} bytes (truncated or padded)"
        )));
    }
    Ok(ShardHeader {
        file: file.to_string(),
        file_len,
        tensors,
        metadata,
    })
}

/// Decode stored bytes into f32 values (little-endian, as safetensors stores them; `U8` bytes
/// as their values).
pub fn decode_f32(dtype: StoredDtype, bytes: &[u8]) -> Vec<f32> {
    match dtype {
        StoredDtype::U8 => bytes.iter().map(|&b| f32::from(b)).collect(),
        StoredDtype::BF16 => bytes
            .chunks_exact(2)
            .map(|b| f32::from_bits((u16::from_le_bytes([b[0], b[1]]) as u32) << 16))
            .collect(),
        StoredDtype::F16 => bytes
            .chunks_exact(2)
            .map(|b| half::f16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f32())
            .collect(),
        StoredDtype::F32 => bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(header: &str, data: &[u8]) -> Vec<u8> {
        let mut out = (header.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    fn parse(bytes: &[u8]) -> Result<ShardHeader, WeightsError> {
        let n = header_len("f", &bytes[..8.min(bytes.len())], bytes.len() as u64)?;
        parse_header("f", &bytes[8..8 + n as usize], bytes.len() as u64)
    }

    #[test]
    fn reads_a_valid_header() {
        let h = r#"{"__metadata__":{"format":"pt"},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}"#;
        let bytes = file(h, &[0; 8]);
        let header = parse(&bytes).unwrap();
        assert_eq!(header.tensors.len(), 2);
        assert_eq!(header.tensors[0].name, "a");
        assert_eq!(header.tensors[0].dtype, Ok(StoredDtype::BF16));
        assert_eq!(header.tensors[0].start, 8 + h.len() as u64);
        assert_eq!(header.tensors[1].end, bytes.len() as u64);
    }

    #[test]
    fn rejects_truncated_padded_and_overlapping_files() {
        let h = r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
        assert!(parse(&file(h, &[0; 7])).is_err(), "truncated");
        assert!(parse(&file(h, &[0; 9])).is_err(), "padded");
        let overlap = r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#;
        assert!(parse(&file(overlap, &[0; 8])).is_err(), "overlap");
        let wrong_len = r#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#;
        assert!(
            parse(&file(wrong_len, &[0; 8])).is_err(),
            "shape/length mismatch"
        );
    }

    #[test]
    fn rejects_garbage_prefixes() {
        assert!(parse(b"abc").is_err(), "short file");
        let mut huge = u64::MAX.to_le_bytes().to_vec();
        huge.extend_from_slice(b"{}");
        assert!(matches!(parse(&huge), Err(WeightsError::BadHeader { .. })));
        let html = b"<!DOCTYPE html><html>not found</html>";
        assert!(
            parse(html).is_err(),
            "an HTML error page is not a checkpoint"
        );
        assert!(parse(&file("{not json", &[])).is_err());
        assert!(parse(&file("\u{0}\u{0}", &[])).is_err());
    }

    /// The checklist's parser rows (RELIABILITY.md P1-P4), one malformed file each: every one a
    /// `BadHeader`, none a panic.
    #[test]
    fn every_malformed_header_is_a_typed_error() {
        let bad = |what: &str, bytes: &[u8]| match parse(bytes) {
            Err(WeightsError::BadHeader { .. }) => {}
            other => panic!("{what}: {other:?}"),
        };
        // P1: a length past the end of the file but under the cap; one just over the cap (the
        // file need not hold it: the prefix alone is refused).
        let mut past_end = 64u64.to_le_bytes().to_vec();
        past_end.extend_from_slice(b"{}");
        bad("header length past the end", &past_end);
        let over_cap = (MAX_HEADER_LEN + 1).to_le_bytes();
        assert!(matches!(
            header_len("f", &over_cap, u64::MAX),
            Err(WeightsError::BadHeader { .. })
        ));
        assert!(header_len("f", &MAX_HEADER_LEN.to_le_bytes(), u64::MAX).is_ok());
        // P2: JSON that is not an object; one tensor named twice.
        bad("an array", &file("[]", &[]));
        bad("a string", &file(r#""model""#, &[]));
        // Named twice with the same bytes read two ways: a parser keeping either entry would
        // accept it, so the name itself must be refused.
        let twice = r#"{"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#;
        bad("a duplicate tensor name", &file(twice, &[0; 4]));
        // P3: offsets with a gap, out of the data, not starting at 0, reversed.
        let t = |a: &str, b: &str| {
            format!(
                r#"{{"a":{{"dtype":"F32","shape":[1],"data_offsets":{a}}},"b":{{"dtype":"F32","shape":[1],"data_offsets":{b}}}}}"#
            )
        };
        bad("a gap", &file(&t("[0,4]", "[8,12]"), &[0; 12]));
        bad("out of range", &file(&t("[0,4]", "[4,8]"), &[0; 4]));
        bad("not from 0", &file(&t("[4,8]", "[8,12]"), &[0; 12]));
        bad("reversed", &file(&t("[4,0]", "[4,8]"), &[0; 8]));
        // P4: a shape whose element count overflows; an unknown dtype.
        let overflow =
            r#"{"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,4]}}"#;
        bad("an overflowing shape", &file(overflow, &[0; 4]));
        let unknown = r#"{"a":{"dtype":"Q7","shape":[1],"data_offsets":[0,4]}}"#;
        bad("an unknown dtype", &file(unknown, &[0; 4]));
    }

    /// Janus-Pro-7B's token embedding in bf16: 102,400 x 4,096 = 2^28.6 elements, 2^32.6 bits.
    /// The arithmetic is u64 on every platform, so a 32-bit `usize` (wasm32) parses it too
    /// (janus-web's browser test `a_7b_sized_header_parses_in_wasm32` runs this in wasm32).
    #[test]
    fn parses_tensors_past_four_gibibits() {
        let bytes = 102_400u64 * 4_096 * 2;
        let h = format!(
            r#"{{"__metadata__":{{"format":"pt"}},"embed":{{"dtype":"BF16","shape":[102400,4096],"data_offsets":[0,{bytes}]}},"norm":{{"dtype":"F32","shape":[4096],"data_offsets":[{bytes},{}]}}}}"#,
            bytes + 16_384
        );
        let file_len = 8 + h.len() as u64 + bytes + 16_384;
        let header = parse_header("f", h.as_bytes(), file_len).unwrap();
        assert_eq!(header.tensors[0].shape, vec![102_400, 4_096]);
        assert_eq!(header.tensors[0].end - header.tensors[0].start, bytes);
        assert_eq!(header.tensors[1].end, file_len);
        assert_eq!(
            header.metadata.get("format").map(String::as_str),
            Some("pt")
        );
    }

    #[test]
    fn marks_unusable_dtypes_without_failing_the_parse() {
        let h = r#"{"i":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#;
        let header = parse(&file(h, &[0; 8])).unwrap();
        assert_eq!(header.tensors[0].dtype, Err("I64".to_string()));
    }

    #[test]
    fn decodes_each_dtype() {
        let bf16 = [0x80, 0x3f, 0x00, 0xc0]; // 1.0, -2.0
        assert_eq!(decode_f32(StoredDtype::BF16, &bf16), vec![1.0, -2.0]);
        let f16 = [0x00, 0x3c, 0x00, 0x38]; // 1.0, 0.5
        assert_eq!(decode_f32(StoredDtype::F16, &f16), vec![1.0, 0.5]);
        let f32b = 3.5f32.to_le_bytes();
        assert_eq!(decode_f32(StoredDtype::F32, &f32b), vec![3.5]);
    }
}
