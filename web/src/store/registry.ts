// The models the page offers, and how a model id or URL becomes a base URL to download from.
//
// The figures live in models.json so that a Rust test (crate/janus-model/tests/presets.rs) can
// check `parameters` and `gpuBytes` against the engine's own presets. `downloadBytes` is the
// approximate size of the files before the first visit (the hub states the exact sizes, and each
// file's SHA-256, when the download starts). No hash is pinned here: none could be read from the
// hub when this was written, and a wrong pin would make a model impossible to load; the hub's
// tree API (or the server's ETag) states them instead.

import { JanusError } from '../errors.js';
import registry from './models.json';

export interface RegistryModel {
  id: string;
  name: string;
  /** Hugging Face repository. */
  repo: string;
  revision: string;
  /** The engine preset whose shapes it has (absent for test models). */
  preset?: string;
  default?: boolean;
  description: string;
  /** The files to fetch; a shard index brings its shards. */
  files: string[];
  /** Approximate download size in bytes. */
  downloadBytes: number;
  parameters: number;
  /**
   * GPU memory the engine needs in bytes: weights (VQ decoder in f32) plus the KV cache of one
   * image generation's two sequences of 2,048 tokens; `f16` where the adapter has shader-f16.
   */
  gpuBytes: { f16: number; f32: number };
  /**
   * At 4 bits (how the page loads it): GPU memory as `gpuBytes` with the quantisable matrices
   * packed, and the size of the pack stored in place of the download. Absent for test models.
   */
  q4?: { gpuBytes: { f16: number; f32: number }; storedBytes: number };
}

export const DEFAULT_HUB: string = registry.hub;
export const MODELS: readonly RegistryModel[] = registry.models;

export function defaultModel(): RegistryModel {
  const found = MODELS.find((model) => model.default === true) ?? MODELS[0];
  if (found === undefined) throw new JanusError('internal', 'the model registry is empty');
  return found;
}

/** Where a model comes from, resolved from a registry id or a URL. */
export interface ModelSource {
  /** Absolute base URL ending with '/': the cache key. */
  baseUrl: string;
  /** The registry id, or the URL for a custom model. */
  name: string;
  entry: RegistryModel | null;
  /** Hub API listing of the files (sizes, SHA-256), when the URL is a hub `resolve` URL. */
  treeUrl: string | null;
}

export interface ResolveOptions {
  /** Hub root (default https://huggingface.co/): a mirror in the same layout, or a test server. */
  hub?: string | undefined;
  /** Base for relative URLs (default: the page's or worker's location). */
  relativeTo?: string | undefined;
}

/**
 * A registry id (`janus-1.3b`), a hub repository (`deepseek-ai/Janus-1.3B`) or a base URL
 * (`https://mirror.example/janus/`, `/models/janus-1.3b/`) as a ModelSource.
 */
export function resolveModel(model: string, options: ResolveOptions = {}): ModelSource {
  const hub = withSlash(options.hub ?? DEFAULT_HUB);
  const wanted = model.trim();
  if (wanted === '') throw new JanusError('bad-request', 'no model given: pass a registry id or a base URL');
  const entry = MODELS.find((m) => m.id === wanted || m.repo === wanted) ?? null;
  if (entry !== null) {
    const baseUrl = `${hub}${entry.repo}/resolve/${entry.revision}/`;
    return { baseUrl, name: entry.id, entry, treeUrl: treeUrl(baseUrl, hub) };
  }
  if (/^[\w.-]+\/[\w.-]+$/.test(wanted)) {
    const baseUrl = `${hub}${wanted}/resolve/main/`;
    return { baseUrl, name: wanted, entry: null, treeUrl: treeUrl(baseUrl, hub) };
  }
  let url: URL;
  try {
    url = new URL(wanted, options.relativeTo ?? (globalThis as { location?: { href?: string } }).location?.href);
  } catch {
    throw new JanusError('bad-request', `"${wanted}" is neither a known model (${MODELS.map((m) => m.id).join(', ')}) nor a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new JanusError('bad-request', `${url.href}: only http(s) model URLs can be downloaded`);
  }
  url.search = '';
  url.hash = '';
  const baseUrl = withSlash(url.href);
  return { baseUrl, name: baseUrl, entry: null, treeUrl: treeUrl(baseUrl, hub) };
}

/** `<hub>/<owner>/<repo>/resolve/<rev>/` -> `<hub>/api/models/<owner>/<repo>/tree/<rev>`, else null. */
export function treeUrl(baseUrl: string, hub: string = DEFAULT_HUB): string | null {
  const root = withSlash(hub);
  if (!baseUrl.startsWith(root)) return null;
  const match = /^([\w.-]+)\/([\w.-]+)\/resolve\/([\w.-]+)\/$/.exec(baseUrl.slice(root.length));
  if (match === null) return null;
  const [, owner, repo, revision] = match;
  return `${root}api/models/${owner}/${repo}/tree/${revision}`;
}

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}
