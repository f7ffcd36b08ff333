// JanusClient: the public API. Runs the engine in a module worker (worker.ts) and talks to it
// through a WorkerConnection; keeps the client's state across worker crashes and restarts.
//
//   const client = await JanusClient.create();
//   await client.load('https://huggingface.co/deepseek-ai/Janus-1.3B/resolve/main/', { onProgress });
//   const stream = client.chat([{ role: 'user', content: 'What is this?', images: [blob] }]);
//   for await (const piece of stream) show(piece);
//   const { text, stop } = await stream.result;
//
// States: ready -> (worker dies) crashed -> restart() -> ready; any -> dispose() -> disposed.
// A crash rejects every pending call with 'worker-crashed', fires `onCrash` and a 'crash' event;
// later calls reject with 'worker-crashed' until restart(), which starts a fresh worker (the model
// must be loaded again).

import { PieceStream, type ChatStream } from './chat-stream.js';
import { WorkerConnection, type CallHandlers, type Called, type RequestFields } from './connection.js';
import { JanusError, toJanusError } from './errors.js';
import { NO_GPU_IN_WORKER, type ChatImage, type LoadResult, type Results, type WireLoadOptions } from './protocol.js';
import { chatFields, pageUrl, toGeneratedImages, toPreview, withoutUndefined } from './requests.js';
import type { RetryPolicy } from './store/http.js';
import { modelAvailability, type ModelAvailability } from './store/availability.js';
import { IdbChunkStore } from './store/idb-store.js';
import { cachedModels, deleteModel, type CachedModel, type DownloadProgress } from './store/model-cache.js';
import { resolveModel, type ModelSource } from './store/registry.js';
import type { DeviceInfo, EngineOptions, ImageOptions, LoadProgress, SamplingOptions, TokenLogprob } from './types.js';

export interface CreateOptions extends EngineOptions {
  /** The worker script (default: worker.js next to this module). */
  workerUrl?: URL | string;
  /** The wasm binary (default: janus_web_bg.wasm next to this module). */
  wasmUrl?: URL | string;
}

export interface LoadOptions {
  /**
   * Download progress (`phase: 'download'`: bytes, total, rate, ETA, file) while the weights
   * come into the cache, and the engine's progress, at least once per tensor. A first load reads
   * the shards while they download, so the two kinds interleave until the download ends.
   */
  onProgress?: (progress: LoadProgress | DownloadProgress) => void;
  /**
   * Aborting rejects the load with 'aborted' at once; the download stops (what is verified stays
   * cached for next time) and the engine stops at its next step.
   */
  signal?: AbortSignal;
  /**
   * true (default): download into IndexedDB first (verified, resumable; later loads need no
   * network), then load from there. false: stream the tensors from the network, keep nothing.
   */
  cache?: boolean;
  /** Hub root for registry ids (default https://huggingface.co/): a mirror in the same layout. */
  hub?: string;
  /** Size of one stored record (default 16 MiB, at most 64 MiB). */
  chunkBytes?: number;
  /** Retries of network failures, 429 and 5xx (default 6 attempts, 0.5 s doubling to 30 s). */
  retry?: RetryPolicy;
  /** A download request that brings no byte for this long is retried (default 60 s). */
  idleTimeoutMs?: number;
  /** Skip the storage-estimate check before downloading. */
  skipSpaceCheck?: boolean;
  /**
   * With `quant`, the first load stores the model's quantised pack and deletes the bf16 download
   * (a quarter of the space; later loads read the pack). true keeps the download as well.
   */
  keepSource?: boolean;
  /**
   * With `quant`, how a sharded model's download is stored while the pack is written: 'auto'
   * (default) whole where the download and the pack fit the browser's quota together, else one
   * shard at a time (each fetched when the engine reaches it and deleted before the next: about
   * a third of the room for Janus-Pro-7B, but a load cut off starts again); true always shard by
   * shard; false never (a load that does not fit whole is refused).
   */
  shardByShard?: boolean | 'auto';
}

export interface ChatMessage {
  role: 'user' | 'assistant';
  content: string;
  /** Pictures shown with this message; each becomes one image placeholder before the text. */
  images?: ChatImage[];
}

