//! Block-quantised weights (issue 7) against full precision on the fixtures: the next-token
//! distribution of the golden text prompt and the guided first image-token distribution, with the
//! quantisable matrices in Q8 and in Q4. Q8 must stay within a small tolerance of f32; Q4 is
//! measured (KL divergence) and bounded loosely. The figures printed here are recorded in
//! BENCHMARKS.md ("Quantisation quality").
//!
//! The fixtures' weights are random, so these numbers measure the format's arithmetic on
//! Janus's shapes, not the quality of a trained model under quantisation.

mod common;

use common::*;
use janus_model::quant::QuantFormat;
use janus_model::{DirSource, Loaded, TensorStore, WorkingDtype, load_into};

fn load_quant(name: &str, format: Option<QuantFormat>) -> Loaded {
    let store = TensorStore::new(&device(), WorkingDtype::F32).with_quant(format);
    load_into(&DirSource::new(model_dir(name)), store).unwrap()
}

fn softmax(logits: &[f32]) -> Vec<f64> {
    let max = logits.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x)) as f64;
    let exp: Vec<f64> = logits.iter().map(|&x| (x as f64 - max).exp()).collect();
    let sum: f64 = exp.iter().sum();
    exp.iter().map(|e| e / sum).collect()
}

/// KL(p || q) in nats, p from the full-precision logits.
fn kl(full: &[f32], quant: &[f32]) -> f64 {
    let (p, q) = (softmax(full), softmax(quant));
    p.iter()
        .zip(&q)
        .filter(|(p, _)| **p > 0.0)
        .map(|(p, q)| p * (p / q.max(1e-300)).ln())
        .sum()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn quantised_logits_against_full_precision() {
    for (fixture, config) in [("tiny-a-hf", "tiny-a"), ("tiny-b-hf", "tiny-b")] {
        let full = load_quant(fixture, None);
        assert!(full.quantized_tensors.is_empty());
        let (text, image) = first_logits(&full, config);
        for format in [QuantFormat::Q8, QuantFormat::Q4] {
            let m = load_quant(fixture, Some(format));
            let quantised = &m.quantized_tensors;
            assert!(
                quantised
                    .iter()
                    .any(|n| n.ends_with("mlp.gate_proj.weight"))
                    && quantised.contains(&"gen_head.vision_head.weight".to_string()),
                "{fixture}: {quantised:?}"
            );
            let (qt, qi) = first_logits(&m, config);
            let (kl_text, kl_image) = (kl(&text, &qt), kl(&image, &qi));
            let (d_text, d_image) = (max_abs_diff(&text, &qt), max_abs_diff(&image, &qi));
            let scale = text.iter().fold(0f32, |m, x| m.max(x.abs()));
            println!(
                "{fixture} {}: {} matrices quantised; text KL {kl_text:.2e} nats, max |dlogit| {d_text:.4} (logits up to {scale:.2}); image KL {kl_image:.2e}, max |dlogit| {d_image:.4}",
                format.name(),
                quantised.len()
            );
            match format {
                QuantFormat::Q8 => {
                    // Guidance multiplies the logits' error by about 2w - 1 = 9.
                    assert!(
                        kl_text < 5e-4 && kl_image < 5e-3,
                        "{fixture} q8 KL {kl_text} {kl_image}"
                    );
                    assert!(
                        d_text < 0.05 * scale.max(1.0),
                        "{fixture} q8 logits moved {d_text}"
                    );
                }
                QuantFormat::Q4 => {
                    assert!(
                        kl_text < 0.05 && kl_image < 0.5,
                        "{fixture} q4 KL {kl_text} {kl_image}"
                    );
                    assert!(kl_text > 0.0, "q4 cannot be exact");
                }
            }
        }
    }
}

/// The plain-burn reference product (unpacking with Int shifts and masks) on the CPU device
/// equals the host's dequantised weights: the path every device without the WGSL kernel takes.
#[test]
fn the_reference_product_unpacks_exactly() {
    use burn::tensor::{Tensor, TensorData};
    use janus_model::quant::device::QuantMatrix;
    use janus_model::quant::{dequantize, quantize};
    let (rows, cols) = (5, 96);
    let values: Vec<f32> = (0..rows * cols)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) / 30.0)
        .collect();
    for format in [QuantFormat::Q8, QuantFormat::Q4] {
        let packed = quantize(&values, cols, format);
        let mut host = vec![0f32; rows * cols];
        dequantize(&packed, &mut host);
        let m = QuantMatrix::upload(&packed, &device());
        assert!(!m.uses_kernel(), "no kernel on the CPU device");
        let dense = m.dequantize().into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(dense, host, "{format:?}: unpacked weights");
        let x: Vec<f32> = (0..cols).map(|c| (c as f32 * 0.1).sin()).collect();
        let y = m
            .matmul_t(Tensor::from_data(
                TensorData::new(x.clone(), [1, cols]),
                &device(),
            ))
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        for r in 0..rows {
            let want: f32 = (0..cols).map(|c| x[c] * host[r * cols + c]).sum();
            assert!(
                (y[r] - want).abs() < 1e-4,
                "{format:?} row {r}: {} vs {want}",
                y[r]
            );
        }
    }
}
