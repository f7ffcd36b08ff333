//! Small building blocks shared by every component, written over burn's functional ops.
//!
//! Weights keep PyTorch's layout (`Linear` is `[out, in]`, `Conv2d` is `[out, in, kh, kw]`) so the
//! bytes of a checkpoint map onto them unchanged. Normalisation statistics and softmax run in f32
//! whatever the working dtype (janus-spec.md §10.4).

use burn::tensor::activation;
use burn::tensor::module::layer_norm;
use burn::tensor::{DType, Int, Tensor};

use crate::error::WeightsError;
use crate::quant::device::QuantMatrix;
use crate::weights::TensorStore;

pub use super::conv::Conv2d;

/// One row block of a matrix: working-dtype values, or block-quantised (`quant`).
#[derive(Clone, Debug)]
// A matrix has one block, rarely a few: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
enum Block {
    Dense(Tensor<2>),
    Quant(QuantMatrix),
}

impl Block {
    fn rows(&self) -> usize {
        match self {
            Block::Dense(w) => w.dims()[0],
            Block::Quant(q) => q.rows,
        }
    }

    fn cols(&self) -> usize {
        match self {
            Block::Dense(w) => w.dims()[1],
            Block::Quant(q) => q.cols,
        }
    }

    /// `[m, cols] -> [m, rows]`
    fn matmul_t(&self, x: Tensor<2>) -> Tensor<2> {
        match self {
            Block::Dense(w) => x.matmul(w.clone().transpose()),
            Block::Quant(q) => q.matmul_t(x),
        }
    }

    /// Rows at `ids` (in range) -> `[N, cols]` in `dtype`.
    fn select(&self, ids: Tensor<1, Int>, dtype: DType) -> Tensor<2> {
        match self {
            Block::Dense(w) => w.clone().select(0, ids),
            Block::Quant(q) => q.select(ids).cast(dtype),
        }
    }
}

/// A `[rows, cols]` matrix kept as consecutive row blocks `[rows_i, cols]`, each within one GPU
/// buffer (see `weights::store`), in the working dtype or block-quantised. Almost always one
/// block; the vocabulary matrices of the real models are split on devices whose storage-binding
/// limit is below their 100–800 MiB.
#[derive(Clone, Debug)]
pub struct RowBlocks {
    blocks: Vec<Block>,
    /// The working dtype: what lookups in quantised blocks return.
    dtype: DType,
}

impl RowBlocks {
    /// Dense blocks (their dtype is the working dtype).
    pub fn new(blocks: Vec<Tensor<2>>) -> Result<Self, WeightsError> {
        let dtype = blocks.first().map_or(DType::F32, |b| b.dtype());
        Self::checked(blocks.into_iter().map(Block::Dense).collect(), dtype)
    }

    /// Quantised blocks; lookups return `dtype`.
    pub fn quantized(blocks: Vec<QuantMatrix>, dtype: DType) -> Result<Self, WeightsError> {
        Self::checked(blocks.into_iter().map(Block::Quant).collect(), dtype)
    }

    fn checked(blocks: Vec<Block>, dtype: DType) -> Result<Self, WeightsError> {
        let cols = blocks.first().map(Block::cols);
        if cols.is_none() || blocks.iter().any(|b| Some(b.cols()) != cols) {
            return Err(WeightsError::Internal(
                "row blocks must be non-empty and equally wide".into(),
            ));
        }
        Ok(Self { blocks, dtype })
    }

    pub fn load(store: &mut TensorStore, name: &str) -> Result<Self, WeightsError> {
        store.take_matrix(name)
    }

    /// The working dtype: what products with these rows, and lookups in them, return.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// `parts` (equally wide) one under another: `[sum of rows, cols]`, so their products are
    /// one product whose output columns are theirs side by side. Single blocks of one kind
    /// merge into one block (one launch for what were several) where the merged buffer stays
    /// within `max_bytes` (one device buffer); otherwise the blocks are kept as they are, in
    /// order, and the product concatenates their outputs.
    pub fn stack(parts: Vec<RowBlocks>, max_bytes: u64) -> Result<Self, WeightsError> {
        let dtype = parts.first().map_or(DType::F32, |p| p.dtype);
        let singles: Vec<&Block> = parts
            .iter()
            .filter_map(|p| match &p.blocks[..] {
                [b] => Some(b),
                _ => None,
            })
            .collect();
        if singles.len() == parts.len() {
            let dense: Vec<Tensor<2>> = singles
                .iter()
                .filter_map(|b| match b {
                    Block::Dense(w) => Some(w.clone()),
                    Block::Quant(_) => None,
                })
                .collect();
            let quant: Vec<&QuantMatrix> = singles
                .iter()
                .filter_map(|b| match b {
                    Block::Quant(q) => Some(q),
                    Block::Dense(_) => None,
                })
                .collect();
            let rows: usize = singles.iter().map(|b| b.rows()).sum();
            let cols = singles.first().map_or(0, |b| b.cols());
            let dense_bytes = (rows * cols * dense.first().map_or(4, |w| w.dtype().size())) as u64;
            let same_dtype = dense.iter().all(|w| w.dtype() == dense[0].dtype());
            let same_width = singles.iter().all(|b| b.cols() == cols);
            if dense.len() == parts.len() && same_dtype && same_width && dense_bytes <= max_bytes {
                return Self::checked(vec![Block::Dense(Tensor::cat(dense, 0))], dtype);
            }
            if quant.len() == parts.len()
                && let Some(q) = QuantMatrix::stack(&quant, max_bytes)
            {
                return Self::checked(vec![Block::Quant(q)], dtype);
            }
        }
        let blocks = parts.into_iter().flat_map(|p| p.blocks).collect();
        Self::checked(blocks, dtype)
    }

