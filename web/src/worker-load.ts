// The worker's 'load': get the model into the IndexedDB cache (download, resume or repair), then
// let the engine read it from there chunk by chunk. With `cache: false`, or where IndexedDB cannot
// be opened, the engine streams the tensors straight from the network instead (nothing kept).
//
// With a quantised engine (`quant: 'q8' | 'q4'`), the first load also writes the model's pack
// into the store (store/pack-cache.ts) and releases the bf16 download (`keepSource` keeps it);
// later loads read the pack: no download, no re-quantising, a quarter of the bytes. Where the
// download and the pack do not fit the browser's quota together, a sharded model is fetched and
// released shard by shard while it loads (store/space.ts), so the store holds the pack and one
// shard at a time.

import type { Engine } from '../pkg/janus_web.js';
import { JanusError, toWireError } from './errors.js';
import type { DownloadReport, WireLoadOptions } from './protocol.js';
import { IdbChunkStore } from './store/idb-store.js';
import { deleteModel, ensureModel, type DownloadProgress, type EnsureReport } from './store/model-cache.js';
import { PackRecorder, isPackKey, packKey, type PackQuant } from './store/pack-cache.js';
import type { ModelSource } from './store/registry.js';
import { StoreReader } from './store/store-reader.js';
import type { DeviceInfo, LoadProgress, LoadReport } from './types.js';

/** Progress sink: returns false to stop the load. */
export type LoadSink = (progress: LoadProgress | DownloadProgress) => boolean;

