// Judging one HTTP response to a (ranged) download request, and when to try again.
//
// Pure functions, unit-tested in Node (web/test/unit/). The rule (docs: reliability.md §B) is to
// append bytes only from a response proven to continue the file:
//   206 with `Content-Range: bytes a-b/total`, total = the file's size, b = size - 1, a <= offset
//       (a < offset happens with block caches: the first offset - a bytes are skipped, RFC 9110);
//   200 only as the whole file (Content-Range absent or 0..size-1, length = size): the download
//       then restarts from byte 0 with this body, never appended to what was stored.
// Anything else is refused with a typed error before any byte of it is kept.

import type { JanusErrorCode } from '../errors.js';

/** The headers this module reads (a fetch `Headers` qualifies). */
export interface HeaderSource {
  get(name: string): string | null;
}

export type Verdict =
  /** Continue the file from the asked offset, after dropping `skip` leading body bytes. */
  | { kind: 'partial'; skip: number; length: number }
  /** The whole file from byte 0. */
  | { kind: 'whole'; length: number }
  /** Refused: `retry` says whether asking again may help (network-ish failures). */
  | { kind: 'fail'; retry: boolean; code: JanusErrorCode; message: string; retryAfterMs?: number };

/** `bytes a-b/total` -> numbers; `total` is null for `*`. Null when malformed. */
export function parseContentRange(value: string | null): { start: number; end: number; total: number | null } | null {
  if (value === null) return null;
  const match = /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(value);
  if (match === null) return null;
  const start = Number(match[1]);
  const end = Number(match[2]);
  const total = match[3] === '*' ? null : Number(match[3]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return null;
  if (total !== null && (!Number.isSafeInteger(total) || end >= total)) return null;
  return { start, end, total };
}

/** `Range` header value for bytes `offset` .. `end` (HTTP range ends are inclusive). */
export function rangeHeader(offset: number, end: number): string {
  return `bytes=${offset}-${end}`;
}

/** Statuses worth asking again after a pause. */
const RETRY_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504]);

/**
 * Judge the response to a request for bytes `offset..end` (`end` defaults to `size - 1`) of
 * `file` whose size is known. `url` is only for messages.
 */
export function judgeResponse(
  status: number,
  headers: HeaderSource,
  ask: { url: string; file: string; offset: number; size: number; end?: number },
): Verdict {
  const { url, file, offset, size } = ask;
  const end = ask.end ?? size - 1;
  if (status === 404 || status === 410) {
    return fail(false, 'not-found', `${url}: not found (${status}); is the model URL right?`);
  }
  if (status === 401 || status === 403) {
    return fail(false, 'http', `${url}: access denied (${status}); the model may be gated, private or the URL wrong`);
  }
  if (status === 416) {
    return fail(false, 'bad-response', `${url}: the server has fewer bytes than expected (416 for bytes ${offset}-${end}); the file changed or is not the one listed`);
  }
  if (RETRY_STATUSES.has(status)) {
    const verdict = fail(true, status === 429 ? 'http' : 'network', `${url}: the server answered ${status}${status === 429 ? ' (too many requests)' : ''}`);
    const after = retryAfterMs(headers.get('Retry-After'));
    if (after !== null) verdict.retryAfterMs = after;
    return verdict;
  }
  if (status !== 200 && status !== 206) {
    return fail(false, 'http', `${url}: the server answered ${status}`);
  }
  if (isWebPageInstead(headers, file)) return fail(false, 'bad-response', webPageMessage(url, file));
  const range = headers.get('Content-Range');
  const parsed = parseContentRange(range);
  const encoded = (headers.get('Content-Encoding') ?? 'identity').trim().toLowerCase() !== 'identity';
  const length = encoded ? null : contentLength(headers);
  if (status === 206) {
    if (range === null && length === end - offset + 1) {
      // A cross-origin CDN that does not expose Content-Range (CORS hides it; Content-Length is
      // always visible): the length is exactly what was asked, and every byte still has to pass
      // the file's hash.
      return { kind: 'partial', skip: 0, length };
    }
    if (parsed === null) return fail(false, 'bad-response', `${url}: a 206 response without a valid Content-Range (${range ?? 'none'})`);
    if (parsed.total !== size) {
      return fail(false, 'bad-response', `${url}: the server says the file has ${parsed.total ?? 'an unknown number of'} bytes, expected ${size}; it changed or is not the one listed`);
    }
    if (parsed.start > offset || parsed.end !== end) {
      return fail(false, 'bad-response', `${url}: asked for bytes ${offset}-${end}, the server sent ${parsed.start}-${parsed.end}`);
    }
    const body = parsed.end - parsed.start + 1;
    if (length !== null && length !== body) {
      return fail(false, 'bad-response', `${url}: Content-Length ${length} does not match Content-Range ${range}`);
    }
    return { kind: 'partial', skip: offset - parsed.start, length: body };
  }
  // 200: acceptable only as the whole file.
  if (range !== null && (parsed === null || parsed.start !== 0 || parsed.end !== size - 1)) {
    return fail(false, 'bad-response', `${url}: a 200 response carrying part of the file (Content-Range ${range}); refusing to splice it`);
  }
  if (length !== null && length !== size) {
    return fail(false, 'bad-response', `${url}: the server sent ${length} bytes as the whole file, expected ${size}`);
  }
  return { kind: 'whole', length: size };
}

