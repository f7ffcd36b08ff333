//! The WGSL kernels against their plain-burn references, on whatever wgpu device the caller has:
//! lavapipe natively (`crate/janus-model/tests/kernels.rs`), SwiftShader in Chromium
//! (`crate/janus-web/tests/browser.rs`). Random inputs of awkward sizes; every product is also
//! checked against the host's f64 product of the dequantised weights.

use burn::tensor::{DType, Device, Int, Tensor, TensorData};
use janus_model::kernels::qmatvec::{Fused, Layout, layout, rotates, set_layout};
use janus_model::kernels::{Dequant, set_dequant};
use janus_model::quant::device::QuantMatrix;
use janus_model::quant::{QuantFormat, dequantize, quantize};

/// (rows, cols, batch): one row; rows not a multiple of the workgroup; a batch of three; a
/// Janus-wide row; more rows than one grid dimension holds (65,535); the kernel's largest batch;
/// a batch past it (the dequantise-and-matmul path).
pub const QMATVEC_CASES: [(usize, usize, usize); 7] = [
    (1, 32, 1),
    (7, 96, 1),
    (65, 160, 3),
    (300, 2048, 2),
    (65_537, 32, 1),
    (33, 64, 8),
    (40, 96, 13),
];

/// Layouts of the matrix-vector kernels the cases run with: the GPUs' (the flat walk, 32 lanes
/// per row, two groups per workgroup) and the CPU adapters' (a vector of 8 rows), and others a
/// measurement may pick: the vector of 4 rows and the largest (the SwiGLU pair clamps it to 8);
/// the flat walk with a whole workgroup per row (where the rotation declines), with two and four
/// loads per trip (rows whose loads no trip divides), and with two or four rows per group of
/// lanes: two groups per workgroup, one group of the whole workgroup, one lane per group.
const LAYOUTS: [Layout; 10] = [
    flat(32, 1, 1),
    Layout::Vector { rows: 8 },
    Layout::Vector { rows: 4 },
    Layout::Vector { rows: 16 },
    flat(64, 1, 1),
    flat(16, 2, 1),
    flat(4, 4, 1),
    flat(32, 1, 2),
    flat(64, 1, 4),
    flat(1, 1, 2),
];

const fn flat(lanes: u32, unroll: u32, rows: u32) -> Layout {
    Layout::Flat {
        lanes,
        unroll,
        rows,
    }
}

/// Relative tolerance against the host's f64 product (f32 accumulation in another order).
const TOLERANCE: f32 = 1e-4;

/// The decode attention's splits under test, `(positions per chunk, invocations per position)`:
/// the CPU adapters' default first, every chunk size with one lane, the GPUs' default (32:8),
/// and the widest workgroup each chunk size allows.
const ATTENTION_SPLITS: [(u32, u32); 8] = [
    (64, 1),
    (32, 1),
    (128, 1),
    (16, 1),
    (32, 8),
    (16, 8),
    (64, 4),
    (128, 2),
];

