// The OpenAI-style adapter (web/src/openai/) against a scripted client: how a chat completion's
// parameters become a JanusClient chat, the whole and streamed responses, leaving a stream early,
// the refusals, and images.generate's PNGs. The real client and engine answer it in Chromium
// (web/test/e2e.mjs, step "OpenAI-style calls").

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { PieceStream } from '../../src/chat-stream.js';
import type { ChatMessage, ChatOptions, GenerateImageOptions, GeneratedImages } from '../../src/client.js';
import { JanusError, openAI, type ChatCompletionChunk } from '../../src/index.js';
import type { ChatResult, StopReason, TokenLogprob } from '../../src/types.js';

/** The entry FakeClient gives its i-th piece: the second has no probability at all. */
function entryOf(piece: string, i: number, top: number): TokenLogprob {
  const bytes = [...new TextEncoder().encode(piece)];
  const alternatives = Array.from({ length: top }, (_, j) => ({ id: 100 + j, token: `t${j}`, bytes: [116, 48 + j], logprob: -0.25 * (j + 1) }));
  return { id: i, token: piece, bytes, logprob: i === 1 ? -Infinity : -0.5 * (i + 1), topLogprobs: alternatives };
}

/** A client whose chat replies with `pieces` (one per tick) and records what it was asked. */
class FakeClient {
  calls: { messages: readonly ChatMessage[]; options: ChatOptions }[] = [];
  images: { prompt: string; options: GenerateImageOptions }[] = [];
  constructor(
    private readonly pieces: string[] = ['Hel', 'lo', '', ' there'],
    private readonly stop: StopReason = 'eos',
  ) {}

  chat(messages: readonly ChatMessage[], options: ChatOptions = {}): PieceStream {
    this.calls.push({ messages, options });
    const stream = new PieceStream();
    const pieces = [...this.pieces];
    const entries: TokenLogprob[] = [];
    const result = (stop: StopReason, text: string): ChatResult => ({
      text,
      ids: text.split('').map((_, i) => i),
      promptTokens: 40,
      reusedTokens: 12,
      stop,
      seed: 99,
      ...(options.logprobs === true ? { logprobs: entries } : {}),
    });
    let sent = '';
    const tick = (): void => {
      if (options.signal?.aborted === true) return stream.finish(result('cancelled', sent));
      const piece = pieces.shift();
      if (piece === undefined) return stream.finish(result(this.stop, sent));
      sent += piece;
      if (options.logprobs === true) {
        const entry = entryOf(piece, entries.length, options.topLogprobs ?? 0);
        entries.push(entry);
        options.onLogprobs?.(entry);
      }
      stream.push(piece);
      setTimeout(tick, 1);
    };
    setTimeout(tick, 1);
    return stream;
  }

  async generateImage(prompt: string, options: GenerateImageOptions = {}): Promise<GeneratedImages> {
    this.images.push({ prompt, options });
    const count = options.count ?? 1;
    const data = new Uint8ClampedArray(2 * 1 * 4).fill(200);
    return { width: 2, height: 1, images: Array.from({ length: count }, () => ({ width: 2, height: 1, data })), codes: [], cancelled: options.signal?.aborted === true, seed: 5 };
  }
}

const PNG_DATA_URL = 'data:image/png;base64,iVBORw0KGgo=';

