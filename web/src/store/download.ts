// Downloading one file into the chunk store: ranged, resumable, verified.
//
// The file arrives as one ranged request from the first missing chunk to the end; the body is
// cut into chunks as it streams, and each full chunk is hashed and written in its own transaction
// before the next one is filled. A drop, a reload or a closed tab therefore loses at most the chunk
// in flight: the next call re-hashes the stored chunks (the file's hash must cover every byte in
// order) and asks for the rest. Retryable failures (network, 429, 5xx, a short body) are retried
// with capped backoff; the count resets whenever a chunk lands. Only when the whole file hashes to
// the expected value is its record marked complete; a mismatch discards it and downloads it once
// more, then fails with 'integrity'.

import { JanusError, type JanusErrorCode } from '../errors.js';
import { FileHasher, hashFromEtag, sha256Hex, type ExpectedHash } from './hash.js';
import { DEFAULT_RETRY, backoffMs, judgeResponse, pageOrigin, rangeHeader, unreachableHint, type RetryPolicy } from './http.js';
import {
  chunkCount,
  chunkLength,
  fileHead,
  fileKey,
  safetensorsHeadEnd,
  type ChunkStore,
  type FileHead,
  type FileRecord,
  type HashSource,
  type ResumePoint,
} from './records.js';

/** Records are at most this large (IndexedDB values past ~128 MB fail in some browsers). */
export const MAX_CHUNK_BYTES = 64 * 1024 * 1024;
export const DEFAULT_CHUNK_BYTES = 16 * 1024 * 1024;

/** One file to fetch. */
export interface FileTask {
  /** The model's key (its base URL). */
  model: string;
  /** Relative to the base URL. */
  path: string;
  url: string;
  size: number;
  expected: ExpectedHash | null;
  hashSource: HashSource;
}

export interface DownloadOptions {
  signal?: AbortSignal | undefined;
  retry?: RetryPolicy | undefined;
  chunkBytes?: number | undefined;
  /**
   * Send `If-Range` with resumed requests: 'auto' does so for same-origin URLs only, because on a
   * cross-origin request it is not a CORS-safelisted header and costs a preflight that some CDNs
   * refuse. Every response's ETag is compared with the stored one either way.
   */
  ifRange?: 'auto' | boolean | undefined;
  /** Bytes newly verified for this file (`done` of `total`), after each chunk and each piece. */
  onProgress?: ((file: string, done: number, total: number) => void) | undefined;
  /** A request that brings no byte for this long is abandoned and retried (default 60 s). */
  idleTimeoutMs?: number | undefined;
  /**
   * Stop once the file's first N chunks are stored: the record stays incomplete (unverified, and
   * resumable by a later call without it). Shard-by-shard loads fetch each shard's first chunk
   * this way, for the safetensors header the engine reads before any tensor (model-cache.ts).
   */
  limitChunks?: number | undefined;
  /**
   * The file's first `count` chunks are stored now, each checked against its own SHA-256 (the
   * file's hash is checked only once the last one lands). Called after the stored prefix is
   * resumed, after each chunk lands, and with 0 when the stored chunks are discarded (a restart
   * or a file that fails its hash). A load that reads the file while it downloads waits on this
   * (store/background.ts).
   */
  onStored?: ((count: number) => void) | undefined;
}

/** What a finished download did, for reports and tests. */
export interface DownloadOutcome {
  record: FileRecord;
  /** Body bytes received over the network for this file. */
  fetchedBytes: number;
  /** Bytes that were already stored and verified (resumed from). */
  resumedBytes: number;
  requests: number;
  retries: number;
  /** Whole-file restarts: a 200 to a ranged request, a changed ETag, or a hash mismatch. */
  restarts: number;
}

/** Fetch `task` into `store` (or finish/repair it); resolves with the complete record. */
export async function downloadFile(store: ChunkStore, task: FileTask, options: DownloadOptions = {}): Promise<DownloadOutcome> {
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 1 || chunkBytes > MAX_CHUNK_BYTES) {
    throw new JanusError('bad-request', `chunkBytes must be a whole number from 1 to ${MAX_CHUNK_BYTES}`);
  }
  const run = new Download(store, task, options, chunkBytes);
  await run.start();
  return run.outcome();
}

