// The worker's 'load': get the model into the IndexedDB cache (download, resume or repair), then
// let the engine read it from there chunk by chunk. With `cache: false`, or where IndexedDB cannot
// be opened, the engine streams the tensors straight from the network instead (nothing kept).

import type { Engine } from '../pkg/janus_web.js';
import { JanusError, toWireError } from './errors.js';
import type { DownloadReport, WireLoadOptions } from './protocol.js';
import { IdbChunkStore } from './store/idb-store.js';
import { ensureModel, type DownloadProgress, type EnsureReport } from './store/model-cache.js';
import type { ModelSource } from './store/registry.js';
import { StoreReader } from './store/store-reader.js';
import type { LoadProgress, LoadReport } from './types.js';

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
    const ensure = (): Promise<EnsureReport> =>
      ensureModel(store, source, {
        signal,
        chunkBytes: options.chunkBytes,
        retry: options.retry,
        idleTimeoutMs: options.idleTimeoutMs,
        skipSpaceCheck: options.skipSpaceCheck,
        onProgress: (progress) => {
          sink(progress);
        },
      });
    const first = await ensure();
    const download: DownloadReport = {
      cache: 'indexeddb',
      fetchedBytes: first.fetchedBytes,
      resumedBytes: first.resumedBytes,
      requests: first.requests,
      retries: first.retries,
      restarts: first.restarts,
      repairs: 0,
    };
    for (;;) {
      const reader = await StoreReader.open(store, source.baseUrl);
      try {
        const report = (await engine.loadFrom(reader, engineProgress)) as LoadReport;
        return { report, download };
      } catch (error) {
        // A damaged stored chunk was removed by the reader: fetch it again (once) and reload.
        if (toWireError(error).code !== 'integrity' || download.repairs >= 1) throw error;
        download.repairs += 1;
        const repaired = await ensure();
        download.fetchedBytes += repaired.fetchedBytes;
        download.requests += repaired.requests;
      }
    }
  } finally {
    store.close();
  }
}
