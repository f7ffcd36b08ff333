// The kept conversations' titles (web/app/kept-conversations.ts): what the list shows of each;
// a conversation saved as Markdown (web/app/export.ts).
// The store itself runs in Chromium (web/test/page-e2e.mjs, step "chat": several conversations,
// two tabs, version 1's conversation moved into the list).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { conversationMarkdown, exportName } from '../../app/export.js';
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

test('a conversation as Markdown: who said what, its pictures inside, the marks and figures', async () => {
  const png = new Blob([new Uint8Array([0x89, 0x50, 0x4e, 0x47])], { type: 'image/png' });
  const text = await conversationMarkdown('What is *this*?', [
    user('What is *this*?', [png]),
    { role: 'assistant', content: 'A **cat**.', images: [], stats: '3 tokens · first after 0.1 s' },
    user('More.'),
    { role: 'assistant', content: 'It', images: [], stopped: true },
  ]);
  assert.equal(
    text,
    [
      '# What is \\*this\\*?',
      '## You',
      '![picture 1](data:image/png;base64,iVBORw==)',
      'What is *this*?',
      '## Janus',
      'A **cat**.',
      '*3 tokens · first after 0.1 s*',
      '## You',
      'More.',
      '## Janus',
      'It',
      '*stopped*',
    ].join('\n\n') + '\n',
  );
});

test('a drawing in the conversation as Markdown: the request marked, the picture as Janus\'s turn', async () => {
  const png = new Blob([new Uint8Array([0x89, 0x50, 0x4e, 0x47])], { type: 'image/png' });
  const text = await conversationMarkdown('A red fox', [
    { role: 'user', content: 'A red fox', images: [], draw: true },
    { role: 'assistant', content: '', images: [png], draw: true, seed: 7, stats: 'seed 7 · 576 image tokens in 20.0 s' },
  ]);
  assert.equal(text, ['# A red fox', '## You', 'A red fox', '*asked for a picture*', '## Janus', '![picture 1](data:image/png;base64,iVBORw==)', '*seed 7 · 576 image tokens in 20.0 s*'].join('\n\n') + '\n');
});

test("the file's name comes from the title", () => {
  assert.equal(exportName('What is in this picture?'), 'janus-what-is-in-this-picture.md');
  assert.equal(exportName('Café, crème & co'), 'janus-cafe-creme-co.md');
  assert.equal(exportName('🙂'), 'janus-conversation.md');
  assert.equal(exportName('a'.repeat(30) + ' ' + 'b'.repeat(30)), `janus-${'a'.repeat(30)}-${'b'.repeat(9)}.md`);
});
