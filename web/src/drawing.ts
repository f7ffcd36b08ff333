// Drawing in the conversation, as the transformers.js Janus demo's `/imagine`: a message that
// begins with /imagine (or /draw) asks Janus for a picture of the rest, and the picture is
// Janus's turn. Janus reads pictures only in the person's turns (its chat template, as trained),
// so what it drew goes to the model with the next question: that question carries the picture
// and a line saying what it was drawn from, and Janus can be asked about its own drawing. The
// drawing turns themselves are not text to the model. Used by the page's chat and <janus-chat>.

import { encodePng } from './canvas.js';
import type { ChatMessage, GenerateImageOptions, JanusClient } from './client.js';
import { showPreview } from './preview.js';
import type { ChatImage } from './protocol.js';

/** A turn of a conversation that may hold drawings. */
export interface DrawnTurn {
  role: 'user' | 'assistant';
  content: string;
  images?: readonly ChatImage[];
  /** A drawing: the person's request (its content the prompt) or Janus's picture of it. */
  draw?: boolean;
}

/** `/imagine a red fox` → 'a red fox'; null for any other message. */
export function drawPrompt(text: string): string | null {
  const match = /^\/(?:imagine|draw)(?:\s+|$)([\s\S]*)$/i.exec(text.trim());
  return match === null ? null : (match[1] ?? '').trim();
}

/**
 * What a drawing says after image token `step` of `total`, `seconds` after it was asked for:
 * "Drawing: token 96 of 576 (40 s left)". The time left is the pace so far carried to the last
 * token, said once 8 tokens are in: the first ones also paid for reading the prompt.
 */
export function drawingLine(step: number, total: number, seconds: number): string {
  const left = step >= 8 && step < total ? ` (${Math.max(1, Math.round((seconds / step) * (total - step)))} s left)` : '';
  return `Drawing: token ${step} of ${total}${left}`;
}

/** A picture Janus drew for a conversation. */
export interface Drawing {
  png: Blob;
  seed: number;
  /** Image tokens drawn (576 for Janus). */
  tokens: number;
}

/**
 * Draws one picture of `prompt` for a conversation: its `drawingLine` to `say` after every
 * token, the rows into `preview` as they are decoded (it is removed at the end, whatever the
 * end). Resolves with the picture as a PNG, or null when stopped.
 */
export async function drawOne(
  client: JanusClient,
  prompt: string,
  options: Pick<GenerateImageOptions, 'cfgWeight' | 'temperature' | 'seed' | 'signal'>,
  say: (text: string) => void,
  preview: HTMLElement,
): Promise<Drawing | null> {
  const started = performance.now();
  try {
    const result = await client.generateImage(prompt, {
      ...options,
      onStep: (step, total) => say(drawingLine(step, total, (performance.now() - started) / 1000)),
      onPreview: (partial) => showPreview(preview, partial),
    });
    const image = result.images[0];
    if (result.cancelled || image === undefined) return null;
    return { png: await encodePng(image), seed: result.seed, tokens: result.codes[0]?.length ?? 0 };
  } finally {
    preview.remove();
  }
}

/**
 * The conversation as the model reads it: the turns as they are, except that each drawing (the
 * request and Janus's picture) is folded into the next question: its pictures go first, then a
 * line naming what they were drawn from, then the question. A drawing with no question after it
 * yet is left out.
 */
export function modelHistory(turns: readonly DrawnTurn[]): ChatMessage[] {
  const history: ChatMessage[] = [];
  let prompts: string[] = [];
  let pictures: ChatImage[] = [];
  for (const [i, turn] of turns.entries()) {
    if (turn.draw === true) {
      // The request's prompt, taken once its picture is there.
      const drawn = turns[i + 1];
      const drawing = drawn?.draw === true && drawn.role === 'assistant' ? (drawn.images ?? []) : [];
      if (turn.role === 'user' && drawing.length > 0) {
        prompts.push(turn.content);
        pictures = [...pictures, ...drawing];
      }
      continue;
    }
    if (turn.role === 'user' && pictures.length > 0) {
      history.push({ role: 'user', content: `${drawnLine(prompts)}\n\n${turn.content}`.trim(), images: [...pictures, ...(turn.images ?? [])] });
      prompts = [];
      pictures = [];
      continue;
    }
    history.push({ role: turn.role, content: turn.content, images: [...(turn.images ?? [])] });
  }
  return history;
}

/** What the pictures before a question are: Janus's own drawings, and of what. */
function drawnLine(prompts: readonly string[]): string {
  const quoted = prompts.map((p) => `“${p}”`);
  if (quoted.length === 1) return `You drew this picture of ${quoted[0]}.`;
  return `You drew these pictures, in order: ${quoted.join(', ')}.`;
}
