// The stored pack (web/src/store/pack-cache.ts): files the engine hands over are stored as
// complete, verified files that the engine's reader gives back byte for byte; a failure to store
// never fails the load, and abandoning removes every trace.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { JanusError } from '../../src/errors.js';
import { MemoryChunkStore } from '../../src/store/memory-store.js';
import { isPackKey, PackRecorder, packKey } from '../../src/store/pack-cache.js';
import { fileKey, type StoredChunk } from '../../src/store/records.js';
import { StoreReader } from '../../src/store/store-reader.js';

const BASE = 'https://hub.example/deepseek-ai/Janus-1.3B/resolve/main/';

function file(size: number, seed: number): { bytes: Uint8Array; sha: string } {
  const bytes = new Uint8Array(size).map((_, i) => (i * 31 + seed) & 0xff);
  return { bytes, sha: createHash('sha256').update(bytes).digest('hex') };
}

test('a pack is stored file by file and read back by the engine reader', async () => {
  const store = new MemoryChunkStore();
  const key = packKey(BASE, 'q4');
  assert.equal(key, `${BASE}janus-pack-q4/`);
  assert.ok(isPackKey(key) && !isPackKey(BASE));
  const recorder = new PackRecorder(store, key, 'janus-1.3b (q4)', 1000);
  await recorder.begin();
  const files = { 'config.json': file(10, 1), 'model-00001-of-00001.safetensors': file(2500, 2), 'janus-pack.json': file(0, 3) };
  // Not usable before complete().
  await assert.rejects(StoreReader.open(store, key), (e: unknown) => e instanceof JanusError && e.code === 'not-found');
  for (const [path, f] of Object.entries(files)) await recorder.onFile(path, f.bytes, f.sha);
  await recorder.complete();
  const model = await store.getModel(key);
  assert.equal(model?.complete, true);
  assert.equal(model?.bytes, 2510);
  const reader = await StoreReader.open(store, key);
  for (const [path, f] of Object.entries(files)) {
    assert.equal(await reader.size(path), f.bytes.length);
    assert.deepEqual(await reader.read(path, 0, f.bytes.length), f.bytes, path);
    const record = await store.getFile(fileKey(key, path));
    assert.deepEqual(record?.digest, { kind: 'sha256', hex: f.sha });
    assert.equal(record?.hashSource, 'manifest');
  }
  assert.deepEqual(await store.chunkIndices(fileKey(key, 'model-00001-of-00001.safetensors')), [0, 1, 2]);
  await recorder.abandon();
  assert.equal(await store.getModel(key), null);
});

test('a full disk while storing the pack is kept as its failure, never thrown', async () => {
  class FullStore extends MemoryChunkStore {
    writes = 0;
    override async putChunk(file: string, index: number, chunk: StoredChunk): Promise<void> {
      this.writes += 1;
      if (this.writes > 2) throw new JanusError('quota', 'the browser storage is full');
      return super.putChunk(file, index, chunk);
    }
  }
  const store = new FullStore();
  const key = packKey(BASE, 'q8');
  const recorder = new PackRecorder(store, key, 'x', 1000);
  await recorder.begin();
  const big = file(5000, 4);
  await recorder.onFile('model-00001-of-00001.safetensors', big.bytes, big.sha);
  await recorder.onFile('janus-pack.json', file(10, 5).bytes, file(10, 5).sha);
  assert.equal(recorder.failure?.code, 'quota');
  assert.equal(store.writes, 3, 'nothing is written after the failure');
  await recorder.abandon();
  assert.equal(await store.getModel(key), null);
  assert.deepEqual(await store.chunkIndices(fileKey(key, 'model-00001-of-00001.safetensors')), []);
});

test("a pack's shard keeps its safetensors header with its record; other files keep none", async () => {
  const store = new MemoryChunkStore();
  const key = packKey(BASE, 'q4');
  const recorder = new PackRecorder(store, key, 'x', 1000);
  await recorder.begin();
  const json = new TextEncoder().encode('{"w":{"dtype":"F32","shape":[300],"data_offsets":[0,1200]}}');
  const shard = new Uint8Array(8 + json.length + 1200);
  new DataView(shard.buffer).setBigUint64(0, BigInt(json.length), true);
  shard.set(json, 8);
  shard.fill(7, 8 + json.length);
  const sha = createHash('sha256').update(shard).digest('hex');
  await recorder.onFile('model-00001-of-00001.safetensors', shard, sha);
  const other = file(10, 1);
  await recorder.onFile('config.json', other.bytes, other.sha);
  await recorder.complete();
  const record = await store.getFile(fileKey(key, 'model-00001-of-00001.safetensors'));
  assert.deepEqual(record?.head?.bytes, shard.subarray(0, 8 + json.length));
  assert.equal(record?.head?.sha256, createHash('sha256').update(shard.subarray(0, 8 + json.length)).digest('hex'));
  assert.equal((await store.getFile(fileKey(key, 'config.json')))?.head, undefined);
});