/**
 * Store the file's safetensors header alone (`FileRecord.head`, on a record kept incomplete and
 * resumable), without its first chunk: a load that reads the shards while they download plans
 * from every header first (model-cache.ts `stream`). Resolves with the outcome, whose record has
 * no `head` where the file has no safetensors header within MAX_HEAD_BYTES.
 */
export async function downloadHead(store: ChunkStore, task: FileTask, options: DownloadOptions = {}): Promise<DownloadOutcome> {
  const run = new Download(store, task, options, options.chunkBytes ?? DEFAULT_CHUNK_BYTES);
  await run.head();
  return run.outcome();
}

/**
 * The first request for a header asks for this much; a longer header takes a second request.
 * Janus-Pro-7B's bf16 shards' headers are 10–63 KB and a pack shard's 6.5 KB: one request;
 * Janus-1.3B's single file's is 91 KB: two. The body's download fetches these bytes again.
 */
const HEAD_GUESS_BYTES = 64 * 1024;

class Download {
  private record!: FileRecord;
  private readonly key: string;
  private readonly retry: RetryPolicy;
  /** Chunks to stop at (`limitChunks`; none: the whole file). */
  private readonly limit: number;
  private fetchedBytes = 0;
  private resumedBytes = 0;
  private requests = 0;
  private retries = 0;
  private restarts = 0;

  constructor(
    private readonly store: ChunkStore,
    private readonly task: FileTask,
    private readonly options: DownloadOptions,
    private readonly chunkBytes: number,
  ) {
    this.key = fileKey(task.model, task.path);
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.limit = options.limitChunks ?? Infinity;
  }

  outcome(): DownloadOutcome {
    return {
      record: this.record,
      fetchedBytes: this.fetchedBytes,
      resumedBytes: this.resumedBytes,
      requests: this.requests,
      retries: this.retries,
      restarts: this.restarts,
    };
  }

  async start(): Promise<void> {
    const { task } = this;
    const stored = await this.store.getFile(this.key);
    if (stored !== null && stored.complete && this.matches(stored)) {
      this.record = stored;
      await this.repair();
      return;
    }
    if (stored !== null && !stored.complete && this.matches(stored) && stored.chunkSize === this.chunkBytes) {
      this.record = stored;
    } else {
      // Nothing stored, or stored for another size, hash or chunking: start clean.
      if (stored !== null) await this.store.deleteFile(this.key);
      await this.fresh();
    }
    for (let pass = 1; ; pass += 1) {
      const hasher = await this.resume();
      await this.fetchRest(hasher);
      if (hasher.index * this.record.chunkSize < this.record.size) return; // stopped at limitChunks
      const digest = hasher.digest(this.record.expected);
      const expected = this.record.expected;
      if (expected === null || digest.hex === expected.hex) {
        const head = this.record.head ?? (await this.storedHead());
        this.record = {
          ...this.record,
          complete: true,
          digest,
          chunkHashes: hasher.chunkHashes,
          ...(head === null ? {} : { head }),
          updatedAt: Date.now(),
        };
        await this.store.putFile(this.record);
        return;
      }
      // Corrupt in transit (or the server's hash is stale): never kept, fetched once more.
      await this.store.deleteChunks(this.key, 0);
      this.options.onStored?.(0);
      if (pass >= 2) {
        throw new JanusError(
          'integrity',
          `${task.url}: the downloaded file does not match its ${expected.kind === 'sha256' ? 'SHA-256' : 'git SHA-1'} ` +
            `(${this.record.hashSource}: ${expected.hex}, received: ${digest.hex}), twice; it was not kept`,
        );
      }
      this.restarts += 1;
    }
  }

