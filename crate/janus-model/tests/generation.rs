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
        logprobs: None,
        json: None,
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
        logprobs: None,
        json: None,
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
        logprobs: None,
        json: None,
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
            logprobs: None,
            json: None,
        };
        pollster::block_on(generate_text(&m.model, &req, |_| ControlFlow::Continue(()))).unwrap()
    };
    let ab = run(vec![a.clone(), b.clone()]);
    let ba = run(vec![b, a]);
    assert_eq!(ab.ids.len(), 4);
    // Each placeholder run takes its own image, in order.
    assert_ne!(ab.first_logits, ba.first_logits);
}

/// Log-probabilities asked for a sampled reply: the same ids as without (the draw is not
/// touched), one entry per id, each heard just before its id, and each the log-softmax of the
/// logits a prefill of the prompt and every earlier token gives (the reference's first logits
/// for token 0, from the golden). More than 20 alternatives is refused before anything runs.
#[test]
fn log_probabilities_describe_the_draw_without_changing_it() {
    use janus_model::generate::logprobs::{TokenLogprob, token_logprob};
    let m = load_fixture("tiny-b-hf");
    let plain = text_req(&m, sampled(3), 12);
    let asked = TextRequest {
        logprobs: Some(4),
        ..plain.clone()
    };
    struct Heard(Vec<TokenLogprob>, Vec<u32>, bool);
    impl TextWatch for &mut Heard {
        fn token(&mut self, id: u32) -> ControlFlow<StopReason> {
            // Each id comes right after its own entry.
            self.2 &= self.0.last().map(|e| e.id) == Some(id) && self.0.len() == self.1.len() + 1;
            self.1.push(id);
            ControlFlow::Continue(())
        }
        fn logprob(&mut self, entry: &janus_model::generate::logprobs::TokenLogprob) {
            self.0.push(entry.clone());
        }
    }
    let mut heard = Heard(Vec::new(), Vec::new(), true);
    let out = pollster::block_on(generate_text_with(&m.model, &asked, None, &mut heard)).unwrap();
    let without = run(&m, &plain);
    assert_eq!(
        out.ids, without.ids,
        "asking for log-probabilities changed the draw"
    );
    assert!(without.logprobs.is_empty());
    assert_eq!(out.logprobs.len(), out.ids.len());
    assert_eq!(heard.0, out.logprobs);
    assert!(heard.2, "an entry was not heard just before its id");
    let golden_first = f32s(&golden("tiny-b")["cases"]["text"]["first_logits"]);
    let mut not_the_top = 0;
    for (i, entry) in out.logprobs.iter().enumerate() {
        let logits = if i == 0 {
            golden_first.clone()
        } else {
            let prefix = TextRequest {
                prompt_ids: [plain.prompt_ids.as_slice(), &out.ids[..i]].concat(),
                max_new_tokens: 1,
                ..plain.clone()
            };
            run(&m, &prefix).first_logits
        };
        let want = token_logprob(&logits, out.ids[i], 4);
        assert_eq!(entry.top.len(), 4);
        assert_eq!(entry.id, out.ids[i]);
        assert!(
            (entry.logprob - want.logprob).abs() < 1e-4,
            "token {i}: {entry:?} against {want:?}"
        );
        for (got, want) in entry.top.iter().zip(&want.top) {
            assert!(
                (got.1 - want.1).abs() < 1e-4,
                "token {i}: {entry:?} against {want:?}"
            );
        }
        not_the_top += usize::from(entry.top[0].0 != entry.id);
    }
    // A draw at temperature 1 from the top 40 does not always take the most likely token.
    assert!(
        not_the_top > 0,
        "every sampled token was the most likely one"
    );
    let too_many = TextRequest {
        logprobs: Some(21),
        ..plain
    };
    let refused = pollster::block_on(generate_text(&m.model, &too_many, |_| {
        ControlFlow::Continue(())
    }));
    assert!(refused.unwrap_err().to_string().contains("at most 20"));
}

