//! Text generation for chat and image understanding (janus-spec.md §6): embed the prompt, write
//! SigLIP features over the image placeholders, prefill with a KV cache, then one token per step
//! through `lm_head` until EOS, the token budget, the context end, or cancellation.

use std::ops::ControlFlow;
use std::sync::Arc;

use burn::tensor::{Tensor, TensorData, s};

use super::json::{JsonMode, JsonReply};
use super::logprobs::{MAX_TOP_LOGPROBS, TokenLogprob, token_logprob};
use super::on_device::{self, DeviceLoop, Head};
use super::prefill::prefill;
use super::prompt_cache::{Key, PromptCache, prompt_keys, starts_picture};
use super::sampling::{Sampler, SamplingParams};
use super::{check_prompt, read_f32};
use crate::error::{JanusError, PromptError};
use crate::model::Janus;
use crate::model::kv_cache::KvCache;
use crate::preprocess::image::PreparedImage;

/// What to generate.
#[derive(Clone, Debug)]
pub struct TextRequest {
    /// Prompt ids with images already expanded (BOI, placeholders, EOI).
    pub prompt_ids: Vec<u32>,
    /// One per run of placeholders, in order.
    pub images: Vec<PreparedImage>,
    pub max_new_tokens: usize,
    pub sampling: SamplingParams,
    /// Stop when the model emits this id (EOS); `None` never stops early.
    pub stop_token: Option<u32>,
    /// Placeholder id whose positions receive image features.
    pub image_token: u32,
    /// `Some(n)`: every new token's log-probability and the `n` most likely tokens at its step
    /// (at most [`MAX_TOP_LOGPROBS`]; [`TextOutput::logprobs`]). On the GPU each step then also
    /// reads its logits back (400 KB for Janus' 102,400 tokens); the tokens chosen are the
    /// same.
    pub logprobs: Option<usize>,
    /// `Some`: the reply is one JSON object (`super::json`): every token is chosen among those
    /// that keep the text the beginning of one, the stop token only once it is complete. The
    /// mode holds the model's vocabulary sorted for that (built once per model) and where the
    /// reply starts (after the text of a continued reply). On the GPU each step then waits for
    /// the id before the next is queued (the next step's mask depends on it).
    pub json: Option<JsonMode>,
}

impl TextRequest {
    /// Everything that can be checked without running the model: sampling settings, a prompt
    /// that is not empty, fits the context with one new token and stays inside the vocabulary.
    pub fn validate(&self, config: &crate::JanusConfig) -> Result<(), JanusError> {
        self.sampling.validate()?;
        if let Some(n) = self.logprobs.filter(|&n| n > MAX_TOP_LOGPROBS) {
            return Err(PromptError::Setting(format!(
                "at most {MAX_TOP_LOGPROBS} top log-probabilities a token, not {n}"
            ))
            .into());
        }
        if let Some(json) = &self.json
            && json.table.width() != config.language.vocab_size
        {
            return Err(PromptError::Setting(format!(
                "a JSON reply's token table covers {} ids, the model has {}",
                json.table.width(),
                config.language.vocab_size
            ))
            .into());
        }
        check_prompt(&config.language, &self.prompt_ids, 1)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// The stop token was generated (it is not part of the output).
    Eos,
    /// `max_new_tokens` reached.
    MaxTokens,
    /// The model's context is full.
    Context,
    /// The callback asked to stop.
    Cancelled,
    /// The reply reached one of its stop sequences ([`super::stop_text::StopText`]), as its
    /// callback said.
    Stop,
}

impl StopReason {
    /// The name the page, the CLI's JSON and OpenAI-style callers see.
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::Eos => "eos",
            StopReason::MaxTokens => "max_tokens",
            StopReason::Context => "context",
            StopReason::Cancelled => "cancelled",
            StopReason::Stop => "stop",
        }
    }
}

#[derive(Clone, Debug)]
pub struct TextOutput {
    pub ids: Vec<u32>,
    pub stop: StopReason,
    /// Logits of the first generated position (for reference checks); empty when stopped while
    /// the prompt was read.
    pub first_logits: Vec<f32>,
    /// Leading prompt tokens taken from a kept cache instead of being run again.
    pub reused: usize,
    /// One per id of `ids` where the request asked ([`TextRequest::logprobs`]), else empty.
    pub logprobs: Vec<TokenLogprob>,
}

