//! JSON replies (OpenAI's `response_format: {type: "json_object"}`), checked on the raw case's
//! prompt, whose golden reply is no JSON at all:
//!
//! - greedy, each token chosen is one the grammar allows there and the most likely of those
//!   (within the logits' tolerance): allowed means its bytes, read from the state the reply's
//!   earlier bytes left, keep the text the beginning of an object, worked out token by token
//!   here rather than by the sorted table the loop used; most likely means by the logits a
//!   prefill of the prompt and the tokens before it gives (another code path than the loop's
//!   decode steps and, on a GPU, its mask in the chooser);
//! - a seeded draw's tokens are all allowed;
//! - each reply's text is the beginning of an object, and one serde_json reads as an object
//!   where the reply ended by itself.

use std::ops::ControlFlow;

use janus_model::Loaded;
use janus_model::generate::json::{JsonMode, JsonState};
use janus_model::generate::sampling::SamplingParams;
use janus_model::generate::text::{StopReason, TextOutput, TextRequest, generate_text};

use crate::cases::{Check, ensure};

/// Tokens each reply may have.
const TOKENS: usize = 12;

pub(crate) async fn json_replies(m: &Loaded, prompt: &[u32], golden: &[u32], tol: f32) -> Check {
    let tok = &m.tokenizer;
    let eos = tok.special().eos;
    let plain = tok.plain_tokens();
    let text_of =
        |ids: &[u32]| -> Vec<u8> { ids.iter().flat_map(|&id| tok.token_bytes(id)).collect() };
    // The check means something: the model left to itself writes no JSON here.
    ensure(
        JsonState::new().feed_all(&text_of(golden)).is_none(),
        || "json: the raw case's golden reply already begins a JSON object".into(),
    )?;
    let request = |prompt_ids: Vec<u32>, max_new_tokens, sampling, json| TextRequest {
        prompt_ids,
        images: Vec::new(),
        max_new_tokens,
        sampling,
        stop_token: Some(eos),
        image_token: tok.special().image,
        logprobs: None,
        json,
    };
    let run = |req: TextRequest| async move {
        generate_text(&m.model, &req, |_| ControlFlow::Continue(()))
            .await
            .map_err(|e| format!("json: {e}"))
    };
    let table = Some(JsonMode::new(tok.json_table()));
    let greedy = run(request(
        prompt.to_vec(),
        TOKENS,
        SamplingParams::greedy(),
        table.clone(),
    ))
    .await?;
    well_formed(&greedy, &text_of(&greedy.ids), "greedy")?;
    // Each greedy token against a prefill of everything before it.
    let mut state = JsonState::new();
    let chosen = greedy
        .ids
        .iter()
        .copied()
        .chain((greedy.stop == StopReason::Eos).then_some(eos));
    for (i, id) in chosen.enumerate() {
        let whole = [prompt, &greedy.ids[..i]].concat();
        let logits = run(request(whole, 1, SamplingParams::greedy(), None))
            .await?
            .first_logits;
        let allowed: Vec<u32> = if state.is_complete() {
            vec![eos]
        } else {
            plain
                .iter()
                .filter(|(_, bytes)| state.feed_all(bytes).is_some())
                .map(|(id, _)| *id)
                .collect()
        };
        let best = allowed
            .iter()
            .map(|&k| logits[k as usize])
            .fold(f32::NEG_INFINITY, f32::max);
        let scale = logits.iter().fold(1f32, |s, x| s.max(x.abs()));
        ensure(
            allowed.contains(&id) && best - logits[id as usize] <= 2.0 * tol * scale,
            || {
                format!(
                    "json: greedy token {i} is {id} ({:?}, logit {}), the best of the {} allowed \
                     is {best}",
                    String::from_utf8_lossy(&tok.token_bytes(id)),
                    logits[id as usize],
                    allowed.len()
                )
            },
        )?;
        if id != eos {
            state = state
                .feed_all(&tok.token_bytes(id))
                .ok_or("json: unreachable")?;
        }
    }
    // A draw: every token allowed where it came.
    let drawn = run(request(
        prompt.to_vec(),
        TOKENS,
        SamplingParams {
            temperature: 1.0,
            top_k: Some(40),
            top_p: Some(0.95),
            seed: 11,
        },
        table,
    ))
    .await?;
    well_formed(&drawn, &text_of(&drawn.ids), "a draw")
}

/// The reply's text begins an object, and is one where the reply ended by itself.
fn well_formed(out: &TextOutput, text: &[u8], what: &str) -> Check {
    let state = JsonState::new().feed_all(text);
    let shown = String::from_utf8_lossy(text);
    ensure(state.is_some() && !out.ids.is_empty(), || {
        format!("json, {what}: {shown:?} is not the beginning of a JSON object")
    })?;
    if out.stop == StopReason::Eos {
        let parsed = serde_json::from_slice::<serde_json::Value>(text);
        ensure(parsed.is_ok_and(|v| v.is_object()), || {
            format!("json, {what}: ended with {shown:?}, no JSON object")
        })?;
    }
    ensure(
        matches!(out.stop, StopReason::Eos | StopReason::MaxTokens),
        || format!("json, {what}: stopped with {:?}", out.stop),
    )
}
