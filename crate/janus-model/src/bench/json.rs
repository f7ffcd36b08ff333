//! What a JSON reply's grammar costs the host per step: the mask of allowed tokens worked out
//! afresh for each state a sample object passes through (a reply keeps the masks of states it
//! has met, so these are what a state costs the first time).

use std::collections::HashSet;

use crate::generate::json::{JsonState, TokenTable, mask_words};

/// A small object with every kind of value, nesting, escapes and characters beyond ASCII.
const SAMPLE: &str = r#"{"name": "Janus \"1.3B\"", "size": 1.3e9, "tags": ["multimodal", "日本", "✓"], "open": true, "parent": null, "nested": {"a": [1, -2, {"b": -0.5}], "c": {}}}"#;

/// Seconds per mask over the distinct states of [`SAMPLE`].
#[derive(Clone, Copy, Debug, Default)]
pub struct MaskTimes {
    pub states: usize,
    pub mean_s: f64,
    pub max_s: f64,
    /// Tokens allowed, averaged over the states.
    pub mean_allowed: f64,
}

/// A table of `count` words of lowercase letters (2 to 9 of them, half with a leading space),
/// every one of which a JSON string may hold: what a vocabulary of real words costs inside a
/// string value, where nearly every token is allowed and the walk reads nearly every byte (a
/// synthetic tokenizer's tokens, joined from random bytes, are mostly no UTF-8 and refused early).
pub fn words_table(count: usize, width: usize) -> TokenTable {
    let mut seed = 0x853c_49e6_748f_ea9bu64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let words = (0..count.min(width)).map(|id| {
        let len = 2 + next() % 8;
        let mut word: Vec<u8> = (0..len).map(|_| b'a' + (next() % 26) as u8).collect();
        if next() % 2 == 0 {
            word.insert(0, b' ');
        }
        (id as u32, word)
    });
    TokenTable::new(words, width)
}

/// Time `table`'s masks at each distinct state of [`SAMPLE`].
pub fn mask_times(table: &TokenTable, clock: &dyn Fn() -> f64) -> MaskTimes {
    let mut seen = HashSet::new();
    let mut state = JsonState::new();
    let (mut total, mut max, mut allowed) = (0.0, 0f64, 0u64);
    for &b in SAMPLE.as_bytes() {
        if seen.insert(state) {
            let mut mask = vec![0; mask_words(table.width())];
            let start = clock();
            table.allowed(state, &mut mask);
            let took = clock() - start;
            total += took;
            max = max.max(took);
            allowed += mask.iter().map(|w| u64::from(w.count_ones())).sum::<u64>();
        }
        state = state
            .feed(b)
            .expect("the sample is the beginning of an object");
    }
    let states = seen.len();
    MaskTimes {
        states,
        mean_s: total / states as f64,
        max_s: max,
        mean_allowed: allowed as f64 / states as f64,
    }
}