test('a whole completion: system messages, picture parts and settings become a JanusClient chat', async () => {
  const client = new FakeClient();
  const openai = openAI(client, { model: 'janus-pro-1b' });
  const reply = await openai.chat.completions.create({
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'developer', content: [{ type: 'text', text: 'No lists.' }] },
      { role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: PNG_DATA_URL, detail: 'high' } }, { type: 'text', text: 'And this?' }, { type: 'image_url', image_url: PNG_DATA_URL }] },
      { role: 'assistant', content: 'A pixel.' },
      { role: 'user', content: 'Why?' },
    ],
    max_tokens: 10,
    max_completion_tokens: 20,
    temperature: 0.7,
    top_p: 0.9,
    top_k: 40,
    seed: 3,
    stop: ['\n\n'],
    reuse: false,
    n: 1,
    logprobs: false,
    frequency_penalty: 0,
    response_format: { type: 'text' },
    tools: [],
    user: 'someone',
  });
  const [call] = client.calls;
  assert.ok(call !== undefined);
  assert.deepEqual(call.options, { system: 'Be brief.\n\nNo lists.', maxNewTokens: 20, temperature: 0.7, topP: 0.9, topK: 40, seed: 3, stop: ['\n\n'], reuse: false });
  assert.equal(call.messages.length, 3);
  assert.equal(call.messages[0]?.content, 'What is this?\nAnd this?');
  const pictures = call.messages[0]?.images ?? [];
  assert.equal(pictures.length, 2);
  for (const p of pictures) {
    assert.ok(p instanceof Blob);
    assert.deepEqual([...new Uint8Array(await p.arrayBuffer())], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  }
  assert.deepEqual(call.messages.slice(1), [{ role: 'assistant', content: 'A pixel.' }, { role: 'user', content: 'Why?' }]);
  assert.equal(reply.object, 'chat.completion');
  assert.match(reply.id, /^chatcmpl-[\w-]{24}$/);
  assert.equal(reply.model, 'janus-pro-1b');
  assert.deepEqual(reply.choices, [{ index: 0, message: { role: 'assistant', content: 'Hello there', refusal: null }, finish_reason: 'stop', logprobs: null }]);
  const { extra, ...counts } = reply.usage;
  assert.deepEqual(counts, { prompt_tokens: 40, completion_tokens: 11, total_tokens: 51, prompt_tokens_details: { cached_tokens: 12 } });
  assert.equal(extra.seed, 99);
  assert.ok(extra.time_to_first_token_s >= 0 && extra.e2e_latency_s >= extra.time_to_first_token_s && extra.decode_tokens_per_s > 0);
});

test('a streamed completion: the role, each piece, the finish reason, then the usage', async () => {
  const openai = openAI(new FakeClient(['a', 'b', 'c'], 'max_tokens'));
  const stream = await openai.chat.completions.create({ model: 'asked', messages: [{ role: 'user', content: 'x' }], stream: true, stream_options: { include_usage: true } });
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  assert.deepEqual(
    chunks.map((c) => [c.choices[0]?.delta ?? null, c.choices[0]?.finish_reason ?? null]),
    [[{ role: 'assistant', content: '' }, null], [{ content: 'a' }, null], [{ content: 'b' }, null], [{ content: 'c' }, null], [{}, 'length'], [null, null]],
  );
  const ids = new Set(chunks.map((c) => c.id));
  assert.equal(ids.size, 1);
  assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk' && c.model === 'asked'));
  assert.equal(chunks.at(-1)?.usage?.completion_tokens, 3);
  assert.equal(chunks.slice(0, -1).some((c) => c.usage !== undefined), false);
  // Without include_usage there is no usage chunk.
  const plain = await openai.chat.completions.create({ messages: [{ role: 'user', content: 'x' }], stream: true });
  const all: ChatCompletionChunk[] = [];
  for await (const chunk of plain) all.push(chunk);
  assert.equal(all.length, 5);
});

test('log-probabilities: asked for by logprobs and top_logprobs, written as OpenAI writes them, whole and streamed', async () => {
  const client = new FakeClient(['Hé', '', 'llo']);
  const openai = openAI(client);
  const user = [{ role: 'user' as const, content: 'x' }];
  const whole = await openai.chat.completions.create({ messages: user, logprobs: true, top_logprobs: 2 });
  assert.deepEqual(client.calls[0]?.options, { logprobs: true, topLogprobs: 2 });
  const content = whole.choices[0].logprobs?.content ?? [];
  assert.deepEqual(
    content.map((e) => [e.token, e.logprob, e.bytes, e.top_logprobs.map((t) => [t.token, t.logprob, t.bytes])]),
    [
      ['Hé', -0.5, [72, 195, 169], [['t0', -0.25, [116, 48]], ['t1', -0.5, [116, 49]]]],
      // No probability at all is -9999, as OpenAI writes it (JSON has no -Infinity).
      ['', -9999, [], [['t0', -0.25, [116, 48]], ['t1', -0.5, [116, 49]]]],
      ['llo', -1.5, [108, 108, 111], [['t0', -0.25, [116, 48]], ['t1', -0.5, [116, 49]]]],
    ],
  );
  assert.equal(whole.choices[0].logprobs?.refusal, null);
  // logprobs alone: no alternatives; false or absent: none at all.
  const bare = await openai.chat.completions.create({ messages: user, logprobs: true, top_logprobs: 0 });
  assert.deepEqual(client.calls[1]?.options, { logprobs: true });
  assert.deepEqual(bare.choices[0].logprobs?.content.map((e) => e.top_logprobs.length), [0, 0, 0]);
  const none = await openai.chat.completions.create({ messages: user, logprobs: false });
  assert.deepEqual(client.calls[2]?.options, {});
  assert.equal(none.choices[0].logprobs, null);
  // Streamed: each chunk carries the entries of the tokens since the last one (the empty
  // piece's goes with the next); the role chunk none.
  const stream = await openai.chat.completions.create({ messages: user, logprobs: true, stream: true });
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  assert.deepEqual(
    chunks.map((c) => [c.choices[0]?.delta.content ?? null, c.choices[0]?.logprobs?.content.map((e) => e.token) ?? null]),
    [['', null], ['Hé', ['Hé']], ['llo', ['', 'llo']], [null, []]],
  );
  const plain = await openai.chat.completions.create({ messages: user, stream: true });
  for await (const chunk of plain) assert.equal(chunk.choices[0]?.logprobs, null);
});

