// The model picker's entries and the words shown for each, as plain data (no DOM), so that the
// page's state is testable in Node (web/test/unit/choices.test.ts).

import { MODELS, resolveModel, type CachedModel } from '../src/index.js';
import { formatBytes, formatGB } from './format.js';

/** One entry of the model picker. */
export interface Choice {
  id: string;
  name: string;
  description: string;
  /** What `client.load` takes: a registry id or a URL. */
  source: string;
  downloadBytes: number;
  gpuBytes: { f16: number; f32: number } | null;
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
  return MODELS.map((m) => ({ id: m.id, name: m.name, description: m.description, source: m.id, downloadBytes: m.downloadBytes, gpuBytes: m.gpuBytes }));
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
  };
}

/**
 * Entries for the complete stored models that no entry offers (a custom URL; the local models when
 * the dev server's list is unavailable), so that they still load from this computer.
 */
export function storedChoices(cached: readonly CachedModel[], choices: readonly Choice[], pageUrl: string): Choice[] {
  const known = new Set(choices.map((c) => keyOf(c, pageUrl)));
  return cached
    .filter((model) => model.complete && !known.has(model.key))
    .map((model) => ({
      id: `stored-${model.key}`,
      name: model.name,
      description: `Stored on this computer from ${model.key}.`,
      source: model.key,
      downloadBytes: model.bytes,
      gpuBytes: null,
    }));
}

/** What the picker says about a choice: its facts line and its button. */
export function describeChoice(choice: Choice, cached: CachedModel | undefined, shaderF16: boolean): { facts: string; action: string } {
  const complete = cached?.complete === true;
  const parts = [`Download ${complete ? '(done) ' : ''}${choice.gpuBytes === null ? '' : '≈ '}${formatBytes(choice.downloadBytes)}`];
  if (choice.gpuBytes !== null) {
    parts.push(`GPU memory ${formatGB(shaderF16 ? choice.gpuBytes.f16 : choice.gpuBytes.f32)}${shaderF16 ? '' : ' (no shader-f16)'}`);
  }
  if (cached !== undefined) {
    parts.push(complete ? 'Stored on this computer' : `Partly stored: ${formatBytes(cached.storedBytes)} of ${formatBytes(cached.bytes)}`);
  }
  const action = complete ? `Load ${choice.name}` : cached !== undefined ? `Resume download of ${choice.name}` : `Download and load ${choice.name}`;
  return { facts: parts.join(' · '), action };
}

/** The storage panel's line for a stored model. */
export function storedLine(model: CachedModel, choice: Choice | undefined): string {
  return `${choice?.name ?? model.name}: ${formatBytes(model.storedBytes)}${model.complete ? '' : ` of ${formatBytes(model.bytes)} (partial)`}`;
}
