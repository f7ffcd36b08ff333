// What a chat says while a long prompt is read (web/src/reading.ts). The engine's passes and the
// client's onPrompt are checked in Chromium (web/test/e2e.mjs, step "a long prompt").

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readingLine } from '../../src/reading.js';

test('a long prompt says how much is read, and the time left at the pace so far', () => {
  // 512 of 2,048 in 4 s: 1,536 more at that pace.
  assert.equal(readingLine(512, 2048, 4), 'Reading the conversation: 512 of 2,048 tokens (12 s left)');
  // Never "0 s left" before the end, and nothing left to say at it.
  assert.equal(readingLine(2047, 2048, 4), 'Reading the conversation: 2,047 of 2,048 tokens (1 s left)');
  assert.equal(readingLine(2048, 2048, 4), 'Reading the conversation: 2,048 of 2,048 tokens');
  assert.equal(readingLine(0, 2048, 0), 'Reading the conversation: 0 of 2,048 tokens');
});
