//! Key/value cache for one attention layer: preallocated, written in place, grown by doubling.
//!
//! Appending a step writes `[B, kv_heads, T, head_dim]` into the next free positions instead of
//! concatenating, so a step costs O(T), not O(length); attention reads the filled prefix.

use burn::tensor::{Device, Tensor, s};

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
        let [b, h, t, d] = k.dims();
        let needed = self.len + t;
        let len = self.len;
        let (kc, vc) = match (self.k.take(), self.v.take()) {
            (Some(kc), Some(vc)) if needed <= kc.dims()[2] => (kc, vc),
            (old_k, old_v) => {
                let old_capacity = old_k.as_ref().map_or(0, |k| k.dims()[2]);
                let capacity = needed.max(old_capacity * 2).max(self.capacity_hint);
                let device: Device = k.device();
                let dtype = k.dtype();
                let grow = |old: Option<Tensor<4>>| {
                    let fresh = Tensor::<4>::zeros([b, h, capacity, d], (&device, dtype));
                    match old {
                        Some(old) if len > 0 => {
                            fresh.slice_assign(s![.., .., 0..len], old.slice(s![.., .., 0..len]))
                        }
                        _ => fresh,
                    }
                };
                (grow(old_k), grow(old_v))
            }
        };
        let range = len..needed;
        let kc = kc.slice_assign(s![.., .., range.clone()], k);
        let vc = vc.slice_assign(s![.., .., range], v);
        self.len = needed;
        let out = (
            kc.clone().slice(s![.., .., 0..needed]),
            vc.clone().slice(s![.., .., 0..needed]),
        );
        self.k = Some(kc);
        self.v = Some(vc);
        out
    }
}