export interface ChatOptions extends SamplingOptions {
  /**
   * Stop sequences (one string, or up to 16 of at most 256 bytes): the reply ends before the first of them its text
   * contains, with stop 'stop'. The sequence is neither streamed nor in `text`; text that could
   * begin one is streamed once the next token shows it does not.
   */
  stop?: string | readonly string[];
  /**
   * Start from the engine's cache of a recent chat where this prompt begins as that one did
   * (default true): a follow-up question or a regenerated reply runs only what is new. The
   * engine keeps the caches of up to 4 conversations (within `conversationCacheBytes`);
   * loading a model clears them, and generating an image drops those that do not fit beside
   * its own caches within that budget. false runs the whole prompt and keeps nothing of it.
   */
  reuse?: boolean;
  /**
   * Called while a long prompt is read, after each pass the GPU has run: `read` of the `total`
   * positions this turn runs (what the engine's kept cache did not already hold). A prompt runs
   * in passes where its attention scores would outgrow what the device binds in one: for
   * Janus-1.3B past about 1,000 positions (a conversation with pictures asked again after a
   * reload), before which nothing else is heard. Not called for a prompt read in one pass.
   */
  onPrompt?: (read: number, total: number) => void;
  /**
   * Each reply token's log-probability under the model (temperature 1, before top-k or top-p
   * shaped the draw: the tokens chosen are the same as without), in `result.logprobs` and, as
   * each token comes, to `onLogprobs`. On the GPU each token then also reads its step's logits
   * back (400 KB for Janus), a little slower.
   */
  logprobs?: boolean;
  /** With `logprobs`: the most likely tokens at each step to list as well, 0 to 20 (default 0). */
  topLogprobs?: number;
  /**
   * The reply is one JSON object (OpenAI's `response_format: {type: 'json_object'}`): each token
   * is chosen only among those that keep the text the beginning of one, and the reply ends once
   * the object is complete, so `JSON.parse(result.text)` succeeds whenever `stop` is 'eos'. A
   * reply cut short (`maxNewTokens`, a stop sequence, an abort) is the beginning of one. Ask for
   * JSON in the message too: the model writes better JSON when it knows it should.
   */
  json?: boolean;
  /** With `logprobs`: each token's entry as it comes, just before its piece is streamed. */
  onLogprobs?: (entry: TokenLogprob) => void;
  /**
   * Aborting stops the reply between tokens, or between a long prompt's passes: `result` then
   * resolves with stop 'cancelled' (and no text when stopped before the first token; what was read
   * of the prompt stays in the engine's cache, so asking again goes on from there).
   * If the request had not started yet (another call was running), it rejects with 'aborted'.
   */
  signal?: AbortSignal;
}

/** What `prefill` did. */
export interface PrefillResult {
  /** The conversation's tokens, as the next chat's prompt begins. */
  promptTokens: number;
  /** Of them, those the engine already kept (not read again). */
  reusedTokens: number;
  /** Stopped before the end (another call, or the signal): what was read is kept all the same. */
  stopped: boolean;
}

/** Image tokens between progressive previews when `onPreview` is given (576 tokens: five previews). */
export const DEFAULT_PREVIEW_EVERY = 96;

export interface GenerateImageOptions extends ImageOptions {
  /** Called after every image token: step 1..total. */
  onStep?: (step: number, total: number) => void;
  /**
   * Called with a progressive preview every `previewEvery` image tokens: the rows of tokens complete
   * so far, decoded (each costs one small VQ decode on the GPU).
   */
  onPreview?: (preview: ImagePreview) => void;
  /** Image tokens between previews when `onPreview` is given (default 96: five previews of 576). */
  previewEvery?: number;
  /** Aborting stops between image tokens; the result then has `cancelled: true`. */
  signal?: AbortSignal;
}

/** RGBA pixels, straight alpha; an ImageData where the constructor exists (ctx.putImageData). */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8ClampedArray;
}

/** A partial image during generation: the top `height` pixel rows of each image, full width. */
export interface ImagePreview {
  /** Image tokens generated so far, and of the whole image. */
  step: number;
  total: number;
  width: number;
  height: number;
  images: RgbaImage[];
}

export interface GeneratedImages {
  width: number;
  height: number;
  images: RgbaImage[];
  /** The VQ codes of each image (row-major image tokens). */
  codes: number[][];
  /** Stopped by the signal: no images, and the codes generated so far. */
  cancelled: boolean;
  /** The sampling seed used: pass it again to reproduce the images. */
  seed: number;
}

/**
 * Ask the browser to keep the weight cache under storage pressure (`navigator.storage.persist()`,
 * page only). Best effort: Chromium grants it to sites the user engages with; the result is
 * reported by `storage.persisted()`.
 */
