// Static, fault-injecting HTTP server for the browser tests (Node, no dependencies).
//
//   import { createServer } from './server.mjs';
//   const server = createServer({ root: '/path/to/repo' });
//   const { url } = await server.listen();        // http://127.0.0.1:<random port>/
//   server.stats(); server.resetStats(); server.resetFaults(); await server.close();
//
//   node web/test/server.mjs [port]               # serve the repo by hand
//
// URL prefixes map to folders of the repository (`mounts`): /dist/ -> web/dist, /pages/ ->
// web/test/pages, /models/<name>/ -> tests/fixtures/models/<name>/, /images/ and /goldens/ ->
// tests/fixtures/{images,goldens}. GET and HEAD; `Range: bytes=a-b`, `a-` and `-n` give 206 with
// Content-Range, or 416 when the range starts past the end; multi-range or malformed Range headers
// are ignored (200, as RFC 9110 allows). Nothing is cached (Cache-Control: no-store), so every
// read of the page is a request here.
//
// Hugging Face hub layout (`hub`: repo id -> folder, default DEFAULT_HUB), so that a downloader can
// be pointed at this server instead of https://huggingface.co:
//   /<owner>/<repo>/resolve/main/<file>    the file, served like a mount (only revision `main`);
//                                          .safetensors files also carry X-Linked-Etag/-Size
//                                          (what the hub sends for LFS files).
//   /api/models/<owner>/<repo>/tree/main   JSON array, one entry per regular file of the folder
//                                          (sorted): {type: 'file', path, size, oid: git blob sha1
//                                          of the content}, plus lfs: {oid: sha256, size,
//                                          pointerSize: 134} for .safetensors; unknown repo -> 404.
//
// Every file response has `ETag: "<sha256 hex of the content>"` (what the hub states for LFS
// files; hashed once per path, size and mtime). `If-Range` is a strong, exact comparison with it:
// when it differs, the Range is ignored and the whole (current) file comes with 200 (RFC 9110
// §13.1.5). Every response allows any origin (CORS) and exposes ETag, Content-Range,
// Content-Length, Accept-Ranges, X-Linked-Etag and X-Linked-Size; OPTIONS preflights get 204 (and
// are neither counted nor faulted, so browser preflight caching changes nothing in the tests).
//
// Faults: /fault/<modes>/<path> serves /<path> (a mount, hub or API path) with the comma-separated
// <modes> applied; an unknown or malformed mode gives 400. Offsets N are absolute file offsets.
// Stateful modes keep their state per full request path (with the /fault/... prefix), where every
// GET or HEAD counts as a request; POST /__faults/reset (or server.resetFaults()) clears it.
//   ignore-range     Range ignored: 200 with the whole file.
//   shift-range=K    a range starting at s > 0 is answered from max(0, s - K) (consistent 206).
//   wrong-range      a range starting at s is answered from s + 1, saying so (a client must reject).
//   wrong-total      206 responses state the total size + 1000 in Content-Range.
//   200-with-range   a range request gets its partial body and Content-Range, with status 200.
//   truncate=N       headers as usual, only N body bytes, then the connection is closed (every
//                    response longer than N).
//   drop-at=N        the first response of the path that would carry byte N stops just before it
//                    and the connection is destroyed; later ones are whole.
//   flip=N           byte N is XOR-ed with 0xFF in every response that carries it;
//   flip-once=N      only in the first response of the path that carries it.
//   html             200 text/html sign-in page instead of anything (Range ignored, no ETag).
//   status=C[xK]     status C with a text body (Retry-After: 0 for 429 and 503, Content-Range
//                    bytes */size for 416), for every request or the first K of the path.
//   etag-change=N    after the first N requests of the path, a changed file: byte floor(size/2)
//                    XOR 0x5A, with its own sha256 ETag (an old If-Range then gets 200).
//   no-etag          no ETag header.       no-length   no Content-Length (chunked).
//   drip=BPS         the body at about BPS bytes per second, in pieces every 50 ms.
//   gzip             where the request's Accept-Encoding allows gzip, the body (the whole file or
//                    the range asked for) is sent gzip-compressed with Content-Encoding: gzip and
//                    Content-Length the compressed size, as a compressing proxy sends it. Browsers
//                    and Node's fetch ask for identity with a Range, so only whole-file answers
//                    are compressed.
//   gzip-always      the same whatever the request accepts (a proxy that ignores Accept-Encoding):
//                    Chromium fails such an answer (ERR_CONTENT_DECODING_FAILED); Node's fetch
//                    decodes it. Both combine with flip and no-length, not with truncate,
//                    drop-at, flip-once or drip.
//   no-cors          no Access-Control-* headers: another origin's page may not read the answer
//                    (as a CDN without CORS; preflights are still answered).
// html and status apply to any path under the prefix (also the tree API), the others only to file
// responses. Modes combine, e.g. /fault/drip=200000,drop-at=500000/models/....
//
// The dev server (web/dev-server.mjs) adds `index` (the file served for `/`) and `routes` ({path:
// async (req, res) => ...}, answered before anything else); the package test (web/test/package-e2e.mjs)
// adds `headers` (sent with every response: its Content-Security-Policy).
//
// Every request is counted per path (requests, bytes of body sent, statuses, range requests):
// GET /__stats returns that JSON, POST /__stats/reset clears it.
//
// Every fault that changes an answer is counted by mode (server.faultsFired(); a mode given but
// without effect on a response, e.g. flip=N on a range without byte N, is not counted). With
// JANUS_FAULT_LOG set, each also appends its mode's name as a line to that file, so that a test
// run can total the faults it injected (scripts/test.sh prints the total; RELIABILITY.md).

