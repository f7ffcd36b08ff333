// The conversation kept on this device: its turns (text, pictures as Blobs, a reply's figures)
// in IndexedDB, so that a reload, a closed tab or a crash does not lose it. Nothing leaves the
// browser. Keeping is best effort: where the store fails (a private window, a full disk) the
// conversation goes on in memory and `save` says it was not kept; the page tells the person.

import { deleteDB, openDB, type DBSchema, type IDBPDatabase } from 'idb';

/** One turn as kept. */
export interface KeptTurn {
  role: 'user' | 'assistant';
  content: string;
  images: Blob[];
  /** The line of figures under a reply. */
  stats?: string;
  stopped?: boolean;
  failed?: boolean;
}

const DB_NAME = 'janus-conversation';
const DB_VERSION = 1;
const STORE = 'conversation';
const KEY = 'current';

interface Schema extends DBSchema {
  conversation: { key: string; value: { version: 1; savedAt: number; turns: KeptTurn[] } };
}

export class KeptConversation {
  private db: Promise<IDBPDatabase<Schema>> | null = null;
  /** Writes in the order they were asked for: a clear after a save is never undone by it. */
  private writes: Promise<unknown> = Promise.resolve();

  /** The kept turns (none where nothing is kept, the store fails, or a record is malformed). */
  async load(): Promise<KeptTurn[]> {
    try {
      const record: unknown = await (await this.open()).get(STORE, KEY);
      if (!isRecord(record) || !Array.isArray(record.turns)) return [];
      return record.turns.filter(isKeptTurn);
    } catch {
      return [];
    }
  }

  /** Replaces the kept conversation; false where it could not be kept. */
  save(turns: KeptTurn[]): Promise<boolean> {
    return this.write(async (db) => {
      await db.put(STORE, { version: 1, savedAt: Date.now(), turns }, KEY);
    });
  }

  /** Forgets the kept conversation (the database goes too, where nothing else is in it). */
  clear(): Promise<boolean> {
    return this.write(async (db) => {
      await db.delete(STORE, KEY);
    });
  }

  /** Deletes the whole database: what "do not keep" asks for. */
  async forget(): Promise<boolean> {
    const done = this.writes.then(async () => {
      const open = this.db;
      this.db = null;
      (await open?.catch(() => null))?.close();
      await deleteDB(DB_NAME);
    });
    this.writes = done.catch(() => undefined);
    return done.then(
      () => true,
      () => false,
    );
  }

  private write(run: (db: IDBPDatabase<Schema>) => Promise<void>): Promise<boolean> {
    const done = this.writes.then(async () => run(await this.open()));
    this.writes = done.catch(() => undefined);
    return done.then(
      () => true,
      () => false,
    );
  }

  private open(): Promise<IDBPDatabase<Schema>> {
    if (typeof indexedDB === 'undefined') return Promise.reject(new Error('no IndexedDB'));
    const forget = (): void => {
      this.db = null;
    };
    this.db ??= openDB<Schema>(DB_NAME, DB_VERSION, {
      upgrade(db) {
        db.createObjectStore(STORE);
      },
      blocking(_current, _next, event) {
        // Another tab deletes the database ("do not keep"): let it, and reopen on next use.
        (event.target as IDBDatabase).close();
        forget();
      },
      terminated: forget,
    });
    // A failed open is tried again next time (the store may work later).
    this.db.catch(() => (this.db = null));
    return this.db;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function isKeptTurn(value: unknown): value is KeptTurn {
  return (
    isRecord(value) &&
    (value.role === 'user' || value.role === 'assistant') &&
    typeof value.content === 'string' &&
    Array.isArray(value.images) &&
    value.images.every((image) => image instanceof Blob) &&
    (value.stats === undefined || typeof value.stats === 'string')
  );
}
