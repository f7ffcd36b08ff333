// The model picker's entries and the words shown for each, as plain data (no DOM), so that the
// page's state is testable in Node (web/test/unit/choices.test.ts).

import { MODELS, resolveModel, type CachedModel, type RegistryModel } from '../src/index.js';
import { isPackKey, packKey } from '../src/store/pack-cache.js';
import { formatBytes, formatGB } from './format.js';

/**
 * How the page loads models: 'q4' (the default: the matrices at 4 bits, a quarter of the GPU
 * memory and storage; the first load stores the 4-bit pack and releases the download), or 'none'
 * (`?quant=none`: the checkpoint's precision, in f16 or f32).
 */
export type PageQuant = 'q4' | 'none';

/** One entry of the model picker. */
export interface Choice {
  id: string;
  name: string;
  description: string;
  /** What `client.load` takes: a registry id or a URL. */
  source: string;
  downloadBytes: number;
  gpuBytes: { f16: number; f32: number } | null;
  /** The registry's 4-bit figures (GPU memory, stored pack), for the models it describes. */
  q4: NonNullable<RegistryModel['q4']> | null;
}

/** One model of the dev server's `/__models` list (web/dev-server.mjs). */
export interface LocalModel {
  id: string;
  name: string;
  url: string;
  bytes: number;
  test: boolean;
}

/** The model cache's key of a choice: its base URL (a relative source against the page). */
export function keyOf(choice: Choice, pageUrl: string): string {
  return resolveModel(choice.source, { relativeTo: pageUrl }).baseUrl;
}

export function registryChoices(): Choice[] {
  return MODELS.map((m) => ({ id: m.id, name: m.name, description: m.description, source: m.id, downloadBytes: m.downloadBytes, gpuBytes: m.gpuBytes, q4: m.q4 ?? null }));
}

export function localChoice(model: LocalModel, pageUrl: string): Choice {
  return {
    id: model.id,
    name: model.name,
    description: model.test
      ? 'A tiny model with random weights that ships with janus-web: its replies and images are noise, but it exercises everything in seconds.'
      : 'A model folder on this computer, served by the dev server.',
    source: new URL(model.url, pageUrl).href,
    downloadBytes: model.bytes,
    gpuBytes: null,
    q4: null,
  };
}

/**
 * Entries for the complete stored models that no entry offers (a custom URL; the local models when
 * the dev server's list is unavailable), so that they still load from this computer.
 */
export function storedChoices(cached: readonly CachedModel[], choices: readonly Choice[], pageUrl: string): Choice[] {
  const known = new Set(choices.flatMap((c) => [keyOf(c, pageUrl), packKey(keyOf(c, pageUrl), 'q4')]));
  return cached
    .filter((model) => model.complete && !known.has(model.key))
    .map((model) => ({
      id: `stored-${model.key}`,
      name: model.name,
      description: `Stored on this computer from ${model.key}.`,
      source: model.key,
      downloadBytes: model.bytes,
      gpuBytes: null,
      q4: null,
    }));
}

/**
 * What is stored for `choice`: at 4 bits its pack when complete (the download was released for
 * it), else its download, complete or partial.
 */
export function storedFor(choice: Choice, cached: readonly CachedModel[], pageUrl: string, quant: PageQuant): CachedModel | undefined {
  const key = keyOf(choice, pageUrl);
  const pack = quant === 'q4' ? cached.find((c) => c.key === packKey(key, 'q4') && c.complete) : undefined;
  return pack ?? cached.find((c) => c.key === key);
}

/** The entry a stored record belongs to: its download's, or its pack's. */
export function choiceOf(model: CachedModel, choices: readonly Choice[], pageUrl: string): Choice | undefined {
  return choices.find((c) => keyOf(c, pageUrl) === model.key || packKey(keyOf(c, pageUrl), 'q4') === model.key);
}

/** What the picker says about a choice: its facts line and its button. */
export function describeChoice(choice: Choice, cached: CachedModel | undefined, shaderF16: boolean, quant: PageQuant = 'q4'): { facts: string; action: string } {
  const complete = cached?.complete === true;
  const q4 = quant === 'q4' ? choice.q4 : null;
  const parts = [`Download ${complete ? '(done) ' : ''}${choice.gpuBytes === null ? '' : '≈ '}${formatBytes(choice.downloadBytes)}`];
  const gpu = q4?.gpuBytes ?? choice.gpuBytes;
  if (gpu !== null) {
    parts.push(`GPU memory ${formatGB(shaderF16 ? gpu.f16 : gpu.f32)}${q4 === null ? '' : ' at 4 bits'}${shaderF16 ? '' : ' (no shader-f16)'}`);
  }
  if (q4 !== null && !complete) parts.push(`kept as ≈ ${formatBytes(q4.storedBytes)}`);
  if (cached !== undefined) {
    const form = isPackKey(cached.key) ? ` (4-bit, ${formatBytes(cached.storedBytes)})` : '';
    parts.push(complete ? `Stored on this computer${form}` : `Partly stored: ${formatBytes(cached.storedBytes)} of ${formatBytes(cached.bytes)}`);
  }
  const action = complete ? `Load ${choice.name}` : cached !== undefined ? `Resume download of ${choice.name}` : `Download and load ${choice.name}`;
  return { facts: parts.join(' · '), action };
}

/** The storage panel's line for a stored model. */
export function storedLine(model: CachedModel, choice: Choice | undefined): string {
  const name = choice === undefined ? model.name : `${choice.name}${isPackKey(model.key) ? ' (4-bit)' : ''}`;
  return `${name}: ${formatBytes(model.storedBytes)}${model.complete ? '' : ` of ${formatBytes(model.bytes)} (partial)`}`;
}
