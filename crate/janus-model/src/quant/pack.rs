//! The packed form of a block-quantised matrix, as the GPU will read it.
//!
//! - `codes: Vec<u32>`, row-major, each row `cols / 32` blocks: Q8 holds four codes per word
//!   (two's-complement bytes, element `4w + k` in byte `k`, little-endian), eight words a block;
//!   Q4 holds eight codes per word (element `8w + k` in bits `4k..4k+4`, stored as `q + 8`),
//!   four words a block.
//! - `scales: Vec<u16>`: one f16 (bits) per block in the same order; two to a `u32` on the GPU,
//!   read with WGSL's `unpack2x16float` (no `shader-f16` needed).

use half::f16;

use super::{BLOCK, QuantFormat};

#[derive(Clone, Debug, PartialEq)]
pub struct PackedMatrix {
    pub format: QuantFormat,
    pub rows: usize,
    pub cols: usize,
    pub codes: Vec<u32>,
    /// f16 bits, one per block.
    pub scales: Vec<u16>,
}

impl PackedMatrix {
    /// Bytes as stored (codes + scales).
    pub fn bytes(&self) -> u64 {
        (self.codes.len() * 4 + self.scales.len() * 2) as u64
    }

    /// Rows `start..end` as a matrix of their own (rows are whole blocks, so this is a slice).
    pub fn row_range(&self, start: usize, end: usize) -> PackedMatrix {
        let words = self.cols * self.format.bits() / 32;
        let blocks = self.cols / BLOCK;
        PackedMatrix {
            format: self.format,
            rows: end - start,
            cols: self.cols,
            codes: self.codes[start * words..end * words].to_vec(),
            scales: self.scales[start * blocks..end * blocks].to_vec(),
        }
    }

    /// Keep rows `..at`, return rows `at..` (`Vec::split_off` on both buffers).
    pub fn split_off(&mut self, at: usize) -> PackedMatrix {
        let words = self.cols * self.format.bits() / 32;
        let blocks = self.cols / BLOCK;
        let tail = PackedMatrix {
            format: self.format,
            rows: self.rows - at,
            cols: self.cols,
            codes: self.codes.split_off(at * words),
            scales: self.scales.split_off(at * blocks),
        };
        self.rows = at;
        tail
    }

    /// Rows of `other` (same format and width) after these (taken as they are after none).
    pub fn append(&mut self, mut other: PackedMatrix) {
        debug_assert!(self.format == other.format && self.cols == other.cols);
        if self.rows == 0 {
            *self = other;
            return;
        }
        self.rows += other.rows;
        self.codes.append(&mut other.codes);
        self.scales.append(&mut other.scales);
    }
}

impl PackedMatrix {
    /// Bytes of one row in the file form ([`Self::to_row_bytes`]).
    pub fn row_bytes(format: QuantFormat, cols: usize) -> usize {
        cols * format.bits() / 8 + cols / BLOCK * 2
    }

    /// The file form (`janus pack`): each row its codes (little-endian words, as on the GPU)
    /// followed by its f16 scales (little-endian), so any run of whole rows is self-contained
    /// and a reader can convert a shard's rows as they arrive.
    pub fn to_row_bytes(&self) -> Vec<u8> {
        let words = self.cols * self.format.bits() / 32;
        let blocks = self.cols / BLOCK;
        let mut out = Vec::with_capacity(self.rows * Self::row_bytes(self.format, self.cols));
        for r in 0..self.rows {
            for w in &self.codes[r * words..(r + 1) * words] {
                out.extend_from_slice(&w.to_le_bytes());
            }
            for s in &self.scales[r * blocks..(r + 1) * blocks] {
                out.extend_from_slice(&s.to_le_bytes());
            }
        }
        out
    }

