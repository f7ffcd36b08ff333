//! The VQ decoder's kernels on awkward sizes:
//! - `shaders/conv2d.wgsl` (through `model::conv::Conv2d`, which packs the weights and picks the
//!   kernel on wgpu) against burn's `conv2d` and the host's f64 convolution: output channels not
//!   a multiple of the kernel's 8, widths not a multiple of its pixels, one row (a preview), a
//!   batch, 1 x 1 and 3 x 3 taps, the input read through a 2x upsample; and the packed weights
//!   unpacked again (the fallback's) equal to the loaded ones;
//! - `shaders/group_norm_stats.wgsl` + `group_norm.wgsl` against the generic `GroupNorm` (and
//!   `silu`): groups of a few channels, one row, groups larger than a workgroup, values far from
//!   zero (the variance must not cancel).

use burn::tensor::Device;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use janus_model::kernels::conv2d::{PackedConv, pixels, set_pixels};
use janus_model::model::conv::{Conv2d, upsample_nearest_2x};
use janus_model::model::nn::{GroupNorm, silu};

use crate::kernels::{compare, random, read_any, tensor};

/// (batch, in channels, out channels, height, width, taps, upsampled).
pub const CONV_CASES: [(usize, usize, usize, usize, usize, usize, bool); 7] = [
    (2, 5, 11, 7, 9, 3, false),
    (1, 3, 8, 5, 6, 3, true),
    (1, 7, 3, 4, 5, 1, false),
    (1, 16, 16, 1, 24, 3, false),
    (1, 16, 16, 1, 24, 3, true),
    (3, 9, 20, 3, 2, 1, true),
    (1, 64, 24, 24, 24, 3, true),
];

/// `x: [b, cin, h, w]` (already upsampled) convolved with `w: [cout, cin, k, k]` and `bias`,
/// stride 1, padding k / 2, in f64.
fn host_conv(
    x: &[f32],
    w: &[f32],
    bias: &[f32],
    (b, cin, cout, h, wd, k): (usize, usize, usize, usize, usize, usize),
) -> Vec<f32> {
    let pad = (k / 2) as isize;
    let mut y = vec![0f32; b * cout * h * wd];
    for n in 0..b {
        for co in 0..cout {
            for oy in 0..h {
                for ox in 0..wd {
                    let mut sum = bias[co] as f64;
                    for ci in 0..cin {
                        for ky in 0..k {
                            for kx in 0..k {
                                let iy = oy as isize + ky as isize - pad;
                                let ix = ox as isize + kx as isize - pad;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= wd as isize {
                                    continue;
                                }
                                let xv = x[((n * cin + ci) * h + iy as usize) * wd + ix as usize];
                                let wv = w[((co * cin + ci) * k + ky) * k + kx];
                                sum += xv as f64 * wv as f64;
                            }
                        }
                    }
                    y[((n * cout + co) * h + oy) * wd + ox] = sum as f32;
                }
            }
        }
    }
    y
}

/// Each of [`CONV_CASES`] on `device` (wgpu), with each tile the kernel has (4 and 2 pixels per
/// invocation): the kernel against the host and burn's `conv2d`. Returns one line per case with
/// the worst error relative to the largest output.
pub async fn conv2d_matches_reference(device: &Device) -> Result<Vec<String>, String> {
    let before = pixels();
    let mut report = Vec::new();
    for px in [4, 8] {
        set_pixels(px);
        let result = cases(device, px, &mut report).await;
        if result.is_err() {
            set_pixels(before);
            return result.map(|_| report);
        }
    }
    set_pixels(before);
    Ok(report)
}

