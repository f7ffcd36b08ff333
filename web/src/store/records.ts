// What the weight store keeps, and the interface both stores (IndexedDB, memory) implement.
//
// A model is a base URL and its files; a file is stored as numbered chunks (<= 64 MiB each, one
// record per chunk, each with its own SHA-256). Records are written in this order, each in its own
// short transaction with the bytes already in hand:
//   1. ModelRecord (complete: false) and FileRecord (complete: false): what is being fetched;
//   2. chunks 0, 1, 2, ... as they are verified to have arrived whole (once chunk 0 is stored, the
//      FileRecord again, still complete: false, with the file's safetensors header, `head`);
//   3. FileRecord again with complete: true, the file's digest and every chunk's hash, only once
//      the whole file's hash matched the expected one;
//   4. ModelRecord with complete: true, once every file is.
// A crash between any two writes leaves a state the next start resumes from (a chunk without a
// complete FileRecord is a partial download; a complete FileRecord whose chunk is gone is repaired
// by fetching that chunk alone and checking it against the hash recorded in step 3).

import { sha256Hex, type ExpectedHash } from './hash.js';

/** Where a file's expected hash came from. */
/** Where a file's expected hash came from; `manifest`: a pack's janus-pack.json. */
export type HashSource = 'pinned' | 'hub' | 'manifest' | 'etag' | 'none';

export interface ModelRecord {
  /** The base URL, absolute, ending with '/': the identity of a cached model. */
  key: string;
  /** A registry id or the URL: for people. */
  name: string;
  /** Paths relative to the base URL, in download order. */
  files: string[];
  /** Sum of the files' sizes. */
  bytes: number;
  complete: boolean;
  createdAt: number;
  completedAt?: number;
}

export interface FileRecord {
  /** `fileKey(model, path)`. */
  key: string;
  model: string;
  path: string;
  url: string;
  size: number;
  chunkSize: number;
  /** The strong ETag of the bytes stored so far (sent as If-Range when resuming), if any. */
  etag: string | null;
  expected: ExpectedHash | null;
  hashSource: HashSource;
  complete: boolean;
  /** Set when complete: the file's hash (of `expected.kind`, SHA-256 when none was known). */
  digest?: ExpectedHash;
  /** Set when complete: SHA-256 of chunk i, for repairing a lost chunk without the others. */
  chunkHashes?: string[];
  /**
   * Set when complete, for a safetensors file: its header (the first 8 + N bytes, `fileHead`)
   * and their SHA-256. A cached load reads every shard's header before any tensor; served from
   * here, those reads need not read and hash each shard's whole first chunk. Absent in caches
   * written before it and for other files: those reads go to the chunk, as before.
   */
  head?: FileHead;
  updatedAt: number;
}

/** A file's leading bytes kept with its record (`FileRecord.head`). */
export interface FileHead {
  bytes: Uint8Array;
  sha256: string;
}

/** The most header bytes kept with a record: a real shard's header is tens of KiB. */
export const MAX_HEAD_BYTES = 1 << 20;

/**
 * The safetensors header at the start of `first` (a file's leading bytes): the 8-byte
 * little-endian length N and the N bytes of JSON after it, or null when `first` does not start
 * with one that fits in it and in MAX_HEAD_BYTES (not a safetensors file, or a header too big).
 */
export function safetensorsHead(first: Uint8Array): Uint8Array | null {
  if (first.length < 9) return null;
  const end = safetensorsHeadEnd(first);
  if (end === null) return null;
  // The JSON object's opening brace: a text file of 9+ bytes rarely starts with a length that
  // fits and a '{' after it, and one that did would only have its first bytes kept, verified.
  if (end > first.length || first[8] !== 0x7b) return null;
  return first.slice(0, end);
}

/**
 * Where the safetensors header that `first` (at least its 8-byte length) announces ends: 8 + N,
 * or null when N cannot be a header kept with a record (under 2 bytes, or past MAX_HEAD_BYTES).
 */
export function safetensorsHeadEnd(first: Uint8Array): number | null {
  if (first.length < 8) return null;
  const n = new DataView(first.buffer, first.byteOffset, 8).getBigUint64(0, true);
  return n < 2n || n > BigInt(MAX_HEAD_BYTES - 8) ? null : 8 + Number(n);
}

/** `FileRecord.head` of a file's leading bytes, or null when they start with no safetensors header. */
export async function fileHead(first: Uint8Array): Promise<FileHead | null> {
  const bytes = safetensorsHead(first);
  return bytes === null ? null : { bytes, sha256: await sha256Hex(bytes) };
}

export interface StoredChunk {
  bytes: Uint8Array;
  sha256: string;
  /** Where the file's hash stood after this chunk, so a resumed download need not re-read. */
  resume?: ResumePoint;
}

/** The file hashers' saved states after a chunk, and the hashes of every chunk so far. */
export interface ResumePoint {
  sha256: Uint8Array;
  /** Kept while the file's expected hash may still turn out to be a git blob SHA-1. */
  gitSha1?: Uint8Array;
  chunkHashes: string[];
}

