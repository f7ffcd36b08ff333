//! `shaders/conv2d.wgsl`: the VQ decoder's convolutions (K x K, K = 1 or 3, stride 1, "same"
//! padding, f32), optionally through a nearest 2x upsample read in place. Reference: burn's
//! `conv2d` (after `upsample_nearest_2x`), which on wgpu is a direct kernel with one invocation
//! per output value reading every input and weight from memory; this one keeps a 4-pixel x
//! 8-channel tile in registers (8 pixels on CPU adapters; BENCHMARKS.md has the figures).

use std::cell::Cell;

use burn::backend::Cube;
use burn::cubecl::CubeCount;
use burn::cubecl::ir::attributes::BufferIOAttr;
use burn::cubecl::server::KernelArguments;
use burn::tensor::{DType, Tensor};

use super::launch::{MAX_GRID, TemplateSource, empty_like, float_handle, params};

const WGSL: &str = include_str!("../../../../shaders/conv2d.wgsl");
/// Invocations per workgroup (the shader's `WG`).
const WORKGROUP: u32 = 64;
/// Output channels per invocation (the shader's two vec4 accumulators per pixel).
const CHANNELS: usize = 8;

thread_local! {
    /// Output pixels of one row per invocation (the shader's `PX`): 4 or 8. Per thread, like
    /// `qmatvec`'s layout; the GPU tile until set.
    static PIXELS: Cell<usize> = const { Cell::new(4) };
}

/// Set the pixels per invocation of later launches from this thread: 8, or 4 for anything else.
pub fn set_pixels(pixels: usize) {
    PIXELS.with(|p| p.set(if pixels == 8 { 8 } else { 4 }));
}

/// The pixels per invocation of this thread's launches.
pub fn pixels() -> usize {
    PIXELS.with(Cell::get)
}

/// The pixels per invocation suited to an adapter (BENCHMARKS.md, "The VQ decoder: convolutions
/// and group norms").
pub fn pixels_for_adapter(cpu_adapter: bool) -> usize {
    if cpu_adapter { CPU_PIXELS } else { 4 }
}

/// The tile of CPU adapters (SwiftShader, lavapipe): loads, not arithmetic, bound the kernel
/// there, so more pixels per loaded weight vector pay (lavapipe: 3.1 GFLOP/s with 8, 1.8 with 4,
/// 1.0 with 2).
const CPU_PIXELS: usize = 8;

/// A convolution's weights in the kernel's layout: `[Cin, K, K, Cout8]` f32 with `Cout8` the
/// output channels padded with zeros to a multiple of 8, and the bias padded alike.
#[derive(Clone, Debug)]
pub struct PackedConv {
    /// `[Cin * K * K * Cout8]`
    pub weight: Tensor<1>,
    /// `[Cout8]`
    pub bias: Tensor<1>,
    pub cin: usize,
    pub cout: usize,
    pub k: usize,
}

impl PackedConv {
    /// Whether the kernel computes a convolution of `weight: [Cout, Cin, K, K]` (PyTorch's
    /// layout) with this stride and padding: K = 1 or 3, stride 1, padding (K - 1) / 2, f32.
    pub fn applies(weight: &Tensor<4>, stride: usize, padding: usize) -> bool {
        let [_, _, kh, kw] = weight.dims();
        kh == kw
            && (kh == 1 || kh == 3)
            && stride == 1
            && padding == kh / 2
            && weight.dtype() == DType::F32
    }

    /// Repack `weight: [Cout, Cin, K, K]` and `bias: [Cout]` (zeros when absent) on their
    /// device; the caller has checked [`Self::applies`].
    pub fn pack(weight: Tensor<4>, bias: Option<Tensor<1>>) -> Self {
        let [cout, cin, k, _] = weight.dims();
        let device = weight.device();
        let cout8 = cout.div_ceil(CHANNELS) * CHANNELS;
        let pad = cout8 - cout;
        let bias = bias.unwrap_or_else(|| Tensor::zeros([cout], &device));
        let (weight, bias) = if pad > 0 {
            (
                Tensor::cat(vec![weight, Tensor::zeros([pad, cin, k, k], &device)], 0),
                Tensor::cat(vec![bias, Tensor::zeros([pad], &device)], 0),
            )
        } else {
            (weight, bias)
        };
        // [Cout8, Cin, K, K] -> [Cin, K, K, Cout8], written out contiguously.
        let weight =
            Tensor::<4>::from_primitive::<Cube>(float_handle(weight.permute([1, 2, 3, 0])))
                .reshape([cin * k * k * cout8]);
        Self {
            weight,
            bias,
            cin,
            cout,
            k,
        }
    }

    /// The weights back in PyTorch's layout, `[Cout, Cin, K, K]` and `[Cout]` (the reference,
    /// for inputs the kernel refuses).
    pub fn torch_weights(&self) -> (Tensor<4>, Option<Tensor<1>>) {
        let cout8 = self.bias.dims()[0];
        let weight = self
            .weight
            .clone()
            .reshape([self.cin, self.k, self.k, cout8])
            .permute([3, 0, 1, 2])
            .narrow(0, 0, self.cout);
        (weight, Some(self.bias.clone().narrow(0, 0, self.cout)))
    }

    /// `x: [B, Cin, H, W]` f32 -> `[B, Cout, s H, s W]` with `s` = 2 when `upsample` (the
    /// input read through a nearest 2x upsample), else 1. `None` when the grid would exceed
    /// WebGPU's limits (an image far larger than the decoder makes); the caller then uses the
    /// reference.
    pub fn forward(&self, x: Tensor<4>, upsample: bool) -> Option<Tensor<4>> {
        let [b, cin, h, w] = x.dims();
        assert_eq!(cin, self.cin, "conv2d: input channels");
        let up = if upsample { 2 } else { 1 };
        let (ho, wo) = (h * up, w * up);
        let px = pixels();
        let strips = wo.div_ceil(px);
        let workgroups = (strips * ho).div_ceil(WORKGROUP as usize);
        let groups = self.cout.div_ceil(CHANNELS);
        if workgroups > MAX_GRID || groups > MAX_GRID || b > MAX_GRID || b * ho * wo == 0 {
            return None;
        }
        let x = float_handle(x.cast(DType::F32));
        let (wt, bias) = (
            float_handle(self.weight.clone()),
            float_handle(self.bias.clone()),
        );
        let out = empty_like(&x, vec![b, self.cout, ho, wo], DType::F32);
        let client = x.client.clone();
        let params = params(&[cin, h, w, self.cout, groups * CHANNELS / 4, strips]);
        // The shader's K x K taps and its upsample factor are constants.
        TemplateSource::new(WGSL, DType::F32, WORKGROUP)
            .with("k", self.k as u32)
            .with("up", up as u32)
            .with("px", px as u32)
            .launch(
                &client,
                CubeCount::Static(workgroups as u32, groups as u32, b as u32),
                KernelArguments::new()
                    .with_buffer_io(x.handle.clone().binding(), BufferIOAttr::ReadOnly)
                    .with_buffer_io(wt.handle.clone().binding(), BufferIOAttr::ReadOnly)
                    .with_buffer_io(bias.handle.clone().binding(), BufferIOAttr::ReadOnly)
                    .with_buffer_io(out.handle.clone().binding(), BufferIOAttr::ReadWrite)
                    .with_info(params),
            );
        Some(Tensor::<4>::from_primitive::<Cube>(out))
    }
}
