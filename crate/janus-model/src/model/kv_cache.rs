//! Key/value cache for one attention layer: preallocated, written in place, grown by doubling.
//!
//! Appending a step writes `[B, kv_heads, T, head_dim]` into the next free positions instead of
//! concatenating, so a step costs O(T), not O(length); attention reads the filled prefix.

use burn::tensor::{DType, Device, Tensor, s};

#[derive(Clone, Debug)]
pub struct KvCache {
    /// `[B, kv_heads, capacity, head_dim]`
    k: Option<Tensor<4>>,
    v: Option<Tensor<4>>,
    len: usize,
    capacity_hint: usize,
}

impl KvCache {
    /// An empty cache expecting about `capacity_hint` positions.
    pub fn new(capacity_hint: usize) -> Self {
        Self {
            k: None,
            v: None,
            len: 0,
            capacity_hint: capacity_hint.max(1),
        }
    }

    /// Positions filled so far.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Append `k, v: [B, kv_heads, T, head_dim]`; returns the filled `[B, kv_heads, len, head_dim]`.
    pub fn append(&mut self, k: Tensor<4>, v: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        self.write(k, v);
        let (kc, vc) = self.buffers().expect("written above");
        (
            kc.clone().slice(s![.., .., 0..self.len]),
            vc.clone().slice(s![.., .., 0..self.len]),
        )
    }

    /// The whole preallocated buffers `[B, kv_heads, capacity, head_dim]` (positions `len..`
    /// unwritten), for kernels that read the filled prefix themselves.
    pub fn buffers(&self) -> Option<(&Tensor<4>, &Tensor<4>)> {
        self.k.as_ref().zip(self.v.as_ref())
    }

    /// Write `k, v: [B, kv_heads, T, head_dim]` at the next free positions (growing by doubling
    /// if a caller outruns its capacity hint).
    pub fn write(&mut self, k: Tensor<4>, v: Tensor<4>) {
        let [b, h, t, d] = k.dims();
        let len = self.len;
        self.reserve([b, h, t, d], &k.device(), k.dtype());
        let (kc, vc) = (self.k.take(), self.v.take());
        let range = len..len + t;
        self.k = kc.map(|kc| kc.slice_assign(s![.., .., range.clone()], k));
        self.v = vc.map(|vc| vc.slice_assign(s![.., .., range], v));
        self.len = len + t;
    }

    /// Make room for `t` more positions of `[B, kv_heads, t, head_dim]` (allocating, or growing
    /// by doubling), for a writer that fills them in place; then call [`Self::advance`].
    pub fn reserve(&mut self, [b, h, t, d]: [usize; 4], device: &Device, dtype: DType) {
        let needed = self.len + t;
        let capacity = self.capacity();
        if needed <= capacity {
            return;
        }
        let capacity = needed.max(capacity * 2).max(self.capacity_hint);
        self.grow_to(capacity, [b, h, d], device, dtype);
    }

    /// New buffers of `capacity` positions holding the filled prefix of the old ones.
    fn grow_to(&mut self, capacity: usize, [b, h, d]: [usize; 3], device: &Device, dtype: DType) {
        let len = self.len;
        let grow = |old: Option<Tensor<4>>| match old {
            Some(old) => prefix_copy(old, len, capacity),
            None => Tensor::<4>::zeros([b, h, capacity, d], (device, dtype)),
        };
        self.k = Some(grow(self.k.take()));
        self.v = Some(grow(self.v.take()));
    }

    /// Count `t` positions written in place after [`Self::reserve`].
    pub fn advance(&mut self, t: usize) {
        self.len += t;
    }

    /// A cache of its own (new buffers of `capacity` positions, at least `len`) holding the
    /// first `len` positions of this one, which stays as it is: kernels write caches in place,
    /// so a conversation forked from another's prefix must not share its buffers.
    pub fn fork(&self, len: usize, capacity: usize) -> KvCache {
        let len = len.min(self.len);
        let capacity = capacity.max(len).max(1);
        let Some((k, v)) = self.buffers() else {
            return KvCache::new(capacity);
        };
        KvCache {
            k: Some(prefix_copy(k.clone(), len, capacity)),
            v: Some(prefix_copy(v.clone(), len, capacity)),
            len,
            capacity_hint: capacity,
        }
    }

    /// Bytes of device memory the buffers hold (keys and values, filled or not).
    pub fn bytes(&self) -> u64 {
        [&self.k, &self.v]
            .into_iter()
            .flatten()
            .map(|t| t.dims().iter().product::<usize>() as u64 * t.dtype().size() as u64)
            .sum()
    }

    /// Positions the buffers hold (filled or not); 0 before the first write.
    pub fn capacity(&self) -> usize {
        self.k.as_ref().map_or(0, |k| k.dims()[2])
    }

    /// Keep only the first `len` positions (a kept conversation's shared prefix); the rest are
    /// written again by whatever follows. Longer than what is filled changes nothing.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Room for `total` positions in all, so that writers filling in place (the decode loop)
    /// never outrun the buffers: grows now (copying the filled prefix) if they are smaller, or
    /// raises the first allocation's size when there are none yet.
    pub fn ensure_capacity(&mut self, total: usize) {
        match self.k.as_ref() {
            None => self.capacity_hint = self.capacity_hint.max(total),
            Some(k) if self.capacity() < total => {
                // Exactly `total`, not doubled: a kept conversation's cache stays as large as
                // its turn needs.
                let [b, h, _, d] = k.dims();
                let (device, dtype) = (k.device(), k.dtype());
                self.grow_to(total, [b, h, d], &device, dtype);
            }
            Some(_) => {}
        }
    }

    /// Count positions `len..filled` as written by a writer that filled them in place without
    /// counting (the decode loop, whose cursor lives on the device).
    pub fn set_filled(&mut self, filled: usize) {
        debug_assert!(filled <= self.capacity(), "{filled} > {}", self.capacity());
        self.len = filled.min(self.capacity());
    }
}

/// New zeroed buffers `[B, kv_heads, capacity, head_dim]` holding the first `len` positions of
/// `old` (same shape but for its capacity, `len` at most that); `old` is only read.
fn prefix_copy(old: Tensor<4>, len: usize, capacity: usize) -> Tensor<4> {
    let [b, h, _, d] = old.dims();
    let fresh = Tensor::<4>::zeros([b, h, capacity, d], (&old.device(), old.dtype()));
    if len == 0 {
        return fresh;
    }
    fresh.slice_assign(s![.., .., 0..len], old.slice(s![.., .., 0..len]))
}