test("response_format json_object asks for one JSON object; text asks for nothing", async () => {
  const client = new FakeClient(['{"a"', ': 1}']);
  const openai = openAI(client);
  const user = [{ role: 'user' as const, content: 'x' }];
  const reply = await openai.chat.completions.create({ messages: user, response_format: { type: 'json_object' } });
  assert.deepEqual(client.calls[0]?.options, { json: true });
  assert.deepEqual(JSON.parse(reply.choices[0].message.content), { a: 1 });
  await openai.chat.completions.create({ messages: user, response_format: { type: 'text' } });
  assert.deepEqual(client.calls[1]?.options, {});
});

test('leaving a stream early, or the caller\'s signal, stops the reply', async () => {
  const client = new FakeClient(['1', '2', '3', '4', '5', '6']);
  const openai = openAI(client);
  const stream = await openai.chat.completions.create({ messages: [{ role: 'user', content: 'x' }], stream: true });
  for await (const chunk of stream) {
    if (chunk.choices[0]?.delta.content === '2') break;
  }
  assert.equal(client.calls[0]?.options.signal?.aborted, true);
  const controller = new AbortController();
  const whole = openai.chat.completions.create({ messages: [{ role: 'user', content: 'x' }] }, { signal: controller.signal });
  setTimeout(() => controller.abort(), 3);
  const stopped = await whole;
  assert.equal(stopped.choices[0].finish_reason, 'abort');
  assert.ok(stopped.choices[0].message.content.length < 6);
});

test("the caller's signal stops fetching a picture, and nothing is asked of the client", { timeout: 10_000 }, async () => {
  // A server that takes the request and never answers.
  const server = createServer(() => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const client = new FakeClient();
  const openai = openAI(client);
  const picture = (url: string) => ({ messages: [{ role: 'user' as const, content: [{ type: 'image_url' as const, image_url: { url } }] }] });
  try {
    const controller = new AbortController();
    const pending = openai.chat.completions.create(picture(`http://127.0.0.1:${port}/slow.png`), { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await assert.rejects(pending, (e: unknown) => e instanceof JanusError && e.code === 'aborted' && /stopped while the picture at http:\/\/127\.0\.0\.1:\d+\/slow\.png was fetched/.test(e.message));
    // Already stopped: not fetched at all.
    await assert.rejects(openai.chat.completions.create(picture(PNG_DATA_URL), { signal: AbortSignal.abort() }), (e: unknown) => e instanceof JanusError && e.code === 'aborted');
    assert.equal(client.calls.length, 0);
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test('whatever Janus cannot honour is refused by name, before anything runs', async () => {
  const client = new FakeClient();
  const openai = openAI(client);
  const user = [{ role: 'user' as const, content: 'x' }];
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ messages: user, n: 2 }, /^n: janus-web writes one reply/],
    [{ messages: user, logprobs: 'yes' }, /^logprobs must be a boolean/],
    [{ messages: user, top_logprobs: 2 }, /^top_logprobs needs logprobs: true/],
    [{ messages: user, logprobs: false, top_logprobs: 1 }, /^top_logprobs needs logprobs: true/],
    [{ messages: user, logprobs: true, top_logprobs: 21 }, /^top_logprobs must be a whole number from 0 to 20/],
    [{ messages: user, logprobs: true, top_logprobs: 1.5 }, /^top_logprobs must be a whole number from 0 to 20/],
    [{ messages: user, presence_penalty: 0.5 }, /^presence_penalty:/],
    [{ messages: user, logit_bias: { 5: 1 } }, /^logit_bias:/],
    [{ messages: user, response_format: { type: 'json_schema', json_schema: { name: 'x', schema: {} } } }, /^response_format: .*a JSON schema is not followed/],
    [{ messages: user, response_format: { type: 'yaml' } }, /^response_format:/],
    [{ messages: user, tools: [{ type: 'function' }] }, /^tools: Janus has no tool calling/],
    [{ messages: user, functions: [] }, /^functions is not a chat completion parameter/],
    [{ messages: user, temperature: '1' }, /^temperature must be a number/],
    [{ messages: [] }, /^messages must be a non-empty array/],
    [{ messages: [...user, { role: 'system', content: 'late' }] }, /^messages\[1\]: system messages must come before/],
    [{ messages: [{ role: 'tool', content: 'x' }] }, /^messages\[0\]\.role is "tool"/],
    [{ messages: [{ role: 'assistant', content: [{ type: 'image_url', image_url: PNG_DATA_URL }] }, ...user] }, /^messages\[0\]\.content\[0\]: only user messages carry pictures/],
    [{ messages: [{ role: 'user', content: [{ type: 'input_audio' }] }] }, /^messages\[0\]\.content\[0\]: expected/],
    [{ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'file:///etc/passwd' } }] }] }, /must be data:, blob:, https: or http:, not file:/],
    [{ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'not a url' } }] }] }, /is not a URL/],
  ];
  for (const [params, message] of cases) {
    await assert.rejects(openai.chat.completions.create(params as never), (e: unknown) => e instanceof JanusError && e.code === 'bad-request' && message.test(e.message), JSON.stringify(params));
  }
  assert.equal(client.calls.length, 0);
});

