//! Every bad input the engine can meet ends in a typed error naming the problem — never a panic.

mod common;

use std::cell::RefCell;
use std::ops::ControlFlow;

use common::*;
use janus_model::error::{
    ConfigError, ImageError, JanusError, PromptError, SourceError, TokenizerError, WeightsError,
};
use janus_model::generate::image::{ImageRequest, generate_image_codes};
use janus_model::generate::sampling::SamplingParams;
use janus_model::generate::text::{TextRequest, generate_text};
use janus_model::preprocess::image::{decode_image, preprocess};
use janus_model::weights::safetensors::{StoredDtype, decode_f32};
use janus_model::weights::source::ByteSource;
use janus_model::{MemorySource, WorkingDtype, load};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};

type Entry = (String, Dtype, Vec<usize>, Vec<u8>);

fn memory(name: &str) -> MemorySource {
    MemorySource::from_dir(&model_dir(name)).unwrap()
}

/// Rewrite one safetensors file of `src` through `edit`.
fn rewrite(src: &mut MemorySource, file: &str, edit: impl FnOnce(&mut Vec<Entry>)) {
    let bytes = src.read_all(file).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut entries: Vec<Entry> = st
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec()))
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    edit(&mut entries);
    let views: Vec<(String, TensorView)> = entries
        .iter()
        .map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    src.insert(file, safetensors::serialize(views, None).unwrap());
}

fn load_err(src: &MemorySource) -> JanusError {
    match load(src, &device(), WorkingDtype::F32) {
        Ok(_) => panic!("loaded a broken checkpoint"),
        Err(e) => e,
    }
}

fn weights_err(src: &MemorySource) -> WeightsError {
    match load_err(src) {
        JanusError::Weights(WeightsError::Many { first, .. }) => *first,
        JanusError::Weights(e) => e,
        other => panic!("expected a weights error, got {other}"),
    }
}

const FILE: &str = "model.safetensors";
const NORM: &str = "language_model.model.norm.weight";

#[test]
fn missing_tensor_is_named() {
    let mut src = memory("tiny-a-deepseek");
    rewrite(&mut src, FILE, |e| e.retain(|t| t.0 != NORM));
    let err = weights_err(&src);
    assert!(
        matches!(&err, WeightsError::Missing { name } if name == NORM),
        "{err}"
    );
    assert!(err.to_string().contains(NORM));
}

#[test]
fn unexpected_tensor_is_named() {
    let mut src = memory("tiny-a-deepseek");
    rewrite(&mut src, FILE, |e| {
        e.push((
            "language_model.model.extra.weight".into(),
            Dtype::BF16,
            vec![2],
            vec![0; 4],
        ))
    });
    let err = weights_err(&src);
    assert!(
        matches!(&err, WeightsError::Unexpected { name, .. } if name == "language_model.model.extra.weight"),
        "{err}"
    );
}

#[test]
fn wrong_shape_is_named() {
    let mut src = memory("tiny-a-deepseek");
    rewrite(&mut src, FILE, |e| {
        let t = e.iter_mut().find(|t| t.0 == NORM).unwrap();
        t.2 = vec![t.2[0] / 2, 2];
    });
    let err = weights_err(&src);
    assert!(
        matches!(&err, WeightsError::Shape { name, .. } if name == NORM),
        "{err}"
    );
}

#[test]
fn wrong_dtype_is_named() {
    let mut src = memory("tiny-a-deepseek");
    rewrite(&mut src, FILE, |e| {
        let t = e.iter_mut().find(|t| t.0 == NORM).unwrap();
        t.1 = Dtype::I16;
    });
    let err = weights_err(&src);
    assert!(
        matches!(&err, WeightsError::Dtype { name, dtype } if name == NORM && dtype == "I16"),
        "{err}"
    );
}

