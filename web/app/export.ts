// A conversation as one Markdown file to keep or share: its title, each turn under who said it,
// pictures embedded as data: URLs (the file stands alone, with nothing to fetch), a reply's
// figures in italics. Nothing leaves the browser: the page offers the file as a download.

import { dataUrl } from '../src/blob.js';
import type { KeptTurn } from './kept-conversations.js';

/** Markdown for `turns`, headed by `title`. */
export async function conversationMarkdown(title: string, turns: readonly KeptTurn[]): Promise<string> {
  const parts = [`# ${oneLine(title)}`];
  for (const turn of turns) {
    const lines = [`## ${turn.role === 'user' ? 'You' : 'Janus'}`];
    for (const [i, image] of turn.images.entries()) lines.push(`![picture ${i + 1}](${await dataUrl(image)})`);
    if (turn.content !== '') lines.push(turn.content);
    const marks = [turn.draw === true && turn.role === 'user' ? 'asked for a picture' : '', turn.stopped === true ? 'stopped' : '', turn.failed === true ? 'failed' : '', turn.stats ?? ''].filter((m) => m !== '');
    if (marks.length > 0) lines.push(`*${oneLine(marks.join(' · '))}*`);
    parts.push(lines.join('\n\n'));
  }
  return `${parts.join('\n\n')}\n`;
}

/** A file name for the conversation: `janus-` and the title's first words, lower case. */
export function exportName(title: string): string {
  const words = title
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/, '');
  return `janus-${words === '' ? 'conversation' : words}.md`;
}

/** A title or a line of figures that cannot break the Markdown around it. */
function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').replace(/[*_`#]/g, (c) => `\\${c}`).trim();
}
