// OpenAI-style chat parameters checked and turned into a JanusClient chat: the messages (system
// messages become the system prompt, a user message's image parts become its pictures, fetched
// from their URLs), and the settings Janus has. Whatever Janus cannot honour is refused by name
// with 'bad-request', so a caller never gets a reply that silently ignored part of its request.

import type { ChatMessage, ChatOptions } from '../client.js';
import { JanusError } from '../errors.js';
import type { ChatCompletionParams, ImagePart, OpenAIMessage, TextPart } from './types.js';

/** Parameters read by `toChat`, and those that change nothing a local model does. */
const KNOWN = new Set([
  'messages', 'model', 'stream', 'stream_options', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p',
  'seed', 'stop', 'n', 'logprobs', 'top_logprobs', 'frequency_penalty', 'presence_penalty', 'logit_bias',
  'response_format', 'tools', 'tool_choice', 'parallel_tool_calls', 'user', 'metadata', 'store', 'top_k', 'reuse',
]);

/** A chat as JanusClient takes it. */
export interface JanusChat {
  messages: ChatMessage[];
  options: ChatOptions;
}

export function badRequest(message: string): JanusError {
  return new JanusError('bad-request', message);
}

/**
 * Checks `params` and fetches the pictures its messages point to; `signal` stops the fetches
 * (rejecting with 'aborted').
 */
export async function toChat(params: ChatCompletionParams, signal?: AbortSignal): Promise<JanusChat> {
  if (typeof params !== 'object' || params === null) throw badRequest('the request must be an object');
  for (const key of Object.keys(params)) {
    if (!KNOWN.has(key)) throw badRequest(`${key} is not a chat completion parameter janus-web knows`);
  }
  refuseUnsupported(params);
  if (!Array.isArray(params.messages) || params.messages.length === 0) throw badRequest('messages must be a non-empty array');
  const { system, rest } = splitSystem(params.messages);
  const messages = await Promise.all(rest.map((m, i) => toMessage(m, i + (params.messages.length - rest.length), signal)));
  const maxNewTokens = optionalNumber(params.max_completion_tokens, 'max_completion_tokens') ?? optionalNumber(params.max_tokens, 'max_tokens');
  const options: ChatOptions = {};
  if (system !== undefined) options.system = system;
  if (maxNewTokens !== undefined) options.maxNewTokens = maxNewTokens;
  const temperature = optionalNumber(params.temperature, 'temperature');
  if (temperature !== undefined) options.temperature = temperature;
  const topP = optionalNumber(params.top_p, 'top_p');
  if (topP !== undefined) options.topP = topP;
  const topK = optionalNumber(params.top_k, 'top_k');
  if (topK !== undefined) options.topK = topK;
  const seed = optionalNumber(params.seed, 'seed');
  if (seed !== undefined) options.seed = seed;
  if (params.stop !== undefined && params.stop !== null) options.stop = params.stop;
  if (params.reuse !== undefined) options.reuse = params.reuse;
  Object.assign(options, logprobOptions(params));
  if (params.response_format?.type === 'json_object') options.json = true;
  return { messages, options };
}

/** `logprobs` and `top_logprobs` (0 to 20, only with `logprobs: true`, as OpenAI says). */
function logprobOptions(params: ChatCompletionParams): Pick<ChatOptions, 'logprobs' | 'topLogprobs'> {
  const { logprobs } = params;
  if (logprobs !== undefined && logprobs !== null && typeof logprobs !== 'boolean') throw badRequest('logprobs must be a boolean');
  const top = optionalNumber(params.top_logprobs, 'top_logprobs');
  if (top !== undefined && !(Number.isInteger(top) && top >= 0 && top <= 20)) {
    throw badRequest('top_logprobs must be a whole number from 0 to 20');
  }
  if (logprobs !== true) {
    if (top !== undefined && top > 0) throw badRequest('top_logprobs needs logprobs: true');
    return {};
  }
  return top === undefined || top === 0 ? { logprobs: true } : { logprobs: true, topLogprobs: top };
}

/** Every setting Janus has no use for must ask for nothing. */
function refuseUnsupported(params: ChatCompletionParams): void {
  const extra = params as unknown as Record<string, unknown>;
  const off = (key: string, ok: (v: unknown) => boolean, what: string): void => {
    const v = extra[key];
    if (v !== undefined && v !== null && !ok(v)) throw badRequest(`${key}: ${what}`);
  };
  off('n', (v) => v === 1, 'janus-web writes one reply per request (n: 1)');
  off('frequency_penalty', (v) => v === 0, 'janus-web has no frequency penalty');
  off('presence_penalty', (v) => v === 0, 'janus-web has no presence penalty');
  off('logit_bias', (v) => typeof v === 'object' && Object.keys(v as object).length === 0, 'janus-web has no logit bias');
  off(
    'response_format',
    (v) => ['text', 'json_object'].includes((v as { type?: unknown }).type as string),
    "janus-web writes text or one JSON object (type: 'text' or 'json_object'; a JSON schema is not followed)",
  );
  off('tools', (v) => Array.isArray(v) && v.length === 0, 'Janus has no tool calling');
  off('tool_choice', (v) => v === 'none' || v === 'auto', 'Janus has no tool calling');
  off('stream', (v) => typeof v === 'boolean', 'must be a boolean');
}

