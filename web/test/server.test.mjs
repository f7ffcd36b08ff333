// Unit tests of the test server (no browser): node --test web/test/server.test.mjs

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { createServer, parseFaults, parseRange, resolvePath, DEFAULT_MOUNTS } from './server.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const shard = 'tests/fixtures/models/tiny-a-hf/model-00001-of-00002.safetensors';
const shardUrl = '/models/tiny-a-hf/model-00001-of-00002.safetensors';
const shardBytes = readFileSync(path.join(root, shard));
const hubFolder = 'tests/fixtures/models/tiny-a-hf';
const hubShard = 'janus-web/tiny-a/resolve/main/model-00001-of-00002.safetensors';

let server;
let base;
before(async () => {
  server = createServer({ root });
  base = (await server.listen()).url;
});
after(() => server.close());

test('parseRange', () => {
  assert.deepEqual(parseRange('bytes=0-9', 100), { start: 0, end: 9 });
  assert.deepEqual(parseRange('bytes=90-', 100), { start: 90, end: 99 });
  assert.deepEqual(parseRange('bytes=-10', 100), { start: 90, end: 99 });
  assert.deepEqual(parseRange('bytes=-1000', 100), { start: 0, end: 99 });
  assert.deepEqual(parseRange('bytes=50-1000', 100), { start: 50, end: 99 });
  assert.equal(parseRange('bytes=100-', 100), 'unsatisfiable');
  assert.equal(parseRange('bytes=-0', 100), 'unsatisfiable');
  assert.equal(parseRange('bytes=0-1,5-6', 100), null);
  assert.equal(parseRange('bytes=9-1', 100), null);
  assert.equal(parseRange('items=0-1', 100), null);
  assert.equal(parseRange(undefined, 100), null);
});

test('resolvePath stays inside its mount', () => {
  const models = path.resolve(root, 'tests/fixtures/models');
  assert.equal(resolvePath(root, DEFAULT_MOUNTS, '/models/a/b.json'), path.join(models, 'a/b.json'));
  assert.equal(resolvePath(root, DEFAULT_MOUNTS, '/models/../../etc/passwd'), path.join(models, 'etc/passwd'));
  assert.equal(resolvePath(root, DEFAULT_MOUNTS, '/models/%2e%2e/%2e%2e/x'), path.join(models, 'x'));
  assert.equal(resolvePath(root, DEFAULT_MOUNTS, '/elsewhere/x'), null);
  assert.equal(resolvePath(root, DEFAULT_MOUNTS, '/models/%zz'), null);
});

test('whole file, content types, HEAD', async () => {
  const whole = await fetch(base + shardUrl.slice(1));
  assert.equal(whole.status, 200);
  assert.equal(whole.headers.get('accept-ranges'), 'bytes');
  assert.equal(whole.headers.get('cache-control'), 'no-store');
  assert.deepEqual(Buffer.from(await whole.arrayBuffer()), shardBytes);

  const head = await fetch(base + shardUrl.slice(1), { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), String(statSync(path.join(root, shard)).size));

  const json = await fetch(base + 'models/tiny-a-hf/config.json');
  assert.match(json.headers.get('content-type'), /^application\/json/);
  const png = await fetch(base + 'images/photo.png');
  assert.equal(png.headers.get('content-type'), 'image/png');
  await json.arrayBuffer();
  await png.arrayBuffer();
});