pub(crate) fn random(n: usize, seed: u64) -> Vec<f32> {
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

/// The largest |got - want| and the scale it is judged against (want's largest magnitude, at
/// least 1).
pub fn max_diff(got: &[f32], want: &[f32]) -> (f32, f32) {
    let scale = want.iter().fold(1f32, |m, v| m.max(v.abs()));
    let worst = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    (worst, scale)
}

pub(crate) fn compare(name: &str, got: &[f32], want: &[f32]) -> Result<f32, String> {
    if got.len() != want.len() {
        return Err(format!(
            "{name}: {} values, expected {}",
            got.len(),
            want.len()
        ));
    }
    let (worst, scale) = max_diff(got, want);
    if worst > TOLERANCE * scale {
        return Err(format!("{name}: max |diff| {worst} (values up to {scale})"));
    }
    Ok(worst / scale)
}

/// The matrix-vector kernels (`shaders/qmatvec_*.wgsl`, Q8 and Q4, in every layout of
/// [`LAYOUTS`]) and the reference unpacking on `device` (wgpu) against the host, on
/// [`QMATVEC_CASES`]. Returns one line per case with the worst relative error.
pub async fn qmatvec_matches_reference(device: &Device) -> Result<Vec<String>, String> {
    let mut report = Vec::new();
    for format in [QuantFormat::Q8, QuantFormat::Q4] {
        for (i, &(rows, cols, m)) in QMATVEC_CASES.iter().enumerate() {
            let packed = quantize(&random(rows * cols, i as u64 + 1), cols, format);
            let mut w = vec![0f32; rows * cols];
            dequantize(&packed, &mut w);
            let x = random(m * cols, 100 + i as u64);
            let want = host_product(&x, &w, m, rows, cols);
            let xt = Tensor::<2>::from_data(TensorData::new(x.clone(), [m, cols]), device);
            let kernel = QuantMatrix::upload_as(&packed, device, true);
            let reference = QuantMatrix::upload_as(&packed, device, false);
            if !kernel.uses_kernel() || reference.uses_kernel() {
                return Err("upload_as did not pick the path asked for".into());
            }
            let name = format!("{} {rows}x{cols} batch {m}", format.name());
            // Every layout the adapters use (a workgroup per row; one invocation per 8 rows) and
            // others: several lanes and rows at once, row counts no group size divides.
            let before = layout();
            let mut k = 0f32;
            for l in LAYOUTS {
                set_layout(l);
                let got = read(kernel.matmul_t(xt.clone())).await;
                set_layout(before);
                let what = format!("kernel {name}, {l:?}");
                k = k.max(compare(&what, &got?, &want)?);
            }
            // Codes made floats by conversion rather than the exponent trick (the default): the
            // GPUs' layout, and the dequantisation kernel in both ways.
            set_dequant(Dequant::Convert);
            set_layout(flat(32, 1, 1));
            let converted = read(kernel.matmul_t(xt.clone())).await;
            let converted_dense = read(kernel.dense(DType::F32)).await;
            set_layout(before);
            set_dequant(Dequant::Exponent);
            k = k.max(compare(
                &format!("kernel {name}, codes converted"),
                &converted?,
                &want,
            )?);
            // The dequantisation kernel computes exactly the host's values (scale * code).
            for (how, dense) in [
                ("exponent trick", read(kernel.dense(DType::F32)).await?),
                ("conversion", converted_dense?),
            ] {
                if dense != w {
                    return Err(format!(
                        "dequantisation kernel {name} ({how}): values differ from the host"
                    ));
                }
            }
            let r = compare(
                &format!("reference {name}"),
                &read(reference.matmul_t(xt.clone())).await?,
                &want,
            )?;
            // The fused gate/up product (decode batches only) against its two products.
            if m <= 8 {
                let up = QuantMatrix::upload_as(
                    &quantize(&random(rows * cols, 50 + i as u64), cols, format),
                    device,
                    true,
                );
                let want = read(
                    burn::tensor::activation::silu(kernel.matvec(xt.clone()))
                        * up.matvec(xt.clone()),
                )
                .await?;
                for l in LAYOUTS {
                    set_layout(l);
                    let fused = kernel.swiglu_with(&up, &xt, None);
                    set_layout(before);
                    let fused = fused.ok_or("swiglu_with declined a packed pair")?;
                    compare(&format!("swiglu {name}, {l:?}"), &read(fused).await?, &want)?;
                }
                // Decode's norm and residual connection inside the flat kernels, against the
                // host's norm and the plain product: the norm alone, the residual alone, both,
                // and the gate and up pair's norm; declined (None) by the other layouts.
                let eps = 1e-5;
                let gain = random(cols, 70 + i as u64);
                let normed: Vec<f32> = x
                    .chunks(cols)
                    .flat_map(|row| {
                        let ms = row.iter().map(|v| v * v).sum::<f32>() / cols as f32;
                        let r = 1.0 / (ms + eps as f32).sqrt();
                        row.iter().zip(&gain).map(move |(v, g)| v * r * g)
                    })
                    .collect();
                let resid = random(m * rows, 80 + i as u64);
                let want_normed = host_product(&normed, &w, m, rows, cols);
                // (`want` is the SwiGLU pair's here.)
                let want_product = host_product(&x, &w, m, rows, cols);
                let gain_t = Tensor::<1>::from_data(TensorData::new(gain, [cols]), device);
                let resid_t =
                    Tensor::<2>::from_data(TensorData::new(resid.clone(), [m, rows]), device);
                let normed_t = Tensor::<2>::from_data(TensorData::new(normed, [m, cols]), device);
                let plus =
                    |a: &[f32]| -> Vec<f32> { a.iter().zip(&resid).map(|(a, r)| a + r).collect() };
                let want_pair = read(
                    burn::tensor::activation::silu(kernel.matvec(normed_t.clone()))
                        * up.matvec(normed_t),
                )
                .await?;
                for l in LAYOUTS {
                    let cases = [
                        ("norm", true, false, want_normed.clone()),
                        ("residual", false, true, plus(&want_product)),
                        ("norm and residual", true, true, plus(&want_normed)),
                    ];
                    for (what, norm, residual, want) in cases {
                        let fused = Fused {
                            norm: norm.then_some((&gain_t, eps)),
                            residual: residual.then(|| resid_t.clone()),
                            rope: None,
                        };
                        set_layout(l);
                        let got = kernel.matvec_fused(xt.clone(), fused);
                        set_layout(before);
                        let what = format!("qmatvec with {what} {name}");
                        k = k.max(fused_case(l, got, &what, &want).await?);
                    }
                    set_layout(l);
                    let got = kernel.swiglu_with(&up, &xt, Some((&gain_t, eps)));
                    set_layout(before);
                    let what = format!("swiglu with norm {name}");
                    k = k.max(fused_case(l, got, &what, &want_pair).await?);
                }
                // Matrices one under another (q, k and v as one product): the parts'
                // products side by side, or declined where a part's packed scales end in half
                // a word.
                let side_by_side = read(Tensor::cat(
                    vec![kernel.matvec(xt.clone()), up.matvec(xt.clone())],
                    1,
                ))
                .await?;
                match QuantMatrix::stack(&[&kernel, &up], u64::MAX) {
                    Some(both) => compare(
                        &format!("stacked {name}"),
                        &read(both.matvec(xt.clone())).await?,
                        &side_by_side,
                    )
                    .map(drop)?,
                    None if (rows * cols / 32) % 2 == 1 => {}
                    None => return Err(format!("stack declined {name}")),
                }
                let both = QuantMatrix::stack(&[&reference, &reference], u64::MAX)
                    .ok_or("stack declined two reference uploads")?;
                if read(both.dense(DType::F32)).await? != [w.clone(), w.clone()].concat() {
                    return Err(format!("stacked reference {name}: values differ"));
                }
            }
            report.push(format!(
                "{name}: kernel {k:.1e} (32, 64, 4, 1 lanes; vectors; flat, also with norms and residuals), reference {r:.1e}"
            ));
        }
    }
    Ok(report)
}

/// A product with a norm or residual fused in layout `l` (`got`): against `want` where the layout
/// is flat, declined (None) by every other. The worst relative error (0 where declined).
async fn fused_case(
    l: Layout,
    got: Option<Tensor<2>>,
    what: &str,
    want: &[f32],
) -> Result<f32, String> {
    match (got, l) {
        (Some(got), Layout::Flat { .. }) => {
            compare(&format!("{what}, {l:?}"), &read(got).await?, want)
        }
        (None, Layout::Flat { .. }) => Err(format!("{l:?} declined the {what}")),
        (Some(_), _) => Err(format!("{l:?} fused the {what}")),
        (None, _) => Ok(0.0),
    }
}

/// Row lookups in a quantised table (the token embedding's path: only the selected rows are
/// unpacked) equal the host's dequantised rows, for both formats: `shaders/qembed.wgsl` where
/// the kernels run, and its plain-burn reference.
pub async fn quant_lookup_matches_host(device: &Device) -> Result<(), String> {
    let (rows, cols) = (37, 96);
    for format in [QuantFormat::Q8, QuantFormat::Q4] {
        let packed = quantize(&random(rows * cols, 7), cols, format);
        let mut w = vec![0f32; rows * cols];
        dequantize(&packed, &mut w);
        let ids = [36i64, 0, 5, 5, 17];
        let table = QuantMatrix::upload_as(&packed, device, false);
        let ids_tensor =
            Tensor::<1, Int>::from_data(TensorData::new(ids.to_vec(), [ids.len()]), device);
        let got = read(table.select(ids_tensor.clone())).await?;
        let reference = read(table.select_reference(ids_tensor)).await?;
        let want: Vec<f32> = ids
            .iter()
            .flat_map(|&i| w[i as usize * cols..(i as usize + 1) * cols].to_vec())
            .collect();
        if got != want || reference != want {
            return Err(format!(
                "{} lookup: rows differ from the host (lookup {}, plain-burn reference {})",
                format.name(),
                got == want,
                reference == want
            ));
        }
    }
    Ok(())
}

async fn read_ids(t: Tensor<2, Int>) -> Result<Vec<i64>, String> {
    Ok(t.into_data_async()
        .await
        .map_err(|e| format!("{e:?}"))?
        .iter::<i64>()
        .collect())
}

/// `shaders/sample.wgsl` against the host: greedy picks the host's argmax of the guided
/// logits; draws follow softmax(g / T) restricted by top-k and top-p (frequencies over 4,000
/// sequences); both rows of a guided pair get one id; a seed repeats and another differs.
pub async fn sampler_matches_host(device: &Device) -> Result<Vec<String>, String> {
    use janus_model::generate::sampling::argmax;
    use janus_model::kernels::sample::{SampleStep, sample, sample_allowed};
    let mut report = Vec::new();
    let step = |cfg_weight, temperature, top_k, top_p, seed| SampleStep {
        cfg_weight,
        temperature,
        top_k,
        top_p,
        seed,
    };
    // Greedy with guidance over an awkward vocabulary: pairs of rows.
    let (pairs, k) = (3, 1003);
    let logits = random(2 * pairs * k, 11);
    let t = Tensor::<2>::from_data(TensorData::new(logits.clone(), [2 * pairs, k]), device);
    let ids = read_ids(sample(t, &step(Some(5.0), 0.0, 0, 1.0, 1), 3)).await?;
    for p in 0..pairs {
        let (c, u) = (
            &logits[2 * p * k..(2 * p + 1) * k],
            &logits[(2 * p + 1) * k..(2 * p + 2) * k],
        );
        let g: Vec<f32> = c.iter().zip(u).map(|(&c, &u)| u + 5.0 * (c - u)).collect();
        let want = argmax(&g) as i64;
        if ids[2 * p] != want || ids[2 * p + 1] != want {
            return Err(format!(
                "greedy pair {p}: {:?}, host argmax {want}",
                &ids[2 * p..2 * p + 2]
            ));
        }
    }
    report.push(format!(
        "greedy with guidance: {pairs} pairs of {k} logits match the host"
    ));
    // Draws: 4,000 sequences of the same four logits, probabilities 0.5, 0.3, 0.15, 0.05 at T = 1.
    let probs = [0.5f64, 0.3, 0.15, 0.05];
    let n = 4000;
    let row: Vec<f32> = probs.iter().map(|p| p.ln() as f32).collect();
    let rows = Tensor::<2>::from_data(TensorData::new(row.repeat(n), [n, probs.len()]), device);
    let cases: [(&str, u32, f32, [f64; 4]); 3] = [
        ("T = 1", 0, 1.0, [0.5, 0.3, 0.15, 0.05]),
        ("top-k 2", 2, 1.0, [0.625, 0.375, 0.0, 0.0]),
        ("top-p 0.7", 0, 0.7, [0.625, 0.375, 0.0, 0.0]),
    ];
    for (name, top_k, top_p, want) in cases {
        let ids = read_ids(sample(rows.clone(), &step(None, 1.0, top_k, top_p, 42), 3)).await?;
        let mut freq = [0f64; 4];
        for &i in &ids {
            freq[i as usize] += 1.0 / n as f64;
        }
        // 4,000 draws: a standard error of at most 0.008; 0.035 is over 4 of them.
        if freq
            .iter()
            .zip(&want)
            .any(|(f, w)| (f - w).abs() > 0.035 || (*w == 0.0 && *f > 0.0))
        {
            return Err(format!("{name}: frequencies {freq:?}, expected {want:?}"));
        }
        report.push(format!(
            "{name}: frequencies {freq:.3?} (expected {want:?})"
        ));
    }
    // Kept sets over an awkward vocabulary (1,003 tokens: the scores' last vector padded):
    // five likely tokens (0.30, 0.22, 0.18, 0.18 less 2e-5 of its log, 0.07; cumulative 0.30,
    // 0.52, 0.70, 0.88, 0.95) at scattered places, 998 unlikely ones sharing the last 0.05.
    // Every draw must come from the set the settings keep, and every member of it must be
    // drawn: too wide a threshold lets draws out (the fourth token, 2e-5 below the third, is
    // drawn ~200 times in 1,000 unless the search resolves that gap), too narrow one never
    // draws the set's least likely member.
    let k = 1003;
    let likely = [
        (1002usize, 0.30f64.ln()),
        (0, 0.22f64.ln()),
        (501, 0.18f64.ln()),
        (3, 0.18f64.ln() - 2e-5),
        (998, 0.07f64.ln()),
    ];
    let mut row = vec![(0.05f64 / 998.0).ln() as f32; k];
    for &(i, logit) in &likely {
        row[i] = logit as f32;
    }
    let n = 1000;
    let rows = Tensor::<2>::from_data(TensorData::new(row.repeat(n), [n, k]), device);
    let sets: [(&str, u32, f32, usize); 4] = [
        ("top-p 0.9", 0, 0.9, 5),
        ("top-p 0.6", 0, 0.6, 3),
        ("top-k 3", 3, 1.0, 3),
        ("top-k 4 then top-p 0.5", 4, 0.5, 2),
    ];
    for (name, top_k, top_p, size) in sets {
        let ids = read_ids(sample(rows.clone(), &step(None, 1.0, top_k, top_p, 5), 3)).await?;
        let kept: Vec<i64> = likely[..size].iter().map(|&(i, _)| i as i64).collect();
        if let Some(out) = ids.iter().find(|i| !kept.contains(i)) {
            return Err(format!("{name}: drew {out}, outside the kept set {kept:?}"));
        }
        if let Some(missing) = kept.iter().find(|i| !ids.contains(i)) {
            return Err(format!(
                "{name}: never drew {missing} of the kept set {kept:?}"
            ));
        }
        report.push(format!(
            "{name} over {k} tokens: {n} draws, all from the kept set {kept:?}, each drawn"
        ));
    }
    // A JSON reply's mask: only 0, 3, 7 and 998 may be chosen (1002, the most likely, may not).
    // Greedy takes the most likely of them; a draw takes them in proportion to their own
    // probabilities; top-k and top-p count and weigh them alone (were the others counted,
    // top-k 2 would keep 1002 and 0 and so never draw 3).
    let allowed_ids = [0u32, 3, 7, 998];
    let mut mask = vec![0u32; k.div_ceil(32)];
    for &id in &allowed_ids {
        mask[id as usize / 32] |= 1 << (id % 32);
    }
    let greedy = read_ids(sample_allowed(
        rows.clone(),
        &step(None, 0.0, 0, 1.0, 1),
        3,
        &mask,
    ))
    .await?;
    if greedy.iter().any(|&i| i != 0) {
        return Err(format!(
            "greedy under a mask chose {:?}, not 0",
            &greedy[..4]
        ));
    }
    let p = |i: usize| (row[i] as f64).exp();
    let mass: f64 = allowed_ids.iter().map(|&i| p(i as usize)).sum();
    // (case, top-k, top-p, each id that may be drawn with its expected share)
    type MaskedCase = (&'static str, u32, f32, Vec<(i64, f64)>);
    let masked: [MaskedCase; 3] = [
        (
            "a draw",
            0,
            1.0,
            allowed_ids
                .iter()
                .map(|&i| (i as i64, p(i as usize) / mass))
                .collect(),
        ),
        ("top-k 2", 2, 1.0, vec![(0, 0.22 / 0.40), (3, 0.18 / 0.40)]),
        (
            "top-p 0.6",
            0,
            0.6,
            vec![(0, 0.22 / 0.40), (3, 0.18 / 0.40)],
        ),
    ];
    for (name, top_k, top_p, want) in masked {
        let ids = read_ids(sample_allowed(
            rows.clone(),
            &step(None, 1.0, top_k, top_p, 9),
            3,
            &mask,
        ))
        .await?;
        if let Some(out) = ids.iter().find(|i| !want.iter().any(|w| w.0 == **i)) {
            return Err(format!("{name} under a mask: drew {out}, outside {want:?}"));
        }
        for &(id, share) in &want {
            let freq = ids.iter().filter(|&&i| i == id).count() as f64 / n as f64;
            // 1,000 draws: a standard error of at most 0.016; 0.07 is over 4 of them.
            if (freq - share).abs() > 0.07 {
                return Err(format!(
                    "{name} under a mask: {id} drawn {freq:.3} of the time, expected {share:.3}"
                ));
            }
        }
        report.push(format!(
            "{name} under a mask of {} of {k} tokens: {n} draws, all allowed, in proportion",
            allowed_ids.len()
        ));
    }
    // Seeds: the same seed and step repeat; another seed gives other draws.
    let a = read_ids(sample(rows.clone(), &step(None, 1.0, 0, 1.0, 7), 3)).await?;
    let b = read_ids(sample(rows.clone(), &step(None, 1.0, 0, 1.0, 7), 3)).await?;
    let c = read_ids(sample(rows.clone(), &step(None, 1.0, 0, 1.0, 8), 3)).await?;
    let d = read_ids(sample(rows, &step(None, 1.0, 0, 1.0, 7), 4)).await?;
    if a != b || a == c || a == d {
        return Err(
            "draws must repeat for a seed and step and differ for another of either".into(),
        );
    }
    Ok(report)
}

pub(crate) async fn read_any<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, String> {
    t.cast(DType::F32)
        .into_data_async()
        .await
        .map_err(|e| format!("{e:?}"))?
        .try_to_vec::<f32>()
        .map_err(|e| format!("{e:?}"))
}

pub(crate) fn tensor<const D: usize>(
    values: Vec<f32>,
    shape: [usize; D],
    device: &Device,
) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// The decoder's fused kernels (`rms_norm.wgsl`, `add_rms_norm.wgsl`, `rope.wgsl`, `attn_chunk.wgsl` + `attn_merge.wgsl`) against the
/// generic burn ops they replace, on awkward sizes: rows past a grid dimension, odd widths,
/// grouped-query heads, a cache longer than its filled prefix.
pub async fn fused_kernels_match_generic(device: &Device) -> Result<Vec<String>, String> {
    use janus_model::kernels::memory::i32_tensor;
    use janus_model::kernels::{attention, rms_norm, rope, rope_kv, swiglu};
    use janus_model::model::cursor::state_words;
    use janus_model::model::nn::RmsNorm;
    use janus_model::model::rope::Rope;
    let mut report = Vec::new();
    // RMSNorm: [3, 5, 96]; 70,000 rows of 32 (more rows than one grid dimension); rows that
    // take several values per invocation, the last ones partly (600), and more than one trip
    // (2500: two trips of 2048).
    for (shape, seed) in [
        ([3usize, 5, 96], 1u64),
        ([1, 70_000, 32], 2),
        ([2, 1, 600], 3),
        ([1, 3, 2500], 4),
    ] {
        let n: usize = shape.iter().product();
        let x = tensor(random(n, seed), shape, device);
        let w: Vec<f32> = random(shape[2], seed + 10)
            .iter()
            .map(|v| 1.0 + v)
            .collect();
        let norm = RmsNorm {
            weight: tensor(w, [shape[2]], device),
            eps: 1e-6,
        };
        let want = read_any(norm.forward(x.clone())).await?;
        // The residual connection and the norm after it in one launch: both outputs.
        let a = tensor(random(n, seed + 20), shape, device);
        let want_sum = read_any(x.clone() + a.clone()).await?;
        let want_added = read_any(norm.forward(x.clone() + a.clone())).await?;
        // Every walk: the GPUs' (several values per invocation), the CPU adapters' (one), and a
        // narrow one taking three.
        let before = rms_norm::walk();
        let (mut e, mut e_sum, mut e_added) = (0f32, 0f32, 0f32);
        for walk in [
            rms_norm::Walk::for_adapter(false),
            rms_norm::Walk::for_adapter(true),
            rms_norm::Walk {
                workgroup: 64,
                max_per: 3,
            },
        ] {
            rms_norm::set_walk(walk);
            let got = rms_norm::rms_norm(x.clone(), &norm.weight, norm.eps);
            let (sum, added) = rms_norm::add_rms_norm(x.clone(), a.clone(), &norm.weight, norm.eps);
            rms_norm::set_walk(before);
            let what = format!("{shape:?}, {walk:?}");
            e = e.max(compare(
                &format!("rms_norm {what}"),
                &read_any(got).await?,
                &want,
            )?);
            let sum = read_any(sum).await?;
            e_sum = e_sum.max(compare(
                &format!("add_rms_norm {what}, sum"),
                &sum,
                &want_sum,
            )?);
            let added = read_any(added).await?;
            e_added = e_added.max(compare(
                &format!("add_rms_norm {what}"),
                &added,
                &want_added,
            )?);
        }
        report.push(format!(
            "rms_norm {shape:?}: {e:.1e}; add_rms_norm: {e_sum:.1e} (sum), {e_added:.1e} (every walk)"
        ));
    }
    // SwiGLU gate over an odd number of values.
    let (g, u) = (
        tensor(random(3 * 333, 20), [3, 333], device),
        tensor(random(3 * 333, 21), [3, 333], device),
    );
    let want = read_any(burn::tensor::activation::silu(g.clone()) * u.clone()).await?;
    let got = read_any(swiglu::swiglu(g, u)).await?;
    let e = compare("swiglu", &got, &want)?;
    report.push(format!("swiglu [3, 333]: {e:.1e}"));
    // Rotary embedding: [B=2, T=3, H=5, D=64] at positions 7.., against Rope::apply on
    // [B, H, T, D].
    let (b, t, h, d) = (2, 3, 5, 64);
    let x = tensor(random(b * t * h * d, 3), [b, t, h, d], device);
    let (cos, sin) = Rope::new(d, 10_000.0).tables(7, t, device);
    let want = read_any(Rope::apply(x.clone().swap_dims(1, 2), &cos, &sin).swap_dims(1, 2)).await?;
    let got = read_any(rope::rope(x, &cos, &sin)).await?;
    let e = compare("rope", &got, &want)?;
    report.push(format!("rope [2, 3, 5, 64]: {e:.1e}"));
    // Decode attention against the generic ops: (B, heads, kv_heads, D, capacity, filled
    // positions). Chunks hold 64 positions: one chunk, a partial last chunk, whole chunks
    // exactly, a single position, heads sharing KV heads, and D not a multiple of 4 (scalar
    // rows instead of vec4).
    for (i, (b, nh, nkv, d, cap, len)) in [
        (2, 4, 2, 40, 50, 37),
        (1, 2, 1, 18, 90, 70),
        (1, 3, 1, 24, 300, 200),
        (1, 2, 1, 40, 200, 128),
        (2, 2, 2, 16, 130, 1),
        (1, 4, 4, 72, 700, 613),
    ]
    .into_iter()
    .enumerate()
    {
        let seed = 100 + 10 * i as u64;
        let q = tensor(random(b * nh * d, seed), [b, nh, d], device);
        let k = tensor(
            random(b * nkv * cap * d, seed + 1),
            [b, nkv, cap, d],
            device,
        );
        let v = tensor(
            random(b * nkv * cap * d, seed + 2),
            [b, nkv, cap, d],
            device,
        );
        let scale = (d as f32).powf(-0.5);
        let state = i32_tensor(device, [4], &[len as i32 - 1, 0, 0, 0]);
        // Generic: each head against its KV head's filled prefix.
        let rep = nh / nkv;
        let expand = |x: Tensor<4>| {
            x.slice([0..b, 0..nkv, 0..len, 0..d])
                .unsqueeze_dim::<5>(2)
                .expand([b, nkv, rep, len, d])
                .reshape([b, nh, len, d])
        };
        let scores = q
            .clone()
            .reshape([b, nh, 1, d])
            .matmul(expand(k.clone()).swap_dims(2, 3))
            .mul_scalar(scale);
        let probs = burn::tensor::activation::softmax(scores, 3);
        let want = read_any(probs.matmul(expand(v.clone())).reshape([b, nh, d])).await?;
        let shape = format!("{b} x {nh} heads over {nkv}, D {d}, {len} of {cap} positions");
        // Every chunk size the kernel takes, one invocation per position (the CPU adapters'
        // walk) and the GPUs' several (positions and dimensions split over lanes, their parts
        // met in workgroup memory).
        let before = (attention::chunk(), attention::lanes());
        let mut errors = Vec::new();
        for (chunk, lanes) in ATTENTION_SPLITS {
            attention::set_chunk(chunk);
            attention::set_lanes(lanes);
            let got = attention::attention_decode(q.clone(), &k, &v, &state, scale);
            attention::set_chunk(before.0);
            attention::set_lanes(before.1);
            let got = read_any(got).await?;
            let label = format!("attention decode ({shape}, chunks of {chunk}, {lanes} lanes)");
            errors.push(format!("{:.1e}", compare(&label, &got, &want)?));
        }
        let splits = ATTENTION_SPLITS
            .map(|(c, l)| format!("{c}:{l}"))
            .join(" / ");
        report.push(format!(
            "attention decode ({shape}), chunks:lanes {splits}: {}",
            errors.join(" / ")
        ));
    }
    // Decode rotation and cache write at the device's position: B=2, heads 6 over kv_heads 3,
    // D=48, capacity 20, position 13; every other cache position must stay as it was.
    let (b, nh, nkv, d, cap, pos) = (2, 6, 3, 48, 20, 13);
    let q = tensor(random(b * nh * d, 7), [b, nh, d], device);
    let k = tensor(random(b * nkv * d, 8), [b, nkv, d], device);
    let v = tensor(random(b * nkv * d, 9), [b, nkv, d], device);
    let kc0 = random(b * nkv * cap * d, 10);
    let vc0 = random(b * nkv * cap * d, 11);
    let (kc, vc) = (
        tensor(kc0.clone(), [b, nkv, cap, d], device),
        tensor(vc0.clone(), [b, nkv, cap, d], device),
    );
    let rope = Rope::new(d, 10_000.0);
    let (cos, sin) = rope.tables(pos, 1, device);
    // The cursor's state at that position: its cos and sin rows after the header.
    let words = state_words(&rope, pos, 0);
    let state = i32_tensor(device, [words.len()], &words);
    // The joint product's rows: each batch row's queries, keys, then values.
    let qkv = Tensor::cat(
        vec![
            q.clone().reshape([b, nh * d]),
            k.clone().reshape([b, nkv * d]),
            v.clone().reshape([b, nkv * d]),
        ],
        1,
    );
    let rotated = rope_kv::rope_kv(qkv, (nh, nkv, d), (&kc, &vc), &state);
    let got_q = read_any(rotated).await?;
    let want_q = read_any(Rope::apply(q.reshape([b, nh, 1, d]), &cos, &sin)).await?;
    let e_q = compare("rope_kv queries", &got_q, &want_q)?;
    let want_k = read_any(Rope::apply(k.reshape([b, nkv, 1, d]), &cos, &sin)).await?;
    let want_v = read_any(v).await?;
    let (got_kc, got_vc) = (read_any(kc).await?, read_any(vc).await?);
    let mut e_kv = 0f32;
    for row in 0..b * nkv {
        for p in 0..cap {
            let at = (row * cap + p) * d;
            let (gk, gv) = (&got_kc[at..at + d], &got_vc[at..at + d]);
            if p == pos {
                e_kv = e_kv.max(compare("rope_kv key", gk, &want_k[row * d..(row + 1) * d])?);
                e_kv = e_kv.max(compare(
                    "rope_kv value",
                    gv,
                    &want_v[row * d..(row + 1) * d],
                )?);
            } else if gk != &kc0[at..at + d] || gv != &vc0[at..at + d] {
                return Err(format!(
                    "rope_kv wrote position {p} of row {row}, not only {pos}"
                ));
            }
        }
    }
    report.push(format!(
        "rope_kv (6 heads over 3, D 48, position 13 of 20): queries {e_q:.1e}, cache {e_kv:.1e}"
    ));
    report.extend(qkv_rope_matches_apart(device).await?);
    Ok(report)
}

/// Decode's joint q/k/v product with the rotation and cache write inside it (`Fused::rope`,
/// the flat layouts of two or more rows per workgroup) against the product with the norm
/// inside it, then `rope_kv`: the queries, and both caches whole (the position written, every
/// other left as it was). Declined (None) by every other layout. Cases: grouped-query heads
/// (4 over 2) at D 48, a batch of two, Q4; one head each at D 18 (half 9: pairs across vector
/// boundaries), Q8, the last position.
async fn qkv_rope_matches_apart(device: &Device) -> Result<Vec<String>, String> {
    use janus_model::kernels::memory::i32_tensor;
    use janus_model::kernels::qmatvec::RopeKv;
    use janus_model::kernels::rope_kv::rope_kv;
    use janus_model::model::cursor::state_words;
    use janus_model::model::rope::Rope;
    let mut report = Vec::new();
    let cases = [
        ((4, 2, 48), 2, 96, (7, 12), QuantFormat::Q4),
        ((1, 1, 18), 1, 64, (2, 3), QuantFormat::Q8),
    ];
    for (i, ((nh, nkv, d), b, cols, (pos, cap), format)) in cases.into_iter().enumerate() {
        let seed = 200 + 10 * i as u64;
        let rows = (nh + 2 * nkv) * d;
        let matrix = QuantMatrix::upload_as(
            &quantize(&random(rows * cols, seed), cols, format),
            device,
            true,
        );
        let x = tensor(random(b * cols, seed + 1), [b, cols], device);
        let gain = tensor(random(cols, seed + 2), [cols], device);
        let eps = 1e-5;
        let cache0 = |k: u64| random(b * nkv * cap * d, seed + k);
        let cache = |values: Vec<f32>| tensor(values, [b, nkv, cap, d], device);
        let words = state_words(&Rope::new(d, 10_000.0), pos, 0);
        let state = i32_tensor(device, [words.len()], &words);
        // Apart: the product with the norm (checked against the host above), then rope_kv.
        let (want_k, want_v) = (cache(cache0(3)), cache(cache0(4)));
        let normed = Fused {
            norm: Some((&gain, eps)),
            ..Fused::default()
        };
        let before = layout();
        set_layout(flat(32, 1, 1));
        let qkv = matrix.matvec_fused(x.clone(), normed.clone());
        set_layout(before);
        let qkv = qkv.ok_or("the flat layout declined the norm")?;
        let want_q = rope_kv(qkv, (nh, nkv, d), (&want_k, &want_v), &state);
        let want = [
            read_any(want_q).await?,
            read_any(want_k).await?,
            read_any(want_v).await?,
        ];
        let shape = format!(
            "{nh} heads over {nkv}, D {d}, batch {b}, {}, position {pos} of {cap}",
            format.name()
        );
        let mut worst = 0f32;
        for l in LAYOUTS {
            let (k_cache, v_cache) = (cache(cache0(3)), cache(cache0(4)));
            let fused = Fused {
                rope: Some(RopeKv {
                    heads: (nh, nkv, d),
                    caches: (&k_cache, &v_cache),
                    state: &state,
                }),
                ..normed.clone()
            };
            set_layout(l);
            let got = matrix.matvec_fused(x.clone(), fused);
            set_layout(before);
            let got = match (got, rotates(l)) {
                (Some(got), true) => got,
                (None, false) => continue,
                (Some(_), false) => return Err(format!("{l:?} rotated inside the product")),
                (None, true) => return Err(format!("{l:?} declined the rotation ({shape})")),
            };
            let got = [
                read_any(got).await?,
                read_any(k_cache).await?,
                read_any(v_cache).await?,
            ];
            let parts = ["queries", "key cache", "value cache"];
            for ((what, g), w) in parts.into_iter().zip(&got).zip(&want) {
                let label = format!("q/k/v product with rope_kv, {what} ({shape}), {l:?}");
                worst = worst.max(compare(&label, g, w)?);
            }
        }
        report.push(format!(
            "q/k/v product with rope_kv inside ({shape}) against apart: {worst:.1e}"
        ));
    }
    Ok(report)
}

/// `shaders/take_ids.wgsl`: a step's input ids are the history's column `state[1] - 1`.
pub async fn take_ids_reads_the_previous_column(device: &Device) -> Result<(), String> {
    use janus_model::kernels::memory::i32_tensor;
    use janus_model::kernels::take_ids::take_ids;
    let (rows, columns) = (3usize, 5usize);
    let values: Vec<i32> = (0..(rows * columns) as i32).map(|v| v * 7 + 1).collect();
    let history = i32_tensor(device, [rows, columns], &values);
    for step in 1..=columns {
        let state = i32_tensor(device, [4], &[0, step as i32, 0, 0]);
        let got = read_ids(take_ids(&history, &state)).await?;
        let want: Vec<i64> = (0..rows)
            .map(|r| values[r * columns + step - 1] as i64)
            .collect();
        if got != want {
            return Err(format!(
                "take_ids at step {step}: {got:?}, expected {want:?}"
            ));
        }
    }
    Ok(())
}

/// `keep_rows.wgsl` copies a step's logits, f32 and (where the device has `shader-f16`) f16,
/// into its own f32 buffer exactly as `cast(F32)` reads them, at an awkward size (not a
/// multiple of the workgroup), and a second copy overwrites the first in place.
pub async fn keep_rows_matches_cast(device: &Device) -> Result<(), String> {
    use janus_model::kernels::keep_rows::KeptRows;
    let (rows, columns) = (3usize, 1001usize);
    let kept = KeptRows::new(device, rows, columns);
    let reader = kept.reader();
    let mut dtypes = vec![DType::F32];
    if device.supports_dtype(DType::F16) {
        dtypes.push(DType::F16);
    }
    for (i, dtype) in dtypes.into_iter().enumerate() {
        let values = random(rows * columns, 40 + i as u64);
        let logits =
            Tensor::<2>::from_data(TensorData::new(values, [rows, columns]), device).cast(dtype);
        kept.keep(logits.clone());
        let got = reader.start().await?;
        let want = read(logits.cast(DType::F32)).await?;
        if got != want {
            let (diff, _) = max_diff(&got, &want);
            return Err(format!(
                "keep_rows in {dtype:?}: max |diff| {diff:e}, expected 0"
            ));
        }
    }
    Ok(())
}
