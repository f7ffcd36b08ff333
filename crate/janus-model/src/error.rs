//! Typed errors for every layer of the model crate.
//!
//! Each error names what went wrong and, where there is one, the file or tensor at fault, so a
//! user-facing message can be built from `Display` alone. Nothing in this crate panics on input
//! that comes from a file, a network, a user or a GPU.

use thiserror::Error;

/// `config.json` could not be understood.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("config.json is not valid JSON: {0}")]
    Json(String),
    #[error(
        "config.json has model_type {0:?}; expected \"multi_modality\" (DeepSeek) or \"janus\" (Hugging Face)"
    )]
    UnknownFormat(String),
    #[error("config.json: missing field `{0}`")]
    Missing(String),
    #[error("config.json: field `{field}` is invalid: {reason}")]
    Invalid { field: String, reason: String },
    #[error("config.json: unsupported setting `{field}` = {value} ({reason})")]
    Unsupported {
        field: String,
        value: String,
        reason: String,
    },
}

/// A byte source (file, memory, later IndexedDB chunks) could not deliver bytes.
#[derive(Debug, Error)]
pub enum SourceError {
    #[error("{file}: not found")]
    NotFound { file: String },
    #[error("{file}: read of {len} bytes at offset {offset} is past the end ({size} bytes)")]
    OutOfRange {
        file: String,
        offset: u64,
        len: u64,
        size: u64,
    },
    #[error("{file}: {message}")]
    Io { file: String, message: String },
}

/// The checkpoint (safetensors files and index) does not match what the config describes.
#[derive(Debug, Error)]
pub enum WeightsError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("{file}: not a safetensors file: {reason}")]
    BadHeader { file: String, reason: String },
    #[error("model.safetensors.index.json is invalid: {0}")]
    BadIndex(String),
    #[error("tensor `{name}` is missing from the checkpoint")]
    Missing { name: String },
    #[error("tensor `{name}` is not part of a Janus checkpoint with this config ({file})")]
    Unexpected { name: String, file: String },
    #[error("tensor `{name}` has shape {found:?}, expected {expected:?}")]
    Shape {
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    #[error("tensor `{name}` has dtype {dtype}; only BF16, F16 and F32 are supported")]
    Dtype { name: String, dtype: String },
    #[error("tensor `{name}` appears in more than one shard ({first} and {second})")]
    Duplicate {
        name: String,
        first: String,
        second: String,
    },
    #[error("tensor `{name}`: the index maps it to {indexed}, but it is stored in {found}")]
    IndexMismatch {
        name: String,
        indexed: String,
        found: String,
    },
    #[error("tensor `{name}`: read {got} bytes, expected {expected}")]
    ShortRead {
        name: String,
        expected: usize,
        got: usize,
    },
    #[error("tensor `{name}` contains a non-finite value (NaN or infinity)")]
    NonFinite { name: String },
    #[error(
        "tensor `{name}` needs {bytes} bytes in one GPU buffer, more than this device allows ({limit} bytes)"
    )]
    TooLarge {
        name: String,
        bytes: u64,
        limit: u64,
    },
    #[error("{file}: not a valid Janus pack: {reason}")]
    Pack { file: String, reason: String },
    #[error("{count} checkpoint problems, first: {first}")]
    Many {
        count: usize,
        first: Box<WeightsError>,
    },
    #[error("internal: weight `{0}` was not produced by the loader")]
    Internal(String),
}

/// The tokenizer file is unusable for Janus.
#[derive(Debug, Error)]
pub enum TokenizerError {
    #[error("tokenizer.json could not be loaded: {0}")]
    Load(String),
    #[error("tokenizer.json has no `{0}` token, which Janus needs")]
    MissingSpecial(String),
    #[error("token id {id} for `{token}` is outside the model's {vocab} embedding rows")]
    IdOutOfRange {
        token: String,
        id: u32,
        vocab: usize,
    },
    #[error("tokenization failed: {0}")]
    Encode(String),
    #[error("decoding failed: {0}")]
    Decode(String),
}

/// An input image cannot be used.
#[derive(Debug, Error)]
pub enum ImageError {
    #[error("the image could not be decoded: {0}")]
    Decode(String),
    #[error("the file is not an image in a supported format (PNG, JPEG, WebP, GIF)")]
    UnknownFormat,
    #[error(
        "the image is {width}x{height} pixels; the limit is {max_pixels} pixels and {max_side} per side"
    )]
    TooLarge {
        width: u32,
        height: u32,
        max_pixels: u64,
        max_side: u32,
    },
    #[error("the image is empty (0 pixels)")]
    Empty,
}

/// A prompt cannot be built or run.
#[derive(Debug, Error)]
pub enum PromptError {
    #[error(
        "the prompt is {tokens} tokens; with {reserved} new tokens it exceeds the model's context of {context}"
    )]
    TooLong {
        tokens: usize,
        reserved: usize,
        context: usize,
    },
    #[error("the prompt has {placeholders} image placeholders but {images} images were given")]
    ImageCount { placeholders: usize, images: usize },
    #[error("the prompt is empty")]
    Empty,
    #[error("invalid generation setting: {0}")]
    Setting(String),
}

/// Any failure of the model crate.
#[derive(Debug, Error)]
pub enum JanusError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Weights(#[from] WeightsError),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Prompt(#[from] PromptError),
    #[error("the device failed: {0}")]
    Device(String),
    /// A caller's request is malformed: a wrong role, an image count that does not add up, a
    /// value of the wrong kind (the page's `bad-request`).
    #[error("{0}")]
    Request(String),
}

impl JanusError {
    /// A stable, machine-readable code (shared with the web worker protocol).
    pub fn code(&self) -> &'static str {
        match self {
            JanusError::Config(_) => "config",
            JanusError::Weights(_) => "weights",
            JanusError::Source(SourceError::NotFound { .. }) => "not-found",
            JanusError::Source(_) => "source",
            JanusError::Tokenizer(_) => "tokenizer",
            JanusError::Image(_) => "image",
            JanusError::Prompt(_) => "prompt",
            JanusError::Device(_) => "device",
            JanusError::Request(_) => "bad-request",
        }
    }
}

impl From<burn::tensor::ExecutionError> for JanusError {
    fn from(e: burn::tensor::ExecutionError) -> Self {
        JanusError::Device(format!("{e:?}"))
    }
}

pub type Result<T, E = JanusError> = std::result::Result<T, E>;
