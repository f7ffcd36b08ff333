//! The vocabulary as a JSON reply walks it: every token's bytes, sorted, so that which tokens may
//! come next (those whose bytes `grammar` accepts from the reply's state) is found in one pass
//! that reads each shared prefix once and skips every token that starts with a refused one.
//!
//! Janus' 102,400 tokens share most of their bytes with the token before them in sorted order;
//! the pass feeds each token only the bytes it does not share, from the state the shared part
//! left (kept per byte), and a refused byte rules out the whole run of tokens that share it.

use super::grammar::JsonState;

/// Tokens that can be part of a JSON text, sorted by their bytes; built once per model.
pub struct TokenTable {
    /// Token ids in the order of their bytes.
    order: Vec<u32>,
    /// Every token's bytes back to back in `order`'s order: token `i`'s are
    /// `bytes[starts[i]..starts[i + 1]]`.
    bytes: Vec<u8>,
    starts: Vec<u32>,
    /// How many leading bytes token `i` shares with token `i - 1` (0 for the first).
    shared: Vec<u32>,
    /// Each id's place in `order` (`u32::MAX`: not a JSON token).
    place: Vec<u32>,
    /// The logits' width: a mask has a bit for each of `width` ids.
    width: usize,
}

impl std::fmt::Debug for TokenTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenTable")
            .field("tokens", &self.order.len())
            .field("width", &self.width)
            .finish()
    }
}

/// A set of ids as bits: id `k` is bit `k % 32` of word `k / 32` (what `shaders/sample.wgsl`
/// reads).
pub type Mask = Vec<u32>;

/// Words of a mask over `width` ids.
pub fn mask_words(width: usize) -> usize {
    width.div_ceil(32)
}

/// Add id `k` to `mask`.
pub fn allow(mask: &mut [u32], k: u32) {
    mask[(k / 32) as usize] |= 1 << (k % 32);
}

/// True when `mask` holds `k`.
pub fn allows(mask: &[u32], k: u32) -> bool {
    mask.get((k / 32) as usize)
        .is_some_and(|w| (w >> (k % 32)) & 1 == 1)
}

impl TokenTable {
    /// The tokens JSON text may use, as `(id, bytes)` (the tokenizer's plain tokens: special
    /// and added ones left out by the caller), for logits `width` ids wide. Tokens with no
    /// bytes, and ids past `width`, can never be chosen and are left out.
    pub fn new(tokens: impl IntoIterator<Item = (u32, Vec<u8>)>, width: usize) -> Self {
        let mut tokens: Vec<(u32, Vec<u8>)> = tokens
            .into_iter()
            .filter(|(id, b)| !b.is_empty() && (*id as usize) < width)
            .collect();
        tokens.sort_unstable_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
        let mut table = Self {
            order: Vec::with_capacity(tokens.len()),
            bytes: Vec::new(),
            starts: vec![0],
            shared: Vec::with_capacity(tokens.len()),
            place: vec![u32::MAX; width],
            width,
        };
        let mut previous: &[u8] = &[];
        for (id, b) in &tokens {
            let shared = previous.iter().zip(b).take_while(|(x, y)| x == y).count();
            table.place[*id as usize] = table.order.len() as u32;
            table.order.push(*id);
            table.shared.push(shared as u32);
            table.bytes.extend_from_slice(b);
            table.starts.push(table.bytes.len() as u32);
            previous = b;
        }
        table
    }

    /// The ids a mask covers.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The bytes of token `id`, where it can be part of JSON text.
    pub fn bytes_of(&self, id: u32) -> Option<&[u8]> {
        let i = *self.place.get(id as usize)? as usize;
        let start = *self.starts.get(i)? as usize;
        Some(&self.bytes[start..self.starts[i + 1] as usize])
    }

    /// How many tokens the table holds.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// True when no token can be part of JSON text.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Add to `mask` every token whose bytes, read from `state`, leave the text the beginning of
    /// a JSON object.
    pub fn allowed(&self, state: JsonState, mask: &mut [u32]) {
        // states[d]: the state after the first d bytes of the token at hand.
        let mut states = Vec::with_capacity(64);
        states.push(state);
        // Length of the last refused prefix: every following token that shares at least this
        // many bytes with its predecessor starts with it too (sorted order keeps a prefix's
        // tokens together), and is refused without reading.
        let mut refused = usize::MAX;
        for (i, &id) in self.order.iter().enumerate() {
            let shared = self.shared[i] as usize;
            if shared >= refused {
                continue;
            }
            refused = usize::MAX;
            let bytes = &self.bytes[self.starts[i] as usize..self.starts[i + 1] as usize];
            states.truncate(shared + 1);
            let mut ok = true;
            for (d, &b) in bytes.iter().enumerate().skip(shared) {
                match states[d].feed(b) {
                    Some(next) => states.push(next),
                    None => {
                        refused = d + 1;
                        ok = false;
                        break;
                    }
                }
            }
            if ok {
                allow(mask, id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A vocabulary of every byte and a few thousand random strings over JSON's alphabet.
    fn vocabulary() -> Vec<(u32, Vec<u8>)> {
        let alphabet: &[u8] = b"{}[]:,\" \n\\-+.0123456789eEtrufalsn\xc3\xa9\xe6\x97\xa5xyz";
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut tokens: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
        for _ in 0..4000 {
            let len = 2 + next() % 6;
            tokens.push(
                (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .collect(),
            );
        }
        // Repeats, as a vocabulary may have (byte-identical tokens under different ids).
        tokens.push(b"\":".to_vec());
        tokens.push(b"\":".to_vec());
        tokens
            .into_iter()
            .enumerate()
            .map(|(i, b)| (i as u32, b))
            .collect()
    }

    /// The pass equals feeding every token from the state, at states along valid texts.
    #[test]
    fn the_walk_equals_reading_every_token() {
        let vocab = vocabulary();
        let width = vocab.len() + 7;
        let table = TokenTable::new(vocab.clone(), width);
        let text = "{\"name\": \"Jé日\", \"n\": [-1.5e3, 0, true, null], \"o\": {\"\\u00e9\": []}}";
        let mut state = JsonState::new();
        let mut checked = 0;
        for (at, &b) in text.as_bytes().iter().enumerate() {
            let mut fast = vec![0; mask_words(width)];
            table.allowed(state, &mut fast);
            for (id, bytes) in &vocab {
                let slow = state.feed_all(bytes).is_some();
                assert_eq!(allows(&fast, *id), slow, "at {at}, token {bytes:?}");
            }
            checked += fast.iter().map(|w| w.count_ones()).sum::<u32>();
            state = state.feed(b).unwrap();
        }
        assert!(state.is_complete());
        // Nothing may follow a complete object.
        let mut after = vec![0; mask_words(width)];
        table.allowed(state, &mut after);
        assert!(after.iter().all(|&w| w == 0));
        assert!(checked > 10_000, "{checked}");
    }
}
