// A whole model in the chunk store: find its files and their hashes, check there is room, fetch
// what is missing under a lock shared by every tab, and mark it complete last.
//
// `ensureModel` is idempotent: on a complete model it only checks that every chunk is still there
// (repairing a lost one alone) and makes no request otherwise, so a cached model loads offline.

import { JanusError } from '../errors.js';
import { Background } from './background.js';
import { DEFAULT_CHUNK_BYTES, downloadFile, downloadHead, type DownloadOptions, type DownloadOutcome, type FileTask } from './download.js';
import { hashFromEtag, parseExpectedHash, type ExpectedHash } from './hash.js';
import { isWebPageInstead, judgeResponse, parseContentRange, rangeHeader, unreachableHint, webPageMessage } from './http.js';
import { chunkCount, fileKey, type ChunkStore, type FileRecord, type HashSource, type ModelRecord } from './records.js';
import type { ModelSource } from './registry.js';
import { ProgressMeter } from './progress-meter.js';
import { packEstimate, planSpace, type ShardMode, type SpaceNeeds } from './space.js';

export const INDEX_FILE = 'model.safetensors.index.json';
export const SINGLE_FILE = 'model.safetensors';
/** A pack's manifest (`janus pack`): every file with its size and SHA-256. */
export const MANIFEST_FILE = 'janus-pack.json';
const DEFAULT_FILES = ['config.json', 'tokenizer.json'];

/** Progress of getting a model into the store. Bytes count verified, stored bytes. */
export interface DownloadProgress {
  phase: 'download';
  /** The file being fetched (relative to the base URL). */
  file: string;
  fileBytes: number;
  fileTotal: number;
  bytes: number;
  /** Every file's size (known once the file list is; grows while shard sizes are learnt). */
  total: number;
  /** Network bytes per second over the last few seconds. */
  rate: number;
  /** Seconds left at `rate`, or null while unknown. */
  etaSeconds: number | null;
  /** Set on the one event sent while another tab (or worker) is downloading this model first. */
  waiting?: true;
}

export interface EnsureOptions extends Omit<DownloadOptions, 'onProgress'> {
  onProgress?: ((progress: DownloadProgress) => void) | undefined;
  /** Skip the `navigator.storage.estimate()` check (it can also understate). Default false. */
  skipSpaceCheck?: boolean | undefined;
  /**
   * The load writes the model's pack in `quant` and then releases this download (worker-load.ts):
   * the pack's size (`storedBytes`, else estimated) counts in the room needed, and where the
   * download and the pack do not fit together, a sharded model may load shard by shard
   * (`shardByShard`, space.ts): only each shard's first chunk is fetched now, and the report's
   * `lazy` fetches the shards themselves as the engine reaches them.
   */
  packing?: { quant: 'q4' | 'q8'; storedBytes?: number | undefined; shardByShard?: ShardMode | undefined } | undefined;
  /**
   * Return once the small files and each shard's header are stored, and fetch the shards
   * while the engine reads them (the report's `lazy`, background.ts), so a first load takes about
   * the longer of the download and the load rather than their sum. Default false: return once
   * the whole model is stored.
   */
  stream?: boolean | undefined;
}

/**
 * The shards still to arrive when `ensureModel` returns (`stream`, or shard by shard): they are
 * fetched while the engine reads them (background.ts). Exactly one of `finish` (after the load)
 * or `stop` (after a failure) must be called: kept whole, the model's lock is held until then.
 */
export interface LazyFiles {
  /** What the reader waits on (store-reader.ts). */
  readonly background: Background;
  /** Every file fetched and verified (kept whole: the model marked complete), the lock released. */
  finish(): Promise<void>;
  /** The downloads stopped (what is stored stays), the lock released. */
  stop(): Promise<void>;
  /** The report with every fetch so far. */
  report(): EnsureReport;
}

export interface EnsureReport {
  model: ModelRecord;
  /** Body bytes received over the network. */
  fetchedBytes: number;
  /** Bytes found already stored and verified. */
  resumedBytes: number;
  requests: number;
  retries: number;
  restarts: number;
  /** Set where shards are still to arrive (`stream`, or shard by shard): `model` is not complete. */
  lazy?: LazyFiles;
}

