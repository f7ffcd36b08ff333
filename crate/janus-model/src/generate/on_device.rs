//! Token choice on the GPU (`shaders/sample.wgsl`) where the kernels run: the generation loops
//! then feed the chosen ids into the next step as device tensors. Elsewhere the host sampler
//! chooses (the reference, and every non-wgpu device).

use burn::tensor::{Device, Int, Tensor};

use super::sampling::SamplingParams;
use crate::error::JanusError;

/// Steps of an image between readbacks of the chosen codes (for progress, preview and
/// cancellation): the GPU runs ahead of the host by at most this many steps.
pub const IMAGE_READBACK_EVERY: usize = 16;

/// True when `device` chooses tokens itself.
pub fn available(device: &Device) -> bool {
    crate::quant::device::kernel_available(device)
}

/// The ids chosen from `logits: [rows, K]` -> `[rows, 1]`; `cfg_weight` pairs the rows
/// (conditional, unconditional). Only call where [`available`] holds.
pub fn choose(
    logits: Tensor<2>,
    cfg_weight: Option<f32>,
    sampling: &SamplingParams,
    step: usize,
) -> Tensor<2, Int> {
    #[cfg(feature = "wgpu-kernels")]
    {
        use crate::kernels::sample::{SampleStep, sample};
        sample(
            logits,
            &SampleStep {
                cfg_weight,
                temperature: sampling.temperature,
                top_k: sampling.top_k.unwrap_or(0).min(u32::MAX as usize) as u32,
                top_p: sampling.top_p.unwrap_or(1.0),
                seed: sampling.seed,
                step: step as u32,
            },
        )
    }
    #[cfg(not(feature = "wgpu-kernels"))]
    {
        let _ = (logits, cfg_weight, sampling, step);
        unreachable!("token choice on the device needs the wgpu kernels (see `available`)")
    }
}

/// Read chosen ids back: `[rows, n]` -> row-major u32.
pub async fn read_ids(ids: Tensor<2, Int>) -> Result<Vec<u32>, JanusError> {
    let data = ids.into_data_async().await?;
    Ok(data.iter::<i64>().map(|v| v as u32).collect())
}
