// Static HTTP server for the browser tests (Node, no dependencies).
//
//   import { createServer } from './server.mjs';
//   const server = createServer({ root: '/path/to/repo' });
//   const { url } = await server.listen();        // http://127.0.0.1:<random port>/
//   server.stats(); server.resetStats(); await server.close();
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
// Every request is counted per path (requests, bytes of body sent, statuses, range requests):
// GET /__stats returns that JSON, POST /__stats/reset clears it.

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const DEFAULT_MOUNTS = Object.freeze({
  '/dist/': 'web/dist',
  '/pages/': 'web/test/pages',
  '/models/': 'tests/fixtures/models',
  '/images/': 'tests/fixtures/images',
  '/goldens/': 'tests/fixtures/goldens',
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

export function createServer({ root, mounts = DEFAULT_MOUNTS, host = '127.0.0.1', port = 0, log = null } = {}) {
  if (typeof root !== 'string') throw new TypeError('createServer: root (the repository folder) is required');
  let counts = new Map();

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

  function send(res, status, headers, body = '') {
    res.writeHead(status, { 'Cache-Control': 'no-store', ...headers });
    res.end(body);
  }

  async function serveFile(req, res, urlPath, file) {
    let info;
    try {
      info = await stat(file);
    } catch {
      info = null;
    }
    if (info === null || !info.isFile()) {
      count(urlPath, 404, 0, false);
      send(res, 404, { 'Content-Type': 'text/plain; charset=utf-8' }, `not found: ${urlPath}\n`);
      return;
    }
    const size = info.size;
    const range = parseRange(req.headers.range, size);
    const headers = {
      'Content-Type': contentType(file),
      'Accept-Ranges': 'bytes',
      'Cache-Control': 'no-store',
      'Last-Modified': info.mtime.toUTCString(),
    };
    if (range === 'unsatisfiable') {
      count(urlPath, 416, 0, true);
      send(res, 416, { ...headers, 'Content-Range': `bytes */${size}` });
      return;
    }
    const { start, end } = range ?? { start: 0, end: size - 1 };
    const length = Math.max(0, end - start + 1);
    const status = range === null ? 200 : 206;
    if (range !== null) headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
    headers['Content-Length'] = String(length);
    res.writeHead(status, headers);
    if (req.method === 'HEAD' || length === 0) {
      count(urlPath, status, 0, range !== null);
      res.end();
      return;
    }
    let sent = 0;
    const stream = createReadStream(file, { start, end });
    stream.on('data', (chunk) => {
      sent += chunk.length;
    });
    stream.on('error', () => res.destroy());
    // Counted when the response ends or the client goes away, with the bytes actually read out.
    res.on('close', () => count(urlPath, status, sent, range !== null));
    stream.pipe(res);
  }

  async function handle(req, res) {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const urlPath = url.pathname;
    if (urlPath === '/__stats' && req.method === 'GET') {
      send(res, 200, { 'Content-Type': 'application/json; charset=utf-8' }, JSON.stringify(stats()));
      return;
    }
    if (urlPath === '/__stats/reset' && req.method === 'POST') {
      resetStats();
      send(res, 204, {});
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      count(urlPath, 405, 0, false);
      send(res, 405, { Allow: 'GET, HEAD' });
      return;
    }
    const file = resolvePath(root, mounts, urlPath);
    if (file === null) {
      count(urlPath, 404, 0, false);
      send(res, 404, { 'Content-Type': 'text/plain; charset=utf-8' }, `not found: ${urlPath}\n`);
      return;
    }
    await serveFile(req, res, urlPath, file);
  }

  const server = http.createServer((req, res) => {
    const started = Date.now();
    if (log !== null) res.on('finish', () => log(`${req.method} ${req.url} ${res.statusCode} ${Date.now() - started}ms`));
    handle(req, res).catch((error) => {
      if (!res.headersSent) send(res, 500, { 'Content-Type': 'text/plain; charset=utf-8' }, `${error}\n`);
      else res.destroy();
    });
  });

  return {
    server,
    stats,
    resetStats,
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
if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  const server = createServer({ root, port: Number(process.argv[2] ?? 0), log: console.log });
  const { url } = await server.listen();
  console.log(`serving ${root} at ${url} (try ${url}pages/client.html, ${url}__stats)`);
}
