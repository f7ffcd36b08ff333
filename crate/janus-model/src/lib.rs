//! # janus-model
//!
//! DeepSeek's Janus — one model that both understands images (chat about a picture) and generates
//! them (text to image) — implemented on burn, generic over burn's `Device`: the same code runs on
//! the CPU natively and on WebGPU in the browser. `../shared/docs/janus-spec.md` is the contract
//! for every number here; Janus-1.3B, Janus-Pro-1B and Janus-Pro-7B share the architecture.
//!
//! - [`config`]: both `config.json` formats and the presets.
//! - [`weights`]: safetensors (single or sharded), both naming schemes, strict total loading
//!   through a byte-source abstraction, one tensor at a time.
//! - [`tokenizer`], [`preprocess`]: special tokens by string, the SFT template, DeepSeek's image
//!   preprocessing.
//! - [`model`]: LLaMA + KV cache, SigLIP, aligners, generation head, VQ decoder.
//! - [`generate`]: text generation and classifier-free-guided image generation.
//! - [`request`]: a page's chat and image requests, checked and turned into generation requests.
//! - [`bench`]: speed and memory of a full-size model with random weights.
//! - [`fuzzing`]: the fuzz harnesses' bodies (`fuzz/`, `tests/fuzz_inputs.rs`).
//!
//! Does not do: training, the VQ *encoder* (never used at inference), PyTorch `.bin` checkpoints,
//! networking or storage (the web crate owns those).

pub mod bench;
pub mod config;
mod device_write;
pub mod error;
pub mod fuzzing;
pub mod generate;
pub mod json_keys;
#[cfg(feature = "wgpu-kernels")]
pub mod kernels;
pub mod metrics;
pub mod model;
pub mod preprocess;
pub mod quant;
pub mod request;
pub mod tokenizer;
pub mod weights;

use burn::tensor::Device;

pub use config::{CheckpointFormat, JanusConfig, Preset};
pub use error::{JanusError, Result};
pub use model::Janus;
pub use tokenizer::JanusTokenizer;
pub use weights::{ByteSource, DirSource, LoadPlan, MemorySource, TensorStore, WorkingDtype};

/// File names of a model repository.
pub const CONFIG_FILE: &str = "config.json";
pub const TOKENIZER_FILE: &str = "tokenizer.json";

/// What a checkpoint is, found without reading tensor data.
#[derive(Clone, Debug)]
pub struct Inspection {
    pub config: JanusConfig,
    pub plan: LoadPlan,
    pub shard_files: Vec<String>,
}

/// Read config and headers and match them against each other.
pub fn inspect(source: &dyn ByteSource) -> Result<Inspection> {
    let config = read_config(source)?;
    let checkpoint = weights::read_checkpoint(source)?;
    let plan = weights::plan(&config, &checkpoint.shards, checkpoint.index.as_ref())?;
    Ok(Inspection {
        config,
        plan,
        shard_files: checkpoint.shards.iter().map(|s| s.file.clone()).collect(),
    })
}

/// Parse `config.json`.
pub fn read_config(source: &dyn ByteSource) -> Result<JanusConfig> {
    let bytes = source.read_all(CONFIG_FILE)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| error::ConfigError::Json("config.json is not UTF-8 text".into()))?;
    Ok(JanusConfig::from_json(&text)?)
}

/// A loaded model with its tokenizer.
pub struct Loaded {
    pub model: Janus,
    pub tokenizer: JanusTokenizer,
    pub plan: LoadPlan,
    /// Weights kept as several row blocks because they exceed one device buffer.
    pub split_tensors: Vec<String>,
    /// Weights stored block-quantised (see [`quant`]); empty without a quantised format.
    pub quantized_tensors: Vec<String>,
}

/// Load config, tokenizer and weights from `source` onto `device`.
pub fn load(source: &dyn ByteSource, device: &Device, dtype: WorkingDtype) -> Result<Loaded> {
    load_into(source, TensorStore::new(device, dtype))
}

/// [`load`] into a configured store (a device buffer limit, see [`TensorStore`]).
pub fn load_into(source: &dyn ByteSource, store: TensorStore) -> Result<Loaded> {
    let config = read_config(source)?;
    let tokenizer = JanusTokenizer::from_bytes(
        &source.read_all(TOKENIZER_FILE)?,
        config.language.vocab_size,
    )?;
    let (mut store, plan) = weights::load_weights(source, &config, store)?;
    let split_tensors = store.split_tensors().to_vec();
    let quantized_tensors = store.quantized_tensors().to_vec();
    let model = Janus::from_store(&config, &mut store)?;
    Ok(Loaded {
        model,
        tokenizer,
        plan,
        split_tensors,
        quantized_tensors,
    })
}
