// The progressive preview of images being drawn (the page's Create section and its drawings in
// the conversation, <janus-image>, <janus-chat>): the rows decoded so far, as the engine sends
// them.

import { drawRgba } from './canvas.js';
import type { ImagePreview } from './client.js';

/**
 * Draw a progressive preview: one square canvas per image (the final size), the rows decoded so
 * far at the top, the rest left as the placeholder pattern behind the canvas.
 */
export function showPreview(area: HTMLElement, preview: ImagePreview): void {
  preview.images.forEach((image, i) => {
    let canvas = area.children[i] as HTMLCanvasElement | undefined;
    if (canvas === undefined) {
      canvas = document.createElement('canvas');
      canvas.width = preview.width;
      canvas.height = preview.width;
      area.append(canvas);
    }
    canvas.dataset.rows = String(preview.height);
    drawRgba(canvas, image);
  });
}