test('ranges: 206 with Content-Range, 416 past the end', async () => {
  const part = await fetch(base + shardUrl.slice(1), { headers: { Range: 'bytes=8-107' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), `bytes 8-107/${shardBytes.length}`);
  assert.deepEqual(Buffer.from(await part.arrayBuffer()), shardBytes.subarray(8, 108));

  const tail = await fetch(base + shardUrl.slice(1), { headers: { Range: 'bytes=-16' } });
  assert.equal(tail.status, 206);
  assert.deepEqual(Buffer.from(await tail.arrayBuffer()), shardBytes.subarray(shardBytes.length - 16));

  const past = await fetch(base + shardUrl.slice(1), { headers: { Range: `bytes=${shardBytes.length}-` } });
  assert.equal(past.status, 416);
  assert.equal(past.headers.get('content-range'), `bytes */${shardBytes.length}`);
  await past.arrayBuffer();
});

test('404, 405, and no escape from a mount', async () => {
  for (const url of ['models/tiny-a-hf/missing.json', 'nothing/here', 'models/..%2f..%2fpackage.json']) {
    const res = await fetch(base + url);
    assert.equal(res.status, 404, url);
    await res.arrayBuffer();
  }
  const post = await fetch(base + 'models/tiny-a-hf/config.json', { method: 'POST' });
  assert.equal(post.status, 405);
  await post.arrayBuffer();
});

test('stats count requests and body bytes per path', async () => {
  await fetch(base + '__stats/reset', { method: 'POST' });
  await (await fetch(base + shardUrl.slice(1), { headers: { Range: 'bytes=0-99' } })).arrayBuffer();
  await (await fetch(base + shardUrl.slice(1))).arrayBuffer();
  await (await fetch(base + shardUrl.slice(1), { method: 'HEAD' })).arrayBuffer();
  // The response's 'close' (when it is counted) can follow the client's last byte by a tick.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const stats = await (await fetch(base + '__stats')).json();
  const entry = stats.paths[shardUrl];
  assert.deepEqual(entry, {
    requests: 3,
    bytes: 100 + shardBytes.length,
    rangeRequests: 1,
    statuses: { 200: 2, 206: 1 },
  });
  assert.equal(stats.requests, 3);
  assert.deepEqual(server.stats(), stats);
});

// --- ETags, If-Range, CORS, hub layout, faults ---------------------------------------------------

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
/** git's blob id: sha1 of "blob <size>\\0" + content. */
const gitBlobSha1 = (bytes) => createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
const shardEtag = `"${sha256(shardBytes)}"`;
const size = shardBytes.length;

/** fetch, reading the whole body: {status, headers, body}. */
async function get(url, headers = {}, method = 'GET') {
  const res = await fetch(base + url, { method, headers });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

/**
 * One request over its own connection with node:http, which (unlike fetch) hands over the bytes
 * that came before a connection was cut: {status, headers, body, complete}.
 */
function raw(url, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(base + url, { headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('error', () => {}); // 'aborted' when cut short: `complete` says so
      res.on('close', () =>
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), complete: res.complete }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

async function resetFaults() {
  const res = await fetch(base + '__faults/reset', { method: 'POST' });
  assert.equal(res.status, 204);
  await res.arrayBuffer();
}

/** The offsets where two equally long buffers differ. */
function differences(a, b) {
  assert.equal(a.length, b.length);
  const at = [];
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) at.push(i);
  return at;
}

test('fixture is the one the tests expect', () => {
  assert.equal(size, 883870);
});

test('ETag is the sha256 of the file, on GET, HEAD, ranges and 416; CORS on every response', async () => {
  const whole = await get(shardUrl.slice(1));
  assert.equal(whole.headers.get('etag'), shardEtag);
  assert.match(whole.headers.get('etag'), /^"[0-9a-f]{64}"$/);
  assert.equal(whole.headers.get('access-control-allow-origin'), '*');
  assert.equal(
    whole.headers.get('access-control-expose-headers'),
    'ETag, Content-Range, Content-Length, Accept-Ranges, X-Linked-Etag, X-Linked-Size',
  );
  const head = await get(shardUrl.slice(1), {}, 'HEAD');
  assert.equal(head.headers.get('etag'), shardEtag);
  const part = await get(shardUrl.slice(1), { Range: 'bytes=0-9' });
  assert.equal(part.headers.get('etag'), shardEtag);
  const past = await get(shardUrl.slice(1), { Range: `bytes=${size}-` });
  assert.equal(past.status, 416);
  assert.equal(past.headers.get('etag'), shardEtag);
  const config = await get('models/tiny-a-hf/config.json');
  assert.equal(config.headers.get('etag'), `"${sha256(config.body)}"`);
  const missing = await get('models/tiny-a-hf/missing.json');
  assert.equal(missing.headers.get('access-control-allow-origin'), '*');
});

test('If-Range: the same ETag keeps the range (206), another one gets the whole file (200)', async () => {
  const match = await get(shardUrl.slice(1), { Range: 'bytes=100-199', 'If-Range': shardEtag });
  assert.equal(match.status, 206);
  assert.equal(match.headers.get('content-range'), `bytes 100-199/${size}`);
  assert.deepEqual(match.body, shardBytes.subarray(100, 200));
  for (const other of [`"${'0'.repeat(64)}"`, shardEtag.slice(1, -1), `W/${shardEtag}`, 'Wed, 21 Oct 2015 07:28:00 GMT']) {
    const mismatch = await get(shardUrl.slice(1), { Range: 'bytes=100-199', 'If-Range': other });
    assert.equal(mismatch.status, 200, other);
    assert.equal(mismatch.headers.get('content-range'), null);
    assert.equal(mismatch.headers.get('content-length'), String(size));
    assert.deepEqual(mismatch.body, shardBytes);
  }
  // If-Range without Range changes nothing.
  const plain = await get(shardUrl.slice(1), { 'If-Range': '"x"' });
  assert.equal(plain.status, 200);
});

test('OPTIONS preflight: 204 allowing Range and If-Range', async () => {
  const res = await fetch(base + hubShard, {
    method: 'OPTIONS',
    headers: { Origin: 'http://example.test', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'range, if-range' },
  });
  assert.equal(res.status, 204);
  assert.equal(res.headers.get('access-control-allow-origin'), '*');
  assert.equal(res.headers.get('access-control-allow-headers'), 'Range, If-Range, Content-Type');
  assert.equal(res.headers.get('access-control-allow-methods'), 'GET, HEAD, OPTIONS');
  await res.arrayBuffer();
});

test('hub resolve path serves the repo folder like a mount', async () => {
  const whole = await get(hubShard);
  assert.equal(whole.status, 200);
  assert.deepEqual(whole.body, shardBytes);
  assert.equal(whole.headers.get('etag'), shardEtag);
  assert.equal(whole.headers.get('x-linked-etag'), shardEtag);
  assert.equal(whole.headers.get('x-linked-size'), String(size));
  const part = await get(hubShard, { Range: 'bytes=10-19' });
  assert.equal(part.status, 206);
  assert.deepEqual(part.body, shardBytes.subarray(10, 20));
  const config = await get('janus-web/tiny-a/resolve/main/config.json');
  assert.deepEqual(config.body, readFileSync(path.join(root, hubFolder, 'config.json')));
  assert.equal(config.headers.get('x-linked-etag'), null); // not an LFS file
  const other = await get('janus-web/tiny-b/resolve/main/model.safetensors', {}, 'HEAD');
  assert.equal(other.headers.get('content-length'), String(statSync(path.join(root, 'tests/fixtures/models/tiny-b-hf/model.safetensors')).size));
  for (const url of [
    'janus-web/tiny-a/resolve/v1.0/config.json', // only main
    'janus-web/tiny-a/resolve/main/missing.json',
    'janus-web/tiny-a/resolve/main/..%2f..%2ftiny-b-hf/config.json',
    'janus-web/nothing/resolve/main/config.json',
  ]) {
    assert.equal((await get(url)).status, 404, url);
  }
});

test('hub tree API lists files with sizes, git blob sha1 and lfs sha256', async () => {
  // The blob id of the test matches git's for two well-known contents.
  assert.equal(gitBlobSha1(Buffer.alloc(0)), 'e69de29bb2d1d6434b8b29ae775ad8c2e48c5391');
  assert.equal(gitBlobSha1(Buffer.from('hello\n')), 'ce013625030ba8dba906f756967f9e9ca394464a');

  const res = await get('api/models/janus-web/tiny-a/tree/main');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^application\/json/);
  const tree = JSON.parse(res.body);
  const names = readdirSync(path.join(root, hubFolder)).sort();
  assert.deepEqual(tree.map((entry) => entry.path), names);
  for (const entry of tree) {
    const bytes = readFileSync(path.join(root, hubFolder, entry.path));
    const expected = { type: 'file', path: entry.path, size: bytes.length, oid: gitBlobSha1(bytes) };
    if (entry.path.endsWith('.safetensors')) expected.lfs = { oid: sha256(bytes), size: bytes.length, pointerSize: 134 };
    assert.deepEqual(entry, expected);
  }
  const shardEntry = tree.find((entry) => entry.path === 'model-00001-of-00002.safetensors');
  assert.equal(shardEntry.size, 883870);
  assert.equal(`"${shardEntry.lfs.oid}"`, shardEtag);
  assert.equal(tree.filter((entry) => entry.lfs !== undefined).length, 2);

  const unknown = await get('api/models/janus-web/nothing/tree/main');
  assert.equal(unknown.status, 404);
  assert.deepEqual(JSON.parse(unknown.body), { error: 'Repository not found' });
  assert.equal((await get('api/models/janus-web/tiny-a/tree/v2')).status, 404);
});

test('parseFaults', () => {
  assert.deepEqual(parseFaults('drip=200000,drop-at=500000'), { drip: 200000, 'drop-at': 500000 });
  assert.deepEqual(parseFaults('status=503x2,no-etag'), { status: { code: 503, count: 2 }, 'no-etag': true });
  assert.deepEqual(parseFaults('status=404'), { status: { code: 404, count: null } });
  assert.throws(() => parseFaults('bogus'), /unknown fault mode: bogus/);
  assert.throws(() => parseFaults('flip'), /flip=N/);
  assert.throws(() => parseFaults('flip=x'), /flip=N/);
  assert.throws(() => parseFaults('html=1'), /takes no value/);
  assert.throws(() => parseFaults('status=99'), /status=CODE/);
  assert.throws(() => parseFaults('drip=0'), /drip/);
  assert.throws(() => parseFaults('flip=1,flip=2'), /twice/);
});

test('fault: unknown or malformed mode gives 400 naming it', async () => {
  const res = await get(`fault/flip=3,bogus-mode/${shardUrl.slice(1)}`);
  assert.equal(res.status, 400);
  assert.match(res.body.toString(), /bogus-mode/);
  assert.equal((await get(`fault/truncate=abc/${shardUrl.slice(1)}`)).status, 400);
});

test('fault: ignore-range', async () => {
  const res = await get(`fault/ignore-range/${shardUrl.slice(1)}`, { Range: 'bytes=8-107' });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-range'), null);
  assert.equal(res.headers.get('content-length'), String(size));
  assert.deepEqual(res.body, shardBytes);
});

test('fault: shift-range answers from an earlier start, consistently', async () => {
  const url = `fault/shift-range=100/${shardUrl.slice(1)}`;
  const res = await get(url, { Range: 'bytes=1000-1999' });
  assert.equal(res.status, 206);
  assert.equal(res.headers.get('content-range'), `bytes 900-1999/${size}`);
  assert.equal(res.headers.get('content-length'), '1100');
  assert.deepEqual(res.body, shardBytes.subarray(900, 2000));
  const near = await get(url, { Range: 'bytes=50-99' });
  assert.equal(near.headers.get('content-range'), `bytes 0-99/${size}`);
  assert.deepEqual(near.body, shardBytes.subarray(0, 100));
  const first = await get(url, { Range: 'bytes=0-9' });
  assert.equal(first.headers.get('content-range'), `bytes 0-9/${size}`);
});

test('fault: wrong-range starts one byte late', async () => {
  const res = await get(`fault/wrong-range/${shardUrl.slice(1)}`, { Range: 'bytes=1000-1999' });
  assert.equal(res.status, 206);
  assert.equal(res.headers.get('content-range'), `bytes 1001-1999/${size}`);
  assert.deepEqual(res.body, shardBytes.subarray(1001, 2000));
});

test('fault: wrong-total on 206 only', async () => {
  const url = `fault/wrong-total/${shardUrl.slice(1)}`;
  const part = await get(url, { Range: 'bytes=0-99' });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), `bytes 0-99/${size + 1000}`);
  assert.deepEqual(part.body, shardBytes.subarray(0, 100));
  const whole = await get(url);
  assert.equal(whole.status, 200);
  assert.equal(whole.headers.get('content-range'), null);
  assert.deepEqual(whole.body, shardBytes);
});

