//! The KV caches of the last chats, kept so that the next prompt prefills only what it does not
//! share with one of them. A chat sends its whole conversation every turn (the page, any
//! embedder, the reference's template); without this, turn n prefills turns 1..n again, and a
//! picture asked about in turn 1 goes through the vision tower again every turn. With it, a
//! follow-up question prefills its own few tokens, and "regenerate" (the same prompt again)
//! prefills one.
//!
//! Several conversations can be kept (two chat widgets on one page, an app that asks for a
//! title between turns): the next prompt starts from the one it shares the longest prefix with.
//! The others are dropped, least recently used first, beyond a count and a byte budget; the
//! last one used is always kept, except to make room within the budget for an image job's own
//! caches ([`PromptCache::make_room`]): a conversation that fits beside them outlives the job.
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

/// The kept caches of the last conversations.
pub struct PromptCache {
    /// Least recently used first.
    kept: Vec<Kept>,
    /// At most this many conversations.
    conversations: usize,
    /// Device bytes the conversations may hold together; the last one used is kept whatever
    /// its size.
    budget: u64,
}

struct Kept {
    /// One per filled cache position.
    keys: Vec<Key>,
    /// The first `prompt` positions were the prompt; the rest the tokens generated after it.
    prompt: usize,
    /// One per decoder layer, filled up to `keys.len()`.
    caches: Vec<KvCache>,
    /// Device bytes of `caches`.
    bytes: u64,
}

impl Default for PromptCache {
    fn default() -> Self {
        Self::new()
    }
}

impl PromptCache {
    /// One conversation: a chat that shares nothing with the last one replaces it.
    pub fn new() -> Self {
        Self::with_limits(1, 0)
    }

    /// Up to `conversations` (at least 1) within `budget` bytes of device memory together;
    /// the last one used is kept whatever its size.
    pub fn with_limits(conversations: usize, budget: u64) -> Self {
        Self {
            kept: Vec::new(),
            conversations: conversations.max(1),
            budget,
        }
    }

    /// Nothing kept, under the same limits.
    pub fn empty_like(&self) -> Self {
        Self::with_limits(self.conversations, self.budget)
    }

