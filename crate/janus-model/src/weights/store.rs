//! Device tensors assembled from checkpoint reads, handed to the module builders by name.
//!
//! Each read is decoded (bf16/f16/f32 -> working dtype), checked, converted and written to the
//! device a few MiB at a time ([`super::incoming`], [`super::device_rows`]), so host memory
//! never holds a whole tensor. Tensors are kept flat (rank 1) with their canonical shape; `take`
//! reshapes, which costs nothing.
//!
//! A GPU binds at most `maxStorageBufferBindingSize` bytes per buffer (128 MiB by default on
//! WebGPU, 1–4 GiB when the adapter's own limits are requested), and burn cannot allocate a tensor
//! larger than that. The store is told the limit: matrices above it are kept as consecutive row
//! blocks (the 102,400-row vocabulary embedding and `lm_head` are 400–800 MiB), and anything that
//! cannot be split is refused by [`TensorStore::check`] before a byte of it is read.

use std::collections::HashMap;

use burn::tensor::{DType, Device, Tensor};

use super::device_rows::{Blocks, DeviceRows};
use super::incoming::{Conversion, Incoming, STAGE_BYTES};
use super::plan::{LoadPlan, TensorRead};
use super::safetensors::decode_f32;
use crate::error::WeightsError;
use crate::model::nn::RowBlocks;
use crate::quant::device::kernel_available;
use crate::quant::{QuantFormat, is_lookup, quantizable};

/// Float type weights are converted to on upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkingDtype {
    F32,
    F16,
}

impl WorkingDtype {
    pub fn dtype(self) -> DType {
        match self {
            WorkingDtype::F32 => DType::F32,
            WorkingDtype::F16 => DType::F16,
        }
    }

    pub fn size(self) -> u64 {
        match self {
            WorkingDtype::F32 => 4,
            WorkingDtype::F16 => 2,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            WorkingDtype::F32 => "f32",
            WorkingDtype::F16 => "f16",
        }
    }
}

/// Tensors under this prefix (the VQ decoder) stay in f32 whatever the working dtype: its
/// convolutions and GroupNorms overflow f16 (janus-spec.md §10).
pub(crate) const F32_ONLY_PREFIX: &str = "gen_vision_model.";

/// One weight on the device: its row blocks (one unless split) and canonical shape.
struct Stored {
    blocks: Blocks,
    shape: Vec<usize>,
}

/// Loaded weights by canonical name.
pub struct TensorStore {
    device: Device,
    dtype: WorkingDtype,
    /// Largest buffer one tensor (or row block) may occupy on the device.
    max_tensor_bytes: u64,
    tensors: HashMap<String, Stored>,
    /// Canonical names stored as more than one row block.
    split: Vec<String>,
    /// Block quantisation of the quantisable matrices (`quant::quantizable`), if any.
    quant: Option<QuantFormat>,
    /// Canonical names stored quantised.
    quantized: Vec<String>,
    /// Keep quantised matrices packed on the device (the WGSL kernels read them); otherwise
    /// they are dequantised once on the host and stored dense.
    packed: bool,
    /// Tensors arriving in row parts (a pack's large tensors), until their last part.
    pending: HashMap<String, Incoming>,
    /// Converted bytes held on the host before they are written to the device.
    stage_bytes: usize,
}

impl TensorStore {
    pub fn new(device: &Device, dtype: WorkingDtype) -> Self {
        Self {
            device: device.clone(),
            dtype,
            max_tensor_bytes: u64::MAX,
            tensors: HashMap::new(),
            split: Vec::new(),
            quant: None,
            quantized: Vec::new(),
            packed: kernel_available(device),
            pending: HashMap::new(),
            stage_bytes: STAGE_BYTES,
        }
    }

    /// Store the quantisable matrices (`quant::quantizable`) in `format`. On wgpu with the
    /// kernels they stay packed on the device (4.5 or 8.5 bits a weight); elsewhere they are
    /// quantised and dequantised once on the host, the same numbers in the working dtype.
    pub fn with_quant(mut self, format: Option<QuantFormat>) -> Self {
        self.quant = format;
        self
    }

    /// Choose packed storage (`true`, the default where the kernels run) or the host round trip
    /// for quantised matrices: tests compare the two.
    pub fn with_packed(mut self, packed: bool) -> Self {
        self.packed = packed;
        self
    }

    /// Write converted rows to the device once `bytes` of them wait (default
    /// [`STAGE_BYTES`]); a stage of `n` bytes also converts at most `n` values at a time, so
    /// tests that stage a byte write every tensor a row at a time.
    pub fn with_stage_bytes(mut self, bytes: usize) -> Self {
        self.stage_bytes = bytes.max(1);
        self
    }

    /// The quantisation format in use, if any.
    pub fn quant(&self) -> Option<QuantFormat> {
        self.quant
    }

    /// Names of the tensors stored quantised.
    pub fn quantized_tensors(&self) -> &[String] {
        &self.quantized
    }