test('fault: 200-with-range sends the partial body with status 200', async () => {
  const res = await get(`fault/200-with-range/${shardUrl.slice(1)}`, { Range: 'bytes=8-107' });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-range'), `bytes 8-107/${size}`);
  assert.equal(res.headers.get('content-length'), '100');
  assert.deepEqual(res.body, shardBytes.subarray(8, 108));
});

test('fault: truncate sends the full Content-Length but only N bytes', async () => {
  const url = `fault/truncate=1000/${shardUrl.slice(1)}`;
  for (let i = 0; i < 2; i += 1) {
    const res = await raw(url);
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-length'], String(size));
    assert.equal(res.complete, false);
    assert.deepEqual(res.body, shardBytes.subarray(0, 1000));
  }
  const part = await raw(url, { Range: 'bytes=5000-' });
  assert.equal(part.status, 206);
  assert.equal(part.headers['content-length'], String(size - 5000));
  assert.deepEqual(part.body, shardBytes.subarray(5000, 6000));
  const short = await raw(url, { Range: 'bytes=0-99' }); // shorter than N: whole
  assert.equal(short.complete, true);
  assert.deepEqual(short.body, shardBytes.subarray(0, 100));
  const zero = await raw(`fault/truncate=0/${shardUrl.slice(1)}`);
  assert.equal(zero.status, 200);
  assert.equal(zero.complete, false);
  assert.equal(zero.body.length, 0);
});