import { createHash } from 'node:crypto';
import { appendFileSync, createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

export const DEFAULT_MOUNTS = Object.freeze({
  '/dist/': 'web/dist',
  '/pages/': 'web/test/pages',
  '/models/': 'tests/fixtures/models',
  '/images/': 'tests/fixtures/images',
  '/goldens/': 'tests/fixtures/goldens',
});

/** Hub repo ids served under /<owner>/<repo>/resolve/main/ and /api/models/<owner>/<repo>/tree/main. */
export const DEFAULT_HUB = Object.freeze({
  'janus-web/tiny-a': 'tests/fixtures/models/tiny-a-hf',
  'janus-web/tiny-b': 'tests/fixtures/models/tiny-b-hf',
  'janus-web/tiny-a-q4': 'tests/fixtures/models/tiny-a-q4-pack',
});

const CONTENT_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.safetensors': 'application/octet-stream',
};

const TEXT = 'text/plain; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';

// What a cross-origin page (the app on another port or a real origin) may read of our responses:
// the downloader checks all of these.
const CORS_HEADERS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': 'ETag, Content-Range, Content-Length, Accept-Ranges, X-Linked-Etag, X-Linked-Size',
};

const PREFLIGHT_HEADERS = {
  'Access-Control-Allow-Headers': 'Range, If-Range, Content-Type',
  'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
};

// What the hub states for LFS files; the brief of these tests fixes it rather than computing the
// real pointer file's length (which depends on the number of digits of the size).
const LFS_POINTER_SIZE = 134;

/** The page a misconfigured mirror or an auth wall answers with instead of the file. */
const SIGN_IN_PAGE =
  '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Sign in</title></head>' +
  '<body><h1>Sign in</h1><p>You need to sign in to download this file.</p></body></html>\n';

/** Drip writes a piece this often (ms): small enough to look continuous, large enough to be cheap. */
const DRIP_INTERVAL_MS = 50;

/** Fault modes and the value each takes: none ('flag'), an integer ('int') or CODE[xCOUNT] ('status'). */
const FAULT_MODES = Object.freeze({
  'ignore-range': 'flag',
  'shift-range': 'int',
  'wrong-range': 'flag',
  'wrong-total': 'flag',
  '200-with-range': 'flag',
  truncate: 'int',
  'drop-at': 'int',
  flip: 'int',
  'flip-once': 'int',
  html: 'flag',
  status: 'status',
  'etag-change': 'int',
  'no-etag': 'flag',
  'no-length': 'flag',
  drip: 'int',
  gzip: 'flag',
  'gzip-always': 'flag',
  'no-cors': 'flag',
});

