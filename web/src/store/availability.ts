// Where a model stands in this browser (checklist U1): 'downloadable' (nothing or part of it
// stored; a load downloads the rest), 'downloading' (a load holds the model's lock now, in this
// tab or another), 'available' (stored completely, or as a quantised pack: a load needs no
// network). JanusClient.availability adds 'unavailable', when this browser has no WebGPU adapter.

import { isPackKey } from './pack-cache.js';
import { cachedModels, isModelLocked } from './model-cache.js';
import type { ChunkStore } from './records.js';

export type ModelState = 'downloadable' | 'downloading' | 'available';

export interface ModelAvailability {
  state: ModelState | 'unavailable';
  /** Bytes of the model stored now (a partial download counts what it kept). */
  storedBytes: number;
  /** The model's size, once a download has started and learnt it; else null. */
  totalBytes: number | null;
}

/** Where `key` (a model's base URL) stands in `store` (null: no storage here, nothing stored). */
export async function modelAvailability(store: ChunkStore | null, key: string): Promise<ModelAvailability> {
  const models = store === null ? [] : await cachedModels(store);
  const source = models.find((m) => m.key === key);
  const pack = models.find((m) => m.complete && isPackKey(m.key) && m.key.startsWith(key));
  const stored = source?.complete === true ? source : pack;
  if (stored !== undefined) return { state: 'available', storedBytes: stored.storedBytes, totalBytes: stored.bytes };
  const state: ModelState = (await isModelLocked(key)) ? 'downloading' : 'downloadable';
  return { state, storedBytes: source?.storedBytes ?? 0, totalBytes: source?.bytes ?? null };
}