test('fault: drop-at cuts the first response carrying byte N just before it, once', async () => {
  await resetFaults();
  const url = `fault/drop-at=500000/${shardUrl.slice(1)}`;
  const before = await raw(url, { Range: 'bytes=0-99' }); // does not carry 500000: whole
  assert.equal(before.complete, true);
  assert.deepEqual(before.body, shardBytes.subarray(0, 100));
  const cut = await raw(url, { Range: 'bytes=1000-' });
  assert.equal(cut.status, 206);
  assert.equal(cut.headers['content-length'], String(size - 1000));
  assert.equal(cut.complete, false);
  assert.equal(cut.body.length, 500000 - 1000);
  assert.deepEqual(cut.body, shardBytes.subarray(1000, 500000));
  const again = await raw(url, { Range: 'bytes=499000-' });
  assert.equal(again.complete, true);
  assert.deepEqual(again.body, shardBytes.subarray(499000));
  // A range starting at N gets its headers and no byte.
  const atStart = await raw(`fault/drop-at=500000/${hubShard}`, { Range: 'bytes=500000-' });
  assert.equal(atStart.status, 206);
  assert.equal(atStart.complete, false);
  assert.equal(atStart.body.length, 0);
});

test('fault: flip corrupts byte N in every response; flip-once only in the first', async () => {
  await resetFaults();
  const flip = `fault/flip=1234/${shardUrl.slice(1)}`;
  for (let i = 0; i < 2; i += 1) {
    const res = await get(flip);
    assert.deepEqual(differences(res.body, shardBytes), [1234]);
    assert.equal(res.body[1234], shardBytes[1234] ^ 0xff);
  }
  const part = await get(flip, { Range: 'bytes=1000-1999' });
  assert.deepEqual(differences(part.body, shardBytes.subarray(1000, 2000)), [234]);
  const elsewhere = await get(flip, { Range: 'bytes=2000-2999' });
  assert.deepEqual(elsewhere.body, shardBytes.subarray(2000, 3000));

  const once = `fault/flip-once=1234/${shardUrl.slice(1)}`;
  const missing = await get(once, { Range: 'bytes=0-99' }); // does not carry it: not used up
  assert.deepEqual(missing.body, shardBytes.subarray(0, 100));
  assert.deepEqual(differences((await get(once)).body, shardBytes), [1234]);
  assert.deepEqual((await get(once)).body, shardBytes);
});

