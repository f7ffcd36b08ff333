// How a turn of the conversation looks beyond its text: its marks (stopped, cut, failed), its line
// of figures, its pictures; and which replies can be continued. The conversation (chat.ts) makes
// the turns and keeps them.

import type { ChatResult } from '../src/index.js';
import type { KeptTurn } from './kept-conversations.js';

/** A turn as the conversation shows it. */
export interface Turn extends KeptTurn {
  element: HTMLLIElement;
  /** A reply being continued: its text before, which is what is kept until it ends. */
  before?: string;
}

/** Shows a reply's marks (stopped, cut, failed) and its line of figures on its element. */
export function decorate(turn: Turn): void {
  const mark = (name: 'stopped' | 'cut' | 'failed'): void => {
    if (turn[name] === true) turn.element.dataset[name] = 'true';
    else delete turn.element.dataset[name];
  };
  mark('stopped');
  mark('cut');
  mark('failed');
  turn.element.querySelector('.stats')?.remove();
  if (turn.stats !== undefined) {
    const stats = document.createElement('p');
    stats.className = 'stats';
    stats.textContent = turn.stats;
    turn.element.append(stats);
  }
}

/** Shows a turn's pictures (a question's, or Janus's drawing of `prompt`) before its text. */
export function showPictures(turn: Turn, prompt = ''): void {
  turn.element.querySelector('.pictures')?.remove();
  if (turn.images.length === 0) return;
  const pictures = document.createElement('div');
  pictures.className = 'pictures';
  const drawing = turn.draw === true && turn.role === 'assistant';
  turn.images.forEach((blob, i) => pictures.append(thumbnail(blob, drawing ? `Janus's picture of “${prompt}”` : `picture ${i + 1} of this message`)));
  turn.element.querySelector('.content')?.before(pictures);
}

/** A reply that ended before it was done: stopped, or cut at its length. */
export function continuable(turn: Turn): boolean {
  return turn.role === 'assistant' && turn.failed !== true && (turn.stopped === true || turn.cut === true) && turn.content !== '';
}

/**
 * What a reply cost: its tokens and their rate, the wait for the first one, and how much of the
 * prompt ran (the engine keeps the last turn's cache: a follow-up runs only what is new).
 */
export function replyStats(result: ChatResult, asked: number, first: number, done: number): string {
  const n = result.ids.length;
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const rate = n > 1 && done > first ? `, ${(((n - 1) * 1000) / (done - first)).toFixed(1)} tokens/s` : '';
  const ran = result.promptTokens - result.reusedTokens;
  const prompt =
    result.reusedTokens > 0
      ? `${ran} of ${result.promptTokens} prompt tokens run, the rest kept from before`
      : `${result.promptTokens} prompt tokens`;
  return `${n} ${n === 1 ? 'token' : 'tokens'}${rate} · first after ${seconds(first - asked)} · ${prompt}`;
}

export function thumbnail(blob: Blob, alt: string): HTMLImageElement {
  const image = document.createElement('img');
  image.className = 'thumbnail';
  image.alt = alt;
  image.src = URL.createObjectURL(blob);
  return image;
}