    pub fn rows(&self) -> usize {
        self.blocks.iter().map(Block::rows).sum()
    }

    pub fn cols(&self) -> usize {
        self.blocks[0].cols()
    }

    pub fn block_count(&self) -> usize {
        self.blocks.len()
    }

    /// The matrix when it is one block-quantised block.
    pub fn single_quant(&self) -> Option<&QuantMatrix> {
        match &self.blocks[..] {
            [Block::Quant(q)] => Some(q),
            _ => None,
        }
    }

    /// True when the blocks are block-quantised.
    pub fn is_quantized(&self) -> bool {
        matches!(self.blocks[0], Block::Quant(_))
    }

    /// The blocks as dense `[rows_i, cols]` values, top to bottom (dequantised if need be).
    pub fn dense_blocks(&self) -> Vec<Tensor<2>> {
        self.blocks
            .iter()
            .map(|b| match b {
                Block::Dense(w) => w.clone(),
                Block::Quant(q) => q.dense(self.dtype),
            })
            .collect()
    }

    /// `x W^T (+ b)`: `[..., cols] -> [..., rows]`; a split matrix yields its output columns
    /// block by block, concatenated.
    pub fn linear<const D: usize>(&self, x: Tensor<D>, bias: Option<Tensor<1>>) -> Tensor<D> {
        use burn::tensor::module::linear;
        if let [Block::Dense(w)] = &self.blocks[..] {
            return linear(x, w.clone().transpose(), bias);
        }
        // [m, cols] with m = the product of the leading dims.
        let dims = x.dims();
        let cols = dims[D - 1];
        let m = dims[..D - 1].iter().product::<usize>();
        let x = x.reshape([m, cols]);
        let parts: Vec<Tensor<2>> = self.blocks.iter().map(|b| b.matmul_t(x.clone())).collect();
        let y = if parts.len() == 1 {
            parts.into_iter().next().expect("one part")
        } else {
            Tensor::cat(parts, 1)
        };
        let y = match bias {
            Some(b) => y + b.unsqueeze(),
            None => y,
        };
        let mut out = dims;
        out[D - 1] = self.rows();
        y.reshape(out)
    }

    /// Rows at `ids: [N]` -> `[N, cols]`. For a split matrix every block gathers with clamped
    /// local ids and zeroes the rows it does not own; the sum is the lookup.
    pub fn select(&self, ids: Tensor<1, Int>) -> Tensor<2> {
        if let [w] = &self.blocks[..] {
            return w.select(ids, self.dtype);
        }
        let n = ids.dims()[0];
        let cols = self.cols();
        let mut start = 0i64;
        let mut sum: Option<Tensor<2>> = None;
        for w in &self.blocks {
            let rows = w.rows() as i64;
            let local = ids.clone().sub_scalar(start);
            let outside = local
                .clone()
                .lower_elem(0)
                .bool_or(local.clone().greater_equal_elem(rows));
            let picked = w
                .select(local.clamp(0, rows - 1), self.dtype)
                .mask_fill(outside.unsqueeze_dim::<2>(1).expand([n, cols]), 0.0);
            sum = Some(match sum {
                Some(acc) => acc + picked,
                None => picked,
            });
            start += rows;
        }
        sum.expect("at least one block (checked in new)")
    }
}

/// `y = x W^T + b` with `W: [out, in]`.
#[derive(Clone, Debug)]
pub struct Linear {
    /// `[out, in]`, possibly in row blocks
    pub weight: RowBlocks,
    /// `[out]`
    pub bias: Option<Tensor<1>>,
}

impl Linear {
    pub fn load(store: &mut TensorStore, prefix: &str, bias: bool) -> Result<Self, WeightsError> {
        Ok(Self {
            weight: RowBlocks::load(store, &format!("{prefix}.weight"))?,
            bias: if bias {
                Some(store.take(&format!("{prefix}.bias"))?)
            } else {
                None
            },
        })
    }

    /// `[..., in] -> [..., out]`
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        self.weight.linear(x, self.bias.clone())
    }

    pub fn out_features(&self) -> usize {
        self.weight.rows()
    }
}

/// LayerNorm over the last dimension (biased variance, affine).
#[derive(Clone, Debug)]
pub struct LayerNorm {
    pub weight: Tensor<1>,
    pub bias: Tensor<1>,
    pub eps: f64,
}

