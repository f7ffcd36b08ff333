// The weight store in IndexedDB (through `idb`, a thin promise wrapper).
//
// Database `janus-weights`, version 1: object stores `models` and `files` (keyPath `key`) and
// `chunks` (keyPath [file, index]). Every method is one short transaction that opens after its
// data is in hand and awaits nothing but IndexedDB, so none can auto-commit early
// (TransactionInactiveError). Chromium compresses values, so quota figures are for random bytes.
//
// Schema changes (S9): a database of a newer version (a newer page in another tab) is refused
// with a 'storage' error and left untouched; one of this name without this schema's stores (a
// pre-release build) is cleared and made afresh. Every record read is checked against its type
// (records.ts guards) and one that does not match is treated as absent, so it is fetched or
// rewritten, never misread.

import { deleteDB, openDB, type DBSchema, type IDBPDatabase } from 'idb';
import { JanusError } from '../errors.js';
import { isFileRecord, isModelRecord, isStoredChunk, type ChunkStore, type FileRecord, type ModelRecord, type ResumePoint, type StoredChunk } from './records.js';

export const DB_NAME = 'janus-weights';
export const DB_VERSION = 1;

interface ChunkRow {
  file: string;
  index: number;
  bytes: Uint8Array;
  sha256: string;
  resume?: ResumePoint;
}

interface Schema extends DBSchema {
  models: { key: string; value: ModelRecord };
  files: { key: string; value: FileRecord; indexes: { model: string } };
  chunks: { key: [string, number]; value: ChunkRow };
}

export class IdbChunkStore implements ChunkStore {
  readonly kind = 'indexeddb' as const;
  private db: IDBPDatabase<Schema> | null;
  private readonly name: string;

  private constructor(db: IDBPDatabase<Schema>, name: string) {
    this.db = db;
    this.name = name;
  }

  /** Opens (creating or upgrading) the database; 'storage' error when IndexedDB is unusable. */
  static async open(name = DB_NAME): Promise<IdbChunkStore> {
    if (typeof indexedDB === 'undefined') throw new JanusError('storage', 'this browser context has no IndexedDB');
    const first = await IdbChunkStore.connect(name);
    if (hasSchema(first.db)) return first;
    // Our name, our version, not our stores: nothing in it can be read as weights.
    first.closeConnection();
    await deleteDB(name).catch((error: unknown) => {
      throw storageError(error, 'could not clear a weight store of an unknown layout');
    });
    return IdbChunkStore.connect(name);
  }

  private static async connect(name: string): Promise<IdbChunkStore> {
    let store: IdbChunkStore | null = null;
    const db = await openDB<Schema>(name, DB_VERSION, {
      upgrade(database, oldVersion) {
        // Version 1 is the first schema. A later one migrates here from `oldVersion`, and clears
        // what it cannot migrate: an old cache is never read with a newer layout.
        if (oldVersion < 1) {
          database.createObjectStore('models', { keyPath: 'key' });
          const files = database.createObjectStore('files', { keyPath: 'key' });
          files.createIndex('model', 'model');
          database.createObjectStore('chunks', { keyPath: ['file', 'index'] });
        }
      },
      blocking() {
        // Another tab wants a newer schema: let it, and reopen on our next call.
        store?.closeConnection();
      },
      terminated() {
        // The browser closed the connection (storage cleared, disk error): reopen on next use.
        if (store !== null) store.db = null;
      },
    }).catch((error: unknown) => {
      if (error instanceof DOMException && error.name === 'VersionError') {
        throw new JanusError(
          'storage',
          `the weight store "${name}" was written by a newer version of janus-web (this page reads schema version ${DB_VERSION}); it is left as it is. Reload to get the newer page, which can read it`,
          { cause: error },
        );
      }
      throw storageError(error, 'could not open the weight store');
    });
    store = new IdbChunkStore(db, name);
    return store;
  }

  private closeConnection(): void {
    this.db?.close();
    this.db = null;
  }

  private async database(): Promise<IDBPDatabase<Schema>> {
    if (this.db === null) this.db = (await IdbChunkStore.open(this.name)).db;
    if (this.db === null) throw new JanusError('storage', 'the weight store is closed');
    return this.db;
  }

  private async run<T>(what: string, op: (db: IDBPDatabase<Schema>) => Promise<T>): Promise<T> {
    const db = await this.database();
    try {
      return await op(db);
    } catch (error) {
      throw storageError(error, what);
    }
  }