/// Build the prompt's input embeddings `[1, T, H]`: token embeddings with every run of
/// placeholder ids overwritten, in order, by the aligned features of the next image.
pub fn prompt_embeddings(
    model: &Janus,
    ids: &[u32],
    images: &[PreparedImage],
    image_token: u32,
) -> Result<Tensor<3>, JanusError> {
    check_image_count(model, ids, images.len(), image_token)?;
    let per_image = model.config().image_tokens();
    let mut x = model.embed_tokens(model.ids_tensor(&[ids.to_vec()]));
    if images.is_empty() {
        return Ok(x);
    }
    let size = model.config().vision.image_size;
    let mut flat = Vec::with_capacity(images.len() * 3 * size * size);
    for img in images {
        if img.size != size {
            return Err(PromptError::Setting(format!(
                "image prepared at {} px, the model needs {size}",
                img.size
            ))
            .into());
        }
        flat.extend_from_slice(&img.pixels);
    }
    let pixels = Tensor::<4>::from_data(
        TensorData::new(flat, [images.len(), 3, size, size]),
        model.device(),
    );
    let h = model.config().language.hidden_size;
    // [N, 576, H] -> [N * 576, H]
    let feats = model
        .encode_images(pixels)
        .reshape([images.len() * per_image, h]);
    let mut used = 0;
    let mut i = 0;
    while i < ids.len() {
        if ids[i] != image_token {
            i += 1;
            continue;
        }
        let start = i;
        while i < ids.len() && ids[i] == image_token {
            i += 1;
        }
        let n = i - start;
        let part = feats
            .clone()
            .slice(s![used..used + n])
            .reshape([1, n, h])
            .cast(x.dtype());
        x = x.slice_assign(s![.., start..i], part);
        used += n;
    }
    Ok(x)
}

/// One picture per run of placeholders.
fn check_image_count(
    model: &Janus,
    ids: &[u32],
    images: usize,
    image_token: u32,
) -> Result<(), JanusError> {
    let per_image = model.config().image_tokens();
    let placeholders = ids.iter().filter(|&&id| id == image_token).count();
    if placeholders != images * per_image {
        return Err(PromptError::ImageCount {
            placeholders: placeholders / per_image.max(1),
            images,
        }
        .into());
    }
    Ok(())
}

/// What a text generation tells its caller as it runs, and where the caller may stop it. A
/// closure over each new id is one ([`TextWatch::token`]; it hears nothing of the prompt).
pub trait TextWatch {
    /// Every new id (before the stop token); `Break` ends the loop, saying why
    /// ([`StopReason::Cancelled`], [`StopReason::Stop`]): that is the output's `stop`.
    fn token(&mut self, id: u32) -> ControlFlow<StopReason>;

    /// The log-probabilities of the id [`Self::token`] hears next, just before it (only where
    /// the request asked for them: [`TextRequest::logprobs`]).
    fn logprob(&mut self, entry: &TokenLogprob) {
        let _ = entry;
    }

    /// After each pass of a prompt long enough to run in several (`read` of the `of` positions
    /// this turn runs are in the caches; see `prefill`): `Break` stops before the first token,
    /// with [`StopReason::Cancelled`], no ids and no logits. The kept cache then holds what was
    /// read, so the same prompt asked again goes on from there.
    fn prompt(&mut self, read: usize, of: usize) -> ControlFlow<()> {
        let _ = (read, of);
        ControlFlow::Continue(())
    }
}

impl<F: FnMut(u32) -> ControlFlow<StopReason>> TextWatch for F {
    fn token(&mut self, id: u32) -> ControlFlow<StopReason> {
        self(id)
    }
}

/// A [`TextWatch`] of two closures: `token` for each new id, `prompt` for a long prompt's passes.
pub struct Watch<T, P> {
    pub token: T,
    pub prompt: P,
}

impl<T, P> TextWatch for Watch<T, P>
where
    T: FnMut(u32) -> ControlFlow<StopReason>,
    P: FnMut(usize, usize) -> ControlFlow<()>,
{
    fn token(&mut self, id: u32) -> ControlFlow<StopReason> {
        (self.token)(id)
    }

    fn prompt(&mut self, read: usize, of: usize) -> ControlFlow<()> {
        (self.prompt)(read, of)
    }
}

