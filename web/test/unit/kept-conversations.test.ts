// The kept conversations' titles (web/app/kept-conversations.ts): what the list shows of each.
// The store itself runs in Chromium (web/test/page-e2e.mjs, step "chat": several conversations,
// two tabs, version 1's conversation moved into the list).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { titleOf, type KeptTurn } from '../../app/kept-conversations.js';

const user = (content: string, images: Blob[] = []): KeptTurn => ({ role: 'user', content, images });
const reply = (content: string): KeptTurn => ({ role: 'assistant', content, images: [] });

test("a conversation's title is its first question, on one line, cut at 60 characters", () => {
  assert.equal(titleOf([user('  What is in   this picture? '), reply('A cat.'), user('And now?')]), 'What is in this picture?');
  assert.equal(titleOf([user('What is\n in\tthis picture?')]), 'What is in this picture?');
  const long = `${'é'.repeat(59)}🙂 and more`;
  const title = titleOf([user(long)]);
  assert.equal([...title].length, 60);
  assert.ok(title.endsWith('…') && title.startsWith('é'.repeat(59)), title);
  assert.equal(titleOf([user('x'.repeat(60))]), 'x'.repeat(60));
});

test('a question with only pictures, or none at all, still has a title', () => {
  assert.equal(titleOf([user('  ', [new Blob(['png'])]), reply('A cat.')]), 'A picture');
  assert.equal(titleOf([reply('Hello.')]), 'A conversation');
  assert.equal(titleOf([]), 'A conversation');
});
