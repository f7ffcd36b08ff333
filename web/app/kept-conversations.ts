// The conversations kept on this device: each one's turns (text, pictures as Blobs, a reply's
// figures) in IndexedDB, under an id of its own, so that a reload, a closed tab or a crash does
// not lose them and the person can go back to an earlier one. Nothing leaves the browser.
// Keeping is best effort: where the store fails (a private window, a full disk) the conversation
// goes on in memory and `save` says it was not kept; the page tells the person.
//
// The list reads a small summary of each (store 'summaries': title, size, date), written in the
// same transaction as the conversation, never the turns and pictures themselves: the list is
// shown again after every reply, whatever the kept conversations weigh.
//
// Versions of the database: 1 held one conversation (store 'conversation', key 'current'); 2 the
// list, whose records the list read whole. Opening version 3 moves 1's conversation into the list
// and writes 2's summaries, so nobody loses anything to an upgrade.

import type { DBSchema, IDBPDatabase, IDBPTransaction, StoreNames } from 'idb';
import { KeptDatabase, newKeptId } from './kept-db.js';

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
  /** A drawing: the person's request (`/imagine`, its content the prompt) or Janus's picture. */
  draw?: boolean;
  /** A drawing's seed: with the same settings it draws the same picture. */
  seed?: number;
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
const DB_VERSION = 3;
const STORE = 'conversations';
/** One `ConversationSummary` per conversation, by id; index `savedAt` orders the list. */
const SUMMARIES = 'summaries';
/** Version 1's store and key: one conversation. */
const OLD_STORE = 'conversation';
const OLD_KEY = 'current';
/** A title longer than this is cut (with an ellipsis). */
const TITLE_CHARS = 60;

interface Schema extends DBSchema {
  conversations: { key: string; value: KeptRecord };
  summaries: { key: string; value: ConversationSummary; indexes: { savedAt: number } };
  conversation: { key: string; value: { version: 1; savedAt: number; turns: KeptTurn[] } };
}

export class KeptConversations {
  private readonly db = new KeptDatabase<Schema>(DB_NAME, DB_VERSION, async (db, oldVersion, _newVersion, transaction) => {
    if (oldVersion < 2) db.createObjectStore(STORE, { keyPath: 'id' });
    // Version 2 ordered the records themselves; the summaries do that now.
    else transaction.objectStore(STORE).deleteIndex('savedAt');
    db.createObjectStore(SUMMARIES, { keyPath: 'id' }).createIndex('savedAt', 'savedAt');
    if (oldVersion === 1) await migrateOne(db, transaction);
    if (oldVersion === 2) await summarizeAll(transaction);
  });

  /** A newer page (another tab) keeps them now: nothing is kept here until a reload. */
  get outdated(): boolean {
    return this.db.outdated;
  }

  /** The kept conversations, the most recent first (none where the store fails). */
  list(): Promise<ConversationSummary[]> {
    return this.db.read(async (db) => {
      const summaries: unknown[] = await db.getAllFromIndex(SUMMARIES, 'savedAt');
      return summaries.filter(isSummary).reverse();
    }, []);
  }

  /** A conversation's turns (none where it is not kept, the store fails, or it is malformed). */
  load(id: string): Promise<KeptTurn[]> {
    return this.db.read(async (db) => {
      const record: unknown = await db.get(STORE, id);
      return isKeptRecord(record) ? record.turns.filter(isKeptTurn) : [];
    }, []);
  }

  /** Replaces conversation `id` (none kept when it has no turns); false where it could not be kept. */
  save(id: string, turns: KeptTurn[]): Promise<boolean> {
    if (turns.length === 0) return this.remove(id);
    return this.db.write(async (db) => {
      const record: KeptRecord = { version: 2, id, title: titleOf(turns), savedAt: Date.now(), turns };
      const tx = db.transaction([STORE, SUMMARIES], 'readwrite');
      await Promise.all([tx.objectStore(STORE).put(record), tx.objectStore(SUMMARIES).put(summaryOf(record)), tx.done]);
    });
  }

  /** Forgets conversation `id`. */
  remove(id: string): Promise<boolean> {
    return this.db.write(async (db) => {
      const tx = db.transaction([STORE, SUMMARIES], 'readwrite');
      await Promise.all([tx.objectStore(STORE).delete(id), tx.objectStore(SUMMARIES).delete(id), tx.done]);
    });
  }

  /** Deletes every kept conversation: what "do not keep" asks for. */
  forget(): Promise<boolean> {
    return this.db.forget();
  }
}

type Upgrade = IDBPTransaction<Schema, StoreNames<Schema>[], 'versionchange'>;

/** Version 1's one conversation becomes the first of the list; its store goes. */
async function migrateOne(db: IDBPDatabase<Schema>, transaction: Upgrade): Promise<void> {
  const old: unknown = await transaction.objectStore(OLD_STORE).get(OLD_KEY);
  if (isRecord(old) && Array.isArray(old.turns)) {
    const turns = old.turns.filter(isKeptTurn);
    const savedAt = typeof old.savedAt === 'number' ? old.savedAt : Date.now();
    if (turns.length > 0) {
      const record: KeptRecord = { version: 2, id: newKeptId(), title: titleOf(turns), savedAt, turns };
      await Promise.all([transaction.objectStore(STORE).put(record), transaction.objectStore(SUMMARIES).put(summaryOf(record))]);
    }
  }
  db.deleteObjectStore(OLD_STORE);
}

/** Version 2's conversations, each summarized once (the last time they are all read whole). */
async function summarizeAll(transaction: Upgrade): Promise<void> {
  const records: unknown[] = await transaction.objectStore(STORE).getAll();
  const summaries = transaction.objectStore(SUMMARIES);
  await Promise.all(records.filter(isKeptRecord).map((record) => summaries.put(summaryOf(record))));
}

function summaryOf({ id, title, savedAt, turns }: KeptRecord): ConversationSummary {
  return { id, title, savedAt, messages: turns.length };
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

function isSummary(value: unknown): value is ConversationSummary {
  return isRecord(value) && typeof value.id === 'string' && typeof value.title === 'string' && typeof value.savedAt === 'number' && typeof value.messages === 'number';
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
