// Hashes the hub states, and the incremental file hashers (web/src/store/hash.ts).

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { FileHasher, hashFromEtag, parseExpectedHash, sha256Hex } from '../../src/store/hash.js';

const bytes = new Uint8Array(100_003).map((_, i) => (i * 7919) % 251);
const sha256 = createHash('sha256').update(bytes).digest('hex');
const gitSha1 = createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');

test('ETags that state a hash, and those that do not', () => {
  assert.deepEqual(hashFromEtag(`"${sha256}"`), { kind: 'sha256', hex: sha256 });
  assert.deepEqual(hashFromEtag(`W/"${gitSha1}"`), { kind: 'git-sha1', hex: gitSha1 });
  assert.deepEqual(hashFromEtag(`"${sha256.toUpperCase()}"`), { kind: 'sha256', hex: sha256 });
  assert.equal(hashFromEtag('"d41d8cd98f00b204e9800998ecf8427e-12"'), null); // S3 multipart MD5
  assert.equal(hashFromEtag('"abc"'), null);
  assert.equal(hashFromEtag(sha256), null); // unquoted: not an ETag
  assert.equal(hashFromEtag(null), null);
  assert.equal(parseExpectedHash('xyz'), null);
});

test('incremental hashes equal one-shot ones, in any piece sizes', async () => {
  for (const piece of [1, 4096, 65_536, bytes.length]) {
    const a = await FileHasher.create('sha256', bytes.length);
    const b = await FileHasher.create('git-sha1', bytes.length);
    for (let at = 0; at < bytes.length; at += piece) {
      a.update(bytes.subarray(at, at + piece));
      b.update(bytes.subarray(at, at + piece));
    }
    assert.equal(a.hex(), sha256, `sha256, pieces of ${piece}`);
    assert.equal(b.hex(), gitSha1, `git sha1, pieces of ${piece}`);
  }
});

test('a saved state continues the hash in a new hasher', async () => {
  for (const kind of ['sha256', 'git-sha1'] as const) {
    const first = await FileHasher.create(kind, bytes.length);
    first.update(bytes.subarray(0, 40_000));
    const state = structuredClone(first.save());
    const second = await FileHasher.create(kind, bytes.length, state);
    second.update(bytes.subarray(40_000));
    assert.equal(second.hex(), kind === 'sha256' ? sha256 : gitSha1, kind);
  }
});

test('chunk hash through WebCrypto', async () => {
  assert.equal(await sha256Hex(bytes), sha256);
});
