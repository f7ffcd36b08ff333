// Content hashes of downloaded files.
//
// A file's SHA-256 must be computed incrementally (a Janus shard is 4 GB; `crypto.subtle.digest`
// only hashes a whole buffer), so files go through @noble/hashes as their chunks arrive. Each
// stored chunk (<= 64 MiB) also gets its own SHA-256 from WebCrypto, which is native and fast:
// that is what proves a chunk read back from IndexedDB is the one written.
//
// Hugging Face states a SHA-256 for LFS files (weights) and a git blob SHA-1 for small files kept
// in git (config.json, tokenizer.json): sha1("blob <size>\0" + content). Both can be checked.

import { sha1 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';

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

/** Incremental hash of one file, in the kind its expected hash needs (SHA-256 when none is known). */
export class FileHasher {
  readonly kind: ExpectedHash['kind'];
  private readonly state: { update(data: Uint8Array): unknown; digest(): Uint8Array };

  constructor(kind: ExpectedHash['kind'], size: number) {
    this.kind = kind;
    if (kind === 'sha256') {
      this.state = sha256.create();
    } else {
      this.state = sha1.create();
      this.state.update(new TextEncoder().encode(`blob ${size}\0`));
    }
  }

  update(bytes: Uint8Array): void {
    this.state.update(bytes);
  }

  /** Lowercase hex; the hasher cannot be used afterwards. */
  hex(): string {
    return bytesToHex(this.state.digest());
  }
}

/** SHA-256 of one buffer (a stored chunk), lowercase hex, through WebCrypto. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return bytesToHex(new Uint8Array(digest));
}