    /// Limit every device buffer to `bytes` (the device's storage-binding limit).
    pub fn with_max_tensor_bytes(mut self, bytes: u64) -> Self {
        self.max_tensor_bytes = bytes.max(1);
        self
    }

    pub fn max_tensor_bytes(&self) -> u64 {
        self.max_tensor_bytes
    }

    /// The dtype `name` is uploaded in.
    pub fn dtype_for(&self, name: &str) -> WorkingDtype {
        if name.starts_with(F32_ONLY_PREFIX) {
            WorkingDtype::F32
        } else {
            self.dtype
        }
    }

    /// Names of the tensors kept as several row blocks.
    pub fn split_tensors(&self) -> &[String] {
        &self.split
    }

    /// The packed format `name` is stored in, when it is stored packed.
    fn packed_format(&self, name: &str, shape: &[usize]) -> Option<QuantFormat> {
        self.quant
            .filter(|_| self.packed && quantizable(name, shape))
    }

    /// Rows per block for a placement of `name`: `None` when it fits one buffer. Packed
    /// matrices are limited by their code buffer.
    fn block_rows(&self, name: &str, shape: &[usize]) -> Result<Option<usize>, WeightsError> {
        let elems: u64 = shape.iter().map(|&d| d as u64).product();
        // Bytes per element, in eighths (4-bit codes are half a byte).
        let eighths = match self.packed_format(name, shape) {
            Some(format) => format.bits() as u64,
            None => self.dtype_for(name).size() * 8,
        };
        let bytes = elems * eighths / 8;
        if bytes <= self.max_tensor_bytes {
            return Ok(None);
        }
        let too_large = || WeightsError::TooLarge {
            name: name.to_string(),
            bytes,
            limit: self.max_tensor_bytes,
        };
        // Only matrices split: their consumers (linear layers, embeddings) work per row block.
        if shape.len() != 2 {
            return Err(too_large());
        }
        let row_bytes = shape[1] as u64 * eighths / 8;
        let rows = (self.max_tensor_bytes / row_bytes) as usize;
        if rows == 0 {
            return Err(too_large());
        }
        Ok(Some(rows))
    }

    /// Refuse a read whose tensors cannot fit the device, before its bytes are fetched.
    pub fn check(&self, read: &TensorRead) -> Result<(), WeightsError> {
        for p in &read.placements {
            self.block_rows(&p.target, &p.shape)?;
        }
        Ok(())
    }

    /// [`Self::check`] for every read of a plan.
    pub fn check_plan(&self, plan: &LoadPlan) -> Result<(), WeightsError> {
        plan.reads.iter().try_for_each(|r| self.check(r))
    }