/** A `text/html` answer for a file that is not HTML: an error or sign-in page, not the file. */
export function isWebPageInstead(headers: HeaderSource, file: string): boolean {
  return /^\s*text\/html\b/i.test(headers.get('Content-Type') ?? '') && !/\.html?$/i.test(file);
}

/** The origin of the page or worker running this code (undefined in Node). */
export function pageOrigin(): string | undefined {
  return (globalThis as { location?: { origin?: string } }).location?.origin;
}

/**
 * What to check when a request to `url` failed without an answer (fetch's TypeError hides why).
 * Cross-origin, a server that does not allow this site to read it (no CORS header; under
 * Cross-Origin-Embedder-Policy also one without CORP) fails the same way as a lost connection.
 */
export function unreachableHint(url: string, page = pageOrigin()): string {
  let origin: string;
  try {
    origin = new URL(url).origin;
  } catch {
    return 'check the URL';
  }
  if (page === undefined || page === 'null' || origin === page) return 'check the connection';
  return `check the connection, and that ${origin} allows this site to read it (CORS: Access-Control-Allow-Origin)`;
}

export function webPageMessage(url: string, file: string): string {
  return `${url}: the server sent a web page instead of ${file} (an error or sign-in page, or a wrong URL)`;
}

function fail(retry: boolean, code: JanusErrorCode, message: string): Extract<Verdict, { kind: 'fail' }> {
  return { kind: 'fail', retry, code, message };
}

function contentLength(headers: HeaderSource): number | null {
  const value = headers.get('Content-Length');
  if (value === null || !/^\s*\d+\s*$/.test(value)) return null;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : null;
}

/** `Retry-After` in seconds (HTTP dates are not worth honouring here), capped at a minute. */
function retryAfterMs(value: string | null): number | null {
  if (value === null || !/^\s*\d+\s*$/.test(value)) return null;
  return Math.min(60_000, Number(value) * 1000);
}

/** When and how often to try again. */
export interface RetryPolicy {
  /** Attempts in a row without one new verified byte before giving up (>= 1). */
  attempts: number;
  /** First pause; doubled after each failure... */
  baseMs: number;
  /** ...up to this. */
  maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, baseMs: 500, maxMs: 30_000 };

/**
 * The pause before retry number `failures` (1 = after the first failure): capped exponential
 * backoff with +-20% jitter (`random` in [0, 1)), or the server's Retry-After when it asked for one.
 */
export function backoffMs(policy: RetryPolicy, failures: number, random: number, retryAfter?: number): number {
  if (retryAfter !== undefined) return Math.min(policy.maxMs, retryAfter);
  const base = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, failures - 1));
  return Math.round(base * (0.8 + 0.4 * random));
}