test('fault: html answers a sign-in page whatever was asked', async () => {
  for (const url of [`fault/html/${shardUrl.slice(1)}`, 'fault/html/models/nothing/here.json']) {
    const res = await get(url, { Range: 'bytes=0-99' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(res.headers.get('etag'), null);
    assert.equal(res.headers.get('content-range'), null);
    assert.match(res.body.toString(), /^<!DOCTYPE html><html>.*Sign in.*<\/html>/s);
  }
});

test('fault: status=503x2 gives two 503 then the file; status=416 states the size', async () => {
  await resetFaults();
  const url = `fault/status=503x2/${shardUrl.slice(1)}`;
  for (let i = 0; i < 2; i += 1) {
    const res = await get(url);
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '0');
    assert.match(res.headers.get('content-type'), /^text\/plain/);
  }
  const ok = await get(url);
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.body, shardBytes);

  const always = `fault/status=500/${shardUrl.slice(1)}`;
  for (let i = 0; i < 3; i += 1) assert.equal((await get(always)).status, 500);
  const unsatisfiable = await get(`fault/status=416/${shardUrl.slice(1)}`, { Range: 'bytes=0-9' });
  assert.equal(unsatisfiable.status, 416);
  assert.equal(unsatisfiable.headers.get('content-range'), `bytes */${size}`);
  const api = await get('fault/status=429x1/api/models/janus-web/tiny-a/tree/main');
  assert.equal(api.status, 429);
  assert.equal(api.headers.get('retry-after'), '0');
  assert.equal((await get('fault/status=429x1/api/models/janus-web/tiny-a/tree/main')).status, 200);
});

