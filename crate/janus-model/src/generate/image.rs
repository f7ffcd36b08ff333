//! Text-to-image with classifier-free guidance, DeepSeek's algorithm (janus-spec.md §7.1): for
//! each image an interleaved pair of rows — conditional (the prompt) and unconditional (the prompt
//! with every token but the first and last replaced by pad, no attention mask) — prefilled
//! together; then per step `g = u + w (c - u)` on the `gen_head` logits, a code chosen from
//! `softmax(g / T)` (argmax when T = 0), and its `gen_embed` + `gen_aligner` embedding fed to both
//! rows. Codes come out in raster order and are decoded by the VQ model.
//!
//! Where the GPU chooses the codes (`on_device`), the loop reads nothing back per step: the
//! chosen ids feed `gen_embed` directly, and codes come back every
//! [`IMAGE_READBACK_EVERY`] steps (and for previews) for progress; `on_step` then runs for each
//! step of the batch. Elsewhere the host samples every step.

use std::ops::ControlFlow;

use burn::tensor::{Int, Tensor, TensorData};
use image::RgbImage;

use super::on_device::{self, DeviceLoop, Head, IMAGE_READBACK_EVERY};
use super::sampling::{Sampler, SamplingParams};
use super::{check_prompt, read_f32};
use crate::error::{JanusError, PromptError};
use crate::model::Janus;
use crate::model::vq::to_rgb8;

/// What to generate.
#[derive(Clone, Debug)]
pub struct ImageRequest {
    /// Prompt ids, BOS first and `<begin_of_image>` last.
    pub prompt_ids: Vec<u32>,
    /// Images generated together (one batch).
    pub count: usize,
    /// Guidance weight w (DeepSeek's default 5).
    pub cfg_weight: f32,
    /// Temperature (1 in the official script), seed; top-k/top-p apply after the CFG mix.
    pub sampling: SamplingParams,
    /// Pad id for the unconditional rows.
    pub pad_token: u32,
    /// Decode a preview of the rows complete so far every this many steps (0: never). Each costs
    /// one VQ decode of those rows and one readback, so a few per image (every 96 of 576 tokens)
    /// keep it cheap.
    pub preview_every: usize,
}

impl ImageRequest {
    /// Everything that can be checked without running the model: sampling settings, 1 to 64
    /// images, a finite guidance weight, and a prompt that leaves room for a whole image.
    pub fn validate(&self, config: &crate::JanusConfig) -> Result<(), JanusError> {
        self.sampling.validate()?;
        if self.count == 0 || self.count > 64 {
            return Err(PromptError::Setting(format!(
                "image count must be 1..=64, got {}",
                self.count
            ))
            .into());
        }
        if !self.cfg_weight.is_finite() {
            return Err(PromptError::Setting("CFG weight must be a finite number".into()).into());
        }
        if self.prompt_ids.len() < 2 {
            return Err(PromptError::Empty.into());
        }
        let tokens = config.gen_vision.tokens_per_image();
        check_prompt(&config.language, &self.prompt_ids, tokens)
    }

    /// Device bytes of the KV caches the batch fills in `model`: a conditional and an
    /// unconditional row per image, each the prompt and the image's tokens long (227 MiB for
    /// one image of Janus-1.3B in f16 from a 30-token prompt).
    pub fn cache_bytes(&self, model: &Janus) -> u64 {
        let positions = self.prompt_ids.len() + model.config().gen_vision.tokens_per_image();
        (2 * self.count * positions) as u64 * model.kv_bytes_per_position()
    }
}

/// Progress of one step: the codes just chosen, one per image.
#[derive(Clone, Debug)]
pub struct ImageStep<'a> {
    pub step: usize,
    pub total: usize,
    pub codes: &'a [u32],
    /// On preview steps (see [`ImageRequest::preview_every`]), one image per batch entry: the full
    /// width and the rows of codes complete so far (`rows * S / grid` pixels high).
    pub preview: Option<&'a [RgbImage]>,
}

#[derive(Clone, Debug)]
pub struct ImageOutput {
    /// `count` lists of `tokens_per_image` codes.
    pub codes: Vec<Vec<u32>>,
    pub cancelled: bool,
    /// First-step logits of image 0: conditional, unconditional, guided.
    pub first_logits: [Vec<f32>; 3],
}

