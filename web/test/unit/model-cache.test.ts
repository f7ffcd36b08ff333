// A whole model into the store (web/src/store/model-cache.ts) from the hub layout of the test
// server, read back through the engine's reader (store-reader.ts).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { JanusError } from '../../src/errors.js';
import { modelAvailability } from '../../src/store/availability.js';
import { MemoryChunkStore } from '../../src/store/memory-store.js';
import { PackRecorder, packKey } from '../../src/store/pack-cache.js';
import { cachedModels, deleteModel, ensureModel, formatBytes, MANIFEST_FILE, parsePackManifest, refuseIfNoRoom } from '../../src/store/model-cache.js';
import { fileKey } from '../../src/store/records.js';
import { resolveModel } from '../../src/store/registry.js';
import { StoreReader } from '../../src/store/store-reader.js';
import { CHUNK, FAST_RETRY, FOLDER, REPO, settle, useServer } from './fixture-server.js';

const { server, base } = useServer();
const FILES = ['config.json', 'tokenizer.json', 'model.safetensors.index.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
const options = { chunkBytes: CHUNK, retry: FAST_RETRY };

test('a sharded hub model: listed by the tree API, verified, complete; then no request at all', async () => {
  server().resetStats();
  const store = new MemoryChunkStore();
  const source = resolveModel(REPO, { hub: base() });
  const events: number[] = [];
  const first = await ensureModel(store, source, { ...options, onProgress: (p) => events.push(p.bytes) });
  assert.equal(first.model.complete, true);
  assert.deepEqual([...first.model.files].sort(), [...FILES].sort());
  const total = FILES.reduce((n, f) => n + readFileSync(path.join(FOLDER, f)).length, 0);
  assert.equal(first.model.bytes, total);
  assert.equal(first.fetchedBytes, total);
  assert.equal(events.at(-1), total);
  for (const file of FILES) {
    const record = await store.getFile(fileKey(source.baseUrl, file));
    assert.equal(record?.hashSource, 'hub', file);
    assert.equal(record?.expected?.kind, file.endsWith('.safetensors') ? 'sha256' : 'git-sha1', file);
  }
  await settle();
  server().resetStats();
  const second = await ensureModel(store, source, options);
  assert.equal(second.requests, 0);
  assert.equal(server().stats().requests, 0);

  const reader = await StoreReader.open(store, source.baseUrl);
  for (const file of FILES) {
    const bytes = readFileSync(path.join(FOLDER, file));
    assert.equal(await reader.size(file), bytes.length);
    assert.deepEqual(await reader.read(file, 0, bytes.length), new Uint8Array(bytes));
    const mid = Math.floor(bytes.length / 3);
    assert.deepEqual(await reader.read(file, mid, Math.min(CHUNK + 5, bytes.length - mid)), new Uint8Array(bytes.subarray(mid, mid + Math.min(CHUNK + 5, bytes.length - mid))));
  }
  assert.equal(await reader.size('missing.json'), null);

  const listed = await cachedModels(store);
  assert.deepEqual(listed.map((m) => [m.name, m.complete, m.bytes, m.storedBytes]), [[REPO, true, total, total]]);
  await deleteModel(store, source.baseUrl);
  assert.deepEqual(await cachedModels(store), []);
});

test('a plain folder without the hub API: files found by probing, hashes from ETags', async () => {
  const store = new MemoryChunkStore();
  const source = resolveModel(`${base()}models/tiny-b-hf/`);
  const out = await ensureModel(store, source, options);
  assert.deepEqual(out.model.files, ['config.json', 'tokenizer.json', 'model.safetensors'].sort((a, b) => sizeOf('tiny-b-hf', a) - sizeOf('tiny-b-hf', b)));
  for (const file of out.model.files) {
    assert.equal((await store.getFile(fileKey(source.baseUrl, file)))?.hashSource, 'etag');
  }
});

/**
 * Stores the model, replaces stored chunk `index` of the second shard with `damage(chunk)`, then
 * checks that reading it fails with 'integrity' and that ensureModel fetches that chunk alone.
 */
async function damagedChunkIsRepairedAlone(index: number, damage: (bytes: Uint8Array) => Uint8Array): Promise<void> {
  const store = new MemoryChunkStore();
  const source = resolveModel(REPO, { hub: base() });
  await ensureModel(store, source, options);
  const key = fileKey(source.baseUrl, 'model-00002-of-00002.safetensors');
  const chunk = (await store.getChunk(key, index))!;
  await store.putChunk(key, index, { ...chunk, bytes: damage(chunk.bytes) });
  const reader = await StoreReader.open(store, source.baseUrl);
  const error = await reader.read('model-00002-of-00002.safetensors', index * CHUNK, 10).catch((e: unknown) => e);
  assert.ok(error instanceof JanusError && error.code === 'integrity', String(error));
  const repaired = await ensureModel(store, source, options);
  // The reader dropped the chunk; it alone is fetched again.
  assert.equal(repaired.requests, 1);
  assert.equal(repaired.fetchedBytes, CHUNK);
  const again = await StoreReader.open(store, source.baseUrl);
  const bytes = readFileSync(path.join(FOLDER, 'model-00002-of-00002.safetensors'));
  assert.deepEqual(await again.read('model-00002-of-00002.safetensors', 0, bytes.length), new Uint8Array(bytes));
}

test('a damaged stored chunk fails the read with integrity, and ensureModel repairs only it', () =>
  damagedChunkIsRepairedAlone(9, (bytes) => {
    const flipped = bytes.slice();
    flipped[3] = (flipped[3] ?? 0) ^ 0x80;
    return flipped;
  }));

// Cut short, as a write interrupted by a crash or a disk error could leave it.
test('S5 a stored chunk of the wrong length fails the read with integrity, and ensureModel repairs only it', () =>
  damagedChunkIsRepairedAlone(4, (bytes) => bytes.slice(0, CHUNK - 100)));

const PACK = path.join(path.dirname(FOLDER), 'tiny-a-q4-pack');
const packManifest = JSON.parse(readFileSync(path.join(PACK, MANIFEST_FILE), 'utf8')) as { files: Array<{ path: string; size: number; sha256: string }> };

test('a pack (janus pack): the manifest lists every file, each verified against its SHA-256', async () => {
  for (const source of [resolveModel('janus-web/tiny-a-q4', { hub: base() }), resolveModel(`${base()}models/tiny-a-q4-pack/`)]) {
    server().resetStats();
    const store = new MemoryChunkStore();
    const out = await ensureModel(store, source, options);
    assert.equal(out.model.complete, true);
    const listed = packManifest.files.map((f) => f.path);
    assert.deepEqual([...out.model.files].sort(), [...listed, MANIFEST_FILE].sort());
    assert.equal(out.model.bytes, [...listed, MANIFEST_FILE].reduce((n, f) => n + readFileSync(path.join(PACK, f)).length, 0));
    for (const file of packManifest.files) {
      const record = await store.getFile(fileKey(source.baseUrl, file.path));
      assert.equal(record?.hashSource, 'manifest', file.path);
      assert.deepEqual(record?.digest, { kind: 'sha256', hex: file.sha256 }, file.path);
    }
    // No probe per file: the manifest said everything (one probe for it without the hub API).
    const probes = Object.values(server().stats().paths).reduce((n, p) => n + p.requests, 0);
    assert.ok(probes <= listed.length + 3, `${probes} requests for ${listed.length + 1} files`);
  }
});

test('a pack file that does not match its manifest hash is refused and not kept', async () => {
  const store = new MemoryChunkStore();
  // Byte 5000 flipped in every response: the index and every shard differ from their SHA-256.
  const source = resolveModel(`${base()}fault/flip=5000/models/tiny-a-q4-pack/`);
  await assert.rejects(ensureModel(store, source, options), (e: unknown) => e instanceof JanusError && e.code === 'integrity' && /manifest: [0-9a-f]{64}/.test(e.message));
  const models = await cachedModels(store);
  assert.equal(models[0]?.complete, false);
});

test('a manifest that is not one is a typed error', () => {
  const parse = (value: unknown): unknown => parsePackManifest(new TextEncoder().encode(JSON.stringify(value)), 'https://x/janus-pack.json');
  const good = { format: 'janus-pack', version: 1, quant: 'q4', files: [{ path: 'a.safetensors', size: 3, sha256: 'a'.repeat(64) }] };
  assert.deepEqual(parse(good), good.files);
  const refused = (value: unknown, pattern: RegExp): void =>
    assert.throws(() => parse(value), (e: unknown) => e instanceof JanusError && e.code === 'bad-checkpoint' && pattern.test(e.message), JSON.stringify(value));
  refused({ ...good, version: 2 }, /version 1/);
  refused({ ...good, quant: 'q3' }, /quant/);
  refused({ ...good, files: [] }, /no files/);
  refused({ ...good, files: [{ ...good.files[0], path: '../etc/passwd' }] }, /plain file name/);
  refused({ ...good, files: [good.files[0], good.files[0]] }, /twice/);
  refused({ ...good, files: [{ ...good.files[0], size: -1 }] }, /byte count/);
  refused({ ...good, files: [{ ...good.files[0], sha256: 'XYZ' }] }, /SHA-256/);
  assert.throws(() => parsePackManifest(new Uint8Array([0xff, 0xfe]), 'u'), (e: unknown) => e instanceof JanusError && e.code === 'bad-checkpoint');
});

test('a missing model is a typed error naming the URL', async () => {
  const source = resolveModel(`${base()}models/no-such-model/`);
  await assert.rejects(ensureModel(new MemoryChunkStore(), source, options), (e: unknown) => e instanceof JanusError && e.code === 'not-found' && /no-such-model/.test(e.message));
});

function sizeOf(folder: string, file: string): number {
  return readFileSync(path.join(path.dirname(FOLDER), folder, file)).length;
}

test('the space check refuses with the figures, and passes when unknown or enough', () => {
  assert.throws(
    () => refuseIfNoRoom(5 * 1024 ** 3, { quota: 6 * 1024 ** 3, usage: 2 * 1024 ** 3 }),
    (e: unknown) => e instanceof JanusError && e.code === 'quota' && /needs 5\.00 GiB more, the browser allows 4\.00 GiB \(quota 6\.00 GiB, in use 2\.00 GiB\)/.test(e.message),
  );
  refuseIfNoRoom(4 * 1024 ** 3, { quota: 6 * 1024 ** 3, usage: 2 * 1024 ** 3 });
  refuseIfNoRoom(1e12, {});
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(1536), '1.50 KiB');
  assert.equal(formatBytes(4_183_300_000), '3.90 GiB');
});