test('faults are counted by mode when they change an answer, and logged to JANUS_FAULT_LOG', async () => {
  const log = path.join(os.tmpdir(), `janus-faults-${process.pid}.log`);
  const previous = process.env.JANUS_FAULT_LOG;
  writeFileSync(log, '');
  process.env.JANUS_FAULT_LOG = log;
  const own = createServer({ root });
  const ownBase = (await own.listen()).url;
  const status = async (url, headers = {}) => {
    const res = await fetch(ownBase + url, { headers });
    await res.arrayBuffer();
    return res.status;
  };
  try {
    // Three requests under status=503x2: two faults, then the file.
    const statuses = [];
    for (let i = 0; i < 3; i += 1) statuses.push(await status(`fault/status=503x2/${shardUrl.slice(1)}`));
    assert.deepEqual(statuses, [503, 503, 200]);
    // flip=1234 changes only a response that carries byte 1234.
    assert.equal(await status(`fault/flip=1234/${shardUrl.slice(1)}`, { Range: 'bytes=2000-2999' }), 206);
    assert.equal(await status(`fault/flip=1234/${shardUrl.slice(1)}`, { Range: 'bytes=1000-1999' }), 206);
    // No fault without the prefix.
    assert.equal(await status(shardUrl.slice(1)), 200);
    assert.deepEqual(own.faultsFired(), { flip: 1, status: 2 });
    assert.deepEqual(readFileSync(log, 'utf8').split('\n').filter(Boolean).sort(), ['flip', 'status', 'status']);
  } finally {
    await own.close();
    if (previous === undefined) delete process.env.JANUS_FAULT_LOG;
    else process.env.JANUS_FAULT_LOG = previous;
    rmSync(log, { force: true });
  }
});