/** Bring `source` into `store` completely (downloading, resuming or repairing as needed). */
export async function ensureModel(store: ChunkStore, source: ModelSource, options: EnsureOptions = {}): Promise<EnsureReport> {
  const onWait = (): void =>
    options.onProgress?.({ phase: 'download', file: '', fileBytes: 0, fileTotal: 0, bytes: 0, total: 0, rate: 0, etaSeconds: null, waiting: true });
  const withFigures = async (error: unknown): Promise<never> => {
    throw await withStorageFigures(error, store);
  };
  // Kept whole while streamed, the lock stays held until the background downloads end: another
  // tab waits, then finds the model complete. The report is handed out before that.
  let handOut!: (report: EnsureReport) => void;
  const handedOut = new Promise<EnsureReport>((resolve) => {
    handOut = resolve;
  });
  let released: Promise<unknown> = Promise.resolve();
  const locked = withModelLock(source.baseUrl, options.signal, onWait, async () => {
    const report = await ensureLocked(store, source, options);
    const lazy = report.lazy;
    if (lazy === undefined || !lazy.background.keep) return report;
    handOut({
      ...report,
      lazy: {
        ...lazy,
        // Resolve once the lock is released, so what follows (deleting the source) can take it.
        finish: () => lazy.finish().then(() => released.then(() => undefined)),
        stop: () => lazy.stop().then(() => released.then(() => undefined)),
      },
    });
    await lazy.background.closed;
    return report;
  });
  released = locked.catch(() => undefined);
  return Promise.race([locked.catch(withFigures), handedOut]);
}

/**
 * A quota error from a write, with what the browser reports now (S1, S2: the up-front estimate
 * said there was room, or was not asked) and how to use the model without storing it.
 */
async function withStorageFigures(error: unknown, store: ChunkStore): Promise<unknown> {
  if (!(error instanceof JanusError) || error.code !== 'quota' || /, in use /.test(error.message)) return error;
  const storage = storageManager();
  let figures = '';
  if (store.kind === 'indexeddb' && storage?.estimate !== undefined) {
    const { quota, usage } = await storage.estimate().catch(() => ({}) as StorageEstimate);
    if (quota !== undefined && usage !== undefined) figures = ` (the browser reports quota ${formatBytes(quota)}, in use ${formatBytes(usage)})`;
  }
  return new JanusError(
    'quota',
    `${error.message}${figures}. To use the model now without storing it, load it with { cache: false } (it is downloaded again next time)`,
    { cause: error },
  );
}

