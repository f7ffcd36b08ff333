//! The kept cache (`generate_text_with`): a prompt started from the last chat's cache gives what
//! the same prompt gives run afresh, and shares no more than the two prompts do. Asserts the
//! counts of reused positions too, so that a cache never taken (or taken too far) fails here.

use std::ops::ControlFlow;

use janus_model::Loaded;
use janus_model::generate::image::{ImageRequest, generate_image_codes};
use janus_model::generate::prompt_cache::PromptCache;
use janus_model::generate::sampling::SamplingParams;
use janus_model::generate::text::{StopReason, TextOutput, TextRequest, generate_text_with};
use janus_model::metrics::rel_err;
use janus_model::preprocess::image::PreparedImage;
use janus_model::tokenizer::RoleNames;
use serde_json::Value;

use crate::cases::{Check, Figures, Prompt, ensure, run_text, u32s};

/// New tokens of the turns the goldens do not cover (compared with a fresh run instead).
const NEW_TOKENS: usize = 8;

pub(crate) async fn kept_cache(
    m: &Loaded,
    g: &Value,
    roles: &RoleNames,
    picture: PreparedImage,
    tol: f32,
    fig: &mut Figures,
) -> Check {
    let tok = &m.tokenizer;
    let mut kept = PromptCache::new();

    // The two-turn chat: nothing kept yet, then the same prompt again (regenerate). Both
    // against the golden.
    let case = &g["cases"]["text"];
    let chat = Prompt::text(u32s(&case["prompt_ids"])?);
    let n = chat.ids.len();
    let what = "kept cache, text";
    let first = run_text(m, case, chat.clone(), what, tol, fig, Some(&mut kept)).await?;
    ensure(first.reused == 0, || {
        format!("{what}: {} reused from an empty cache", first.reused)
    })?;
    let again = run_text(m, case, chat.clone(), what, tol, fig, Some(&mut kept)).await?;
    ensure(again.reused == n - 1, || {
        format!(
            "{what} regenerated: {} of {n} prompt tokens reused",
            again.reused
        )
    })?;

    // A third turn as a chat sends it: the last prompt, the reply, its stop token, a new
    // question. The reply goes in as its own ids (a random model's reply need not tokenize
    // back to them), so the positions the decode loop filled are shared too: all of them but
    // the last token, which no step fed in unless it was the stop token.
    let mut follow = Prompt::text([chat.ids.as_slice(), again.ids.as_slice()].concat());
    if again.stop == StopReason::Eos {
        follow.ids.push(tok.special().eos);
    }
    let question = format!(
        "\n\n{}: And what comes next?\n\n{}:",
        roles.user, roles.assistant
    );
    let tail = tok.encode(&question).map_err(|e| e.to_string())?;
    // `encode` puts a BOS first; mid-conversation there is none.
    follow.ids.extend_from_slice(&tail[1..]);
    let what = "kept cache, follow-up turn";
    let from_kept = generate(m, follow.clone(), Some(&mut kept), what).await?;
    let reply_fed = n + again.ids.len() - 1;
    ensure(from_kept.reused >= reply_fed, || {
        format!(
            "{what}: {} reused, the last prompt and its reply are {}",
            from_kept.reused,
            reply_fed + 1
        )
    })?;
    let fresh = generate(m, follow, None, what).await?;
    same(&from_kept, &fresh, tol, what, fig)?;

    // The picture: the same question asked again reuses it, another picture under the same
    // ids shares nothing from the picture on (and answers as that picture does afresh).
    let case = &g["cases"]["understand"];
    let asking = Prompt {
        ids: u32s(&case["prompt_ids"])?,
        images: vec![picture.clone()],
    };
    let n = asking.ids.len();
    let what = "kept cache, understand";
    let asked = run_text(m, case, asking.clone(), what, tol, fig, Some(&mut kept)).await?;
    let again = run_text(m, case, asking.clone(), what, tol, fig, Some(&mut kept)).await?;
    ensure(again.reused == n - 1, || {
        format!("{what} again: {} of {n} prompt tokens reused", again.reused)
    })?;
    let image_token = tok.special().image;
    let placeholder = asking.ids.iter().position(|&id| id == image_token);
    let placeholder = placeholder.ok_or("golden: no image placeholder")?;
    let other = Prompt {
        images: vec![PreparedImage {
            pixels: picture.pixels.iter().rev().copied().collect(),
            ..picture
        }],
        ..asking
    };
    let what = "kept cache, another picture";
    let swapped = generate(m, other.clone(), Some(&mut kept), what).await?;
    ensure(swapped.reused <= placeholder, || {
        format!(
            "{what}: {} reused, the picture starts at {placeholder}",
            swapped.reused
        )
    })?;
    let fresh = generate(m, other, None, what).await?;
    same(&swapped, &fresh, tol, what, fig)?;
    let err = rel_err(&fresh.first_logits, &asked.first_logits);
    ensure(err > tol, || {
        format!("{what}: the logits of both pictures agree ({err:e}); the check proves nothing")
    })?;
    two_conversations(m, g, &tail[1..], asking.images[0].clone(), tol, fig).await?;
    through_an_image_job(m, g, &tail[1..], tol, fig).await
}