impl LayerNorm {
    pub fn load(store: &mut TensorStore, prefix: &str, eps: f64) -> Result<Self, WeightsError> {
        Ok(Self {
            weight: store.take(&format!("{prefix}.weight"))?,
            bias: store.take(&format!("{prefix}.bias"))?,
            eps,
        })
    }

    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let dtype = x.dtype();
        let y = layer_norm(
            x.cast(DType::F32),
            self.weight.clone().cast(DType::F32),
            Some(self.bias.clone().cast(DType::F32)),
            self.eps,
        );
        y.cast(dtype)
    }
}

/// LLaMA's RMSNorm: `x / sqrt(mean(x^2) + eps) * w`, statistics in f32.
#[derive(Clone, Debug)]
pub struct RmsNorm {
    pub weight: Tensor<1>,
    pub eps: f64,
}

impl RmsNorm {
    pub fn load(store: &mut TensorStore, name: &str, eps: f64) -> Result<Self, WeightsError> {
        Ok(Self {
            weight: store.take(name)?,
            eps,
        })
    }

    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let dtype = x.dtype();
        let x = x.cast(DType::F32);
        let rms = (x.clone().square().mean_dim(D - 1) + self.eps).sqrt();
        // HF casts the normalised activations back before the weight multiply.
        let normed = (x / rms).cast(dtype);
        normed * self.weight.clone().unsqueeze()
    }
}

/// GroupNorm over `[B, C, H, W]`, statistics in f32.
#[derive(Clone, Debug)]
pub struct GroupNorm {
    pub weight: Tensor<1>,
    pub bias: Tensor<1>,
    pub groups: usize,
    pub eps: f64,
}

impl GroupNorm {
    pub fn load(
        store: &mut TensorStore,
        prefix: &str,
        groups: usize,
        eps: f64,
    ) -> Result<Self, WeightsError> {
        Ok(Self {
            weight: store.take(&format!("{prefix}.weight"))?,
            bias: store.take(&format!("{prefix}.bias"))?,
            groups,
            eps,
        })
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.forward_then(x, false)
    }

    /// `silu(self.forward(x))`: the VQ decoder's norm-then-swish, one pass where the kernel runs.
    pub fn forward_silu(&self, x: Tensor<4>) -> Tensor<4> {
        self.forward_then(x, true)
    }

    /// On wgpu with the kernels built (f32), `kernels::group_norm` in two launches; elsewhere
    /// the generic ops.
    fn forward_then(&self, x: Tensor<4>, then_silu: bool) -> Tensor<4> {
        #[cfg(feature = "wgpu-kernels")]
        if crate::kernels::on_wgpu(&x.device())
            && let Some(y) = crate::kernels::group_norm::group_norm(
                x.clone(),
                (&self.weight, &self.bias),
                self.groups,
                self.eps,
                then_silu,
            )
        {
            return y;
        }
        let y = self.forward_generic(x);
        if then_silu { silu(y) } else { y }
    }

    /// The generic ops (the kernel's reference).
    pub fn forward_generic(&self, x: Tensor<4>) -> Tensor<4> {
        let [b, c, h, w] = x.dims();
        let dtype = x.dtype();
        // [B, G, C/G * H * W]
        let g = x
            .cast(DType::F32)
            .reshape([b, self.groups, c / self.groups * h * w]);
        let (var, mean) = g.clone().var_mean_bias(2);
        let normed = (g - mean) / (var + self.eps).sqrt();
        let normed = normed.reshape([b, c, h, w]).cast(dtype);
        let scale = self.weight.clone().reshape([1, c, 1, 1]);
        let shift = self.bias.clone().reshape([1, c, 1, 1]);
        normed * scale + shift
    }
}

/// Row lookup in a `[rows, dim]` table (possibly in row blocks).
#[derive(Clone, Debug)]
pub struct Embedding {
    pub weight: RowBlocks,
}

impl Embedding {
    pub fn load(store: &mut TensorStore, name: &str) -> Result<Self, WeightsError> {
        Ok(Self {
            weight: RowBlocks::load(store, name)?,
        })
    }

    /// `[B, T]` ids -> `[B, T, dim]`
    pub fn forward(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        let [b, t] = ids.dims();
        let dim = self.weight.cols();
        self.weight
            .select(ids.reshape([b * t]))
            .reshape([b, t, dim])
    }

    pub fn rows(&self) -> usize {
        self.weight.rows()
    }
}

/// Exact (erf) GELU, as `nn.GELU()`.
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    activation::gelu(x)
}

/// `x * sigmoid(x)`.
pub fn silu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    activation::silu(x)
}

/// Softmax over `dim`, computed in f32.
pub fn softmax_f32<const D: usize>(x: Tensor<D>, dim: usize) -> Tensor<D> {
    let dtype = x.dtype();
    activation::softmax(x.cast(DType::F32), dim).cast(dtype)
}
