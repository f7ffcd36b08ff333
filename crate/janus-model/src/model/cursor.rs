//! Where a decode step is, held on the device: the position it writes and the index of the token
//! it chooses. The fused decode kernels read both from here rather than from their launch
//! parameters, so one recorded launch sequence serves every step (`kernels::graph`): the host
//! moves the cursor with one small write and replays.

use burn::tensor::{Device, Int, Tensor};

use super::rope::Rope;

/// Words of the state before the position's cos and sin rows.
pub const STATE_HEADER: usize = 4;

/// The decode state of one generation (wgpu with the kernels only).
#[derive(Debug)]
pub struct Cursor {
    /// `[STATE_HEADER + 2 * head_dim]` i32: the position this step writes, the index of the
    /// token it chooses, two unused, then the position's cos row and sin row (f32 bits, as
    /// [`Rope`] computes them). The rotation reads its row from here, so the device holds no
    /// table of every position and the host writes one row per step (a kilobyte at D = 128)
    /// with the position it writes anyway.
    pub state: Tensor<1, Int>,
    /// Read by `set` where the kernels write the state (the fuzz build has none).
    #[cfg_attr(not(feature = "wgpu-kernels"), allow(dead_code))]
    rope: Rope,
}

impl Cursor {
    /// A cursor at position 0, token 0.
    pub fn new(rope: &Rope, device: &Device) -> Self {
        let words = state_words(rope, 0, 0);
        Self {
            state: state_tensor(device, &words),
            rope: rope.clone(),
        }
    }

    /// Move to position `pos`, token `step`: ordered after every launch already issued on this
    /// thread and before every later one.
    pub fn set(&self, pos: usize, step: usize) {
        #[cfg(feature = "wgpu-kernels")]
        crate::kernels::memory::write_i32(&self.state, &state_words(&self.rope, pos, step));
        #[cfg(not(feature = "wgpu-kernels"))]
        let _ = (pos, step);
    }
}

/// The state at position `pos`, token `step` ([`Cursor::state`]'s layout).
pub fn state_words(rope: &Rope, pos: usize, step: usize) -> Vec<i32> {
    let (cos, sin) = rope.row(pos);
    let header = [pos as i32, step as i32, 0, 0];
    header
        .into_iter()
        .chain(cos.iter().chain(&sin).map(|v| v.to_bits() as i32))
        .collect()
}

fn state_tensor(device: &Device, words: &[i32]) -> Tensor<1, Int> {
    #[cfg(feature = "wgpu-kernels")]
    {
        crate::kernels::memory::i32_tensor(device, [words.len()], words)
    }
    #[cfg(not(feature = "wgpu-kernels"))]
    {
        let _ = (device, words);
        unreachable!("the decode cursor is only built with the wgpu kernels")
    }
}