async function ensureLocked(store: ChunkStore, source: ModelSource, options: EnsureOptions): Promise<EnsureReport> {
  const progress = new ProgressMeter(options.onProgress);
  const outcomes: DownloadOutcome[] = [];
  const report = (model: ModelRecord): EnsureReport => ({
    model,
    fetchedBytes: sum(outcomes, (o) => o.fetchedBytes),
    resumedBytes: sum(outcomes, (o) => o.resumedBytes),
    requests: sum(outcomes, (o) => o.requests),
    retries: sum(outcomes, (o) => o.retries),
    restarts: sum(outcomes, (o) => o.restarts),
  });
  const fetch = async (
    task: FileTask,
    limitChunks?: number,
    later?: { onStored: (count: number) => void; signal: AbortSignal },
  ): Promise<FileRecord> => {
    const outcome = await downloadFile(store, task, {
      ...options,
      limitChunks,
      // A shard's first chunk alone (shard by shard) is not shown: the shard is, later.
      onProgress: limitChunks === undefined ? (file, done, total) => progress.file(file, done, total) : undefined,
      ...(later === undefined ? {} : { onStored: later.onStored, signal: later.signal }),
    });
    outcomes.push(outcome);
    if (limitChunks === undefined) progress.fileDone(task.path, task.size);
    return outcome.record;
  };
  /**
   * A shard's header alone, else (no safetensors header found that way) its first chunk; a shard
   * of one chunk whole (its header would be fetched twice for nothing gained).
   */
  const fetchHead = async (task: FileTask): Promise<FileRecord> => {
    if (task.size <= (options.chunkBytes ?? DEFAULT_CHUNK_BYTES)) return fetch(task);
    const known = await store.getFile(fileKey(task.model, task.path));
    if (known?.complete !== true) {
      const outcome = await downloadHead(store, task, { ...options, onProgress: undefined });
      outcomes.push(outcome);
      if (outcome.record.head !== undefined) return outcome.record;
    }
    return fetch(task, 1);
  };

  const known = await store.getModel(source.baseUrl);
  const stored = known === null ? null : await storedTasks(store, known);
  if (known !== null && known.complete && stored !== null) {
    // Cached: only repairs can need the network.
    progress.total = known.bytes;
    for (const task of stored) await fetch(task);
    return report(known);
  }

  const plan = await planFiles(store, source, options, fetch);
  const total = sum(plan.tasks, (t) => t.size) + plan.fetchedBytes;
  progress.total = total;
  const byShard = await checkSpace(store, plan.tasks, options);
  const record: ModelRecord = {
    key: source.baseUrl,
    name: source.name,
    files: [...plan.fetched, ...plan.tasks.map((t) => t.path)],
    bytes: total,
    complete: false,
    createdAt: known?.createdAt ?? Date.now(),
  };
  await store.putModel(record);
  const markComplete = async (): Promise<ModelRecord> => {
    const complete: ModelRecord = { ...record, complete: true, completedAt: Date.now() };
    await store.putModel(complete);
    return complete;
  };
  if (byShard || options.stream === true) {
    // Each shard's header (the engine plans the load from every header before it reads a
    // tensor), kept with its record; the shards themselves while the engine reads them.
    const later: string[] = [];
    for (const task of plan.tasks) if (!isShard(task)) await fetch(task);
    // A request each, a few at once: a pack has dozens of shards, and one round trip after
    // another would hold the engine back by seconds over a distant CDN.
    const shards = plan.tasks.filter(isShard);
    for (let i = 0; i < shards.length; i += HEAD_REQUESTS) {
      const stored = await Promise.all(shards.slice(i, i + HEAD_REQUESTS).map(fetchHead));
      for (const record of stored) if (!record.complete) later.push(record.path);
    }
    if (later.length > 0 || byShard) {
      const tasks = new Map(plan.tasks.map((t) => [t.path, t]));
      const background = new Background({
        // The engine reads shards in name order (weights/index.rs `ShardIndex::shards`).
        paths: later.sort(),
        keep: !byShard,
        signal: options.signal,
        fetchFile: (path, onStored, signal) => {
          const task = tasks.get(path);
          if (task === undefined) return Promise.reject(new JanusError('not-found', `${source.baseUrl}${path}: not part of the model`));
          const run = (): Promise<FileRecord> => fetch(task, undefined, { onStored, signal });
          // Kept whole, this load holds the model's lock throughout (ensureModel); shard by
          // shard, each shard takes it in turn.
          if (!byShard) return run();
          return withModelLock(source.baseUrl, signal, () => undefined, run).catch(async (error: unknown) => {
            throw await withStorageFigures(error, store);
          });
        },
        complete: async () => {
          await markComplete();
        },
      });
      const lazy: LazyFiles = {
        background,
        finish: () => background.finish(),
        stop: () => background.stop(),
        report: () => report(record),
      };
      return { ...report(record), lazy };
    }
    return report(await markComplete());
  }
  for (const task of plan.tasks) await fetch(task);
  return report(await markComplete());
}

/** The stored files of a model as tasks, or null when a file record is gone (evicted). */
async function storedTasks(store: ChunkStore, model: ModelRecord): Promise<FileTask[] | null> {
  const tasks: FileTask[] = [];
  for (const path of model.files) {
    const record = await store.getFile(fileKey(model.key, path));
    if (record === null || !record.complete) return null;
    tasks.push({
      model: model.key,
      path,
      url: record.url,
      size: record.size,
      expected: record.expected,
      hashSource: record.hashSource,
    });
  }
  return tasks;
}

interface Plan {
  /** Files still to fetch, small ones first. */
  tasks: FileTask[];
  /** Files fetched while planning (the shard index), and their bytes. */
  fetched: string[];
  fetchedBytes: number;
}

/** What the hub's tree API says about one file. */
interface TreeEntry {
  size: number;
  expected: ExpectedHash | null;
}