/// The bytes each token of a reply stands for add up to the reply's text, a character split
/// over two tokens included (byte-level BPE).
#[test]
fn token_bytes_spell_the_text() {
    let m = load_fixture("tiny-b-hf");
    let tok = &m.tokenizer;
    let text = "héllo wörld, 日本 ✓ 42";
    let encoded = tok.encode(text).unwrap();
    // Without the BOS the tokenizer puts first.
    assert_eq!(encoded[0], tok.special().bos);
    let ids = &encoded[1..];
    let bytes: Vec<u8> = ids.iter().flat_map(|&id| tok.token_bytes(id)).collect();
    let shown = tok.decode(ids).unwrap();
    assert_eq!(String::from_utf8(bytes).unwrap(), shown);
    assert!(shown.contains("日本"), "{shown:?}");
    // Some token carries part of a character: its bytes alone are no string.
    assert!(
        ids.iter()
            .any(|&id| std::str::from_utf8(&tok.token_bytes(id)).is_err())
    );
    // A special token is its text; an id past the text vocabulary is nothing.
    let eos = tok.special().eos;
    assert_eq!(tok.token_bytes(eos), janus_model::tokenizer::EOS.as_bytes());
    assert!(tok.token_bytes(u32::MAX).is_empty());
}

/// JSON replies: drawn with many seeds from the random-weight model, every reply's text is the
/// beginning of a JSON object, every reply that ended by itself is one (serde_json reads it as an
/// object), and some did; the same seed gives the same reply; without a stop token the reply
/// ends as the object closes; a table for another vocabulary is refused.
#[test]
fn json_replies_are_json_objects() {
    use janus_model::generate::json::{JsonMode, JsonState, TokenTable};
    let m = load_fixture("tiny-b-hf");
    let tok = &m.tokenizer;
    let text_of =
        |ids: &[u32]| -> Vec<u8> { ids.iter().flat_map(|&id| tok.token_bytes(id)).collect() };
    let plain = text_req(&m, sampled(0), 160);
    let unconstrained = text_of(&run(&m, &plain).ids);
    assert!(JsonState::new().feed_all(&unconstrained).is_none());
    let json = |seed, stop_token| TextRequest {
        sampling: SamplingParams {
            temperature: 0.8,
            top_k: None,
            top_p: None,
            seed,
        },
        stop_token,
        json: Some(JsonMode::new(tok.json_table())),
        ..plain.clone()
    };
    let eos = Some(tok.special().eos);
    let mut complete = Vec::new();
    for seed in 0..12 {
        let out = run(&m, &json(seed, eos));
        let text = text_of(&out.ids);
        let shown = String::from_utf8_lossy(&text).into_owned();
        let state = JsonState::new().feed_all(&text);
        assert!(state.is_some(), "seed {seed}: {shown:?}");
        match out.stop {
            StopReason::Eos => {
                let value: serde_json::Value = serde_json::from_slice(&text).unwrap();
                assert!(value.is_object(), "seed {seed}: {shown:?}");
                complete.push((seed, out.ids.len(), shown));
            }
            StopReason::MaxTokens => assert!(!state.unwrap().is_complete()),
            other => panic!("seed {seed}: stopped with {other:?}"),
        }
    }
    eprintln!("complete JSON replies (seed, tokens, text): {complete:?}");
    assert!(!complete.is_empty(), "no reply ended within 160 tokens");
    // The same seed, the same reply; without a stop token it ends as the object closes.
    let (seed, len, text) = complete[0].clone();
    let again = run(&m, &json(seed, eos));
    assert_eq!(String::from_utf8_lossy(&text_of(&again.ids)), text);
    let unstopped = run(&m, &json(seed, None));
    assert_eq!(unstopped.ids.len(), len);
    assert_eq!(unstopped.stop, StopReason::Eos);
    // A table over another vocabulary is refused before anything runs.
    let other = TextRequest {
        json: Some(JsonMode::new(std::sync::Arc::new(TokenTable::new(
            tok.plain_tokens(),
            17,
        )))),
        ..plain.clone()
    };
    let refused = pollster::block_on(generate_text(&m.model, &other, |_| {
        ControlFlow::Continue(())
    }));
    assert!(refused.unwrap_err().to_string().contains("covers 17 ids"));
}
