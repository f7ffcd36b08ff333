// Unit tests of the test server (no browser): node --test web/test/server.test.mjs

import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createServer, parseRange, resolvePath, DEFAULT_MOUNTS } from './server.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const shard = 'tests/fixtures/models/tiny-a-hf/model-00001-of-00002.safetensors';
const shardUrl = '/models/tiny-a-hf/model-00001-of-00002.safetensors';
const shardBytes = readFileSync(path.join(root, shard));

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
