// A model's shards downloaded while the engine reads them (model-cache.ts `stream`, worker-load.ts).
//
// Before this, a first load downloaded the whole checkpoint and only then let the engine read it:
// Janus-1.3B's 4.1 GB took 55 s to arrive from a local server and 68 s more to quantise, one
// after the other; over a home connection the download alone is minutes, and the engine waited
// through all of it. Now the small files and each shard's first chunk (its header: the engine
// plans the load from every header before it reads a tensor) are fetched first, the engine
// starts, and each shard streams into the store while the engine reads the chunks already there.
// A first load then takes about the longer of the two, not their sum.
//
// What makes that safe:
// - A chunk is handed to the reader once it is stored; the reader checks it against the SHA-256
//   taken when it arrived, as it checks any stored chunk.
// - A file's hash covers every byte, so it is known only once the last chunk lands. The reader
//   gets a file's last chunk only after the file is verified, so the engine cannot finish a
//   file, or the load, on bytes that fail their hash. A file fetched again from its start (its
//   hash failed, or the server sent another version) fails the load with 'integrity' once any of
//   it was read: the engine cannot unread it. worker-load.ts then loads again from the store.
// - One file downloads at a time, so the network goes to the shard the engine is reading.
//   Kept whole (`keep`), the next shard starts as soon as one is done; shard by shard
//   (store/space.ts), only the shard the engine asks for is fetched, and the reader releases the
//   one before once its download has ended.

import { JanusError, toJanusError } from '../errors.js';
import type { FileRecord } from './records.js';

/** Fetch one file completely, telling `onStored` how many of its first chunks are stored. */
export type FetchFile = (path: string, onStored: (count: number) => void, signal: AbortSignal) => Promise<FileRecord>;

/** One file's download as the reader sees it. */
class Arrival {
  /** Chunks 0 .. stored - 1 are in the store. */
  stored = 0;
  /** The file fetched again from its start after the load planned from its header. */
  restarted = false;
  /** The verified record, once the download has ended well. */
  record: FileRecord | null = null;
  failure: JanusError | null = null;
  ended: Promise<void> = Promise.resolve();
  private waiters: Array<() => void> = [];

  storedNow(count: number): void {
    // The header the load was planned from was read before the download began, so any chunk
    // dropped after that is a change under the engine's feet.
    if (count < this.stored) this.restarted = true;
    this.stored = count;
    this.notify();
  }

  notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves on the next change. */
  changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

export interface BackgroundOptions {
  /** The files to fetch while the engine reads them, in the order it reads them. */
  paths: string[];
  /** True: keep every file and fetch the next once one is done; false: shard by shard. */
  keep: boolean;
  fetchFile: FetchFile;
  /** Kept whole: mark the model complete once every file is verified. */
  complete: () => Promise<void>;
  signal?: AbortSignal | undefined;
}

export class Background {
  readonly keep: boolean;
  private readonly files = new Map<string, Arrival>();
  /** Files not started yet, next first. */
  private readonly queue: string[];
  private running: string | null = null;
  private failure: JanusError | null = null;
  private readonly controller = new AbortController();
  private readonly signal: AbortSignal;
  private closing: Promise<void> | null = null;
  private closedResolve!: () => void;
  /**
   * Resolves once `finish` or `stop` has ended, or (kept whole) every file is verified:
   * model-cache.ts holds the model's lock until then.
   */
  readonly closed: Promise<void> = new Promise((resolve) => {
    this.closedResolve = resolve;
  });

  constructor(private readonly options: BackgroundOptions) {
    this.keep = options.keep;
    // Kept whole, every file is fetched in the engine's order; shard by shard, only when asked.
    this.queue = options.keep ? [...options.paths] : [];
    this.signal = options.signal === undefined ? this.controller.signal : AbortSignal.any([options.signal, this.controller.signal]);
    this.pump();
  }

  /** Whether `path` is one of the files fetched here. */
  has(path: string): boolean {
    return this.options.paths.includes(path);
  }

