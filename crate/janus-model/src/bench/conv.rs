//! The VQ decoder's convolutions alone (`janus bench --vq-convs`, `npm run bench -- --vq-convs`):
//! each distinct shape of a whole image's decode, timed through `shaders/conv2d.wgsl` and through
//! burn's `conv2d` (the reference, and what ran before the kernel), with how often an image
//! runs it, so the sum says what the convolutions of one decode cost each way. Random weights
//! (the cost does not depend on the values). Figures, not assertions.

use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor};

use super::kernels::time;
use crate::config::VqConfig;
use crate::error::JanusError;
use crate::model::conv::{Conv2d, upsample_nearest_2x};

/// One convolution of the decoder: taps, channels, input side, read through a 2x upsample.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ConvShape {
    pub k: usize,
    pub cin: usize,
    pub cout: usize,
    /// Input side (the output is twice this when `upsample`).
    pub side: usize,
    pub upsample: bool,
}

impl ConvShape {
    fn out_side(&self) -> usize {
        if self.upsample {
            2 * self.side
        } else {
            self.side
        }
    }

    /// Multiply-adds of one launch, times two.
    pub fn flops(&self) -> f64 {
        let out = self.out_side() as f64;
        2.0 * out * out * (self.cout * self.cin * self.k * self.k) as f64
    }
}

/// One shape's figures: launches per decoded image, seconds per launch each way.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ConvFigure {
    pub shape: ConvShape,
    pub per_image: usize,
    pub kernel_s: f64,
    /// burn's `conv2d` after a materialised upsample; `None` when not measured.
    pub burn_s: Option<f64>,
}

/// Every convolution a whole-image decode runs (`model::vq`: post_quant_conv, conv_in, the
/// middle, one level per channel multiplier with its upsample, conv_out), as distinct shapes
/// with their counts, in the order they first run.
pub fn decoder_shapes(c: &VqConfig) -> Vec<(ConvShape, usize)> {
    let mut shapes: Vec<(ConvShape, usize)> = Vec::new();
    let mut add = |k, cin, cout, side, upsample| {
        let s = ConvShape {
            k,
            cin,
            cout,
            side,
            upsample,
        };
        match shapes.iter_mut().find(|(t, _)| *t == s) {
            Some((_, n)) => *n += 1,
            None => shapes.push((s, 1)),
        }
    };
    let n = c.ch_mult.len();
    let mut side = c.grid;
    let mut ch = c.base_channels * c.ch_mult[n - 1];
    add(1, c.codebook_embed_dim, c.z_channels, side, false);
    add(3, c.z_channels, ch, side, false);
    // The middle: two ResBlocks and one attention block (four 1x1 projections).
    for _ in 0..4 {
        add(3, ch, ch, side, false);
    }
    for _ in 0..4 {
        add(1, ch, ch, side, false);
    }
    for j in 0..n {
        let out = c.base_channels * c.ch_mult[n - 1 - j];
        for _ in 0..=c.num_res_blocks {
            add(3, ch, out, side, false);
            add(3, out, out, side, false);
            if ch != out {
                add(1, ch, out, side, false);
            }
            ch = out;
            if j == 0 {
                for _ in 0..4 {
                    add(1, ch, ch, side, false);
                }
            }
        }
        if j + 1 < n {
            add(3, ch, ch, side, true);
            side *= 2;
        }
    }
    add(3, ch, c.out_channels, side, false);
    shapes
}

/// Each of [`decoder_shapes`] timed for at least `min_s` through the kernel and, when
/// `reference`, through burn's `conv2d`.
pub async fn vq_convs(
    config: &VqConfig,
    device: &Device,
    reference: bool,
    clock: &dyn Fn() -> f64,
    min_s: f64,
) -> Result<Vec<ConvFigure>, JanusError> {
    let mut out = Vec::new();
    for (s, per_image) in decoder_shapes(config) {
        let x = Tensor::<4>::random(
            [1, s.cin, s.side, s.side],
            burn::tensor::Distribution::Default,
            device,
        );
        let weight = Tensor::<4>::random(
            [s.cout, s.cin, s.k, s.k],
            burn::tensor::Distribution::Default,
            device,
        );
        let bias = Tensor::<1>::zeros([s.cout], device);
        let conv = Conv2d::new(weight.clone(), Some(bias.clone()), 1, s.k / 2);
        let kernel_s = if s.upsample {
            time(&|| conv.forward_upsampled(x.clone()), clock, min_s).await?
        } else {
            time(&|| conv.forward(x.clone()), clock, min_s).await?
        };
        let burn_s = if reference {
            let options = ConvOptions::new([1, 1], [s.k / 2, s.k / 2], [1, 1], 1);
            let run = || {
                let x = if s.upsample {
                    upsample_nearest_2x(x.clone())
                } else {
                    x.clone()
                };
                conv2d(x, weight.clone(), Some(bias.clone()), options.clone())
            };
            Some(time(&run, clock, min_s).await?)
        } else {
            None
        };
        out.push(ConvFigure {
            shape: s,
            per_image,
            kernel_s,
            burn_s,
        });
    }
    Ok(out)
}