  /** The header alone, on an incomplete record (see `downloadHead`). */
  async head(): Promise<void> {
    const stored = await this.store.getFile(this.key);
    if (stored !== null && this.matches(stored) && stored.chunkSize === this.chunkBytes) {
      this.record = stored;
      if (stored.head !== undefined) return;
      if ((await this.store.chunkIndices(this.key))[0] === 0) {
        // Resumed from a chunk 0 stored without its header copy.
        const head = await this.storedHead();
        if (head !== null) {
          this.record = { ...stored, head, updatedAt: Date.now() };
          await this.store.putFile(this.record);
        }
        return;
      }
    } else {
      if (stored !== null) await this.store.deleteFile(this.key);
      await this.fresh();
    }
    const { size } = this.record;
    let { bytes, etag } = await this.fetchRange(0, Math.min(size, HEAD_GUESS_BYTES));
    const stated = safetensorsHeadEnd(bytes);
    if (stated !== null && stated > bytes.length && stated <= size) {
      const rest = await this.fetchRange(bytes.length, stated - bytes.length);
      if (etag !== null && rest.etag !== null && rest.etag !== etag) return; // changed between the two: no header kept
      const whole = new Uint8Array(stated);
      whole.set(bytes);
      whole.set(rest.bytes, bytes.length);
      bytes = whole;
    }
    const head = await fileHead(bytes);
    if (head === null) return;
    // The ETag goes with the header: a body fetched later from another version restarts.
    await this.learn(etag);
    this.record = { ...this.record, head, updatedAt: Date.now() };
    await this.store.putFile(this.record);
  }

  /** A stored record is for this task: same size and no conflicting expected hash. */
  private matches(record: FileRecord): boolean {
    const want = this.task.expected;
    if (record.size !== this.task.size) return false;
    if (want === null || record.expected === null) return true;
    return want.kind === record.expected.kind ? want.hex === record.expected.hex : true;
  }

  private async fresh(): Promise<void> {
    const { task } = this;
    this.record = {
      key: this.key,
      model: task.model,
      path: task.path,
      url: task.url,
      size: task.size,
      chunkSize: this.chunkBytes,
      etag: null,
      expected: task.expected,
      hashSource: task.expected === null ? 'none' : task.hashSource,
      complete: false,
      updatedAt: Date.now(),
    };
    await this.store.putFile(this.record);
  }

  /**
   * The hasher at the end of the stored prefix of the file: chunks 0..k-1 present. The last of them
   * carries the hash state (checked against its own SHA-256 first); without a usable one, every
   * stored chunk is read back, checked and hashed again. Anything after the first gap or bad
   * chunk is deleted.
   */
  private async resume(): Promise<ChunkHasher> {
    const { size, chunkSize, expected } = this.record;
    const indices = await this.store.chunkIndices(this.key);
    let next = 0;
    while (next < indices.length && indices[next] === next) next += 1;
    if (next < indices.length) await this.store.deleteChunks(this.key, next);
    let hasher: ChunkHasher | null = null;
    if (next > 0) {
      const last = await this.store.getChunk(this.key, next - 1);
      const sound =
        last !== null &&
        last.resume?.chunkHashes.length === next &&
        last.bytes.length === chunkLength(size, chunkSize, next - 1) &&
        (await sha256Hex(last.bytes)) === last.sha256;
      if (sound && last?.resume !== undefined) {
        hasher = await ChunkHasher.create(expected, size, last.resume).catch(() => null);
      }
    }
    if (hasher === null) {
      hasher = await ChunkHasher.create(expected, size);
      for (let i = 0; i < next; i += 1) {
        const chunk = await this.store.getChunk(this.key, i);
        if (chunk === null || chunk.bytes.length !== chunkLength(size, chunkSize, i) || (await sha256Hex(chunk.bytes)) !== chunk.sha256) {
          await this.store.deleteChunks(this.key, i);
          break;
        }
        hasher.add(chunk.bytes, chunk.sha256);
      }
    }
    this.resumedBytes = Math.min(size, hasher.index * chunkSize);
    this.options.onProgress?.(this.task.path, this.resumedBytes, size);
    this.options.onStored?.(hasher.index);
    return hasher;
  }

