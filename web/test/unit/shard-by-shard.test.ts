// A quantised first load that stores one shard at a time (store/space.ts, model-cache.ts
// `LazyFiles`, store-reader.ts): which plan the room allows, what is stored before the engine
// reads, and that the reader fetches each shard when it is reached and deletes the one before,
// serving the same bytes as the files.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { MemoryChunkStore } from '../../src/store/memory-store.js';
import { ensureModel } from '../../src/store/model-cache.js';
import { fileKey } from '../../src/store/records.js';
import { resolveModel } from '../../src/store/registry.js';
import { packEstimate, planSpace } from '../../src/store/space.js';
import { StoreReader } from '../../src/store/store-reader.js';
import { CHUNK, FAST_RETRY, FOLDER, REPO, SHARD, statsOf, useServer } from './fixture-server.js';

const { base, server } = useServer();
const OTHER = 'model-00002-of-00002.safetensors';
const GIB = 2 ** 30;

test('the plan: whole where download and pack fit, else shard by shard where that fits, else whole for the download alone, else refused', () => {
  // Janus-Pro-7B: 13.8 GiB of shards (the largest 4.0 GiB), a 4.0 GiB pack.
  const needs = { download: 13.8 * GIB, pack: 4.0 * GIB, byShard: 8.1 * GIB };
  assert.deepEqual(planSpace(needs, 20 * GIB, 'auto'), { kind: 'whole' });
  assert.deepEqual(planSpace(needs, 10 * GIB, 'auto'), { kind: 'shards' });
  assert.deepEqual(planSpace(needs, null, 'auto'), { kind: 'whole' });
  assert.deepEqual(planSpace(needs, 20 * GIB, true), { kind: 'shards' });
  assert.deepEqual(planSpace(needs, 7 * GIB, true), { kind: 'refuse', needed: 8.1 * GIB });
  assert.deepEqual(planSpace(needs, 10 * GIB, false), { kind: 'refuse', needed: 13.8 * GIB });
  assert.deepEqual(planSpace(needs, 7 * GIB, 'auto'), { kind: 'refuse', needed: 8.1 * GIB });
  // More room for the download than for shards plus pack (a pack larger than a shard's saving):
  // whole, the pack then fails to store and the model loads all the same.
  const odd = { download: 10 * GIB, pack: 4 * GIB, byShard: 12 * GIB };
  assert.deepEqual(planSpace(odd, 11 * GIB, 'auto'), { kind: 'whole' });
  // One file (no saving) or no pack: never shard by shard.
  const single = { download: 3.9 * GIB, pack: 1.2 * GIB, byShard: null };
  assert.deepEqual(planSpace(single, 4 * GIB, true), { kind: 'whole' });
  assert.deepEqual(planSpace(single, 3 * GIB, 'auto'), { kind: 'refuse', needed: 3.9 * GIB });
  // The estimate covers the measured packs (0.294 and 0.287 of their checkpoints at q4).
  assert.ok(packEstimate(4_183_300_000, 'q4') >= 1_230_749_958);
  assert.ok(packEstimate(14_848_500_000, 'q4') >= 4_268_957_958);
});

