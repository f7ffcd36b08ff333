// A first load that reads the shards while they download (model-cache.ts `stream`,
// store/background.ts, store-reader.ts): the reads start before the shards are stored, each
// chunk reaches the reader once stored, a file's last chunk only once the file is verified, and
// a stopped load keeps what it stored.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { JanusError } from '../../src/errors.js';
import { MemoryChunkStore } from '../../src/store/memory-store.js';
import { ensureModel } from '../../src/store/model-cache.js';
import { fileKey } from '../../src/store/records.js';
import { resolveModel } from '../../src/store/registry.js';
import { StoreReader } from '../../src/store/store-reader.js';
import { CHUNK, FAST_RETRY, FOLDER, SHARD, useServer } from './fixture-server.js';

const { base } = useServer();
const OTHER = 'model-00002-of-00002.safetensors';
const bytes = (file: string) => new Uint8Array(readFileSync(path.join(FOLDER, file)));
/** A safetensors file's header length (8 + its JSON). */
const headOf = (whole: Uint8Array) => 8 + Number(new DataView(whole.buffer, whole.byteOffset, 8).getBigUint64(0, true));
const options = { chunkBytes: CHUNK, retry: FAST_RETRY, stream: true };
/** tiny-a served at about 1 MB/s: its 864 KiB shard takes most of a second. */
const slow = (faults = '') => resolveModel(`${base()}fault/drip=1000000${faults}/models/tiny-a-hf/`);

/** `promise`, or a failure naming `what` after `ms` (never a test that hangs). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`waited ${ms} ms for ${what}`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** A streamed ensure, and a reader over it, as worker-load.ts makes them. */
async function begin(store: MemoryChunkStore, source: ReturnType<typeof resolveModel>) {
  const ensured = await ensureModel(store, source, options);
  const lazy = ensured.lazy;
  assert.ok(lazy !== undefined, 'shards still to arrive');
  const reader = await StoreReader.open(store, source.baseUrl, lazy.background);
  return { ensured, lazy, reader };
}

test('streamed: the engine reads each chunk once stored, long before its shard is; the model is complete once every file is verified', async () => {
  const store = new MemoryChunkStore();
  const source = slow();
  const ensured = await ensureModel(store, source, options);
  const lazy = ensured.lazy;
  assert.ok(lazy !== undefined && lazy.background.keep, 'kept whole, streamed');
  assert.equal(ensured.model.complete, false);
  const chunks = async (file: string) => store.chunkIndices(fileKey(source.baseUrl, file));
  const record = async (file: string) => store.getFile(fileKey(source.baseUrl, file));
  // Returned with each shard's header only, kept with its record; no chunk yet.
  assert.ok((await chunks(SHARD)).length <= 1, `${(await chunks(SHARD)).length} chunks of ${SHARD} before the load`);
  assert.deepEqual(await chunks(OTHER), []);
  assert.deepEqual((await record(OTHER))?.head?.bytes, bytes(OTHER).subarray(0, headOf(bytes(OTHER))));

  const reader = await StoreReader.open(store, source.baseUrl, lazy.background);
  for (const file of [SHARD, OTHER]) {
    const whole = bytes(file);
    assert.deepEqual(await reader.read(file, 0, headOf(whole)), whole.subarray(0, headOf(whole)));
  }
  // A tensor in chunk 2: there while the shard is still downloading.
  const whole = bytes(SHARD);
  const at = 2 * CHUNK + 100;
  assert.deepEqual(await reader.read(SHARD, at, 1000), whole.subarray(at, at + 1000));
  const count = Math.ceil(whole.length / CHUNK);
  const stored = (await chunks(SHARD)).length;
  assert.ok(stored < count, `read with ${stored} of ${count} chunks stored`);
  assert.equal((await record(SHARD))?.complete, false, 'not yet verified when read');
  // The rest, to the last byte: the same bytes, and the last chunk only once verified.
  assert.deepEqual(await reader.read(SHARD, at, whole.length - at), whole.subarray(at));
  assert.equal((await record(SHARD))?.complete, true);

  // The other shard is never read past its header: it is fetched all the same, and once it is
  // verified the model is complete (and its lock free) before the engine's load has ended.
  await within(lazy.background.closed, 20_000, 'the background to close once every file is verified');
  assert.equal((await record(OTHER))?.complete, true);
  assert.equal((await store.getModel(source.baseUrl))?.complete, true);
  await lazy.finish();
  const report = lazy.report();
  assert.ok(report.fetchedBytes >= whole.length + bytes(OTHER).length - 2 * CHUNK, `${report.fetchedBytes} bytes counted`);
  // A model stored this way loads like any other.
  const again = await StoreReader.open(store, source.baseUrl);
  assert.deepEqual(await again.read(OTHER, 0, bytes(OTHER).length), bytes(OTHER));
});

