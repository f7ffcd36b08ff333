// `images.generate`: Janus's text to image answered as OpenAI's images response — each picture a
// base64 PNG (`b64_json`, the default) or a `blob:` URL of one (`url`), encoded by the browser
// (OffscreenCanvas), in a page or a worker.

import { base64 } from '../blob.js';
import { encodePng } from '../canvas.js';
import type { GenerateImageOptions, GeneratedImages } from '../client.js';
import { JanusError } from '../errors.js';
import { badRequest } from './params.js';
import type { ImageGenerateParams, ImagesResponse, RequestOptions } from './types.js';

/** What the adapter needs of a JanusClient. */
export interface ImageClient {
  generateImage(prompt: string, options?: GenerateImageOptions): Promise<GeneratedImages>;
}

/** Janus and Janus-Pro draw 384 × 384 (24 × 24 image tokens of 16 pixels). */
export const JANUS_IMAGE_SIZE = '384x384';

const KNOWN = new Set(['prompt', 'model', 'n', 'size', 'response_format', 'output_format', 'user', 'seed', 'cfg_weight', 'temperature']);

export async function generate(client: ImageClient, params: ImageGenerateParams, options: RequestOptions = {}): Promise<ImagesResponse> {
  if (typeof params !== 'object' || params === null) throw badRequest('the request must be an object');
  for (const key of Object.keys(params)) {
    if (!KNOWN.has(key)) throw badRequest(`${key} is not an image parameter janus-web knows`);
  }
  if (typeof params.prompt !== 'string') throw badRequest('prompt must be a string');
  const size = params.size ?? 'auto';
  if (size !== 'auto' && size !== JANUS_IMAGE_SIZE) throw badRequest(`size: Janus draws ${JANUS_IMAGE_SIZE} images, not ${size}`);
  const format = params.response_format ?? 'b64_json';
  if (format !== 'b64_json' && format !== 'url') throw badRequest("response_format must be 'b64_json' or 'url'");
  if ((params.output_format ?? 'png') !== 'png') throw badRequest("output_format: janus-web writes 'png'");
  const request: GenerateImageOptions = {};
  if (params.n !== undefined && params.n !== null) request.count = params.n;
  if (params.seed !== undefined && params.seed !== null) request.seed = params.seed;
  if (params.cfg_weight !== undefined && params.cfg_weight !== null) request.cfgWeight = params.cfg_weight;
  if (params.temperature !== undefined && params.temperature !== null) request.temperature = params.temperature;
  if (options.signal !== undefined) request.signal = options.signal;
  const created = Math.floor(Date.now() / 1000);
  const out = await client.generateImage(params.prompt, request);
  if (out.cancelled) throw new JanusError('aborted', 'the image generation was stopped');
  // A model of other shapes (the test fixtures) draws another size: what was asked must be it.
  if (size !== 'auto' && size !== `${out.width}x${out.height}`) throw badRequest(`size: this model draws ${out.width}x${out.height} images, not ${size}`);
  const pngs = await Promise.all(out.images.map(encodePng));
  const data = await Promise.all(pngs.map(async (png) => (format === 'url' ? { url: URL.createObjectURL(png) } : { b64_json: await base64(png) })));
  return { created, data, seed: out.seed };
}
