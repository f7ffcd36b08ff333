//! Small building blocks shared by every component, written over burn's functional ops.
//!
//! Weights keep PyTorch's layout (`Linear` is `[out, in]`, `Conv2d` is `[out, in, kh, kw]`) so the
//! bytes of a checkpoint map onto them unchanged. Normalisation statistics and softmax run in f32
//! whatever the working dtype (janus-spec.md §10.4).

use burn::tensor::activation;
use burn::tensor::module::{conv2d, layer_norm};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Int, Tensor};

use crate::error::WeightsError;
use crate::weights::TensorStore;

/// `y = x W^T + b` with `W: [out, in]`.
#[derive(Clone, Debug)]
pub struct Linear {
    /// `[out, in]`
    pub weight: Tensor<2>,
    /// `[out]`
    pub bias: Option<Tensor<1>>,
}

impl Linear {
    pub fn load(store: &mut TensorStore, prefix: &str, bias: bool) -> Result<Self, WeightsError> {
        Ok(Self {
            weight: store.take(&format!("{prefix}.weight"))?,
            bias: if bias {
                Some(store.take(&format!("{prefix}.bias"))?)
            } else {
                None
            },
        })
    }

    /// `[..., in] -> [..., out]`
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        burn::tensor::module::linear(x, self.weight.clone().transpose(), self.bias.clone())
    }

    pub fn out_features(&self) -> usize {
        self.weight.dims()[0]
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

/// 2-D convolution with PyTorch weights `[out, in, k, k]`, stride 1 or k, symmetric padding.
#[derive(Clone, Debug)]
pub struct Conv2d {
    pub weight: Tensor<4>,
    pub bias: Option<Tensor<1>>,
    pub stride: usize,
    pub padding: usize,
}

impl Conv2d {
    pub fn load(
        store: &mut TensorStore,
        prefix: &str,
        stride: usize,
        padding: usize,
    ) -> Result<Self, WeightsError> {
        Ok(Self {
            weight: store.take(&format!("{prefix}.weight"))?,
            bias: Some(store.take(&format!("{prefix}.bias"))?),
            stride,
            padding,
        })
    }

    /// `[B, in, H, W] -> [B, out, H', W']`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let options = ConvOptions::new(
            [self.stride, self.stride],
            [self.padding, self.padding],
            [1, 1],
            1,
        );
        conv2d(x, self.weight.clone(), self.bias.clone(), options)
    }
}

/// Row lookup in a `[rows, dim]` table.
#[derive(Clone, Debug)]
pub struct Embedding {
    pub weight: Tensor<2>,
}

impl Embedding {
    pub fn load(store: &mut TensorStore, name: &str) -> Result<Self, WeightsError> {
        Ok(Self {
            weight: store.take(name)?,
        })
    }

    /// `[B, T]` ids -> `[B, T, dim]`
    pub fn forward(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        let [b, t] = ids.dims();
        let dim = self.weight.dims()[1];
        self.weight
            .clone()
            .select(0, ids.reshape([b * t]))
            .reshape([b, t, dim])
    }

    pub fn rows(&self) -> usize {
        self.weight.dims()[0]
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
