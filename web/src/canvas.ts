// Canvas helpers shared by the page, <janus-image> and the OpenAI-style adapter: drawing RGBA
// images, encoding them as PNG, saving as PNG (and any Blob as a download).

import type { RgbaImage } from './client.js';
import { JanusError } from './errors.js';

/** Draws RGBA pixels at the canvas' top left (a preview covers only the rows drawn so far). */
export function drawRgba(canvas: HTMLCanvasElement, image: RgbaImage): void {
  const pixels = image instanceof ImageData ? image : new ImageData(new Uint8ClampedArray(image.data), image.width, image.height);
  canvas.getContext('2d')?.putImageData(pixels, 0, 0);
}

/** Encodes `canvas` as PNG and offers it as `filename` through the browser's download. */
export function saveCanvasAsPng(canvas: HTMLCanvasElement, filename: string): void {
  canvas.toBlob((blob) => {
    if (blob !== null) saveBlob(blob, filename);
  }, 'image/png');
}

/** Offers `blob` as `filename` through the browser's download. */
export function saveBlob(blob: Blob, filename: string): void {
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = filename;
  link.click();
  // After the download has started; revoking at once can cancel it in some browsers.
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

/** RGBA pixels as a PNG file, encoded by the browser. */
export async function encodePng(image: RgbaImage): Promise<Blob> {
  if (typeof OffscreenCanvas === 'undefined') throw new JanusError('bad-request', 'this browser has no OffscreenCanvas to encode PNG with');
  const canvas = new OffscreenCanvas(image.width, image.height);
  const context = canvas.getContext('2d');
  if (context === null) throw new JanusError('bad-request', 'OffscreenCanvas gave no 2D context to encode PNG with');
  context.putImageData(new ImageData(new Uint8ClampedArray(image.data), image.width, image.height), 0, 0);
  return canvas.convertToBlob({ type: 'image/png' });
}