#[test]
fn f16_and_f32_sources_load_like_bf16() {
    // Re-encode every tensor of the bf16 checkpoint as f32 and as f16: the values are bf16-exact
    // (f32) or nearly so (f16), and the loader converts all three to the working dtype.
    for target in [Dtype::F32, Dtype::F16] {
        let mut src = memory("tiny-a-deepseek");
        rewrite(&mut src, FILE, |e| {
            for t in e.iter_mut() {
                let vals = decode_f32(StoredDtype::BF16, &t.3);
                t.1 = target;
                t.3 = match target {
                    Dtype::F32 => vals.iter().flat_map(|v| v.to_le_bytes()).collect(),
                    _ => vals
                        .iter()
                        .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
                        .collect(),
                };
            }
        });
        let loaded = load(&src, &device(), WorkingDtype::F32).unwrap();
        let g = golden("tiny-a");
        let case = &g["cases"]["raw"];
        let req = TextRequest {
            prompt_ids: u32s(&case["prompt_ids"]),
            images: vec![],
            max_new_tokens: 1,
            sampling: SamplingParams::greedy(),
            stop_token: None,
            image_token: loaded.tokenizer.special().image,
            logprobs: None,
            json: None,
        };
        let out = pollster::block_on(generate_text(&loaded.model, &req, |_| {
            ControlFlow::Continue(())
        }))
        .unwrap();
        let err = rel_err(&out.first_logits, &f32s(&case["first_logits"]));
        let tol = if target == Dtype::F32 { 1e-4 } else { 2e-2 };
        assert!(err < tol, "{target:?}: rel err {err}");
    }
}

#[test]
fn non_finite_weights_are_refused() {
    let mut src = memory("tiny-a-deepseek");
    rewrite(&mut src, FILE, |e| {
        let t = e.iter_mut().find(|t| t.0 == NORM).unwrap();
        t.3[0..2].copy_from_slice(&0x7fc0u16.to_le_bytes()); // bf16 NaN
    });
    assert!(matches!(weights_err(&src), WeightsError::NonFinite { name } if name == NORM));
}

#[test]
fn truncated_padded_and_foreign_files_are_refused() {
    let mut src = memory("tiny-a-deepseek");
    let bytes = src.read_all(FILE).unwrap();
    src.insert(FILE, bytes[..bytes.len() - 1000].to_vec());
    assert!(matches!(weights_err(&src), WeightsError::BadHeader { .. }));
    let mut padded = bytes.clone();
    padded.extend_from_slice(&[0; 16]);
    src.insert(FILE, padded);
    assert!(matches!(weights_err(&src), WeightsError::BadHeader { .. }));
    src.insert(
        FILE,
        b"<!DOCTYPE html><html><body>Entry not found</body></html>".to_vec(),
    );
    assert!(matches!(weights_err(&src), WeightsError::BadHeader { .. }));
    src.insert(FILE, vec![]);
    assert!(matches!(weights_err(&src), WeightsError::BadHeader { .. }));
    let mut garbage = bytes.clone();
    for b in &mut garbage[8..64] {
        *b = 0xff;
    }
    src.insert(FILE, garbage);
    assert!(matches!(weights_err(&src), WeightsError::BadHeader { .. }));
}

#[test]
fn wrong_model_is_refused() {
    // tiny-b's config with tiny-a's weights: shapes disagree everywhere.
    let mut src = memory("tiny-a-deepseek");
    let other = memory("tiny-b-deepseek");
    src.insert("config.json", other.read_all("config.json").unwrap());
    match load_err(&src) {
        JanusError::Weights(WeightsError::Many { count, .. }) => assert!(count > 10),
        other => panic!("{other}"),
    }
    // A HF-format config over DeepSeek-named tensors: every name is unexpected.
    let mut src = memory("tiny-a-deepseek");
    src.insert(
        "config.json",
        memory("tiny-a-hf").read_all("config.json").unwrap(),
    );
    let err = weights_err(&src);
    assert!(
        matches!(
            err,
            WeightsError::Unexpected { .. } | WeightsError::Missing { .. }
        ),
        "{err}"
    );
}

#[test]
fn missing_and_broken_files() {
    let mut src = memory("tiny-a-deepseek");
    src.remove("config.json");
    assert!(
        matches!(load_err(&src), JanusError::Source(SourceError::NotFound { file }) if file == "config.json")
    );

    let mut src = memory("tiny-a-deepseek");
    src.insert(
        "config.json",
        b"{\"model_type\": \"multi_modality\", ".to_vec(),
    );
    assert!(matches!(
        load_err(&src),
        JanusError::Config(ConfigError::Json(_))
    ));

    let mut src = memory("tiny-a-deepseek");
    src.remove("model.safetensors");
    assert!(matches!(
        load_err(&src),
        JanusError::Weights(WeightsError::Source(SourceError::NotFound { .. }))
    ));
    src.insert("pytorch_model.bin", vec![1, 2, 3]);
    let msg = load_err(&src).to_string();
    assert!(msg.contains("not supported"), "{msg}");

    let mut src = memory("tiny-a-deepseek");
    src.insert("tokenizer.json", b"{\"version\": 1".to_vec());
    assert!(matches!(
        load_err(&src),
        JanusError::Tokenizer(TokenizerError::Load(_))
    ));
}

