//! A full-size model with random weights in the exact shapes of a config, built tensor by tensor
//! through the same store as a download (so quantisation and upload cost what they cost there).

use crate::config::JanusConfig;
use crate::error::JanusError;
use crate::model::Janus;
use crate::weights::{TensorStore, Usage, expected_tensors};

/// The model, and the seconds spent in the store (convert, quantise, upload; until the device
/// has them) apart from generating the random values.
pub async fn random_model(
    config: &JanusConfig,
    mut store: TensorStore,
    seed: u64,
    clock: &dyn Fn() -> f64,
) -> Result<(Janus, f64), JanusError> {
    let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut load_s = 0.0;
    for spec in expected_tensors(config) {
        let Usage::Load(placements) = spec.usage else {
            continue;
        };
        for p in placements {
            // Row chunks, as a download arrives: host memory holds one chunk and a stage of
            // converted rows (`weights::incoming`).
            let mut incoming = store.begin(&p.target, &p.shape, None)?;
            let rows = p.shape.first().copied().unwrap_or(1);
            let step = incoming.chunk_rows();
            for start_row in (0..rows).step_by(step) {
                let n = (start_row + step).min(rows) - start_row;
                let values = random_values(&p.target, &p.shape, n * incoming.row_len, &mut rng);
                let start = clock();
                incoming.push(values, &p.target)?;
                load_s += clock() - start;
            }
            let start = clock();
            store.finish(incoming)?;
            load_s += clock() - start;
        }
    }
    let start = clock();
    let model = Janus::from_store(config, &mut store)?;
    // A readback waits for every queued upload.
    crate::generate::read_f32(burn::tensor::Tensor::<1>::zeros([1], model.device())).await?;
    Ok((model, load_s + clock() - start))
}

/// `n` values uniform in ±0.05, or 1 ± 0.05 for norm weights (a zero-mean norm would silence
/// each layer).
fn random_values(name: &str, shape: &[usize], n: usize, rng: &mut u64) -> Vec<f32> {
    let norm = shape.len() == 1
        && name.ends_with(".weight")
        && (name.contains("norm") || name.contains("ln"));
    let base = if norm { 1.0 } else { 0.0 };
    (0..n)
        .map(|_| {
            // xorshift64*: fast and deterministic.
            *rng ^= *rng >> 12;
            *rng ^= *rng << 25;
            *rng ^= *rng >> 27;
            let r = rng.wrapping_mul(0x2545_F491_4F6C_DD1D);
            base + (r >> 40) as f32 / (1u64 << 24) as f32 * 0.1 - 0.05
        })
        .collect()
}
