// The quantised form of a model, kept in the weight store. An engine created with `quant` that
// loads a model which is not a pack writes the model's pack while it loads (the same reads; see
// Engine.loadFrom's onPackFile): `janus pack`'s files, which are stored here as a model of their
// own under `packKey(baseUrl, quant)`. The next start loads that instead — no re-quantising, a
// quarter of the bytes read — and the bf16 download it came from can be released.

import { JanusError } from '../errors.js';
import { sha256Hex } from './hash.js';
import { chunkCount, fileHead, fileKey, type ChunkStore, type ModelRecord } from './records.js';

export type PackQuant = 'q8' | 'q4';

/** The store key of the pack of the model at `baseUrl` in `quant`. */
export function packKey(baseUrl: string, quant: PackQuant): string {
  return `${baseUrl}janus-pack-${quant}/`;
}

/** True for a key made by `packKey`. */
export function isPackKey(key: string): boolean {
  return /janus-pack-q[48]\/$/.test(key);
}

/**
 * Receives the pack's files from the engine (`onFile`, as Engine.loadFrom's onPackFile) and
 * stores each as a complete, verified file: its chunks with their SHA-256, then its record.
 * The model record is marked complete only by `complete()`, after the manifest; `abandon()`
 * removes what was written (a failed or cancelled load leaves no half pack).
 */
export class PackRecorder {
  private readonly files: string[] = [];
  private bytes = 0;
  /** Why storing stopped (a full disk): the load goes on, the pack is abandoned afterwards. */
  failure: JanusError | null = null;
  private readonly createdAt = Date.now();

  constructor(
    private readonly store: ChunkStore,
    readonly key: string,
    private readonly name: string,
    private readonly chunkBytes: number,
  ) {}

  private record(complete: boolean): ModelRecord {
    const record: ModelRecord = { key: this.key, name: this.name, files: [...this.files], bytes: this.bytes, complete, createdAt: this.createdAt };
    if (complete) record.completedAt = Date.now();
    return record;
  }

  /** Start afresh (a stale half pack under the key is removed). */
  async begin(): Promise<void> {
    await this.store.deleteModel(this.key);
    await this.store.putModel(this.record(false));
  }

  /**
   * Store one file of the pack; `sha256` is the engine's hash of `bytes`. Never rejects: a
   * failure to store (quota) must not fail the load, so it is kept in `failure` and later files
   * are dropped.
   */
  readonly onFile = async (path: string, bytes: Uint8Array, sha256: string): Promise<void> => {
    if (this.failure !== null) return;
    try {
      await this.put(path, bytes, sha256);
    } catch (error) {
      this.failure = error instanceof JanusError ? error : new JanusError('storage', `storing the pack: ${String(error)}`);
      // Chunks written before the failure have no file record yet: remove them here.
      await this.store.deleteChunks(fileKey(this.key, path), 0).catch(() => undefined);
    }
  };

  private async put(path: string, bytes: Uint8Array, sha256: string): Promise<void> {
    if (!/^[\w][\w.-]*$/.test(path)) throw new JanusError('internal', `the engine wrote a pack file named ${JSON.stringify(path)}`);
    const key = fileKey(this.key, path);
    const chunkHashes: string[] = [];
    const count = Math.max(1, chunkCount(bytes.length, this.chunkBytes));
    for (let i = 0; i < count; i += 1) {
      // A copy: storing a view would store the whole underlying buffer.
      const chunk = bytes.slice(i * this.chunkBytes, (i + 1) * this.chunkBytes);
      const hash = await sha256Hex(chunk);
      chunkHashes.push(hash);
      await this.store.putChunk(key, i, { bytes: chunk, sha256: hash });
    }
    const expected = { kind: 'sha256' as const, hex: sha256 };
    // The shard's header kept with its record, as a download's is (records.ts FileRecord.head).
    const head = await fileHead(bytes.subarray(0, this.chunkBytes));
    await this.store.putFile({
      key,
      model: this.key,
      path,
      url: this.key + path,
      size: bytes.length,
      chunkSize: this.chunkBytes,
      etag: null,
      expected,
      hashSource: 'manifest',
      complete: true,
      digest: expected,
      chunkHashes,
      ...(head === null ? {} : { head }),
      updatedAt: Date.now(),
    });
    this.files.push(path);
    this.bytes += bytes.length;
  }

  /** Every file is stored: the pack is usable from now on. */
  async complete(): Promise<void> {
    await this.store.putModel(this.record(true));
  }

  /** Remove whatever was written. */
  async abandon(): Promise<void> {
    await this.store.deleteModel(this.key).catch(() => undefined);
  }
}
