//! Block quantisation of weight matrices (issue 7): the formats, which weights take them, and
//! the host-side quantiser and dequantiser every other implementation is checked against.
//!
//! A `[rows, cols]` matrix (PyTorch's `[out, in]`) is cut along each row into blocks of
//! [`BLOCK`] = 32 consecutive weights, each with its own scale, so a decode kernel that owns one
//! output row reads its blocks contiguously:
//!
//! - **Q8**: `s = max|x| / 127`, `q = round(x / s)` in `[-127, 127]`; `x' = s * q`.
//!   8.5 bits per weight with an f16 scale.
//! - **Q4** (llama.cpp's `Q4_0` rule): `d = m / -8` where `m` is the block's element of largest
//!   magnitude, sign kept; `q = clamp(round(x / d) + 8, 0, 15)`; `x' = d * (q - 8)`. The extreme
//!   element lands exactly on -8, so all 16 levels are used; a value near the opposite extreme
//!   clips to +7 (an error of up to one step, as in `Q4_0`). 4.5 bits per weight.
//!
//! Scales are stored as f16 (`d` is computed in f32, rounded to f16, and the codes are chosen
//! against the rounded scale, so dequantising with the stored scale is exact to the code).
//! The packed layout is in [`pack`]. The VQ decoder is never quantised (janus-spec.md §10).

pub mod device;
pub mod pack;
pub mod select;

pub use pack::{PackedMatrix, dequantize, quantize};
pub use select::{is_lookup, quantizable};

/// Weights per block (one scale each).
pub const BLOCK: usize = 32;

/// A weight format for the quantisable matrices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuantFormat {
    Q8,
    Q4,
}

impl QuantFormat {
    pub fn name(self) -> &'static str {
        match self {
            QuantFormat::Q8 => "q8",
            QuantFormat::Q4 => "q4",
        }
    }

    /// Bits per weight of the code (without the scale).
    pub fn bits(self) -> usize {
        match self {
            QuantFormat::Q8 => 8,
            QuantFormat::Q4 => 4,
        }
    }

    /// Stored bytes of a `[rows, cols]` matrix: codes plus one f16 scale per block.
    pub fn bytes(self, rows: usize, cols: usize) -> u64 {
        let blocks = (rows * cols.div_ceil(BLOCK)) as u64;
        blocks * (BLOCK * self.bits() / 8) as u64 + blocks * 2
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "q8" => Some(QuantFormat::Q8),
            "q4" => Some(QuantFormat::Q4),
            _ => None,
        }
    }
}

/// Quantise and dequantise `values` (row-major `[rows, cols]`) in place: exactly the weights a
/// model in `format` computes with. Loading with a format applies this on the host (the packed
/// upload and its GPU kernels come next, checked against the same numbers).
pub fn round_trip(values: &mut [f32], cols: usize, format: QuantFormat) {
    let packed = quantize(values, cols, format);
    dequantize(&packed, values);
}

#[cfg(test)]
mod tests;
