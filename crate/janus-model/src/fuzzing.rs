//! The fuzz harnesses' bodies (issue 8): every parser of bytes we do not control, driven the way
//! a load drives it. `fuzz/fuzz_targets/` hands libFuzzer's inputs to these, and
//! `tests/fuzz_inputs.rs` replays the committed seeds and every past crash through the same
//! functions on stable Rust, so a fixed crash stays fixed. Each returns normally for any input:
//! a panic is the bug being looked for.

use std::sync::OnceLock;

use crate::config::JanusConfig;
use crate::preprocess::image::{PreparedImage, preprocess};
use crate::request::{ChatRequest, ImageGenRequest, rgba_image};
use crate::tokenizer::JanusTokenizer;
use crate::weights::manifest::PackManifest;
use crate::weights::{ShardIndex, expected_tensors, packed, parameter_count, plan, safetensors};

/// A harness: any bytes in, a panic only for a bug.
pub type Harness = fn(&[u8]);

/// The fuzz targets, by name (the names of `fuzz/fuzz_targets/*.rs` and `fuzz/seeds/*/`).
pub const TARGETS: [(&str, Harness); 6] = [
    ("safetensors_header", safetensors_header),
    ("config_json", config_json),
    ("shard_index", shard_index),
    ("pack_manifest", pack_manifest),
    ("image_file", image_file),
    ("worker_request", worker_request),
];

pub(crate) fn tiny_config() -> &'static JanusConfig {
    static CONFIG: OnceLock<JanusConfig> = OnceLock::new();
    CONFIG.get_or_init(|| {
        JanusConfig::from_json(include_str!(
            "../../../tests/fixtures/models/tiny-a-hf/config.json"
        ))
        .expect("the fixture's config parses")
    })
}

pub(crate) fn tiny_tokenizer() -> &'static JanusTokenizer {
    static TOKENIZER: OnceLock<JanusTokenizer> = OnceLock::new();
    TOKENIZER.get_or_init(|| {
        JanusTokenizer::from_bytes(
            include_bytes!("../../../tests/fixtures/models/tiny-a-hf/tokenizer.json"),
            tiny_config().language.vocab_size,
        )
        .expect("the fixture's tokenizer parses")
    })
}

/// A safetensors file's first bytes and its length, as a download presents them: the 8-byte
/// header length, the JSON header and tensor table (offsets, dtypes and shapes checked against
/// the file length), then the load plan built from it against the tiny-a model (missing, extra,
/// misshapen tensors; a pack's metadata). Input: the file length (8 bytes, little-endian), then
/// the file's bytes from its start (as many as the input has: a short input is a short read).
pub fn safetensors_header(data: &[u8]) {
    let Some((len, file)) = data.split_first_chunk::<8>() else {
        return;
    };
    let file_len = u64::from_le_bytes(*len);
    let name = "model.safetensors";
    let prefix = &file[..file.len().min(8)];
    let Ok(n) = safetensors::header_len(name, prefix, file_len) else {
        return;
    };
    let end = usize::try_from(n)
        .ok()
        .and_then(|n| n.checked_add(8))
        .map_or(file.len(), |e| e.min(file.len()));
    let header = &file[prefix.len()..end];
    let Ok(shard) = safetensors::parse_header(name, header, file_len) else {
        return;
    };
    let shards = [shard];
    let _ = packed::pack_format(&shards);
    let _ = plan(tiny_config(), &shards, None);
}

/// `config.json` in either format (transformers' Janus or DeepSeek's original), then the tensor
/// table it implies (every shape multiplied out: sizes must be bounded before that).
pub fn config_json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = JanusConfig::from_json(text) {
        let _ = parameter_count(&expected_tensors(&config));
    }
}

/// `model.safetensors.index.json`: tensor -> shard file (plain file names only).
pub fn shard_index(data: &[u8]) {
    if let Ok(index) = ShardIndex::parse(data) {
        let _ = index.shards();
    }
}

/// `janus-pack.json`, a pack's manifest (format, sizes, SHA-256 digests, plain file names).
/// Whatever parses must write back to JSON that parses to the same files.
pub fn pack_manifest(data: &[u8]) {
    if let Ok(manifest) = PackManifest::parse(data) {
        let _ = manifest.bytes();
        let again = PackManifest::parse(manifest.to_json().as_bytes())
            .expect("a parsed manifest writes back to one that parses");
        assert_eq!(
            again.files, manifest.files,
            "the manifest's files round-trip"
        );
    }
}