test('streamed: a shard that fails its hash never lets its last chunk through; the load is told integrity', async () => {
  const store = new MemoryChunkStore();
  const whole = bytes(SHARD);
  // A byte of the shard's last chunk corrupted in every response: its hash fails twice.
  const source = slow(`,flip=${whole.length - 10}`);
  const { lazy, reader } = await begin(store, source);
  assert.deepEqual(await reader.read(SHARD, CHUNK, 100), whole.subarray(CHUNK, CHUNK + 100));
  const integrity = (e: unknown) => e instanceof JanusError && e.code === 'integrity';
  await assert.rejects(reader.read(SHARD, CHUNK, whole.length - CHUNK), integrity);
  await assert.rejects(lazy.finish(), integrity);
  assert.notEqual((await store.getFile(fileKey(source.baseUrl, SHARD)))?.complete, true);
  assert.equal((await store.getModel(source.baseUrl))?.complete, false);
});

test('streamed: a shard the server changes while it loads fails the load with integrity; loaded again, it is the new file', async () => {
  const store = new MemoryChunkStore();
  // Requests 1 to 3 of the shard (the probe, its header, its body) see the file, and the body's
  // connection drops after 5 chunks; the request that resumes it gets a changed file with its
  // own ETag, which the download restarts on, after the engine read the old version's chunks.
  const source = slow(`,etag-change=3,drop-at=${5 * CHUNK + 9}`);
  const { lazy, reader } = await begin(store, source);
  const whole = bytes(SHARD);
  assert.deepEqual(await reader.read(SHARD, 4 * CHUNK, 100), whole.subarray(4 * CHUNK, 4 * CHUNK + 100));
  await assert.rejects(
    reader.read(SHARD, 4 * CHUNK, whole.length - 4 * CHUNK),
    (e: unknown) => e instanceof JanusError && e.code === 'integrity' && /changed while it loaded/.test(e.message),
  );
  await lazy.stop();

  // Loaded again (worker-load.ts does this once): the changed file, whole and verified.
  const changed = whole.slice();
  const middle = Math.floor(whole.length / 2);
  changed[middle] = (changed[middle] ?? 0) ^ 0x5a;
  const second = await ensureModel(store, source, options);
  const reread = await StoreReader.open(store, source.baseUrl, second.lazy?.background);
  assert.deepEqual(await reread.read(SHARD, 0, whole.length), changed);
  await second.lazy?.finish();
  assert.equal((await store.getModel(source.baseUrl))?.complete, true);
});

test('streamed: a download that fails (the storage full) fails the read waiting on it with its error', async () => {
  class FullStore extends MemoryChunkStore {
    override async putChunk(file: string, index: number, chunk: Parameters<MemoryChunkStore['putChunk']>[2]): Promise<void> {
      if (index >= 5) throw new JanusError('quota', "could not store a downloaded chunk: the browser's storage is full (QuotaExceededError)");
      return super.putChunk(file, index, chunk);
    }
  }
  const store = new FullStore();
  const source = slow();
  const { lazy, reader } = await begin(store, source);
  assert.deepEqual(await reader.read(SHARD, 4 * CHUNK, 10), bytes(SHARD).subarray(4 * CHUNK, 4 * CHUNK + 10));
  const quota = (e: unknown) => e instanceof JanusError && e.code === 'quota' && /storage is full/.test(e.message);
  await assert.rejects(reader.read(SHARD, 5 * CHUNK, 10), quota);
  await assert.rejects(lazy.finish(), quota);
  assert.equal((await store.getModel(source.baseUrl))?.complete, false);
  assert.equal((await store.chunkIndices(fileKey(source.baseUrl, SHARD))).length, 5, 'what was stored is kept');
});

test('streamed: a load stopped part way keeps what it stored, and the next one resumes from there', async () => {
  const store = new MemoryChunkStore();
  const source = slow();
  const { lazy, reader } = await begin(store, source);
  await reader.read(SHARD, 3 * CHUNK, 10);
  await lazy.stop();
  const kept = (await store.chunkIndices(fileKey(source.baseUrl, SHARD))).length;
  assert.ok(kept >= 4 && kept < Math.ceil(bytes(SHARD).length / CHUNK), `${kept} chunks kept`);
  assert.equal((await store.getModel(source.baseUrl))?.complete, false);

  const next = await ensureModel(store, source, options);
  const reread = await StoreReader.open(store, source.baseUrl, next.lazy?.background);
  assert.deepEqual(await reread.read(SHARD, 0, bytes(SHARD).length), bytes(SHARD));
  await next.lazy?.finish();
  const resumed = next.lazy?.report().resumedBytes ?? 0;
  assert.ok(resumed >= kept * CHUNK, `resumed ${resumed} bytes`);
  assert.equal((await store.getModel(source.baseUrl))?.complete, true);
});

test('streamed: a model already stored whole, or without streaming, is returned complete', async () => {
  const store = new MemoryChunkStore();
  const source = resolveModel(`${base()}models/tiny-a-hf/`);
  const whole = await ensureModel(store, source, { ...options, stream: false });
  assert.equal(whole.lazy, undefined);
  assert.equal(whole.model.complete, true);
  const cached = await ensureModel(store, source, options);
  assert.equal(cached.lazy, undefined);
  assert.equal(cached.model.complete, true);
});
