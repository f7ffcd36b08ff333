// One engine per model on a page, shared by every element that names that model: one
// JanusClient (one worker, one GPU device, the weights loaded once). Requests from several
// elements queue in its worker. The engine is started and the model loaded on first use, started
// and loaded again after a crash of a loaded engine (a lost device, a trapped worker), and
// disposed a little after the last element using it leaves the page.

import { JanusClient } from '../client.js';
import { toJanusError, type JanusError } from '../errors.js';
import type { LoadResult } from '../protocol.js';
import type { DownloadProgress } from '../store/model-cache.js';
import { resolveModel } from '../store/registry.js';
import type { LoadProgress, Quant } from '../types.js';

/** How long an engine nobody uses stays, so that moving an element in the DOM does not reload. */
const LINGER_MS = 5_000;

export interface EngineEvents {
  progress: LoadProgress | DownloadProgress;
  ready: LoadResult;
  /** A load failed (the next `ready()` tries again). */
  error: JanusError;
  /** The worker died or the device was lost; a loaded engine then reloads by itself. */
  crash: JanusError;
}

/** A model's engine: `ready()` gives the loaded client; events as in EngineEvents. */
export class SharedEngine extends EventTarget {
  private client: JanusClient | null = null;
  private loading: Promise<JanusClient> | null = null;
  private users = 0;
  private linger: ReturnType<typeof setTimeout> | null = null;
  /** The last load's report, once loaded. */
  result: LoadResult | null = null;

  constructor(
    /** What `client.load` takes: a registry id, `owner/repo` or a base URL. */
    readonly source: string,
    readonly cache: boolean,
    /** The weights on the GPU: 'q4' (the elements' default), 'q8' or 'none'. */
    readonly quant: Quant = 'q4',
  ) {
    super();
  }

  /** The client with the model loaded: starts the worker and loads on first use and after a crash. */
  ready(): Promise<JanusClient> {
    this.loading ??= this.start().catch((error: unknown) => {
      this.loading = null; // the next call tries again
      const janus = toJanusError(error);
      this.emit('error', janus);
      throw janus;
    });
    return this.loading;
  }

  private async start(): Promise<JanusClient> {
    let client = this.client;
    if (client === null) {
      client = await JanusClient.create({ quant: this.quant });
      client.addEventListener('crash', (event) => {
        const wasLoaded = this.result !== null;
        this.loading = null;
        this.result = null;
        this.emit('crash', toJanusError((event as CustomEvent<unknown>).detail));
        // Recover as the page does, once per crash of a working engine: a crash while loading
        // (the model does not fit, say) is left to the user, not retried in a loop.
        if (wasLoaded && this.users > 0) this.ready().catch(() => undefined);
      });
      this.client = client;
    } else if (client.crashed) {
      await client.restart();
    }
    const result = await client.load(this.source, { cache: this.cache, onProgress: (progress) => this.emit('progress', progress) });
    this.result = result;
    this.emit('ready', result);
    return client;
  }

  private emit<K extends keyof EngineEvents>(type: K, detail: EngineEvents[K]): void {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /** @internal An element starts using this engine. */
  hold(): void {
    this.users += 1;
    if (this.linger !== null) clearTimeout(this.linger);
    this.linger = null;
  }

  /** @internal An element stops using it; the last one out disposes it after a while. */
  release(): void {
    this.users = Math.max(0, this.users - 1);
    if (this.users > 0) return;
    this.linger = setTimeout(() => {
      if (this.users > 0) return;
      engines.delete(keyOf(this.source, this.cache, this.quant));
      this.client?.dispose();
      this.client = null;
      this.loading = null;
    }, LINGER_MS);
  }
}

const engines = new Map<string, SharedEngine>();

function keyOf(source: string, cache: boolean, quant: Quant): string {
  const base = typeof location === 'undefined' ? undefined : location.href;
  return `${cache ? 'cache' : 'stream'} ${quant} ${resolveModel(source, base === undefined ? {} : { relativeTo: base }).baseUrl}`;
}

/** The page's engine for `source` (one per model, cache mode and format), created on first use. */
export function engineFor(source: string, cache = true, quant: Quant = 'q4'): SharedEngine {
  const key = keyOf(source, cache, quant);
  let engine = engines.get(key);
  if (engine === undefined) {
    engine = new SharedEngine(source, cache, quant);
    engines.set(key, engine);
  }
  return engine;
}