/**
 * The files of the model with sizes and expected hashes: the hub's tree listing when there is
 * one, else a one-byte probe per file. A shard index is fetched (into the store) to name its shards.
 */
async function planFiles(
  store: ChunkStore,
  source: ModelSource,
  options: EnsureOptions,
  fetchTask: (task: FileTask) => Promise<unknown>,
): Promise<Plan> {
  const tree = source.treeUrl === null ? null : await hubTree(source.treeUrl, options.signal);
  const probes = new Map<string, Promise<Probe | null>>();
  const probed = (path: string): Promise<Probe | null> => {
    let result = probes.get(path);
    if (result === undefined) {
      result = probe(source.baseUrl + path, path, options.signal);
      probes.set(path, result);
    }
    return result;
  };
  const exists = async (path: string): Promise<boolean> => {
    if (tree !== null) return tree.has(path);
    return (await probed(path)) !== null;
  };
  const task = async (path: string): Promise<FileTask> => {
    const url = source.baseUrl + path;
    const listed = tree?.get(path);
    if (listed !== undefined) {
      return { model: source.baseUrl, path, url, size: listed.size, expected: listed.expected, hashSource: listed.expected === null ? 'none' : 'hub' };
    }
    const found = await probed(path);
    if (found === null) throw new JanusError('not-found', `${url}: not found; is this a Janus model in Hugging Face layout?`);
    const stated = hashFromEtag(found.etag);
    const hashSource: HashSource = stated === null ? 'none' : 'etag';
    return { model: source.baseUrl, path, url, size: found.size, expected: stated, hashSource };
  };

  // The hub's listing decides single file or shards (a repository may have been re-sharded since
  // the registry was written); without one, the registry's list, else probes: a pack's manifest
  // (which lists everything), then the index.
  let names = tree === null ? (source.entry?.files ?? null) : null;
  if (names === null) {
    if (await exists(MANIFEST_FILE)) names = [MANIFEST_FILE];
    else names = [...DEFAULT_FILES, (await exists(INDEX_FILE)) ? INDEX_FILE : SINGLE_FILE];
  }
  const plan: Plan = { tasks: [], fetched: [], fetchedBytes: 0 };
  const fetchNow = async (name: string): Promise<FileTask> => {
    const fetched = await task(name);
    await fetchTask(fetched);
    plan.fetched.push(name);
    plan.fetchedBytes += fetched.size;
    return fetched;
  };
  for (const name of names) {
    if (name === MANIFEST_FILE) {
      // The manifest names every file with its size and SHA-256: nothing else to probe.
      const manifest = await fetchNow(name);
      for (const file of await packFiles(store, manifest)) {
        const expected = { kind: 'sha256' as const, hex: file.sha256 };
        plan.tasks.push({ model: source.baseUrl, path: file.path, url: source.baseUrl + file.path, size: file.size, expected, hashSource: 'manifest' });
      }
      continue;
    }
    if (name !== INDEX_FILE) {
      plan.tasks.push(await task(name));
      continue;
    }
    // The index names the shards: fetch it now (it is part of the model), then list them.
    const indexTask = await fetchNow(name);
    for (const shard of await shardNames(store, indexTask)) plan.tasks.push(await task(shard));
  }
  plan.tasks.sort((a, b) => a.size - b.size);
  return plan;
}

/** The shard files an index's weight_map names, in first-seen order. */
async function shardNames(store: ChunkStore, task: FileTask): Promise<string[]> {
  const record = await store.getFile(fileKey(task.model, task.path));
  if (record === null) throw new JanusError('storage', `${task.path} vanished from the store`);
  const bytes = await readWhole(store, record);
  let index: unknown;
  try {
    index = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    throw new JanusError('bad-checkpoint', `${task.url}: not a JSON shard index (${(error as Error).message})`);
  }
  const map = (index as { weight_map?: unknown }).weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) {
    throw new JanusError('bad-checkpoint', `${task.url}: the shard index has no weight_map object`);
  }
  const names = [...new Set(Object.values(map as Record<string, unknown>))];
  if (names.length === 0 || names.some((n) => typeof n !== 'string' || !/^[\w.-]+\.safetensors$/.test(n))) {
    throw new JanusError('bad-checkpoint', `${task.url}: the shard index names no valid .safetensors files`);
  }
  return names as string[];
}