/// The Markdown table of `figures`, with a last row: the sum over one image's decode.
pub fn markdown(figures: &[ConvFigure]) -> String {
    let mut out = String::from(
        "| conv | input | per image | kernel ms | kernel GFLOP/s | burn ms | burn GFLOP/s |\n\
         |---|---|---|---|---|---|---|\n",
    );
    let ms = |s: Option<f64>| s.map_or("–".into(), |s| format!("{:.2}", s * 1e3));
    let rate =
        |flops: f64, s: Option<f64>| s.map_or("–".into(), |s| format!("{:.1}", flops / s / 1e9));
    for f in figures {
        let s = &f.shape;
        out += &format!(
            "| {k}x{k} {cin} → {cout}{up} | {side} × {side} | {n} | {} | {} | {} | {} |\n",
            ms(Some(f.kernel_s)),
            rate(s.flops(), Some(f.kernel_s)),
            ms(f.burn_s),
            rate(s.flops(), f.burn_s),
            k = s.k,
            cin = s.cin,
            cout = s.cout,
            up = if s.upsample { " (2x upsampled)" } else { "" },
            side = s.side,
            n = f.per_image,
        );
    }
    let flops: f64 = figures
        .iter()
        .map(|f| f.shape.flops() * f.per_image as f64)
        .sum();
    let kernel: f64 = figures
        .iter()
        .map(|f| f.kernel_s * f.per_image as f64)
        .sum();
    let burn: Option<f64> = figures
        .iter()
        .map(|f| f.burn_s.map(|s| s * f.per_image as f64))
        .sum();
    out += &format!(
        "| sum over one image | | | {} | {} | {} | {} |\n",
        ms(Some(kernel)),
        rate(flops, Some(kernel)),
        ms(burn),
        rate(flops, burn),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CheckpointFormat, Preset};
    use crate::weights::spec::expected_tensors;

    /// `decoder_shapes` walks the decoder a second time (it mirrors `VqDecoder::load`), so the
    /// benchmark's weights per image could drift from the model; the checkpoint contract lists
    /// every convolution the decoder loads, and the two must agree shape for shape.
    #[test]
    fn decoder_shapes_are_the_checkpoints_decoder_convolutions() {
        for preset in Preset::ALL {
            let config = preset.config(CheckpointFormat::DeepSeek);
            let mut from_spec: Vec<(usize, usize, usize)> = expected_tensors(&config)
                .iter()
                .filter(|t| {
                    t.shape.len() == 4
                        && t.name.ends_with(".weight")
                        && (t.name.starts_with("gen_vision_model.decoder.")
                            || t.name == "gen_vision_model.post_quant_conv.weight")
                })
                .map(|t| (t.shape[2], t.shape[1], t.shape[0]))
                .collect();
            let mut listed: Vec<(usize, usize, usize)> = decoder_shapes(&config.gen_vision)
                .iter()
                .flat_map(|(s, n)| std::iter::repeat_n((s.k, s.cin, s.cout), *n))
                .collect();
            assert!(!from_spec.is_empty(), "{}", preset.id());
            from_spec.sort_unstable();
            listed.sort_unstable();
            assert_eq!(listed, from_spec, "{}", preset.id());
            // The sides: conv_out runs at the image's full size.
            let shapes = decoder_shapes(&config.gen_vision);
            let (last, _) = shapes.last().copied().unwrap();
            assert_eq!(last.side, config.gen_vision.image_size(), "{}", preset.id());
        }
    }
}
