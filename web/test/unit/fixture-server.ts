// The fault-injecting test server (web/test/server.mjs) in-process, for the store's Node tests.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before } from 'node:test';
// @ts-expect-error: a plain JavaScript module without type declarations
import { createServer } from '../server.mjs';

export const root = path.resolve(process.cwd());
export const REPO = 'janus-web/tiny-a';
export const FOLDER = path.join(root, 'tests/fixtures/models/tiny-a-hf');
export const SHARD = 'model-00001-of-00002.safetensors';
export const shardBytes = new Uint8Array(readFileSync(path.join(FOLDER, SHARD)));
export const shardSha = createHash('sha256').update(shardBytes).digest('hex');
/** Small records so the 864 KiB shard is 14 chunks. */
export const CHUNK = 64 * 1024;
export const FAST_RETRY = { attempts: 4, baseMs: 5, maxMs: 20 };

interface Server {
  listen(): Promise<{ url: string }>;
  close(): Promise<void>;
  stats(): { requests: number; bytes: number; paths: Record<string, { requests: number; bytes: number; rangeRequests: number; statuses: Record<string, number> }> };
  resetStats(): void;
  resetFaults(): void;
}

/** Starts the server for the test file; `base()` is its URL ending with '/'. */
export function useServer(): { server: () => Server; base: () => string } {
  let server: Server | null = null;
  let base = '';
  before(async () => {
    server = createServer({ root }) as Server;
    base = (await server.listen()).url;
  });
  after(async () => {
    await server?.close();
  });
  return {
    server: () => {
      if (server === null) throw new Error('server not started');
      return server;
    },
    base: () => base,
  };
}

/** Statistics of one path (as the server counts it: the URL path). */
export function statsOf(server: Server, url: string) {
  const p = new URL(url).pathname;
  return server.stats().paths[p] ?? { requests: 0, bytes: 0, rangeRequests: 0, statuses: {} };
}

export const settle = () => new Promise((resolve) => setTimeout(resolve, 30));