test('fault: etag-change serves a changed file with its own ETag after N requests', async () => {
  await resetFaults();
  const url = `fault/etag-change=1/${hubShard}`;
  const changed = Buffer.from(shardBytes);
  const mid = Math.floor(size / 2);
  changed[mid] ^= 0x5a;
  const changedEtag = `"${sha256(changed)}"`;

  const first = await get(url);
  assert.equal(first.headers.get('etag'), shardEtag);
  assert.deepEqual(first.body, shardBytes);
  const second = await get(url);
  assert.equal(second.headers.get('etag'), changedEtag);
  assert.notEqual(changedEtag, shardEtag);
  assert.equal(second.headers.get('x-linked-etag'), changedEtag);
  assert.deepEqual(differences(second.body, shardBytes), [mid]);
  // Resuming with the old ETag: the range no longer holds, the whole changed file comes.
  const resumed = await get(url, { Range: `bytes=${mid - 10}-`, 'If-Range': shardEtag });
  assert.equal(resumed.status, 200);
  assert.deepEqual(resumed.body, changed);
  const current = await get(url, { Range: `bytes=${mid - 10}-${mid + 9}`, 'If-Range': changedEtag });
  assert.equal(current.status, 206);
  assert.deepEqual(current.body, changed.subarray(mid - 10, mid + 10));
});

test('fault: no-etag and no-length', async () => {
  const noEtag = await get(`fault/no-etag/${hubShard}`);
  assert.equal(noEtag.status, 200);
  assert.equal(noEtag.headers.get('etag'), null);
  assert.equal(noEtag.headers.get('x-linked-etag'), null);
  assert.deepEqual(noEtag.body, shardBytes);

  const noLength = await raw(`fault/no-length/${shardUrl.slice(1)}`);
  assert.equal(noLength.status, 200);
  assert.equal(noLength.headers['content-length'], undefined);
  assert.equal(noLength.headers['transfer-encoding'], 'chunked');
  assert.equal(noLength.complete, true);
  assert.deepEqual(noLength.body, shardBytes);
  const part = await get(`fault/no-length/${shardUrl.slice(1)}`, { Range: 'bytes=10-19' });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-length'), null);
  assert.deepEqual(part.body, shardBytes.subarray(10, 20));
});

test('fault: gzip compresses where gzip is accepted, gzip-always also a range; Content-Length the compressed size', async () => {
  const identity = await raw(`fault/gzip/${shardUrl.slice(1)}`, { 'Accept-Encoding': 'identity' });
  assert.equal(identity.headers['content-encoding'], undefined);
  assert.deepEqual(identity.body, shardBytes);
  const whole = await raw(`fault/gzip/${shardUrl.slice(1)}`, { 'Accept-Encoding': 'gzip, deflate' });
  assert.equal(whole.status, 200);
  assert.equal(whole.headers['content-encoding'], 'gzip');
  assert.equal(Number(whole.headers['content-length']), whole.body.length);
  assert.ok(whole.body.length < shardBytes.length, `${whole.body.length} compressed bytes`);
  assert.deepEqual(gunzipSync(whole.body), shardBytes);
  // fetch asks for identity with a Range: gzip leaves it alone, gzip-always compresses anyway.
  const plain = await raw(`fault/gzip/${shardUrl.slice(1)}`, { 'Accept-Encoding': 'identity', Range: 'bytes=10-19' });
  assert.equal(plain.headers['content-encoding'], undefined);
  const part = await get(`fault/gzip-always,flip=15/${shardUrl.slice(1)}`, { Range: 'bytes=10-19' });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-encoding'), 'gzip');
  assert.equal(part.headers.get('content-range'), `bytes 10-19/${shardBytes.length}`);
  const flipped = Buffer.from(shardBytes.subarray(10, 20));
  flipped[5] ^= 0xff;
  assert.deepEqual(part.body, flipped);
});

