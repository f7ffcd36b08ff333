//! A long prompt runs through the decoder a chunk of query rows at a time, and many pictures go
//! through SigLIP a few at a time, so that neither builds attention scores past what a device can
//! bind (`llama::prefill_rows`). Both must give what one pass gives: the understanding prompt in
//! chunks of a few rows against its golden logits, and two different pictures encoded one at a
//! time against both at once.

use burn::tensor::{Tensor, TensorData};
use janus_model::Loaded;
use janus_model::generate::read_f32;
use janus_model::generate::text::prompt_embeddings;
use janus_model::metrics::rel_err;
use janus_model::preprocess::image::PreparedImage;
use serde_json::Value;

use crate::cases::{Check, Figures, Prompt, ensure, f32s};

/// Query rows per chunk: small, and prime, so that chunks end inside the picture's run and the
/// last chunk is short.
const ROWS: usize = 7;

pub(crate) async fn in_chunks(
    m: &Loaded,
    case: &Value,
    prompt: &Prompt,
    tol: f32,
    fig: &mut Figures,
) -> Check {
    let model = &m.model;
    let image_token = m.tokenizer.special().image;
    let what = "prefill in chunks";
    let x = prompt_embeddings(model, &prompt.ids, &prompt.images, image_token)
        .map_err(|e| format!("{what}: {e}"))?;
    let t = prompt.ids.len();
    ensure(t > 2 * ROWS, || format!("{what}: a prompt of {t} tokens"))?;
    let mut cache = model.new_cache(t);
    let hidden = model.llm.forward_in_chunks(x, &mut cache, ROWS);
    let logits = read_f32(model.text_logits(hidden))
        .await
        .map_err(|e| format!("{what}: {e}"))?;
    let err = rel_err(&logits, &f32s(&case["first_logits"])?);
    ensure(err < tol, || {
        format!("{what}: {t} tokens {ROWS} rows at a time: first-step logits rel err {err:e}")
    })?;
    ensure(cache.iter().all(|c| c.len() == t), || {
        format!(
            "{what}: the caches hold {} positions, not {t}",
            cache[0].len()
        )
    })?;
    fig.worst_logits_rel_err = fig.worst_logits_rel_err.max(err);

    // Two different pictures (the question's, and the same reversed), one pass and one each.
    let what = "pictures a pass at a time";
    let picture = prompt.images.first().ok_or("golden: no picture")?;
    let other = PreparedImage {
        pixels: picture.pixels.iter().rev().copied().collect(),
        ..picture.clone()
    };
    let size = picture.size;
    let flat: Vec<f32> = [&picture.pixels, &other.pixels]
        .into_iter()
        .flatten()
        .copied()
        .collect();
    let pixels = Tensor::<4>::from_data(TensorData::new(flat, [2, 3, size, size]), model.device());
    let whole = read_f32(model.encode_images_by(pixels.clone(), 2))
        .await
        .map_err(|e| format!("{what}: {e}"))?;
    let each = read_f32(model.encode_images_by(pixels, 1))
        .await
        .map_err(|e| format!("{what}: {e}"))?;
    let half = whole.len() / 2;
    ensure(whole[..half] != whole[half..], || {
        format!("{what}: the two pictures' features are the same")
    })?;
    let err = rel_err(&each, &whole);
    ensure(err < tol, || {
        format!("{what}: one at a time against both at once, rel err {err:e}")
    })?;
    Ok(())
}
