// Response judging and retry pacing (web/src/store/http.ts): the rules that decide whether a
// byte may be appended to a stored file.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffMs, judgeResponse, parseContentRange, rangeHeader, unreachableHint } from '../../src/store/http.js';

const SIZE = 1000;
const ask = (offset: number, end?: number) => ({ url: 'http://x/f', file: 'model.safetensors', offset, size: SIZE, ...(end === undefined ? {} : { end }) });
const headers = (entries: Record<string, string>) => new Headers(entries);

test('Content-Range parsing', () => {
  assert.deepEqual(parseContentRange('bytes 0-9/100'), { start: 0, end: 9, total: 100 });
  assert.deepEqual(parseContentRange('bytes 5-9/*'), { start: 5, end: 9, total: null });
  assert.equal(parseContentRange('bytes 9-5/100'), null);
  assert.equal(parseContentRange('bytes 0-100/100'), null); // end past the total
  assert.equal(parseContentRange('bytes */100'), null);
  assert.equal(parseContentRange('items 0-9/100'), null);
  assert.equal(parseContentRange(null), null);
});

test('range header ends are inclusive (D5)', () => {
  assert.equal(rangeHeader(0, 99), 'bytes=0-99');
  assert.equal(rangeHeader(100, 100), 'bytes=100-100');
});

test('an exact 206 continues the file', () => {
  const v = judgeResponse(206, headers({ 'Content-Range': `bytes 100-999/${SIZE}`, 'Content-Length': '900' }), ask(100));
  assert.deepEqual(v, { kind: 'partial', skip: 0, length: 900 });
});

test('a 206 starting earlier is honoured by skipping (block caches)', () => {
  const v = judgeResponse(206, headers({ 'Content-Range': `bytes 64-999/${SIZE}` }), ask(100));
  assert.deepEqual(v, { kind: 'partial', skip: 36, length: 936 });
});

test('a 206 that skips bytes, ends early, has another total or no Content-Range is refused (D2)', () => {
  for (const range of [`bytes 101-999/${SIZE}`, `bytes 100-998/${SIZE}`, `bytes 100-999/${SIZE + 1}`, 'garbage']) {
    const v = judgeResponse(206, headers({ 'Content-Range': range }), ask(100));
    assert.equal(v.kind, 'fail', range);
    assert.equal(v.kind === 'fail' && v.code, 'bad-response');
    assert.equal(v.kind === 'fail' && v.retry, false);
  }
  const mismatched = judgeResponse(206, headers({ 'Content-Range': `bytes 100-999/${SIZE}`, 'Content-Length': '10' }), ask(100));
  assert.equal(mismatched.kind, 'fail');
});

test('a 206 whose Content-Range CORS hides is accepted only with the exact Content-Length', () => {
  assert.deepEqual(judgeResponse(206, headers({ 'Content-Length': '900' }), ask(100)), { kind: 'partial', skip: 0, length: 900 });
  assert.equal(judgeResponse(206, headers({ 'Content-Length': '899' }), ask(100)).kind, 'fail');
  assert.equal(judgeResponse(206, headers({}), ask(100)).kind, 'fail');
});

test('200 is the whole file only (D1, D3)', () => {
  assert.deepEqual(judgeResponse(200, headers({ 'Content-Length': String(SIZE) }), ask(100)), { kind: 'whole', length: SIZE });
  assert.deepEqual(judgeResponse(200, headers({}), ask(0)), { kind: 'whole', length: SIZE });
  // modelscope: a 200 carrying the partial range
  const partial = judgeResponse(200, headers({ 'Content-Range': `bytes 100-999/${SIZE}`, 'Content-Length': '900' }), ask(100));
  assert.equal(partial.kind, 'fail');
  const short = judgeResponse(200, headers({ 'Content-Length': '900' }), ask(0));
  assert.equal(short.kind, 'fail');
  // gzip: Content-Length counts encoded bytes, so it is not compared
  assert.equal(judgeResponse(200, headers({ 'Content-Length': '10', 'Content-Encoding': 'gzip' }), ask(0)).kind, 'whole');
});

test('a web page instead of the file is refused (D6)', () => {
  const v = judgeResponse(200, headers({ 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': String(SIZE) }), ask(0));
  assert.equal(v.kind === 'fail' && v.code, 'bad-response');
  assert.match(v.kind === 'fail' ? v.message : '', /web page/);
});

test('statuses: typed, and only 408/425/429/5xx retried (D7)', () => {
  const cases: Array<[number, string, boolean]> = [
    [404, 'not-found', false],
    [410, 'not-found', false],
    [403, 'http', false],
    [401, 'http', false],
    [416, 'bad-response', false],
    [429, 'http', true],
    [503, 'network', true],
    [500, 'network', true],
    [418, 'http', false],
  ];
  for (const [status, code, retry] of cases) {
    const v = judgeResponse(status, headers({}), ask(0));
    assert.equal(v.kind, 'fail', String(status));
    if (v.kind === 'fail') {
      assert.equal(v.code, code, String(status));
      assert.equal(v.retry, retry, String(status));
    }
  }
  const later = judgeResponse(429, headers({ 'Retry-After': '3' }), ask(0));
  assert.equal(later.kind === 'fail' && later.retryAfterMs, 3000);
});

test('a repair asks for one chunk and needs exactly that end', () => {
  assert.deepEqual(judgeResponse(206, headers({ 'Content-Range': `bytes 100-199/${SIZE}` }), ask(100, 199)), { kind: 'partial', skip: 0, length: 100 });
  assert.equal(judgeResponse(206, headers({ 'Content-Range': `bytes 100-999/${SIZE}` }), ask(100, 199)).kind, 'fail');
});

test('backoff doubles, is capped, jitters 20% and follows Retry-After', () => {
  const policy = { attempts: 6, baseMs: 500, maxMs: 30_000 };
  assert.equal(backoffMs(policy, 1, 0.5), 500);
  assert.equal(backoffMs(policy, 2, 0.5), 1000);
  assert.equal(backoffMs(policy, 4, 0.5), 4000);
  assert.equal(backoffMs(policy, 20, 0.5), 30_000);
  assert.equal(backoffMs(policy, 1, 0), 400);
  assert.equal(backoffMs(policy, 1, 0.999_999), 600);
  assert.equal(backoffMs(policy, 1, 0.5, 0), 0);
  assert.equal(backoffMs(policy, 1, 0.5, 90_000), 30_000);
});

test('a failed request names CORS only when the server is another origin (H2)', () => {
  assert.equal(unreachableHint('http://a.example/m/x.bin', 'http://a.example'), 'check the connection');
  assert.match(unreachableHint('https://cdn.example/m/x.bin', 'http://a.example'), /https:\/\/cdn\.example allows this site to read it \(CORS/);
  assert.equal(unreachableHint('https://cdn.example/m/x.bin', undefined), 'check the connection');
  assert.equal(unreachableHint('not a url', 'http://a.example'), 'check the URL');
});