  private async restartFrom0(hasher: ChunkHasher): Promise<void> {
    this.restarts += 1;
    await hasher.reset();
    await this.store.deleteChunks(this.key, 0);
    this.options.onStored?.(0);
  }

  private ifRange(): boolean {
    const mode = this.options.ifRange ?? 'auto';
    if (mode !== 'auto') return mode;
    const origin = pageOrigin();
    return origin !== undefined && new URL(this.task.url).origin === origin;
  }

  /** The header from the stored chunk 0, for a download resumed from a record kept without one. */
  private async storedHead(): Promise<FileHead | null> {
    const first = await this.store.getChunk(this.key, 0);
    return first === null ? null : fileHead(first.bytes);
  }

  /** Fetch from the hasher's position to the end of the file. */
  private async fetchRest(hasher: ChunkHasher): Promise<void> {
    const { signal } = this.options;
    const { url, path } = this.task;
    const { size, chunkSize } = this.record;
    // More is wanted: the file is not all here, and the chunk limit not reached.
    const wanted = (): boolean => hasher.index * chunkSize < size && hasher.index < this.limit;
    let failures = 0;
    while (wanted()) {
      throwIfAborted(signal);
      const offset = hasher.index * chunkSize;
      const headers: Record<string, string> = { Range: rangeHeader(offset, size - 1) };
      if (offset > 0 && this.record.etag !== null && this.ifRange()) headers['If-Range'] = this.record.etag;
      let verdict;
      let response: Response;
      const idle = new IdleTimer(this.options.idleTimeoutMs ?? 60_000, signal);
      try {
        this.requests += 1;
        response = await fetch(url, { headers, signal: idle.signal, cache: 'no-store' });
        verdict = judgeResponse(response.status, response.headers, { url, file: path, offset, size });
      } catch (error) {
        idle.stop();
        throwIfAborted(signal);
        failures = await this.failed(failures, 'network', `${url}: the download failed (${idle.explain(error)}); ${unreachableHint(url)}`);
        continue;
      }
      if (verdict.kind === 'fail') {
        idle.stop();
        await response.body?.cancel().catch(() => undefined);
        if (!verdict.retry) throw new JanusError(verdict.code, verdict.message);
        failures = await this.failed(failures, verdict.code, verdict.message, verdict.retryAfterMs);
        continue;
      }
      const etag = strongEtag(response.headers.get('ETag'));
      const changed = this.record.etag !== null && etag !== null && etag !== this.record.etag;
      try {
        if (offset > 0 && (verdict.kind === 'whole' || changed)) {
          // A whole file to a resumed request, or another version of the file: never splice it
          // onto what is stored. A whole body is used from byte 0; a changed partial one is dropped.
          await this.restartFrom0(hasher);
          if (verdict.kind !== 'whole') {
            idle.stop();
            await response.body?.cancel().catch(() => undefined);
            await this.learn(null);
            continue;
          }
        }
        await this.learn(etag);
      } catch (error) {
        // A store write failed (quota, the page closing): release the connection and the idle
        // timer with it, or both outlive the download (found by write-order.test.ts).
        idle.stop();
        await response.body?.cancel().catch(() => undefined);
        throw error;
      }
      hasher.settle(this.record.expected);
      const skip = verdict.kind === 'partial' ? verdict.skip : 0;
      const landed = await this.stream(response, skip, hasher, idle)
        .catch(async (error: unknown) => {
          throwIfAborted(signal);
          if (error instanceof JanusError) throw error;
          failures = await this.failed(failures, 'network', `${url}: the download broke off (${idle.explain(error)})`);
          return -1;
        })
        .finally(() => idle.stop());
      if (landed > 0) failures = 0;
      if (landed >= 0 && wanted()) {
        failures = await this.failed(failures, 'network', `${url}: the response ended ${size - hasher.index * chunkSize} bytes early`);
      }
    }
  }