async function requestPersistence(): Promise<boolean> {
  try {
    const storage = typeof navigator === 'undefined' ? undefined : navigator.storage;
    if (storage?.persist === undefined) return false;
    return (await storage.persisted()) || (await storage.persist());
  } catch {
    return false;
  }
}

export class JanusClient extends EventTarget {
  /** Called once per crash, before the 'crash' event (CustomEvent<JanusError>). */
  onCrash: ((error: JanusError) => void) | null = null;

  private connection: WorkerConnection | null = null;
  private info: DeviceInfo | null = null;
  private failure: JanusError | null = null;
  private disposed = false;
  /** Calls that give way (`prefill`): the next call aborts them. */
  private readonly yielding = new Set<AbortController>();

  private constructor(private readonly options: CreateOptions) {
    super();
  }

  /** Spawns the worker, instantiates the wasm and creates the engine's WebGPU device. */
  static async create(options: CreateOptions = {}): Promise<JanusClient> {
    const client = new JanusClient(options);
    await client.start();
    return client;
  }

  /** The WebGPU device the current worker's engine runs on. */
  get deviceInfo(): DeviceInfo {
    if (this.info === null) throw new JanusError('worker-crashed', 'the engine is not running');
    return this.info;
  }

  /** True after the worker died, until restart(). */
  get crashed(): boolean {
    return this.failure !== null && !this.disposed;
  }

  /**
   * Loads a model: a registry id (`janus-1.3b`, see MODELS), a hub repository
   * (`deepseek-ai/Janus-1.3B`) or a base URL of files in Hugging Face layout (config.json,
   * tokenizer.json, safetensors). By default the files are downloaded into the browser's cache
   * once and verified; later loads read them from there, also offline.
   */
  load(model: string, options: LoadOptions = {}): Promise<LoadResult> {
    let source: ModelSource;
    try {
      source = resolveModel(model, { hub: options.hub, relativeTo: pageUrl() });
    } catch (error) {
      return Promise.reject(error);
    }
    const cache = options.cache ?? true;
    const wire: WireLoadOptions = {
      cache,
      ...withoutUndefined({
        chunkBytes: options.chunkBytes,
      retry: options.retry,
      idleTimeoutMs: options.idleTimeoutMs,
        skipSpaceCheck: options.skipSpaceCheck,
        keepSource: options.keepSource,
        shardByShard: options.shardByShard,
      }),
    };
    const handlers: CallHandlers = {};
    if (options.onProgress !== undefined) handlers.onProgress = options.onProgress;
    if (cache) void requestPersistence();
    return this.call('load', { source, options: wire }, handlers, options.signal);
  }

  /** The models in this origin's weight cache (complete or partial), with their sizes. */
  static async cachedModels(): Promise<CachedModel[]> {
    const store = await IdbChunkStore.open();
    try {
      return await cachedModels(store);
    } finally {
      store.close();
    }
  }

  /**
   * Where `model` (a registry id, repository or URL) stands here, without starting an engine:
   * 'unavailable' (this browser offers no WebGPU adapter: it cannot run), 'downloadable' (a load
   * downloads it, resuming what `storedBytes` kept), 'downloading' (a load holds it now, maybe
   * in another tab), or 'available' (stored: a load needs no network). For an embedder's button.
   */
  static async availability(model: string, options: { hub?: string } = {}): Promise<ModelAvailability> {
    const key = resolveModel(model, { hub: options.hub, relativeTo: pageUrl() }).baseUrl;
    const gpu = (globalThis as { navigator?: { gpu?: { requestAdapter(): Promise<unknown> } } }).navigator?.gpu;
    const adapter = gpu === undefined ? null : await gpu.requestAdapter().catch(() => null);
    const store = await IdbChunkStore.open().catch(() => null); // no storage: streamed loads still work
    try {
      const where = await modelAvailability(store, key);
      return adapter === null ? { ...where, state: 'unavailable' } : where;
    } finally {
      store?.close();
    }
  }

  /**
   * Deletes a cached model (a registry id, repository, URL, or a CachedModel's `key`);
   * 'busy' while a load of it is downloading.
   */
  static async deleteCachedModel(model: string, options: { hub?: string } = {}): Promise<void> {
    const key = resolveModel(model, { hub: options.hub, relativeTo: pageUrl() }).baseUrl;
    const store = await IdbChunkStore.open();
    try {
      await deleteModel(store, key);
    } finally {
      store.close();
    }
  }

  /** Frees the model's GPU memory; the engine stays ready for another load. */
  async unload(): Promise<void> {
    await this.call('unload', {});
  }

