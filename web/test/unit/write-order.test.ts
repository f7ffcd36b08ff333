// S7: the store's write order survives a crash between any two writes. A download is stopped
// after its k-th write (every k, from the first to the last), the way a closed tab or a killed
// browser stops it, and the store left behind is checked: a complete marker (model or file) only
// ever stands over data that is there and matches, and the next start finishes the model while
// fetching only what was missing, then reads every byte back exactly.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { JanusError } from '../../src/errors.js';
import { sha256Hex } from '../../src/store/hash.js';
import { ensureModel } from '../../src/store/model-cache.js';
import { MemoryChunkStore } from '../../src/store/memory-store.js';
import { chunkCount, fileKey, type ChunkStore, type FileRecord, type ModelRecord, type StoredChunk } from '../../src/store/records.js';
import { resolveModel } from '../../src/store/registry.js';
import { StoreReader } from '../../src/store/store-reader.js';
import { CHUNK, FAST_RETRY, FOLDER, REPO, useServer } from './fixture-server.js';

const { base } = useServer();
const options = { chunkBytes: CHUNK, retry: FAST_RETRY };

/**
 * The memory store, dead from its `crashAt`-th write on (0-based): that write and every later
 * call fail, as nothing more reaches the disk once the page is gone. Reads before it pass.
 */
class CrashingStore implements ChunkStore {
  readonly kind = 'memory' as const;
  writes = 0;
  dead = false;

  constructor(
    readonly inner: MemoryChunkStore,
    private readonly crashAt: number,
  ) {}

  private async write<T>(op: () => Promise<T>): Promise<T> {
    if (!this.dead && this.writes === this.crashAt) this.dead = true;
    this.alive();
    this.writes += 1;
    return op();
  }

  private alive(): void {
    if (this.dead) throw new JanusError('storage', 'the page was closed (test crash)');
  }

  private async read<T>(op: () => Promise<T>): Promise<T> {
    this.alive();
    return op();
  }

  getModel = (key: string): Promise<ModelRecord | null> => this.read(() => this.inner.getModel(key));
  listModels = (): Promise<ModelRecord[]> => this.read(() => this.inner.listModels());
  getFile = (key: string): Promise<FileRecord | null> => this.read(() => this.inner.getFile(key));
  chunkIndices = (file: string): Promise<number[]> => this.read(() => this.inner.chunkIndices(file));
  getChunk = (file: string, index: number): Promise<StoredChunk | null> => this.read(() => this.inner.getChunk(file, index));
  putModel = (record: ModelRecord): Promise<void> => this.write(() => this.inner.putModel(record));
  deleteModel = (key: string): Promise<void> => this.write(() => this.inner.deleteModel(key));
  putFile = (record: FileRecord): Promise<void> => this.write(() => this.inner.putFile(record));
  deleteFile = (key: string): Promise<void> => this.write(() => this.inner.deleteFile(key));
  putChunk = (file: string, index: number, chunk: StoredChunk): Promise<void> => this.write(() => this.inner.putChunk(file, index, chunk));
  deleteChunks = (file: string, from: number): Promise<void> => this.write(() => this.inner.deleteChunks(file, from));
  deleteChunk = (file: string, index: number): Promise<void> => this.write(() => this.inner.deleteChunk(file, index));
  close(): void {}
}

/** Bytes of the files recorded complete whose every chunk is stored and matches its hash. */
async function checkMarkers(store: MemoryChunkStore, modelKey: string, at: string): Promise<number> {
  const model = await store.getModel(modelKey);
  let verified = 0;
  for (const path of model?.files ?? []) {
    const record = await store.getFile(fileKey(modelKey, path));
    if (model?.complete === true) assert.equal(record?.complete, true, `${at}: model complete, ${path} not`);
    if (record === null || !record.complete) continue;
    const hashes = record.chunkHashes ?? [];
    assert.equal(hashes.length, chunkCount(record.size, record.chunkSize), `${at}: ${path} chunk hashes`);
    for (let index = 0; index < hashes.length; index += 1) {
      const chunk = await store.getChunk(record.key, index);
      assert.ok(chunk !== null, `${at}: ${path} complete but chunk ${index} missing`);
      assert.equal(await sha256Hex(chunk.bytes), hashes[index], `${at}: ${path} chunk ${index}`);
    }
    verified += record.size;
  }
  return verified;
}

test('S7 a download stopped after each of its writes leaves no false marker, and the next start finishes it', async () => {
  const source = resolveModel(REPO, { hub: base() });
  // A clean run counts the writes, and the bytes every file should read back as.
  const clean = new CrashingStore(new MemoryChunkStore(), Number.POSITIVE_INFINITY);
  const full = await ensureModel(clean, source, options);
  const total = full.model.bytes;
  const writes = clean.writes;
  assert.ok(writes > full.model.files.length * 2, `${writes} writes`);

  let resumedSomewhere = false;
  for (let crashAt = 0; crashAt < writes; crashAt += 1) {
    const at = `crash at write ${crashAt} of ${writes}`;
    const disk = new MemoryChunkStore();
    const dying = new CrashingStore(disk, crashAt);
    await assert.rejects(ensureModel(dying, source, options), (e: unknown) => e instanceof JanusError && e.code === 'storage', at);
    assert.equal(dying.writes, crashAt, at);
    const kept = await checkMarkers(disk, source.baseUrl, at);

    // The next start: the same store, healthy again.
    const next = await ensureModel(disk, source, options);
    assert.equal(next.model.complete, true, at);
    assert.equal(await checkMarkers(disk, source.baseUrl, `${at}, then finished`), total, at);
    // Complete files are never fetched again; a partial one may resume mid-file.
    assert.ok(next.fetchedBytes <= total - kept, `${at}: fetched ${next.fetchedBytes} with ${kept} of ${total} kept`);
    if (next.resumedBytes > 0) resumedSomewhere = true;
    const reader = await StoreReader.open(disk, source.baseUrl);
    for (const file of next.model.files) {
      const bytes = new Uint8Array(readFileSync(path.join(FOLDER, file)));
      assert.deepEqual(await reader.read(file, 0, bytes.length), bytes, `${at}: ${file}`);
    }
  }
  // Some crash left verified chunks of an unfinished file, and they were used.
  assert.ok(resumedSomewhere, 'no stopped download resumed from its kept chunks');
});