/// The unconditional row: first and last tokens kept, everything between replaced by pad.
pub fn unconditional_ids(prompt: &[u32], pad: u32) -> Vec<u32> {
    prompt
        .iter()
        .enumerate()
        .map(|(i, &id)| {
            if i == 0 || i + 1 == prompt.len() {
                id
            } else {
                pad
            }
        })
        .collect()
}

/// Generate image codes. `on_step` sees each step's codes and may stop the loop.
pub async fn generate_image_codes(
    model: &Janus,
    req: &ImageRequest,
    mut on_step: impl FnMut(ImageStep<'_>) -> ControlFlow<()>,
) -> Result<ImageOutput, JanusError> {
    req.validate(model.config())?;
    let len = req.prompt_ids.len();
    let tokens = model.config().gen_vision.tokens_per_image();
    let n = req.count;
    let uncond = unconditional_ids(&req.prompt_ids, req.pad_token);
    // [2N, L]: even rows conditional, odd rows unconditional
    let rows: Vec<Vec<u32>> = (0..2 * n)
        .map(|r| {
            if r % 2 == 0 {
                req.prompt_ids.clone()
            } else {
                uncond.clone()
            }
        })
        .collect();
    let mut cache = model.new_cache(len + tokens);
    let x = model.embed_tokens(model.ids_tensor(&rows));
    let mut hidden = model.forward_embeds(x, &mut cache);
    let mut loop_state = Progress {
        codes: vec![Vec::with_capacity(tokens); n],
        cancelled: false,
    };
    let w = req.cfg_weight;
    if on_device::available(model.device()) {
        let logits = model.image_logits(hidden);
        let first_logits = guided_first(&read_f32(logits.clone()).await?, n, w);
        let mut steps = DeviceLoop::new(
            model,
            cache,
            (2 * n, tokens),
            &req.sampling,
            Some(w),
            Head::Image,
        );
        steps.choose_first(logits);
        let mut reported = 0;
        for step in 0..tokens {
            if step > 0 {
                steps.step(len + step - 1, step)?;
            }
            let done = step + 1;
            let due = done.is_multiple_of(IMAGE_READBACK_EVERY)
                || done == tokens
                || preview_due(req, model, done, tokens);
            if due {
                // [2n, p]: both rows of a pair hold its code.
                let ids = steps.read_history(reported, done).await?;
                let p = done - reported;
                for j in 0..p {
                    let codes: Vec<u32> = (0..n).map(|i| ids[(2 * i) * p + j]).collect();
                    loop_state
                        .report(model, req, reported + j, tokens, codes, &mut on_step)
                        .await?;
                    if loop_state.cancelled {
                        break;
                    }
                }
                reported = done;
            }
            if loop_state.cancelled {
                break;
            }
        }
        return Ok(ImageOutput {
            codes: loop_state.codes,
            cancelled: loop_state.cancelled,
            first_logits,
        });
    }
    let mut first_logits: [Vec<f32>; 3] = Default::default();
    let mut sampler = Sampler::new(req.sampling.clone());
    for step in 0..tokens {
        let logits = read_f32(model.image_logits(hidden)).await?;
        if step == 0 {
            first_logits = guided_first(&logits, n, w);
        }
        let k = logits.len() / (2 * n);
        let codes: Vec<u32> = (0..n)
            .map(|i| {
                let c = &logits[(2 * i) * k..(2 * i + 1) * k];
                let u = &logits[(2 * i + 1) * k..(2 * i + 2) * k];
                let g: Vec<f32> = c.iter().zip(u).map(|(&c, &u)| u + w * (c - u)).collect();
                sampler.sample(&g) as u32
            })
            .collect();
        let next: Vec<i64> = codes.iter().flat_map(|&c| [c as i64, c as i64]).collect();
        loop_state
            .report(model, req, step, tokens, codes, &mut on_step)
            .await?;
        if loop_state.cancelled || step + 1 == tokens {
            break;
        }
        let next = Tensor::<2, Int>::from_data(TensorData::new(next, [2 * n, 1]), model.device());
        hidden = model.forward_embeds(model.image_code_embeds(next), &mut cache);
    }
    Ok(ImageOutput {
        codes: loop_state.codes,
        cancelled: loop_state.cancelled,
        first_logits,
    })
}

struct Progress {
    codes: Vec<Vec<u32>>,
    cancelled: bool,
}

impl Progress {
    /// Record step `step`'s codes and tell the caller (with a preview when one is due).
    async fn report(
        &mut self,
        model: &Janus,
        req: &ImageRequest,
        step: usize,
        total: usize,
        step_codes: Vec<u32>,
        on_step: &mut impl FnMut(ImageStep<'_>) -> ControlFlow<()>,
    ) -> Result<(), JanusError> {
        for (image, &code) in self.codes.iter_mut().zip(&step_codes) {
            image.push(code);
        }
        let done = step + 1;
        let preview = if preview_due(req, model, done, total) {
            let grid = model.config().gen_vision.grid;
            Some(decode_rows(model, &self.codes, done / grid).await?)
        } else {
            None
        };
        let flow = on_step(ImageStep {
            step,
            total,
            codes: &step_codes,
            preview: preview.as_deref(),
        });
        self.cancelled = flow.is_break();
        Ok(())
    }
}

/// A preview is drawn after `done` steps.
fn preview_due(req: &ImageRequest, model: &Janus, done: usize, total: usize) -> bool {
    req.preview_every > 0
        && done.is_multiple_of(req.preview_every)
        && done < total
        && done >= model.config().gen_vision.grid
}

/// Image 0's first-step logits: conditional, unconditional, guided (`logits`: `[2N, K]` flat).
fn guided_first(logits: &[f32], n: usize, w: f32) -> [Vec<f32>; 3] {
    let k = logits.len() / (2 * n);
    let (c, u) = (&logits[..k], &logits[k..2 * k]);
    let g = c.iter().zip(u).map(|(&c, &u)| u + w * (c - u)).collect();
    [c.to_vec(), u.to_vec(), g]
}

/// VQ-decode complete code grids into RGB8 images (DeepSeek's post-processing).
pub async fn decode_images(model: &Janus, codes: &[Vec<u32>]) -> Result<Vec<RgbImage>, JanusError> {
    let q = &model.config().gen_vision;
    let (tokens, k) = (q.tokens_per_image(), q.codebook_size);
    if codes.is_empty() {
        return Ok(Vec::new());
    }
    for (i, c) in codes.iter().enumerate() {
        if c.len() != tokens {
            return Err(PromptError::Setting(format!(
                "image {i} has {} codes, expected {tokens}",
                c.len()
            ))
            .into());
        }
        if let Some(&bad) = c.iter().find(|&&v| v as usize >= k) {
            return Err(PromptError::Setting(format!(
                "code {bad} in image {i} is outside the codebook of {k}"
            ))
            .into());
        }
    }
    decode_rows(model, codes, q.grid).await
}

/// VQ-decode the first `rows` rows of each image's codes (the caller has checked them): images
/// of width `S` and height `rows * S / grid`. With every row, the finished images.
///
/// One image at a time: the decoder's activations are f32 at the image's full size (the last
/// level's `[n, 128, 384, 384]` is 75.5 MB an image), so a batch of four decoded at once would
/// need tensors past what many devices bind (WebGPU guarantees 128 MiB) and four times the
/// memory; one image's are within both, whatever the batch.
async fn decode_rows(
    model: &Janus,
    codes: &[Vec<u32>],
    rows: usize,
) -> Result<Vec<RgbImage>, JanusError> {
    let q = &model.config().gen_vision;
    let take = rows * q.grid;
    let width = q.image_size();
    let height = rows * width / q.grid;
    let mut images = Vec::with_capacity(codes.len());
    for c in codes {
        let flat: Vec<i64> = c[..take].iter().map(|&c| c as i64).collect();
        let ids = Tensor::<2, Int>::from_data(TensorData::new(flat, [1, take]), model.device());
        let pixels = read_f32(model.decode_codes(ids)).await?;
        images.extend(
            to_rgb8(&pixels, 1, height, width)
                .into_iter()
                .filter_map(|buf| RgbImage::from_raw(width as u32, height as u32, buf)),
        );
    }
    Ok(images)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unconditional_rows_keep_only_the_ends() {
        assert_eq!(unconditional_ids(&[1, 5, 6, 7, 9], 0), vec![1, 0, 0, 0, 9]);
        assert_eq!(unconditional_ids(&[1, 9], 0), vec![1, 9]);
    }
}
