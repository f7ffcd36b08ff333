// The client's arguments -> protocol request fields, and protocol results -> the client's values.
// Validation that needs no engine happens here, so that a bad call fails before it is queued.

import type { ChatMessage, ChatOptions, GeneratedImages, ImagePreview, RgbaImage } from './client.js';
import type { RequestFields } from './connection.js';
import { JanusError } from './errors.js';
import type { ChatImage, WireImageResult } from './protocol.js';
import type { EngineMessage, EnginePreview } from './types.js';

/** The page's URL, which relative model URLs are resolved against. */
export function pageUrl(): string | undefined {
  return typeof location === 'undefined' ? undefined : location.href;
}

/** Validates the conversation and flattens its images, in message order. */
export function chatFields(messages: readonly ChatMessage[], options: ChatOptions): RequestFields<'chat'> {
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new JanusError('bad-request', 'chat needs at least one message');
  }
  const images: ChatImage[] = [];
  const wireMessages = messages.map((message, i): EngineMessage => {
    if (message.role !== 'user' && message.role !== 'assistant') {
      throw new JanusError('bad-request', `message ${i}: role must be 'user' or 'assistant'`);
    }
    if (typeof message.content !== 'string') throw new JanusError('bad-request', `message ${i}: content must be a string`);
    const own: readonly ChatImage[] = message.images ?? [];
    own.forEach((image, j) => {
      if (!isChatImage(image)) {
        throw new JanusError('bad-image', `message ${i}, image ${j}: expected a Blob, ImageBitmap or ImageData`);
      }
    });
    images.push(...own);
    return own.length === 0 ? { role: message.role, content: message.content } : { role: message.role, content: message.content, images: own.length };
  });
  const { system, maxNewTokens, temperature, topP, topK, seed, reuse, logprobs, topLogprobs, json } = options;
  const stop = stopList(options.stop);
  const request = {
    messages: wireMessages,
    ...withoutUndefined({ system, maxNewTokens, temperature, topP, topK, seed, stop, reuse, logprobs, topLogprobs, json }),
  };
  return { request, images };
}

/** `ChatOptions.stop` as the engine takes it: a list (the engine checks each entry). */
function stopList(stop: ChatOptions['stop']): string[] | undefined {
  if (stop === undefined) return undefined;
  const list: unknown[] = typeof stop === 'string' ? [stop] : Array.isArray(stop) ? [...(stop as unknown[])] : [stop];
  list.forEach((s, i) => {
    if (typeof s !== 'string') throw new JanusError('bad-request', `stop[${i}] must be a string`);
  });
  return list as string[];
}

function isChatImage(value: unknown): value is ChatImage {
  return (
    value instanceof Blob ||
    (typeof ImageBitmap !== 'undefined' && value instanceof ImageBitmap) ||
    (typeof ImageData !== 'undefined' && value instanceof ImageData)
  );
}

/** RGBA bytes -> an ImageData where the constructor exists (no copy), else a plain object. */
function rgba(bytes: Uint8Array, width: number, height: number): RgbaImage {
  const data = new Uint8ClampedArray(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength);
  return typeof ImageData === 'function' ? new ImageData(data, width, height) : { width, height, data };
}

export function toPreview(preview: EnginePreview, step: number, total: number): ImagePreview {
  const { width, height } = preview;
  return { step, total, width, height, images: preview.images.map((bytes) => rgba(bytes, width, height)) };
}

export function toGeneratedImages(raw: WireImageResult): GeneratedImages {
  const images = raw.images.map((bytes) => rgba(bytes, raw.width, raw.height));
  return { width: raw.width, height: raw.height, images, codes: raw.codes, cancelled: raw.cancelled, seed: raw.seed };
}

/**
 * `value` without its undefined properties: the engine deserialises requests with serde, and an
 * absent field (default) is what is meant.
 */
type Defined<T> = { [K in keyof T]?: Exclude<T[K], undefined> };
export function withoutUndefined<T extends object>(value: T): Defined<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Defined<T>;
}
