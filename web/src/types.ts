// Data shapes exchanged with the wasm engine (`web/pkg/janus_web.js`, crate `janus-web`).
//
// wasm-bindgen types serde-converted values as `any`, so these interfaces are the contract the
// TypeScript side relies on. They mirror the engine API documented in web/README.md; when the
// crate changes a shape, change it here too.

/** Which float type the weights and activations use on the GPU. */
export type Dtype = 'f32' | 'f16';

/** Options of `Engine.create`. */
export interface EngineOptions {
  /** Cap on one GPU storage binding, in bytes (default: the adapter's own limit). */
  maxBindingBytes?: number;
  /** 'auto' takes f16 when the adapter has `shader-f16`, else f32. */
  dtype?: 'auto' | Dtype;
  /**
   * Block quantisation of the large matrices (language model, vision tower, heads, token
   * embedding), packed on the GPU and read by WGSL kernels: 'q8' (8.5 bits a weight) or 'q4'
   * (4.5 bits; Janus-1.3B in about 1.4 GB of GPU memory instead of 4.2). Default 'none'.
   */
  quant?: Quant;
  /**
   * GPU memory the engine may spend keeping the caches of up to 4 recent conversations, so
   * that each one's next turn runs only what is new (two chat elements on a page, a title asked
   * for between turns). Default 512 MiB; the last conversation used is kept whatever its size;
   * 0 keeps that one only. An image job's own caches count against it while it runs: the
   * conversations that do not fit beside them are dropped first (one image of Janus-1.3B in f16
   * takes about 230 MiB).
   */
  conversationCacheBytes?: number;
}

/** Weight quantisation formats. */
export type Quant = 'none' | 'q8' | 'q4';

/** What `Engine.deviceInfo()` reports about the WebGPU device the engine created. */
export interface DeviceInfo {
  adapter: string;
  backend: string;
  shaderF16: boolean;
  dtype: Dtype;
  quant: Quant;
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
  /** Largest single tensor the engine can place on this device. */
  maxTensorBytes: number;
}

/** One progress event of `Engine.load`; the engine calls it at least once per tensor. */
export interface LoadProgress {
  phase: 'config' | 'tokenizer' | 'headers' | 'weights';
  /** The file being read, relative to the base URL. */
  file: string;
  tensorsDone: number;
  tensorsTotal: number;
  bytesDone: number;
  bytesTotal: number;
}

/** What `Engine.load` resolves with. Sizes are in bytes. */
export interface LoadReport {
  format: 'huggingface' | 'deepseek';
  parameters: number;
  tensors: number;
  bytes: number;
  largestTensorBytes: number;
  /** Tensors too large for one GPU binding, stored in several parts. */
  splitTensors: string[];
  dtype: Dtype;
  /** Tensors stored block-quantised (0 without `quant`). */
  quantizedTensors: number;
  /** The model was a pack (`janus pack`) in this format, which then applies whatever `quant` asked. */
  pack?: Quant | null;
  /** This load also wrote the model's pack (`onPackFile`), of `packBytes` bytes. */
  packWritten?: boolean;
  packBytes?: number;
  contextLength: number;
  imageSize: number;
  /** WebAssembly memory size before the load started and at its highest during the load. */
  wasmMemoryBefore: number;
  wasmMemoryPeak: number;
  /** Size of the checkpoint files (the tensors as stored, e.g. bf16). */
  checkpointBytes: number;
  /** Parameters actually loaded (the checkpoint may hold unused ones, e.g. a VQ encoder). */
  loadedParameters?: number;
  /** HTTP requests made for tensors (small neighbours share one), and the largest of them. */
  requests?: number;
  largestRequestBytes?: number;
  vocabSize?: number;
  /** Image tokens per generated image (576 for the real models). */
  imageTokens?: number;
}

/** An image as the engine takes it: encoded file bytes (PNG/JPEG/WebP) or raw RGBA pixels. */
export type EngineImage =
  | { kind: 'encoded'; bytes: Uint8Array }
  | { kind: 'rgba'; width: number; height: number; data: Uint8Array };

/** One chat message as the engine takes it: `images` counts the request's images it owns. */
export interface EngineMessage {
  role: 'user' | 'assistant';
  content: string;
  images?: number;
}

