//! `janus chat`: one reply to `--prompt` or `--raw-prompt`, or with `--interactive` a
//! conversation: each line read from stdin is the user's next message, and each reply streams to
//! stdout (with `--json`, one object per turn). Every turn sends the whole conversation through
//! the chat template, as the page does, and starts from the cache the last turn kept
//! (`generate_text_with`): only what is new runs, and the pictures of the first message are not
//! encoded again. `--no-reuse` runs every turn's whole prompt (for comparison).

use std::io::{BufRead, IsTerminal, Write};
use std::ops::ControlFlow;

use janus_model::Loaded;
use janus_model::generate::json::JsonMode;
use janus_model::generate::logprobs::TokenLogprob;
use janus_model::generate::prompt_cache::PromptCache;
use janus_model::generate::sampling::SamplingParams;
use janus_model::generate::stop_text::StopText;
use janus_model::generate::text::{TextRequest, Watch, generate_text_with};
use janus_model::preprocess::image::{PreparedImage, preprocess};
use janus_model::preprocess::prompt::{DEFAULT_SYSTEM_PROMPT, Message, render_chat};
use serde_json::json;

use crate::args::ChatArgs;
use crate::commands::roles;

pub fn chat(loaded: &Loaded, args: &ChatArgs) -> Result<(), String> {
    // clap has checked the inputs: --prompt, --interactive or both, or --raw-prompt alone.
    let images = read_images(loaded, args)?;
    let mut kept = PromptCache::new();
    if let Some(raw) = &args.raw_prompt {
        reply(loaded, args, raw, images, &mut kept)?;
        return Ok(());
    }
    let system = args.system.as_deref().unwrap_or(DEFAULT_SYSTEM_PROMPT);
    let role_names = roles(args.roles, &loaded.tokenizer);
    let mut messages: Vec<Message> = Vec::new();
    let mut ask = |question: &str, messages: &mut Vec<Message>| -> Result<(), String> {
        // The pictures belong to the conversation's first message.
        messages.push(if messages.is_empty() {
            Message::user_with_images(args.image.len(), question)
        } else {
            Message::user(question)
        });
        let text = render_chat(system, messages, &role_names);
        let answer = reply(loaded, args, &text, images.clone(), &mut kept)?;
        messages.push(Message::assistant(answer.as_str()));
        Ok(())
    };
    if let Some(prompt) = &args.prompt {
        ask(prompt, &mut messages)?;
    }
    if !args.interactive {
        return Ok(());
    }
    // At a terminal, a prompt on stderr shows that the next message is awaited.
    let stdin = std::io::stdin();
    let at_terminal = stdin.is_terminal();
    let mut line = String::new();
    loop {
        if at_terminal {
            eprint!("> ");
        }
        line.clear();
        if stdin
            .lock()
            .read_line(&mut line)
            .map_err(|e| format!("stdin: {e}"))?
            == 0
        {
            return Ok(());
        }
        let question = line.trim();
        if !question.is_empty() {
            ask(question, &mut messages)?;
        }
    }
}

fn read_images(loaded: &Loaded, args: &ChatArgs) -> Result<Vec<PreparedImage>, String> {
    let size = loaded.model.config().vision.image_size;
    args.image
        .iter()
        .map(|path| {
            let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            preprocess(&bytes, size).map_err(|e| format!("{}: {e}", path.display()))
        })
        .collect()
}

/// One turn: `text` (a rendered conversation or a raw prompt) tokenised, its placeholders
/// expanded, the reply streamed (or printed as one JSON object); returns the reply's text.
fn reply(
    loaded: &Loaded,
    args: &ChatArgs,
    text: &str,
    images: Vec<PreparedImage>,
    kept: &mut PromptCache,
) -> Result<String, String> {
    let tok = &loaded.tokenizer;
    let ids = tok.encode(text).map_err(|e| e.to_string())?;
    let (prompt_ids, wanted) = tok.expand_images(&ids, loaded.model.config().image_tokens());
    if wanted != images.len() {
        return Err(format!(
            "the prompt has {wanted} <image_placeholder> but {} --image were given",
            images.len()
        ));
    }
    let req = TextRequest {
        prompt_ids: prompt_ids.clone(),
        images,
        max_new_tokens: args.max_new_tokens,
        sampling: SamplingParams {
            temperature: args.temperature,
            top_k: args.top_k,
            top_p: args.top_p,
            seed: args.seed,
        },
        stop_token: (!args.ignore_eos).then_some(tok.special().eos),
        image_token: tok.special().image,
        logprobs: args.logprobs,
        json: args.json_object.then(|| JsonMode::new(tok.json_table())),
    };
    let mut stops = StopText::new(args.stops.clone()).map_err(|e| e.to_string())?;
    let mut stream = tok.stream();
    let mut stdout = std::io::stdout();
    let streaming = !args.json;
    let mut show = |text: &str| {
        if streaming && !text.is_empty() {
            let _ = stdout.write_all(text.as_bytes());
            let _ = stdout.flush();
        }
    };
    let reuse = (!args.no_reuse).then_some(kept);
    // A long prompt's passes (seconds each on a CPU adapter at full size), said on stderr.
    let reading = std::cell::Cell::new(false);
    let watch = Watch {
        token: |id| {
            if reading.replace(false) {
                eprintln!();
            }
            let piece = stream.push(id).ok().flatten().unwrap_or_default();
            let pushed = stops.push(&piece);
            show(&pushed.shown);
            pushed.flow()
        },
        prompt: |read, of| {
            reading.set(true);
            eprint!("\rreading the prompt: {read} of {of} positions");
            ControlFlow::Continue(())
        },
    };
    let out = pollster::block_on(generate_text_with(&loaded.model, &req, reuse, watch))
        .map_err(|e| e.to_string())?;
    if reading.get() {
        eprintln!(); // read, and no token followed
    }
    // What was held back and is not a stop sequence (nothing after one) is shown now.
    show(&stops.finish());
    let text = stops
        .reply(|| tok.decode(&out.ids))
        .map_err(|e| e.to_string())?;
    let stop = out.stop.as_str();
    if args.json {
        println!(
            "{}",
            json!({
                "prompt_ids": prompt_ids,
                "output_ids": out.ids,
                "text": text,
                "stop": stop,
                "reused": out.reused,
                "logprobs": args.logprobs.map(|_| logprobs_json(tok, &out.logprobs)),
            })
        );
    } else {
        println!();
    }
    Ok(text)
}

/// Each token as `{id, token, bytes, logprob, top_logprobs: [{id, token, bytes, logprob}]}`
/// (`bytes`: what a byte-level token stands for, which may be part of a character).
fn logprobs_json(
    tok: &janus_model::tokenizer::JanusTokenizer,
    entries: &[TokenLogprob],
) -> serde_json::Value {
    let one = |id: u32, logprob: f32| {
        let bytes = tok.token_bytes(id);
        json!({
            "id": id,
            "token": String::from_utf8_lossy(&bytes),
            "bytes": bytes,
            "logprob": logprob,
        })
    };
    entries
        .iter()
        .map(|e| {
            let mut entry = one(e.id, e.logprob);
            let top: Vec<_> = e.top.iter().map(|&(id, lp)| one(id, lp)).collect();
            entry["top_logprobs"] = top.into();
            entry
        })
        .collect()
}