  /** Count a failure; throw once the policy's attempts are spent, else pause. */
  private async failed(failures: number, code: JanusErrorCode, message: string, retryAfter?: number): Promise<number> {
    const count = failures + 1;
    if (count >= this.retry.attempts) {
      throw new JanusError(code, `${message} (gave up after ${count} attempt${count === 1 ? '' : 's'}; the parts already downloaded are kept)`);
    }
    this.retries += 1;
    await abortableSleep(backoffMs(this.retry, count, Math.random(), retryAfter), this.options.signal);
    return count;
  }

  /** Keep the response's validator, and the hash it states when nothing better is known. */
  private async learn(etag: string | null): Promise<void> {
    const record = { ...this.record, etag };
    const stated = hashFromEtag(etag);
    if (this.task.hashSource === 'etag' || this.task.hashSource === 'none') {
      record.expected = stated;
      record.hashSource = stated === null ? 'none' : 'etag';
    }
    if (record.etag !== this.record.etag || record.expected?.hex !== this.record.expected?.hex) {
      this.record = record;
      await this.store.putFile(record);
    }
  }

  /**
   * Read the body into chunks: full chunks are hashed and stored as they fill; a partial last
   * piece is dropped (the next request asks for it again). One chunk's write overlaps the reading
   * and hashing of the next (at most one write in flight). Returns the chunks stored.
   */
  private async stream(response: Response, skip: number, hasher: ChunkHasher, idle: IdleTimer): Promise<number> {
    const { size, chunkSize } = this.record;
    const body = response.body;
    if (body === null) throw new Error('the response has no body');
    const reader = body.getReader();
    let landed = 0;
    let writing: Promise<void> | null = null;
    let buffer = new Uint8Array(chunkLength(size, chunkSize, hasher.index));
    let filled = 0;
    let toSkip = skip;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) {
          if (writing !== null) await writing;
          writing = null;
          return landed;
        }
        idle.touch();
        this.fetchedBytes += value.length;
        let piece = value;
        if (toSkip > 0) {
          const dropped = Math.min(toSkip, piece.length);
          toSkip -= dropped;
          piece = piece.subarray(dropped);
        }
        while (piece.length > 0) {
          if (hasher.index * chunkSize >= size) {
            throw new JanusError('bad-response', `${this.task.url}: the server sent more than the file's ${size} bytes`);
          }
          const take = Math.min(piece.length, buffer.length - filled);
          buffer.set(piece.subarray(0, take), filled);
          filled += take;
          piece = piece.subarray(take);
          if (filled === buffer.length) {
            const index = hasher.index;
            // Chunk 0's safetensors header goes on the record, rewritten once the chunk is
            // stored: a resumed run finds it there (records.ts FileRecord.head).
            let headed: FileRecord | null = null;
            if (index === 0) {
              const { head: _, ...rest } = this.record;
              const head = await fileHead(buffer);
              this.record = head === null ? rest : { ...rest, head };
              if (head !== null) headed = this.record;
            }
            const sha = await sha256Hex(buffer);
            hasher.add(buffer, sha);
            const chunk = { bytes: buffer, sha256: sha, resume: hasher.point() };
            if (writing !== null) await writing;
            writing = this.store.putChunk(this.key, index, chunk).then(async () => {
              landed += 1;
              if (headed !== null) await this.store.putFile(headed);
              this.options.onStored?.(index + 1);
            });
            // Observed by the next await of it; until then, not an unhandled rejection.
            writing.catch(() => undefined);
            filled = 0;
            if (hasher.index >= this.limit) {
              // As many chunks as asked for: the rest of the body is not wanted now.
              await writing;
              writing = null;
              return landed;
            }
            if (hasher.index * chunkSize < size) buffer = new Uint8Array(chunkLength(size, chunkSize, hasher.index));
          }
        }
        this.options.onProgress?.(this.task.path, Math.min(size, hasher.index * chunkSize + filled), size);
      }
    } finally {
      // The chunk in flight lands before anything else happens; if its write failed (quota),
      // that is the error to report, since the hasher already counts it.
      if (writing !== null) await writing;
      await reader.cancel().catch(() => undefined);
    }
  }

  /**
   * A complete file: fetch any chunk that has gone missing (deleted, evicted record) alone, and
   * check it against the hash recorded when the file was verified.
   */
  private async repair(): Promise<void> {
    const { size, chunkSize, chunkHashes } = this.record;
    const count = chunkCount(size, chunkSize);
    const present = new Set(await this.store.chunkIndices(this.key));
    const missing = [];
    for (let i = 0; i < count; i += 1) if (!present.has(i)) missing.push(i);
    if (missing.length === 0) return;
    if (chunkHashes === undefined || chunkHashes.length !== count) {
      // Cannot check a lone chunk: fetch the file again.
      await this.store.deleteFile(this.key);
      await this.start();
      return;
    }
    for (const index of missing) {
      const bytes = await this.fetchChunk(index);
      const sha = await sha256Hex(bytes);
      if (sha !== chunkHashes[index]) {
        // The server's file is no longer the one cached: download it whole again.
        await this.store.deleteFile(this.key);
        this.restarts += 1;
        await this.start();
        return;
      }
      await this.store.putChunk(this.key, index, { bytes, sha256: sha });
    }
  }

  /** Chunk `index` alone (a repair). */
  private async fetchChunk(index: number): Promise<Uint8Array> {
    const { size, chunkSize } = this.record;
    return (await this.fetchRange(index * chunkSize, chunkLength(size, chunkSize, index))).bytes;
  }

  /** `length` bytes at `offset` alone, with the answer's strong ETag. */
  private async fetchRange(offset: number, length: number): Promise<{ bytes: Uint8Array; etag: string | null }> {
    const { url, path } = this.task;
    const { size } = this.record;
    let failures = 0;
    for (;;) {
      throwIfAborted(this.options.signal);
      try {
        this.requests += 1;
        const response = await fetch(url, {
          headers: { Range: rangeHeader(offset, offset + length - 1) },
          signal: this.options.signal ?? null,
          cache: 'no-store',
        });
        const verdict = judgeResponse(response.status, response.headers, { url, file: path, offset, size, end: offset + length - 1 });
        if (verdict.kind === 'fail') {
          await response.body?.cancel().catch(() => undefined);
          if (!verdict.retry) throw new JanusError(verdict.code, verdict.message);
          failures = await this.failed(failures, verdict.code, verdict.message, verdict.retryAfterMs);
          continue;
        }
        // A whole-file answer is fine here: a repair's slice is checked against the recorded
        // hash, a header against the file's once the file is verified.
        const skip = verdict.kind === 'partial' ? verdict.skip : offset;
        const bytes = await readSlice(response, skip, length, (n) => {
          this.fetchedBytes += n;
        });
        if (bytes !== null) return { bytes, etag: strongEtag(response.headers.get('ETag')) };
        failures = await this.failed(failures, 'network', `${url}: the response ended early`);
      } catch (error) {
        throwIfAborted(this.options.signal);
        if (error instanceof JanusError) throw error;
        failures = await this.failed(failures, 'network', `${url}: the download failed (${messageOf(error)})`);
      }
    }
  }
}