    /// Get ready for `plan`: a pack brings its own format (its matrices are already quantised;
    /// whatever format was asked for, the pack's is the one there is), then [`Self::check_plan`].
    pub fn prepare(&mut self, plan: &LoadPlan) -> Result<(), WeightsError> {
        if let Some(format) = plan.pack {
            self.quant = Some(format);
        }
        self.check_plan(plan)
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Decode, check and upload the bytes of one planned read, a chunk of rows at a time (see
    /// [`super::incoming`]): host memory holds the read, one chunk, and at most
    /// [`super::incoming::STAGE_BYTES`] of converted rows. A pack's row parts continue the
    /// tensor their first part began.
    pub fn accept(&mut self, read: &TensorRead, bytes: &[u8]) -> Result<(), WeightsError> {
        if bytes.len() as u64 != read.len {
            return Err(WeightsError::ShortRead {
                name: read.name.clone(),
                expected: read.len as usize,
                got: bytes.len(),
            });
        }
        let row_len: usize = read.shape.iter().skip(1).product();
        let row_bytes = row_len * read.dtype.size();
        for p in &read.placements {
            let (start, end) = p
                .rows
                .unwrap_or((0, read.shape.first().copied().unwrap_or(1)));
            let mut incoming = match self.pending.remove(&p.target) {
                Some(incoming) => incoming,
                None => self.begin(&p.target, &p.shape, read.packed)?,
            };
            if incoming.rows_done != read.first_row.unwrap_or(0) {
                return Err(WeightsError::Pack {
                    file: read.file.clone(),
                    reason: format!(
                        "`{}` continues `{}` at the wrong row ({} rows arrived before it)",
                        read.name, p.target, incoming.rows_done
                    ),
                });
            }
            let step = incoming.chunk_rows();
            let mut row = start;
            // A scalar (shape []) is one row of one value.
            let end = end.max(start + usize::from(read.shape.is_empty()));
            while row < end {
                let next = (row + step).min(end);
                let part = &bytes[row * row_bytes..next * row_bytes];
                match read.packed {
                    Some(_) => incoming.push_packed(part, &read.name)?,
                    None => incoming.push(decode_f32(read.dtype, part), &read.name)?,
                }
                row = next;
            }
            if incoming.is_complete() {
                self.finish(incoming)?;
            } else {
                self.pending.insert(p.target.clone(), incoming);
            }
        }
        Ok(())
    }

    /// Start receiving `name` (row-major `shape`) in row chunks; `prepacked` when the rows
    /// arrive already quantised (a pack), which are then copied or dequantised, never
    /// quantised again. Errors when it cannot fit the device ([`Self::check`]).
    pub(crate) fn begin(
        &self,
        name: &str,
        shape: &[usize],
        prepacked: Option<QuantFormat>,
    ) -> Result<Incoming, WeightsError> {
        let quantised = prepacked.or(self.quant.filter(|_| quantizable(name, shape)));
        let packed = quantised.filter(|_| self.packed);
        let round_trip = quantised.filter(|_| !self.packed && prepacked.is_none());
        // Lookup tables keep f32 scales: a gather unpacks its rows with plain burn ops.
        let kernel = !is_lookup(name);
        let device = DeviceRows::new(
            &self.device,
            shape,
            self.block_rows(name, shape)?,
            packed.is_some(),
            kernel,
        );
        let how = Conversion {
            dtype: self.dtype_for(name),
            packed,
            round_trip,
            prepacked,
        };
        Ok(Incoming::new(name, shape, how, device, self.stage_bytes))
    }

    /// File a complete tensor's device blocks under its name.
    pub(crate) fn finish(&mut self, incoming: Incoming) -> Result<(), WeightsError> {
        let name = incoming.name.clone();
        let shape = incoming.shape.clone();
        let quantised = incoming.round_trip.is_some() || incoming.prepacked.is_some();
        let blocks = incoming.finish()?;
        // More than one block: the tensor was over the device limit and split (`begin`).
        if blocks.len() > 1 {
            self.split.push(name.clone());
        }
        if quantised || matches!(blocks, Blocks::Quant(_)) {
            self.quantized.push(name.clone());
        }
        self.tensors.insert(name, Stored { blocks, shape });
        Ok(())
    }

    /// Add a weight directly (tests, synthetic models): `values` in row-major order of `shape`.
    pub fn insert(
        &mut self,
        name: &str,
        values: &[f32],
        shape: &[usize],
    ) -> Result<(), WeightsError> {
        let mut incoming = self.begin(name, shape, None)?;
        let chunk = incoming.chunk_rows() * incoming.row_len.max(1);
        for part in values.chunks(chunk.max(1)) {
            incoming.push(part.to_vec(), name)?;
        }
        if !incoming.is_complete() {
            return Err(WeightsError::Internal(format!(
                "{name}: {} values for shape {shape:?}",
                values.len()
            )));
        }
        self.finish(incoming)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    fn remove(&mut self, name: &str) -> Result<Stored, WeightsError> {
        self.tensors
            .remove(name)
            .ok_or_else(|| WeightsError::Internal(name.to_string()))
    }

    /// Remove a weight that is a single dense buffer, reshaped to rank `D`.
    pub fn take<const D: usize>(&mut self, name: &str) -> Result<Tensor<D>, WeightsError> {
        let Stored { blocks, shape } = self.remove(name)?;
        let Blocks::Dense(mut blocks) = blocks else {
            return Err(WeightsError::Internal(format!(
                "{name} is stored quantised; its consumer must take it as a matrix"
            )));
        };
        if blocks.len() != 1 {
            let elems: u64 = shape.iter().map(|&d| d as u64).product();
            return Err(WeightsError::TooLarge {
                name: name.to_string(),
                bytes: elems * self.dtype_for(name).size(),
                limit: self.max_tensor_bytes,
            });
        }
        let flat = blocks.remove(0);
        if shape.len() != D {
            return Err(WeightsError::Internal(format!(
                "{name}: rank {} requested for shape {shape:?}",
                D
            )));
        }
        let dims: [usize; D] = std::array::from_fn(|i| shape[i]);
        Ok(flat.reshape(dims))
    }

    /// Remove a matrix as its row blocks (one block unless it was split), dense or quantised.
    pub fn take_matrix(&mut self, name: &str) -> Result<RowBlocks, WeightsError> {
        let dtype = self.dtype_for(name).dtype();
        let Stored { blocks, shape } = self.remove(name)?;
        let [_, cols] = shape[..] else {
            return Err(WeightsError::Internal(format!(
                "{name}: a matrix was requested for shape {shape:?}"
            )));
        };
        match blocks {
            Blocks::Dense(blocks) => RowBlocks::new(
                blocks
                    .into_iter()
                    .map(|b| {
                        let rows = b.dims()[0] / cols;
                        b.reshape([rows, cols])
                    })
                    .collect(),
            ),
            Blocks::Quant(blocks) => RowBlocks::quantized(blocks, dtype),
        }
    }

    /// Names left over after the model was built (must be none).
    pub fn remaining(&self) -> Vec<String> {
        let mut names: Vec<String> = self.tensors.keys().cloned().collect();
        names.sort();
        names
    }
}