  /**
   * Streams the assistant's reply to `messages` (the whole conversation: the caller keeps the
   * history, including earlier assistant replies). Where the last message is the assistant's,
   * the reply goes on from it (a reply cut at its length, or words put in the assistant's mouth
   * to steer it): `text` is what follows, and the engine's kept cache holds what came before.
   */
  chat(messages: readonly ChatMessage[], options: ChatOptions = {}): ChatStream {
    const stream = new PieceStream();
    let fields: RequestFields<'chat'>;
    try {
      fields = chatFields(messages, options);
    } catch (error) {
      stream.fail(toJanusError(error));
      return stream;
    }
    // An empty piece is a token that ends inside a UTF-8 sequence: its text comes with the next one.
    const { onLogprobs } = options;
    const onToken = (piece: string, _id: number, logprobs?: TokenLogprob): void => {
      if (logprobs !== undefined) onLogprobs?.(logprobs);
      if (piece !== '') stream.push(piece);
    };
    const handlers: CallHandlers = { onToken };
    if (options.onPrompt !== undefined) handlers.onPrompt = options.onPrompt;
    this.call('chat', fields, handlers, options.signal).then(
      (result) => stream.finish(result),
      (error: unknown) => stream.fail(toJanusError(error)),
    );
    return stream;
  }

  /**
   * Reads a conversation into the engine's kept cache ahead of the next question, so that asking
   * it runs only the question: after a reload, or with a conversation opened from a list (the
   * cache lives in GPU memory and starts empty), a long conversation is otherwise read when the
   * question is sent, seconds to minutes on a modest GPU. Pass the conversation as the next
   * `chat` will, with the same `system`; a last message of the assistant's is read as the text a
   * reply would go on from, which is what the next turn shares with it.
   *
   * It gives way: any other call made meanwhile stops it (between a long prompt's passes; what
   * was read stays kept, and that call starts from it), as `signal` does. Resolves with the
   * prompt's size, how much of it was already kept, and whether it was stopped before the end;
   * rejects with 'aborted' if stopped before it began.
   */
  async prefill(messages: readonly ChatMessage[], options: Pick<ChatOptions, 'system' | 'onPrompt' | 'signal'> = {}): Promise<PrefillResult> {
    const yielded = new AbortController();
    const signal = options.signal === undefined ? yielded.signal : AbortSignal.any([options.signal, yielded.signal]);
    const { system, onPrompt } = options;
    const stream = this.chat(messages, { ...withoutUndefined({ system, onPrompt }), maxNewTokens: 0, signal });
    // Registered once its own call is made: the calls after it abort it.
    this.yielding.add(yielded);
    try {
      const { promptTokens, reusedTokens, stop } = await stream.result;
      return { promptTokens, reusedTokens, stopped: stop === 'cancelled' };
    } finally {
      this.yielding.delete(yielded);
    }
  }

  /** Text to image: `count` images for `prompt`, with classifier-free guidance. */
  async generateImage(prompt: string, options: GenerateImageOptions = {}): Promise<GeneratedImages> {
    const { onStep, onPreview, previewEvery, signal, ...imageOptions } = options;
    const handlers: CallHandlers = {};
    if (onStep !== undefined || onPreview !== undefined) {
      handlers.onStep = (step, total, preview) => {
        if (preview !== undefined) onPreview?.(toPreview(preview, step, total));
        onStep?.(step, total);
      };
    }
    const every = onPreview === undefined ? 0 : (previewEvery ?? DEFAULT_PREVIEW_EVERY);
    const request = { prompt, ...withoutUndefined(imageOptions), ...(every > 0 ? { previewEvery: every } : {}) };
    const raw = await this.call('generateImage', { request }, handlers, signal);
    return toGeneratedImages(raw);
  }

  /**
   * Starts a fresh worker and engine (after a crash, or to drop everything). Pending calls of the
   * old worker reject with 'aborted'. Load the model again afterwards.
   */
  async restart(): Promise<DeviceInfo> {
    if (this.disposed) throw new JanusError('disposed', 'the client was disposed');
    this.connection?.close(new JanusError('aborted', 'the client was restarted'));
    return this.start();
  }

  /** Terminates the worker; pending and later calls reject with 'disposed'. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.connection?.close(new JanusError('disposed', 'the client was disposed'));
    this.connection = null;
    this.info = null;
  }

  /** @internal Test hook: traps the wasm instance, as a Rust panic would. */
  _debugTrap(): Promise<null> {
    return this.call('trap', {});
  }