#[test]
fn tokenizer_without_pad_is_refused() {
    let mut src = memory("tiny-b-hf");
    let text = String::from_utf8(src.read_all("tokenizer.json").unwrap()).unwrap();
    src.insert(
        "tokenizer.json",
        text.replace("<｜▁pad▁｜>", "<unused_pad>").into_bytes(),
    );
    match load_err(&src) {
        JanusError::Tokenizer(TokenizerError::MissingSpecial(name)) => {
            assert_eq!(name, "<｜▁pad▁｜>")
        }
        other => panic!("{other}"),
    }
}

#[test]
fn shard_index_problems() {
    // tiny-a-hf is sharded in two.
    let mut src = memory("tiny-a-hf");
    src.remove("model-00002-of-00002.safetensors");
    assert!(matches!(
        load_err(&src),
        JanusError::Weights(WeightsError::Source(SourceError::NotFound { .. }))
    ));

    let mut src = memory("tiny-a-hf");
    let index = String::from_utf8(src.read_all("model.safetensors.index.json").unwrap()).unwrap();
    // Point one tensor at the other shard.
    let moved = index.replacen("model-00001-of-00002", "model-00002-of-00002", 1);
    src.insert("model.safetensors.index.json", moved.into_bytes());
    assert!(matches!(
        weights_err(&src),
        WeightsError::IndexMismatch { .. }
    ));

    let mut src = memory("tiny-a-hf");
    src.insert(
        "model.safetensors.index.json",
        index
            .replace(
                "model-00001-of-00002.safetensors",
                "../../etc/passwd.safetensors",
            )
            .into_bytes(),
    );
    assert!(matches!(weights_err(&src), WeightsError::BadIndex(_)));

    // The same tensor in both shards.
    let mut src = memory("tiny-a-hf");
    let first =
        SafeTensors::deserialize(&src.read_all("model-00001-of-00002.safetensors").unwrap())
            .unwrap()
            .names()
            .into_iter()
            .map(String::from)
            .next()
            .unwrap();
    let bytes = src.read_all("model-00001-of-00002.safetensors").unwrap();
    let (dtype, shape, data) = {
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let v = st.tensor(&first).unwrap();
        (v.dtype(), v.shape().to_vec(), v.data().to_vec())
    };
    rewrite(&mut src, "model-00002-of-00002.safetensors", |e| {
        e.push((first.clone(), dtype, shape, data))
    });
    let err = weights_err(&src);
    assert!(
        matches!(
            err,
            WeightsError::Duplicate { .. } | WeightsError::IndexMismatch { .. }
        ),
        "{err}"
    );
}

/// Records every read, to check what the loader touches.
struct Recording {
    inner: MemorySource,
    reads: RefCell<Vec<(String, u64, u64)>>,
}

impl ByteSource for Recording {
    fn size(&self, file: &str) -> Result<u64, SourceError> {
        self.inner.size(file)
    }
    fn read(&self, file: &str, offset: u64, len: u64) -> Result<Vec<u8>, SourceError> {
        self.reads
            .borrow_mut()
            .push((file.to_string(), offset, len));
        self.inner.read(file, offset, len)
    }
}

#[test]
fn tensors_are_read_one_at_a_time_and_unused_ones_never() {
    let src = Recording {
        inner: memory("tiny-b-deepseek"),
        reads: RefCell::new(Vec::new()),
    };
    let loaded = load(&src, &device(), WorkingDtype::F32).unwrap();
    let reads = src.reads.borrow();
    let weight_reads: Vec<_> = reads
        .iter()
        .filter(|r| r.0.ends_with(".safetensors"))
        .collect();
    let largest = loaded.plan.largest_read();
    let total: u64 = [
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
    ]
    .iter()
    .map(|f| src.inner.size(f).unwrap())
    .sum();
    assert!(
        weight_reads.iter().all(|r| r.2 <= largest.max(64 * 1024)),
        "a read larger than one tensor"
    );
    assert!(
        largest * 4 < total,
        "largest tensor {largest} vs checkpoint {total}"
    );
    // Skipped tensors (VQ encoder, attn_pool, ...) are never read.
    let checkpoint = janus_model::weights::read_checkpoint(&src.inner).unwrap();
    for shard in &checkpoint.shards {
        for t in &shard.tensors {
            if loaded.plan.skipped.contains(&t.name) {
                assert!(
                    !weight_reads
                        .iter()
                        .any(|r| r.0 == shard.file && r.1 < t.end && t.start < r.1 + r.2),
                    "skipped tensor {} was read",
                    t.name
                );
            }
        }
    }
    assert!(loaded.plan.skipped.iter().any(|n| n.contains(".encoder.")));
    assert!(loaded.plan.skipped.iter().any(|n| n.contains("attn_pool")));
    assert!(
        loaded
            .plan
            .skipped
            .iter()
            .any(|n| n.ends_with("codebook_used"))
    );
}

