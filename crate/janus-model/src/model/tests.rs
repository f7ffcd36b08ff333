//! Module tests on synthetic random weights: properties that must hold whatever the weights —
//! incremental decoding equals a full forward, attention masks, layouts, norms against their
//! formulas. (Equality with the reference implementation is proven in `tests/reference.rs`.)

use burn::tensor::{Device, Int, Tensor, TensorData};

use super::Janus;
use super::kv_cache::KvCache;
use super::nn::{GroupNorm, Linear, RmsNorm, RowBlocks};
use super::vq::upsample_nearest_2x;
use crate::config::JanusConfig;
use crate::error::WeightsError;
use crate::weights::spec::{Usage, expected_tensors};
use crate::weights::{TensorStore, WorkingDtype};

fn device() -> Device {
    Device::flex()
}

/// Deterministic values in [-scale, scale).
fn random(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

/// A tiny HF-format config; `kv_heads` < 4 exercises grouped-query attention.
fn tiny_config(kv_heads: usize) -> JanusConfig {
    let text = format!(
        r#"{{"model_type":"janus",
        "text_config":{{"model_type":"llama","hidden_size":32,"intermediate_size":48,"num_hidden_layers":2,
          "num_attention_heads":4,"num_key_value_heads":{kv_heads},"vocab_size":40,"max_position_embeddings":64}},
        "vision_config":{{"hidden_size":16,"num_hidden_layers":1,"num_attention_heads":2,"image_size":32,"patch_size":8,
          "projection_dim":32,"depth":3,"num_image_tokens":16}},
        "vq_config":{{"embed_dim":4,"num_embeddings":12,"latent_channels":8,"base_channels":32,"channel_multiplier":[1,1],
          "num_res_blocks":1,"projection_dim":32,"image_token_embed_dim":32}}}}"#
    );
    JanusConfig::from_json(&text).unwrap()
}

/// A model with random weights for every tensor the config implies.
fn random_model(config: &JanusConfig, seed: u64) -> Janus {
    let mut store = TensorStore::new(&device(), WorkingDtype::F32);
    for (i, spec) in expected_tensors(config).into_iter().enumerate() {
        if let Usage::Load(placements) = spec.usage {
            for p in placements {
                let n: usize = p.shape.iter().product();
                let mut v = random(n, seed * 1000 + i as u64, 0.5);
                // Norm scales near 1, as trained models have them.
                let is_norm = p.shape.len() == 1
                    && p.target.ends_with(".weight")
                    && p.target.contains("norm");
                if is_norm {
                    v.iter_mut().for_each(|x| *x = 1.0 + *x * 0.2);
                }
                store.insert(&p.target, &v, &p.shape).unwrap();
            }
        }
    }
    Janus::from_store(config, &mut store).unwrap()
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()))
}

#[test]
fn incremental_decoding_equals_a_full_forward() {
    for kv_heads in [4, 2, 1] {
        let config = tiny_config(kv_heads);
        let m = random_model(&config, kv_heads as u64);
        let ids: Vec<u32> = vec![1, 7, 3, 9, 22, 5, 13];
        // One pass over all tokens.
        let mut cache = m.new_cache(4);
        let full = m.forward_embeds(
            m.embed_tokens(m.ids_tensor(std::slice::from_ref(&ids))),
            &mut cache,
        );
        let full = values(m.text_logits(full));
        // Prefill 4, then one token at a time (the cache grows past its hint).
        let mut cache = m.new_cache(2);
        m.forward_embeds(
            m.embed_tokens(m.ids_tensor(&[ids[..4].to_vec()])),
            &mut cache,
        );
        let mut last = Vec::new();
        for &id in &ids[4..] {
            let h = m.forward_embeds(m.embed_tokens(m.ids_tensor(&[vec![id]])), &mut cache);
            last = values(m.text_logits(h));
        }
        assert_eq!(cache[0].len(), ids.len());
        let d = max_diff(&full, &last);
        assert!(
            d < 1e-4,
            "kv_heads {kv_heads}: incremental vs full differ by {d}"
        );
    }
}

#[test]
fn decoder_attention_is_causal() {
    let config = tiny_config(4);
    let m = random_model(&config, 11);
    let run = |ids: Vec<u32>| {
        let mut cache = m.new_cache(8);
        let h = m.forward_embeds(m.embed_tokens(m.ids_tensor(&[ids])), &mut cache);
        values(h.narrow(1, 0, 3))
    };
    // Changing token 4 cannot change positions 0..3.
    let a = run(vec![1, 2, 3, 4, 5]);
    let b = run(vec![1, 2, 3, 30, 5]);
    assert_eq!(a, b);
}

