// `chat.completions.create`: a JanusClient chat answered as OpenAI's chat completion, or, with
// `stream: true`, as an async iterable of its chunks (the reply's pieces as they come).

import type { ChatMessage, ChatOptions } from '../client.js';
import type { ChatStream } from '../chat-stream.js';
import type { ChatResult, StopReason, TokenLogprob, TopLogprob } from '../types.js';
import { toChat } from './params.js';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionParams,
  ChatCompletionTokenLogprob,
  ChoiceLogprobs,
  CompletionUsage,
  FinishReason,
  RequestOptions,
  TopLogprobEntry,
} from './types.js';

/** What the adapter needs of a JanusClient. */
export interface ChatClient {
  chat(messages: readonly ChatMessage[], options?: ChatOptions): ChatStream;
}

export function finishReason(stop: StopReason): FinishReason {
  switch (stop) {
    case 'eos':
    case 'stop':
      return 'stop';
    case 'max_tokens':
    case 'context':
      return 'length';
    case 'cancelled':
      return 'abort';
  }
}

/** The identity every chunk of one completion shares. */
interface Head {
  id: string;
  created: number;
  model: string;
}

export function create(client: ChatClient, model: string, params: ChatCompletionParams & { stream: true }, options?: RequestOptions): Promise<AsyncIterable<ChatCompletionChunk>>;
export function create(client: ChatClient, model: string, params: ChatCompletionParams & { stream?: false | null }, options?: RequestOptions): Promise<ChatCompletion>;
export function create(client: ChatClient, model: string, params: ChatCompletionParams, options?: RequestOptions): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>>;
export async function create(client: ChatClient, model: string, params: ChatCompletionParams, options: RequestOptions = {}): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>> {
  const chat = await toChat(params, options.signal);
  const head: Head = { id: `chatcmpl-${randomId()}`, created: Math.floor(Date.now() / 1000), model: params.model ?? model };
  if (params.stream === true) {
    return chunks(client, chat.messages, chat.options, head, params.stream_options?.include_usage === true, options.signal);
  }
  const started = performance.now();
  const timing = { started, first: NaN };
  const stream = client.chat(chat.messages, { ...chat.options, ...signalOption(options.signal) });
  for await (const piece of stream) {
    if (Number.isNaN(timing.first) && piece !== '') timing.first = performance.now();
  }
  const result = await stream.result;
  return {
    ...head,
    object: 'chat.completion',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: result.text, refusal: null },
        finish_reason: finishReason(result.stop),
        logprobs: result.logprobs === undefined ? null : choiceLogprobs(result.logprobs),
      },
    ],
    usage: usage(result, timing),
  };
}

/**
 * The streamed form: a first chunk with the role, one per piece of text, one with the finish
 * reason, then (with `include_usage`) one with no choices and the usage. Leaving the loop early
 * stops the reply.
 */
async function* chunks(
  client: ChatClient,
  messages: ChatMessage[],
  options: ChatOptions,
  head: Head,
  includeUsage: boolean,
  signal: AbortSignal | undefined,
): AsyncGenerator<ChatCompletionChunk> {
  const stop = new AbortController();
  const forward = (): void => stop.abort(signal?.reason);
  if (signal?.aborted === true) stop.abort(signal.reason);
  signal?.addEventListener('abort', forward, { once: true });
  const timing = { started: performance.now(), first: NaN };
  // With `logprobs`, each chunk carries the entries of the tokens that came since the last one
  // (a token whose text is held back, or has none, goes with the next chunk).
  const pending: TokenLogprob[] = [];
  const asked = options.logprobs === true;
  const onLogprobs = (entry: TokenLogprob): void => void pending.push(entry);
  const stream = client.chat(messages, { ...options, ...(asked ? { onLogprobs } : {}), signal: stop.signal });
  const chunk = (delta: { role?: 'assistant'; content?: string }, finish: FinishReason | null): ChatCompletionChunk => ({
    ...head,
    object: 'chat.completion.chunk',
    choices: [{ index: 0, delta, finish_reason: finish, logprobs: asked && delta.role === undefined ? choiceLogprobs(pending.splice(0)) : null }],
  });
  let ended = false;
  try {
    yield chunk({ role: 'assistant', content: '' }, null);
    for await (const piece of stream) {
      if (piece === '') continue;
      if (Number.isNaN(timing.first)) timing.first = performance.now();
      yield chunk({ content: piece }, null);
    }
    const result = await stream.result;
    ended = true;
    yield chunk({}, finishReason(result.stop));
    if (includeUsage) yield { ...head, object: 'chat.completion.chunk', choices: [], usage: usage(result, timing) };
  } finally {
    signal?.removeEventListener('abort', forward);
    // A caller that leaves the loop before the end stops the reply (it ends between tokens).
    if (!ended) stop.abort();
  }
}

function usage(result: ChatResult, timing: { started: number; first: number }): CompletionUsage {
  const end = performance.now();
  const first = Number.isNaN(timing.first) ? end : timing.first;
  const completion = result.ids.length;
  return {
    prompt_tokens: result.promptTokens,
    completion_tokens: completion,
    total_tokens: result.promptTokens + completion,
    prompt_tokens_details: { cached_tokens: result.reusedTokens },
    extra: {
      seed: result.seed,
      time_to_first_token_s: (first - timing.started) / 1000,
      e2e_latency_s: (end - timing.started) / 1000,
      decode_tokens_per_s: completion > 1 && end > first ? ((completion - 1) * 1000) / (end - first) : 0,
    },
  };
}

/** The engine's entries as OpenAI writes them. */
export function choiceLogprobs(entries: readonly TokenLogprob[]): ChoiceLogprobs {
  const one = (t: TopLogprob): TopLogprobEntry => ({ token: t.token, logprob: Number.isFinite(t.logprob) ? t.logprob : -9999, bytes: t.bytes });
  const content = entries.map((e): ChatCompletionTokenLogprob => ({ ...one(e), top_logprobs: e.topLogprobs.map(one) }));
  return { content, refusal: null };
}

function signalOption(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal === undefined ? {} : { signal };
}

/** 24 random characters: an id no other completion of this page will have. */
export function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_');
}
