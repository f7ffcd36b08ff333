//! 2-D convolutions with PyTorch's weight layout `[out, in, k, k]`. On wgpu with the kernels
//! built, the VQ decoder's (K = 1 or 3, stride 1, "same" padding, f32) run as
//! `shaders/conv2d.wgsl` with weights repacked once at load (`kernels::conv2d`); everything else,
//! and every other device, runs burn's `conv2d` (the kernel's reference).

use burn::tensor::Tensor;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;

use crate::error::WeightsError;
use crate::weights::TensorStore;

/// The weights as loaded, or in the kernel's layout (the loaded ones then dropped: the VQ
/// decoder's f32 weights are 170 MB).
#[derive(Clone, Debug)]
enum Weights {
    Torch {
        weight: Tensor<4>,
        bias: Option<Tensor<1>>,
    },
    #[cfg(feature = "wgpu-kernels")]
    Packed(crate::kernels::conv2d::PackedConv),
}

/// 2-D convolution, stride 1 or k, symmetric padding.
#[derive(Clone, Debug)]
pub struct Conv2d {
    weights: Weights,
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
        let weight = store.take(&format!("{prefix}.weight"))?;
        let bias = Some(store.take(&format!("{prefix}.bias"))?);
        Ok(Self::new(weight, bias, stride, padding))
    }

    /// From PyTorch-layout tensors; packed for the kernel where it runs and applies.
    pub fn new(weight: Tensor<4>, bias: Option<Tensor<1>>, stride: usize, padding: usize) -> Self {
        #[cfg(feature = "wgpu-kernels")]
        {
            use crate::kernels::conv2d::PackedConv;
            if crate::kernels::on_wgpu(&weight.device())
                && PackedConv::applies(&weight, stride, padding)
            {
                return Self {
                    weights: Weights::Packed(PackedConv::pack(weight, bias)),
                    stride,
                    padding,
                };
            }
        }
        Self {
            weights: Weights::Torch { weight, bias },
            stride,
            padding,
        }
    }

    /// Whether `shaders/conv2d.wgsl` computes it (wgpu with the kernels built, and a shape it
    /// takes).
    pub fn uses_kernel(&self) -> bool {
        match self.weights {
            Weights::Torch { .. } => false,
            #[cfg(feature = "wgpu-kernels")]
            Weights::Packed(_) => true,
        }
    }

    /// `[B, in, H, W] -> [B, out, H', W']`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.forward_scaled(x, false)
    }

    /// The convolution of `x` upsampled 2x by nearest neighbour (`[B, in, H, W] -> [B, out,
    /// 2H', 2W']`): the kernel reads `x` in place, the reference materialises the upsample.
    pub fn forward_upsampled(&self, x: Tensor<4>) -> Tensor<4> {
        self.forward_scaled(x, true)
    }

    fn forward_scaled(&self, x: Tensor<4>, upsample: bool) -> Tensor<4> {
        #[cfg(feature = "wgpu-kernels")]
        if let Weights::Packed(packed) = &self.weights
            && let Some(y) = packed.forward(x.clone(), upsample)
        {
            return y;
        }
        let x = if upsample { upsample_nearest_2x(x) } else { x };
        let (weight, bias) = self.torch_weights();
        let options = ConvOptions::new(
            [self.stride, self.stride],
            [self.padding, self.padding],
            [1, 1],
            1,
        );
        conv2d(x, weight, bias, options)
    }

    /// The weights in PyTorch's layout (rebuilt from the packed ones where needed: the
    /// kernel refuses only inputs past WebGPU's grid limits).
    fn torch_weights(&self) -> (Tensor<4>, Option<Tensor<1>>) {
        match &self.weights {
            Weights::Torch { weight, bias } => (weight.clone(), bias.clone()),
            #[cfg(feature = "wgpu-kernels")]
            Weights::Packed(packed) => packed.torch_weights(),
        }
    }
}

/// `[B, C, H, W] -> [B, C, 2H, 2W]`, exact copies (no interpolation arithmetic).
pub fn upsample_nearest_2x(x: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    x.reshape([b, c, h, 1, w, 1])
        .expand([b, c, h, 2, w, 2])
        .reshape([b, c, 2 * h, 2 * w])
}