  /** Fetch `path` next (now, when no other file is downloading). */
  fetch(path: string): void {
    if (this.files.has(path) || this.running === path) return;
    const at = this.queue.indexOf(path);
    if (at >= 0) this.queue.splice(at, 1);
    this.queue.unshift(path);
    this.pump();
  }

  /**
   * Resolves once chunk `index` (of `count`) of `path` can be read: stored, and for the last
   * chunk, the file verified. The verified record once there is one, else null. Rejects with the
   * download's error, or 'integrity' where the file was fetched again from its start.
   */
  async chunk(path: string, index: number, count: number): Promise<FileRecord | null> {
    this.fetch(path);
    for (;;) {
      const arrival = this.files.get(path);
      if (arrival === undefined) {
        // Queued behind another file: wait for the one running.
        if (this.failure !== null) throw this.failure;
        const running = this.files.get(this.running ?? '');
        if (running === undefined) throw new JanusError('aborted', 'the download was cancelled; the parts already downloaded are kept');
        await running.changed();
        continue;
      }
      if (arrival.restarted) {
        throw new JanusError('integrity', `${path} changed while it loaded (it was downloaded again from its start); load again`);
      }
      if (arrival.failure !== null) throw arrival.failure;
      if (arrival.record !== null) return arrival.record;
      if (index < count - 1 && index < arrival.stored) return null;
      await arrival.changed();
    }
  }

  /** Shard by shard: wait for `path`'s download to end (rejecting with its error), then forget it. */
  async release(path: string): Promise<void> {
    const arrival = this.files.get(path);
    if (arrival === undefined) return;
    await arrival.ended;
    this.files.delete(path);
    if (arrival.failure !== null) throw arrival.failure;
  }

  /**
   * After the engine's load: kept whole, every file fetched and verified and the model marked
   * complete; shard by shard, the last download ended. Rejects with a download's error.
   */
  finish(): Promise<void> {
    this.closing ??= this.drain().finally(() => this.closedResolve());
    return this.closing;
  }

  /** After a failed load: stop downloading (what is stored stays, resumable) and wait for it. */
  stop(): Promise<void> {
    if (this.closing === null) {
      this.queue.length = 0;
      this.controller.abort();
      this.closing = this.settleAll()
        .catch(() => undefined)
        .finally(() => this.closedResolve());
    }
    return this.closing.catch(() => undefined);
  }

  private async drain(): Promise<void> {
    if (this.keep) {
      for (;;) {
        this.pump();
        const running = this.files.get(this.running ?? '');
        if (running === undefined) break; // every file fetched, or one failed, or stopped
        await running.ended;
      }
    }
    await this.settleAll();
    if (this.failure !== null) throw this.failure;
    if (this.keep) await this.options.complete();
  }

  private async settleAll(): Promise<void> {
    await Promise.all([...this.files.values()].map((a) => a.ended));
  }

  /** Start the next queued file where none is downloading. */
  private pump(): void {
    if (this.running !== null || this.failure !== null || this.signal.aborted) return;
    const path = this.queue.shift();
    if (path === undefined) return;
    const arrival = new Arrival();
    this.files.set(path, arrival);
    this.running = path;
    arrival.ended = this.options
      .fetchFile(path, (count) => arrival.storedNow(count), this.signal)
      .then(
        (record) => {
          arrival.record = record;
        },
        (error: unknown) => {
          const failure = toJanusError(error);
          arrival.failure = failure;
          this.failure ??= failure;
        },
      )
      .finally(() => {
        this.running = null;
        arrival.notify();
        // Kept whole, the next file; shard by shard the queue holds only what was asked for.
        this.pump();
        // Kept whole and every file verified: the model is complete whatever the engine does
        // next, and the lock goes back now, not when the engine ends its load.
        if (this.keep && this.running === null && this.queue.length === 0 && this.failure === null && !this.signal.aborted) {
          this.finish().catch(() => undefined);
        }
      });
  }
}
