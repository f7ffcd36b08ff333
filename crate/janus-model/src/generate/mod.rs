//! Generation loops over the model's single steps: text (chat, image understanding) and
//! text-to-image with classifier-free guidance. Both are `async` because every read of a device
//! tensor is asynchronous on WebGPU; natively they run under any executor (`pollster`).

pub mod image;
pub mod json;
pub mod logprobs;
pub mod on_device;
mod prefill;
pub mod prompt_cache;
pub mod sampling;
pub mod stop_text;
pub mod text;

/// Read a float tensor back to the host as f32.
pub async fn read_f32<const D: usize>(
    t: burn::tensor::Tensor<D>,
) -> Result<Vec<f32>, crate::error::JanusError> {
    let data = t.cast(burn::tensor::DType::F32).into_data_async().await?;
    data.try_to_vec::<f32>()
        .map_err(|e| crate::error::JanusError::Device(format!("{e:?}")))
}

/// Refuse an empty prompt, ids outside the embedding, and prompts that leave fewer than
/// `reserved` positions of the model's context.
pub(crate) fn check_prompt(
    lm: &crate::config::LlamaConfig,
    ids: &[u32],
    reserved: usize,
) -> Result<(), crate::error::JanusError> {
    use crate::error::PromptError;
    if ids.is_empty() {
        return Err(PromptError::Empty.into());
    }
    if ids.len() + reserved > lm.max_position_embeddings {
        return Err(PromptError::TooLong {
            tokens: ids.len(),
            reserved,
            context: lm.max_position_embeddings,
        }
        .into());
    }
    if let Some(&bad) = ids.iter().find(|&&id| id as usize >= lm.vocab_size) {
        return Err(PromptError::Setting(format!(
            "token id {bad} is outside the vocabulary of {}",
            lm.vocab_size
        ))
        .into());
    }
    Ok(())
}
