// A first look at a picture the user attaches, from its first bytes, before it joins a message:
// is it in a format the engine decodes (PNG, JPEG, WebP, GIF: the image crate's features in
// Cargo.toml), and are its sides within what the engine takes. The engine checks again when it
// decodes and stays the authority (a file cut short is only found then); this look names the
// problem at once, while the person is still writing, and never reads the pixels.

/** The engine's limits (crate/janus-model/src/preprocess/image.rs: MAX_SIDE, MAX_PIXELS). */
export const MAX_SIDE = 16_384;
export const MAX_PIXELS = 64_000_000;

/** How far to look for the sides: a JPEG's frame header may follow long EXIF or ICC segments. */
const HEAD_BYTES = 512 * 1024;

export type PictureFormat = 'PNG' | 'JPEG' | 'WebP' | 'GIF';

export type PictureCheck =
  /** Usable as far as the header tells; `sides` is null when the header did not say. */
  | { ok: true; format: PictureFormat; sides: [number, number] | null }
  | { ok: false; problem: 'not-a-picture' }
  | { ok: false; problem: 'too-large' | 'empty'; sides: [number, number] };

export async function inspectPicture(file: Blob): Promise<PictureCheck> {
  return inspectHead(new Uint8Array(await file.slice(0, HEAD_BYTES).arrayBuffer()));
}

/** The check on a file's first bytes (exported for tests). */
export function inspectHead(bytes: Uint8Array): PictureCheck {
  const format = formatOf(bytes);
  if (format === null) return { ok: false, problem: 'not-a-picture' };
  const sides = sidesOf(format, bytes);
  if (sides === null) return { ok: true, format, sides: null };
  const [width, height] = sides;
  if (width === 0 || height === 0) return { ok: false, problem: 'empty', sides };
  if (width > MAX_SIDE || height > MAX_SIDE || width * height > MAX_PIXELS) return { ok: false, problem: 'too-large', sides };
  return { ok: true, format, sides };
}

/** What the page says about a refused file, naming it and the way out. */
export function describeProblem(name: string, check: Exclude<PictureCheck, { ok: true }>): string {
  switch (check.problem) {
    case 'not-a-picture':
      return `${name} was not attached: it is not a picture Janus can read. Attach a PNG, JPEG, WebP or GIF image.`;
    case 'empty':
      return `${name} was not attached: the picture has no pixels (${check.sides[0]} × ${check.sides[1]}).`;
    case 'too-large':
      return (
        `${name} was not attached: at ${check.sides[0]} × ${check.sides[1]} pixels the picture is too large. ` +
        `Janus reads pictures up to ${MAX_SIDE} pixels a side and ${MAX_PIXELS / 1e6} megapixels: make it smaller and attach it again.`
      );
  }
}

/** The format by its signature, as the engine's decoder guesses it. */
function formatOf(b: Uint8Array): PictureFormat | null {
  const ascii = (at: number, text: string): boolean => [...text].every((c, i) => b[at + i] === c.charCodeAt(0));
  if (b[0] === 0x89 && ascii(1, 'PNG\r\n\x1a\n')) return 'PNG';
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'JPEG';
  if (ascii(0, 'RIFF') && ascii(8, 'WEBP')) return 'WebP';
  if (ascii(0, 'GIF87a') || ascii(0, 'GIF89a')) return 'GIF';
  return null;
}

function sidesOf(format: PictureFormat, b: Uint8Array): [number, number] | null {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const has = (end: number): boolean => end <= b.length;
  const tag = (at: number): string => String.fromCharCode(...b.subarray(at, at + 4));
  switch (format) {
    case 'PNG':
      // The first chunk is IHDR: width and height, big-endian.
      return has(24) && tag(12) === 'IHDR' ? [view.getUint32(16), view.getUint32(20)] : null;
    case 'GIF':
      // The logical screen's size, little-endian.
      return has(10) ? [view.getUint16(6, true), view.getUint16(8, true)] : null;
    case 'WebP':
      if (!has(30)) return null;
      if (tag(12) === 'VP8X') return [1 + (view.getUint32(24, true) & 0xffffff), 1 + (view.getUint32(27, true) & 0xffffff)];
      if (tag(12) === 'VP8L' && b[20] === 0x2f) {
        const bits = view.getUint32(21, true);
        return [1 + (bits & 0x3fff), 1 + ((bits >>> 14) & 0x3fff)];
      }
      if (tag(12) === 'VP8 ' && b[23] === 0x9d && b[24] === 0x01 && b[25] === 0x2a) {
        return [view.getUint16(26, true) & 0x3fff, view.getUint16(28, true) & 0x3fff];
      }
      return null;
    case 'JPEG':
      return jpegSides(b, view);
  }
}

/** Walks the JPEG's segments to its frame header (SOFn), which holds the sides. */
function jpegSides(b: Uint8Array, view: DataView): [number, number] | null {
  let at = 2;
  while (at + 4 <= b.length) {
    if (b[at] !== 0xff) return null; // not a segment boundary: leave it to the engine
    const marker = b[at + 1] ?? 0;
    if (marker === 0xff) {
      at += 1; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2; // no length
      continue;
    }
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC): length, precision, height, width.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return at + 9 <= b.length ? [view.getUint16(at + 7), view.getUint16(at + 5)] : null;
    }
    if (marker === 0xda || marker === 0xd9) return null; // scan data or the end before any frame
    at += 2 + view.getUint16(at + 2);
  }
  return null;
}
