//! The WGSL kernels against their plain-burn references, on whatever wgpu device the caller has:
//! lavapipe natively (`crate/janus-model/tests/kernels.rs`), SwiftShader in Chromium
//! (`crate/janus-web/tests/browser.rs`). Random inputs of awkward sizes; every product is also
//! checked against the host's f64 product of the dequantised weights.

use burn::tensor::{Device, Tensor, TensorData};
use janus_model::quant::device::QuantMatrix;
use janus_model::quant::{QuantFormat, dequantize, quantize};

/// (rows, cols, batch): one row; rows not a multiple of the workgroup; a batch of three; a
/// Janus-wide row; more rows than one grid dimension holds (65,535).
pub const QMATVEC_CASES: [(usize, usize, usize); 5] = [
    (1, 32, 1),
    (7, 96, 1),
    (65, 160, 3),
    (300, 2048, 2),
    (65_537, 32, 1),
];

/// Relative tolerance against the host's f64 product (f32 accumulation in another order).
const TOLERANCE: f32 = 1e-4;

fn random(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect()
}

/// `x [m, cols] · W^T` in f64 from the dequantised weights.
fn host_product(x: &[f32], w: &[f32], m: usize, rows: usize, cols: usize) -> Vec<f32> {
    let mut y = vec![0f32; m * rows];
    for b in 0..m {
        for r in 0..rows {
            let dot: f64 = (0..cols)
                .map(|c| x[b * cols + c] as f64 * w[r * cols + c] as f64)
                .sum();
            y[b * rows + r] = dot as f32;
        }
    }
    y
}

async fn read(t: Tensor<2>) -> Result<Vec<f32>, String> {
    t.into_data_async()
        .await
        .map_err(|e| format!("{e:?}"))?
        .try_to_vec::<f32>()
        .map_err(|e| format!("{e:?}"))
}

fn compare(name: &str, got: &[f32], want: &[f32]) -> Result<f32, String> {
    if got.len() != want.len() {
        return Err(format!(
            "{name}: {} values, expected {}",
            got.len(),
            want.len()
        ));
    }
    let scale = want.iter().fold(1f32, |m, v| m.max(v.abs()));
    let worst = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    if worst > TOLERANCE * scale {
        return Err(format!("{name}: max |diff| {worst} (values up to {scale})"));
    }
    Ok(worst / scale)
}

/// `shaders/qmatvec.wgsl` (Q8 and Q4) and the reference unpacking on `device` (wgpu) against
/// the host, on [`QMATVEC_CASES`]. Returns one line per case with the worst relative error.
pub async fn qmatvec_matches_reference(device: &Device) -> Result<Vec<String>, String> {
    let mut report = Vec::new();
    for format in [QuantFormat::Q8, QuantFormat::Q4] {
        for (i, &(rows, cols, m)) in QMATVEC_CASES.iter().enumerate() {
            let packed = quantize(&random(rows * cols, i as u64 + 1), cols, format);
            let mut w = vec![0f32; rows * cols];
            dequantize(&packed, &mut w);
            let x = random(m * cols, 100 + i as u64);
            let want = host_product(&x, &w, m, rows, cols);
            let xt = Tensor::<2>::from_data(TensorData::new(x, [m, cols]), device);
            let kernel = QuantMatrix::upload_as(&packed, device, true);
            let reference = QuantMatrix::upload_as(&packed, device, false);
            if !kernel.uses_kernel() || reference.uses_kernel() {
                return Err("upload_as did not pick the path asked for".into());
            }
            let name = format!("{} {rows}x{cols} batch {m}", format.name());
            let k = compare(
                &format!("kernel {name}"),
                &read(kernel.matmul_t(xt.clone())).await?,
                &want,
            )?;
            let r = compare(
                &format!("reference {name}"),
                &read(reference.matmul_t(xt)).await?,
                &want,
            )?;
            report.push(format!("{name}: kernel {k:.1e}, reference {r:.1e}"));
        }
    }
    Ok(report)
}
