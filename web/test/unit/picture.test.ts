// The page's first look at an attached file (web/app/picture.ts, P10): the fixture pictures pass
// with their real sides, a non-picture and an oversized or empty header are refused, and the
// limits are the engine's (read from the Rust source, so the two cannot drift apart).

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { MAX_PIXELS, MAX_SIDE, inspectHead } from '../../app/picture.js';
import { root } from './fixture-server.js';

test('P10 the page refuses with the engine limits', () => {
  const rust = readFileSync(path.join(root, 'crate/janus-model/src/preprocess/image.rs'), 'utf8');
  assert.equal(Number(/pub const MAX_SIDE: u32 = ([\d_]+);/.exec(rust)?.[1]?.replaceAll('_', '')), MAX_SIDE);
  assert.equal(Number(/pub const MAX_PIXELS: u64 = ([\d_]+);/.exec(rust)?.[1]?.replaceAll('_', '')), MAX_PIXELS);
});

test('P10 fixture pictures pass with their sides; other bytes and odd headers are refused', () => {
  const folder = path.join(root, 'tests/fixtures/images');
  let pictures = 0;
  for (const name of readdirSync(folder).filter((n) => /\.(png|jpe?g|webp|gif)$/i.test(n))) {
    const check = inspectHead(new Uint8Array(readFileSync(path.join(folder, name))));
    assert.ok(check.ok, `${name}: ${JSON.stringify(check)}`);
    assert.ok(check.sides === null || (check.sides[0] > 0 && check.sides[1] > 0), name);
    pictures += 1;
  }
  assert.ok(pictures >= 2, `${pictures} fixture pictures`);
  assert.deepEqual(inspectHead(new TextEncoder().encode('hello, not a picture')), { ok: false, problem: 'not-a-picture' });
  assert.deepEqual(inspectHead(new Uint8Array(0)), { ok: false, problem: 'not-a-picture' });
  const png = (width: number, height: number): Uint8Array => {
    const b = new Uint8Array(33);
    b.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
    new DataView(b.buffer).setUint32(16, width);
    new DataView(b.buffer).setUint32(20, height);
    return b;
  };
  assert.deepEqual(inspectHead(png(20000, 20000)), { ok: false, problem: 'too-large', sides: [20000, 20000] });
  assert.deepEqual(inspectHead(png(16384, 4000)), { ok: false, problem: 'too-large', sides: [16384, 4000] });
  assert.deepEqual(inspectHead(png(0, 10)), { ok: false, problem: 'empty', sides: [0, 10] });
  assert.deepEqual(inspectHead(png(384, 384)), { ok: true, format: 'PNG', sides: [384, 384] });
  // A GIF's logical screen, little-endian.
  const gif = new Uint8Array([...new TextEncoder().encode('GIF89a'), 0x20, 0x4e, 0x20, 0x4e]);
  assert.deepEqual(inspectHead(gif), { ok: false, problem: 'too-large', sides: [20000, 20000] });
});
