//! Device tensors assembled from checkpoint reads, handed to the module builders by name.
//!
//! Each read is decoded (bf16/f16/f32 -> working dtype), checked and uploaded immediately, so
//! host memory never holds more than one tensor. Tensors are kept flat (rank 1) with their
//! canonical shape; `take` reshapes, which costs nothing.

use std::collections::HashMap;

use burn::tensor::{DType, Device, Tensor, TensorData};

use super::plan::TensorRead;
use super::safetensors::decode_f32;
use crate::error::WeightsError;

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
}

/// Loaded weights by canonical name.
pub struct TensorStore {
    device: Device,
    dtype: WorkingDtype,
    tensors: HashMap<String, (Tensor<1>, Vec<usize>)>,
}

impl TensorStore {
    pub fn new(device: &Device, dtype: WorkingDtype) -> Self {
        Self {
            device: device.clone(),
            dtype,
            tensors: HashMap::new(),
        }
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
        let row_len: usize = read.shape.iter().skip(1).product();
        for p in &read.placements {
            let part = match p.rows {
                Some((start, end)) => &values[start * row_len..end * row_len],
                None => &values[..],
            };
            let tensor = self.upload(part);
            self.tensors
                .insert(p.target.clone(), (tensor, p.shape.clone()));
        }
        Ok(())
    }

    fn upload(&self, values: &[f32]) -> Tensor<1> {
        let n = values.len();
        let data = match self.dtype {
            WorkingDtype::F32 => TensorData::new(values.to_vec(), [n]),
            WorkingDtype::F16 => TensorData::new(
                values
                    .iter()
                    .map(|&v| half::f16::from_f32(v))
                    .collect::<Vec<_>>(),
                [n],
            ),
        };
        Tensor::from_data(data, (&self.device, self.dtype.dtype()))
    }

    /// Add a weight directly (tests, synthetic models): `values` in row-major order of `shape`.
    pub fn insert(&mut self, name: &str, values: &[f32], shape: &[usize]) {
        let tensor = self.upload(values);
        self.tensors
            .insert(name.to_string(), (tensor, shape.to_vec()));
    }

    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// Remove a weight, reshaped to rank `D`.
    pub fn take<const D: usize>(&mut self, name: &str) -> Result<Tensor<D>, WeightsError> {
        let (flat, shape) = self
            .tensors
            .remove(name)
            .ok_or_else(|| WeightsError::Internal(name.to_string()))?;
        if shape.len() != D {
            return Err(WeightsError::Internal(format!(
                "{name}: rank {} requested for shape {shape:?}",
                D
            )));
        }
        let dims: [usize; D] = std::array::from_fn(|i| shape[i]);
        Ok(flat.reshape(dims))
    }

    /// Names left over after the model was built (must be none).
    pub fn remaining(&self) -> Vec<String> {
        let mut names: Vec<String> = self.tensors.keys().cloned().collect();
        names.sort();
        names
    }
}
