// janus-web's API from a Vite build: load with progress, a streamed reply, an image with a
// progressive preview. Vite emits worker.js and the wasm as assets (the package points at them
// with `new URL('./file', import.meta.url)`). The outcome is written to document.body.dataset
// for the package test (web/test/package-e2e.mjs).

import { JanusClient, JanusError, type ImagePreview } from 'janus-web';

/** Any base URL in Hugging Face layout, or a registry id such as 'janus-1.3b'. */
const MODEL_URL = new URL('/models/tiny-test/', location.href).href;

const status = document.querySelector<HTMLParagraphElement>('#status')!;
const progress = document.querySelector<HTMLProgressElement>('#progress')!;
const reply = document.querySelector<HTMLParagraphElement>('#reply')!;
const canvas = document.querySelector<HTMLCanvasElement>('#picture')!;

function draw(image: ImageData | { width: number; height: number; data: Uint8ClampedArray }): void {
  if (canvas.width !== image.width) canvas.width = canvas.height = image.width;
  const pixels = image instanceof ImageData ? image : new ImageData(new Uint8ClampedArray(image.data), image.width, image.height);
  canvas.getContext('2d')!.putImageData(pixels, 0, 0);
}

async function main(): Promise<void> {
  const janus = await JanusClient.create();
  const loaded = await janus.load(MODEL_URL, {
    onProgress: (p) => {
      progress.max = 1;
      progress.value = p.phase === 'download' ? p.bytes / Math.max(1, p.total) : p.bytesDone / Math.max(1, p.bytesTotal);
    },
  });
  status.textContent = `Loaded ${loaded.parameters.toLocaleString()} parameters (${loaded.dtype}).`;

  const stream = janus.chat([{ role: 'user', content: 'Say hello.' }], { maxNewTokens: 6, temperature: 0 });
  for await (const piece of stream) reply.textContent += piece;
  const chat = await stream.result;

  let previews = 0;
  const picture = await janus.generateImage('A red fox in the snow', {
    seed: 3,
    onStep: (step, total) => (status.textContent = `Drawing ${step} of ${total}`),
    onPreview: (preview: ImagePreview) => {
      previews += 1;
      draw(preview.images[0]!);
    },
  });
  draw(picture.images[0]!);
  status.textContent = 'Done.';
  document.body.dataset.done = JSON.stringify({ tokens: chat.ids.length, stop: chat.stop, width: picture.width, seed: picture.seed, previews });
  janus.dispose();
}

main().catch((error: unknown) => {
  status.textContent = error instanceof JanusError ? `${error.code}: ${error.message}` : String(error);
  document.body.dataset.failed = status.textContent;
});
