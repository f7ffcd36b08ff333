//! How close two outputs are: the measures the reference tests, the browser tests and the
//! benchmarks report.

/// `max |a - b| / max |b|` — the largest difference relative to the reference's scale. Buffers
/// of different lengths are infinitely far apart.
pub fn rel_err(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return f32::INFINITY;
    }
    let scale = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-12);
    a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs())) / scale
}

/// Peak signal-to-noise ratio of two 8-bit buffers in dB (infinite when equal, 0 when the
/// lengths differ).
pub fn psnr(a: &[u8], b: &[u8]) -> f64 {
    if a.len() != b.len() || a.is_empty() {
        return 0.0;
    }
    let mse = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum::<f64>()
        / a.len() as f64;
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0f64 * 255.0 / mse).log10()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures() {
        assert_eq!(rel_err(&[1.0, 2.0], &[1.0, 4.0]), 0.5);
        assert_eq!(rel_err(&[1.0], &[1.0, 2.0]), f32::INFINITY);
        assert_eq!(psnr(&[7, 8], &[7, 8]), f64::INFINITY);
        assert!((psnr(&[0], &[255]) - 0.0).abs() < 1e-12);
        assert_eq!(psnr(&[1], &[1, 2]), 0.0);
    }
}
