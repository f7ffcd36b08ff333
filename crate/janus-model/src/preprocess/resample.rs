//! Pillow-exact bicubic resampling of RGB8 images.
//!
//! DeepSeek's processor resizes with PIL's `BICUBIC` (a = -0.5, support 2, antialiased: the kernel
//! widens by the scale factor when shrinking), computed as two separable passes — horizontal,
//! then vertical — in 8-bit fixed point with 22 fractional bits and an 8-bit image between the
//! passes. Reproducing that arithmetic (Pillow's `libImaging/Resample.c`) makes our pixels equal
//! to the reference's, not merely close.

/// Fractional bits of Pillow's fixed-point coefficients for 8-bit images (32 - 8 - 2).
const PRECISION_BITS: u32 = 22;
const SUPPORT: f64 = 2.0;

fn bicubic(x: f64) -> f64 {
    const A: f64 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

/// Per output pixel: first input index, count, and fixed-point weights.
struct Coeffs {
    bounds: Vec<(usize, usize)>,
    weights: Vec<Vec<i32>>,
}

fn coefficients(in_size: usize, out_size: usize) -> Coeffs {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = SUPPORT * filterscale;
    let mut bounds = Vec::with_capacity(out_size);
    let mut weights = Vec::with_capacity(out_size);
    for xx in 0..out_size {
        let center = (xx as f64 + 0.5) * scale;
        let ss = 1.0 / filterscale;
        // Pillow truncates `center -/+ support + 0.5` toward zero.
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
        let count = xmax.saturating_sub(xmin);
        let mut k: Vec<f64> = (0..count)
            .map(|x| bicubic((x as f64 + xmin as f64 - center + 0.5) * ss))
            .collect();
        let total: f64 = k.iter().sum();
        if total != 0.0 {
            for w in &mut k {
                *w /= total;
            }
        }
        let fixed = k
            .iter()
            .map(|&w| {
                let v = w * (1u32 << PRECISION_BITS) as f64;
                if w < 0.0 {
                    (v - 0.5) as i32
                } else {
                    (v + 0.5) as i32
                }
            })
            .collect();
        bounds.push((xmin, count));
        weights.push(fixed);
    }
    Coeffs { bounds, weights }
}

fn clip8(v: i64) -> u8 {
    (v >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Resize interleaved RGB8 `src` (`w x h`) to `nw x nh` exactly as `PIL.Image.resize(BICUBIC)`.
pub fn resize_bicubic(src: &[u8], w: usize, h: usize, nw: usize, nh: usize) -> Vec<u8> {
    let half = 1i64 << (PRECISION_BITS - 1);
    // Horizontal pass (skipped when the width is unchanged, as Pillow does).
    let (tmp, tw) = if nw != w {
        let c = coefficients(w, nw);
        let mut out = vec![0u8; nw * h * 3];
        for y in 0..h {
            let row = &src[y * w * 3..(y + 1) * w * 3];
            for (xx, (&(xmin, n), k)) in c.bounds.iter().zip(&c.weights).enumerate() {
                let mut acc = [half; 3];
                for (i, &wt) in k.iter().enumerate().take(n) {
                    let px = &row[(xmin + i) * 3..(xmin + i) * 3 + 3];
                    for ch in 0..3 {
                        acc[ch] += px[ch] as i64 * wt as i64;
                    }
                }
                let o = (y * nw + xx) * 3;
                for ch in 0..3 {
                    out[o + ch] = clip8(acc[ch]);
                }
            }
        }
        (out, nw)
    } else {
        (src.to_vec(), w)
    };
    if nh == h {
        return tmp;
    }
    // Vertical pass.
    let c = coefficients(h, nh);
    let mut out = vec![0u8; tw * nh * 3];
    for (yy, (&(ymin, n), k)) in c.bounds.iter().zip(&c.weights).enumerate() {
        for x in 0..tw {
            let mut acc = [half; 3];
            for (i, &wt) in k.iter().enumerate().take(n) {
                let o = ((ymin + i) * tw + x) * 3;
                for ch in 0..3 {
                    acc[ch] += tmp[o + ch] as i64 * wt as i64;
                }
            }
            let o = (yy * tw + x) * 3;
            for ch in 0..3 {
                out[o + ch] = clip8(acc[ch]);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_images_stay_flat() {
        let src = vec![77u8; 10 * 7 * 3];
        for (nw, nh) in [(5, 3), (20, 14), (10, 3), (1, 1)] {
            let out = resize_bicubic(&src, 10, 7, nw, nh);
            assert_eq!(out.len(), nw * nh * 3);
            assert!(out.iter().all(|&v| v == 77), "{nw}x{nh}");
        }
    }

    #[test]
    fn identity_size_is_a_copy() {
        let src: Vec<u8> = (0..4 * 3 * 3).map(|i| (i * 7) as u8).collect();
        assert_eq!(resize_bicubic(&src, 4, 3, 4, 3), src);
    }

    #[test]
    fn weights_sum_to_one_in_fixed_point() {
        for (i, o) in [(300, 384), (767, 384), (170, 217), (5, 14)] {
            let c = coefficients(i, o);
            for k in &c.weights {
                let s: i64 = k.iter().map(|&v| v as i64).sum();
                assert!(
                    (s - (1 << PRECISION_BITS)).abs() <= k.len() as i64,
                    "{i}->{o}: {s}"
                );
            }
        }
    }
}
