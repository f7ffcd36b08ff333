//! Generation controls beyond greedy decoding: seeded sampling, top-k / top-p, cancellation
//! between steps (the engine stays usable), ignoring EOS, batched images, streaming text.

mod common;

use std::ops::ControlFlow;

use common::*;
use janus_model::Loaded;
use janus_model::generate::image::{ImageRequest, decode_images, generate_image_codes};
use janus_model::generate::prompt_cache::PromptCache;
use janus_model::generate::sampling::SamplingParams;
use janus_model::generate::text::{
    StopReason, TextOutput, TextRequest, TextWatch, generate_text, generate_text_with,
};

fn text_req(m: &Loaded, sampling: SamplingParams, max_new: usize) -> TextRequest {
    let g = golden("tiny-b");
    TextRequest {
        prompt_ids: u32s(&g["cases"]["text"]["prompt_ids"]),
        images: vec![],
        max_new_tokens: max_new,
        sampling,
        stop_token: Some(m.tokenizer.special().eos),
        image_token: m.tokenizer.special().image,
    }
}

fn sampled(seed: u64) -> SamplingParams {
    SamplingParams {
        temperature: 1.0,
        top_k: Some(40),
        top_p: Some(0.9),
        seed,
    }
}

fn run(m: &Loaded, req: &TextRequest) -> janus_model::generate::text::TextOutput {
    pollster::block_on(generate_text(&m.model, req, |_| ControlFlow::Continue(()))).unwrap()
}

#[test]
fn seeded_sampling_is_reproducible_and_seed_dependent() {
    let m = load_fixture("tiny-b-hf");
    let a = run(&m, &text_req(&m, sampled(1), 24));
    let b = run(&m, &text_req(&m, sampled(1), 24));
    let c = run(&m, &text_req(&m, sampled(2), 24));
    assert_eq!(a.ids, b.ids);
    assert_ne!(a.ids, c.ids, "different seeds gave the same 24 tokens");
    let greedy = run(&m, &text_req(&m, SamplingParams::greedy(), 24));
    assert_ne!(a.ids, greedy.ids);
}

#[test]
fn cancelling_text_stops_between_tokens_and_the_engine_stays_usable() {
    let m = load_fixture("tiny-b-hf");
    let req = text_req(&m, SamplingParams::greedy(), 24);
    let mut seen = 0;
    let out = pollster::block_on(generate_text(&m.model, &req, |_| {
        seen += 1;
        if seen == 5 {
            ControlFlow::Break(StopReason::Cancelled)
        } else {
            ControlFlow::Continue(())
        }
    }))
    .unwrap();
    assert_eq!(out.stop, StopReason::Cancelled);
    assert_eq!(out.ids.len(), 5);
    let full = run(&m, &req);
    assert_eq!(
        &full.ids[..5],
        &out.ids[..],
        "a cancelled run is a prefix of the full run"
    );
    assert_eq!(
        full.ids,
        u32s(&golden("tiny-b")["cases"]["text"]["output_ids"])
    );
}

/// Hears a prompt's passes, stopping at the `stop_at`-th.
struct Passes {
    seen: Vec<(usize, usize)>,
    stop_at: usize,
}

impl TextWatch for &mut Passes {
    fn token(&mut self, _: u32) -> ControlFlow<StopReason> {
        ControlFlow::Continue(())
    }

