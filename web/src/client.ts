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
import type { ChatImage, LoadResult, Results } from './protocol.js';
import { chatFields, pageUrl, resolveBaseUrl, toGeneratedImages, withoutUndefined } from './requests.js';
import type { DeviceInfo, EngineOptions, ImageOptions, LoadProgress, SamplingOptions } from './types.js';

export interface CreateOptions extends EngineOptions {
  /** The worker script (default: worker.js next to this module). */
  workerUrl?: URL | string;
  /** The wasm binary (default: janus_web_bg.wasm next to the worker script). */
  wasmUrl?: URL | string;
}

export interface LoadOptions {
  /** Called at least once per tensor; `bytesDone` only grows. */
  onProgress?: (progress: LoadProgress) => void;
  /** Aborting rejects the load with 'aborted' at once; the engine stops at its next step. */
  signal?: AbortSignal;
}

export interface ChatMessage {
  role: 'user' | 'assistant';
  content: string;
  /** Pictures shown with this message; each becomes one image placeholder before the text. */
  images?: ChatImage[];
}

export interface ChatOptions extends SamplingOptions {
  /**
   * Aborting stops the reply between tokens: `result` then resolves with stop 'cancelled'.
   * If the request had not started yet (another call was running), it rejects with 'aborted'.
   */
  signal?: AbortSignal;
}

export interface GenerateImageOptions extends ImageOptions {
  /** Called after every image token: step 1..total. */
  onStep?: (step: number, total: number) => void;
  /** Aborting stops between image tokens; the result then has `cancelled: true`. */
  signal?: AbortSignal;
}

/** RGBA pixels, straight alpha; an ImageData where the constructor exists (ctx.putImageData). */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8ClampedArray;
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

export class JanusClient extends EventTarget {
  /** Called once per crash, before the 'crash' event (CustomEvent<JanusError>). */
  onCrash: ((error: JanusError) => void) | null = null;

  private connection: WorkerConnection | null = null;
  private info: DeviceInfo | null = null;
  private failure: JanusError | null = null;
  private disposed = false;

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

  /** Loads a model laid out like a Hugging Face repository (config.json, tokenizer.json, safetensors). */
  load(source: string, options: LoadOptions = {}): Promise<LoadResult> {
    let baseUrl: string;
    try {
      baseUrl = resolveBaseUrl(source);
    } catch (error) {
      return Promise.reject(error);
    }
    const handlers: CallHandlers = {};
    if (options.onProgress !== undefined) handlers.onProgress = options.onProgress;
    return this.call('load', { baseUrl }, handlers, options.signal);
  }

  /** Frees the model's GPU memory; the engine stays ready for another load. */
  async unload(): Promise<void> {
    await this.call('unload', {});
  }

  /**
   * Streams the assistant's reply to `messages` (the whole conversation: the caller keeps the
   * history, including earlier assistant replies).
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
    const onToken = (piece: string): void => {
      if (piece !== '') stream.push(piece);
    };
    this.call('chat', fields, { onToken }, options.signal).then(
      (result) => stream.finish(result),
      (error: unknown) => stream.fail(toJanusError(error)),
    );
    return stream;
  }

  /** Text to image: `count` images for `prompt`, with classifier-free guidance. */
  async generateImage(prompt: string, options: GenerateImageOptions = {}): Promise<GeneratedImages> {
    const { onStep, signal, ...imageOptions } = options;
    const handlers: CallHandlers = {};
    if (onStep !== undefined) handlers.onStep = onStep;
    const request = { prompt, ...withoutUndefined(imageOptions) };
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

  private async start(): Promise<DeviceInfo> {
    this.failure = null;
    this.info = null;
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
    const options = withoutUndefined({ dtype: this.options.dtype, maxBindingBytes: this.options.maxBindingBytes });
    try {
      const wasmUrl = this.options.wasmUrl === undefined ? undefined : new URL(this.options.wasmUrl, pageUrl()).href;
      const init = await this.call('init', wasmUrl === undefined ? { options } : { options, wasmUrl });
      this.info = init.deviceInfo;
      return init.deviceInfo;
    } catch (error) {
      // No usable engine (e.g. 'no-webgpu'): later calls fail until a successful restart().
      const failure = toJanusError(error);
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
    return this.connection.call(type, fields, handlers, signal);
  }
}
