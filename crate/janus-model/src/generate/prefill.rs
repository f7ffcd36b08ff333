//! A chat prompt's prefill, pass by pass where it is long, so that its caller can say how far it
//! has read and stop it partway.
//!
//! A prompt whose attention scores would outgrow the model's bound runs in several passes of
//! query rows anyway ([`crate::model::llama::Llama::forward`]): for Janus-1.3B, one past 1,024
//! positions, such as a conversation with pictures that the kept cache no longer holds (after
//! a reload). On a modest GPU that is seconds to minutes before the first token. Here each
//! pass is submitted on its own and waited for (one value read back: a pause of one submission
//! in passes of hundreds of rows), so that the caller hears after each pass and may stop: the
//! caches then hold the passes that ran, which are valid positions of the prompt.

use std::ops::ControlFlow;

use burn::tensor::Tensor;

use super::read_f32;
use crate::error::JanusError;
use crate::model::Janus;
use crate::model::kv_cache::KvCache;

/// Run `x: [B, T, H]` (positions `caches.len() ..`) through the decoder as
/// [`Janus::forward_embeds`] does, in its passes. After each pass but the last, once the device
/// has run it, `on_pass(read, T)` says how many of the `T` positions are in the caches; `Break`
/// stops there (`None`). Returns the last pass's normed hidden states `[B, rows, H]`, whose last
/// row is the prompt's last position.
pub(crate) async fn prefill(
    model: &Janus,
    x: Tensor<3>,
    caches: &mut [KvCache],
    on_pass: &mut impl FnMut(usize, usize) -> ControlFlow<()>,
) -> Result<Option<Tensor<3>>, JanusError> {
    let [b, t, _] = x.dims();
    let start = caches.first().map_or(0, KvCache::len);
    // The rows of the last pass, which attends to the most positions: every pass fits within
    // the bound with as many (and `forward_embeds` runs each whole).
    let rows = model.llm.rows_per_pass(b, start + t).max(1);
    let mut read = 0;
    loop {
        let n = rows.min(t - read);
        let hidden = model.forward_embeds(x.clone().narrow(1, read, n), caches);
        read += n;
        if read == t {
            return Ok(Some(hidden));
        }
        // One value of the last row waits for the whole pass (each layer depends on the one
        // before it) without moving more than 4 bytes.
        read_f32(hidden.narrow(1, n - 1, 1).narrow(2, 0, 1)).await?;
        if on_pass(read, t).is_break() {
            return Ok(None);
        }
    }
}
