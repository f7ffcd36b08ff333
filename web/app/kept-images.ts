// The images created on this device, kept in IndexedDB as the PNG files the gallery shows and
// downloads, each with what drew it (prompt, seed, how many in its batch, guidance, temperature):
// a reload or a closed tab does not lose minutes of drawing, and "Reuse settings" draws the same
// batch again. Nothing leaves the browser.

import type { DBSchema } from 'idb';
import { KeptDatabase } from './kept-db.js';

/** One created image and what drew it. */
export interface KeptImage {
  id: string;
  /** The image as a PNG file. */
  png: Blob;
  prompt: string;
  seed: number;
  /** Its place in its batch (0 first) and the batch's size: the seed draws the whole batch. */
  index: number;
  count: number;
  cfgWeight: number;
  temperature: number;
  /** Milliseconds since the epoch; one batch shares it. */
  createdAt: number;
}

const DB_NAME = 'janus-images';
const DB_VERSION = 1;
const STORE = 'images';

interface Schema extends DBSchema {
  images: { key: string; value: KeptImage };
}

export class KeptImages {
  private readonly db = new KeptDatabase<Schema>(DB_NAME, DB_VERSION, (db) => {
    db.createObjectStore(STORE, { keyPath: 'id' });
  });

  /** A newer page (another tab) keeps them now: nothing is kept here until a reload. */
  get outdated(): boolean {
    return this.db.outdated;
  }

  /** The kept images, the newest batch first and within it image 1 first (none where the store fails). */
  list(): Promise<KeptImage[]> {
    return this.db.read(async (db) => {
      const records: unknown[] = await db.getAll(STORE);
      return records.filter(isKeptImage).sort(galleryOrder);
    }, []);
  }

  /** Keeps a batch in one transaction; false where it could not be kept. */
  add(images: readonly KeptImage[]): Promise<boolean> {
    return this.db.write(async (db) => {
      const tx = db.transaction(STORE, 'readwrite');
      await Promise.all([...images.map((image) => tx.store.put(image)), tx.done]);
    });
  }

  /** Forgets image `id`. */
  remove(id: string): Promise<boolean> {
    return this.db.write(async (db) => {
      await db.delete(STORE, id);
    });
  }

  /** Deletes every kept image: what "do not keep" asks for. */
  forget(): Promise<boolean> {
    return this.db.forget();
  }
}

/** Newest batch first; within a batch, in its order. */
export function galleryOrder(a: KeptImage, b: KeptImage): number {
  return b.createdAt - a.createdAt || a.index - b.index;
}

function isKeptImage(value: unknown): value is KeptImage {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  const numbers = ['seed', 'index', 'count', 'cfgWeight', 'temperature', 'createdAt'] as const;
  return typeof v.id === 'string' && v.png instanceof Blob && typeof v.prompt === 'string' && numbers.every((key) => typeof v[key] === 'number');
}