test('S1 a write refused for quota fails the download with the way on (load with cache: false), the verified part kept', async () => {
  class FullStore extends MemoryChunkStore {
    override async putChunk(file: string, index: number, chunk: Parameters<MemoryChunkStore['putChunk']>[2]): Promise<void> {
      if ((await this.chunkIndices(file)).length >= 3) throw new JanusError('quota', "could not store a downloaded chunk: the browser's storage is full (QuotaExceededError)");
      return super.putChunk(file, index, chunk);
    }
  }
  const store = new FullStore();
  const source = resolveModel(REPO, { hub: base() });
  await assert.rejects(ensureModel(store, source, options), (e: unknown) => e instanceof JanusError && e.code === 'quota' && /storage is full.*load it with \{ cache: false \}/.test(e.message));
  const [model] = await cachedModels(store);
  assert.ok(model !== undefined && !model.complete && model.storedBytes > 0, JSON.stringify(model));
});

test('U1 a model is downloadable, then downloadable with a part kept, then available; a stored pack alone is available', async () => {
  const store = new MemoryChunkStore();
  const source = resolveModel(REPO, { hub: base() });
  assert.deepEqual(await modelAvailability(store, source.baseUrl), { state: 'downloadable', storedBytes: 0, totalBytes: null });
  assert.deepEqual(await modelAvailability(null, source.baseUrl), { state: 'downloadable', storedBytes: 0, totalBytes: null });
  const cut = resolveModel(`${base()}fault/drip=2000000,drop-at=${5 * CHUNK + 9}/models/tiny-a-hf/`);
  await ensureModel(store, cut, { ...options, retry: { ...FAST_RETRY, attempts: 1 } }).catch(() => undefined);
  const partial = await modelAvailability(store, cut.baseUrl);
  assert.equal(partial.state, 'downloadable');
  assert.ok(partial.storedBytes > 0 && partial.totalBytes !== null && partial.storedBytes < partial.totalBytes, JSON.stringify(partial));
  const { model } = await ensureModel(store, source, options);
  assert.deepEqual(await modelAvailability(store, source.baseUrl), { state: 'available', storedBytes: model.bytes, totalBytes: model.bytes });
  // A q4 engine's pack replaces the download (the bf16 files released): still available.
  const recorder = new PackRecorder(store, packKey(source.baseUrl, 'q4'), 'tiny (q4)', CHUNK);
  await recorder.begin();
  await recorder.onFile('model.safetensors', new Uint8Array(1000), 'a'.repeat(64));
  await recorder.complete();
  await deleteModel(store, source.baseUrl);
  assert.equal((await modelAvailability(store, source.baseUrl)).state, 'available');
});
