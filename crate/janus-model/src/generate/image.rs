//! Text-to-image with classifier-free guidance, DeepSeek's algorithm (janus-spec.md §7.1): for
//! each image an interleaved pair of rows — conditional (the prompt) and unconditional (the prompt
//! with every token but the first and last replaced by pad, no attention mask) — prefilled
//! together; then per step `g = u + w (c - u)` on the `gen_head` logits, a code chosen from
//! `softmax(g / T)` (argmax when T = 0), and its `gen_embed` + `gen_aligner` embedding fed to both
//! rows. Codes come out in raster order and are decoded by the VQ model.

use std::ops::ControlFlow;

use burn::tensor::{Int, Tensor, TensorData};
use image::RgbImage;

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
    req.sampling.validate()?;
    if req.count == 0 || req.count > 64 {
        return Err(
            PromptError::Setting(format!("image count must be 1..=64, got {}", req.count)).into(),
        );
    }
    if !req.cfg_weight.is_finite() {
        return Err(PromptError::Setting("CFG weight must be a finite number".into()).into());
    }
    let len = req.prompt_ids.len();
    if len < 2 {
        return Err(PromptError::Empty.into());
    }
    let tokens = model.config().gen_vision.tokens_per_image();
    check_prompt(model, &req.prompt_ids, tokens)?;
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
    let mut sampler = Sampler::new(req.sampling.clone());
    let mut codes: Vec<Vec<u32>> = vec![Vec::with_capacity(tokens); n];
    let mut first_logits: [Vec<f32>; 3] = Default::default();
    let w = req.cfg_weight;
    let mut cancelled = false;
    let mut step_codes = vec![0u32; n];
    for step in 0..tokens {
        // [2N, K] on the host
        let logits = read_f32(model.image_logits(hidden)).await?;
        let k = logits.len() / (2 * n);
        for (i, code) in step_codes.iter_mut().enumerate() {
            let c = &logits[(2 * i) * k..(2 * i + 1) * k];
            let u = &logits[(2 * i + 1) * k..(2 * i + 2) * k];
            let g: Vec<f32> = c.iter().zip(u).map(|(&c, &u)| u + w * (c - u)).collect();
            if step == 0 && i == 0 {
                first_logits = [c.to_vec(), u.to_vec(), g.clone()];
            }
            *code = sampler.sample(&g) as u32;
            codes[i].push(*code);
        }
        let done = step + 1;
        let grid = model.config().gen_vision.grid;
        let preview = if req.preview_every > 0
            && done.is_multiple_of(req.preview_every)
            && done < tokens
            && done >= grid
        {
            Some(decode_rows(model, &codes, done / grid).await?)
        } else {
            None
        };
        let flow = on_step(ImageStep {
            step,
            total: tokens,
            codes: &step_codes,
            preview: preview.as_deref(),
        });
        if flow.is_break() {
            cancelled = true;
            break;
        }
        if step + 1 == tokens {
            break;
        }
        // Both rows of a pair continue with the same code: [2N, 1]
        let next: Vec<i64> = step_codes
            .iter()
            .flat_map(|&c| [c as i64, c as i64])
            .collect();
        let next = Tensor::<2, Int>::from_data(TensorData::new(next, [2 * n, 1]), model.device());
        hidden = model.forward_embeds(model.image_code_embeds(next), &mut cache);
    }
    Ok(ImageOutput {
        codes,
        cancelled,
        first_logits,
    })
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
async fn decode_rows(
    model: &Janus,
    codes: &[Vec<u32>],
    rows: usize,
) -> Result<Vec<RgbImage>, JanusError> {
    let q = &model.config().gen_vision;
    let take = rows * q.grid;
    let flat: Vec<i64> = codes
        .iter()
        .flat_map(|c| &c[..take])
        .map(|&c| c as i64)
        .collect();
    let ids =
        Tensor::<2, Int>::from_data(TensorData::new(flat, [codes.len(), take]), model.device());
    let width = q.image_size();
    let height = rows * width / q.grid;
    let pixels = read_f32(model.decode_codes(ids)).await?;
    Ok(to_rgb8(&pixels, codes.len(), height, width)
        .into_iter()
        .filter_map(|buf| RgbImage::from_raw(width as u32, height as u32, buf))
        .collect())
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
