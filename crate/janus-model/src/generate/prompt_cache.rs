//! The KV cache of the last chat, kept so that the next prompt prefills only what it does not
//! share with it. A chat sends its whole conversation every turn (the page, any embedder, the
//! reference's template); without this, turn n prefills turns 1..n again, and a picture asked
//! about in turn 1 goes through the vision tower again every turn. With it, a follow-up question
//! prefills its own few tokens, and "regenerate" (the same prompt again) prefills one.
//!
//! What a cached position holds is keyed by its token id and, for an image placeholder, by the
//! picture it shows (a hash of the prepared pixels): the same ids over another picture share
//! nothing from that picture on. The caches are the model's own: whoever holds a
//! [`PromptCache`] clears it when the model changes.

use std::hash::{DefaultHasher, Hash, Hasher};

use crate::model::kv_cache::KvCache;
use crate::preprocess::image::PreparedImage;

/// What one cached position was computed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Key {
    id: u32,
    /// 0 for text; for an image placeholder, the hash of its picture (never 0).
    picture: u64,
}

impl Key {
    /// A position holding text (a prompt token or a generated one).
    pub(crate) fn text(id: u32) -> Self {
        Self { id, picture: 0 }
    }
}

/// The keys of a prompt: each run of `image_token` ids takes the next picture, in order (as
/// `prompt_embeddings` places them). Runs beyond the pictures given key as text (the prompt is
/// refused before it is run).
pub(crate) fn prompt_keys(ids: &[u32], images: &[PreparedImage], image_token: u32) -> Vec<Key> {
    let hashes: Vec<u64> = images.iter().map(picture_hash).collect();
    let mut run = 0usize;
    ids.iter()
        .enumerate()
        .map(|(i, &id)| {
            if id != image_token {
                return Key::text(id);
            }
            if starts_picture(ids, i, image_token) {
                run += 1;
            }
            hashes
                .get(run - 1)
                .map_or(Key::text(id), |&picture| Key { id, picture })
        })
        .collect()
}

/// Whether position `i` begins a run of `image_token` (one picture's placeholders).
pub(crate) fn starts_picture(ids: &[u32], i: usize, image_token: u32) -> bool {
    ids[i] == image_token && (i == 0 || ids[i - 1] != image_token)
}

/// A picture's key: SipHash of its size and pixels' bits, never 0 (0 marks text).
fn picture_hash(image: &PreparedImage) -> u64 {
    let mut h = DefaultHasher::new();
    image.size.hash(&mut h);
    for p in &image.pixels {
        p.to_bits().hash(&mut h);
    }
    h.finish().max(1)
}

/// The kept caches of one conversation (at most one: a second chat replaces it).
#[derive(Default)]
pub struct PromptCache {
    kept: Option<Kept>,
}

struct Kept {
    /// One per filled cache position.
    keys: Vec<Key>,
    /// One per decoder layer, filled up to `keys.len()`.
    caches: Vec<KvCache>,
}

impl PromptCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// Positions held (0: nothing kept).
    pub fn len(&self) -> usize {
        self.kept.as_ref().map_or(0, |k| k.keys.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drop what is kept (its GPU memory goes back to the allocator's pool).
    pub fn clear(&mut self) {
        self.kept = None;
    }

    /// Take the kept caches for a prompt keyed `keys`, cut back to the prefix the two share:
    /// `(caches, shared)`. At least the prompt's last position is left to run (its logits
    /// choose the first new token), and a picture is never cut in two. `None` (and nothing
    /// kept any more) when they share nothing.
    pub(crate) fn take(&mut self, keys: &[Key]) -> Option<(Vec<KvCache>, usize)> {
        let kept = self.kept.take()?;
        let shared = shared_prefix(&kept.keys, keys);
        if shared == 0 {
            return None;
        }
        let mut caches = kept.caches;
        for cache in &mut caches {
            cache.truncate(shared);
        }
        Some((caches, shared))
    }

    /// Keep `caches`, filled up to `keys.len()` positions, for the next prompt.
    pub(crate) fn keep(&mut self, keys: Vec<Key>, caches: Vec<KvCache>) {
        debug_assert!(caches.iter().all(|c| c.len() == keys.len()));
        self.kept = (!keys.is_empty()).then_some(Kept { keys, caches });
    }
}

/// How many leading positions of `next` can come from a cache filled for `kept`: their common
/// prefix, less one if it would cover all of `next`, then back to the start of a picture it
/// would cut.
fn shared_prefix(kept: &[Key], next: &[Key]) -> usize {
    let mut n = kept
        .iter()
        .zip(next)
        .take_while(|(a, b)| a == b)
        .count()
        .min(next.len().saturating_sub(1));
    while n > 0 && n < next.len() && next[n].picture != 0 && next[n - 1] == next[n] {
        n -= 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(seed: f32) -> PreparedImage {
        PreparedImage {
            pixels: vec![seed; 3 * 4 * 4],
            size: 4,
            resized: (4, 4),
        }
    }

    const IMG: u32 = 9;

    #[test]
    fn pictures_key_their_runs_in_order() {
        let ids = [1, IMG, IMG, 2, IMG, IMG, 3];
        let keys = prompt_keys(&ids, &[image(0.5), image(0.25)], IMG);
        assert_eq!(keys[0], Key::text(1));
        assert_eq!(keys[1], keys[2]);
        assert_ne!(keys[1].picture, 0);
        assert_ne!(keys[1], keys[4], "two pictures keyed alike");
        assert_eq!(keys[4], keys[5]);
        // The same pixels key alike wherever they come from.
        let again = prompt_keys(&[IMG, IMG], &[image(0.25)], IMG);
        assert_eq!(again[0], keys[4]);
        // A picture too many is refused later; here its run keys as text.
        let short = prompt_keys(&ids, &[image(0.5)], IMG);
        assert_eq!(short[4], Key::text(IMG));
    }

    #[test]
    fn the_shared_prefix_leaves_one_position_and_keeps_pictures_whole() {
        let k = |ids: &[u32], imgs: &[PreparedImage]| prompt_keys(ids, imgs, IMG);
        let turn1 = k(&[1, 2, IMG, IMG, 3, 4, 5], &[image(0.5)]);
        // A follow-up: everything kept is shared.
        let turn2 = k(&[1, 2, IMG, IMG, 3, 4, 5, 6, 7], &[image(0.5)]);
        assert_eq!(shared_prefix(&turn1, &turn2), 7);
        // The same prompt again: all but its last position.
        assert_eq!(shared_prefix(&turn1, &turn1), 6);
        // Another picture under the same ids: nothing from the picture on.
        let other = k(&[1, 2, IMG, IMG, 3, 4, 5], &[image(0.75)]);
        assert_eq!(shared_prefix(&turn1, &other), 2);
        // A prompt ending inside what is kept, one position into a picture: back to its start.
        let cut = k(&[1, 2, IMG, IMG], &[image(0.5)]);
        assert_eq!(shared_prefix(&turn1, &cut), 2);
        // Nothing shared.
        assert_eq!(shared_prefix(&turn1, &k(&[8, 2], &[])), 0);
        assert_eq!(shared_prefix(&[], &turn1), 0);
    }
}
