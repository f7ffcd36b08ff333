// The engine reads a cached model through this: byte ranges of stored files, chunk by chunk.
//
// The wasm loader asks for the config, the tokenizer, each shard's header and then its tensors in
// file order, at most 8 MiB at a time; so one decoded chunk is kept and most reads are copies out
// of it. Every chunk is checked against the SHA-256 recorded when its file was verified the first
// time it is read: a damaged or missing chunk is deleted and the load fails with 'integrity', and
// the next ensureModel fetches that chunk alone.
//
// Where a file is read in order, the next READ_AHEAD chunks are read and checked ahead, while the
// engine copies the current one into wasm and uploads it: IndexedDB's read and WebCrypto's hash
// can run beside the engine's work instead of between its steps. A cached Janus-1.3B q4 load
// spent 4.7 s in reads, 1.9 s in hashing and 3.2 s in the engine, one after another
// (BENCHMARKS.md, "Loading a full-size model in the browser"); on that 2-core machine, where
// every part is CPU-bound, the overlap's gain was within the noise. A chunk read ahead but
// damaged fails only when the engine asks for it.
//
// A read inside a safetensors file's header is served from the copy kept with its record
// (records.ts FileRecord.head), checked against its own SHA-256 once: the loader reads every
// shard's header before any tensor, and each such read used to read and hash the shard's whole
// first chunk, which the tensors then read again. A damaged copy is passed over for the chunk.
//
// A first load reads the shards while they download (store/background.ts): a chunk of a file not
// yet verified is read once the download has stored it, checked against the SHA-256 taken when
// it arrived, and the file's last chunk only once the whole file matches its hash. The headers
// come from the copies kept with the records (each shard's header is fetched alone before the
// engine starts).
//
// Shard by shard (model-cache.ts `LazyFiles`, space.ts), the first read past a shard's header
// starts its download, after the shard read before has finished downloading and is deleted. The
// loader reads the shards one after another, so one shard at a time is stored; a shard read
// again is fetched again.

import { JanusError } from '../errors.js';
import { sha256Hex } from './hash.js';
import type { Background } from './background.js';
import { chunkCount, chunkLength, fileKey, type ChunkStore, type FileRecord, type ModelRecord, type StoredChunk } from './records.js';

/** Chunks read ahead of the engine in a file it reads in order (16 MiB each by default). */
export const READ_AHEAD = 2;

/** A stored chunk as read: ok when it has its file's length and recorded SHA-256. */
type Checked = { ok: true; stored: StoredChunk } | { ok: false; stored: StoredChunk | null };

export class StoreReader {
  private chunk: { file: string; index: number; bytes: Uint8Array } | null = null;
  /** The last chunk asked for in each file (a read in order asks for the one after). */
  private readonly last = new Map<string, number>();
  /** Reads in flight ahead of the engine, of one file: chunk index -> its checked read. */
  private ahead: { file: string; chunks: Map<number, Promise<Checked>> } | null = null;
  /** Files whose kept header was checked: true when it matched its SHA-256. */
  private readonly heads = new Map<string, boolean>();
  /** Shard by shard: the shard fetched last, deleted when the engine reads past another's header. */
  private fetched: string | null = null;
  /** Files whose download has a verified record here (checked against the planned header). */
  private readonly verified = new Set<string>();

  private constructor(
    private readonly store: ChunkStore,
    private readonly model: ModelRecord,
    private readonly files: Map<string, FileRecord>,
    private readonly lazy: Background | undefined,
  ) {}

  /**
   * A reader over a complete cached model; 'not-found' when it is not (fully) cached. With
   * `lazy`, a model whose shards are still to arrive (model-cache.ts `LazyFiles`): those are read
   * as they download.
   */
  static async open(store: ChunkStore, key: string, lazy?: Background): Promise<StoreReader> {
    const model = await store.getModel(key);
    if (model === null || (!model.complete && lazy === undefined)) throw new JanusError('not-found', `${key} is not cached completely`);
    const files = new Map<string, FileRecord>();
    for (const path of model.files) {
      const record = await store.getFile(fileKey(key, path));
      if (record === null || (!record.complete && lazy === undefined)) throw new JanusError('not-found', `${key}${path} is not cached completely`);
      files.set(path, record);
    }
    return new StoreReader(store, model, files, lazy);
  }

  /** For messages. */
  describe(): string {
    return `${this.model.key} (cached)`;
  }

  /** The file's size, or null when the model has no such file. */
  async size(path: string): Promise<number | null> {
    return this.files.get(path)?.size ?? null;
  }

