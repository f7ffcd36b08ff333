// Worker side: chat images as the caller gave them -> images as the engine takes them.
//
//   Blob        -> { kind: 'encoded', bytes }  the engine decodes PNG/JPEG/WebP itself
//   ImageData   -> { kind: 'rgba', ... }       pixels as they are (straight alpha)
//   ImageBitmap -> { kind: 'rgba', ... }       drawn on an OffscreenCanvas and read back
//
// Encoded bytes are preferred: the engine's decoder matches the reference (Pillow) exactly, while
// a browser-decoded bitmap may have gone through colour management.

import { JanusError } from './errors.js';
import type { ChatImage } from './protocol.js';
import type { EngineImage } from './types.js';

export async function toEngineImage(image: ChatImage, index: number): Promise<EngineImage> {
  if (image instanceof Blob) {
    return { kind: 'encoded', bytes: new Uint8Array(await image.arrayBuffer()) };
  }
  if (typeof ImageData !== 'undefined' && image instanceof ImageData) {
    const { width, height, data } = image;
    return { kind: 'rgba', width, height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  }
  if (typeof ImageBitmap !== 'undefined' && image instanceof ImageBitmap) {
    return bitmapToRgba(image, index);
  }
  throw new JanusError('bad-image', `image ${index}: expected a Blob, ImageBitmap or ImageData`);
}

export function toEngineImages(images: readonly ChatImage[]): Promise<EngineImage[]> {
  return Promise.all(images.map((image, index) => toEngineImage(image, index)));
}

function bitmapToRgba(bitmap: ImageBitmap, index: number): EngineImage {
  const { width, height } = bitmap;
  // A closed (or transferred-away) bitmap reports 0 x 0.
  if (width === 0 || height === 0) {
    throw new JanusError('bad-image', `image ${index}: the ImageBitmap is empty or closed`);
  }
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext('2d', { willReadFrequently: true });
  if (context === null) throw new JanusError('internal', 'OffscreenCanvas has no 2d context in this worker');
  context.drawImage(bitmap, 0, 0);
  const { data } = context.getImageData(0, 0, width, height);
  return { kind: 'rgba', width, height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}
