//! JSON replies (OpenAI's `response_format: {"type": "json_object"}`): each token is chosen only
//! among those that keep the reply's text the beginning of one JSON object, and the stop token
//! only once the object is complete, so a reply that ends by itself is one object, whatever the
//! model would have preferred. Where the budget runs out first, the text is a beginning of one.
//!
//! The grammar reads bytes (`grammar`); the vocabulary, sorted once per model, turns a state
//! into the set of tokens allowed next (`tokens`); a reply keeps its state and the masks of the
//! states it has seen (`JsonReply`). The set reaches the chooser as a bit mask: on the GPU a
//! buffer the host rewrites before each step (`shaders/sample.wgsl` treats a token outside it as
//! past the vocabulary's end), on the host as logits set aside.

pub mod grammar;
pub mod tokens;

use std::collections::HashMap;
use std::sync::Arc;

pub use grammar::JsonState;
pub use tokens::{Mask, TokenTable, allow, allows, mask_words};

/// A JSON reply as a request asks for it: the model's vocabulary sorted for the grammar, and the
/// state the reply starts from (nothing read, or the text of a reply being continued).
#[derive(Clone, Debug)]
pub struct JsonMode {
    pub table: Arc<TokenTable>,
    pub start: JsonState,
}

impl JsonMode {
    /// A reply from its beginning.
    pub fn new(table: Arc<TokenTable>) -> Self {
        Self {
            table,
            start: JsonState::new(),
        }
    }

    /// A reply that goes on from `text` (a continued assistant message), or `None` where the
    /// text is not the beginning of a JSON object.
    pub fn after(self, text: &[u8]) -> Option<Self> {
        let start = self.start.feed_all(text)?;
        Some(Self { start, ..self })
    }
}

/// States whose masks a reply keeps (12.8 KB each for Janus' vocabulary). A reply meets the
/// same few states again and again (inside a string value, after a comma at a given depth).
const KEPT_MASKS: usize = 64;

/// One reply's place in its JSON object.
pub struct JsonReply {
    table: Arc<TokenTable>,
    state: JsonState,
    stop: Option<u32>,
    masks: HashMap<JsonState, Arc<Mask>>,
}

impl JsonReply {
    /// A reply from where `mode` starts it, ending with `stop` (allowed only once the object is
    /// complete; without one, the reply ends there).
    pub fn new(mode: &JsonMode, stop: Option<u32>) -> Self {
        Self {
            table: mode.table.clone(),
            state: mode.start,
            stop,
            masks: HashMap::new(),
        }
    }

    /// True when the object is complete.
    pub fn is_complete(&self) -> bool {
        self.state.is_complete()
    }

    /// The ids the next token may be, as a bit mask over the logits' width. Empty only where
    /// the object is complete and there is no stop token (the reply is then over).
    pub fn mask(&mut self) -> Arc<Mask> {
        if let Some(mask) = self.masks.get(&self.state) {
            return mask.clone();
        }
        let mut mask = vec![0; mask_words(self.table.width())];
        if self.state.is_complete() {
            if let Some(stop) = self.stop.filter(|&s| (s as usize) < self.table.width()) {
                allow(&mut mask, stop);
            }
        } else {
            self.table.allowed(self.state, &mut mask);
        }
        let mask = Arc::new(mask);
        if self.masks.len() >= KEPT_MASKS {
            self.masks.clear();
        }
        self.masks.insert(self.state, mask.clone());
        mask
    }

    /// Whether the mask is empty (nothing may follow).
    pub fn is_over(&mut self) -> bool {
        self.mask().iter().all(|&w| w == 0)
    }

    /// Take the chosen token's bytes (the stop token ends the reply and reads nothing). An id
    /// the mask did not allow leaves the state as it was and says so.
    pub fn advance(&mut self, id: u32) -> Result<(), String> {
        if Some(id) == self.stop {
            return Ok(());
        }
        let bytes = self.table.bytes_of(id).unwrap_or_default();
        match self.state.feed_all(bytes).filter(|_| !bytes.is_empty()) {
            Some(next) => {
                self.state = next;
                Ok(())
            }
            None => Err(format!(
                "token {id} ({:?}) does not continue the JSON reply",
                String::from_utf8_lossy(bytes)
            )),
        }
    }

    /// Set aside every logit the mask leaves out (as NaN: the host sampler never chooses a NaN
    /// and leaves it out of top-k and top-p, as the GPU's chooser leaves out ids past the
    /// vocabulary).
    pub fn restrict(&mut self, logits: &mut [f32]) {
        let mask = self.mask();
        for (k, v) in logits.iter_mut().enumerate() {
            if !allows(&mask, k as u32) {
                *v = f32::NAN;
            }
        }
    }
}