/** One file a pack's manifest lists. */
export interface PackFile {
  path: string;
  size: number;
  sha256: string;
}

/** The files a stored pack manifest lists, checked (format, plain unique names, sizes, digests). */
async function packFiles(store: ChunkStore, task: FileTask): Promise<PackFile[]> {
  const record = await store.getFile(fileKey(task.model, task.path));
  if (record === null) throw new JanusError('storage', `${task.path} vanished from the store`);
  return parsePackManifest(await readWhole(store, record), task.url);
}

/** Parse janus-pack.json (the same rules as the engine's `PackManifest::parse`). */
export function parsePackManifest(bytes: Uint8Array, url: string): PackFile[] {
  const bad = (reason: string): JanusError => new JanusError('bad-checkpoint', `${url}: not a Janus pack manifest: ${reason}`);
  let manifest: unknown;
  try {
    manifest = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    throw bad((error as Error).message);
  }
  const m = manifest as { format?: unknown; version?: unknown; quant?: unknown; files?: unknown };
  if (typeof manifest !== 'object' || manifest === null || m.format !== 'janus-pack' || m.version !== 1) {
    throw bad('format is not "janus-pack" version 1');
  }
  if (m.quant !== 'q4' && m.quant !== 'q8') throw bad(`quant ${JSON.stringify(m.quant)} is not q4 or q8`);
  if (!Array.isArray(m.files) || m.files.length === 0) throw bad('it lists no files');
  const seen = new Set<string>();
  return m.files.map((entry: unknown): PackFile => {
    const f = entry as Partial<PackFile> | null;
    const path = f?.path;
    if (typeof path !== 'string' || !/^[\w][\w.-]*$/.test(path) || path.length > 200) throw bad(`${JSON.stringify(path)} is not a plain file name`);
    if (seen.has(path)) throw bad(`${path} is listed twice`);
    seen.add(path);
    if (typeof f?.size !== 'number' || !Number.isSafeInteger(f.size) || f.size < 0) throw bad(`${path}: size ${JSON.stringify(f?.size)} is not a byte count`);
    if (typeof f.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(f.sha256)) throw bad(`${path}: ${JSON.stringify(f.sha256)} is not a SHA-256 in hex`);
    return { path, size: f.size, sha256: f.sha256 };
  });
}

/** A whole small stored file. */
export async function readWhole(store: ChunkStore, record: FileRecord): Promise<Uint8Array> {
  const out = new Uint8Array(record.size);
  const count = chunkCount(record.size, record.chunkSize);
  for (let i = 0; i < count; i += 1) {
    const chunk = await store.getChunk(record.key, i);
    if (chunk === null) throw new JanusError('integrity', `${record.path}: stored chunk ${i} is missing`);
    out.set(chunk.bytes, i * record.chunkSize);
  }
  return out;
}

/** The hub's listing: path -> size and hash (SHA-256 for LFS files, git blob SHA-1 otherwise). */
async function hubTree(url: string, signal: AbortSignal | undefined): Promise<Map<string, TreeEntry> | null> {
  let entries: unknown;
  try {
    const response = await fetch(url, { signal: signal ?? null, cache: 'no-store' });
    if (!response.ok) return null;
    entries = await response.json();
  } catch (error) {
    if (signal?.aborted) throw new JanusError('aborted', 'the download was cancelled');
    void error; // no listing (offline, CORS, a mirror without the API): probe the files instead
    return null;
  }
  if (!Array.isArray(entries)) return null;
  const tree = new Map<string, TreeEntry>();
  for (const entry of entries as Array<Record<string, unknown>>) {
    if (entry.type !== 'file' || typeof entry.path !== 'string' || typeof entry.size !== 'number') continue;
    const lfs = entry.lfs as { oid?: unknown; size?: unknown } | undefined;
    const lfsHash = typeof lfs?.oid === 'string' ? parseExpectedHash(lfs.oid) : null;
    const size = typeof lfs?.size === 'number' ? lfs.size : entry.size;
    const expected = lfsHash?.kind === 'sha256' ? lfsHash : typeof entry.oid === 'string' && lfs === undefined ? parseExpectedHash(entry.oid) : null;
    tree.set(entry.path, { size, expected });
  }
  return tree;
}