/// A file a user attaches to a chat: any bytes, decoded (PNG, JPEG, WebP, GIF; dimensions refused
/// past 64 megapixels before any pixel is allocated; EXIF orientation applied), resized and padded
/// to the vision tower's 384 x 384. Every value of a prepared image is in [-1, 1].
pub fn image_file(data: &[u8]) {
    if let Ok(image) = preprocess(data, 384) {
        assert_eq!(image.pixels.len(), 3 * 384 * 384);
        assert!(
            image.pixels.iter().all(|v| (-1.0..=1.0).contains(v)),
            "a prepared value is outside [-1, 1]"
        );
    }
}

/// What the web worker hands the engine for a chat, an image generation or a picture the
/// browser decoded, checked all the way to the generation request (tokenised against the tiny
/// model, context and vocabulary checked) without running the model. Input: a selector byte,
/// then
/// - `0`: a byte for the number of images sent (0-3), then the chat request's JSON;
/// - `1`: the image request's JSON;
/// - `2`: JSON `{"width": w, "height": h}` (any numbers, or absent), a 0 byte, the RGBA bytes.
///
/// Whatever is accepted must hold up: a prompt inside the context and the vocabulary, one
/// placeholder run per image; an RGBA picture prepared at the tower's size.
pub fn worker_request(data: &[u8]) {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let config = tiny_config();
    let tok = tiny_tokenizer();
    match kind % 3 {
        0 => {
            let Some((&n, json)) = rest.split_first() else {
                return;
            };
            let Ok(request) = serde_json::from_slice::<ChatRequest>(json) else {
                return;
            };
            // Stand-ins: the checks count images; none of them reads pixels.
            let size = config.vision.image_size;
            let images = (0..n % 4)
                .map(|_| PreparedImage {
                    pixels: Vec::new(),
                    size,
                    resized: (size, size),
                })
                .collect();
            if let Ok(text) = request.text_request(tok, config, images, || 7) {
                assert!(
                    text.validate(config).is_ok(),
                    "an accepted chat re-validates"
                );
                let placeholders = text
                    .prompt_ids
                    .iter()
                    .filter(|&&id| id == text.image_token)
                    .count();
                assert_eq!(
                    placeholders,
                    text.images.len() * config.image_tokens(),
                    "one run of placeholders per image"
                );
                stop_sequences(&request);
            }
        }
        1 => {
            let Ok(request) = serde_json::from_slice::<ImageGenRequest>(rest) else {
                return;
            };
            if let Ok(image) = request.image_request(tok, config, || 7) {
                assert!(
                    image.validate(config).is_ok(),
                    "an accepted image request re-validates"
                );
            }
        }
        _ => {
            let split = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            #[derive(serde::Deserialize)]
            struct Sides {
                width: Option<f64>,
                height: Option<f64>,
            }
            let Ok(sides) = serde_json::from_slice::<Sides>(&rest[..split]) else {
                return;
            };
            let pixels = rest.get(split + 1..).unwrap_or(&[]);
            let size = config.vision.image_size;
            if let Ok(image) = rgba_image(sides.width, sides.height, pixels, size) {
                assert_eq!(image.pixels.len(), 3 * size * size);
            }
        }
    }
}

/// An accepted chat's stop sequences over a reply made of its own messages and sequences, cut
/// into pieces of a few characters: what is shown adds up to the reply's text, which holds no
/// sequence, and a reply that stopped continues with one.
fn stop_sequences(request: &ChatRequest) {
    let mut stops = request
        .stop_text()
        .expect("an accepted chat's stop sequences are valid");
    let sequences = request.stop.clone().unwrap_or_default();
    let reply: String = request
        .messages
        .iter()
        .map(|m| m.content.as_str())
        .chain(sequences.iter().map(String::as_str))
        .collect();
    let chars: Vec<char> = reply.chars().collect();
    let mut shown = String::new();
    for piece in chars.chunks(3) {
        let pushed = stops.push(&piece.iter().collect::<String>());
        shown.push_str(&pushed.shown);
        if pushed.stop {
            break;
        }
    }
    if !stops.hit() {
        shown.push_str(&stops.finish());
    }
    assert_eq!(shown, stops.text(), "the pieces shown add up to the text");
    assert!(
        reply.starts_with(stops.text()),
        "the text is the reply's beginning"
    );
    for s in &sequences {
        assert!(
            !stops.text().contains(s.as_str()),
            "no stop sequence is shown"
        );
    }
    if stops.hit() {
        let rest = &reply[stops.text().len()..];
        assert!(
            sequences.iter().any(|s| rest.starts_with(s.as_str())),
            "it stopped at one"
        );
    }
}
