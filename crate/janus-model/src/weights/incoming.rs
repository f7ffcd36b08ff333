//! One tensor arriving in whole-row chunks, converted as it comes: into the working dtype, or
//! block-quantised. A 102,400-row vocabulary matrix then never exists as f32 on the host — peak
//! memory is one chunk plus the stored form (for Q4 an eighth of f32), which keeps the browser's
//! wasm memory small while loading.

use half::f16;

use super::store::WorkingDtype;
use crate::error::WeightsError;
use crate::quant::{BLOCK, PackedMatrix, QuantFormat, dequantize, quantize, round_trip};

/// Values per conversion chunk (whole rows; at least one row).
pub const CHUNK_VALUES: usize = 1 << 20;

/// The stored form being built.
pub(crate) enum Buffer {
    F32(Vec<f32>),
    F16(Vec<f16>),
    Packed(PackedMatrix),
}

/// A tensor being received: `shape`, `rows_done` of `shape[0]`.
pub(crate) struct Incoming {
    pub name: String,
    pub shape: Vec<usize>,
    /// Elements per row (the product of `shape[1..]`; 1 for a vector).
    pub row_len: usize,
    pub rows_done: usize,
    /// Quantise and dequantise on the host (a quantised matrix kept dense).
    pub round_trip: Option<QuantFormat>,
    /// The rows arrive packed in this format (a pack's `U8` rows, see `weights::packed`).
    pub prepacked: Option<QuantFormat>,
    pub buffer: Buffer,
}

impl Incoming {
    pub fn new(
        name: &str,
        shape: &[usize],
        dtype: WorkingDtype,
        packed: Option<QuantFormat>,
        round_trip: Option<QuantFormat>,
        prepacked: Option<QuantFormat>,
    ) -> Self {
        let elems: usize = shape.iter().product();
        let row_len = shape.iter().skip(1).product();
        let buffer = match (packed, dtype) {
            (Some(format), _) => Buffer::Packed(PackedMatrix {
                format,
                rows: 0,
                cols: shape[1],
                codes: Vec::with_capacity(elems * format.bits() / 32),
                scales: Vec::with_capacity(elems / BLOCK),
            }),
            // Reserved at the first chunk: a tensor that is one chunk moves in without a copy.
            (None, WorkingDtype::F32) => Buffer::F32(Vec::new()),
            (None, WorkingDtype::F16) => Buffer::F16(Vec::new()),
        };
        Self {
            name: name.to_string(),
            shape: shape.to_vec(),
            row_len,
            rows_done: 0,
            round_trip,
            prepacked,
            buffer,
        }
    }

    /// Rows per chunk for this tensor.
    pub fn chunk_rows(&self) -> usize {
        (CHUNK_VALUES / self.row_len.max(1)).max(1)
    }

    /// Append whole rows; `source` names the checkpoint tensor in errors.
    pub fn push(&mut self, mut values: Vec<f32>, source: &str) -> Result<(), WeightsError> {
        let rows = values.len() / self.row_len.max(1);
        if rows * self.row_len != values.len() || self.rows_done + rows > self.total_rows() {
            return Err(WeightsError::Internal(format!(
                "{}: {} values do not continue its rows",
                self.name,
                values.len()
            )));
        }
        if values.iter().any(|v| !v.is_finite()) {
            return Err(WeightsError::NonFinite {
                name: source.to_string(),
            });
        }
        if let Some(format) = self.round_trip {
            round_trip(&mut values, self.row_len, format);
        }
        let total = self.total_rows() * self.row_len;
        match &mut self.buffer {
            Buffer::F32(b) if b.is_empty() && values.len() == total => *b = values,
            Buffer::F32(b) => {
                b.reserve_exact(total - b.len());
                b.extend_from_slice(&values);
            }
            Buffer::F16(b) => {
                b.reserve_exact(total - b.len());
                b.extend(values.iter().map(|&v| f16::from_f32(v)));
            }
            Buffer::Packed(p) => {
                // Blocks lie within rows, so quantising row chunks is quantising the whole.
                let part = quantize(&values, self.row_len, p.format);
                p.rows += part.rows;
                p.codes.extend_from_slice(&part.codes);
                p.scales.extend_from_slice(&part.scales);
            }
        }
        self.rows_done += rows;
        Ok(())
    }

    /// Append whole rows that arrive packed (`PackedMatrix::to_row_bytes` form): copied as they
    /// are into a packed buffer, or dequantised into a dense one, never quantised again.
    pub fn push_packed(&mut self, bytes: &[u8], source: &str) -> Result<(), WeightsError> {
        let (Some(format), &[_, cols]) = (self.prepacked, &self.shape[..]) else {
            return Err(WeightsError::Internal(format!(
                "{}: packed rows for a tensor that is not a packed matrix",
                self.name
            )));
        };
        let part = PackedMatrix::from_row_bytes(format, cols, bytes).map_err(|reason| {
            WeightsError::Pack {
                file: source.to_string(),
                reason,
            }
        })?;
        if self.rows_done + part.rows > self.total_rows() {
            return Err(WeightsError::Internal(format!(
                "{}: {} packed rows do not continue its rows",
                self.name, part.rows
            )));
        }
        if let Buffer::Packed(p) = &mut self.buffer {
            p.rows += part.rows;
            p.codes.extend_from_slice(&part.codes);
            p.scales.extend_from_slice(&part.scales);
            self.rows_done += part.rows;
            return Ok(());
        }
        let mut values = vec![0f32; part.rows * cols];
        dequantize(&part, &mut values);
        self.push(values, source)
    }

    pub fn is_complete(&self) -> bool {
        self.rows_done == self.total_rows()
    }

    /// `shape[0]` (a scalar is one row).
    fn total_rows(&self) -> usize {
        self.shape.first().copied().unwrap_or(1)
    }
}