  /**
   * @internal Test hook: destroys the engine's GPU device, as a driver reset or the browser
   * reclaiming the GPU would. The running job fails with 'device-lost'; restart() recovers.
   */
  _debugLoseDevice(): Promise<null> {
    return this.call('loseDevice', {});
  }

  /**
   * @internal Test hook: makes the GPU refuse a command (a real WebGPU validation error). The
   * engine cannot trust its device afterwards: the client fires 'crash'; restart() recovers.
   */
  _debugGpuRefusal(): Promise<null> {
    return this.call('gpuRefusal', {});
  }

  /**
   * @internal Test hook: grows the engine's WebAssembly memory until less than twice
   * `leaveBytes` can still be added, so the next large allocation fails ('out-of-memory').
   */
  _debugSqueezeMemory(leaveBytes: number): Promise<{ memoryBytes: number }> {
    return this.call('squeezeMemory', { leaveBytes });
  }

  private async start(): Promise<DeviceInfo> {
    this.failure = null;
    this.info = null;
    // Both default URLs are written `new URL('./file', import.meta.url)` here, in the module the
    // page imports, so that bundlers (Vite, webpack, Parcel) see them and emit the two files as
    // assets; served as plain files they resolve next to this module.
    const workerUrl = this.options.workerUrl ?? new URL('./worker.js', import.meta.url);
    let connection: WorkerConnection;
    try {
      connection = new WorkerConnection(workerUrl, (error) => this.crash(connection, error));
    } catch (error) {
      // A bad URL, or a worker from another origin (SecurityError).
      this.failure = new JanusError('worker-crashed', `could not start the engine worker: ${toJanusError(error).message}`, {
        cause: error,
      });
      throw this.failure;
    }
    this.connection = connection;
    const options = withoutUndefined({
      dtype: this.options.dtype,
      quant: this.options.quant,
      maxBindingBytes: this.options.maxBindingBytes,
      conversationCacheBytes: this.options.conversationCacheBytes,
    });
    try {
      const wasmUrl = new URL(this.options.wasmUrl ?? new URL('./janus_web_bg.wasm', import.meta.url), pageUrl()).href;
      const init = await this.call('init', { options, wasmUrl });
      this.info = init.deviceInfo;
      return init.deviceInfo;
    } catch (error) {
      // No usable engine (e.g. 'no-webgpu'): later calls fail until a successful restart().
      const failure = inPageTerms(toJanusError(error));
      connection.close(failure);
      if (this.connection === connection) this.failure = failure;
      throw failure;
    }
  }

  private crash(connection: WorkerConnection, error: JanusError): void {
    if (this.connection !== connection || this.disposed) return;
    this.failure = error;
    this.info = null;
    try {
      this.onCrash?.(error);
    } catch (hookError) {
      console.error('janus: onCrash threw', hookError);
    }
    this.dispatchEvent(new CustomEvent<JanusError>('crash', { detail: error }));
  }

  private call<K extends Called>(
    type: K,
    fields: RequestFields<K>,
    handlers?: CallHandlers,
    signal?: AbortSignal,
  ): Promise<Results[K]> {
    if (this.disposed) return Promise.reject(new JanusError('disposed', 'the client was disposed'));
    if (this.failure !== null) {
      return Promise.reject(
        new JanusError('worker-crashed', `the engine worker crashed; call restart(): ${this.failure.message}`, {
          ...(this.failure.panic === undefined ? {} : { panic: this.failure.panic }),
        }),
      );
    }
    if (this.connection === null) return Promise.reject(new JanusError('worker-crashed', 'the engine is not running'));
    for (const yielding of this.yielding) yielding.abort();
    return this.connection.call(type, fields, handlers, signal);
  }
}

/**
 * The worker's 'no-webgpu' for a worker without `navigator.gpu`, on a page that has it: a browser
 * that gives WebGPU to pages and not to Web Workers, where the engine runs (Firefox wants
 * dom.webgpu.workers.enabled besides dom.webgpu.enabled). Said so, since updating the browser or
 * the driver would not help. Any other error is as it was.
 */
function inPageTerms(error: JanusError): JanusError {
  const pageHasGpu = (globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu != null;
  if (error.code !== 'no-webgpu' || error.message !== NO_GPU_IN_WORKER || !pageHasGpu) return error;
  return new JanusError(
    'no-webgpu',
    'this browser gives WebGPU to the page but not to Web Workers, where Janus runs; in Firefox, set dom.webgpu.workers.enabled to true in about:config, or use Chrome, Edge or Safari 26',
    { cause: error },
  );
}
