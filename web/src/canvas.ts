// Canvas helpers shared by the page and <janus-image>: drawing RGBA images, saving as PNG (and
// any Blob as a download).

import type { RgbaImage } from './client.js';

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
