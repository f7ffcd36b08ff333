// The conversations kept on this device: each one's turns (text, pictures as Blobs, a reply's
// figures) in IndexedDB, under an id of its own, so that a reload, a closed tab or a crash does
// not lose them and the person can go back to an earlier one. Nothing leaves the browser.
// Keeping is best effort: where the store fails (a private window, a full disk) the conversation
// goes on in memory and `save` says it was not kept; the page tells the person.
//
// Version 1 of the database held one conversation (store 'conversation', key 'current'); opening
// version 2 moves it into the list, so nobody loses it to the upgrade.

import { deleteDB, openDB, type DBSchema, type IDBPDatabase, type IDBPTransaction, type StoreNames } from 'idb';

/** One turn as kept. */
export interface KeptTurn {
  role: 'user' | 'assistant';
  content: string;
  images: Blob[];
  /** The line of figures under a reply. */
  stats?: string;
  stopped?: boolean;
  /** The reply ended at its length (it can be continued). */
  cut?: boolean;
  failed?: boolean;
}

/** What the list of conversations shows of one. */
export interface ConversationSummary {
  id: string;
  title: string;
  /** Milliseconds since the epoch of the last change. */
  savedAt: number;
  messages: number;
}

interface KeptRecord {
  version: 2;
  id: string;
  title: string;
  savedAt: number;
  turns: KeptTurn[];
}

const DB_NAME = 'janus-conversation';
const DB_VERSION = 2;
const STORE = 'conversations';
/** Version 1's store and key: one conversation. */
const OLD_STORE = 'conversation';
const OLD_KEY = 'current';
/** A title longer than this is cut (with an ellipsis). */
const TITLE_CHARS = 60;

interface Schema extends DBSchema {
  conversations: { key: string; value: KeptRecord; indexes: { savedAt: number } };
  conversation: { key: string; value: { version: 1; savedAt: number; turns: KeptTurn[] } };
}

export class KeptConversations {
  private db: Promise<IDBPDatabase<Schema>> | null = null;
  /** Writes in the order they were asked for: a delete after a save is never undone by it. */
  private writes: Promise<unknown> = Promise.resolve();

  /** The kept conversations, the most recent first (none where the store fails). */
  async list(): Promise<ConversationSummary[]> {
    try {
      const records: unknown[] = await (await this.open()).getAll(STORE);
      return records
        .filter(isKeptRecord)
        .map(({ id, title, savedAt, turns }) => ({ id, title, savedAt, messages: turns.length }))
        .sort((a, b) => b.savedAt - a.savedAt);
    } catch {
      return [];
    }
  }

  /** A conversation's turns (none where it is not kept, the store fails, or it is malformed). */
  async load(id: string): Promise<KeptTurn[]> {
    try {
      const record: unknown = await (await this.open()).get(STORE, id);
      return isKeptRecord(record) ? record.turns.filter(isKeptTurn) : [];
    } catch {
      return [];
    }
  }

  /** Replaces conversation `id` (none kept when it has no turns); false where it could not be kept. */
  save(id: string, turns: KeptTurn[]): Promise<boolean> {
    return this.write(async (db) => {
      if (turns.length === 0) await db.delete(STORE, id);
      else await db.put(STORE, { version: 2, id, title: titleOf(turns), savedAt: Date.now(), turns });
    });
  }

  /** Forgets conversation `id`. */
  remove(id: string): Promise<boolean> {
    return this.write(async (db) => {
      await db.delete(STORE, id);
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
      async upgrade(db, oldVersion, _newVersion, transaction) {
        const store = db.createObjectStore(STORE, { keyPath: 'id' });
        store.createIndex('savedAt', 'savedAt');
        if (oldVersion === 1) await migrateOne(db, transaction);
      },
      blocking(_current, _next, event) {
        // Another tab deletes the database ("do not keep") or upgrades it: let it, and reopen
        // on next use.
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

/** Version 1's one conversation becomes the first of the list; its store goes. */
async function migrateOne(db: IDBPDatabase<Schema>, transaction: IDBPTransaction<Schema, StoreNames<Schema>[], 'versionchange'>): Promise<void> {
  const old: unknown = await transaction.objectStore(OLD_STORE).get(OLD_KEY);
  if (isRecord(old) && Array.isArray(old.turns)) {
    const turns = old.turns.filter(isKeptTurn);
    const savedAt = typeof old.savedAt === 'number' ? old.savedAt : Date.now();
    if (turns.length > 0) await transaction.objectStore(STORE).put({ version: 2, id: newConversationId(), title: titleOf(turns), savedAt, turns });
  }
  db.deleteObjectStore(OLD_STORE);
}

/** A new conversation's id. */
export function newConversationId(): string {
  return typeof crypto.randomUUID === 'function' ? crypto.randomUUID() : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

/** The first question's words (or what it showed), on one line and not too long. */
export function titleOf(turns: readonly KeptTurn[]): string {
  const first = turns.find((t) => t.role === 'user');
  const text = (first?.content ?? '').replace(/\s+/g, ' ').trim();
  if (text === '') return first !== undefined && first.images.length > 0 ? 'A picture' : 'A conversation';
  const chars = [...text];
  return chars.length > TITLE_CHARS ? `${chars.slice(0, TITLE_CHARS - 1).join('').trimEnd()}…` : text;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function isKeptRecord(value: unknown): value is KeptRecord {
  return isRecord(value) && typeof value.id === 'string' && typeof value.title === 'string' && typeof value.savedAt === 'number' && Array.isArray(value.turns);
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