/// A conversation kept through an image job (a drawing asked for in the chat): the budget holds
/// both the conversation and the job's caches, so `make_room` leaves the conversation; the job
/// (stopped after a few image tokens) runs its own caches beside it, and the conversation's next
/// turn then goes on from it, giving what it gives run afresh. With room for the job's caches
/// only, the conversation goes.
async fn through_an_image_job(
    m: &Loaded,
    g: &Value,
    question: &[u32],
    tol: f32,
    fig: &mut Figures,
) -> Check {
    let (text, imagine) = (&g["cases"]["text"], &g["cases"]["imagine"]);
    let chat = Prompt::text(u32s(&text["prompt_ids"])?);
    let special = m.tokenizer.special();
    let drawing = ImageRequest {
        prompt_ids: u32s(&imagine["prompt_ids"])?,
        count: 1,
        cfg_weight: imagine["cfg_weight"].as_f64().ok_or("golden: cfg_weight")? as f32,
        sampling: SamplingParams::greedy(),
        pad_token: special.pad,
        preview_every: 0,
    };
    let what = "kept through an image job";
    // The conversation's caches: its prompt and the room for its reply.
    let held = (chat.ids.len() + NEW_TOKENS) as u64 * m.model.kv_bytes_per_position();
    let own = drawing.cache_bytes(&m.model);
    // Room for the job's caches and a little: the conversation goes.
    let mut kept = PromptCache::with_limits(4, held / 2 + own);
    generate(m, chat.clone(), Some(&mut kept), what).await?;
    kept.make_room(own);
    ensure(kept.is_empty(), || {
        format!(
            "{what}: {} bytes kept beside the job's {own} in a budget of {}",
            kept.bytes(),
            held / 2 + own
        )
    })?;
    // Room for both: the conversation stays while the job runs.
    let mut kept = PromptCache::with_limits(4, held + own);
    let out = generate(m, chat.clone(), Some(&mut kept), what).await?;
    kept.make_room(own);
    ensure(kept.conversations() == 1 && kept.bytes() == held, || {
        format!(
            "{what}: {} conversations of {} bytes kept; the conversation's caches are {held}",
            kept.conversations(),
            kept.bytes()
        )
    })?;
    let mut steps = 0;
    generate_image_codes(&m.model, &drawing, |_| {
        steps += 1;
        if steps < 4 {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(())
        }
    })
    .await
    .map_err(|e| format!("{what}: {e}"))?;
    let (kept_turn, fresh) = next_turn(m, &chat, &out, question, &mut kept, what).await?;
    same(&kept_turn, &fresh, tol, what, fig)
}

