// Messages between JanusClient (page) and the engine worker (worker.ts).
//
// Page -> worker: a Request, each with an id chosen by the client (unique per worker). The worker
// runs them one at a time, in arrival order, except 'cancel' and the test hooks ('trap',
// 'loseDevice', 'gpuRefusal', 'squeezeMemory'), which act at once.
// Worker -> page: Responses carrying the id of the request they belong to; each request ends with
// exactly one 'result' or 'error' (none if the worker dies first). 'fatal' has no id: the wasm
// instance is dead and every pending request fails with it.

import type { WireError } from './errors.js';
import type { RetryPolicy } from './store/http.js';
import type { DownloadProgress } from './store/model-cache.js';
import type { ModelSource } from './store/registry.js';
import type {
  ChatResult,
  DeviceInfo,
  EngineChatRequest,
  EngineImageRequest,
  EngineImageResult,
  EngineOptions,
  EnginePreview,
  LoadProgress,
  LoadReport,
  TokenLogprob,
} from './types.js';

/** An image of a chat message, as the worker receives it (structured-cloned, not transferred). */
export type ChatImage = Blob | ImageBitmap | ImageData;

/**
 * The message of the worker's 'no-webgpu' when the worker itself has no `navigator.gpu`. The
 * client, on the page, then tells a browser that gives WebGPU to pages and not to workers (where
 * the engine runs) from one that has none: updating the browser is no advice for the first.
 */
export const NO_GPU_IN_WORKER = 'the engine worker has no WebGPU: navigator.gpu is absent in Web Workers here';

export type Request =
  /** Instantiate the wasm (from `wasmUrl`, default: next to the worker script) and create the Engine. */
  | { type: 'init'; id: number; options: EngineOptions; wasmUrl?: string }
  /** `source.baseUrl` is absolute and ends with '/'. */
  | { type: 'load'; id: number; source: ModelSource; options: WireLoadOptions }
  /** `images` in message order; `request.messages[i].images` says how many belong to message i. */
  | { type: 'chat'; id: number; request: EngineChatRequest; images: ChatImage[] }
  | { type: 'generateImage'; id: number; request: EngineImageRequest }
  | { type: 'unload'; id: number }
  /**
   * Cancel request `id`: a queued one ends at once with error 'aborted'; a running chat or image
   * generation stops at its next token/step and resolves normally (stop 'cancelled' /
   * cancelled: true); a running load stops at its next step (or is unloaded if it had finished)
   * and ends with 'aborted'.
   */
  | { type: 'cancel'; id: number }
  /** Test hook: trap the wasm instance at once (worker then sends 'fatal'). */
  | { type: 'trap'; id: number }
  /**
   * Test hook: destroy the engine's GPU device at once, as a driver reset would. The running job
   * fails at its next GPU step; the worker then sends 'fatal' with 'device-lost'.
   */
  | { type: 'loseDevice'; id: number }
  /**
   * Test hook: submit GPU work that WebGPU refuses (a validation error: one buffer bound twice
   * as writable). The worker then sends 'fatal': the instance cannot trust its device any more.
   */
  | { type: 'gpuRefusal'; id: number }
  /**
   * Test hook: grow the wasm memory until less than 2 × `leaveBytes` can still be added, so the
   * next large allocation fails (the worker then sends 'fatal' with 'out-of-memory').
   */
  | { type: 'squeezeMemory'; id: number; leaveBytes: number };

export type RequestType = Request['type'];

/** How a load gets its bytes (the client's LoadOptions without callbacks and signal). */
export interface WireLoadOptions {
  /** true: download into the IndexedDB cache first (resumable, verified, offline later) and load from it. */
  cache: boolean;
  chunkBytes?: number;
  retry?: RetryPolicy;
  idleTimeoutMs?: number;
  skipSpaceCheck?: boolean;
  /** Keep the bf16 download once a quantised engine has stored the model's pack. */
  keepSource?: boolean;
  /** A quantised first load of a sharded model, one shard stored at a time (store/space.ts). */
  shardByShard?: boolean | 'auto';
}

/** What the download step of a cached load did. */
export interface DownloadReport {
  /** 'indexeddb', or 'none' when the load streamed from the network (cache: false, or no IndexedDB). */
  cache: 'indexeddb' | 'none';
  /** Why there is no cache although one was asked for. */
  cacheError?: WireError;
  fetchedBytes: number;
  resumedBytes: number;
  requests: number;
  retries: number;
  restarts: number;
  /** Integrity repairs during the load (a damaged stored chunk fetched again). */
  repairs: number;
  /**
   * A quantised engine's stored pack: 'loaded' (read instead of the bf16 model), or 'written'
   * (this load stored it for the next).
   */
  pack?: 'loaded' | 'written';
  /** The bf16 download was deleted after its pack was stored (see `keepSource`). */
  sourceReleased?: boolean;
  /** Why the pack could not be stored (the model loaded all the same; the download is kept). */
  packError?: WireError;
  /**
   * The shards were fetched one at a time as the engine read them, each deleted before the next
   * (`LoadOptions.shardByShard`); the download is released whether or not the pack was stored.
   */
  shardByShard?: boolean;
}

/** What the worker answers after 'init'. */
export interface InitResult {
  deviceInfo: DeviceInfo;
  wasmMemoryBytes: number;
}

/** The engine's LoadReport plus the WebAssembly memory size once loaded. */
export interface LoadResult extends LoadReport {
  wasmMemoryBytes: number;
  download: DownloadReport;
}

/** The image result as it crosses: the engine's, with the pixels' ArrayBuffers transferred. */
export type WireImageResult = EngineImageResult;

/** The value of the 'result' message for each request type ('cancel' has none). */
export interface Results {
  init: InitResult;
  load: LoadResult;
  chat: ChatResult;
  generateImage: WireImageResult;
  unload: null;
  trap: null;
  loseDevice: null;
  gpuRefusal: null;
  /** The wasm memory's size once squeezed. */
  squeezeMemory: { memoryBytes: number };
}

export type Response =
  | { type: 'progress'; id: number; progress: LoadProgress | DownloadProgress }
  /** `logprobs`: the token's, where the chat asked for them. */
  | { type: 'token'; id: number; piece: string; tokenId: number; logprobs?: TokenLogprob }
  /** After each pass of a chat prompt that runs in several: `read` of its `total` new positions. */
  | { type: 'prompt'; id: number; read: number; total: number }
  /** After each image token; `preview` on preview steps (its pixels' buffers transferred). */
  | { type: 'step'; id: number; step: number; total: number; preview?: EnginePreview }
  | { type: 'result'; id: number; value: Results[keyof Results] }
  | { type: 'error'; id: number; error: WireError }
  | { type: 'fatal'; error: WireError };
