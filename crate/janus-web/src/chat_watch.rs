//! What a chat tells the page as it runs (`Engine::chat`): each new token's piece of text (held
//! back where it may begin a stop sequence), its id and, where the request asked, its
//! log-probabilities; and a long prompt's passes. The callbacks steer: `false` stops.

use std::ops::ControlFlow;

use janus_model::generate::logprobs::TokenLogprob;
use janus_model::generate::stop_text::StopText;
use janus_model::generate::text::{StopReason, TextWatch};
use janus_model::tokenizer::{JanusTokenizer, TextStream};
use js_sys::{Array, Object};
use wasm_bindgen::JsValue;

use crate::engine::{Steer, set};

pub(crate) struct ChatWatch<'a> {
    tok: &'a JanusTokenizer,
    stream: TextStream<'a>,
    /// The stop sequences; after the chat, the text they let through (`StopText::reply`).
    pub stops: StopText,
    /// `onToken(piece, id, logprobs?)`.
    pub steer: Steer<'a>,
    /// `onPrompt(read, total)`, where one was given.
    pub reading: Option<Steer<'a>>,
    /// The next id's entry, as JavaScript (`onToken`'s third argument; undefined if not asked).
    entry: JsValue,
    /// Every entry so far, in order (the result's `logprobs`).
    pub entries: Array,
}

impl<'a> ChatWatch<'a> {
    pub fn new(
        tok: &'a JanusTokenizer,
        stops: StopText,
        steer: Steer<'a>,
        reading: Option<Steer<'a>>,
    ) -> Self {
        Self {
            tok,
            stream: tok.stream(),
            stops,
            steer,
            reading,
            entry: JsValue::UNDEFINED,
            entries: Array::new(),
        }
    }
}

impl TextWatch for &mut ChatWatch<'_> {
    fn token(&mut self, id: u32) -> ControlFlow<StopReason> {
        let piece = self.stream.push(id).ok().flatten().unwrap_or_default();
        let pushed = self.stops.push(&piece);
        let flow = pushed.flow();
        let entry = std::mem::replace(&mut self.entry, JsValue::UNDEFINED);
        let steered = self.steer.call(&[pushed.shown.into(), id.into(), entry]);
        // A stop sequence ends the reply whatever the callback said.
        flow?;
        steered.map_break(|()| StopReason::Cancelled)
    }

    fn prompt(&mut self, read: usize, of: usize) -> ControlFlow<()> {
        match self.reading.as_mut() {
            Some(steer) => steer.call(&[(read as u32).into(), (of as u32).into()]),
            None => ControlFlow::Continue(()),
        }
    }

    fn logprob(&mut self, entry: &TokenLogprob) {
        let js = entry_js(self.tok, entry.id, entry.logprob);
        let top: Array = entry
            .top
            .iter()
            .map(|&(id, logprob)| JsValue::from(entry_js(self.tok, id, logprob)))
            .collect();
        set(&js, "topLogprobs", top);
        self.entries.push(&js);
        self.entry = js.into();
    }
}

/// `{id, token, bytes, logprob}`: `bytes` are what the token stands for (a byte-level token may
/// hold part of a character), `token` their text (U+FFFD for a partial character).
fn entry_js(tok: &JanusTokenizer, id: u32, logprob: f32) -> Object {
    let bytes = tok.token_bytes(id);
    let js = Object::new();
    set(&js, "id", id);
    set(&js, "token", String::from_utf8_lossy(&bytes).into_owned());
    let numbers: Array = bytes.iter().map(|&b| JsValue::from(b)).collect();
    set(&js, "bytes", numbers);
    set(&js, "logprob", f64::from(logprob));
    js
}
