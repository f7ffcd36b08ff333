// Worker side: engine results -> values that are safe to post to the page.
//
// serde-wasm-bindgen may hand back `Vec<u32>` as a plain Array or a typed array, and a byte
// vector as a Uint8Array that could (in principle) view the wasm memory itself. Transferring a
// view of the wasm memory would detach it and kill the instance, so pixels are copied unless they
// own their whole buffer, and id lists become plain number arrays.

import { JanusError } from './errors.js';
import type { DownloadReport, LoadResult, WireImageResult } from './protocol.js';
import type { ChatResult, EngineImageResult, LoadReport } from './types.js';

/** `value` as a number[] (from an Array or any typed array). */
export function toNumbers(value: unknown, what: string): number[] {
  if (Array.isArray(value)) return value.map(Number);
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    return Array.from(value as unknown as ArrayLike<number>, Number);
  }
  throw new JanusError('internal', `engine returned ${what} of an unexpected type: ${typeof value}`);
}

/** A Uint8Array that owns its whole ArrayBuffer and is not the wasm memory: safe to transfer. */
export function ownedBytes(value: unknown, wasmMemory: WebAssembly.Memory, what: string): Uint8Array<ArrayBuffer> {
  if (value instanceof Uint8Array || value instanceof Uint8ClampedArray) {
    const owns =
      value.buffer instanceof ArrayBuffer &&
      value.buffer !== wasmMemory.buffer &&
      value.byteOffset === 0 &&
      value.byteLength === value.buffer.byteLength;
    if (owns) return new Uint8Array(value.buffer as ArrayBuffer);
    return new Uint8Array(value); // copies
  }
  if (Array.isArray(value)) return Uint8Array.from(value as number[]);
  throw new JanusError('internal', `engine returned ${what} of an unexpected type: ${typeof value}`);
}

export function chatResult(raw: ChatResult): ChatResult {
  return {
    text: raw.text,
    ids: toNumbers(raw.ids, 'chat ids'),
    promptTokens: raw.promptTokens,
    reusedTokens: raw.reusedTokens,
    stop: raw.stop,
    seed: raw.seed,
    ...(raw.logprobs === undefined ? {} : { logprobs: raw.logprobs }),
  };
}

export function loadResult(raw: LoadReport, wasmMemoryBytes: number, download: DownloadReport): LoadResult {
  return { ...raw, splitTensors: [...raw.splitTensors], wasmMemoryBytes, download };
}

/** The image result plus the buffers to transfer with it. */
export function imageResult(
  raw: EngineImageResult,
  wasmMemory: WebAssembly.Memory,
): { value: WireImageResult; transfer: ArrayBuffer[] } {
  const expected = raw.width * raw.height * 4;
  const images = raw.images.map((pixels, i) => {
    const bytes = ownedBytes(pixels, wasmMemory, `image ${i}`);
    if (bytes.byteLength !== expected) {
      throw new JanusError(
        'internal',
        `engine image ${i} has ${bytes.byteLength} bytes, expected ${raw.width}x${raw.height}x4 = ${expected}`,
      );
    }
    return bytes;
  });
  const codes = raw.codes.map((row, i) => toNumbers(row, `codes ${i}`));
  return {
    value: { width: raw.width, height: raw.height, images, codes, cancelled: raw.cancelled, seed: raw.seed },
    transfer: images.map((bytes) => bytes.buffer),
  };
}
