//! One tensor's device buffers, filled as its rows arrive. The store converts a few MiB of rows
//! at a time ([`super::incoming`]) and writes them here at their offset, so the host never holds
//! a whole matrix before its upload: Janus-Pro-7B's 102,400 × 4,096 embedding is 236 MB even at
//! 4 bits, which a browser would otherwise hold in wasm memory (never returned to the page).
//!
//! Each row block (the store splits a matrix above the device's binding limit) is one buffer. A
//! block that arrives in one part is uploaded as it is (norms, biases, most small matrices);
//! any other is allocated empty and written part by part at its offset (`crate::device_write`).

use burn::tensor::{DType, Device, Tensor, TensorData};

use super::incoming::Buffer;
use crate::device_write::write_float;
use crate::quant::device::QuantMatrix;
use crate::quant::{BLOCK, PackedMatrix};

/// A tensor's finished row blocks, in order.
pub(crate) enum Blocks {
    /// Flat values in the working dtype.
    Dense(Vec<Tensor<1>>),
    /// Packed codes and scales.
    Quant(Vec<QuantMatrix>),
}

impl Blocks {
    /// How many row blocks.
    pub fn len(&self) -> usize {
        match self {
            Blocks::Dense(b) => b.len(),
            Blocks::Quant(b) => b.len(),
        }
    }
}

/// The block being written. (One per tensor while it loads: the variants' sizes do not matter.)
#[allow(clippy::large_enum_variant)]
enum Open {
    Dense(Tensor<1>),
    Quant(QuantMatrix),
}

/// Where a tensor of `total_rows` rows of `row_len` values goes, `block_rows` rows per buffer.
pub(crate) struct DeviceRows {
    device: Device,
    row_len: usize,
    total_rows: usize,
    block_rows: usize,
    /// Quantised blocks are laid out for the WGSL kernels (scales two to a word).
    kernel: bool,
    /// Rows written so far, over all blocks.
    rows_written: usize,
    done: Blocks,
    open: Option<Open>,
    /// A row kept back so the next write starts on a whole scale pair (see [`Self::write`]).
    carry: Option<PackedMatrix>,
}

impl DeviceRows {
    /// `quant`: the rows arrive packed; `kernel` lays them out for the WGSL kernels.
    pub fn new(
        device: &Device,
        shape: &[usize],
        block_rows: Option<usize>,
        quant: bool,
        kernel: bool,
    ) -> Self {
        let total_rows = shape.first().copied().unwrap_or(1);
        Self {
            device: device.clone(),
            row_len: shape.iter().skip(1).product(),
            total_rows,
            block_rows: block_rows.unwrap_or(total_rows).max(1),
            kernel,
            rows_written: 0,
            done: if quant {
                Blocks::Quant(Vec::new())
            } else {
                Blocks::Dense(Vec::new())
            },
            open: None,
            carry: None,
        }
    }

    /// Write the next rows, block by block. With the kernels' scale pairs and an odd number of
    /// blocks per row, a write that would stop mid-pair (not at its block's end) keeps its last
    /// row back and writes it with the next part.
    pub fn write(&mut self, part: Buffer) {
        let mut part = match (self.carry.take(), part) {
            (Some(mut carry), Buffer::Packed(p)) => {
                carry.append(p);
                Buffer::Packed(carry)
            }
            (_, part) => part,
        };
        let mut rows = part.rows(self.row_len);
        while rows > 0 {
            let in_block = self.rows_written % self.block_rows;
            let block_start = self.rows_written - in_block;
            let block_len = self.block_rows.min(self.total_rows - block_start);
            let room = block_len - in_block;
            let rest = part.split_off(room.min(rows), self.row_len);
            let mut n = room.min(rows);
            if n < room && self.mid_pair(in_block + n) {
                let Buffer::Packed(p) = &mut part else {
                    unreachable!("only packed rows have scale pairs")
                };
                self.carry = Some(p.split_off(n - 1));
                n -= 1;
            }
            if n > 0 {
                self.write_in_block(part, in_block, block_len);
                self.rows_written += n;
                if in_block + n == block_len {
                    self.close();
                }
            }
            part = rest;
            rows = part.rows(self.row_len);
        }
    }

    /// True when a write ending `rows` into a block would end inside a kernel scale pair.
    fn mid_pair(&self, rows: usize) -> bool {
        matches!(self.done, Blocks::Quant(_))
            && self.kernel
            && (rows * self.row_len / BLOCK) % 2 == 1
    }

    /// `part` (within one block) at row `in_block` of the block `block_len` rows long.
    fn write_in_block(&mut self, part: Buffer, in_block: usize, block_len: usize) {
        let whole = in_block == 0 && part.rows(self.row_len) == block_len;
        let open = match (self.open.take(), part) {
            // A block in one part: uploaded as it is, its host copy moved into the upload.
            (None, Buffer::Packed(p)) if whole => {
                Open::Quant(QuantMatrix::upload_owned(p, &self.device, self.kernel))
            }
            (None, Buffer::F32(v)) if whole => Open::Dense(self.upload(v)),
            (None, Buffer::F16(v)) if whole => Open::Dense(self.upload(v)),
            (open, Buffer::Packed(p)) => {
                let m = match open {
                    Some(Open::Quant(m)) => m,
                    _ => QuantMatrix::empty(p.format, block_len, p.cols, &self.device, self.kernel),
                };
                Open::Quant(m.write_rows(in_block, p))
            }
            (open, Buffer::F32(v)) => Open::Dense(self.write_dense(open, v, in_block, block_len)),
            (open, Buffer::F16(v)) => Open::Dense(self.write_dense(open, v, in_block, block_len)),
        };
        self.open = Some(open);
    }