#[test]
fn vision_attention_is_bidirectional_and_shapes_hold() {
    let config = tiny_config(4);
    let m = random_model(&config, 5);
    let pixels = |v: f32| {
        let mut p = random(3 * 32 * 32, 9, 1.0);
        // change only the last patch (bottom-right 8x8 of every channel)
        for c in 0..3 {
            for y in 24..32 {
                for x in 24..32 {
                    p[c * 1024 + y * 32 + x] = v;
                }
            }
        }
        Tensor::<4>::from_data(TensorData::new(p, [1, 3, 32, 32]), &device())
    };
    let a = m.encode_images(pixels(0.5));
    assert_eq!(a.dims(), [1, 16, 32]);
    let b = m.encode_images(pixels(-0.5));
    let first = |t: Tensor<3>| values(t.narrow(1, 0, 1));
    assert!(
        max_diff(&first(a), &first(b)) > 1e-4,
        "the first token ignores the last patch"
    );
}

#[test]
fn vq_decoder_output_shape_and_upsample() {
    let config = tiny_config(4);
    let m = random_model(&config, 3);
    let codes: Vec<i64> = (0..2 * 16).map(|i| i % 12).collect();
    let codes = Tensor::<2, Int>::from_data(TensorData::new(codes, [2, 16]), &device());
    let img = m.decode_codes(codes);
    assert_eq!(img.dims(), [2, 3, 8, 8], "grid 4, one upsample");
    let x = Tensor::<4>::from_data(
        TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0], [1, 1, 2, 2]),
        &device(),
    );
    assert_eq!(
        values(upsample_nearest_2x(x)),
        vec![
            1., 1., 2., 2., 1., 1., 2., 2., 3., 3., 4., 4., 3., 3., 4., 4.
        ]
    );
}

#[test]
fn generation_input_and_heads_have_the_configured_widths() {
    let config = tiny_config(4);
    let m = random_model(&config, 8);
    let codes = Tensor::<2, Int>::from_data(TensorData::new(vec![3i64, 4], [2, 1]), &device());
    let e = m.image_code_embeds(codes);
    assert_eq!(e.dims(), [2, 1, 32]);
    let mut cache = m.new_cache(4);
    let h = m.forward_embeds(e, &mut cache);
    assert_eq!(m.image_logits(h.clone()).dims(), [2, 12]);
    assert_eq!(m.text_logits(h).dims(), [2, 40]);
}

#[test]
fn linear_uses_pytorch_layout() {
    let d = device();
    // W: [out 3, in 2]
    let l = Linear {
        weight: RowBlocks::new(vec![Tensor::from_data(
            TensorData::new(vec![1f32, 2., 3., 4., 5., 6.], [3, 2]),
            &d,
        )])
        .unwrap(),
        bias: Some(Tensor::from_data(
            TensorData::new(vec![0.5f32, 0., -1.], [3]),
            &d,
        )),
    };
    let x = Tensor::<2>::from_data(TensorData::new(vec![1f32, 1.], [1, 2]), &d);
    assert_eq!(values(l.forward(x)), vec![3.5, 7.0, 10.0]);
}

#[test]
fn row_blocks_split_anywhere_equal_one_block() {
    let d = device();
    let (rows, cols) = (11, 5);
    let w = random(rows * cols, 3, 1.0);
    let whole = RowBlocks::new(vec![Tensor::from_data(
        TensorData::new(w.clone(), [rows, cols]),
        &d,
    )])
    .unwrap();
    // Blocks of 4, 4 and 3 rows, as the store cuts a matrix over its buffer limit.
    let split = RowBlocks::new(
        w.chunks(4 * cols)
            .map(|c| Tensor::from_data(TensorData::new(c.to_vec(), [c.len() / cols, cols]), &d))
            .collect(),
    )
    .unwrap();
    assert_eq!(split.block_count(), 3);
    assert_eq!((split.rows(), split.cols()), (rows, cols));
    let x = Tensor::<3>::from_data(
        TensorData::new(random(2 * 3 * cols, 4, 1.0), [2, 3, cols]),
        &d,
    );
    let bias = Tensor::<1>::from_data(TensorData::new(random(rows, 5, 1.0), [rows]), &d);
    let a = values(whole.linear(x.clone(), Some(bias.clone())));
    let b = values(split.linear(x, Some(bias)));
    assert!(a.iter().zip(&b).all(|(p, q)| (p - q).abs() < 1e-6));
    // Every row, including the first and last of each block, in any order and repeated.
    let ids: Vec<i64> = vec![0, 3, 4, 7, 8, 10, 10, 0, 5];
    let ids = Tensor::<1, Int>::from_data(TensorData::new(ids, [9]), &d);
    assert_eq!(values(whole.select(ids.clone())), values(split.select(ids)));
}

