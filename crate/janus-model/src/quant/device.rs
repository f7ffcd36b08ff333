//! A block-quantised matrix on a device, and its products. On burn's wgpu backend (feature
//! `wgpu-kernels`) the packed words stay packed and `shaders/qmatvec.wgsl` reads them; on every
//! other device, and as the reference the kernel is tested against, plain burn ops unpack the
//! codes (shifts and masks on Int tensors) and multiply by the scales.

use burn::tensor::{Device, Int, Tensor, TensorData};
use half::f16;

use super::{BLOCK, PackedMatrix, QuantFormat};

/// The scales as the chosen path reads them.
#[derive(Clone, Debug)]
enum Scales {
    /// f16 bits two to a word (as i32), for the WGSL kernel.
    Packed(Tensor<1, Int>),
    /// One f32 per block, for the reference (burn has no int-to-float bit cast).
    F32(Tensor<1>),
}

/// `[rows, cols]` weights in `format`: code words as i32 bit patterns, and the block scales.
#[derive(Clone, Debug)]
pub struct QuantMatrix {
    pub format: QuantFormat,
    pub rows: usize,
    pub cols: usize,
    codes: Tensor<1, Int>,
    scales: Scales,
}

impl QuantMatrix {
    /// Upload `m` for the WGSL kernel when `device` is wgpu with the kernels built in, for the
    /// reference otherwise.
    pub fn upload(m: &PackedMatrix, device: &Device) -> Self {
        Self::upload_as(m, device, kernel_available(device))
    }

    /// Upload `m` for the kernel (`kernel`) or for the reference path.
    pub fn upload_as(m: &PackedMatrix, device: &Device, kernel: bool) -> Self {
        let words: Vec<i32> = m.codes.iter().map(|&w| w as i32).collect();
        let codes = Tensor::from_data(TensorData::new(words, [m.codes.len()]), device);
        let scales = if kernel {
            let pairs: Vec<i32> = m
                .scales
                .chunks(2)
                .map(|p| (p[0] as u32 | (p.get(1).copied().unwrap_or(0) as u32) << 16) as i32)
                .collect();
            let n = pairs.len();
            Scales::Packed(Tensor::from_data(TensorData::new(pairs, [n]), device))
        } else {
            let values: Vec<f32> = m
                .scales
                .iter()
                .map(|&s| f16::from_bits(s).to_f32())
                .collect();
            let n = values.len();
            Scales::F32(Tensor::from_data(TensorData::new(values, [n]), device))
        };
        Self {
            format: m.format,
            rows: m.rows,
            cols: m.cols,
            codes,
            scales,
        }
    }

    /// True when products run in the WGSL kernel.
    pub fn uses_kernel(&self) -> bool {
        matches!(self.scales, Scales::Packed(_))
    }

    /// `x W^T`: `[m, cols] -> [m, rows]`.
    pub fn matmul_t(&self, x: Tensor<2>) -> Tensor<2> {
        match &self.scales {
            #[cfg(feature = "wgpu-kernels")]
            Scales::Packed(scales) => {
                crate::kernels::qmatvec::qmatvec(x, &self.codes, scales, self.rows, self.format)
            }
            #[cfg(not(feature = "wgpu-kernels"))]
            Scales::Packed(_) => unreachable!("packed scales are only uploaded with the kernels"),
            Scales::F32(_) => {
                let dtype = x.dtype();
                x.matmul(self.dequantize().cast(dtype).transpose())
            }
        }
    }

    /// The reference: the dense `[rows, cols]` f32 weights, unpacked with plain burn ops.
    pub fn dequantize(&self) -> Tensor<2> {
        let Scales::F32(scales) = &self.scales else {
            panic!("dequantize: uploaded for the kernel (use upload_as(.., false))");
        };
        let words = self.codes.dims()[0];
        let bits = self.format.bits();
        let per_word = 32 / bits;
        // [words, per_word]: code k of each word, sign-extended (Q8) or re-centred (Q4).
        let parts: Vec<Tensor<2, Int>> = (0..per_word)
            .map(|k| {
                let c = self.codes.clone();
                let q = match self.format {
                    // Byte k to the top, then an arithmetic shift back down.
                    QuantFormat::Q8 => c
                        .bitwise_left_shift_scalar((24 - 8 * k) as i32)
                        .bitwise_right_shift_scalar(24),
                    QuantFormat::Q4 => c
                        .bitwise_right_shift_scalar((4 * k) as i32)
                        .bitwise_and_scalar(0xF)
                        .sub_scalar(8),
                };
                q.reshape([words, 1])
            })
            .collect();
        let q = Tensor::cat(parts, 1).float(); // [words, per_word] in element order
        let blocks = self.rows * self.cols / BLOCK;
        let values = q.reshape([blocks, BLOCK]) * scales.clone().reshape([blocks, 1]);
        values.reshape([self.rows, self.cols])
    }
}

/// The WGSL kernel runs here.
fn kernel_available(device: &Device) -> bool {
    #[cfg(feature = "wgpu-kernels")]
    {
        crate::kernels::on_wgpu(device)
    }
    #[cfg(not(feature = "wgpu-kernels"))]
    {
        let _ = device;
        false
    }
}