    fn prompt(&mut self, read: usize, of: usize) -> ControlFlow<()> {
        self.seen.push((read, of));
        if self.seen.len() == self.stop_at {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

/// `req` from what `kept` holds, stopped at pass `stop_at` (0: never): its output and the passes
/// heard.
fn in_passes(
    m: &Loaded,
    req: &TextRequest,
    kept: &mut PromptCache,
    stop_at: usize,
) -> (TextOutput, Vec<(usize, usize)>) {
    let mut passes = Passes {
        seen: vec![],
        stop_at,
    };
    let out = pollster::block_on(generate_text_with(&m.model, req, Some(kept), &mut passes));
    (out.unwrap(), passes.seen)
}

#[test]
fn a_long_prompt_is_read_pass_by_pass_and_a_stop_keeps_what_was_read() {
    let mut m = load_fixture("tiny-b-hf");
    let req = text_req(&m, SamplingParams::greedy(), 24);
    let t = req.prompt_ids.len();
    assert_eq!(t, 175);
    // 40 query rows a pass: 40 rows × 175 positions × 3 heads × 4 bytes of scores.
    m.model.llm.set_score_bytes(40 * 175 * 3 * 4);
    let mut kept = PromptCache::with_limits(4, u64::MAX);
    let (out, seen) = in_passes(&m, &req, &mut kept, 2);
    // Heard after each pass the device ran; stopped after the second, before any token.
    assert_eq!(seen, [(40, t), (80, t)]);
    assert_eq!(out.stop, StopReason::Cancelled);
    assert!(out.ids.is_empty() && out.first_logits.is_empty());
    assert_eq!(kept.len(), 80, "the positions read are kept");
    // Asked again, the prompt goes on from there and gives the reference's reply.
    let (out, seen) = in_passes(&m, &req, &mut kept, 0);
    assert_eq!(out.reused, 80);
    assert_eq!(seen, [(40, t - 80), (80, t - 80)]);
    assert_eq!(
        out.ids,
        u32s(&golden("tiny-b")["cases"]["text"]["output_ids"])
    );
    // The same logits as the prompt read in one pass.
    m.model.llm.set_score_bytes(u64::MAX);
    let whole = run(&m, &req);
    let err = rel_err(&out.first_logits, &whole.first_logits);
    assert!(err < 1e-5, "first logits rel err {err:e}");
}

#[test]
fn eos_can_be_ignored() {
    // tiny-a's chat case stops on EOS; ignoring it runs to the budget.
    let m = load_fixture("tiny-a-hf");
    let g = golden("tiny-a");
    let case = &g["cases"]["text"];
    assert!(case["stopped_on_eos"].as_bool().unwrap());
    let golden_ids = u32s(&case["output_ids"]);
    let req = TextRequest {
        prompt_ids: u32s(&case["prompt_ids"]),
        images: vec![],
        max_new_tokens: golden_ids.len() + 3,
        sampling: SamplingParams::greedy(),
        stop_token: None,
        image_token: m.tokenizer.special().image,
    };
    let out = run(&m, &req);
    assert_eq!(out.stop, StopReason::MaxTokens);
    assert_eq!(out.ids.len(), golden_ids.len() + 3);
    assert_eq!(&out.ids[..golden_ids.len()], &golden_ids[..]);
    assert_eq!(out.ids[golden_ids.len()], m.tokenizer.special().eos);
}

#[test]
fn streamed_text_equals_decoded_text() {
    let m = load_fixture("tiny-a-deepseek");
    let req = text_req_for(&m, "tiny-a");
    let mut stream = m.tokenizer.stream();
    let mut streamed = String::new();
    let out = pollster::block_on(generate_text(&m.model, &req, |id| {
        if let Some(piece) = stream.push(id).unwrap() {
            streamed.push_str(&piece);
        }
        ControlFlow::Continue(())
    }))
    .unwrap();
    let decoded = m.tokenizer.decode(&out.ids).unwrap();
    assert_eq!(streamed, decoded);
    assert_eq!(
        decoded,
        golden("tiny-a")["cases"]["raw"]["text"].as_str().unwrap()
    );
}

fn text_req_for(m: &Loaded, config: &str) -> TextRequest {
    let g = golden(config);
    let case = &g["cases"]["raw"];
    TextRequest {
        prompt_ids: u32s(&case["prompt_ids"]),
        images: vec![],
        max_new_tokens: case["max_new_tokens"].as_u64().unwrap() as usize,
        sampling: SamplingParams::greedy(),
        stop_token: Some(m.tokenizer.special().eos),
        image_token: m.tokenizer.special().image,
    }
}

#[test]
fn image_sampling_cancellation_and_batches() {
    let m = load_fixture("tiny-a-hf");
    let g = golden("tiny-a");
    let ids = u32s(&g["cases"]["imagine"]["prompt_ids"]);
    let req = |count, seed| ImageRequest {
        prompt_ids: ids.clone(),
        count,
        cfg_weight: 5.0,
        sampling: SamplingParams {
            temperature: 1.0,
            top_k: None,
            top_p: None,
            seed,
        },
        pad_token: m.tokenizer.special().pad,
        preview_every: 0,
    };
    // Cancel after 10 steps.
    let out = pollster::block_on(generate_image_codes(&m.model, &req(2, 3), |s| {
        if s.step == 9 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }))
    .unwrap();
    assert!(out.cancelled);
    assert!(out.codes.iter().all(|c| c.len() == 10));
    // Sampled images of one batch differ from each other; the same seed repeats.
    let a = pollster::block_on(generate_image_codes(&m.model, &req(2, 3), |_| {
        ControlFlow::Continue(())
    }))
    .unwrap();
    let b = pollster::block_on(generate_image_codes(&m.model, &req(2, 3), |_| {
        ControlFlow::Continue(())
    }))
    .unwrap();
    assert_eq!(a.codes, b.codes);
    assert_ne!(a.codes[0], a.codes[1]);
    assert_eq!(
        &a.codes[0][..10],
        &out.codes[0][..10],
        "cancelled run is a prefix"
    );
    let images = pollster::block_on(decode_images(&m.model, &a.codes)).unwrap();
    assert_eq!(images.len(), 2);
    let size = m.model.config().gen_vision.image_size() as u32;
    assert_eq!(images[0].dimensions(), (size, size));
    // Previews every 96 steps: the rows complete so far at full width, one per image, and the
    // codes are the same as without them.
    let mut previews = Vec::new();
    let with = pollster::block_on(generate_image_codes(
        &m.model,
        &ImageRequest {
            preview_every: 96,
            ..req(2, 3)
        },
        |s| {
            if let Some(p) = s.preview {
                previews.push((s.step + 1, p.to_vec()));
            }
            ControlFlow::Continue(())
        },
    ))
    .unwrap();
    assert_eq!(with.codes, a.codes);
    let q = &m.model.config().gen_vision;
    let expected: Vec<usize> = (1..)
        .map(|k| 96 * k)
        .take_while(|&s| s < q.tokens_per_image())
        .collect();
    assert_eq!(
        previews.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        expected
    );
    for (done, p) in &previews {
        assert_eq!(p.len(), 2);
        let height = done / q.grid * q.image_size() / q.grid;
        assert_eq!(p[0].dimensions(), (size, height as u32));
        assert_ne!(p[0], p[1], "each image has its own preview");
    }
    // Invalid codes are refused, not decoded.
    assert!(pollster::block_on(decode_images(&m.model, &[vec![0; 575]])).is_err());
    assert!(pollster::block_on(decode_images(&m.model, &[vec![100_000; 576]])).is_err());
}

#[test]
fn several_images_in_one_prompt() {
    use janus_model::preprocess::image::preprocess;
    use janus_model::preprocess::prompt::{Message, render_chat};
    let m = load_fixture("tiny-a-hf");
    let tok = &m.tokenizer;
    let text = render_chat(
        "",
        &[Message::user_with_images(2, "Compare them.")],
        &tok.default_roles(),
    );
    let (ids, n) = tok.expand_images(&tok.encode(&text).unwrap(), m.model.config().image_tokens());
    assert_eq!(n, 2);
    let read = |f: &str| {
        preprocess(
            &std::fs::read(fixtures().join("images").join(f)).unwrap(),
            384,
        )
        .unwrap()
    };
    let (a, b) = (read("photo.png"), read("photo-portrait.png"));
    let run = |images| {
        let req = TextRequest {
            prompt_ids: ids.clone(),
            images,
            max_new_tokens: 4,
            sampling: SamplingParams::greedy(),
            stop_token: None,
            image_token: tok.special().image,
        };
        pollster::block_on(generate_text(&m.model, &req, |_| ControlFlow::Continue(()))).unwrap()
    };
    let ab = run(vec![a.clone(), b.clone()]);
    let ba = run(vec![b, a]);
    assert_eq!(ab.ids.len(), 4);
    // Each placeholder run takes its own image, in order.
    assert_ne!(ab.first_logits, ba.first_logits);
}