interface Probe {
  size: number;
  etag: string | null;
}

/** Size and ETag of a file from a one-byte ranged GET; null when it does not exist (404). */
async function probe(url: string, path: string, signal: AbortSignal | undefined): Promise<Probe | null> {
  for (let attempt = 1; ; attempt += 1) {
    let response: Response;
    try {
      response = await fetch(url, { headers: { Range: rangeHeader(0, 0) }, signal: signal ?? null, cache: 'no-store' });
    } catch (error) {
      if (signal?.aborted) throw new JanusError('aborted', 'the download was cancelled');
      if (attempt >= 3) throw new JanusError('network', `${url}: the request failed (${(error as Error).message}); ${unreachableHint(url)}`);
      await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
      continue;
    }
    await response.body?.cancel().catch(() => undefined);
    if (response.status === 404 || response.status === 410) return null;
    const range = response.headers.get('Content-Range');
    const total = parseContentRange(range)?.total ?? null;
    const length = response.headers.get('Content-Length');
    const size = response.status === 206 && total !== null ? total : response.status === 200 && length !== null ? Number(length) : NaN;
    if (response.status === 206 && range === null) {
      // A cross-origin server that hides Content-Range (CORS): HEAD states the length.
      const head = await fetch(url, { method: 'HEAD', signal: signal ?? null, cache: 'no-store' }).catch(() => null);
      const headLength = Number(head?.headers.get('Content-Length') ?? NaN);
      if (head?.ok === true && Number.isSafeInteger(headLength) && headLength > 0) {
        return { size: headLength, etag: head.headers.get('ETag') ?? response.headers.get('ETag') };
      }
    }
    if (!Number.isSafeInteger(size)) {
      const verdict = judgeResponse(response.status, response.headers, { url, file: path, offset: 0, size: 1, end: 0 });
      if (verdict.kind === 'fail' && verdict.retry && attempt < 3) continue;
      throw new JanusError(
        verdict.kind === 'fail' ? verdict.code : 'bad-response',
        verdict.kind === 'fail' ? verdict.message : `${url}: the server states no size for ${path} (${response.status})`,
      );
    }
    if (isWebPageInstead(response.headers, path)) throw new JanusError('bad-response', webPageMessage(url, path));
    return { size, etag: response.headers.get('ETag') };
  }
}

/** Shard headers fetched at once before a streamed load (`stream`). */
const HEAD_REQUESTS = 6;

/** A safetensors file of a model's weights (the files a shard-by-shard load fetches late). */
function isShard(task: FileTask): boolean {
  return task.path.endsWith('.safetensors');
}

/**
 * Refuse before downloading when the browser says the rest cannot fit (space.ts); true where
 * the model is to be ensured shard by shard.
 */
async function checkSpace(store: ChunkStore, tasks: FileTask[], options: EnsureOptions): Promise<boolean> {
  const storage = storageManager();
  const packing = options.packing;
  // Room is only known of IndexedDB (a memory store can still go shard by shard when asked to).
  const estimated = store.kind === 'indexeddb' && options.skipSpaceCheck !== true && storage?.estimate !== undefined;
  if (packing === undefined && !estimated) return false;
  const needs: SpaceNeeds = { download: 0, pack: 0, byShard: null };
  const shards = tasks.filter(isShard);
  let small = 0;
  let heads = 0;
  let largest = 0;
  for (const task of tasks) {
    const record = await store.getFile(fileKey(task.model, task.path));
    if (record?.complete === true) continue;
    const indices = record === null ? [] : await store.chunkIndices(record.key);
    const rest = Math.max(0, task.size - indices.length * (record?.chunkSize ?? 0));
    needs.download += rest;
    if (!isShard(task)) small += rest;
    else {
      largest = Math.max(largest, rest);
      if (indices[0] !== 0) heads += Math.min(task.size, options.chunkBytes ?? DEFAULT_CHUNK_BYTES);
    }
  }
  if (packing !== undefined) {
    needs.pack = packing.storedBytes ?? packEstimate(sum(shards, (t) => t.size), packing.quant);
    if (shards.length > 1) needs.byShard = small + heads + largest + needs.pack;
  }
  const estimate = estimated ? await storage.estimate() : null;
  const free = estimate?.quota === undefined || estimate.usage === undefined ? null : Math.max(0, estimate.quota - estimate.usage);
  const plan = planSpace(needs, free, packing?.shardByShard ?? 'auto');
  if (plan.kind === 'refuse' && estimate !== null) refuseIfNoRoom(plan.needed, estimate);
  return plan.kind === 'shards';
}