export function fileKey(model: string, path: string): string {
  return `${model}\n${path}`;
}

export function chunkCount(size: number, chunkSize: number): number {
  return Math.ceil(size / chunkSize);
}

/** Byte length of chunk `index` of a file. */
export function chunkLength(size: number, chunkSize: number, index: number): number {
  return Math.min(chunkSize, size - index * chunkSize);
}

/** The weight store. Every method rejects with a JanusError ('storage' or 'quota') on failure. */
export interface ChunkStore {
  /** 'indexeddb' or 'memory' (private browsing, storage disabled, tests). */
  readonly kind: 'indexeddb' | 'memory';
  getModel(key: string): Promise<ModelRecord | null>;
  putModel(record: ModelRecord): Promise<void>;
  listModels(): Promise<ModelRecord[]>;
  /** The model, its files and their chunks. */
  deleteModel(key: string): Promise<void>;
  getFile(key: string): Promise<FileRecord | null>;
  putFile(record: FileRecord): Promise<void>;
  /** The file record and its chunks. */
  deleteFile(key: string): Promise<void>;
  /** Indices of the chunks stored for a file, ascending. */
  chunkIndices(file: string): Promise<number[]>;
  getChunk(file: string, index: number): Promise<StoredChunk | null>;
  putChunk(file: string, index: number, chunk: StoredChunk): Promise<void>;
  /** Chunks `from`, `from + 1`, ... of a file. */
  deleteChunks(file: string, from: number): Promise<void>;
  /** One chunk of a file. */
  deleteChunk(file: string, index: number): Promise<void>;
  close(): void;
}

// ---- guards: a record read from IndexedDB is checked before it is trusted (S9) -------------------
// The store is written only by this code, but it outlives the code: a record of another layout
// (an older or newer build, a damaged row) must read as absent, not as something it is not.

type Row = Record<string, unknown>;

function isRow(value: unknown): value is Row {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isHex(value: unknown, length: number): value is string {
  return typeof value === 'string' && value.length === length && /^[0-9a-f]+$/.test(value);
}

function isExpectedHash(value: unknown): boolean {
  if (!isRow(value)) return false;
  return (value.kind === 'sha256' && isHex(value.hex, 64)) || (value.kind === 'git-sha1' && isHex(value.hex, 40));
}

function isHashList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((hex) => isHex(hex, 64));
}

const HASH_SOURCES: readonly unknown[] = ['pinned', 'hub', 'manifest', 'etag', 'none'] satisfies HashSource[];

export function isModelRecord(value: unknown): value is ModelRecord {
  if (!isRow(value)) return false;
  const { key, name, files, bytes, complete, createdAt, completedAt } = value;
  return (
    typeof key === 'string' &&
    typeof name === 'string' &&
    Array.isArray(files) &&
    files.every((file) => typeof file === 'string') &&
    isCount(bytes) &&
    typeof complete === 'boolean' &&
    typeof createdAt === 'number' &&
    (completedAt === undefined || typeof completedAt === 'number')
  );
}

export function isFileRecord(value: unknown): value is FileRecord {
  if (!isRow(value)) return false;
  const { key, model, path, url, size, chunkSize, etag, expected, hashSource, complete, digest, chunkHashes, head, updatedAt } = value;
  return (
    typeof key === 'string' &&
    typeof model === 'string' &&
    typeof path === 'string' &&
    key === fileKey(model, path) &&
    typeof url === 'string' &&
    isCount(size) &&
    isCount(chunkSize) &&
    chunkSize > 0 &&
    (etag === null || typeof etag === 'string') &&
    (expected === null || isExpectedHash(expected)) &&
    HASH_SOURCES.includes(hashSource) &&
    typeof complete === 'boolean' &&
    (digest === undefined || isExpectedHash(digest)) &&
    (chunkHashes === undefined || (isHashList(chunkHashes) && (chunkHashes.length === chunkCount(size, chunkSize) || (size === 0 && chunkHashes.length <= 1)))) &&
    (head === undefined || isFileHead(head, size)) &&
    typeof updatedAt === 'number'
  );
}

function isFileHead(value: unknown, size: number): value is FileHead {
  if (!isRow(value)) return false;
  const { bytes, sha256 } = value;
  return bytes instanceof Uint8Array && bytes.length <= Math.min(size, MAX_HEAD_BYTES) && isHex(sha256, 64);
}

export function isStoredChunk(value: unknown): value is StoredChunk {
  if (!isRow(value)) return false;
  const { bytes, sha256, resume } = value;
  if (!(bytes instanceof Uint8Array) || !isHex(sha256, 64)) return false;
  if (resume === undefined) return true;
  return isRow(resume) && resume.sha256 instanceof Uint8Array && (resume.gitSha1 === undefined || resume.gitSha1 instanceof Uint8Array) && isHashList(resume.chunkHashes);
}
