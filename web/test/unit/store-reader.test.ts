// The engine's reader over a cached model (web/src/store/store-reader.ts): what it asks the store
// for, and when. A shard's header comes from the copy kept with its record, no chunk read (a
// damaged copy, or none as in older caches, sends the read to the chunk); a file read in order
// has its next chunks read and checked ahead of the engine; a file touched once has nothing read
// ahead; a damaged chunk read ahead fails only when the engine asks for it.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { JanusError } from '../../src/errors.js';
import { MemoryChunkStore } from '../../src/store/memory-store.js';
import { ensureModel } from '../../src/store/model-cache.js';
import { fileKey, type StoredChunk } from '../../src/store/records.js';
import { resolveModel } from '../../src/store/registry.js';
import { READ_AHEAD, StoreReader } from '../../src/store/store-reader.js';
import { CHUNK, FAST_RETRY, FOLDER, REPO, SHARD, useServer } from './fixture-server.js';

const { base } = useServer();
const OTHER = 'model-00002-of-00002.safetensors';

/** The file's path in the model, from its store key (records.ts `fileKey`). */
const name = (file: string) => file.slice(file.lastIndexOf('\n') + 1);

/** The memory store, recording every chunk read and delete as `file#index`. */
class RecordingStore extends MemoryChunkStore {
  readonly reads: string[] = [];
  readonly deletes: string[] = [];

  override async getChunk(file: string, index: number): Promise<StoredChunk | null> {
    this.reads.push(`${name(file)}#${index}`);
    return super.getChunk(file, index);
  }

  override async deleteChunk(file: string, index: number): Promise<void> {
    this.deletes.push(`${name(file)}#${index}`);
    return super.deleteChunk(file, index);
  }
}

async function cached(): Promise<{ store: RecordingStore; key: string }> {
  const store = new RecordingStore();
  const source = resolveModel(REPO, { hub: base() });
  await ensureModel(store, source, { chunkBytes: CHUNK, retry: FAST_RETRY });
  store.reads.length = 0;
  return { store, key: source.baseUrl };
}

/** A safetensors file's header length: 8 + the little-endian u64 at its start. */
const headLength = (bytes: Uint8Array) =>
  8 + Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));

/** Lets the reads started ahead reach the store. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

test('a file read in order: the next chunks are read ahead, each chunk from the store once', async () => {
  assert.equal(READ_AHEAD, 2);
  const { store, key } = await cached();
  const reader = await StoreReader.open(store, key);
  const bytes = new Uint8Array(readFileSync(path.join(FOLDER, SHARD)));
  const chunks = Math.ceil(bytes.length / CHUNK);
  assert.ok(chunks > READ_AHEAD + 2, `the shard is ${chunks} chunks`);

  // The header, as the loader reads it (its length, then the JSON): from the record.
  const head = headLength(bytes);
  assert.ok(head < CHUNK, `the header is ${head} bytes`);
  assert.deepEqual(await reader.read(SHARD, 0, 8), bytes.subarray(0, 8));
  assert.deepEqual(await reader.read(SHARD, 8, head - 8), bytes.subarray(8, head));
  await settle();
  assert.deepEqual(store.reads, [], 'the header reads no chunk');

  // The first tensors (chunk 0), then chunk 1: read in order from the header on.
  await reader.read(SHARD, head, 10);
  await reader.read(SHARD, CHUNK, 10);
  await settle();
  assert.deepEqual([...store.reads].sort(), [`${SHARD}#0`, `${SHARD}#1`, `${SHARD}#2`, `${SHARD}#3`]);

  // The rest of the file, in reads that straddle chunk boundaries, as the loader's do.
  let at = CHUNK + 10;
  while (at < bytes.length) {
    const length = Math.min(CHUNK / 2 + 7, bytes.length - at);
    assert.deepEqual(await reader.read(SHARD, at, length), bytes.subarray(at, at + length));
    at += length;
  }
  await settle();
  const expected = Array.from({ length: chunks }, (_, i) => `${SHARD}#${i}`);
  assert.deepEqual([...store.reads].sort(), expected.sort(), 'every chunk read once, none past the end');
});

test('every safetensors file keeps its header with its record; other files keep none', async () => {
  const { store, key } = await cached();
  for (const file of [SHARD, OTHER]) {
    const bytes = new Uint8Array(readFileSync(path.join(FOLDER, file)));
    const record = (await store.getFile(fileKey(key, file)))!;
    assert.deepEqual(record.head?.bytes, bytes.subarray(0, headLength(bytes)), file);
    assert.equal(record.head?.sha256, createHash('sha256').update(record.head.bytes).digest('hex'));
  }
  const config = (await store.getFile(fileKey(key, 'config.json')))!;
  assert.equal(config.head, undefined);
});

test("shard headers read no chunk; a chunk touched out of order reads nothing ahead", async () => {
  const { store, key } = await cached();
  const reader = await StoreReader.open(store, key);
  await reader.read(SHARD, 0, 8);
  await reader.read(OTHER, 0, 8);
  await reader.read(SHARD, 5 * CHUNK, 8);
  await settle();
  assert.deepEqual(store.reads, [`${SHARD}#5`]);
});

test('without a kept header (older caches) or with a damaged one, the header comes from chunk 0', async () => {
  const { store, key } = await cached();
  const bytes = new Uint8Array(readFileSync(path.join(FOLDER, SHARD)));
  const shard = (await store.getFile(fileKey(key, SHARD)))!;
  const damaged = shard.head!.bytes.slice();
  damaged[9] = (damaged[9] ?? 0) ^ 0x01;
  await store.putFile({ ...shard, head: { bytes: damaged, sha256: shard.head!.sha256 } });
  const other = (await store.getFile(fileKey(key, OTHER)))!;
  const { head: _, ...older } = other;
  await store.putFile(older);

  const reader = await StoreReader.open(store, key);
  assert.deepEqual(await reader.read(SHARD, 0, 16), bytes.subarray(0, 16));
  await reader.read(OTHER, 0, 8);
  await settle();
  // Each first chunk once, nothing read ahead (each file touched once), nothing removed.
  assert.deepEqual(store.reads, [`${SHARD}#0`, `${OTHER}#0`]);
  assert.deepEqual(store.deletes, []);
});

test('a damaged chunk read ahead fails with integrity only when the engine asks for it', async () => {
  const { store, key } = await cached();
  const file = fileKey(key, SHARD);
  const damaged = (await store.getChunk(file, 3))!;
  damaged.bytes[7] = (damaged.bytes[7] ?? 0) ^ 0x01;
  await store.putChunk(file, 3, damaged);
  store.reads.length = 0;

  const reader = await StoreReader.open(store, key);
  await reader.read(SHARD, 0, 10);
  await reader.read(SHARD, CHUNK, 10);
  await reader.read(SHARD, 2 * CHUNK, 10);
  await settle();
  assert.ok(store.reads.includes(`${SHARD}#3`), `chunk 3 was read ahead: ${store.reads.join(', ')}`);
  assert.deepEqual(store.deletes, [], 'nothing is removed before the engine asks for it');

  const error = await reader.read(SHARD, 3 * CHUNK, 10).catch((e: unknown) => e);
  assert.ok(error instanceof JanusError && error.code === 'integrity', String(error));
  assert.deepEqual(store.deletes, [`${SHARD}#3`]);
  assert.equal(await store.getChunk(file, 3), null);
});