/** The browser's StorageManager, where there is one (not in Node). */
function storageManager(): StorageManager | undefined {
  return (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage;
}

/**
 * Throws 'quota' when `needed` more bytes exceed what `estimate()` leaves. (The estimate can
 * overstate the real free space: a write can still fail, which is handled where it happens.)
 */
export function refuseIfNoRoom(needed: number, estimate: { quota?: number | undefined; usage?: number | undefined }): void {
  const { quota, usage } = estimate;
  if (quota === undefined || usage === undefined) return;
  const free = Math.max(0, quota - usage);
  if (needed > free) {
    throw new JanusError(
      'quota',
      `not enough storage for this model: it needs ${formatBytes(needed)} more, the browser allows ${formatBytes(free)} ` +
        `(quota ${formatBytes(quota)}, in use ${formatBytes(usage)}). Free disk space or delete a cached model`,
    );
  }
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

/** The cached models with what they hold. */
export interface CachedModel {
  key: string;
  name: string;
  complete: boolean;
  /** The model's size. */
  bytes: number;
  /** Bytes stored now (less than `bytes` while partial). */
  storedBytes: number;
  createdAt: number;
  completedAt?: number;
}

export async function cachedModels(store: ChunkStore): Promise<CachedModel[]> {
  const out: CachedModel[] = [];
  for (const model of await store.listModels()) {
    let storedBytes = 0;
    for (const path of model.files) {
      const record = await store.getFile(fileKey(model.key, path));
      if (record === null) continue;
      const chunks = await store.chunkIndices(record.key);
      storedBytes += Math.min(record.size, chunks.length * record.chunkSize);
    }
    const entry: CachedModel = {
      key: model.key,
      name: model.name,
      complete: model.complete,
      bytes: model.bytes,
      storedBytes,
      createdAt: model.createdAt,
    };
    if (model.completedAt !== undefined) entry.completedAt = model.completedAt;
    out.push(entry);
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** Delete a cached model; 'busy' while a tab is downloading it. */
export async function deleteModel(store: ChunkStore, key: string): Promise<void> {
  const locks = webLocks();
  if (locks === null) {
    await store.deleteModel(key);
    return;
  }
  await locks.request(lockName(key), { ifAvailable: true }, async (lock) => {
    if (lock === null) throw new JanusError('busy', 'this model is being downloaded (maybe in another tab); cancel that first');
    await store.deleteModel(key);
  });
}

function lockName(key: string): string {
  return `janus-weights ${key}`;
}

function webLocks(): LockManager | null {
  return (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks ?? null;
}

const NOT_HELD = Symbol('lock held elsewhere');

/** Whether a load (in any tab or worker of the origin) holds the model's lock now. */
export async function isModelLocked(key: string): Promise<boolean> {
  const locks = webLocks();
  if (locks === null) return false;
  const { held = [] } = await locks.query();
  return held.some((lock) => lock.name === lockName(key));
}

/**
 * Run `fn` holding the model's exclusive lock (every tab and worker of the origin shares it);
 * `onWait` is called once if another holder makes it wait.
 */
export async function withModelLock<T>(key: string, signal: AbortSignal | undefined, onWait: () => void, fn: () => Promise<T>): Promise<T> {
  const locks = webLocks();
  if (locks === null) return fn();
  try {
    const now = await locks.request(lockName(key), { ifAvailable: true }, (lock) => (lock === null ? NOT_HELD : fn()));
    if (now !== NOT_HELD) return now;
    onWait();
    return await locks.request(lockName(key), signal === undefined ? {} : { signal }, fn);
  } catch (error) {
    if (error instanceof DOMException && error.name === 'AbortError') {
      throw new JanusError('aborted', 'the download was cancelled');
    }
    throw error;
  }
}

function sum<T>(items: readonly T[], f: (item: T) => number): number {
  return items.reduce((acc, item) => acc + f(item), 0);
}