export async function loadModel(
  engine: Engine,
  source: ModelSource,
  options: WireLoadOptions,
  signal: AbortSignal,
  sink: LoadSink,
): Promise<{ report: LoadReport; download: DownloadReport }> {
  const engineProgress = (progress: LoadProgress): boolean => sink(progress) && !signal.aborted;
  const streamed = async (cacheError?: JanusError): Promise<{ report: LoadReport; download: DownloadReport }> => {
    const report = (await engine.load(source.baseUrl, engineProgress)) as LoadReport;
    const download: DownloadReport = { cache: 'none', fetchedBytes: 0, resumedBytes: 0, requests: 0, retries: 0, restarts: 0, repairs: 0 };
    if (cacheError !== undefined) download.cacheError = cacheError.toWire();
    return { report, download };
  };
  if (!options.cache) return streamed();

  let store: IdbChunkStore;
  try {
    store = await IdbChunkStore.open();
  } catch (error) {
    // Storage disabled (some private modes): this session still works, without a cache.
    return streamed(new JanusError('storage', `no weight cache: ${toWireError(error).message}`));
  }
  try {
    const quant = (engine.deviceInfo() as DeviceInfo).quant;
    const fromPack = await loadStoredPack(engine, store, source.baseUrl, quant, engineProgress);
    if (fromPack !== null) {
      const download: DownloadReport = { cache: 'indexeddb', fetchedBytes: 0, resumedBytes: 0, requests: 0, retries: 0, restarts: 0, repairs: 0, pack: 'loaded' };
      return { report: fromPack, download };
    }
    // The pack replaces the download (unless the caller keeps both): its room counts, and shard
    // by shard is possible.
    const packs = quant !== 'none' && !isPackKey(source.baseUrl) && options.keepSource !== true;
    const ensure = (): Promise<EnsureReport> =>
      ensureModel(store, source, {
        signal,
        chunkBytes: options.chunkBytes,
        retry: options.retry,
        idleTimeoutMs: options.idleTimeoutMs,
        skipSpaceCheck: options.skipSpaceCheck,
        // The shards download while the engine reads them (store/background.ts).
        stream: true,
        packing: packs
          ? { quant, storedBytes: quant === 'q4' ? source.entry?.q4?.storedBytes : undefined, shardByShard: options.shardByShard ?? 'auto' }
          : undefined,
        onProgress: (progress) => {
          sink(progress);
        },
      });
    let ensured = await ensure();
    const first = ensured;
    const download: DownloadReport = {
      cache: 'indexeddb',
      fetchedBytes: first.fetchedBytes,
      resumedBytes: first.resumedBytes,
      requests: first.requests,
      retries: first.retries,
      restarts: first.restarts,
      repairs: 0,
    };
    if (first.lazy !== undefined && !first.lazy.background.keep) download.shardByShard = true;
    // Streamed, the shards' downloads happen during the load: counted once it ends.
    const countLazy = (): void => {
      const later = ensured.lazy?.report();
      if (later === undefined) return;
      download.fetchedBytes += later.fetchedBytes - ensured.fetchedBytes;
      download.resumedBytes += later.resumedBytes - ensured.resumedBytes;
      download.requests += later.requests - ensured.requests;
      download.retries += later.retries - ensured.retries;
      download.restarts += later.restarts - ensured.restarts;
    };
    for (;;) {
      const lazy = ensured.lazy;
      const reader = await StoreReader.open(store, source.baseUrl, lazy?.background).catch(async (error: unknown) => {
        await lazy?.stop();
        throw error;
      });
      const recorder = quant === 'none' || isPackKey(source.baseUrl) ? null : new PackRecorder(store, packKey(source.baseUrl, quant), `${source.name} (${quant})`, options.chunkBytes ?? PACK_CHUNK_BYTES);
      try {
        await recorder?.begin();
        const report = (await engine.loadFrom(reader, engineProgress, recorder?.onFile)) as LoadReport;
        // Read while it downloaded: the load counts only once every file is verified (a file's
        // last chunk reaches the engine only then, but a shard need not be read to its end).
        await lazy?.finish().catch((error: unknown) => {
          // Built from bytes that failed their check: not kept.
          try {
            engine.unload();
          } catch {
            // not loaded, or busy: nothing to drop
          }
          throw error;
        });
        countLazy();
        if (recorder?.failure != null) download.packError = recorder.failure.toWire();
        if (recorder !== null && recorder.failure === null && report.packWritten === true) {
          await recorder.complete();
          download.pack = 'written';
          // The pack replaces the bf16 download from now on.
          if (options.keepSource !== true) {
            await deleteModel(store, source.baseUrl).catch(() => undefined);
            download.sourceReleased = true;
          }
        } else {
          await recorder?.abandon();
          // Shard by shard, what is left of the download (the headers, the last shard) loads
          // nothing by itself: the room goes back.
          if (lazy !== undefined && !lazy.background.keep) {
            await deleteModel(store, source.baseUrl).catch(() => undefined);
            download.sourceReleased = true;
          }
        }
        return { report, download };
      } catch (error) {
        // What is stored of a download stopped here stays: the next ensure resumes it.
        await lazy?.stop();
        await recorder?.abandon();
        // A damaged stored chunk was removed by the reader, or a file changed while it loaded:
        // fetch it again (once) and reload.
        if (toWireError(error).code !== 'integrity' || download.repairs >= 1) throw error;
        countLazy();
        download.repairs += 1;
        ensured = await ensure();
        download.fetchedBytes += ensured.fetchedBytes;
        download.requests += ensured.requests;
      }
    }
  } finally {
    store.close();
  }
}

/** Stored records of a pack written here: 16 MiB, as downloads. */
const PACK_CHUNK_BYTES = 16 * 1024 * 1024;

/**
 * Load the stored pack of `baseUrl`, if there is a complete one: in the engine's `quant`, or —
 * for an engine without `quant` whose bf16 model is no longer stored — in either format (the
 * pack's format applies). A damaged pack is removed (the caller falls back to the source) and
 * null returned; other failures are thrown.
 */
async function loadStoredPack(
  engine: Engine,
  store: IdbChunkStore,
  baseUrl: string,
  quant: DeviceInfo['quant'],
  progress: (p: LoadProgress) => boolean,
): Promise<LoadReport | null> {
  let formats: PackQuant[] = [];
  if (quant !== 'none') formats = [quant];
  else if ((await store.getModel(baseUrl))?.complete !== true) formats = ['q4', 'q8'];
  for (const format of formats) {
    const key = packKey(baseUrl, format);
    if ((await store.getModel(key))?.complete !== true) continue;
    try {
      const reader = await StoreReader.open(store, key);
      return (await engine.loadFrom(reader, progress)) as LoadReport;
    } catch (error) {
      const code = toWireError(error).code;
      if (code !== 'integrity' && code !== 'not-found' && code !== 'bad-checkpoint') throw error;
      // Written here, so not fetchable again: drop it; the source is loaded (and packed) again.
      await store.deleteModel(key).catch(() => undefined);
    }
  }
  return null;
}
