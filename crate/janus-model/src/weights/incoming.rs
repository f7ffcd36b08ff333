//! One tensor arriving in whole-row chunks, converted as it comes: into the working dtype, or
//! block-quantised, then written to the device a few MiB at a time ([`super::device_rows`]).
//! A 102,400-row vocabulary matrix then never exists whole on the host, as f32 or packed: peak
//! memory is one chunk plus [`STAGE_BYTES`] of converted rows, which keeps the browser's wasm
//! memory small while loading.

use half::f16;

use super::device_rows::{Blocks, DeviceRows};
use super::store::WorkingDtype;
use crate::error::WeightsError;
use crate::quant::{PackedMatrix, QuantFormat, dequantize, quantize, round_trip};

/// Values per conversion chunk (whole rows; at least one row).
pub const CHUNK_VALUES: usize = 1 << 20;

/// Converted rows are written to the device once this many bytes wait (or the tensor is
/// complete): few enough writes that each costs little, few enough bytes to hold.
pub const STAGE_BYTES: usize = 4 << 20;

/// Converted rows not yet on the device.
pub(crate) enum Buffer {
    F32(Vec<f32>),
    F16(Vec<f16>),
    Packed(PackedMatrix),
}

impl Buffer {
    /// Whole rows of `row_len` values held.
    pub fn rows(&self, row_len: usize) -> usize {
        match self {
            Buffer::F32(v) => v.len() / row_len.max(1),
            Buffer::F16(v) => v.len() / row_len.max(1),
            Buffer::Packed(p) => p.rows,
        }
    }

    /// Bytes held.
    fn bytes(&self) -> usize {
        match self {
            Buffer::F32(v) => v.len() * 4,
            Buffer::F16(v) => v.len() * 2,
            Buffer::Packed(p) => p.bytes() as usize,
        }
    }

    /// Keep rows `..at`, return rows `at..`.
    pub fn split_off(&mut self, at: usize, row_len: usize) -> Buffer {
        match self {
            Buffer::F32(v) => Buffer::F32(v.split_off(at * row_len)),
            Buffer::F16(v) => Buffer::F16(v.split_off(at * row_len)),
            Buffer::Packed(p) => Buffer::Packed(p.split_off(at)),
        }
    }

    /// Empty, of the same kind.
    fn empty_like(&self) -> Buffer {
        match self {
            Buffer::F32(_) => Buffer::F32(Vec::new()),
            Buffer::F16(_) => Buffer::F16(Vec::new()),
            Buffer::Packed(p) => Buffer::Packed(PackedMatrix {
                codes: Vec::new(),
                scales: Vec::new(),
                rows: 0,
                ..*p
            }),
        }
    }
}

/// How a tensor's rows are converted.
pub(crate) struct Conversion {
    /// The dense working dtype.
    pub dtype: WorkingDtype,
    /// Stored packed in this block format.
    pub packed: Option<QuantFormat>,
    /// Quantised and dequantised on the host, stored dense.
    pub round_trip: Option<QuantFormat>,
    /// The rows arrive packed in this format.
    pub prepacked: Option<QuantFormat>,
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
    /// Converted rows waiting for the device.
    staged: Buffer,
    /// The device buffers they go to.
    device: DeviceRows,
    /// Staged bytes that are written out ([`STAGE_BYTES`] but in tests).
    stage_bytes: usize,
}

impl Incoming {
    /// `name` of `shape`, converted as `how` says, for `device`, written `stage_bytes` at a
    /// time.
    pub fn new(
        name: &str,
        shape: &[usize],
        how: Conversion,
        device: DeviceRows,
        stage_bytes: usize,
    ) -> Self {
        let Conversion {
            dtype,
            packed,
            round_trip,
            prepacked,
        } = how;
        let row_len = shape.iter().skip(1).product();
        let staged = match (packed, dtype) {
            (Some(format), _) => Buffer::Packed(PackedMatrix {
                format,
                rows: 0,
                cols: shape[1],
                codes: Vec::new(),
                scales: Vec::new(),
            }),
            // Filled at the first chunk: a tensor that is one chunk moves in without a copy.
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
            staged,
            device,
            stage_bytes,
        }
    }

    /// Rows per chunk for this tensor: [`CHUNK_VALUES`], or fewer values where the stage holds
    /// fewer bytes.
    pub fn chunk_rows(&self) -> usize {
        (CHUNK_VALUES.min(self.stage_bytes) / self.row_len.max(1)).max(1)
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
        match &mut self.staged {
            Buffer::F32(b) if b.is_empty() => *b = values,
            Buffer::F32(b) => b.extend_from_slice(&values),
            Buffer::F16(b) => b.extend(values.iter().map(|&v| f16::from_f32(v))),
            // Blocks lie within rows, so quantising row chunks is quantising the whole.
            Buffer::Packed(p) => p.append(quantize(&values, self.row_len, p.format)),
        }
        self.rows_done += rows;
        self.flush();
        Ok(())
    }

    /// Write the staged rows to the device when a stage's bytes wait or the tensor is
    /// complete.
    fn flush(&mut self) {
        if self.is_complete() || self.staged.bytes() >= self.stage_bytes {
            let next = self.staged.empty_like();
            self.device.write(std::mem::replace(&mut self.staged, next));
        }
    }

    /// The device blocks of the complete tensor.
    pub fn finish(self) -> Result<Blocks, WeightsError> {
        let (done, total) = (self.rows_done, self.total_rows());
        let blocks = if done == total {
            self.device.finish()
        } else {
            None
        };
        blocks.ok_or_else(|| {
            WeightsError::Internal(format!("{}: {done} of {total} rows arrived", self.name))
        })
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
        if let Buffer::Packed(p) = &mut self.staged {
            self.rows_done += part.rows;
            p.append(part);
            self.flush();
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
