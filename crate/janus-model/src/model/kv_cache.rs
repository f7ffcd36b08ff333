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
        let capacity = self.k.as_ref().map_or(0, |k| k.dims()[2]);
        if needed <= capacity {
            return;
        }
        let capacity = needed.max(capacity * 2).max(self.capacity_hint);
        let len = self.len;
        let grow = |old: Option<Tensor<4>>| {
            let fresh = Tensor::<4>::zeros([b, h, capacity, d], (device, dtype));
            match old {
                Some(old) if len > 0 => {
                    fresh.slice_assign(s![.., .., 0..len], old.slice(s![.., .., 0..len]))
                }
                _ => fresh,
            }
        };
        self.k = Some(grow(self.k.take()));
        self.v = Some(grow(self.v.take()));
    }

    /// Count `t` positions written in place after [`Self::reserve`].
    pub fn advance(&mut self, t: usize) {
        self.len += t;
    }
}