/** The file's running hash plus the hashes of the chunks fed to it, in order. */
class ChunkHasher {
  private constructor(
    private readonly size: number,
    private sha256: FileHasher,
    /** While no hash is known the ETag may still state a git SHA-1: both are kept. */
    private gitSha1: FileHasher | null,
    public chunkHashes: string[],
  ) {}

  /** Fresh, or continuing from a chunk's resume point (which must hold the states `expected` needs). */
  static async create(expected: ExpectedHash | null, size: number, from?: ResumePoint): Promise<ChunkHasher> {
    const wantsGit = expected === null || expected.kind === 'git-sha1';
    if (from !== undefined && wantsGit && from.gitSha1 === undefined) throw new Error('the resume point has no git SHA-1 state');
    const sha256 = await FileHasher.create('sha256', size, from?.sha256);
    const gitSha1 = wantsGit ? await FileHasher.create('git-sha1', size, from?.gitSha1) : null;
    return new ChunkHasher(size, sha256, gitSha1, [...(from?.chunkHashes ?? [])]);
  }

  /** The next chunk index to fetch. */
  get index(): number {
    return this.chunkHashes.length;
  }

  add(bytes: Uint8Array, sha256: string): void {
    this.sha256.update(bytes);
    this.gitSha1?.update(bytes);
    this.chunkHashes.push(sha256);
  }