  /** Exactly `length` bytes at `offset` of `path`. */
  async read(path: string, offset: number, length: number): Promise<Uint8Array> {
    let record = this.files.get(path);
    if (record === undefined) throw new JanusError('not-found', `${this.model.key}${path}: not part of the cached model`);
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > record.size) {
      throw new JanusError('bad-checkpoint', `${path}: read of ${length} bytes at ${offset} is outside its ${record.size} bytes`);
    }
    if (length === 0) return new Uint8Array(0);
    if (record.head !== undefined && offset + length <= record.head.bytes.length && (await this.headOk(record))) {
      // As a read of chunk 0 for the order of reads: the file's tensors read on from there.
      if (!this.last.has(record.key)) this.last.set(record.key, 0);
      return record.head.bytes.subarray(offset, offset + length);
    }
    if (!record.complete) await this.begin(record);
    const first = Math.floor(offset / record.chunkSize);
    if (Math.floor((offset + length - 1) / record.chunkSize) === first) {
      // Inside one chunk (most reads): a view of it, no copy; the engine copies it into wasm.
      const start = offset - first * record.chunkSize;
      return (await this.chunkBytes(record, first)).subarray(start, start + length);
    }
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const at = offset + done;
      const index = Math.floor(at / record.chunkSize);
      const bytes = await this.chunkBytes(record, index);
      const start = at - index * record.chunkSize;
      const take = Math.min(length - done, bytes.length - start);
      out.set(bytes.subarray(start, start + take), done);
      done += take;
    }
    return out;
  }

  /** A file still to arrive: its download started (shard by shard, the shard before released first). */
  private async begin(record: FileRecord): Promise<void> {
    if (this.lazy === undefined || !this.lazy.has(record.path)) throw new JanusError('not-found', `${record.path} is not cached completely`);
    if (this.fetched === record.path) return;
    if (!this.lazy.keep && this.fetched !== null) await this.release(this.fetched);
    this.lazy.fetch(record.path);
    this.fetched = record.path;
  }

  /**
   * Shard by shard: delete a shard the engine has read, once its download has ended (its record
   * kept here as incomplete: a read fetches it again).
   */
  private async release(path: string): Promise<void> {
    const record = this.files.get(path);
    this.fetched = null;
    await this.lazy?.release(path);
    this.verified.delete(path);
    if (record === undefined) return;
    if (this.chunk?.file === record.key) this.chunk = null;
    if (this.ahead?.file === record.key) this.ahead = null;
    this.last.delete(record.key);
    await this.store.deleteFile(record.key);
    this.files.set(path, { ...record, complete: false });
  }

  /**
   * The record to check chunk `index` against: a file still downloading waits until the chunk
   * is stored (its last chunk, until the file is verified). A verified file must have the header
   * the load was planned from, which was read before the file was.
   */
  private async arrived(record: FileRecord, index: number): Promise<FileRecord> {
    if (record.complete || this.lazy === undefined) return record;
    const planned = this.files.get(record.path) ?? record;
    if (planned.complete) return planned;
    const whole = await this.lazy.chunk(record.path, index, chunkCount(record.size, record.chunkSize));
    if (whole === null) return planned;
    if (!this.verified.has(record.path)) {
      if (planned.head !== undefined && whole.head?.sha256 !== planned.head.sha256) {
        throw new JanusError('integrity', `${record.path}: the verified file has another header than the one the load was planned from; load again`);
      }
      this.verified.add(record.path);
    }
    this.files.set(record.path, whole);
    return whole;
  }

  private async chunkBytes(record: FileRecord, index: number): Promise<Uint8Array> {
    if (this.chunk !== null && this.chunk.file === record.key && this.chunk.index === index) return this.chunk.bytes;
    this.chunk = null;
    const ahead = this.ahead?.file === record.key ? this.ahead.chunks : undefined;
    const pending = ahead?.get(index);
    ahead?.delete(index);
    // In order: the chunk after the last one asked for, or that one again (a header read counts
    // as chunk 0's; where no header copy is kept, the loader reads a shard's first chunk for its
    // header, then again for its first tensors).
    const last = this.last.get(record.key);
    const sequential = last === index - 1 || last === index;
    this.last.set(record.key, index);
    if (sequential) this.readAhead(record, index);
    const checked = await (pending ?? this.check(record, index));
    if (!checked.ok) {
      await this.store.deleteChunk(record.key, index).catch(() => undefined);
      throw new JanusError(
        'integrity',
        `${record.path}: stored chunk ${index} is ${checked.stored === null ? 'missing' : 'damaged'}; it was removed and will be downloaded again`,
      );
    }
    this.chunk = { file: record.key, index, bytes: checked.stored.bytes };
    return checked.stored.bytes;
  }

  /** Starts reading chunks index + 1 ..= index + READ_AHEAD of the file; drops any other file's. */
  private readAhead(record: FileRecord, index: number): void {
    if (this.ahead?.file !== record.key) this.ahead = { file: record.key, chunks: new Map() };
    const chunks = this.ahead.chunks;
    for (const i of chunks.keys()) if (i <= index) chunks.delete(i);
    const count = Math.ceil(record.size / record.chunkSize);
    for (let i = index + 1; i <= index + READ_AHEAD && i < count; i += 1) {
      if (chunks.has(i)) continue;
      const read = this.check(record, i);
      // A failure surfaces when the engine asks for the chunk, not as an unhandled rejection.
      read.catch(() => undefined);
      chunks.set(i, read);
    }
  }

  /** Whether the record's kept header matches its SHA-256 (checked once per file). */
  private async headOk(record: FileRecord): Promise<boolean> {
    let ok = this.heads.get(record.key);
    if (ok === undefined && record.head !== undefined) {
      ok = (await sha256Hex(record.head.bytes)) === record.head.sha256;
      this.heads.set(record.key, ok);
    }
    return ok === true;
  }

  /**
   * Chunk `index` of the file from the store, checked against its length and SHA-256: the one
   * recorded when the file was verified, or (still downloading) the one taken when it arrived.
   */
  private async check(planned: FileRecord, index: number): Promise<Checked> {
    const record = await this.arrived(planned, index);
    const stored = await this.store.getChunk(record.key, index);
    const want = record.complete ? record.chunkHashes?.[index] : stored?.sha256;
    if (
      stored !== null &&
      stored.bytes.length === chunkLength(record.size, record.chunkSize, index) &&
      want !== undefined &&
      (await sha256Hex(stored.bytes)) === want
    ) {
      return { ok: true, stored };
    }
    return { ok: false, stored };
  }
}
