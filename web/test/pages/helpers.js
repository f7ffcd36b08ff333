// Helpers for page.evaluate() in web/test/e2e.mjs: logging on the page, fixtures as Blobs,
// collecting a chat stream, drawing RGBA images, PSNR against a golden PNG.

/** Appends a line to the page's log (it ends up in the screenshot). */
export function log(line) {
  document.getElementById('log').textContent += `${line}\n`;
}

export async function fetchBlob(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.blob();
}

/** RGBA pixels of an image file exactly as stored (no colour management, no premultiplication). */
export async function decodePixels(url) {
  const bitmap = await createImageBitmap(await fetchBlob(url), {
    colorSpaceConversion: 'none',
    premultiplyAlpha: 'none',
  });
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const context = canvas.getContext('2d', { willReadFrequently: true });
  context.drawImage(bitmap, 0, 0);
  return context.getImageData(0, 0, bitmap.width, bitmap.height);
}

/**
 * Reads a ChatStream to the end. `abortAfter` pieces (with `controller`) aborts the signal;
 * `whenPieces(n, fn)` runs fn once n pieces arrived. Returns {pieces, result} or {pieces, error}.
 */
export async function collect(stream, { controller, abortAfter, whenPieces } = {}) {
  const pieces = [];
  let error = null;
  try {
    for await (const piece of stream) {
      pieces.push(piece);
      if (abortAfter !== undefined && pieces.length === abortAfter) controller.abort();
      if (whenPieces !== undefined && pieces.length === whenPieces.count) whenPieces.run();
    }
  } catch (e) {
    error = { name: e.name, code: e.code, message: e.message, panic: e.panic };
  }
  let result = null;
  try {
    result = await stream.result;
  } catch (e) {
    error ??= { name: e.name, code: e.code, message: e.message, panic: e.panic };
  }
  return { pieces, result, error };
}

/** {code, message} of a rejected promise, or {resolved: value} if it did not reject. */
export async function rejection(promise) {
  try {
    return { resolved: await promise };
  } catch (e) {
    return { name: e.name, code: e.code, message: e.message, panic: e.panic };
  }
}

/** Draws an RGBA image on the page; returns it as a PNG data URL. */
export function show(image, label) {
  const canvas = document.createElement('canvas');
  canvas.width = image.width;
  canvas.height = image.height;
  canvas.getContext('2d').putImageData(new ImageData(image.data, image.width, image.height), 0, 0);
  const figure = document.createElement('figure');
  const caption = document.createElement('figcaption');
  caption.textContent = label;
  figure.append(canvas, caption);
  document.getElementById('images').append(figure);
  return canvas.toDataURL('image/png');
}

/** PSNR in dB over the RGB channels of two RGBA images of the same size (Infinity if equal). */
export function psnr(a, b) {
  if (a.width !== b.width || a.height !== b.height) {
    throw new Error(`size differs: ${a.width}x${a.height} vs ${b.width}x${b.height}`);
  }
  let sum = 0;
  let n = 0;
  for (let i = 0; i < a.data.length; i += 4) {
    for (let c = 0; c < 3; c += 1) {
      const d = a.data[i + c] - b.data[i + c];
      sum += d * d;
      n += 1;
    }
  }
  const mse = sum / n;
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}