/// Two conversations taking turns in one kept cache (the text chat, then the picture question,
/// then each one's next turn): the second begins as the first does only in its first token(s),
/// so it starts from a copy of that prefix (the golden holds), and each next turn then goes on
/// from its own conversation, giving what it gives run afresh.
async fn two_conversations(
    m: &Loaded,
    g: &Value,
    question: &[u32],
    picture: PreparedImage,
    tol: f32,
    fig: &mut Figures,
) -> Check {
    let mut kept = PromptCache::with_limits(4, u64::MAX);
    let (text, understand) = (&g["cases"]["text"], &g["cases"]["understand"]);
    let a = Prompt::text(u32s(&text["prompt_ids"])?);
    let b = Prompt {
        ids: u32s(&understand["prompt_ids"])?,
        images: vec![picture],
    };
    let what = "two conversations";
    let a1 = run_text(m, text, a.clone(), what, tol, fig, Some(&mut kept)).await?;
    let b1 = run_text(m, understand, b.clone(), what, tol, fig, Some(&mut kept)).await?;
    ensure(b1.reused < 8 && kept.conversations() == 2, || {
        format!(
            "{what}: the picture question reused {} positions and left {} conversations kept",
            b1.reused,
            kept.conversations()
        )
    })?;
    for (first, out, name) in [(a, a1, "the chat's"), (b, b1, "the picture's")] {
        let what = format!("{what}, {name} next turn");
        let (kept_turn, fresh) = next_turn(m, &first, &out, question, &mut kept, &what).await?;
        same(&kept_turn, &fresh, tol, &what, fig)?;
    }
    Ok(())
}

/// A conversation's next turn (its prompt, its reply and stop token, `question`) run from `kept`,
/// which must reuse at least what the conversation's caches hold, and run afresh:
/// `(from kept, afresh)`, for [`same`].
async fn next_turn(
    m: &Loaded,
    first: &Prompt,
    out: &TextOutput,
    question: &[u32],
    kept: &mut PromptCache,
    what: &str,
) -> Check<(TextOutput, TextOutput)> {
    let mut next = first.clone();
    next.ids.extend_from_slice(&out.ids);
    if out.stop == StopReason::Eos {
        next.ids.push(m.tokenizer.special().eos);
    }
    next.ids.extend_from_slice(question);
    let kept_turn = generate(m, next.clone(), Some(kept), what).await?;
    // Every position but the reply's last token, which no step fed in unless it was EOS.
    let own = first.ids.len() + out.ids.len() - 1;
    ensure(kept_turn.reused >= own, || {
        format!(
            "{what}: {} reused, its own conversation holds {own}",
            kept_turn.reused
        )
    })?;
    Ok((kept_turn, generate(m, next, None, what).await?))
}

/// Greedy, `NEW_TOKENS` tokens, stopping at EOS.
async fn generate(
    m: &Loaded,
    prompt: Prompt,
    kept: Option<&mut PromptCache>,
    what: &str,
) -> Check<TextOutput> {
    let req = TextRequest {
        prompt_ids: prompt.ids,
        images: prompt.images,
        max_new_tokens: NEW_TOKENS,
        sampling: SamplingParams::greedy(),
        stop_token: Some(m.tokenizer.special().eos),
        image_token: m.tokenizer.special().image,
        logprobs: None,
        json: None,
    };
    generate_text_with(&m.model, &req, kept, |_| ControlFlow::Continue(()))
        .await
        .map_err(|e| format!("{what}: {e}"))
}

/// A run from the kept cache against the same prompt run afresh.
fn same(kept: &TextOutput, fresh: &TextOutput, tol: f32, what: &str, fig: &mut Figures) -> Check {
    let err = rel_err(&kept.first_logits, &fresh.first_logits);
    ensure(err < tol, || {
        format!("{what}: first-step logits rel err {err:e} against the prompt run afresh")
    })?;
    ensure(kept.ids == fresh.ids, || {
        format!("{what}: greedy ids {:?}, afresh {:?}", kept.ids, fresh.ids)
    })?;
    fig.worst_logits_rel_err = fig.worst_logits_rel_err.max(err);
    fig.text_ids_compared += kept.ids.len();
    Ok(())
}