/** Sampling options shared by the client API and the engine request. */
export interface SamplingOptions {
  /** Replaces DeepSeek's default system prompt; '' for none. */
  system?: string;
  maxNewTokens?: number;
  /** 0 = greedy. */
  temperature?: number;
  topP?: number;
  topK?: number;
  /** A whole number from 0 to 2^53 (default: random). */
  seed?: number;
}

/** `Engine.chat` request; images are passed separately, in message order. */
export interface EngineChatRequest extends SamplingOptions {
  messages: EngineMessage[];
  /** See `ChatOptions.stop` (always a list on the wire). */
  stop?: string[];
  /** See `ChatOptions.reuse`. */
  reuse?: boolean;
  /** See `ChatOptions.logprobs`. */
  logprobs?: boolean;
  /** See `ChatOptions.topLogprobs`. */
  topLogprobs?: number;
  /** See `ChatOptions.json`. */
  json?: boolean;
}

/** One of the most likely tokens at a step (`TokenLogprob.topLogprobs`). */
export interface TopLogprob {
  id: number;
  /** The token's text (U+FFFD where it holds only part of a character: see `bytes`). */
  token: string;
  /** The UTF-8 bytes it stands for: a token may carry part of a character, which `token` cannot show. */
  bytes: number[];
  /** Natural log of its probability under the model at that step (at most 0; -Infinity where it has none). */
  logprob: number;
}

/**
 * A reply token's log-probability (`ChatOptions.logprobs`): the model's own next-token
 * distribution at its step, `log_softmax` of the logits at temperature 1, before temperature,
 * top-k or top-p shaped the draw. `topLogprobs`: the most likely tokens there, most likely first.
 */
export interface TokenLogprob extends TopLogprob {
  topLogprobs: TopLogprob[];
}

/**
 * Why generation stopped. 'context': the prompt plus reply reached the context length; 'stop':
 * the reply reached one of the request's stop sequences.
 */
export type StopReason = 'eos' | 'max_tokens' | 'context' | 'stop' | 'cancelled';

/** What a chat resolves with: the whole reply, its token ids and the prompt length in tokens. */
export interface ChatResult {
  text: string;
  ids: number[];
  promptTokens: number;
  /**
   * Leading prompt tokens taken from a recent chat's kept cache instead of being run again: the
   * same conversation with a new question runs only the question (and a picture asked about
   * before is not encoded again). 0 when the prompt shares nothing with the chats kept.
   */
  reusedTokens: number;
  stop: StopReason;
  /** The sampling seed used (given, or drawn at random): pass it again to reproduce the reply. */
  seed: number;
  /**
   * With `logprobs: true`: one entry per id of `ids` (a stop sequence's tokens included, as in
   * `ids`; the end-of-sentence token is in neither).
   */
  logprobs?: TokenLogprob[];
}

/** Options of text-to-image generation. */
export interface ImageOptions {
  /** How many images to generate in one batch (default 1). */
  count?: number;
  /** Classifier-free guidance weight (default 5). */
  cfgWeight?: number;
  /** 0 = greedy (default 1). */
  temperature?: number;
  topP?: number;
  topK?: number;
  /** A whole number from 0 to 2^53 (default: random). */
  seed?: number;
}

/** `Engine.generateImage` request. */
export interface EngineImageRequest extends ImageOptions {
  prompt: string;
  /** Steps between progressive previews (0 or absent: none). */
  previewEvery?: number;
}

/**
 * A progressive preview as the engine hands it to `onStep`: the rows of image tokens complete so
 * far, VQ-decoded, one RGBA buffer per image (`width * height * 4` bytes, `height` below the final
 * image's).
 */
export interface EnginePreview {
  width: number;
  height: number;
  images: Uint8Array[];
}

/**
 * `Engine.generateImage` result: `images[i]` is RGBA, width*height*4 bytes; `codes[i]` its VQ
 * codes. A cancelled generation has no images and the codes generated so far.
 */
export interface EngineImageResult {
  width: number;
  height: number;
  images: Uint8Array[];
  codes: number[][];
  cancelled: boolean;
  seed: number;
}
