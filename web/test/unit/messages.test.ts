// Every error code the client can produce has a sentence and an action for the page.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { MESSAGE_CODES, humanError } from '../../src/messages.js';
import { CLIENT_CODES, ENGINE_CODES } from '../../src/errors.js';
import { formatDuration, formatGB } from '../../app/format.js';

test('every error code has a title and an action, as sentences', () => {
  const codes = [...ENGINE_CODES, ...CLIENT_CODES];
  assert.deepEqual([...MESSAGE_CODES].sort(), [...codes].sort());
  for (const code of codes) {
    const { title, action } = humanError(code);
    assert.match(title, /^[A-Z].*\.$/, code);
    assert.match(action, /^[A-Z].*\.$/, code);
    assert.ok(!/undefined|null/.test(title + action), code);
  }
});

test('durations and sizes as people read them', () => {
  assert.equal(formatDuration(null), 'unknown');
  assert.equal(formatDuration(0.2), 'under a second');
  assert.equal(formatDuration(42), '42 s');
  assert.equal(formatDuration(125), '2 min 5 s');
  assert.equal(formatDuration(7300), '2 h 1 min');
  assert.equal(formatGB(4_985_145_868), '4.99 GB');
  assert.equal(formatGB(33_540_424_204), '33.5 GB');
});

test('U2 every code the Rust engine can reject with is one the client knows', () => {
  const rust = readFileSync(path.join(process.cwd(), 'crate/janus-web/src/error.rs'), 'utf8');
  const all = /pub const ALL: \[&str; (\d+)\] = \[([^\]]*)\]/.exec(rust);
  assert.ok(all !== null, 'codes::ALL not found in crate/janus-web/src/error.rs');
  const names = [...all[2].matchAll(/[A-Z_]+/g)].map((m) => m[0]);
  assert.equal(names.length, Number(all[1]));
  const known: readonly string[] = [...ENGINE_CODES, ...CLIENT_CODES];
  const values = names.map((name) => new RegExp(`pub const ${name}: &str = "([a-z-]+)";`).exec(rust)?.[1]);
  for (const [i, value] of values.entries()) {
    assert.ok(value !== undefined, `codes::${names[i]} has no string`);
    assert.ok(known.includes(value), `codes::${names[i]} = '${value}' is in neither ENGINE_CODES nor CLIENT_CODES`);
  }
});