    /// Dense values at row `in_block` of an open block (allocated when there is none).
    fn write_dense<E: burn::tensor::Element + bytemuck::NoUninit + Send + Sync>(
        &self,
        open: Option<Open>,
        values: Vec<E>,
        in_block: usize,
        block_len: usize,
    ) -> Tensor<1> {
        let block = match open {
            Some(Open::Dense(t)) => t,
            _ => Tensor::empty([block_len * self.row_len], (&self.device, E::dtype())),
        };
        write_float(block, in_block * self.row_len, values)
    }

    fn upload<E: burn::tensor::Element>(&self, values: Vec<E>) -> Tensor<1> {
        let n = values.len();
        let data = TensorData::new(values, [n]);
        let dtype: DType = data.dtype();
        Tensor::from_data(data, (&self.device, dtype))
    }

    /// The open block is full: it joins the finished ones.
    fn close(&mut self) {
        match (self.open.take(), &mut self.done) {
            (Some(Open::Dense(t)), Blocks::Dense(done)) => done.push(t),
            (Some(Open::Quant(m)), Blocks::Quant(done)) => done.push(m),
            _ => unreachable!("a block's kind is its tensor's"),
        }
    }

    /// Every row written: the blocks. `None` when rows are missing.
    pub fn finish(self) -> Option<Blocks> {
        let complete =
            self.rows_written == self.total_rows && self.open.is_none() && self.carry.is_none();
        complete.then_some(self.done)
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, TensorData};
    use half::f16;

    use super::{Blocks, DeviceRows};
    use crate::quant::{QuantFormat, quantize};
    use crate::weights::incoming::Buffer;

    fn values(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (((i * 7919 + seed * 104_729) % 1000) as f32 - 500.0) / 97.0)
            .collect()
    }

    /// Everything the blocks hold, block by block.
    fn contents(blocks: Blocks) -> Vec<(TensorData, Option<TensorData>)> {
        match blocks {
            Blocks::Dense(b) => b.into_iter().map(|t| (t.into_data(), None)).collect(),
            Blocks::Quant(b) => b
                .into_iter()
                .map(|m| {
                    let (codes, scales) = m.raw();
                    (codes, Some(scales))
                })
                .collect(),
        }
    }

    /// `rows` rows of `row_len` in `kind`'s form, from row `start` on.
    fn part(kind: &str, row_len: usize, start: usize, rows: usize) -> Buffer {
        let v = values(rows * row_len, start);
        match kind {
            "f32" => Buffer::F32(v),
            "f16" => Buffer::F16(v.iter().map(|&x| f16::from_f32(x)).collect()),
            "q4" => Buffer::Packed(quantize(&v, row_len, QuantFormat::Q4)),
            _ => Buffer::Packed(quantize(&v, row_len, QuantFormat::Q8)),
        }
    }

    /// Rows written in uneven parts (one row, several, across block ends) fill the same blocks
    /// as each block uploaded whole: dense and packed, kernel scale pairs with an odd number of
    /// blocks per row (where a row must wait for the next part), split and unsplit.
    #[test]
    fn rows_written_in_parts_equal_whole_blocks() {
        let device = Device::default();
        let sizes = [1, 2, 3, 1, 5, 1, 1, 4, 2, 7];
        for kind in ["f32", "f16", "q4", "q8"] {
            // 32 columns: one block a row, so half the rows end inside a kernel scale pair.
            for row_len in [32, 64, 96] {
                for (kernel, block_rows) in [(true, None), (true, Some(5)), (false, Some(4))] {
                    let rows = 23;
                    let quant = kind.starts_with('q');
                    let new =
                        || DeviceRows::new(&device, &[rows, row_len], block_rows, quant, kernel);
                    // Each row depends on its index alone, so any cut gives the same rows.
                    let row = |r: usize| part(kind, row_len, r, 1);
                    let mut whole = new();
                    let block = block_rows.unwrap_or(rows);
                    for start in (0..rows).step_by(block) {
                        let mut p = row(start);
                        for r in start + 1..(start + block).min(rows) {
                            append(&mut p, row(r));
                        }
                        whole.write(p);
                    }
                    let mut parts = new();
                    let mut r = 0;
                    for n in sizes.iter().cycle() {
                        if r == rows {
                            break;
                        }
                        let mut p = row(r);
                        for k in r + 1..(r + n).min(rows) {
                            append(&mut p, row(k));
                        }
                        r = (r + n).min(rows);
                        parts.write(p);
                    }
                    let what = format!("{kind} x{row_len} kernel {kernel} blocks {block_rows:?}");
                    let (a, b) = (whole.finish(), parts.finish());
                    let (a, b) = (contents(a.expect(&what)), contents(b.expect(&what)));
                    assert_eq!(a.len(), rows.div_ceil(block), "{what}");
                    assert_eq!(a, b, "{what}");
                }
            }
        }
    }

    fn append(a: &mut Buffer, b: Buffer) {
        match (a, b) {
            (Buffer::F32(a), Buffer::F32(b)) => a.extend(b),
            (Buffer::F16(a), Buffer::F16(b)) => a.extend(b),
            (Buffer::Packed(a), Buffer::Packed(b)) => a.append(b),
            _ => unreachable!(),
        }
    }

    #[test]
    fn missing_rows_leave_no_blocks() {
        let device = Device::default();
        let mut rows = DeviceRows::new(&device, &[4, 32], None, true, true);
        rows.write(part("q4", 32, 0, 3));
        assert!(rows.finish().is_none());
    }
}
