// Drawing in the conversation (web/src/drawing.ts): which messages ask for a picture, and the
// conversation as the model reads it, each drawing folded into the next question.
// The page draws and asks about the drawing in Chromium (web/test/page-e2e.mjs, step "chat: /imagine"),
// and <janus-chat> does (web/test/package-e2e.mjs, step "plain HTML").

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { drawingLine, drawPrompt, modelHistory } from '../../src/drawing.js';
import type { KeptTurn } from '../../app/kept-conversations.js';

test('/imagine (or /draw) and a description ask for a picture; anything else is a message', () => {
  assert.equal(drawPrompt('/imagine a red fox in the snow'), 'a red fox in the snow');
  assert.equal(drawPrompt('  /Imagine\n a red fox  '), 'a red fox');
  assert.equal(drawPrompt('/draw a cat'), 'a cat');
  assert.equal(drawPrompt('/imagine'), '');
  assert.equal(drawPrompt('/imagined a cat'), null);
  assert.equal(drawPrompt('Please /imagine a cat'), null);
  assert.equal(drawPrompt('What is in this picture?'), null);
});

test('a drawing says its token, and the time left once the pace settles', () => {
  // The first tokens also paid for the prompt: nothing said of the time left before 8.
  assert.equal(drawingLine(1, 576, 3), 'Drawing: token 1 of 576');
  assert.equal(drawingLine(7, 576, 3.5), 'Drawing: token 7 of 576');
  // 96 tokens in 16 s: 480 more at that pace.
  assert.equal(drawingLine(96, 576, 16), 'Drawing: token 96 of 576 (80 s left)');
  // Never "0 s left" before the end, and nothing left to say at it.
  assert.equal(drawingLine(575, 576, 10), 'Drawing: token 575 of 576 (1 s left)');
  assert.equal(drawingLine(576, 576, 10), 'Drawing: token 576 of 576');
});

const png = (name: string): Blob => new Blob([name], { type: 'image/png' });
const ask = (content: string, images: Blob[] = []): KeptTurn => ({ role: 'user', content, images });
const say = (content: string): KeptTurn => ({ role: 'assistant', content, images: [] });
const draw = (prompt: string): KeptTurn => ({ role: 'user', content: prompt, images: [], draw: true });
const drawn = (picture?: Blob): KeptTurn => ({ role: 'assistant', content: '', images: picture === undefined ? [] : [picture], draw: true, seed: 7 });

test('a drawing goes to the model with the next question: its picture first, then what it was drawn from', () => {
  const fox = png('fox');
  const mine = png('mine');
  const history = modelHistory([ask('Hello'), say('Hi.'), draw('a red fox'), drawn(fox), ask('What colour is it?', [mine]), say('Red.')]);
  assert.deepEqual(
    history.map((m) => ({ ...m, images: m.images?.map((b) => b) })),
    [
      { role: 'user', content: 'Hello', images: [] },
      { role: 'assistant', content: 'Hi.', images: [] },
      { role: 'user', content: 'You drew this picture of “a red fox”.\n\nWhat colour is it?', images: [fox, mine] },
      { role: 'assistant', content: 'Red.', images: [] },
    ],
  );
});

test('two drawings in a row go with one question, in order; a drawing not yet asked about is left out', () => {
  const [fox, cat] = [png('fox'), png('cat')];
  const history = modelHistory([draw('a fox'), drawn(fox), draw('a cat'), drawn(cat), ask('Which is bigger?'), say('The fox.'), draw('a dog'), drawn(png('dog'))]);
  assert.equal(history.length, 2);
  assert.equal(history[0]?.content, 'You drew these pictures, in order: “a fox”, “a cat”.\n\nWhich is bigger?');
  assert.deepEqual(history[0]?.images, [fox, cat]);
  assert.equal(history[1]?.content, 'The fox.');
});

test('a drawing that was stopped or failed (no picture) is left out; a question with nothing drawn before it is as asked', () => {
  const history = modelHistory([draw('a fox'), drawn(), ask('And now?')]);
  assert.deepEqual(history, [{ role: 'user', content: 'And now?', images: [] }]);
  // A question that is only the drawing's follow-up with no words still carries the line.
  const fox = png('fox');
  assert.deepEqual(modelHistory([draw('a fox'), drawn(fox), ask('')]), [{ role: 'user', content: 'You drew this picture of “a fox”.', images: [fox] }]);
});