/// Generate text. `on_token` sees every new id (before the stop token) and may end the loop,
/// saying why ([`StopReason::Cancelled`], [`StopReason::Stop`]): that is the output's `stop`.
pub async fn generate_text(
    model: &Janus,
    req: &TextRequest,
    on_token: impl FnMut(u32) -> ControlFlow<StopReason>,
) -> Result<TextOutput, JanusError> {
    generate_text_with(model, req, None, on_token).await
}

/// [`generate_text`], starting from what `kept` holds of the prompt (the kept conversation that
/// shares the longest prefix with it: that prefix is not run again, [`TextOutput::reused`]
/// counts it) and leaving in it this prompt and every token the loop fed in, for the next. A
/// request refused before it runs leaves it as it was; a failure while it runs leaves out the
/// conversation it started from. `watch` hears of each new id and of a long prompt's passes
/// ([`TextWatch`]).
pub async fn generate_text_with(
    model: &Janus,
    req: &TextRequest,
    mut kept: Option<&mut PromptCache>,
    mut watch: impl TextWatch,
) -> Result<TextOutput, JanusError> {
    req.validate(model.config())?;
    check_image_count(model, &req.prompt_ids, req.images.len(), req.image_token)?;
    let context = model.config().language.max_position_embeddings;
    let prompt_len = req.prompt_ids.len();
    let budget = req.max_new_tokens.min(context - prompt_len);
    let mut keys = prompt_keys(&req.prompt_ids, &req.images, req.image_token);
    let total = prompt_len + budget;
    let (mut cache, reused) = match kept.as_deref_mut().and_then(|k| k.take(&keys, total)) {
        Some(found) => found,
        None => (model.new_cache(prompt_len + budget), 0),
    };
    for layer in &mut cache {
        layer.ensure_capacity(prompt_len + budget);
    }
    // Only the unshared tail runs: its pictures are those whose runs start in it.
    let skipped_images = image_runs(&req.prompt_ids[..reused], req.image_token);
    let x = prompt_embeddings(
        model,
        &req.prompt_ids[reused..],
        &req.images[skipped_images..],
        req.image_token,
    )?;
    let mut on_pass = |read, of| watch.prompt(read, of);
    let Some(hidden) = prefill(model, x, &mut cache, &mut on_pass).await? else {
        // Stopped while the prompt was read: what the caches hold of it is kept.
        if let Some(kept) = kept {
            let filled = cache.first().map_or(0, KvCache::len);
            keys.truncate(filled);
            kept.keep(keys, cache, filled);
        }
        return Ok(TextOutput {
            ids: Vec::new(),
            stop: StopReason::Cancelled,
            first_logits: Vec::new(),
            reused,
            logprobs: Vec::new(),
        });
    };
    let logits = model.text_logits(hidden);
    // The prompt's logits are read once (callers compare them with references).
    let first_logits = read_f32(logits.clone()).await?;
    let mut out = TextOutput {
        ids: Vec::new(),
        stop: if budget < req.max_new_tokens {
            StopReason::Context
        } else {
            StopReason::MaxTokens
        },
        first_logits,
        reused,
        logprobs: Vec::new(),
    };
    let vocab = out.first_logits.len();
    // Every id fed back in, in order (the stop token too where a step already fed it).
    let mut fed = Vec::new();
    let mut json = req
        .json
        .as_ref()
        .map(|mode| JsonReply::new(mode, req.stop_token));
    if on_device::available(model.device()) {
        // The GPU chooses; a step reads back the chosen id and nothing else (and its logits,
        // kept for that read, only where log-probabilities are asked for).
        let mut steps = DeviceLoop::new(model, cache, (1, budget), &req.sampling, None, Head::Text);
        if req.logprobs.is_some() {
            steps.keep_logits(vocab);
        }
        // The mask last written to the device: a state met again gives the same one, not
        // written again.
        let mut written = None;
        let mut restrict = |steps: &mut DeviceLoop, json: &mut JsonReply| {
            let mask = json.mask();
            if !written.as_ref().is_some_and(|w| Arc::ptr_eq(w, &mask)) {
                steps.restrict(&mask);
                written = Some(mask);
            }
        };
        if let Some(json) = &mut json {
            restrict(&mut steps, json);
        }
        steps.choose_first(logits);
        let last = steps.last_reader();
        let kept = steps.logits_reader();
        for step in 0..budget {
            // Token `step` is chosen on the device. Its readback is queued first, then the step
            // that feeds it in and chooses the next (it reads the id from the device), so the
            // GPU runs that step while the host waits for this id: no idle GPU between steps.
            // When this id ends the text, that step has fed it in: the cache then holds it
            // (the stop token closes the reply in the next turn's prompt too).
            let more = step + 1 < budget;
            // A JSON reply's next mask depends on this id: the next step waits for it.
            let early = more && on_device::overlap() && json.is_none();
            let id = last.start();
            // Token 0 came from the prompt's logits, read above; each later one from its
            // step's, read with its id (only where asked for).
            let logits = kept.as_ref().filter(|_| step > 0).map(|k| k.start());
            if early {
                steps.step(prompt_len + step, step + 1)?;
            }
            let next = id.await?[0];
            let entry = match (req.logprobs, logits) {
                (Some(top), Some(read)) => Some(token_logprob(&read.await?, next, top)),
                (Some(top), None) => Some(token_logprob(&out.first_logits, next, top)),
                (None, _) => None,
            };
            let mut end =
                accept(&mut out, next, entry, req.stop_token, &mut watch).is_break() || !more;
            if let Some(json) = json.as_mut().filter(|_| !end) {
                json.advance(next).map_err(JanusError::Device)?;
                end = json.is_over();
                if end {
                    out.stop = StopReason::Eos;
                } else {
                    restrict(&mut steps, json);
                }
            }
            if !early && !end {
                steps.step(prompt_len + step, step + 1)?;
            }
            if early || !end {
                fed.push(next);
            }
            if end {
                break;
            }
        }
        drop((last, kept));
        cache = steps.into_caches();
        for layer in &mut cache {
            layer.set_filled(prompt_len + fed.len());
        }
    } else {
        let mut sampler = Sampler::new(req.sampling.clone());
        let mut host = out.first_logits.clone();
        for step in 0..budget {
            let next = match &mut json {
                Some(json) => {
                    let mut allowed = host.clone();
                    json.restrict(&mut allowed);
                    sampler.sample(&allowed) as u32
                }
                None => sampler.sample(&host) as u32,
            };
            let entry = req.logprobs.map(|top| token_logprob(&host, next, top));
            if accept(&mut out, next, entry, req.stop_token, &mut watch).is_break()
                || step + 1 == budget
            {
                break;
            }
            if let Some(json) = &mut json {
                json.advance(next).map_err(JanusError::Device)?;
                if json.is_over() {
                    out.stop = StopReason::Eos;
                    break;
                }
            }
            let x = model.embed_tokens(model.ids_tensor(&[vec![next]]));
            let logits = model.text_logits(model.forward_embeds(x, &mut cache));
            fed.push(next);
            host = read_f32(logits).await?;
        }
    }
    if let Some(kept) = kept {
        keys.extend(fed.into_iter().map(Key::text));
        kept.keep(keys, cache, prompt_len);
    }
    Ok(out)
}

/// Runs of `image_token` in `ids` (each is one picture).
fn image_runs(ids: &[u32], image_token: u32) -> usize {
    (0..ids.len())
        .filter(|&i| starts_picture(ids, i, image_token))
        .count()
}

/// Take a generated id (and its log-probabilities, where asked for) into `out`; `Break` when
/// the loop must end (the stop token, which is not kept, or the callback's reason), which is
/// then `out.stop`.
fn accept(
    out: &mut TextOutput,
    next: u32,
    entry: Option<TokenLogprob>,
    stop_token: Option<u32>,
    watch: &mut impl TextWatch,
) -> ControlFlow<()> {
    let flow = if Some(next) == stop_token {
        ControlFlow::Break(StopReason::Eos)
    } else {
        out.ids.push(next);
        if let Some(entry) = entry {
            watch.logprob(&entry);
            out.logprobs.push(entry);
        }
        watch.token(next)
    };
    flow.map_break(|reason| out.stop = reason)
}
