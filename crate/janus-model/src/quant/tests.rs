use super::*;

/// A deterministic pseudo-random matrix with a wide range of magnitudes per block.
fn matrix(rows: usize, cols: usize, seed: u32) -> Vec<f32> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..rows * cols)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let unit = state as f32 / u32::MAX as f32 - 0.5;
            unit * if i % 7 == 0 { 3.0 } else { 0.2 }
        })
        .collect()
}

#[test]
fn round_trip_error_is_within_half_a_step_q4_clipping_within_one() {
    let (rows, cols) = (5, 96);
    let x = matrix(rows, cols, 7);
    for format in [QuantFormat::Q8, QuantFormat::Q4] {
        let packed = quantize(&x, cols, format);
        assert_eq!(packed.rows, rows);
        assert_eq!(packed.scales.len(), rows * cols / BLOCK);
        assert_eq!(packed.codes.len() * 32, rows * cols * format.bits());
        assert_eq!(packed.bytes(), format.bytes(rows, cols));
        let mut y = vec![0.0; x.len()];
        dequantize(&packed, &mut y);
        for (b, (xs, ys)) in x.chunks(BLOCK).zip(y.chunks(BLOCK)).enumerate() {
            let step = half::f16::from_bits(packed.scales[b]).to_f32().abs();
            for (&a, &c) in xs.iter().zip(ys) {
                // Half a step (Q4: one, where a value near the opposite extreme clips to +7).
                let tolerance = match format {
                    QuantFormat::Q8 => 0.5,
                    QuantFormat::Q4 => 1.0,
                } * step
                    + 1e-6;
                assert!(
                    (a - c).abs() <= tolerance,
                    "{format:?} block {b}: {a} -> {c} (step {step})"
                );
            }
        }
    }
}

#[test]
fn q4_puts_the_extreme_element_on_minus_eight_and_uses_every_level() {
    let mut block: Vec<f32> = (0..BLOCK).map(|i| i as f32 / 31.0 * 2.0 - 1.0).collect();
    block[3] = -4.0; // the extreme, negative
    let p = quantize(&block, BLOCK, QuantFormat::Q4);
    let code = |i: usize| (p.codes[i / 8] >> ((i % 8) * 4)) & 15;
    assert_eq!(code(3), 0);
    let mut y = vec![0.0; BLOCK];
    dequantize(&p, &mut y);
    assert_eq!(y[3], -4.0, "the extreme element is exact");
    // A positive extreme maps to -8 too, through a negative scale.
    block[3] = 4.0;
    let p = quantize(&block, BLOCK, QuantFormat::Q4);
    assert!(half::f16::from_bits(p.scales[0]).to_f32() < 0.0);
    dequantize(&p, &mut y);
    assert_eq!(y[3], 4.0);
}

#[test]
fn the_packed_layout_is_as_documented() {
    // Q8: element 4w+k in byte k of word w, two's complement.
    let mut x = vec![0.0f32; BLOCK];
    x[0] = 127.0;
    x[1] = -127.0;
    x[5] = 1.0;
    let p = quantize(&x, BLOCK, QuantFormat::Q8);
    assert_eq!(half::f16::from_bits(p.scales[0]).to_f32(), 1.0);
    assert_eq!(p.codes[0], 127 | (0x81 << 8));
    assert_eq!(p.codes[1], 1 << 8);
    // Q4: element 8w+k in nibble k, stored as q + 8.
    let mut x = vec![0.0f32; BLOCK];
    x[0] = -8.0;
    x[9] = 7.0;
    let p = quantize(&x, BLOCK, QuantFormat::Q4);
    assert_eq!(half::f16::from_bits(p.scales[0]).to_f32(), 1.0);
    assert_eq!(p.codes[0] & 0xF, 0);
    assert_eq!((p.codes[1] >> 4) & 0xF, 15);
    assert_eq!((p.codes[1] >> 8) & 0xF, 8, "zero is code 8");
}

#[test]
fn zero_blocks_stay_zero() {
    let x = vec![0.0f32; 2 * BLOCK];
    for format in [QuantFormat::Q8, QuantFormat::Q4] {
        let mut y = x.clone();
        round_trip(&mut y, BLOCK, format);
        assert_eq!(x, y);
    }
}

#[test]
fn which_tensors_are_quantised() {
    let m = [2048, 2048];
    for yes in [
        "language_model.model.layers.0.self_attn.q_proj.weight",
        "language_model.model.layers.23.mlp.down_proj.weight",
        "language_model.lm_head.weight",
        "vision_model.vision_tower.blocks.3.attn.k.weight",
        "vision_model.vision_tower.blocks.0.mlp.fc2.weight",
        "gen_head.vision_head.weight",
        // Read by lookup, not by product: unpacked row by row.
        "language_model.model.embed_tokens.weight",
    ] {
        assert!(quantizable(yes, &m), "{yes}");
    }
    assert!(is_lookup("language_model.model.embed_tokens.weight"));
    assert!(!is_lookup("language_model.lm_head.weight"));
    for no in [
        "language_model.model.layers.0.input_layernorm.weight",
        "language_model.model.layers.0.self_attn.q_proj.bias",
        "gen_embed.weight",
        "gen_vision_model.decoder.conv_in.weight",
        "aligner.layers.0.weight",
        "vision_model.vision_tower.patch_embed.proj.weight",
    ] {
        assert!(!quantizable(no, &m), "{no}");
    }
    assert!(
        !quantizable("language_model.lm_head.weight", &[100, 40]),
        "rows not in whole blocks"
    );
    assert!(
        !quantizable("language_model.lm_head.weight", &[2048]),
        "not a matrix"
    );
}

#[test]
fn the_file_form_round_trips_and_refuses_damage() {
    for format in [QuantFormat::Q8, QuantFormat::Q4] {
        let (rows, cols) = (5, 96);
        let packed = quantize(&matrix(rows, cols, 11), cols, format);
        let bytes = packed.to_row_bytes();
        assert_eq!(bytes.len(), rows * PackedMatrix::row_bytes(format, cols));
        assert_eq!(bytes.len() as u64, format.bytes(rows, cols));
        assert_eq!(
            PackedMatrix::from_row_bytes(format, cols, &bytes).unwrap(),
            packed
        );
        // Any run of whole rows parses alone: a reader converts rows as they arrive.
        let row = PackedMatrix::row_bytes(format, cols);
        assert_eq!(
            PackedMatrix::from_row_bytes(format, cols, &bytes[row..3 * row]).unwrap(),
            packed.row_range(1, 3)
        );
        assert!(PackedMatrix::from_row_bytes(format, cols, &bytes[1..]).is_err());
        assert!(PackedMatrix::from_row_bytes(format, 33, &bytes).is_err());
        let mut nan = bytes.clone();
        let scale_at = cols * format.bits() / 8;
        nan[scale_at..scale_at + 2].copy_from_slice(&half::f16::NAN.to_bits().to_le_bytes());
        let err = PackedMatrix::from_row_bytes(format, cols, &nan).unwrap_err();
        assert!(err.contains("not finite"), "{err}");
    }
}
