//! A block-quantised matrix on a device, and its products. On burn's wgpu backend (feature
//! `wgpu-kernels`) the packed words stay packed: the matrix-vector kernels
//! (`shaders/qmatvec_*.wgsl`) read them for products with a few rows (decode),
//! `shaders/dequant.wgsl` unpacks them for a product with many rows (prefill). Everywhere else,
//! and as the reference the kernels are tested against, plain burn ops unpack the codes (shifts
//! and masks on Int tensors) and multiply by the scales.

use burn::tensor::{DType, Device, Int, Tensor, TensorData};
use half::f16;

use super::{BLOCK, PackedMatrix, QuantFormat};
use crate::device_write::{write_float, write_i32};

/// Rows of `x` up to which a product reads the packed weights directly (the kernel's batch
/// limit: a decode step, or the CFG pairs of up to four images).
pub const MATVEC_MAX_ROWS: usize = 8;

/// The scales as the chosen path reads them.
#[derive(Clone, Debug)]
enum Scales {
    /// f16 bits two to a word (as i32), for the WGSL kernels (built without them, never made).
    #[cfg_attr(not(feature = "wgpu-kernels"), allow(dead_code))]
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
    /// Upload `m` for the WGSL kernels when `device` is wgpu with the kernels built in, for the
    /// reference otherwise.
    pub fn upload(m: &PackedMatrix, device: &Device) -> Self {
        Self::upload_as(m, device, kernel_available(device))
    }

    /// Upload `m` for the kernels (`kernel`) or for the reference path.
    pub fn upload_as(m: &PackedMatrix, device: &Device, kernel: bool) -> Self {
        let words: Vec<i32> = m.codes.iter().map(|&w| w as i32).collect();
        Self::from_words(m, words, device, kernel)
    }

    /// [`Self::upload_as`] taking the matrix: its code words move into the upload as they are
    /// (a u32 and an i32 share size and alignment), where a copy of a 102,400-row embedding
    /// would hold another 0.1 GB of host memory while loading.
    pub fn upload_owned(mut m: PackedMatrix, device: &Device, kernel: bool) -> Self {
        let words: Vec<i32> = bytemuck::allocation::cast_vec(std::mem::take(&mut m.codes));
        Self::from_words(&m, words, device, kernel)
    }

    /// The upload of `m`'s shape and scales with its code words as i32 bit patterns.
    fn from_words(m: &PackedMatrix, words: Vec<i32>, device: &Device, kernel: bool) -> Self {
        let n = words.len();
        let codes = Tensor::from_data(TensorData::new(words, [n]), device);
        let n = m.scales.len();
        let scales = if kernel {
            let pairs = scale_pairs(&m.scales);
            Scales::Packed(Tensor::from_data(
                TensorData::new(pairs, [n.div_ceil(2)]),
                device,
            ))
        } else {
            Scales::F32(Tensor::from_data(
                TensorData::new(scale_values(&m.scales), [n]),
                device,
            ))
        };
        Self {
            format: m.format,
            rows: m.rows,
            cols: m.cols,
            codes,
            scales,
        }
    }

    /// A `[rows, cols]` matrix in `format` on `device` whose values are yet to be written
    /// ([`Self::write_rows`]): a large matrix goes to the device a few MiB at a time, never
    /// whole on the host.
    pub fn empty(
        format: QuantFormat,
        rows: usize,
        cols: usize,
        device: &Device,
        kernel: bool,
    ) -> Self {
        let blocks = rows * cols / BLOCK;
        let codes = Tensor::empty([rows * cols * format.bits() / 32], device);
        let scales = if kernel {
            Scales::Packed(Tensor::empty([blocks.div_ceil(2)], device))
        } else {
            Scales::F32(Tensor::empty([blocks], device))
        };
        Self {
            format,
            rows,
            cols,
            codes,
            scales,
        }
    }