#[test]
fn prompt_and_image_errors() {
    let m = load_fixture("tiny-a-hf");
    let tok = &m.tokenizer;
    // Longer than the 2048-position context.
    let long = "the red cat ".repeat(2000);
    let ids = tok.encode(&long).unwrap();
    assert!(ids.len() > 2048);
    let req = TextRequest {
        prompt_ids: ids.clone(),
        images: vec![],
        max_new_tokens: 4,
        sampling: SamplingParams::greedy(),
        stop_token: None,
        image_token: tok.special().image,
        logprobs: None,
        json: None,
    };
    let err = pollster::block_on(generate_text(&m.model, &req, |_| ControlFlow::Continue(())))
        .unwrap_err();
    assert!(
        matches!(err, JanusError::Prompt(PromptError::TooLong { .. })),
        "{err}"
    );
    let ireq = ImageRequest {
        prompt_ids: ids,
        count: 1,
        cfg_weight: 5.0,
        sampling: SamplingParams::greedy(),
        pad_token: tok.special().pad,
        preview_every: 0,
    };
    let err = pollster::block_on(generate_image_codes(&m.model, &ireq, |_| {
        ControlFlow::Continue(())
    }))
    .unwrap_err();
    assert!(
        matches!(err, JanusError::Prompt(PromptError::TooLong { .. })),
        "{err}"
    );

    // Placeholders without images.
    let (ids, n) = tok.expand_images(&tok.encode("<image_placeholder> hi").unwrap(), 576);
    assert_eq!(n, 1);
    let req = TextRequest {
        prompt_ids: ids,
        ..req
    };
    let err = pollster::block_on(generate_text(&m.model, &req, |_| ControlFlow::Continue(())))
        .unwrap_err();
    assert!(
        matches!(err, JanusError::Prompt(PromptError::ImageCount { .. })),
        "{err}"
    );

    // Bad sampling settings.
    let bad = SamplingParams {
        temperature: -1.0,
        ..SamplingParams::greedy()
    };
    let req = TextRequest {
        prompt_ids: vec![tok.special().bos],
        images: vec![],
        sampling: bad,
        ..req
    };
    assert!(
        pollster::block_on(generate_text(&m.model, &req, |_| ControlFlow::Continue(()))).is_err()
    );

    // Unreadable images.
    let err = preprocess(b"GIF89a-not-really", 384).unwrap_err();
    assert!(!err.to_string().is_empty());
    assert!(matches!(
        preprocess(b"plain text", 384),
        Err(ImageError::UnknownFormat)
    ));
    let png = std::fs::read(fixtures().join("images/photo.png")).unwrap();
    assert!(preprocess(&png[..png.len() / 3], 384).is_err());
}

#[test]
fn huge_images_are_refused_before_decoding() {
    // A valid PNG header claiming 20000 x 20000 pixels (no pixel data needed to refuse it).
    let mut png = Vec::new();
    let img = image::RgbImage::new(1, 1);
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    // IHDR width/height live at bytes 16..24.
    png[16..20].copy_from_slice(&20000u32.to_be_bytes());
    png[20..24].copy_from_slice(&20000u32.to_be_bytes());
    // Keep the chunk valid: CRC-32 over type + data (bytes 12..29), stored at 29..33.
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    let err = decode_image(&png).unwrap_err();
    assert!(matches!(err, ImageError::TooLarge { .. }), "{err}");
}

#[test]
fn other_formats_decode() {
    for f in ["photo.jpg", "photo.webp", "photo-portrait.png"] {
        let bytes = std::fs::read(fixtures().join("images").join(f)).unwrap();
        let p = preprocess(&bytes, 384).unwrap();
        assert_eq!(p.pixels.len(), 3 * 384 * 384, "{f}");
    }
}