test('images.generate: base64 PNGs or blob: URLs, Janus\'s settings, its one size', async () => {
  const encoded: { width: number; height: number; first: number }[] = [];
  class FakeCanvas {
    private image: ImageData | null = null;
    constructor(
      readonly width: number,
      readonly height: number,
    ) {}
    getContext(): { putImageData(image: ImageData): void } {
      return { putImageData: (image) => (this.image = image) };
    }
    async convertToBlob(options: { type: string }): Promise<Blob> {
      assert.equal(options.type, 'image/png');
      encoded.push({ width: this.width, height: this.height, first: this.image?.data[0] ?? -1 });
      return new Blob([new Uint8Array([0x89, 0x50, 0x4e, 0x47, this.width])], { type: 'image/png' });
    }
  }
  class FakeImageData {
    constructor(
      readonly data: Uint8ClampedArray,
      readonly width: number,
      readonly height: number,
    ) {}
  }
  const g = globalThis as Record<string, unknown>;
  g.OffscreenCanvas = FakeCanvas;
  g.ImageData ??= FakeImageData;
  const client = new FakeClient();
  const openai = openAI(client);
  const b64 = await openai.images.generate({ prompt: 'a fox', n: 2, size: 'auto', seed: 1, cfg_weight: 4, temperature: 0.9 });
  assert.deepEqual(client.images[0], { prompt: 'a fox', options: { count: 2, seed: 1, cfgWeight: 4, temperature: 0.9 } });
  assert.equal(b64.data.length, 2);
  assert.equal(b64.seed, 5);
  assert.deepEqual(encoded, [{ width: 2, height: 1, first: 200 }, { width: 2, height: 1, first: 200 }]);
  for (const item of b64.data) assert.deepEqual([...Buffer.from((item as { b64_json: string }).b64_json, 'base64')], [0x89, 0x50, 0x4e, 0x47, 2]);
  const urls = await openai.images.generate({ prompt: 'a fox', response_format: 'url' });
  const url = (urls.data[0] as { url: string }).url;
  assert.match(url, /^blob:/);
  URL.revokeObjectURL(url);
  for (const [params, message] of [
    [{ prompt: 'x', size: '1024x1024' }, /^size: Janus draws 384x384 images, not 1024x1024$/],
    // This client's model (as the test fixtures) draws 2 x 1.
    [{ prompt: 'x', size: '384x384' }, /^size: this model draws 2x1 images, not 384x384$/],
    [{ prompt: 'x', response_format: 'png' }, /^response_format/],
    [{ prompt: 'x', quality: 'hd' }, /^quality is not an image parameter/],
    [{ prompt: 1 }, /^prompt must be a string$/],
  ] as [Record<string, unknown>, RegExp][]) {
    await assert.rejects(openai.images.generate(params as never), (e: unknown) => e instanceof JanusError && e.code === 'bad-request' && message.test(e.message));
  }
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(openai.images.generate({ prompt: 'x' }, { signal: controller.signal }), (e: unknown) => e instanceof JanusError && e.code === 'aborted');
  delete g.OffscreenCanvas;
  await assert.rejects(openai.images.generate({ prompt: 'x' }), /no OffscreenCanvas/);
});
