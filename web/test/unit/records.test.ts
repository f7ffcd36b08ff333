// The record guards (records.ts) that IndexedDB reads pass through (S9): every record the real
// writers produce passes (a download from the hub, a pack from its manifest, a pack written while
// loading, an empty file), and a record of another shape is refused field by field. And the store
// where there is no IndexedDB at all (S10).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { JanusError } from '../../src/errors.js';
import { IdbChunkStore } from '../../src/store/idb-store.js';
import { ensureModel } from '../../src/store/model-cache.js';
import { MemoryChunkStore } from '../../src/store/memory-store.js';
import { PackRecorder } from '../../src/store/pack-cache.js';
import { isFileRecord, isModelRecord, isStoredChunk, type ChunkStore } from '../../src/store/records.js';
import { resolveModel } from '../../src/store/registry.js';
import { CHUNK, FAST_RETRY, REPO, useServer } from './fixture-server.js';

const { base } = useServer();
const options = { chunkBytes: CHUNK, retry: FAST_RETRY };

/** Every record in `store`, each checked by its guard; returns how many were checked. */
async function allPass(store: ChunkStore): Promise<number> {
  let checked = 0;
  for (const model of await store.listModels()) {
    assert.ok(isModelRecord(model), JSON.stringify(model));
    checked += 1;
    for (const path of model.files) {
      const file = await store.getFile(`${model.key}\n${path}`);
      assert.ok(isFileRecord(file), JSON.stringify(file));
      checked += 1;
      for (const index of await store.chunkIndices(file.key)) {
        const chunk = await store.getChunk(file.key, index);
        assert.ok(isStoredChunk(chunk), `${path} chunk ${index}`);
        checked += 1;
      }
    }
  }
  return checked;
}

test('S9 every record the writers produce passes its guard', async () => {
  const store = new MemoryChunkStore();
  await ensureModel(store, resolveModel(REPO, { hub: base() }), options);
  await ensureModel(store, resolveModel('janus-web/tiny-a-q4', { hub: base() }), options);
  const recorder = new PackRecorder(store, 'pack://written/', 'written here', CHUNK);
  await recorder.begin();
  await recorder.onFile('empty.json', new Uint8Array(0), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  await recorder.onFile('weights.safetensors', new Uint8Array(3 * CHUNK + 7).fill(7), 'a'.repeat(64));
  assert.equal(recorder.failure, null);
  await recorder.complete();
  const checked = await allPass(store);
  assert.ok(checked > 40, `${checked} records`);
});

test('S9 a record of another shape is refused', async () => {
  const store = new MemoryChunkStore();
  const source = resolveModel(REPO, { hub: base() });
  const { model } = await ensureModel(store, source, options);
  const file = (await store.getFile(`${model.key}\n${model.files.at(-1)}`))!;
  const chunk = (await store.getChunk(file.key, 0))!;
  for (const [what, bad] of [
    ['not an object', null],
    ['an array', [model]],
    ['files not strings', { ...model, files: [1] }],
    ['bytes negative', { ...model, bytes: -1 }],
    ['complete a string', { ...model, complete: 'yes' }],
    ['no createdAt', { ...model, createdAt: undefined }],
  ] as const) {
    assert.equal(isModelRecord(bad), false, `model: ${what}`);
  }
  for (const [what, bad] of [
    ['key of another file', { ...file, key: `${model.key}\nother` }],
    ['size fractional', { ...file, size: 1.5 }],
    ['chunkSize zero', { ...file, chunkSize: 0 }],
    ['expected of an unknown kind', { ...file, expected: { kind: 'md5', hex: 'ab' } }],
    ['digest too short', { ...file, digest: { kind: 'sha256', hex: 'ab' } }],
    ['unknown hash source', { ...file, hashSource: 'guess' }],
    ['a chunk hash missing', { ...file, chunkHashes: file.chunkHashes!.slice(1) }],
    ['etag a number', { ...file, etag: 5 }],
  ] as const) {
    assert.equal(isFileRecord(bad), false, `file: ${what}`);
  }
  for (const [what, bad] of [
    ['bytes an array', { ...chunk, bytes: [...chunk.bytes] }],
    ['bytes a Blob-like string', { ...chunk, bytes: 'abc' }],
    ['hash uppercase', { ...chunk, sha256: chunk.sha256.toUpperCase() }],
    ['resume without its hasher state', { ...chunk, resume: { chunkHashes: [] } }],
  ] as const) {
    assert.equal(isStoredChunk(bad), false, `chunk: ${what}`);
  }
});

test('S10 a context without IndexedDB (Node has none) gets a storage error, not a throw from the global', async () => {
  assert.equal(typeof (globalThis as { indexedDB?: unknown }).indexedDB, 'undefined');
  await assert.rejects(IdbChunkStore.open(), (e: unknown) => e instanceof JanusError && e.code === 'storage' && /no IndexedDB/.test(e.message));
});

test('S9 the guards never throw, and a real record with any one field replaced by another kind of value is refused', async () => {
  const store = new MemoryChunkStore();
  const { model } = await ensureModel(store, resolveModel(REPO, { hub: base() }), options);
  const file = (await store.getFile(`${model.key}\n${model.files.at(-1)}`))!;
  const chunk = (await store.getChunk(file.key, 0))!;
  const runs = Number(process.env.JANUS_FUZZ_RUNS ?? 2000);
  const guards = [isModelRecord, isFileRecord, isStoredChunk];
  fc.assert(
    fc.property(fc.anything({ withTypedArray: true, withMap: true, withSet: true, withDate: true }), (value) => {
      for (const guard of guards) assert.equal(typeof guard(value), 'boolean');
    }),
    { numRuns: runs, seed: 20261127 },
  );
  // Another kind of value: a field's type changed (a number for a string, an object for a
  // number...), as another layout of the schema would store it.
  const kindOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : v instanceof Uint8Array ? 'bytes' : typeof v);
  for (const [record, guard, optional] of [
    [model, isModelRecord, ['completedAt']],
    [file, isFileRecord, ['digest', 'chunkHashes', 'head', 'etag', 'expected']],
    [chunk, isStoredChunk, ['resume']],
  ] as const) {
    const fields = Object.keys(record).filter((k) => !(optional as readonly string[]).includes(k));
    fc.assert(
      fc.property(fc.constantFrom(...fields), fc.anything({ withTypedArray: true }), (field, value) => {
        fc.pre(kindOf(value) !== kindOf((record as Record<string, unknown>)[field]));
        return guard({ ...record, [field]: value }) === false;
      }),
      { numRuns: runs, seed: 20261127 },
    );
  }
});