test('shard by shard: each shard\'s header stored up front, the shards fetched in turn as read, the one before deleted', async () => {
  const store = new MemoryChunkStore();
  const source = resolveModel(REPO, { hub: base() });
  const first = await ensureModel(store, source, {
    chunkBytes: CHUNK,
    retry: FAST_RETRY,
    packing: { quant: 'q4', shardByShard: true },
  });
  assert.ok(first.lazy !== undefined, 'a lazy report');
  assert.equal(first.model.complete, false);
  const chunks = async (file: string) => store.chunkIndices(fileKey(source.baseUrl, file));
  assert.deepEqual(await chunks(SHARD), [], 'only the header, kept with the record');
  assert.deepEqual(await chunks(OTHER), [], 'only the header, kept with the record');

  const bytes = (file: string) => new Uint8Array(readFileSync(path.join(FOLDER, file)));
  const reader = await StoreReader.open(store, source.baseUrl, first.lazy.background);
  // Every header first, from the records (the loader's order), then each shard's tensors.
  for (const file of [SHARD, OTHER]) {
    const whole = bytes(file);
    const head = 8 + Number(new DataView(whole.buffer, whole.byteOffset, 8).getBigUint64(0, true));
    assert.deepEqual(await reader.read(file, 0, head), whole.subarray(0, head));
  }
  assert.deepEqual(await chunks(SHARD), [], 'headers fetch nothing');
  for (const [file, other] of [
    [SHARD, OTHER],
    [OTHER, SHARD],
  ] as const) {
    const whole = bytes(file);
    const read = await reader.read(file, 1000, whole.length - 1000);
    assert.deepEqual(read, whole.subarray(1000));
    assert.equal((await chunks(file)).length, Math.ceil(whole.length / CHUNK), `${file} whole while read`);
    const record = await store.getFile(fileKey(source.baseUrl, file));
    assert.equal(record?.complete, true, `${file} verified`);
    if (file === OTHER) assert.deepEqual(await chunks(other), [], `${other} deleted once ${file} is read`);
    else assert.deepEqual(await chunks(other), [], `${other} still only its header`);
  }
  const later = first.lazy.report();
  const served = statsOf(server(), `${source.baseUrl}${SHARD}`).bytes + statsOf(server(), `${source.baseUrl}${OTHER}`).bytes;
  assert.ok(later.fetchedBytes > first.fetchedBytes, 'the report counts the shards fetched later');
  assert.ok(served >= bytes(SHARD).length + bytes(OTHER).length, 'every shard byte was served');

  // A shard read again after its deletion is fetched again, the same bytes.
  const again = await reader.read(SHARD, 0, bytes(SHARD).length);
  assert.deepEqual(again, bytes(SHARD));
  assert.deepEqual(await chunks(OTHER), []);
});

test("without packing, or 'auto' with no room known, the model is ensured whole", async () => {
  for (const packing of [undefined, { quant: 'q4' as const }]) {
    const store = new MemoryChunkStore();
    const source = resolveModel(REPO, { hub: base() });
    const report = await ensureModel(store, source, { chunkBytes: CHUNK, retry: FAST_RETRY, packing });
    assert.equal(report.lazy, undefined);
    assert.equal(report.model.complete, true);
  }
});

test("'auto' by the browser's estimate: whole where download and pack fit, shard by shard where only that fits, else refused with the figures", async () => {
  // A store the space check treats as IndexedDB, and a browser estimate of `free` bytes.
  class RoomyStore extends MemoryChunkStore {
    override readonly kind = 'indexeddb' as const;
  }
  const nav = globalThis as { navigator?: unknown };
  const saved = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
  const ensureWith = async (free: number) => {
    Object.defineProperty(globalThis, 'navigator', { value: { storage: { estimate: async () => ({ quota: free + 1000, usage: 1000 }) } }, configurable: true });
    const store = new RoomyStore();
    const source = resolveModel(REPO, { hub: base() });
    return ensureModel(store, source, { chunkBytes: CHUNK, retry: FAST_RETRY, packing: { quant: 'q4' } });
  };
  try {
    // tiny-a: 1.97 MB of shards (the larger 1.09 MB), 34 KB of other files; the pack estimated
    // at 0.31 of the shards. Whole needs about 2.6 MB, shard by shard about 1.9 MB.
    const sizes = [SHARD, OTHER].map((f) => readFileSync(path.join(FOLDER, f)).length);
    const shards = sizes[0]! + sizes[1]!;
    const pack = packEstimate(shards, 'q4');
    assert.equal((await ensureWith(shards + pack + 100_000)).lazy, undefined);
    const tight = await ensureWith(shards + pack - 100_000);
    assert.ok(tight.lazy !== undefined, 'shard by shard when whole does not fit');
    await assert.rejects(ensureWith(Math.max(...sizes) + pack - 300_000), (error: { code?: string; message?: string }) => {
      assert.equal(error.code, 'quota');
      assert.match(error.message ?? '', /it needs [\d.]+ [KM]iB more, the browser allows/);
      return true;
    });
  } finally {
    if (saved === undefined) delete nav.navigator;
    else Object.defineProperty(globalThis, 'navigator', saved);
  }
});