    /// Write `part`'s rows from row `start` on (its format and width are this matrix's). For
    /// the kernels, whose scales lie two to a word, `start`'s first block must begin a word
    /// (an even block index) and so must the block after `part` unless it ends the matrix; the
    /// store's assembly keeps a row back to see to that. The buffers are written in place: the
    /// matrix is taken by value, so nothing else holds them.
    pub fn write_rows(self, start: usize, part: PackedMatrix) -> Self {
        let words_per_row = self.cols * self.format.bits() / 32;
        let blocks_per_row = self.cols / BLOCK;
        let first_block = start * blocks_per_row;
        let codes = write_i32(
            self.codes,
            start * words_per_row,
            bytemuck::allocation::cast_vec(part.codes),
        );
        let scales = match self.scales {
            Scales::Packed(s) => {
                debug_assert!(first_block.is_multiple_of(2), "scale pairs out of line");
                Scales::Packed(write_i32(s, first_block / 2, scale_pairs(&part.scales)))
            }
            Scales::F32(s) => Scales::F32(write_float(s, first_block, scale_values(&part.scales))),
        };
        Self {
            codes,
            scales,
            ..self
        }
    }

    /// `parts` one under another as one `[sum of rows, cols]` matrix (q, k and v as one
    /// product: one launch where there were three), or `None` when they differ in format, width
    /// or path, or when a part's scales end in half a word (an odd number of blocks: the packed
    /// pairs would not line up), or the codes would exceed `max_bytes` (one device buffer).
    pub fn stack(parts: &[&QuantMatrix], max_bytes: u64) -> Option<QuantMatrix> {
        let first = parts.first()?;
        let alike = parts.iter().all(|p| {
            p.format == first.format
                && p.cols == first.cols
                && p.uses_kernel() == first.uses_kernel()
                && !(p.uses_kernel() && (p.rows * p.cols / BLOCK) % 2 == 1)
        });
        let rows: usize = parts.iter().map(|p| p.rows).sum();
        let code_bytes = (rows * first.cols * first.format.bits() / 8) as u64;
        if !alike || code_bytes > max_bytes {
            return None;
        }
        let codes = Tensor::cat(parts.iter().map(|p| p.codes.clone()).collect(), 0);
        let scales = match first.scales {
            Scales::Packed(_) => Scales::Packed(Tensor::cat(
                parts
                    .iter()
                    .filter_map(|p| match &p.scales {
                        Scales::Packed(s) => Some(s.clone()),
                        Scales::F32(_) => None,
                    })
                    .collect(),
                0,
            )),
            Scales::F32(_) => Scales::F32(Tensor::cat(
                parts
                    .iter()
                    .filter_map(|p| match &p.scales {
                        Scales::F32(s) => Some(s.clone()),
                        Scales::Packed(_) => None,
                    })
                    .collect(),
                0,
            )),
        };
        Some(QuantMatrix {
            format: first.format,
            rows,
            cols: first.cols,
            codes,
            scales,
        })
    }

    /// The code words and the scales as uploaded (tests compare uploads).
    #[cfg(test)]
    pub(crate) fn raw(&self) -> (TensorData, TensorData) {
        let scales = match &self.scales {
            Scales::Packed(s) => s.clone().into_data(),
            Scales::F32(s) => s.clone().into_data(),
        };
        (self.codes.clone().into_data(), scales)
    }

    /// True when products run in the WGSL kernels.
    pub fn uses_kernel(&self) -> bool {
        matches!(self.scales, Scales::Packed(_))
    }

    /// Bytes on the device (codes and scales).
    pub fn bytes(&self) -> u64 {
        self.format.bytes(self.rows, self.cols)
    }