  /** Where the hash stands now (stored with the chunk just added). */
  point(): ResumePoint {
    const point: ResumePoint = { sha256: this.sha256.save(), chunkHashes: [...this.chunkHashes] };
    if (this.gitSha1 !== null) point.gitSha1 = this.gitSha1.save();
    return point;
  }

  /** Once the expected hash is known, stop computing the kind it is not. */
  settle(expected: ExpectedHash | null): void {
    if (expected?.kind === 'sha256') this.gitSha1 = null;
  }

  async reset(): Promise<void> {
    this.sha256 = await FileHasher.create('sha256', this.size);
    this.gitSha1 = this.gitSha1 === null ? null : await FileHasher.create('git-sha1', this.size);
    this.chunkHashes = [];
  }

  /** The digest in the kind `expected` asks for (SHA-256 when nothing is expected). */
  digest(expected: ExpectedHash | null): ExpectedHash {
    if (expected?.kind === 'git-sha1' && this.gitSha1 !== null) return { kind: 'git-sha1', hex: this.gitSha1.hex() };
    return { kind: 'sha256', hex: this.sha256.hex() };
  }
}

/**
 * Aborts a request that stalls: no byte for `ms`. Its signal also follows the caller's, so one
 * signal goes to fetch; `explain` tells a stall from other failures in messages.
 */
class IdleTimer {
  private readonly controller = new AbortController();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private fired = false;
  readonly signal: AbortSignal;

  constructor(
    private readonly ms: number,
    outer: AbortSignal | undefined,
  ) {
    this.signal = outer === undefined ? this.controller.signal : AbortSignal.any([outer, this.controller.signal]);
    this.touch();
  }

  touch(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.fired = true;
      this.controller.abort(new Error(this.stall()));
    }, this.ms);
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  explain(error: unknown): string {
    return this.fired ? this.stall() : messageOf(error);
  }

  private stall(): string {
    return this.ms < 10_000 ? `no data for ${this.ms} ms` : `no data for ${Math.round(this.ms / 1000)} s`;
  }
}

/** `length` body bytes after skipping `skip`, or null when the body ends first. */
async function readSlice(response: Response, skip: number, length: number, counted: (n: number) => void): Promise<Uint8Array | null> {
  const body = response.body;
  if (body === null) return null;
  const reader = body.getReader();
  const out = new Uint8Array(length);
  let filled = 0;
  let toSkip = skip;
  try {
    while (filled < length) {
      const { done, value } = await reader.read();
      if (done) return null;
      counted(value.length);
      let piece = value;
      if (toSkip > 0) {
        const dropped = Math.min(toSkip, piece.length);
        toSkip -= dropped;
        piece = piece.subarray(dropped);
      }
      const take = Math.min(piece.length, length - filled);
      out.set(piece.subarray(0, take), filled);
      filled += take;
    }
    return out;
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

/** A strong ETag (weak ones cannot be used with If-Range), as sent. */
function strongEtag(value: string | null): string | null {
  if (value === null) return null;
  const trimmed = value.trim();
  return trimmed.startsWith('"') ? trimmed : null;
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new JanusError('aborted', 'the download was cancelled; the parts already downloaded are kept');
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new JanusError('aborted', 'the download was cancelled'));
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new JanusError('aborted', 'the download was cancelled; the parts already downloaded are kept'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message || error.name : String(error);
}