  getModel(key: string): Promise<ModelRecord | null> {
    return this.run('could not read the model list', async (db) => checked(await db.get('models', key), isModelRecord));
  }

  putModel(record: ModelRecord): Promise<void> {
    return this.run('could not save the model record', async (db) => {
      await db.put('models', record);
    });
  }

  listModels(): Promise<ModelRecord[]> {
    return this.run('could not read the model list', async (db) => (await db.getAll('models')).filter(isModelRecord));
  }

  deleteModel(key: string): Promise<void> {
    return this.run('could not delete the model', async (db) => {
      const tx = db.transaction(['models', 'files', 'chunks'], 'readwrite');
      const files = await tx.objectStore('files').index('model').getAllKeys(key);
      for (const file of files) {
        void tx.objectStore('chunks').delete(chunkRange(file, 0));
        void tx.objectStore('files').delete(file);
      }
      void tx.objectStore('models').delete(key);
      await tx.done;
    });
  }

  getFile(key: string): Promise<FileRecord | null> {
    return this.run('could not read a file record', async (db) => checked(await db.get('files', key), isFileRecord));
  }

  putFile(record: FileRecord): Promise<void> {
    return this.run('could not save a file record', async (db) => {
      await db.put('files', record);
    });
  }

  deleteFile(key: string): Promise<void> {
    return this.run('could not delete a file', async (db) => {
      const tx = db.transaction(['files', 'chunks'], 'readwrite');
      void tx.objectStore('chunks').delete(chunkRange(key, 0));
      void tx.objectStore('files').delete(key);
      await tx.done;
    });
  }

  chunkIndices(file: string): Promise<number[]> {
    return this.run('could not list stored chunks', async (db) => {
      const keys = await db.getAllKeys('chunks', chunkRange(file, 0));
      return keys.map(([, index]) => index);
    });
  }

  getChunk(file: string, index: number): Promise<StoredChunk | null> {
    return this.run('could not read a stored chunk', async (db) => {
      const row = await db.get('chunks', [file, index]);
      if (row === undefined || !isStoredChunk(row)) return null;
      const chunk: StoredChunk = { bytes: row.bytes, sha256: row.sha256 };
      if (row.resume !== undefined) chunk.resume = row.resume;
      return chunk;
    });
  }

  putChunk(file: string, index: number, chunk: StoredChunk): Promise<void> {
    return this.run('could not store a downloaded chunk', async (db) => {
      const row: ChunkRow = { file, index, bytes: chunk.bytes, sha256: chunk.sha256 };
      if (chunk.resume !== undefined) row.resume = chunk.resume;
      await db.put('chunks', row);
    });
  }

  deleteChunks(file: string, from: number): Promise<void> {
    return this.run('could not delete stored chunks', async (db) => {
      await db.delete('chunks', chunkRange(file, from));
    });
  }

  deleteChunk(file: string, index: number): Promise<void> {
    return this.run('could not delete a stored chunk', async (db) => {
      await db.delete('chunks', [file, index]);
    });
  }

  close(): void {
    this.closeConnection();
  }
}

/** A stored record, or null when there is none or it is not of this schema's shape. */
function checked<T>(value: unknown, guard: (value: unknown) => value is T): T | null {
  return value !== undefined && guard(value) ? value : null;
}

/** The object stores and index this version reads. */
function hasSchema(db: IDBPDatabase<Schema> | null): boolean {
  if (db === null) return false;
  const names = db.objectStoreNames;
  if (!names.contains('models') || !names.contains('files') || !names.contains('chunks')) return false;
  return db.transaction('files').store.indexNames.contains('model');
}

function chunkRange(file: string, from: number): IDBKeyRange {
  return IDBKeyRange.bound([file, from], [file, Number.MAX_SAFE_INTEGER]);
}

/** A typed error for an IndexedDB failure: 'quota' when the disk or quota is full. */
export function storageError(error: unknown, what: string): JanusError {
  if (error instanceof JanusError) return error;
  const name = error instanceof DOMException || error instanceof Error ? error.name : '';
  const detail = error instanceof Error && error.message !== '' ? `: ${error.message}` : '';
  if (name === 'QuotaExceededError') {
    return new JanusError(
      'quota',
      `${what}: the browser's storage is full (QuotaExceededError). Free disk space or delete a cached model; the parts already downloaded are kept`,
      { cause: error },
    );
  }
  return new JanusError('storage', `${what} (${name || 'error'}${detail})`, { cause: error });
}