    /// `x W^T`: `[m, cols] -> [m, rows]`. Few rows read the packed weights in the matrix-vector
    /// kernel; more rows multiply a dense copy that lives for this product only.
    pub fn matmul_t(&self, x: Tensor<2>) -> Tensor<2> {
        let m = x.dims()[0];
        if self.uses_kernel() && (1..=MATVEC_MAX_ROWS).contains(&m) {
            return self.matvec(x);
        }
        if self.uses_kernel() && m > 0 && chunked_prefill() {
            // CPU adapters: the matrix-vector kernel over chunks of rows reads the packed weights
            // once per chunk, where dequantising writes and reads the whole matrix in floats.
            let chunks = (0..m)
                .step_by(MATVEC_MAX_ROWS)
                .map(|start| {
                    self.matvec(x.clone().narrow(0, start, MATVEC_MAX_ROWS.min(m - start)))
                })
                .collect();
            return Tensor::cat(chunks, 0);
        }
        let dtype = x.dtype();
        x.matmul(self.dense(dtype).transpose())
    }

    /// The matrix-vector kernel itself (`1 <= m <= MATVEC_MAX_ROWS`); the reference path
    /// multiplies the dequantised matrix.
    pub fn matvec(&self, x: Tensor<2>) -> Tensor<2> {
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

    /// `silu(x Gᵀ) * (x Uᵀ)` with `self` as G and `up` as U in one kernel, when both are packed
    /// alike for the kernels and `x: [m, cols]` has at most [`MATVEC_MAX_ROWS`] rows; `None`
    /// otherwise (the caller takes the two products). With `norm` (a weight and epsilon), of
    /// `rms_norm(x) * weight` instead, where the layout can fuse it (`None` elsewhere).
    pub fn swiglu_with(
        &self,
        up: &QuantMatrix,
        x: &Tensor<2>,
        norm: Option<(&Tensor<1>, f64)>,
    ) -> Option<Tensor<2>> {
        let m = x.dims()[0];
        let alike = self.format == up.format && self.rows == up.rows && self.cols == up.cols;
        match (&self.scales, &up.scales) {
            #[cfg(feature = "wgpu-kernels")]
            (Scales::Packed(sg), Scales::Packed(su))
                if alike && (1..=MATVEC_MAX_ROWS).contains(&m) =>
            {
                crate::kernels::qmatvec::qmatvec_swiglu(
                    x.clone(),
                    (&self.codes, sg),
                    (&up.codes, su),
                    self.rows,
                    self.format,
                    norm,
                )
            }
            _ => {
                let _ = (alike, m, norm);
                None
            }
        }
    }

    /// `x Wᵀ` with decode's steps around it fused into the same launch (`fused`: the RMSNorm of
    /// `x`, the residual connection after, or the q/k/v rotation and cache write), when packed for the kernels, `x: [m, cols]` has at
    /// most [`MATVEC_MAX_ROWS`] rows and the layout can fuse them; `None` otherwise (the caller
    /// runs them apart).
    #[cfg(feature = "wgpu-kernels")]
    pub fn matvec_fused(
        &self,
        x: Tensor<2>,
        fused: crate::kernels::qmatvec::Fused<'_>,
    ) -> Option<Tensor<2>> {
        let m = x.dims()[0];
        match &self.scales {
            Scales::Packed(scales) if (1..=MATVEC_MAX_ROWS).contains(&m) => {
                crate::kernels::qmatvec::qmatvec_fused(
                    x,
                    (&self.codes, scales),
                    self.rows,
                    self.format,
                    fused,
                )
            }
            _ => None,
        }
    }

    /// The dense `[rows, cols]` weights in `dtype`: the dequantisation kernel, or the reference.
    pub fn dense(&self, dtype: DType) -> Tensor<2> {
        match &self.scales {
            #[cfg(feature = "wgpu-kernels")]
            Scales::Packed(scales) => crate::kernels::dequant::dequantize(
                &self.codes,
                scales,
                self.rows,
                self.cols,
                self.format,
                dtype,
            ),
            #[cfg(not(feature = "wgpu-kernels"))]
            Scales::Packed(_) => unreachable!("packed scales are only uploaded with the kernels"),
            Scales::F32(_) => self.dequantize().cast(dtype),
        }
    }

    /// Rows at `ids: [N]` -> `[N, cols]` f32 (an embedding lookup): only those rows are
    /// unpacked, in one launch where the kernels run (`shaders/qembed.wgsl`).
    pub fn select(&self, ids: Tensor<1, Int>) -> Tensor<2> {
        #[cfg(feature = "wgpu-kernels")]
        if let Scales::F32(scales) = &self.scales
            && kernel_available(&scales.device())
        {
            return crate::kernels::qembed::lookup(
                &self.codes,
                scales,
                ids,
                (self.rows, self.cols),
                self.format,
            );
        }
        self.select_reference(ids)
    }

    /// [`Self::select`] with plain burn ops (the kernel's reference).
    pub fn select_reference(&self, ids: Tensor<1, Int>) -> Tensor<2> {
        let Scales::F32(scales) = &self.scales else {
            return self.dense(DType::F32).select(0, ids);
        };
        let n = ids.dims()[0];
        let words_per_row = self.cols * self.format.bits() / 32;
        let blocks_per_row = self.cols / BLOCK;
        let codes = self
            .codes
            .clone()
            .reshape([self.rows, words_per_row])
            .select(0, ids.clone())
            .reshape([n * words_per_row]);
        let scales = scales
            .clone()
            .reshape([self.rows, blocks_per_row])
            .select(0, ids)
            .reshape([n * blocks_per_row]);
        unpack(codes, scales, self.format).reshape([n, self.cols])
    }

    /// The reference: the dense `[rows, cols]` f32 weights, unpacked with plain burn ops.
    pub fn dequantize(&self) -> Tensor<2> {
        let Scales::F32(scales) = &self.scales else {
            panic!("dequantize: uploaded for the kernel (use upload_as(.., false))");
        };
        unpack(self.codes.clone(), scales.clone(), self.format).reshape([self.rows, self.cols])
    }
}

/// f16 scale bits two to an i32 word, as the kernels read them (the high half of an odd
/// count's last word 0).
fn scale_pairs(scales: &[u16]) -> Vec<i32> {
    scales
        .chunks(2)
        .map(|p| (p[0] as u32 | (p.get(1).copied().unwrap_or(0) as u32) << 16) as i32)
        .collect()
}

/// f16 scale bits as f32 values, as the reference reads them.
fn scale_values(scales: &[u16]) -> Vec<f32> {
    scales.iter().map(|&s| f16::from_bits(s).to_f32()).collect()
}

/// Code words and their blocks' f32 scales -> the values, flat, in element order.
fn unpack(codes: Tensor<1, Int>, scales: Tensor<1>, format: QuantFormat) -> Tensor<1> {
    let words = codes.dims()[0];
    let blocks = scales.dims()[0];
    let per_word = 32 / format.bits();
    // [words, per_word]: code k of each word, sign-extended (Q8) or re-centred (Q4).
    let parts: Vec<Tensor<2, Int>> = (0..per_word)
        .map(|k| {
            let c = codes.clone();
            let q = match format {
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
    let values = q.reshape([blocks, BLOCK]) * scales.reshape([blocks, 1]);
    values.reshape([blocks * BLOCK])
}

/// Products of more than [`MATVEC_MAX_ROWS`] rows (prefill) by chunks through the
/// matrix-vector kernel rather than by dequantising: where its invocations each own whole rows
/// (the CPU adapters, see `kernels::qmatvec`).
fn chunked_prefill() -> bool {
    #[cfg(feature = "wgpu-kernels")]
    return crate::kernels::qmatvec::layout().owns_rows();
    #[cfg(not(feature = "wgpu-kernels"))]
    false
}

/// True when the WGSL kernels run on `device` (wgpu, feature `wgpu-kernels`).
pub fn kernel_available(device: &Device) -> bool {
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