/// CRC-32 (IEEE), as PNG chunks use.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn tied_lm_head_uses_the_embedding() {
    // A tied HF checkpoint has no lm_head tensor; the embedding matrix serves as the head.
    let mut src = memory("tiny-b-hf");
    let config = String::from_utf8(src.read_all("config.json").unwrap()).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&config).unwrap();
    v["text_config"]["tie_word_embeddings"] = serde_json::Value::Bool(true);
    src.insert("config.json", v.to_string().into_bytes());
    let mut embed = Vec::new();
    rewrite(&mut src, FILE, |e| {
        embed = e
            .iter()
            .find(|t| t.0 == "model.language_model.embed_tokens.weight")
            .unwrap()
            .3
            .clone();
        e.retain(|t| t.0 != "lm_head.weight");
    });
    let loaded = load(&src, &device(), WorkingDtype::F32).unwrap();
    let head = loaded.model.lm_head.weight.dense_blocks()[0]
        .clone()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    assert_eq!(head, decode_f32(StoredDtype::BF16, &embed));
    // Untied (the default) without lm_head is a missing tensor.
    let mut src = memory("tiny-b-hf");
    rewrite(&mut src, FILE, |e| e.retain(|t| t.0 != "lm_head.weight"));
    assert!(
        matches!(weights_err(&src), WeightsError::Missing { name } if name == "lm_head.weight")
    );
}

/// The forms people upload that are pictures all the same (P10): each decodes to RGB with the
/// colours it shows, or for an animation its first frame; written by scripts/make_odd_images.py.
#[test]
fn odd_pictures_decode_to_what_they_show() {
    let odd = |name: &str| std::fs::read(fixtures().join("images/odd").join(name)).unwrap();
    let near = |got: &image::Rgb<u8>, want: [u8; 3], what: &str| {
        let far = got
            .0
            .iter()
            .zip(want)
            .any(|(&g, w)| (g as i32 - w as i32).abs() > 40);
        assert!(!far, "{what}: {:?}, want about {want:?}", got.0);
    };
    // CMYK: cyan on the left, yellow on the right (an inverted reading would swap in red and blue).
    let cmyk = decode_image(&odd("cmyk.jpg")).unwrap();
    assert_eq!(cmyk.dimensions(), (96, 64));
    near(cmyk.get_pixel(10, 32), [0, 255, 255], "cmyk.jpg, left");
    near(cmyk.get_pixel(85, 32), [255, 255, 0], "cmyk.jpg, right");
    for name in ["animated.gif", "animated.webp"] {
        let first = decode_image(&odd(name)).unwrap();
        near(first.get_pixel(48, 32), [220, 20, 20], name);
    }
    for (name, want) in [
        ("palette.png", [30, 160, 60]),
        ("gray.png", [128, 128, 128]),
        ("16bit.png", [156, 156, 156]),
    ] {
        near(
            decode_image(&odd(name)).unwrap().get_pixel(5, 5),
            want,
            name,
        );
    }
    let all = [
        "cmyk.jpg",
        "animated.gif",
        "animated.webp",
        "gray.png",
        "palette.png",
        "16bit.png",
    ];
    for name in all {
        let prepared = preprocess(&odd(name), 384).unwrap();
        assert_eq!(prepared.pixels.len(), 3 * 384 * 384, "{name}");
    }
}

/// A 50-megapixel photo (8,192 × 6,144, under the 64-megapixel limit) is decoded and brought down
/// to the model's 384 × 384, not refused.
#[test]
fn a_fifty_megapixel_picture_is_resized() {
    let (w, h) = (8192u32, 6144u32);
    let img = image::RgbImage::from_fn(w, h, |x, _| {
        if x < w / 2 {
            image::Rgb([200, 40, 40])
        } else {
            image::Rgb([40, 40, 200])
        }
    });
    let mut jpeg = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut jpeg),
        image::ImageFormat::Jpeg,
    )
    .unwrap();
    let prepared = preprocess(&jpeg, 384).unwrap();
    assert_eq!(prepared.pixels.len(), 3 * 384 * 384);
    // 4:3 landscape: 384 × 288 of picture, centred, the rest padding.
    assert_eq!(prepared.resized, (384, 288));
}
