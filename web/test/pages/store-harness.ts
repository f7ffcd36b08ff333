// The weight store's modules (and the page's Markdown renderer) for web/test/store-e2e.mjs, bundled
// by that script (esbuild) to /test-dist/store-harness.js: real IndexedDB, fetch, Web Locks and
// DOM, no wasm.

export { JanusError } from '../../src/errors.js';
export { downloadFile } from '../../src/store/download.js';
export { IdbChunkStore, DB_NAME } from '../../src/store/idb-store.js';
export { MemoryChunkStore } from '../../src/store/memory-store.js';
export { cachedModels, deleteModel, ensureModel } from '../../src/store/model-cache.js';
export { fileKey } from '../../src/store/records.js';
export { resolveModel } from '../../src/store/registry.js';
export { StoreReader } from '../../src/store/store-reader.js';
export { sha256Hex } from '../../src/store/hash.js';
export { renderMarkdown } from '../../src/markdown.js';

/** An error as plain data for page.evaluate. */
export function plain(error: unknown): { code: string; message: string } {
  const e = error as { code?: unknown; message?: unknown; name?: unknown };
  return { code: typeof e.code === 'string' ? e.code : `(${String(e.name)})`, message: String(e.message ?? error) };
}

/** Deletes one chunk record behind the store's back (a lost record, as eviction or a crash would leave). */
export function deleteChunkRecord(file: string, index: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open('janus-weights');
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const tx = db.transaction('chunks', 'readwrite');
      tx.objectStore('chunks').delete([file, index]);
      tx.oncomplete = () => {
        db.close();
        resolve();
      };
      tx.onerror = () => reject(tx.error);
    };
  });
}
