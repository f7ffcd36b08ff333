//! Where a decode step is, held on the device: the position it writes and the index of the token
//! it chooses. The fused decode kernels read both from here rather than from their launch
//! parameters, so one recorded launch sequence serves every step (`kernels::graph`): the host
//! moves the cursor with one small write and replays.

use burn::tensor::{Device, Int, Tensor};

use super::rope::Rope;

/// The decode state of one generation (wgpu with the kernels only).
#[derive(Debug)]
pub struct Cursor {
    /// `[4]` i32: the position this step writes, the index of the token it chooses, two unused.
    pub state: Tensor<1, Int>,
    /// `[capacity, 2, head_dim]` f32: cos and sin rows of every position the caches hold.
    pub tables: Tensor<3>,
}

impl Cursor {
    /// A cursor for caches of `capacity` positions, at position 0, token 0.
    pub fn new(rope: &Rope, capacity: usize, device: &Device) -> Self {
        Self {
            state: state_tensor(device),
            tables: rope.joint_table(capacity.max(1), device),
        }
    }

    /// Move to position `pos`, token `step`: ordered after every launch already issued on this
    /// thread and before every later one.
    pub fn set(&self, pos: usize, step: usize) {
        #[cfg(feature = "wgpu-kernels")]
        crate::kernels::memory::write_i32(&self.state, &[pos as i32, step as i32, 0, 0]);
        #[cfg(not(feature = "wgpu-kernels"))]
        let _ = (pos, step);
    }
}

fn state_tensor(device: &Device) -> Tensor<1, Int> {
    #[cfg(feature = "wgpu-kernels")]
    {
        crate::kernels::memory::i32_tensor(device, [4], &[0; 4])
    }
    #[cfg(not(feature = "wgpu-kernels"))]
    {
        let _ = device;
        unreachable!("the decode cursor is only built with the wgpu kernels")
    }
}
