// A Blob's bytes as text: base64 for OpenAI's `b64_json` and for data: URLs (a saved
// conversation's pictures). Plain JavaScript, so it runs in a page, a worker or Node.

/** A Blob's bytes in base64, in slices (String.fromCharCode takes a bounded argument list). */
export async function base64(blob: Blob): Promise<string> {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let binary = '';
  for (let at = 0; at < bytes.length; at += 0x8000) binary += String.fromCharCode(...bytes.subarray(at, at + 0x8000));
  return btoa(binary);
}

/** `blob` as a data: URL, typed as it is (or as bytes when it has no type). */
export async function dataUrl(blob: Blob): Promise<string> {
  return `data:${blob.type === '' ? 'application/octet-stream' : blob.type};base64,${await base64(blob)}`;
}