/** Leading system (or developer) messages are the system prompt, joined by blank lines. */
function splitSystem(messages: readonly OpenAIMessage[]): { system: string | undefined; rest: OpenAIMessage[] } {
  let first = 0;
  const parts: string[] = [];
  while (first < messages.length && isSystem(messages[first])) {
    parts.push(textOf(messages[first]!, first));
    first += 1;
  }
  const rest = messages.slice(first);
  const late = rest.findIndex(isSystem);
  if (late >= 0) throw badRequest(`messages[${first + late}]: system messages must come before the conversation`);
  return { system: parts.length === 0 ? undefined : parts.join('\n\n'), rest };
}

function isSystem(m: OpenAIMessage | undefined): boolean {
  return m?.role === 'system' || m?.role === 'developer';
}

async function toMessage(m: OpenAIMessage, index: number, signal: AbortSignal | undefined): Promise<ChatMessage> {
  if (typeof m !== 'object' || m === null) throw badRequest(`messages[${index}] must be an object`);
  if (m.role === 'assistant') {
    if ('tool_calls' in m) throw badRequest(`messages[${index}]: Janus has no tool calling`);
    return { role: 'assistant', content: m.content === null ? '' : textOf(m, index) };
  }
  if (m.role !== 'user') {
    throw badRequest(`messages[${index}].role is ${JSON.stringify((m as { role?: unknown }).role)}: janus-web takes system, developer, user and assistant`);
  }
  if (typeof m.content === 'string') return { role: 'user', content: m.content };
  if (!Array.isArray(m.content)) throw badRequest(`messages[${index}].content must be a string or an array of parts`);
  const texts: string[] = [];
  const pictures: Promise<Blob>[] = [];
  m.content.forEach((part, j) => {
    const where = `messages[${index}].content[${j}]`;
    if (part?.type === 'text' && typeof part.text === 'string') texts.push(part.text);
    else if (part?.type === 'image_url') pictures.push(fetchPicture(part, where, signal));
    else throw badRequest(`${where}: expected {type: 'text', text} or {type: 'image_url', image_url: {url}}`);
  });
  // Janus's template puts a message's pictures before its text, whatever their order here.
  const images = await Promise.all(pictures);
  return images.length === 0 ? { role: 'user', content: texts.join('\n') } : { role: 'user', content: texts.join('\n'), images };
}

/** A system or assistant message's text: a string, or text parts joined by newlines. */
function textOf(m: OpenAIMessage, index: number): string {
  if (typeof m.content === 'string') return m.content;
  if (!Array.isArray(m.content)) throw badRequest(`messages[${index}].content must be a string or an array of text parts`);
  return m.content
    .map((part, j) => {
      if (part?.type === 'text' && typeof (part as TextPart).text === 'string') return (part as TextPart).text;
      throw badRequest(`messages[${index}].content[${j}]: only user messages carry pictures; expected {type: 'text', text}`);
    })
    .join('\n');
}

const PICTURE_SCHEMES = new Set(['data:', 'blob:', 'https:', 'http:']);

/** The picture an image part points to, as a Blob (the engine decodes and checks it). */
async function fetchPicture(part: ImagePart, where: string, signal: AbortSignal | undefined): Promise<Blob> {
  const url = typeof part.image_url === 'string' ? part.image_url : part.image_url?.url;
  if (typeof url !== 'string') throw badRequest(`${where}.image_url.url must be a string`);
  let scheme: string;
  try {
    scheme = new URL(url).protocol;
  } catch {
    throw badRequest(`${where}: ${short(url)} is not a URL`);
  }
  if (!PICTURE_SCHEMES.has(scheme)) throw badRequest(`${where}: a picture's URL must be data:, blob:, https: or http:, not ${scheme}`);
  const stopped = (error?: unknown): JanusError => new JanusError('aborted', `${where}: stopped while the picture at ${short(url)} was fetched`, { cause: error });
  // A function: TypeScript would take `aborted` as still false after the fetch.
  const aborted = (): boolean => signal?.aborted === true;
  if (aborted()) throw stopped(signal?.reason);
  try {
    const response = await fetch(url, signal === undefined ? {} : { signal });
    if (!response.ok) throw new JanusError('http', `${where}: the picture at ${short(url)} answered HTTP ${response.status}`);
    return await response.blob();
  } catch (error) {
    if (error instanceof JanusError) throw error;
    if (aborted()) throw stopped(error);
    throw new JanusError('network', `${where}: the picture at ${short(url)} could not be fetched: ${String(error)}`, { cause: error });
  }
}

/** A URL short enough for a message (a data: URL can be megabytes). */
function short(url: string): string {
  return url.length > 80 ? `${url.slice(0, 77)}...` : url;
}

function optionalNumber(v: unknown, key: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw badRequest(`${key} must be a number`);
  return v;
}