#[test]
fn store_splits_matrices_over_the_limit_and_refuses_the_rest() {
    let d = device();
    // 10 rows of 4 f32 = 160 bytes; a 48-byte limit keeps 3 rows per block.
    let mut store = TensorStore::new(&d, WorkingDtype::F32).with_max_tensor_bytes(48);
    let v: Vec<f32> = (0..40).map(|i| i as f32).collect();
    store.insert("m", &v, &[10, 4]).unwrap();
    assert_eq!(store.split_tensors(), ["m".to_string()]);
    let blocks = store.take_matrix("m").unwrap().dense_blocks();
    let rows: Vec<usize> = blocks.iter().map(|b| b.dims()[0]).collect();
    assert_eq!(rows, vec![3, 3, 3, 1]);
    // A split matrix cannot be taken whole, and non-matrices or over-wide rows cannot split.
    store.insert("m2", &v, &[10, 4]).unwrap();
    assert!(matches!(
        store.take::<2>("m2"),
        Err(WeightsError::TooLarge { .. })
    ));
    let err = store.insert("conv", &v, &[10, 2, 2]).unwrap_err();
    assert!(
        matches!(
            err,
            WeightsError::TooLarge {
                bytes: 160,
                limit: 48,
                ..
            }
        ),
        "{err}"
    );
    let err = store.insert("wide", &v, &[2, 20]).unwrap_err();
    assert!(matches!(err, WeightsError::TooLarge { .. }), "{err}");
    // The VQ decoder stays f32 in an f16 store.
    let half = TensorStore::new(&d, WorkingDtype::F16);
    assert_eq!(
        half.dtype_for("gen_vision_model.decoder.conv_in.weight"),
        WorkingDtype::F32
    );
    assert_eq!(
        half.dtype_for("language_model.lm_head.weight"),
        WorkingDtype::F16
    );
}

#[test]
fn norms_follow_their_formulas() {
    let d = device();
    let v = random(2 * 8, 1, 2.0);
    let w = random(8, 2, 1.0);
    let x = Tensor::<2>::from_data(TensorData::new(v.clone(), [2, 8]), &d);
    let norm = RmsNorm {
        weight: Tensor::from_data(TensorData::new(w.clone(), [8]), &d),
        eps: 1e-6,
    };
    let got = values(norm.forward(x));
    for r in 0..2 {
        let row = &v[r * 8..(r + 1) * 8];
        let rms = (row.iter().map(|x| (x * x) as f64).sum::<f64>() / 8.0 + 1e-6).sqrt();
        for i in 0..8 {
            let want = (row[i] as f64 / rms) as f32 * w[i];
            assert!((got[r * 8 + i] - want).abs() < 1e-5);
        }
    }
    // GroupNorm: 2 groups over [1, 4, 1, 2]; each group of 4 values normalised.
    let v = vec![1f32, 2., 3., 4., 10., 20., 30., 40.];
    let gn = GroupNorm {
        weight: Tensor::from_data(TensorData::new(vec![1f32; 4], [4]), &d),
        bias: Tensor::from_data(TensorData::new(vec![0f32; 4], [4]), &d),
        groups: 2,
        eps: 0.0,
    };
    let got = values(gn.forward(Tensor::from_data(TensorData::new(v, [1, 4, 1, 2]), &d)));
    let z = [-1.341_640_8f32, -0.447_213_6, 0.447_213_6, 1.341_640_8];
    for (g, w) in got.iter().zip(z.iter().chain(z.iter())) {
        assert!((g - w).abs() < 1e-5, "{got:?}");
    }
}

#[test]
fn kv_cache_growth_keeps_contents() {
    let d = device();
    let chunk = |start: usize, t: usize| {
        let v: Vec<f32> = (0..2 * t * 3).map(|i| (start * 100 + i) as f32).collect();
        Tensor::<4>::from_data(TensorData::new(v, [1, 2, t, 3]), &d)
    };
    let mut cache = KvCache::new(1);
    let parts = [(0, 3), (1, 2), (2, 1), (3, 4)];
    let mut all_k = Vec::new();
    let mut last = None;
    for (i, t) in parts {
        all_k.push(chunk(i, t));
        last = Some(cache.append(chunk(i, t), chunk(i, t)));
    }
    let (k, v) = last.unwrap();
    let expect = Tensor::cat(all_k, 2);
    assert_eq!(k.dims(), [1, 2, 10, 3]);
    assert_eq!(values(k), values(expect.clone()));
    assert_eq!(values(v), values(expect));
}

#[test]
fn prefill_chunks_keep_attention_scores_within_the_bound() {
    use super::llama::{PREFILL_SCORE_BYTES as BOUND, prefill_rows};
    // Janus-1.3B (16 heads): a prompt of 1,024 positions runs whole; one of 4,096 in chunks of
    // 256 rows, where whole its scores would take 1 GiB.
    assert_eq!(prefill_rows(1, 16, 1024, BOUND), 1024);
    assert_eq!(prefill_rows(1, 16, 4096, BOUND), 256);
    // An image job's conditional and unconditional rows, a 30-token prompt and its 576 codes:
    // whole.
    assert!(prefill_rows(2, 16, 606, BOUND) >= 606);
    // SigLIP (16 heads over 576 patches, a picture a "row"): three pictures a pass.
    assert_eq!(prefill_rows(16, 576, 576, BOUND), 3);
    // Every chunk within the bound, up to the full context; one row past any bound.
    for positions in [1, 2, 577, 4095, 16384] {
        let rows = prefill_rows(1, 16, positions, BOUND);
        assert!(
            rows >= 1 && (rows * 16 * positions * 4) as u64 <= BOUND,
            "{positions}: {rows}"
        );
    }
    assert_eq!(prefill_rows(1, 16, 4096, 1), 1);
}