test('fault: no-cors drops the CORS headers', async () => {
  const plain = await raw(shardUrl.slice(1));
  assert.equal(plain.headers['access-control-allow-origin'], '*');
  const bare = await raw(`fault/no-cors/${shardUrl.slice(1)}`);
  assert.equal(bare.status, 200);
  assert.equal(bare.headers['access-control-allow-origin'], undefined);
  assert.equal(bare.headers['access-control-expose-headers'], undefined);
  assert.deepEqual(bare.body, shardBytes);
});

test('fault: drip paces the body, alone and with drop-at', async () => {
  await resetFaults();
  let started = performance.now();
  const res = await get(`fault/drip=100000/${shardUrl.slice(1)}`, { Range: 'bytes=0-19999' });
  const elapsed = performance.now() - started;
  assert.equal(res.status, 206);
  assert.deepEqual(res.body, shardBytes.subarray(0, 20000));
  assert.ok(elapsed >= 150, `20 kB at 100 kB/s took ${elapsed} ms`);
  assert.ok(elapsed < 2000, `20 kB at 100 kB/s took ${elapsed} ms`);

  started = performance.now();
  const cut = await raw(`fault/drip=200000,drop-at=30000/${shardUrl.slice(1)}`, { Range: 'bytes=10000-' });
  assert.ok(performance.now() - started >= 75);
  assert.equal(cut.complete, false);
  assert.deepEqual(cut.body, shardBytes.subarray(10000, 30000));
});

test('fault state: per full path, cleared by /__faults/reset; stats count the full path', async () => {
  await resetFaults();
  await fetch(base + '__stats/reset', { method: 'POST' });
  const url = `fault/status=503x1/${shardUrl.slice(1)}`;
  assert.equal((await get(url)).status, 503);
  assert.equal((await get(url)).status, 200);
  assert.equal((await get(url.replace('503x1', '503x1,no-etag'))).status, 503); // another path
  assert.equal((await get(url)).status, 200);
  await resetFaults();
  assert.equal((await get(url)).status, 503);
  server.resetFaults();
  assert.equal((await get(url)).status, 503);
  await new Promise((resolve) => setTimeout(resolve, 50));
  const stats = await (await fetch(base + '__stats')).json();
  assert.deepEqual(stats.paths['/' + url].statuses, { 200: 2, 503: 3 });
  assert.equal(stats.paths['/' + url].bytes, 2 * size + 3 * Buffer.byteLength('503 Service Unavailable (fault injected)\n'));
  assert.equal(stats.paths[shardUrl], undefined);
});

test('a client leaving mid-drip stops it, and close() is prompt with a drip running', async () => {
  // Leaving: the server goes on answering.
  const controller = new AbortController();
  const res = await fetch(base + `fault/drip=10000/${shardUrl.slice(1)}`, { signal: controller.signal });
  const reader = res.body.getReader();
  await reader.read();
  controller.abort();
  await assert.rejects(reader.read());
  assert.equal((await get(shardUrl.slice(1), { Range: 'bytes=0-9' })).status, 206);

  // Closing: a second server with a slow drip in flight (a whole file at 10 kB/s would take 88 s).
  const other = createServer({ root });
  const otherBase = (await other.listen()).url;
  const pending = new Promise((resolve) => {
    const req = http.get(otherBase + `fault/drip=10000/${shardUrl.slice(1)}`, { agent: false }, (incoming) => {
      incoming.once('data', () => resolve());
      incoming.on('error', () => {});
      incoming.resume();
    });
    req.on('error', () => {});
  });
  await pending;
  const started = performance.now();
  await other.close();
  assert.ok(performance.now() - started < 1000);
});