async fn cases(device: &Device, px: usize, report: &mut Vec<String>) -> Result<(), String> {
    for (i, &(b, cin, cout, h, w, k, up)) in CONV_CASES.iter().enumerate() {
        let seed = 100 + 10 * i as u64;
        let name = format!(
            "conv2d {k}x{k} [{b}, {cin}, {h}, {w}] -> {cout}{}, {px} pixels per invocation",
            if up { ", 2x upsampled" } else { "" }
        );
        let xs = random(b * cin * h * w, seed);
        let ws = random(cout * cin * k * k, seed + 1);
        let bs = random(cout, seed + 2);
        let x = tensor(xs, [b, cin, h, w], device);
        let weight = tensor(ws.clone(), [cout, cin, k, k], device);
        let bias = tensor(bs.clone(), [cout], device);
        let (weight_torch, bias_torch) = (weight.clone(), bias.clone());
        let conv = Conv2d::new(weight.clone(), Some(bias.clone()), 1, k / 2);
        if !conv.uses_kernel() {
            return Err(format!("{name}: the kernel does not apply"));
        }
        let got = if up {
            read_any(conv.forward_upsampled(x.clone())).await?
        } else {
            read_any(conv.forward(x.clone())).await?
        };
        let (x, s) = if up {
            (upsample_nearest_2x(x), 2)
        } else {
            (x, 1)
        };
        let options = ConvOptions::new([1, 1], [k / 2, k / 2], [1, 1], 1);
        let burn_ref = read_any(conv2d(x.clone(), weight, Some(bias), options)).await?;
        let xs = read_any(x).await?;
        let host = host_conv(&xs, &ws, &bs, (b, cin, cout, h * s, w * s, k));
        let e_host = compare(&format!("{name} against the host"), &got, &host)?;
        // The fallback's weights (inputs past WebGPU's grid limits): the packed ones unpacked.
        let (w_back, b_back) =
            PackedConv::pack(weight_torch.clone(), Some(bias_torch.clone())).torch_weights();
        let b_back = b_back.ok_or_else(|| format!("{name}: the unpacked bias is missing"))?;
        if read_any(w_back).await? != ws || read_any(b_back).await? != bs {
            return Err(format!(
                "{name}: packed weights do not unpack to the loaded ones"
            ));
        }
        let e_burn = compare(&format!("{name} against burn's conv2d"), &got, &burn_ref)?;
        report.push(format!("{name}: {e_host:.1e} (host), {e_burn:.1e} (burn)"));
    }
    Ok(())
}

/// (shape, groups, offset added to every value).
const GROUP_NORM_CASES: [([usize; 4], usize, f32); 4] = [
    ([2, 12, 5, 7], 4, 0.0),
    ([1, 64, 1, 24], 32, 0.0),
    ([1, 8, 33, 33], 2, 0.0),
    ([3, 6, 9, 10], 3, 100.0),
];

/// The GroupNorm kernels, with and without the fused swish, against the generic ops on `device`
/// (wgpu). Returns one line per case with the worst error relative to the largest output.
pub async fn group_norm_matches_generic(device: &Device) -> Result<Vec<String>, String> {
    let mut report = Vec::new();
    for (i, &(shape, groups, offset)) in GROUP_NORM_CASES.iter().enumerate() {
        let seed = 200 + 10 * i as u64;
        let n: usize = shape.iter().product();
        let xs: Vec<f32> = random(n, seed).iter().map(|v| v * 4.0 + offset).collect();
        let c = shape[1];
        let norm = GroupNorm {
            weight: tensor(
                random(c, seed + 1).iter().map(|v| 1.0 + v).collect(),
                [c],
                device,
            ),
            bias: tensor(random(c, seed + 2), [c], device),
            groups,
            eps: 1e-6,
        };
        let x = tensor(xs, shape, device);
        for then_silu in [false, true] {
            let name = format!(
                "group_norm{} {shape:?} in {groups} groups, offset {offset}",
                if then_silu { " + silu" } else { "" }
            );
            let generic = norm.forward_generic(x.clone());
            let (got, want) = if then_silu {
                (norm.forward_silu(x.clone()), silu(generic))
            } else {
                (norm.forward(x.clone()), generic)
            };
            let (got, want) = (read_any(got).await?, read_any(want).await?);
            let e = compare(&name, &got, &want)?;
            report.push(format!("{name}: {e:.1e}"));
        }
    }
    Ok(report)
}