    /// Positions held, all conversations together (0: nothing kept).
    pub fn len(&self) -> usize {
        self.kept.iter().map(|k| k.keys.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// Conversations kept.
    pub fn conversations(&self) -> usize {
        self.kept.len()
    }

    /// Device bytes the kept caches hold.
    pub fn bytes(&self) -> u64 {
        self.kept.iter().map(|k| k.bytes).sum()
    }

    /// Drop what is kept (its GPU memory goes back to the allocator's pool).
    pub fn clear(&mut self) {
        self.kept.clear();
    }

    /// Caches for a prompt keyed `keys`, filled with the longest prefix it shares with a kept
    /// conversation: `(caches, shared)`. At least the prompt's last position is left to run (its
    /// logits choose the first new token), and a picture is never cut in two.
    ///
    /// Where the prompt goes on from that conversation's whole prompt (a follow-up question, a
    /// regenerated reply), the conversation's caches are taken and cut back: this turn replaces
    /// it. Where it only begins alike (another conversation with the same system prompt), the
    /// shared prefix is copied into new caches of `capacity` positions and the conversation is
    /// kept as it was (with room for one conversation only, it is taken: it would go anyway).
    ///
    /// `None` when none shares anything; then, where the count is full, the least recently
    /// used is dropped first, making room for the turn's own caches.
    pub(crate) fn take(&mut self, keys: &[Key], capacity: usize) -> Option<(Vec<KvCache>, usize)> {
        let best = (0..self.kept.len())
            .map(|i| (shared_prefix(&self.kept[i].keys, keys), i))
            .max();
        match best {
            Some((shared, i))
                if shared > 0 && (shared + 1 >= self.kept[i].prompt || self.conversations == 1) =>
            {
                let mut caches = self.kept.remove(i).caches;
                for cache in &mut caches {
                    cache.truncate(shared);
                }
                Some((caches, shared))
            }
            Some((shared, i)) if shared > 0 => {
                let caches = self.kept[i]
                    .caches
                    .iter()
                    .map(|c| c.fork(shared, capacity))
                    .collect();
                Some((caches, shared))
            }
            _ => {
                while self.kept.len() >= self.conversations {
                    self.kept.remove(0);
                }
                None
            }
        }
    }

    /// Keep `caches`, filled up to `keys.len()` positions of which the first `prompt` were the
    /// prompt, as the most recent conversation; then drop the least recently used beyond the
    /// count. Over the byte budget, the older ones first give back the room their turns had
    /// reserved and not filled (their caches copied down to what they hold), then the least
    /// recently used go.
    pub(crate) fn keep(&mut self, keys: Vec<Key>, caches: Vec<KvCache>, prompt: usize) {
        debug_assert!(caches.iter().all(|c| c.len() == keys.len()));
        if keys.is_empty() {
            return;
        }
        let bytes = caches.iter().map(KvCache::bytes).sum();
        self.kept.push(Kept {
            keys,
            prompt,
            caches,
            bytes,
        });
        while self.kept.len() > self.conversations {
            self.kept.remove(0);
        }
        let newest = self.kept.len() - 1;
        self.give_back(self.budget, newest);
        while self.kept.len() > 1 && self.bytes() > self.budget {
            self.kept.remove(0);
        }
    }

    /// Room within the budget for `other` bytes of caches that are no conversation's (an image
    /// job's), so that the conversations kept through it do not add to its peak beyond the
    /// budget: the kept ones first give back the room their turns reserved and did not fill,
    /// then the least recently used go, the last one used too where it does not fit beside
    /// `other`. A budget of 0 (`new()`) keeps nothing.
    pub fn make_room(&mut self, other: u64) {
        let room = self.budget.saturating_sub(other);
        self.give_back(room, self.kept.len());
        while self.bytes() > room {
            self.kept.remove(0);
        }
    }

    /// Least recently used first, the first `count` conversations copy their caches down to
    /// what they hold, until all of them together are within `room` bytes.
    fn give_back(&mut self, room: u64, count: usize) {
        for i in 0..count {
            if self.bytes() <= room {
                break;
            }
            let old = &mut self.kept[i];
            let filled = old.keys.len();
            if old.caches.iter().any(|c| c.capacity() > filled) {
                old.caches = old.caches.iter().map(|c| c.fork(filled, filled)).collect();
                old.bytes = old.caches.iter().map(KvCache::bytes).sum();
            }
        }
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

    /// A conversation's caches: two layers of `[1, 1, capacity, 2]` f32 filled to `keys`.
    fn caches(keys: &[Key], capacity: usize) -> Vec<KvCache> {
        let device = burn::tensor::Device::flex();
        (0..2)
            .map(|_| {
                let mut c = KvCache::new(capacity);
                c.reserve([1, 1, keys.len(), 2], &device, burn::tensor::DType::F32);
                c.advance(keys.len());
                c
            })
            .collect()
    }

    fn text(ids: &[u32]) -> Vec<Key> {
        ids.iter().map(|&id| Key::text(id)).collect()
    }

    #[test]
    fn the_prompt_starts_from_the_conversation_it_shares_most_with() {
        let mut kept = PromptCache::with_limits(4, u64::MAX);
        // A: a 3-token prompt and one generated token.
        let a = text(&[1, 2, 3, 4]);
        kept.keep(a.clone(), caches(&a, 8), 3);
        // B begins as A does (a system prompt): A's first position is copied, A stays whole.
        let b = text(&[1, 7, 8]);
        let (forked, shared) = kept.take(&b, 16).unwrap();
        assert_eq!((shared, forked[0].len(), forked[0].capacity()), (1, 1, 16));
        assert_eq!((kept.conversations(), kept.len()), (1, 4));
        kept.keep(b.clone(), caches(&b, 8), 3);
        assert_eq!((kept.conversations(), kept.len()), (2, 7));
        // 2 layers x keys and values x 8 positions x 2 floats x 4 bytes, twice.
        assert_eq!(kept.bytes(), 2 * 2 * 2 * 8 * 2 * 4);
        // A's follow-up goes on from A's whole prompt: A's caches are taken, B stays.
        let (got, shared) = kept.take(&text(&[1, 2, 3, 4, 5, 6]), 16).unwrap();
        assert_eq!((shared, got[0].len(), got[0].capacity()), (4, 4, 8));
        assert_eq!((kept.conversations(), kept.len()), (1, 3));
        // A regenerated reply (the prompt again, all but its last position shared) replaces B.
        let (_, shared) = kept.take(&b, 16).unwrap();
        assert_eq!((shared, kept.conversations()), (2, 0));
        // Nothing shared with what is kept: it stays while there is room.
        kept.keep(b.clone(), caches(&b, 8), 3);
        assert!(kept.take(&text(&[9, 9]), 16).is_none());
        assert_eq!(kept.conversations(), 1);
    }

    #[test]
    fn a_fork_copies_the_prefix_and_never_writes_into_the_conversation_it_came_from() {
        use burn::tensor::{Tensor, TensorData};
        let device = burn::tensor::Device::flex();
        let values = |v: &[f32]| {
            Tensor::<4>::from_data(TensorData::new(v.to_vec(), [1, 1, v.len() / 2, 2]), &device)
        };
        let read = |t: &Tensor<4>| t.to_data().try_to_vec::<f32>().unwrap();
        let mut source = KvCache::new(4);
        source.write(
            values(&[1., 2., 3., 4., 5., 6.]),
            values(&[7., 8., 9., 10., 11., 12.]),
        );
        let mut fork = source.fork(2, 5);
        assert_eq!((fork.len(), fork.capacity()), (2, 5));
        let (k, v) = fork.append(values(&[-1., -2.]), values(&[-3., -4.]));
        assert_eq!(read(&k), [1., 2., 3., 4., -1., -2.]);
        assert_eq!(read(&v), [7., 8., 9., 10., -3., -4.]);
        let (k, v) = source.buffers().unwrap();
        assert_eq!(&read(k)[..6], [1., 2., 3., 4., 5., 6.]);
        assert_eq!(&read(v)[..6], [7., 8., 9., 10., 11., 12.]);
        assert_eq!(source.len(), 3);
    }

    #[test]
    fn the_least_recently_used_go_first_beyond_the_count_and_the_budget() {
        let conv = |first: u32| text(&[first, 1, 2]);
        // By count: three kept, the fourth drops the first.
        let mut kept = PromptCache::with_limits(3, u64::MAX);
        for i in 0..4 {
            kept.keep(conv(i), caches(&conv(i), 4), 3);
        }
        assert_eq!(kept.conversations(), 3);
        assert!(kept.take(&conv(0), 4).is_none(), "the oldest was kept");
        // Nothing shared and the count full: one goes before the turn's own caches come.
        assert_eq!(kept.conversations(), 2);
        assert!(
            kept.take(&conv(1), 4).is_none(),
            "the second oldest was kept"
        );
        assert_eq!(kept.take(&conv(3), 4).unwrap().1, 2);
        // By bytes: room for two (filled as far as they reach: nothing to give back).
        let full = |i: u32| caches(&conv(i), 3);
        let one = full(0).iter().map(KvCache::bytes).sum::<u64>();
        let mut kept = PromptCache::with_limits(8, 2 * one);
        for i in 0..3 {
            kept.keep(conv(i), full(i), 3);
        }
        assert_eq!((kept.conversations(), kept.bytes()), (2, 2 * one));
        // Over the budget, the older ones are first copied down to what they hold: a cache of
        // 8 positions holding 3 then takes 3 positions' room, and three fit where two did.
        let roomy = |i: u32| caches(&conv(i), 8);
        let mut kept = PromptCache::with_limits(8, 8 * one / 3 + 2 * one);
        for i in 0..3 {
            kept.keep(conv(i), roomy(i), 3);
        }
        assert_eq!(kept.conversations(), 3);
        assert_eq!(kept.bytes(), 8 * one / 3 + 2 * one);
        let (older, shared) = kept.take(&text(&[0, 1, 2, 5]), 6).unwrap();
        assert_eq!((shared, older[0].capacity()), (3, 3));
        // The last one used stays, whatever its size.
        let mut kept = PromptCache::with_limits(8, 0);
        kept.keep(conv(5), caches(&conv(5), 4), 3);
        kept.keep(conv(6), caches(&conv(6), 4), 3);
        assert_eq!(kept.conversations(), 1);
        assert_eq!(kept.take(&conv(6), 4).unwrap().1, 2);
        // One conversation (new()): a prompt sharing nothing drops it.
        let mut kept = PromptCache::new();
        kept.keep(conv(1), caches(&conv(1), 4), 3);
        assert!(kept.take(&conv(2), 4).is_none());
        assert!(kept.is_empty());
        // ...and one that begins alike takes it (no copy: it would go anyway).
        kept.keep(conv(1), caches(&conv(1), 4), 3);
        let (taken, shared) = kept.take(&text(&[1, 5]), 4).unwrap();
        assert_eq!((shared, taken[0].capacity(), kept.is_empty()), (1, 4, true));
    }

    #[test]
    fn room_for_an_image_job_keeps_what_fits_beside_it_within_the_budget() {
        let conv = |first: u32| text(&[first, 1, 2]);
        let one = caches(&conv(0), 3).iter().map(KvCache::bytes).sum::<u64>();
        // Two conversations holding 3 positions, the newer in caches of 8, within a budget of
        // four conversations' full caches.
        let fresh = || {
            let mut kept = PromptCache::with_limits(4, 4 * one);
            kept.keep(conv(1), caches(&conv(1), 3), 3);
            kept.keep(conv(2), caches(&conv(2), 8), 3);
            kept
        };
        assert_eq!(fresh().bytes(), one + 8 * one / 3);
        // An image job needing a quarter of one: both fit beside it, untouched.
        let mut kept = fresh();
        kept.make_room(one / 4);
        assert_eq!((kept.conversations(), kept.bytes()), (2, one + 8 * one / 3));
        // Needing two: the newer gives back its unfilled room, and both stay.
        let mut kept = fresh();
        kept.make_room(2 * one);
        assert_eq!((kept.conversations(), kept.bytes()), (2, 2 * one));
        assert_eq!(kept.take(&text(&[2, 1, 2, 7]), 6).unwrap().1, 3);
        // Needing two and a half: the least recently used goes, the last one used stays.
        let mut kept = fresh();
        kept.make_room(2 * one + one / 2);
        assert_eq!((kept.conversations(), kept.bytes()), (1, one));
        assert!(kept.take(&conv(1), 4).is_none(), "the older one was kept");
        // Needing more than the room one leaves, or more than the budget: nothing is kept,
        // the last one used neither.
        let mut kept = fresh();
        kept.make_room(3 * one + one / 2);
        assert!(kept.is_empty());
        let mut kept = fresh();
        kept.make_room(u64::MAX);
        assert!(kept.is_empty());
        // No budget (one conversation, `new()`): an image job clears it.
        let mut kept = PromptCache::new();
        kept.keep(conv(1), caches(&conv(1), 3), 3);
        kept.make_room(0);
        assert!(kept.is_empty());
    }
}
