//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "janus",
    version,
    about = "DeepSeek Janus: chat about images and generate images, from a local model folder"
)]
pub struct Cli {
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = Backend::Cpu, global = true)]
    pub backend: Backend,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// burn's Flex CPU backend.
    Cpu,
    /// wgpu (Vulkan, Metal, DX12; lavapipe without a GPU).
    Wgpu,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Roles {
    /// `User:` / `Assistant:` (Janus-1.3B examples).
    Plain,
    /// `<|User|>:` / `<|Assistant|>:` (Janus-Pro, transformers).
    Tagged,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Describe a checkpoint: format, parameters, tensors, skipped tensors.
    Inspect {
        #[command(flatten)]
        model: ModelArg,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Chat: answer a prompt, optionally about images; the reply streams to stdout.
    Chat(ChatArgs),
    /// Generate images from a text prompt.
    Imagine(ImagineArgs),
    /// VQ-decode image codes (a JSON list, a list of lists, or `imagine --json` output) to PNG.
    Decode {
        #[command(flatten)]
        model: ModelArg,
        /// JSON file with the codes.
        #[arg(long)]
        codes: PathBuf,
        /// Output PNG (several images: NAME-0.png, NAME-1.png, ...).
        #[arg(long)]
        out: PathBuf,
    },
    /// Write a model folder with random bf16 weights for a config (load and speed tests at any
    /// size, e.g. a full Janus-1.3B, without downloading one).
    RandomModel(RandomModelArgs),
    /// Measure a full-size model with random weights (the real shapes of a preset): load time,
    /// GPU memory, prefill and decode speed, image steps, VQ decode, and decode bandwidth as a
    /// fraction of the adapter's WGSL copy bandwidth. Use --backend wgpu.
    Bench(BenchArgs),
    /// Write a quantised copy of a model as a static folder a page can load from any server:
    /// safetensors shards of at most --shard-mib with an index, and janus-pack.json listing
    /// every file's size and SHA-256. A q4 pack of Janus-1.3B is about 1.2 GB.
    Pack(PackArgs),
}

#[derive(Args, Debug)]
pub struct PackArgs {
    /// Model folder to pack (Hugging Face layout, DeepSeek or transformers format).
    #[arg(long)]
    pub model: PathBuf,
    /// q4 or q8.
    #[arg(long, default_value = "q4")]
    pub quant: String,
    /// Output folder (created; a pack already there is replaced).
    #[arg(long)]
    pub out: PathBuf,
    /// Largest shard in MiB.
    #[arg(long, default_value_t = 64)]
    pub shard_mib: u64,
    /// Largest shard in KiB instead (small packs for tests).
    #[arg(long, conflicts_with = "shard_mib", hide = true)]
    pub shard_kib: Option<u64>,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Preset whose shapes to build (janus-1.3b, janus-pro-1b, janus-pro-7b) or a config.json.
    #[arg(long, default_value = "janus-1.3b")]
    pub preset: String,
    /// Weight format of the quantisable matrices: none, q8, q4.
    #[arg(long, default_value = "q4")]
    pub quant: String,
    /// Working dtype: f16 or f32 (default: f16 where the adapter has shader-f16).
    #[arg(long)]
    pub dtype: Option<String>,
    #[arg(long, default_value_t = 64)]
    pub prompt_tokens: usize,
    #[arg(long, default_value_t = 16)]
    pub decode_tokens: usize,
    /// Image steps measured (0: none); a whole image (576) is extrapolated.
    #[arg(long, default_value_t = 8)]
    pub image_steps: usize,
    /// Skip the VQ decode of a whole image (slow on CPU adapters).
    #[arg(long)]
    pub no_vq: bool,
    /// Ask the measured chat turn for log-probabilities with N alternatives a token (0 to 20),
    /// to time what they cost.
    #[arg(long, value_name = "N")]
    pub logprobs: Option<usize>,
    /// Make the measured chat turn a JSON reply, its grammar over this tokenizer.json's
    /// vocabulary (the model's, or one of its size from scripts/synthetic-tokenizer.py), and
    /// time the grammar's masks on the host.
    #[arg(long, value_name = "FILE")]
    pub json_tokenizer: Option<std::path::PathBuf>,
    /// Size of each buffer of the copy-bandwidth kernel, MiB.
    #[arg(long, default_value_t = 256)]
    pub copy_mib: usize,
    /// Print the report as JSON (after the Markdown row).
    #[arg(long)]
    pub json: bool,
    /// Time each decode kernel alone at the preset's shapes (no model is built) instead.
    #[arg(long)]
    pub kernels: bool,
    /// Cached positions the attention kernel reads in --kernels.
    #[arg(long, default_value_t = 128)]
    pub context: usize,
    /// With --kernels: time only the kernels whose names contain this (`attn_decode`, `qmatvec`,
    /// `sample`...), for a measurement of one kernel's settings.
    #[arg(long, requires = "kernels")]
    pub only: Option<String>,
    /// With --kernels: each product reads one copy of its weights, launch after launch, so a
    /// GPU's cache may hold them (the figures before the copies; not what a decode step finds).
    #[arg(long, requires = "kernels")]
    pub hot: bool,
    /// Time the VQ decoder's convolutions alone (the WGSL kernel and burn's conv2d) at the
    /// preset's shapes instead (no model is built).
    #[arg(long)]
    pub vq_convs: bool,
    /// With --vq-convs: time the kernel only (burn's conv2d is slow on CPU adapters).
    #[arg(long)]
    pub no_reference: bool,
}

#[derive(Args, Debug)]
pub struct RandomModelArgs {
    /// A config.json file, or a preset: janus-1.3b, janus-pro-1b, janus-pro-7b.
    #[arg(long)]
    pub config: String,
    /// tokenizer.json to copy into the folder (its ids must fit the config's vocabulary).
    #[arg(long)]
    pub tokenizer: PathBuf,
    /// Output folder (created; existing model files in it are replaced).
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Largest shard in MiB; more than one shard writes model.safetensors.index.json.
    #[arg(long, default_value_t = 4096)]
    pub shard_mib: u64,
    /// Leave out the tensors inference never reads (VQ encoder, attention pooling).
    #[arg(long)]
    pub skip_unused: bool,
}

#[derive(Args, Debug)]
pub struct ModelArg {
    /// Model folder: config.json, tokenizer.json, model.safetensors (or index + shards).
    #[arg(long)]
    pub model: PathBuf,
    /// Block-quantise the large matrices while loading: none, q8 or q4 (packed on wgpu).
    #[arg(long, default_value = "none")]
    pub quant: String,
}

#[derive(Args, Debug)]
#[command(group(
    clap::ArgGroup::new("input")
        .required(true)
        .multiple(true)
        .args(["prompt", "raw_prompt", "interactive"])
))]
pub struct ChatArgs {
    #[command(flatten)]
    pub model: ModelArg,
    /// The user's message, rendered with the chat template.
    #[arg(long)]
    pub prompt: Option<String>,
    /// System prompt for --prompt and --interactive (default: DeepSeek's assistant prompt; ""
    /// for none).
    #[arg(long, conflicts_with = "raw_prompt")]
    pub system: Option<String>,
    /// Text tokenised exactly as given (BOS added; each <image_placeholder> takes the next --image).
    #[arg(long, conflicts_with_all = ["prompt", "interactive"])]
    pub raw_prompt: Option<String>,
    /// Image file (PNG, JPEG, WebP, GIF); repeat for several.
    #[arg(long)]
    pub image: Vec<PathBuf>,
    #[arg(long, default_value_t = 512)]
    pub max_new_tokens: usize,
    /// 0 = greedy.
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f32,
    #[arg(long)]
    pub top_p: Option<f32>,
    #[arg(long)]
    pub top_k: Option<usize>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Keep generating after the end-of-sentence token.
    #[arg(long)]
    pub ignore_eos: bool,
    /// A stop sequence: the reply ends before the first one its text contains (stop "stop");
    /// repeat for several (at most 16).
    #[arg(long = "stop", value_name = "TEXT")]
    pub stops: Vec<String>,
    /// Role names in the template (default: tagged when the tokenizer has <|User|>).
    #[arg(long, value_enum)]
    pub roles: Option<Roles>,
    /// Print one JSON object per reply (prompt_ids, output_ids, text, stop, reused) instead of
    /// streaming.
    #[arg(long)]
    pub json: bool,
    /// With --json: each reply token's log-probability under the model (temperature 1, before
    /// top-k or top-p) and the N most likely tokens at its step (0 to 20), as "logprobs".
    #[arg(long, value_name = "N", requires = "json")]
    pub logprobs: Option<usize>,
    /// Every reply is one JSON object (OpenAI's "json_object" response format): each token is
    /// chosen among those that keep the text the beginning of one, and the reply ends once it
    /// is complete.
    #[arg(long)]
    pub json_object: bool,
    /// A conversation: after --prompt's reply (if given), every line read from stdin is the
    /// next message, until the end of input. Each turn runs only what the last one did not
    /// (the pictures of the first message are encoded once).
    #[arg(long, short = 'i')]
    pub interactive: bool,
    /// Run every turn's whole prompt instead of starting from the cache the last turn kept.
    #[arg(long)]
    pub no_reuse: bool,
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["prompt", "raw_prompt"])))]
pub struct ImagineArgs {
    #[command(flatten)]
    pub model: ModelArg,
    /// Description of the image, rendered with the generation template.
    #[arg(long)]
    pub prompt: Option<String>,
    /// Text tokenised as given (BOS added; <begin_of_image> appended if missing).
    #[arg(long)]
    pub raw_prompt: Option<String>,
    /// Classifier-free guidance weight.
    #[arg(long, default_value_t = 5.0)]
    pub cfg_weight: f32,
    /// 0 = greedy.
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f32,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Images generated in one batch.
    #[arg(long, default_value_t = 1)]
    pub count: usize,
    /// Output PNG (several images: NAME-0.png, NAME-1.png, ...).
    #[arg(long, default_value = "janus.png")]
    pub out: PathBuf,
    #[arg(long, value_enum)]
    pub roles: Option<Roles>,
    /// Print one JSON object (prompt_ids, codes, files).
    #[arg(long)]
    pub json: bool,
}
