// Content hashes of downloaded files.
//
// A file's hash must be computed incrementally (a Janus shard is 4 GB; `crypto.subtle.digest`
// only hashes a whole buffer), so files go through hash-wasm as their chunks arrive (about 200
// MB/s in Chromium on this project's CPUs, four times a pure-JS SHA-256). Its state can be saved
// after each chunk and stored with it, so a resumed download continues the hash without reading
// back what is stored. Each stored chunk (<= 64 MiB) also gets its own SHA-256 from WebCrypto
// (native, ~600 MB/s): that is what proves a chunk read back from IndexedDB is the one written.
//
// Hugging Face states a SHA-256 for LFS files (weights) and a git blob SHA-1 for small files kept
// in git (config.json, tokenizer.json): sha1("blob <size>\0" + content). Both can be checked.

import { createSHA1, createSHA256, type IHasher } from 'hash-wasm';

/** What a file's content must hash to. */
export interface ExpectedHash {
  kind: 'sha256' | 'git-sha1';
  /** Lowercase hex. */
  hex: string;
}

const HEX64 = /^[0-9a-f]{64}$/;
const HEX40 = /^[0-9a-f]{40}$/;

/** An expected hash from a pinned or server-stated hex string, or null if it is neither form. */
export function parseExpectedHash(value: string | null | undefined): ExpectedHash | null {
  if (typeof value !== 'string') return null;
  const hex = value.trim().toLowerCase();
  if (HEX64.test(hex)) return { kind: 'sha256', hex };
  if (HEX40.test(hex)) return { kind: 'git-sha1', hex };
  return null;
}

/**
 * The content hash an ETag states, if it states one: Hugging Face answers `"<sha256>"` for LFS
 * files and `"<git blob sha1>"` for others (possibly weak, `W/"..."`). Anything else (an S3 MD5,
 * an opaque validator) says nothing about the content.
 */
export function hashFromEtag(etag: string | null | undefined): ExpectedHash | null {
  if (typeof etag !== 'string') return null;
  const match = /^(?:W\/)?"([0-9a-fA-F]+)"$/.exec(etag.trim());
  return match === null ? null : parseExpectedHash(match[1]);
}

/** Incremental hash of one file, in the kind its expected hash needs. */
export class FileHasher {
  private constructor(
    readonly kind: ExpectedHash['kind'],
    private readonly hasher: IHasher,
  ) {}

  /** A fresh hasher for a file of `size` bytes, or one continuing from a saved `state`. */
  static async create(kind: ExpectedHash['kind'], size: number, state?: Uint8Array): Promise<FileHasher> {
    const hasher = kind === 'sha256' ? await createSHA256() : await createSHA1();
    if (state !== undefined) {
      hasher.load(state);
    } else {
      hasher.init();
      if (kind === 'git-sha1') hasher.update(`blob ${size}\0`);
    }
    return new FileHasher(kind, hasher);
  }

  update(bytes: Uint8Array): void {
    this.hasher.update(bytes);
  }

  /** The state so far, for `create(kind, size, state)` to continue from. */
  save(): Uint8Array {
    return this.hasher.save();
  }

  /** Lowercase hex; the hasher cannot be used afterwards. */
  hex(): string {
    return this.hasher.digest('hex');
  }
}

/** SHA-256 of one buffer (a stored chunk), lowercase hex, through WebCrypto. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  let hex = '';
  for (const byte of digest) hex += byte.toString(16).padStart(2, '0');
  return hex;
}