export function contentType(file) {
  return CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * Parses a Range header against a body of `size` bytes.
 * Returns null (no usable range: serve the whole body), 'unsatisfiable', or {start, end} (inclusive).
 */
export function parseRange(header, size) {
  if (typeof header !== 'string') return null;
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (match === null) return null; // malformed or several ranges
  const [, first, last] = match;
  if (first === '' && last === '') return null;
  if (first === '') {
    // Suffix range: the last n bytes.
    const n = Number(last);
    if (n === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== '' && Number(last) < start) return null; // invalid: ignore
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

/**
 * Parses the <modes> of /fault/<modes>/...: comma-separated `name` or `name=value`.
 * Returns an object keyed by mode name (true, an integer, or {code, count} for status; count is
 * null for "every request"); throws an Error naming the mode when one is unknown or malformed.
 */
export function parseFaults(spec) {
  const faults = {};
  for (const item of spec.split(',')) {
    if (item === '') continue; // '/fault//x' or a stray comma: nothing to apply
    const eq = item.indexOf('=');
    const name = eq === -1 ? item : item.slice(0, eq);
    const value = eq === -1 ? null : item.slice(eq + 1);
    const kind = Object.hasOwn(FAULT_MODES, name) ? FAULT_MODES[name] : undefined;
    if (kind === undefined) throw new Error(`unknown fault mode: ${name}`);
    if (Object.hasOwn(faults, name)) throw new Error(`fault mode given twice: ${name}`);
    if (kind === 'flag') {
      if (value !== null) throw new Error(`fault mode ${name} takes no value`);
      faults[name] = true;
    } else if (kind === 'int') {
      const n = value !== null && /^\d+$/.test(value) ? Number(value) : NaN;
      if (!Number.isSafeInteger(n)) throw new Error(`fault mode ${name} needs an integer value: ${name}=N`);
      if (name === 'drip' && n === 0) throw new Error('fault mode drip needs a rate above 0 bytes per second');
      faults[name] = n;
    } else {
      const match = value === null ? null : /^(\d{3})(?:x(\d+))?$/.exec(value);
      const code = match === null ? NaN : Number(match[1]);
      // 1xx are not final responses: writeHead cannot answer with them.
      if (!(code >= 200 && code <= 599)) throw new Error(`fault mode ${name} needs a status: ${name}=CODE or ${name}=CODExCOUNT`);
      faults[name] = { code, count: match[2] === undefined ? null : Number(match[2]) };
    }
  }
  return faults;
}

/** The file a URL path maps to, or null when no mount matches or the path escapes its folder. */
export function resolvePath(root, mounts, urlPath) {
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0')) return null;
  for (const [prefix, folder] of Object.entries(mounts)) {
    if (!decoded.startsWith(prefix)) continue;
    const base = path.resolve(root, folder);
    const file = path.resolve(base, '.' + path.posix.normalize('/' + decoded.slice(prefix.length)));
    if (file !== base && !file.startsWith(base + path.sep)) return null;
    return file;
  }
  return null;
}

/** sha256 of the content and git blob sha1 (of "blob <size>\0" + content), in one streaming read. */
function digestFile(file, size) {
  return new Promise((resolve, reject) => {
    const sha256 = createHash('sha256');
    const blobSha1 = createHash('sha1').update(`blob ${size}\0`);
    createReadStream(file)
      .on('data', (chunk) => {
        sha256.update(chunk);
        blobSha1.update(chunk);
      })
      .on('error', reject)
      .on('end', () => resolve({ sha256: sha256.digest('hex'), blobSha1: blobSha1.digest('hex') }));
  });
}

/** The bytes of `chunk` (at file offset `pos`), with the offsets in `flips` XOR-ed with 0xFF (a copy). */
function flipBytes(chunk, pos, flips) {
  let copy = null;
  for (const n of flips) {
    if (n < pos || n >= pos + chunk.length) continue;
    copy ??= Buffer.from(chunk); // never write into a read buffer or the cached changed version
    copy[n - pos] ^= 0xff;
  }
  return copy ?? chunk;
}

/**
 * Resolves when `res` emits `event`, after `ms` milliseconds, or when `res` closes, whichever comes
 * first; leaves no listener or timer behind, so a client going away stops a drip at once.
 */
function waitOn(res, { event = null, ms = null } = {}) {
  return new Promise((resolve) => {
    let timer = null;
    const done = () => {
      if (timer !== null) clearTimeout(timer);
      res.off('close', done);
      if (event !== null) res.off(event, done);
      resolve();
    };
    res.on('close', done);
    if (event !== null) res.on(event, done);
    if (ms !== null) timer = setTimeout(done, ms);
  });
}

export function createServer({
  root,
  mounts = DEFAULT_MOUNTS,
  hub = DEFAULT_HUB,
  host = '127.0.0.1',
  port = 0,
  log = null,
  index = null,
  routes = {},
  headers = {},
} = {}) {
  if (typeof root !== 'string') throw new TypeError('createServer: root (the repository folder) is required');
  let counts = new Map();
  let faultStates = new Map();
  const firedByMode = new Map();

  /** A fault of `mode` changed an answer. */
  function fired(mode) {
    firedByMode.set(mode, (firedByMode.get(mode) ?? 0) + 1);
    const log = process.env.JANUS_FAULT_LOG;
    if (log) appendFileSync(log, `${mode}\n`);
  }
  // Content hashes and changed versions, keyed by (absolute path, size, mtime) so that an edited
  // file is hashed again; promises, so that concurrent first requests read the file once.
  const digests = new Map();
  const changedVersions = new Map();

  function count(urlPath, status, bytes, ranged) {
    let entry = counts.get(urlPath);
    if (entry === undefined) {
      entry = { requests: 0, bytes: 0, rangeRequests: 0, statuses: {} };
      counts.set(urlPath, entry);
    }
    entry.requests += 1;
    entry.bytes += bytes;
    if (ranged) entry.rangeRequests += 1;
    entry.statuses[status] = (entry.statuses[status] ?? 0) + 1;
  }

  function stats() {
    const paths = Object.fromEntries([...counts.entries()].sort(([a], [b]) => a.localeCompare(b)));
    let requests = 0;
    let bytes = 0;
    for (const entry of counts.values()) {
      requests += entry.requests;
      bytes += entry.bytes;
    }
    return { requests, bytes, paths };
  }

  function resetStats() {
    counts = new Map();
  }

  function resetFaults() {
    faultStates = new Map();
  }

  function faultState(urlPath) {
    let state = faultStates.get(urlPath);
    if (state === undefined) {
      state = { requests: 0, dropped: false, flipped: false };
      faultStates.set(urlPath, state);
    }
    return state;
  }

  function cached(cache, file, info, compute) {
    const key = `${file}\0${info.size}\0${info.mtimeMs}`;
    let entry = cache.get(key);
    if (entry === undefined) {
      entry = compute();
      cache.set(key, entry);
      entry.catch(() => cache.delete(key)); // a failed read is tried again next time
    }
    return entry;
  }

  function digest(file, info) {
    return cached(digests, file, info, () => digestFile(file, info.size));
  }

  /** etag-change's second version of a file: byte floor(size/2) XOR 0x5A, and its sha256. */
  function changedVersion(file, info) {
    return cached(changedVersions, file, info, async () => {
      const bytes = await readFile(file);
      if (bytes.length > 0) bytes[Math.floor(bytes.length / 2)] ^= 0x5a;
      return { bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
    });
  }

  function send(res, status, headers, body = '') {
    res.writeHead(status, { 'Cache-Control': 'no-store', ...headers });
    res.end(body);
  }

  function notFound(res, countPath, urlPath) {
    count(countPath, 404, 0, false);
    send(res, 404, { 'Content-Type': TEXT }, `not found: ${urlPath}\n`);
  }

  function sendJson(req, res, countPath, status, value) {
    const body = Buffer.from(JSON.stringify(value));
    count(countPath, status, req.method === 'HEAD' ? 0 : body.length, false);
    send(res, status, { 'Content-Type': JSON_TYPE, 'Content-Length': String(body.length) }, body);
  }

  /**
   * Where a path (without any /fault/ prefix) leads: {kind: 'tree', repo, revision},
   * {kind: 'file', file, linked} (file null: nothing there), linked when the hub would send
   * X-Linked-* headers for it.
   */
  function locate(urlPath) {
    const tree = /^\/api\/models\/([^/]+)\/([^/]+)\/tree\/([^/]+)\/?$/.exec(urlPath);
    if (tree !== null) return { kind: 'tree', repo: `${tree[1]}/${tree[2]}`, revision: tree[3] };
    const resolve = /^\/([^/]+)\/([^/]+)\/resolve\/([^/]+)(\/.+)$/.exec(urlPath);
    if (resolve !== null && Object.hasOwn(hub, `${resolve[1]}/${resolve[2]}`)) {
      const folder = hub[`${resolve[1]}/${resolve[2]}`];
      // Only `main` exists here: a pinned commit the tests did not set up must not silently work.
      if (resolve[3] !== 'main') return { kind: 'file', file: null, linked: false };
      const file = resolvePath(root, { '/': folder }, resolve[4]);
      return { kind: 'file', file, linked: file !== null && file.endsWith('.safetensors') };
    }
    return { kind: 'file', file: resolvePath(root, mounts, urlPath), linked: false };
  }

  async function serveTree(req, res, countPath, { repo, revision }) {
    if (!Object.hasOwn(hub, repo)) {
      sendJson(req, res, countPath, 404, { error: 'Repository not found' });
      return;
    }
    if (revision !== 'main') {
      sendJson(req, res, countPath, 404, { error: `Invalid rev id: ${revision}` });
      return;
    }
    const folder = path.resolve(root, hub[repo]);
    let names;
    try {
      names = (await readdir(folder, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
    } catch {
      sendJson(req, res, countPath, 404, { error: 'Repository not found' });
      return;
    }
    names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)); // by code point, like the hub
    const entries = [];
    for (const name of names) {
      const file = path.join(folder, name);
      const info = await stat(file);
      const { sha256, blobSha1 } = await digest(file, info);
      const entry = { type: 'file', path: name, size: info.size, oid: blobSha1 };
      if (name.endsWith('.safetensors')) entry.lfs = { oid: sha256, size: info.size, pointerSize: LFS_POINTER_SIZE };
      entries.push(entry);
    }
    sendJson(req, res, countPath, 200, entries);
  }

  /** status=CODE[xCOUNT]: the whole answer, whatever the path holds. */
  async function sendStatusFault(req, res, countPath, rest, code) {
    const headers = { 'Content-Type': TEXT };
    if (code === 429 || code === 503) headers['Retry-After'] = '0'; // retry at once: tests stay fast
    if (code === 416) {
      const target = locate(rest);
      const info = target.kind === 'file' && target.file !== null ? await stat(target.file).catch(() => null) : null;
      if (info !== null && info.isFile()) headers['Content-Range'] = `bytes */${info.size}`;
    }
    const body = Buffer.from(`${code} ${http.STATUS_CODES[code] ?? 'fault'} (fault injected)\n`);
    headers['Content-Length'] = String(body.length);
    count(countPath, code, req.method === 'HEAD' ? 0 : body.length, req.headers.range !== undefined);
    send(res, code, headers, body);
  }

  function sendHtmlFault(req, res, countPath) {
    const body = Buffer.from(SIGN_IN_PAGE);
    count(countPath, 200, req.method === 'HEAD' ? 0 : body.length, false);
    send(res, 200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': String(body.length) }, body);
  }

  /**
   * Writes body bytes [start, start + plan.limit) of `content` (a file path or a Buffer) with the
   * plan's flips and drip; then ends the response, or cuts the connection (plan.cut: 'truncate'
   * closes it cleanly, 'drop' destroys it) once the bytes before the cut have been flushed, so the
   * client gets exactly those. `progress.sent` counts the body bytes written.
   */
  async function pump(res, content, start, plan, progress) {
    const { limit, cut, flips, bps } = plan;
    let closed = false;
    res.once('close', () => {
      closed = true;
    });
    let source = [];
    if (limit > 0) {
      source =
        typeof content === 'string'
          ? createReadStream(content, { start, end: start + limit - 1 })
          : [content.subarray(start, start + limit)];
    }
    const piece = bps === null ? Infinity : Math.max(1, Math.round((bps * DRIP_INTERVAL_MS) / 1000));
    const began = performance.now();
    let pos = start;
    let flushed = null; // resolves when the last write has reached the socket
    const write = (part) => {
      let ok;
      flushed = new Promise((resolve) => {
        ok = res.write(part, () => resolve());
      });
      progress.sent += part.length;
      return ok;
    };
    // Breaking out of for-await destroys the file stream.
    for await (let chunk of source) {
      if (closed) break;
      chunk = flipBytes(chunk, pos, flips);
      pos += chunk.length;
      for (let at = 0; at < chunk.length && !closed; at += piece) {
        const part = chunk.subarray(at, Math.min(chunk.length, at + piece));
        if (bps !== null) {
          // Paced on the total so far, so timer lateness does not add up.
          const due = began + ((progress.sent + part.length) / bps) * 1000 - performance.now();
          if (due > 0) await waitOn(res, { ms: due });
          if (closed) break;
        }
        if (!write(part)) await waitOn(res, { event: 'drain' });
      }
    }
    if (closed) return;
    if (cut === null) {
      res.end();
      return;
    }
    // Headers go out with the first write; with no body bytes before the cut, an empty write sends
    // them and tells when they are out.
    if (flushed === null) write(Buffer.alloc(0));
    await Promise.race([flushed, waitOn(res)]);
    if (closed) return;
    if (cut === 'drop') res.destroy();
    else res.socket?.destroySoon();
  }

  /** The bytes [start, end] of `content` (a path or bytes), flips applied, gzip-compressed. */
  async function sendGzip(res, countPath, status, headers, content, start, end, faults, ranged) {
    const whole = typeof content === 'string' ? await readFile(content) : Buffer.from(content);
    const body = Buffer.from(whole.subarray(start, end + 1));
    if (faults.flip !== undefined && faults.flip >= start && faults.flip <= end) {
      body[faults.flip - start] ^= 0xff;
      fired('flip');
    }
    const gz = gzipSync(body);
    const out = { ...headers, 'Content-Encoding': 'gzip' };
    if (!faults['no-length']) out['Content-Length'] = String(gz.length);
    else fired('no-length');
    res.writeHead(status, out);
    res.end(gz);
    count(countPath, status, gz.length, ranged);
  }

  async function serveFile(req, res, countPath, file, { faults = {}, state = null, linked = false } = {}) {
    let info;
    try {
      info = await stat(file);
    } catch {
      info = null;
    }
    if (info === null || !info.isFile()) {
      notFound(res, countPath, countPath);
      return;
    }
    const size = info.size;
    // etag-change: the first N requests of the path see the file, later ones its changed version.
    let content = file;
    let sha256;
    if (faults['etag-change'] !== undefined && state.requests > faults['etag-change']) {
      const changed = await changedVersion(file, info);
      content = changed.bytes;
      sha256 = changed.sha256;
      fired('etag-change');
    } else {
      sha256 = (await digest(file, info)).sha256;
    }
    const etag = `"${sha256}"`;
    let range = faults['ignore-range'] ? null : parseRange(req.headers.range, size);
    if (faults['ignore-range'] && req.headers.range !== undefined) fired('ignore-range');
    // If-Range: the range only holds for the version the client already has part of.
    const ifRange = req.headers['if-range'];
    if (range !== null && ifRange !== undefined && ifRange !== etag) range = null;
    const headers = {
      'Content-Type': contentType(file),
      'Accept-Ranges': 'bytes',
      'Cache-Control': 'no-store',
      'Last-Modified': info.mtime.toUTCString(),
    };
    if (!faults['no-etag']) headers.ETag = etag;
    else fired('no-etag');
    if (linked) {
      if (!faults['no-etag']) headers['X-Linked-Etag'] = etag;
      headers['X-Linked-Size'] = String(size);
    }
    if (range === 'unsatisfiable') {
      count(countPath, 416, 0, true);
      send(res, 416, { ...headers, 'Content-Range': `bytes */${size}` });
      return;
    }
    let { start, end } = range ?? { start: 0, end: size - 1 };
    let status = 200;
    if (range !== null) {
      if (faults['shift-range'] !== undefined && start > 0) {
        start = Math.max(0, start - faults['shift-range']);
        fired('shift-range');
      }
      if (faults['wrong-range']) {
        start += 1;
        fired('wrong-range');
      }
      status = faults['200-with-range'] ? 200 : 206;
      if (faults['200-with-range']) fired('200-with-range');
      const total = status === 206 && faults['wrong-total'] ? size + 1000 : size;
      if (total !== size) fired('wrong-total');
      headers['Content-Range'] = `bytes ${start}-${end}/${total}`;
    }
    const length = Math.max(0, end - start + 1);
    const gzip = faults['gzip-always'] || (faults.gzip && /\bgzip\b/.test(req.headers['accept-encoding'] ?? ''));
    if (gzip && req.method !== 'HEAD' && length > 0) {
      fired(faults['gzip-always'] ? 'gzip-always' : 'gzip');
      await sendGzip(res, countPath, status, headers, content, start, end, faults, range !== null);
      return;
    }
    if (!faults['no-length']) headers['Content-Length'] = String(length);
    else fired('no-length');

    // What the body carries: [start, start + limit), cut short by truncate or the first drop-at.
    const head = req.method === 'HEAD';
    let limit = length;
    let cut = null;
    const flips = new Set();
    if (!head) {
      if (faults.truncate !== undefined && faults.truncate < limit) {
        limit = faults.truncate;
        cut = 'truncate';
        fired('truncate');
      }
      const carries = (n) => n >= start && n < start + limit;
      if (faults['drop-at'] !== undefined && !state.dropped && carries(faults['drop-at'])) {
        state.dropped = true;
        limit = faults['drop-at'] - start;
        cut = 'drop';
        fired('drop-at');
      }
      if (faults.flip !== undefined && carries(faults.flip)) {
        flips.add(faults.flip);
        fired('flip');
      }
      if (faults['flip-once'] !== undefined && !state.flipped && carries(faults['flip-once'])) {
        state.flipped = true;
        flips.add(faults['flip-once']);
        fired('flip-once');
      }
    }

    res.writeHead(status, headers);
    if (head || length === 0) {
      count(countPath, status, 0, range !== null);
      res.end();
      return;
    }
    const progress = { sent: 0 };
    // Counted when the response ends or the client goes away, with the bytes actually sent.
    res.on('close', () => count(countPath, status, progress.sent, range !== null));
    const bps = faults.drip ?? null;
    if (bps !== null) fired('drip');
    if (typeof content === 'string' && cut === null && flips.size === 0 && bps === null) {
      const stream = createReadStream(file, { start, end });
      stream.on('data', (chunk) => {
        progress.sent += chunk.length;
      });
      stream.on('error', () => res.destroy());
      stream.pipe(res);
      return;
    }
    await pump(res, content, start, { limit, cut, flips, bps }, progress);
  }

  async function handle(req, res) {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const urlPath = url.pathname;
    if (req.method === 'OPTIONS') {
      send(res, 204, PREFLIGHT_HEADERS);
      return;
    }
    if (Object.hasOwn(routes, urlPath)) {
      await routes[urlPath](req, res);
      return;
    }
    if (urlPath === '/' && index !== null && (req.method === 'GET' || req.method === 'HEAD')) {
      await serveFile(req, res, urlPath, path.resolve(root, index), {});
      return;
    }
    if (urlPath === '/__stats' && req.method === 'GET') {
      send(res, 200, { 'Content-Type': JSON_TYPE }, JSON.stringify(stats()));
      return;
    }
    if (urlPath === '/__stats/reset' && req.method === 'POST') {
      resetStats();
      send(res, 204, {});
      return;
    }
    if (urlPath === '/__faults/reset' && req.method === 'POST') {
      resetFaults();
      send(res, 204, {});
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      count(urlPath, 405, 0, false);
      send(res, 405, { Allow: 'GET, HEAD, OPTIONS' });
      return;
    }
    let rest = urlPath;
    let faults = {};
    let state = null;
    if (urlPath.startsWith('/fault/')) {
      const slash = urlPath.indexOf('/', '/fault/'.length);
      const spec = urlPath.slice('/fault/'.length, slash === -1 ? undefined : slash);
      rest = slash === -1 ? '/' : urlPath.slice(slash);
      try {
        let decoded;
        try {
          decoded = decodeURIComponent(spec);
        } catch {
          throw new Error(`malformed fault modes: ${spec}`);
        }
        faults = parseFaults(decoded);
      } catch (error) {
        count(urlPath, 400, 0, false);
        send(res, 400, { 'Content-Type': TEXT }, `${error.message}\n`);
        return;
      }
      state = faultState(urlPath);
      state.requests += 1;
      if (faults['no-cors']) {
        for (const name of Object.keys(CORS_HEADERS)) res.removeHeader(name);
        fired('no-cors');
      }
      const { status } = faults;
      if (status !== undefined && (status.count === null || state.requests <= status.count)) {
        fired('status');
        await sendStatusFault(req, res, urlPath, rest, status.code);
        return;
      }
      if (faults.html) {
        fired('html');
        sendHtmlFault(req, res, urlPath);
        return;
      }
    }
    const target = locate(rest);
    if (target.kind === 'tree') {
      await serveTree(req, res, urlPath, target);
      return;
    }
    if (target.file === null) {
      notFound(res, urlPath, urlPath);
      return;
    }
    await serveFile(req, res, urlPath, target.file, { faults, state, linked: target.linked });
  }

  const server = http.createServer((req, res) => {
    const started = Date.now();
    for (const [name, value] of Object.entries({ ...CORS_HEADERS, ...headers })) res.setHeader(name, value);
    if (log !== null) res.on('finish', () => log(`${req.method} ${req.url} ${res.statusCode} ${Date.now() - started}ms`));
    handle(req, res).catch((error) => {
      if (!res.headersSent) send(res, 500, { 'Content-Type': TEXT }, `${error}\n`);
      else res.destroy();
    });
  });

  return {
    server,
    stats,
    resetStats,
    resetFaults,
    /** The faults that changed an answer so far, by mode: {mode: count} (kept across resets). */
    faultsFired() {
      return Object.fromEntries([...firedByMode.entries()].sort(([a], [b]) => a.localeCompare(b)));
    },
    /** Starts listening; resolves with the base URL (ending with '/') and the port. */
    listen() {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const { port: actual } = server.address();
          resolve({ url: `http://${host}:${actual}/`, port: actual });
        });
      });
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

// `node web/test/server.mjs [port]`: serve the repository until interrupted.
// (The basename check keeps a bundle that inlines this module, the unit tests', from serving.)
const self = fileURLToPath(import.meta.url);
if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === self && path.basename(self) === 'server.mjs') {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  const server = createServer({ root, port: Number(process.argv[2] ?? 0), log: console.log });
  const { url } = await server.listen();
  console.log(`serving ${root} at ${url} (try ${url}pages/client.html, ${url}janus-web/tiny-a/resolve/main/config.json, ${url}__stats)`);
}