    /// Parse whole rows of the file form. Errors (as text) when the bytes are not whole rows or
    /// a scale is not finite (a damaged or hostile file; a finite scale times any code is finite).
    pub fn from_row_bytes(format: QuantFormat, cols: usize, bytes: &[u8]) -> Result<Self, String> {
        if cols == 0 || !cols.is_multiple_of(BLOCK) {
            return Err(format!("{cols} columns are not whole blocks of {BLOCK}"));
        }
        let row_bytes = Self::row_bytes(format, cols);
        if !bytes.len().is_multiple_of(row_bytes) {
            return Err(format!(
                "{} bytes are not whole rows of {row_bytes} bytes",
                bytes.len()
            ));
        }
        let rows = bytes.len() / row_bytes;
        let code_bytes = cols * format.bits() / 8;
        let mut codes = Vec::with_capacity(rows * code_bytes / 4);
        let mut scales = Vec::with_capacity(rows * cols / BLOCK);
        for row in bytes.chunks_exact(row_bytes) {
            let (c, s) = row.split_at(code_bytes);
            codes.extend(
                c.chunks_exact(4)
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            );
            for b in s.chunks_exact(2) {
                let bits = u16::from_le_bytes([b[0], b[1]]);
                if !f16::from_bits(bits).is_finite() {
                    return Err("a block scale is not finite (NaN or infinity)".into());
                }
                scales.push(bits);
            }
        }
        Ok(PackedMatrix {
            format,
            rows,
            cols,
            codes,
            scales,
        })
    }
}

/// Quantise row-major `[rows, cols]` values; `cols` must be a multiple of [`BLOCK`].
pub fn quantize(values: &[f32], cols: usize, format: QuantFormat) -> PackedMatrix {
    assert!(
        cols > 0 && cols.is_multiple_of(BLOCK) && values.len().is_multiple_of(cols),
        "quantize: {} values are not rows of {cols} (a multiple of {BLOCK})",
        values.len()
    );
    let rows = values.len() / cols;
    let words_per_block = BLOCK * format.bits() / 32;
    let mut codes = Vec::with_capacity(values.len() / BLOCK * words_per_block);
    let mut scales = Vec::with_capacity(values.len() / BLOCK);
    for block in values.chunks_exact(BLOCK) {
        let (scale, q) = match format {
            QuantFormat::Q8 => quantize_q8(block),
            QuantFormat::Q4 => quantize_q4(block),
        };
        scales.push(scale.to_bits());
        let per_word = 32 / format.bits();
        for word in q.chunks_exact(per_word) {
            let mut w = 0u32;
            for (k, &c) in word.iter().enumerate() {
                w |= (c as u32) << (k * format.bits());
            }
            codes.push(w);
        }
    }
    PackedMatrix {
        format,
        rows,
        cols,
        codes,
        scales,
    }
}

/// Unpack into `out` (row-major `[rows, cols]`).
pub fn dequantize(m: &PackedMatrix, out: &mut [f32]) {
    assert_eq!(out.len(), m.rows * m.cols, "dequantize: wrong output size");
    let bits = m.format.bits();
    let per_word = 32 / bits;
    let mask = (1u32 << bits) - 1;
    for (i, x) in out.iter_mut().enumerate() {
        let scale = f16::from_bits(m.scales[i / BLOCK]).to_f32();
        let raw = (m.codes[i / per_word] >> ((i % per_word) * bits)) & mask;
        let q = match m.format {
            QuantFormat::Q8 => raw as u8 as i8 as i32,
            QuantFormat::Q4 => raw as i32 - 8,
        };
        *x = scale * q as f32;
    }
}

/// Codes as raw `bits`-wide values (Q8: the byte of an i8; Q4: `q + 8`).
fn quantize_q8(block: &[f32]) -> (f16, [u8; BLOCK]) {
    let max = block.iter().fold(0f32, |m, &x| m.max(x.abs()));
    let scale = f16::from_f32(max / 127.0);
    let s = scale.to_f32();
    let mut q = [0u8; BLOCK];
    if s > 0.0 {
        for (c, &x) in q.iter_mut().zip(block) {
            *c = ((x / s).round().clamp(-127.0, 127.0) as i8) as u8;
        }
    }
    (scale, q)
}

fn quantize_q4(block: &[f32]) -> (f16, [u8; BLOCK]) {
    // The element of largest magnitude, with its sign: it maps to code 0 (-8).
    let extreme = block
        .iter()
        .fold(0f32, |m, &x| if x.abs() > m.abs() { x } else { m });
    let scale = f16::from_f32(extreme / -8.0);
    let d = scale.to_f32();
    let mut q = [8u8; BLOCK];
    if d != 0.0 {
        for (c, &x) in q.iter_mut().zip(block) {
            *c = ((x / d).round() + 8.0).clamp(0.0, 15.0) as u8;
        }
    }
    (scale, q)
}
