//! Generation loops over the model's single steps: text (chat, image understanding) and
//! text-to-image with classifier-free guidance. Both are `async` because every read of a device
//! tensor is asynchronous on WebGPU; natively they run under any executor (`pollster`).

pub mod image;
pub mod sampling;
pub mod text;

/// Read a float tensor back to the host as f32.
pub(crate) async fn read_f32<const D: usize>(
    t: burn::tensor::Tensor<D>,
) -> Result<Vec<f32>, crate::error::JanusError> {
    let data = t.cast(burn::tensor::DType::F32).into_data_async().await?;
    data.try_to_vec::<f32>()
        .map_err(|e| crate::error::JanusError::Device(format!("{e:?}")))
}
