// The page's model picker state (web/app/choices.ts): entries, their facts and buttons, stored
// models that no entry offers, the storage panel's lines.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { choiceOf, describeChoice, keyOf, localChoice, registryChoices, storedChoices, storedFor, storedLine } from '../../app/choices.js';
import type { CachedModel } from '../../src/index.js';

const PAGE = 'http://127.0.0.1:8080/?debug';
const tiny = localChoice({ id: 'tiny-test', name: 'Tiny test model (random weights)', url: '/models/tiny-test/', bytes: 3_900_000, test: true }, PAGE);

function cached(key: string, complete: boolean, storedBytes = 1000, bytes = 1000): CachedModel {
  return { key, name: key, complete, bytes, storedBytes, createdAt: 0 };
}

test('entries: the registry by id, local models by absolute URL, each keyed by its base URL', () => {
  const registry = registryChoices();
  assert.deepEqual(registry.map((c) => c.source), ['janus-1.3b', 'janus-pro-1b', 'janus-pro-7b']);
  assert.equal(keyOf(registry[0]!, PAGE), 'https://huggingface.co/deepseek-ai/Janus-1.3B/resolve/main/');
  assert.equal(tiny.source, 'http://127.0.0.1:8080/models/tiny-test/');
  assert.equal(keyOf(tiny, PAGE), 'http://127.0.0.1:8080/models/tiny-test/');
  assert.match(tiny.description, /random weights/);
});

test('facts and button: not stored, partly stored, stored; GPU memory for the adapter at hand', () => {
  const [janus] = registryChoices();
  const full = describeChoice(janus!, undefined, false, 'none');
  assert.match(full.facts, /^Download ≈ 3\.90 GiB · GPU memory 9\.80 GB \(no shader-f16\)$/);
  assert.equal(full.action, 'Download and load Janus 1.3B');
  assert.match(describeChoice(janus!, undefined, true, 'none').facts, /GPU memory 4\.99 GB$/);
  // The page's default: 4 bits, with the space the stored pack takes.
  const fresh = describeChoice(janus!, undefined, false);
  assert.match(fresh.facts, /^Download ≈ 3\.90 GiB · GPU memory 2\.95 GB at 4 bits \(no shader-f16\) · kept as ≈ 1\.15 GiB$/);
  const f16 = describeChoice(janus!, undefined, true);
  assert.match(f16.facts, /GPU memory 2\.12 GB at 4 bits · kept as/);
  const partial = describeChoice(janus!, cached('k', false, 2 ** 30, 4 * 2 ** 30), true);
  assert.match(partial.facts, /Partly stored: 1\.00 GiB of 4\.00 GiB$/);
  assert.equal(partial.action, 'Resume download of Janus 1.3B');
  const done = describeChoice(tiny, cached('k', true), false);
  assert.match(done.facts, /^Download \(done\) .* · Stored on this computer$/);
  assert.ok(!/GPU memory/.test(done.facts), 'no GPU figure for a model the registry does not describe');
  assert.equal(done.action, 'Load Tiny test model (random weights)');
});

test('stored models that no entry offers get one; partial ones and offered ones do not', () => {
  const choices = [tiny, ...registryChoices()];
  const stored = [
    cached('http://127.0.0.1:8080/models/tiny-test/', true),
    cached('https://mirror.example/Janus/', true, 5, 5),
    cached('https://mirror.example/half/', false),
    cached('https://huggingface.co/deepseek-ai/Janus-1.3B/resolve/main/', true),
  ];
  const added = storedChoices(stored, choices, PAGE);
  assert.deepEqual(
    added.map((c) => [c.source, c.downloadBytes]),
    [['https://mirror.example/Janus/', 5]],
  );
  assert.equal(describeChoice(added[0]!, stored[1], false).action, 'Load https://mirror.example/Janus/');
  assert.deepEqual(storedChoices(stored, [...choices, ...added], PAGE), [], 'added once');
});

test('the storage panel names a model by its entry, and says when it is partial', () => {
  assert.equal(storedLine(cached('k', true, 2048, 2048), tiny), 'Tiny test model (random weights): 2.00 KiB');
  assert.equal(storedLine(cached('https://x/', false, 1024, 4096), undefined), 'https://x/: 1.00 KiB of 4.00 KiB (partial)');
});

test('at 4 bits a stored pack stands for its model: found, described, named, and not offered twice', () => {
  const [janus] = registryChoices();
  const base = keyOf(janus!, PAGE);
  const pack = { ...cached(`${base}janus-pack-q4/`, true, 1_300_000_000, 1_300_000_000), name: 'Janus 1.3B (q4)' };
  const stored = [pack];
  assert.equal(storedFor(janus!, stored, PAGE, 'q4'), pack);
  assert.equal(storedFor(janus!, stored, PAGE, 'none'), undefined, 'an engine without quant reads the pack only when told');
  const partialSource = cached(base, false, 10, 100);
  assert.equal(storedFor(janus!, [partialSource, pack], PAGE, 'q4'), pack, 'the pack before a partial download');
  assert.equal(storedFor(janus!, [partialSource], PAGE, 'q4'), partialSource);
  const facts = describeChoice(janus!, pack, true).facts;
  assert.match(facts, /^Download \(done\) .* · Stored on this computer \(4-bit, 1\.21 GiB\)$/);
  assert.equal(describeChoice(janus!, pack, true).action, 'Load Janus 1.3B');
  assert.equal(choiceOf(pack, registryChoices(), PAGE)?.id, 'janus-1.3b');
  assert.equal(storedLine(pack, janus), 'Janus 1.3B (4-bit): 1.21 GiB');
  assert.deepEqual(storedChoices(stored, registryChoices(), PAGE), [], 'no second entry for the pack');
});
