// An OpenAI-style face on a JanusClient, for code written against OpenAI's SDK or WebLLM's
// engine: `chat.completions.create` (streamed or whole, pictures as image_url parts, stop
// sequences, usage with the kept cache as cached_tokens) and `images.generate` (Janus's text to
// image as base64 PNG or blob: URLs). It runs in the page, on the client's worker; no server.
//
//   const openai = openAI(await JanusClient.create());   // after janus.load(...)
//   const reply = await openai.chat.completions.create({ messages: [{ role: 'user', content: 'Hi' }] });
//   for await (const chunk of await openai.chat.completions.create({ messages, stream: true }))
//     out.textContent += chunk.choices[0]?.delta.content ?? '';

import { create, type ChatClient } from './chat.js';
import { generate, type ImageClient } from './images.js';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionParams,
  ChatCompletionParamsNonStreaming,
  ChatCompletionParamsStreaming,
  ImageGenerateParams,
  ImagesResponse,
  RequestOptions,
} from './types.js';

export interface JanusOpenAI {
  chat: {
    completions: {
      create(params: ChatCompletionParamsStreaming, options?: RequestOptions): Promise<AsyncIterable<ChatCompletionChunk>>;
      create(params: ChatCompletionParamsNonStreaming, options?: RequestOptions): Promise<ChatCompletion>;
      create(params: ChatCompletionParams, options?: RequestOptions): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>>;
    };
  };
  images: {
    generate(params: ImageGenerateParams, options?: RequestOptions): Promise<ImagesResponse>;
  };
}

/**
 * OpenAI's chat completions and images calls on `client` (a JanusClient with a model loaded).
 * `model` names the model in responses where a request does not (default 'janus').
 */
export function openAI(client: ChatClient & ImageClient, options: { model?: string } = {}): JanusOpenAI {
  const model = options.model ?? 'janus';
  return {
    chat: {
      completions: {
        create: ((params: ChatCompletionParams, request?: RequestOptions) => create(client, model, params, request)) as JanusOpenAI['chat']['completions']['create'],
      },
    },
    images: { generate: (params, request) => generate(client, params, request) },
  };
}

export { finishReason } from './chat.js';
export { JANUS_IMAGE_SIZE } from './images.js';
export type * from './types.js';
