//! Device tensors assembled from checkpoint reads, handed to the module builders by name.
//!
//! Each read is decoded (bf16/f16/f32 -> working dtype), checked and uploaded immediately, so
//! host memory never holds more than one tensor. Tensors are kept flat (rank 1) with their
//! canonical shape; `take` reshapes, which costs nothing.
//!
//! A GPU binds at most `maxStorageBufferBindingSize` bytes per buffer (128 MiB by default on
//! WebGPU, 1–4 GiB when the adapter's own limits are requested), and burn cannot allocate a tensor
//! larger than that. The store is told the limit: matrices above it are kept as consecutive row
//! blocks (the 102,400-row vocabulary embedding and `lm_head` are 400–800 MiB), and anything that
//! cannot be split is refused by [`TensorStore::check`] before a byte of it is read.

use std::collections::HashMap;

use burn::tensor::{DType, Device, Tensor, TensorData};

use super::plan::{LoadPlan, TensorRead};
use super::safetensors::decode_f32;
use crate::error::WeightsError;
use crate::quant::{QuantFormat, quantizable, round_trip};

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
    blocks: Vec<Tensor<1>>,
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
        }
    }

    /// Store the quantisable matrices in `format`. For now the weights are quantised and
    /// dequantised on the host (exactly the numbers the format computes with) and uploaded in
    /// the working dtype; the packed upload with its GPU kernels replaces this step.
    pub fn with_quant(mut self, format: Option<QuantFormat>) -> Self {
        self.quant = format;
        self
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

    /// Rows per block for a placement of `shape` in `dtype`: `None` when it fits one buffer.
    fn block_rows(
        &self,
        name: &str,
        shape: &[usize],
        dtype: WorkingDtype,
    ) -> Result<Option<usize>, WeightsError> {
        let elems: u64 = shape.iter().map(|&d| d as u64).product();
        let bytes = elems * dtype.size();
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
        let row_bytes = shape[1] as u64 * dtype.size();
        let rows = (self.max_tensor_bytes / row_bytes) as usize;
        if rows == 0 {
            return Err(too_large());
        }
        Ok(Some(rows))
    }

    /// Refuse a read whose tensors cannot fit the device, before its bytes are fetched.
    pub fn check(&self, read: &TensorRead) -> Result<(), WeightsError> {
        for p in &read.placements {
            self.block_rows(&p.target, &p.shape, self.dtype_for(&p.target))?;
        }
        Ok(())
    }

    /// [`Self::check`] for every read of a plan.
    pub fn check_plan(&self, plan: &LoadPlan) -> Result<(), WeightsError> {
        plan.reads.iter().try_for_each(|r| self.check(r))
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Decode, check and upload the bytes of one planned read.
    pub fn accept(&mut self, read: &TensorRead, bytes: &[u8]) -> Result<(), WeightsError> {
        if bytes.len() as u64 != read.len {
            return Err(WeightsError::ShortRead {
                name: read.name.clone(),
                expected: read.len as usize,
                got: bytes.len(),
            });
        }
        let values = decode_f32(read.dtype, bytes);
        if values.iter().any(|v| !v.is_finite()) {
            return Err(WeightsError::NonFinite {
                name: read.name.clone(),
            });
        }
        // The common case (one placement, all rows) moves the decoded values to the device
        // without another copy: peak host memory is the read plus its f32 decoding.
        if let [p] = &read.placements[..]
            && p.rows.is_none()
        {
            return self.place(&p.target, values, &p.shape);
        }
        let row_len: usize = read.shape.iter().skip(1).product();
        for p in &read.placements {
            let part = match p.rows {
                Some((start, end)) => values[start * row_len..end * row_len].to_vec(),
                None => values.clone(),
            };
            self.place(&p.target, part, &p.shape)?;
        }
        Ok(())
    }

    /// Upload `values` (row-major `shape`) as `name`, in row blocks when over the limit.
    fn place(
        &mut self,
        name: &str,
        mut values: Vec<f32>,
        shape: &[usize],
    ) -> Result<(), WeightsError> {
        if let Some(format) = self.quant
            && quantizable(name, shape)
        {
            round_trip(&mut values, shape[1], format);
            self.quantized.push(name.to_string());
        }
        let dtype = self.dtype_for(name);
        let blocks = match self.block_rows(name, shape, dtype)? {
            None => vec![self.upload(values, dtype)],
            Some(rows) => {
                self.split.push(name.to_string());
                values
                    .chunks(rows * shape[1])
                    .map(|block| self.upload(block.to_vec(), dtype))
                    .collect()
            }
        };
        self.tensors.insert(
            name.to_string(),
            Stored {
                blocks,
                shape: shape.to_vec(),
            },
        );
        Ok(())
    }

    fn upload(&self, values: Vec<f32>, dtype: WorkingDtype) -> Tensor<1> {
        let n = values.len();
        let data = match dtype {
            WorkingDtype::F32 => TensorData::new(values, [n]),
            WorkingDtype::F16 => TensorData::new(
                values
                    .iter()
                    .map(|&v| half::f16::from_f32(v))
                    .collect::<Vec<_>>(),
                [n],
            ),
        };
        Tensor::from_data(data, (&self.device, dtype.dtype()))
    }

    /// Add a weight directly (tests, synthetic models): `values` in row-major order of `shape`.
    pub fn insert(
        &mut self,
        name: &str,
        values: &[f32],
        shape: &[usize],
    ) -> Result<(), WeightsError> {
        self.place(name, values.to_vec(), shape)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// Remove a weight that is a single buffer, reshaped to rank `D`.
    pub fn take<const D: usize>(&mut self, name: &str) -> Result<Tensor<D>, WeightsError> {
        let Stored { mut blocks, shape } = self
            .tensors
            .remove(name)
            .ok_or_else(|| WeightsError::Internal(name.to_string()))?;
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

    /// Remove a matrix as its row blocks `[rows_i, cols]` (one block unless it was split).
    pub fn take_blocks(&mut self, name: &str) -> Result<Vec<Tensor<2>>, WeightsError> {
        let Stored { blocks, shape } = self
            .tensors
            .remove(name)
            .ok_or_else(|| WeightsError::Internal(name.to_string()))?;
        let [_, cols] = shape[..] else {
            return Err(WeightsError::Internal(format!(
                "{name}: a matrix was requested for shape {shape:?}"
            )));
        };
        Ok(blocks
            .into_iter()
            .map(|b| {
                let rows = b.dims()[0] / cols;
                b.reshape([rows, cols])
            })
            .collect())
    }

    /// Names left over after the model was built (must be none).
    pub fn remaining(&self) -> Vec<String> {
        let mut names: Vec<String> = self.tensors.keys().cloned().collect();
        names.sort();
        names
    }
}
