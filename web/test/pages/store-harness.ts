// The weight store's modules (and the page's Markdown renderer) for web/test/store-e2e.mjs, bundled
// by that script (esbuild) to /test-dist/store-harness.js: real IndexedDB, fetch, Web Locks and
// DOM, no wasm.

export { JanusError } from '../../src/errors.js';
export { downloadFile } from '../../src/store/download.js';
export { IdbChunkStore, DB_NAME, storageError } from '../../src/store/idb-store.js';
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

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** A database as another build could have left it: `version`, stores of plain rows (out-of-line keys). */
export function makeDb(name: string, version: number, stores: Record<string, unknown[]>): Promise<void> {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(name, version);
    open.onupgradeneeded = () => {
      for (const [store, rows] of Object.entries(stores)) {
        const created = open.result.createObjectStore(store, { autoIncrement: true });
        for (const row of rows) created.add(row);
      }
    };
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      open.result.close();
      resolve();
    };
  });
}

/** Version, store names and row counts of a database, read without changing it. */
export async function describeDb(name: string): Promise<{ version: number; stores: Record<string, number> }> {
  const db = await request(indexedDB.open(name));
  const stores: Record<string, number> = {};
  for (const store of Array.from(db.objectStoreNames)) stores[store] = await request(db.transaction(store).objectStore(store).count());
  db.close();
  return { version: db.version, stores };
}

/** Puts a row into an existing store behind the weight store's back (a damaged or foreign record). */
export async function rawPut(name: string, store: string, row: unknown): Promise<void> {
  const db = await request(indexedDB.open(name));
  const tx = db.transaction(store, 'readwrite');
  tx.objectStore(store).put(row);
  await new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
  });
  db.close();
}

export async function deleteDb(name: string): Promise<void> {
  await request(indexedDB.deleteDatabase(name));
}
