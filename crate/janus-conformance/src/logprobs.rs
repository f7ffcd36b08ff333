//! Log-probabilities (OpenAI's `logprobs`), checked on the raw case's greedy reply:
//!
//! - asked for, they change nothing: the same ids as the golden's;
//! - one entry per id, naming it, its alternatives most likely first;
//! - token 0's entry is `log_softmax` of the reference's first logits;
//! - greedy chose each step's most likely token, so each entry's first alternative is the
//!   token itself, at its own log-probability;
//! - the last token's entry (on a GPU: the decode loop's kept logits, read back) is what a
//!   prefill of the prompt and every earlier token gives at its end (another code path).

use std::ops::ControlFlow;

use janus_model::Loaded;
use janus_model::generate::logprobs::{TokenLogprob, token_logprob};
use janus_model::generate::sampling::SamplingParams;
use janus_model::generate::text::{TextRequest, generate_text};
use serde_json::Value;

use crate::cases::{Check, ensure, f32s, u32s};

const TOP: usize = 3;

pub(crate) async fn logprobs(m: &Loaded, case: &Value, prompt: &[u32], tol: f32) -> Check {
    let first = f32s(&case["first_logits"])?;
    let want = u32s(&case["output_ids"])?;
    let request = |prompt_ids: Vec<u32>, max_new_tokens, logprobs| TextRequest {
        prompt_ids,
        images: Vec::new(),
        max_new_tokens,
        sampling: SamplingParams::greedy(),
        stop_token: Some(m.tokenizer.special().eos),
        image_token: m.tokenizer.special().image,
        logprobs,
        json: None,
    };
    let run = |req: TextRequest| async move {
        generate_text(&m.model, &req, |_| ControlFlow::Continue(()))
            .await
            .map_err(|e| format!("logprobs: {e}"))
    };
    let max_new = case["max_new_tokens"]
        .as_u64()
        .ok_or("golden: max_new_tokens")? as usize;
    let out = run(request(prompt.to_vec(), max_new, Some(TOP))).await?;
    ensure(out.ids == want, || {
        format!(
            "logprobs: asked for, the ids are {:?}, golden {want:?}",
            out.ids
        )
    })?;
    ensure(out.logprobs.len() == out.ids.len(), || {
        format!(
            "logprobs: {} entries for {} ids",
            out.logprobs.len(),
            out.ids.len()
        )
    })?;
    // Logits agree within `tol` of their scale; a log-probability moves by at most twice that.
    let scale = first.iter().fold(1f32, |s, x| s.max(x.abs()));
    let near = |a: f32, b: f32| (a - b).abs() <= 2.0 * tol * scale;
    for (i, (entry, &id)) in out.logprobs.iter().zip(&out.ids).enumerate() {
        let (top_id, top_lp) = *entry.top.first().ok_or("logprobs: no alternatives")?;
        ensure(
            entry.id == id
                && entry.top.len() == TOP
                && entry.logprob <= 0.0
                && top_id == id
                && top_lp == entry.logprob
                && entry.top.windows(2).all(|w| w[0].1 >= w[1].1),
            || format!("logprobs: entry {i} {entry:?} for greedy id {id}"),
        )?;
    }
    let reference = token_logprob(&first, want[0], TOP);
    same(
        &out.logprobs[0],
        &reference,
        &near,
        "token 0 against the golden logits",
    )?;
    if let [earlier @ .., last] = out.ids.as_slice() {
        let whole = [prompt, earlier].concat();
        let again = run(request(whole, 1, None)).await?;
        let reference = token_logprob(&again.first_logits, *last, TOP);
        let entry = out.logprobs.last().ok_or("logprobs: none")?;
        same(entry, &reference, &near, "the last token against a prefill")?;
    }
    Ok(())
}

fn same(
    got: &TokenLogprob,
    want: &TokenLogprob,
    near: &impl Fn(f32, f32) -> bool,
    what: &str,
) -> Check {
    let values = |e: &TokenLogprob| e.top.iter().map(|t| t.1).collect::<Vec<_>>();
    ensure(
        got.id == want.id
            && near(got.logprob, want.logprob)
            && values(got)
                .iter()
                .zip(values(want))
                .all(|(a, b)| near(*a, b)),
        || format!("logprobs, {what}: {got:?}, expected {want:?}"),
    )
}
