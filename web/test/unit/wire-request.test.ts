// The worker's message decoder (web/src/wire-request.ts), issue 8 "hostile input: nothing
// crashes": every request the client sends is accepted as it is; malformed ones are refused with
// a 'bad-request' error naming the field, and the id to answer (or null); and a property-based
// fuzz (fast-check) shows that no input makes decodeRequest throw, and that mutations of valid
// requests are accepted exactly when they are still valid.
//
// Fuzz runs: JANUS_FUZZ_RUNS per property (default 2000), fixed seed (JANUS_FUZZ_SEED to change):
//   JANUS_FUZZ_RUNS=200000 bash scripts/test-unit-ts.sh

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { JanusClient } from '../../src/client.js';
import type { Request, RequestType, Response } from '../../src/protocol.js';
import { MODELS } from '../../src/store/registry.js';
import { decodeRequest, type DecodedRequest } from '../../src/wire-request.js';

const RUNS = Number(process.env.JANUS_FUZZ_RUNS ?? 2000);
const SEED = Number(process.env.JANUS_FUZZ_SEED ?? 20_260_808);
const TYPES: readonly RequestType[] = ['init', 'load', 'chat', 'generateImage', 'unload', 'cancel', 'trap', 'loseDevice', 'gpuRefusal', 'squeezeMemory'];

/** Every call of decodeRequest in this file goes through here: the shape of the answer, counted. */
let decoded = 0;
function decode(data: unknown): DecodedRequest {
  decoded += 1;
  const result = decodeRequest(data);
  if (result.ok) {
    assert.deepEqual(Object.keys(result).sort(), ['ok', 'request']);
    assert.equal(result.request, data, 'an accepted message is returned as it is');
  } else {
    assert.deepEqual(Object.keys(result).sort(), ['error', 'id', 'ok']);
    assert.ok(result.id === null || (Number.isSafeInteger(result.id) && result.id >= 0), `id ${String(result.id)}`);
    assert.deepEqual(Object.keys(result.error).sort(), ['code', 'message']);
    assert.equal(result.error.code, 'bad-request');
    assert.ok(typeof result.error.message === 'string' && result.error.message.length > 0);
  }
  return result;
}

function accepted(data: unknown, what: string): void {
  const result = decode(data);
  assert.ok(result.ok, `${what}: refused: ${result.ok ? '' : result.error.message}`);
}

// --- (a) what the client sends ------------------------------------------------------------------

/** A Worker that answers every call at once; keeps what the clients posted, structured-cloned. */
class FakeWorker extends EventTarget {
  static readonly posted: Request[] = [];

  postMessage(request: Request): void {
    FakeWorker.posted.push(structuredClone(request));
    if (request.type === 'cancel') return; // answered by the request it cancels
    const value = request.type === 'init' ? { deviceInfo: { adapter: 'fake' }, wasmMemoryBytes: 1 } : request.type === 'chat' ? { text: '', ids: [], promptTokens: 1, reusedTokens: 0, stop: 'eos', seed: 1 } : request.type === 'generateImage' ? { width: 1, height: 1, images: [], codes: [], cancelled: false, seed: 1 } : null;
    const answer = { type: 'result', id: request.id, value } as Response;
    setTimeout(() => this.dispatchEvent(new MessageEvent('message', { data: answer })), 0);
  }

  terminate(): void {}
}
(globalThis as { Worker?: unknown }).Worker = FakeWorker;

test('every request the client sends is accepted as it is, and so is its structured clone', async () => {
  const client = await JanusClient.create({ workerUrl: 'http://test/worker.js' });
  const tuned = await JanusClient.create({ workerUrl: 'http://test/worker.js', wasmUrl: 'https://cdn.example/janus/janus_web_bg.wasm', dtype: 'f16', quant: 'q4', maxBindingBytes: 2 ** 28, conversationCacheBytes: 2 ** 29 });

  const loads = [...MODELS.map((model) => model.id), 'deepseek-ai/Janus-1.3B', 'someone/custom-janus', 'https://mirror.example/janus/?token=1#x', 'http://127.0.0.1:8080/models/tiny'];
  for (const model of loads) await tuned.load(model);
  await tuned.load('janus-1.3b', { cache: false, hub: 'https://hub.example/', chunkBytes: 1 << 20, retry: { attempts: 2, baseMs: 0, maxMs: 10 }, idleTimeoutMs: 5000, skipSpaceCheck: true, keepSource: true, shardByShard: true, onProgress: () => {} });

  const png = new Blob([new Uint8Array([137, 80, 78, 71])], { type: 'image/png' });
  await tuned.chat([{ role: 'user', content: 'hello' }]).result;
  await tuned.chat(
    [
      { role: 'user', content: 'what is this?', images: [png, png] },
      { role: 'assistant', content: 'two images' },
      { role: 'user', content: '', images: [png] },
    ],
    { system: '', maxNewTokens: 8, temperature: 0, topP: 0.9, topK: 40, seed: 2 ** 53, stop: ['\n\nUser:', '###'], reuse: false },
  ).result;
  await tuned.generateImage('a fox');
  await tuned.generateImage('a fox', { count: 2, cfgWeight: 5, temperature: 1, topP: 1, topK: 0, seed: 0, onPreview: () => {} });
  await tuned.generateImage('a fox', { previewEvery: 3, onPreview: () => {}, onStep: () => {} });
  await tuned.unload();
  await tuned._debugTrap();
  await tuned._debugLoseDevice();
  await tuned._debugGpuRefusal();
  await tuned._debugSqueezeMemory(1 << 20);
  const controller = new AbortController();
  const stream = tuned.chat([{ role: 'user', content: 'stop' }], { signal: controller.signal });
  controller.abort();
  await stream.result;

  const sent = [...FakeWorker.posted];
  assert.deepEqual(new Set(sent.map((request) => request.type)), new Set(TYPES), 'every request type was sent');
  assert.equal(sent.filter((request) => request.type === 'load').length, loads.length + 1);
  for (const request of sent) {
    accepted(request, `${request.type} ${request.id}`);
    accepted(structuredClone(request), `${request.type} ${request.id}, cloned`);
  }
  client.dispose();
  tuned.dispose();
});

test('requests built by hand: optional fields absent or undefined, null-prototype objects, RGBA objects', () => {
  const pixels = { width: 1, height: 1, data: new Uint8ClampedArray(4) };
  const requests: unknown[] = [
    { type: 'init', id: 0 },
    { type: 'init', id: 1, options: {}, wasmUrl: undefined },
    { type: 'init', id: 2, options: { dtype: 'auto', quant: undefined } },
    { type: 'chat', id: 3, request: { messages: [{ role: 'user', content: 'x', images: 1 }] }, images: [pixels] },
    { type: 'chat', id: 4, request: { messages: [{ role: 'user', content: 'x', images: 0 }], seed: undefined, json: true }, images: [] },
    { type: 'chat', id: 5, request: { messages: [] }, images: [] }, // empty: the engine's to refuse
    { type: 'generateImage', id: 6, request: { prompt: '', count: NaN } }, // ranges: the engine's
    { type: 'load', id: 7, source: { baseUrl: 'https://h.example/m/', name: 'm', entry: null, treeUrl: null }, options: { cache: true, retry: undefined } },
    Object.assign(Object.create(null) as object, { type: 'unload', id: Number.MAX_SAFE_INTEGER }),
    { type: 'cancel', id: 9 },
    { type: 'trap', id: 10 },
    { type: 'loseDevice', id: 11 },
    { type: 'gpuRefusal', id: 13 },
    { type: 'squeezeMemory', id: 12, leaveBytes: 1048576 },
  ];
  for (const request of requests) accepted(request, JSON.stringify(request));
});

// --- (b) malformed messages ---------------------------------------------------------------------

const SOURCE = { baseUrl: 'https://huggingface.co/deepseek-ai/Janus-1.3B/resolve/main/', name: 'janus-1.3b', entry: MODELS[0]!, treeUrl: 'https://huggingface.co/api/models/deepseek-ai/Janus-1.3B/tree/main' };
const LOAD = { type: 'load', id: 7, source: SOURCE, options: { cache: true } };
const CHAT = { type: 'chat', id: 8, request: { messages: [{ role: 'user', content: 'hi', images: 1 }] }, images: [new Blob(['x'])] };
const IMAGE = { type: 'generateImage', id: 9, request: { prompt: 'a cat' } };

function throwing(fields: object, name: string, thrown: unknown = new Error('getter')): object {
  return Object.defineProperty({ ...fields }, name, {
    enumerable: true,
    get() {
      throw thrown;
    },
  });
}

function revokedProxy(): object {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}

/** A proxy whose every trap throws. */
const hostile = new Proxy(
  {},
  new Proxy({}, {
    get: () => () => {
      throw new Error('trap');
    },
  }),
);

const cyclic: Record<string, unknown> = { type: 'unload', id: 11 };
cyclic.self = cyclic;
const cyclicRequest: Record<string, unknown> = { prompt: 'x' };
cyclicRequest.seed = cyclicRequest;

/** [what, message, id to answer (null: none), what the error must say]. */
const MALFORMED: [string, unknown, number | null, RegExp][] = [
  ['undefined', undefined, null, /^message must be a plain object$/],
  ['null', null, null, /message must be a plain object/],
  ['a number', 42, null, /message must be a plain object/],
  ['a string', 'init', null, /message must be a plain object/],
  ['an array', [{ type: 'unload', id: 1 }], null, /message must be a plain object/],
  ['a Map', new Map([['type', 'unload'], ['id', 1]]), null, /message must be a plain object/],
  ['a class instance', new (class { type = 'unload'; id = 1 })(), null, /message must be a plain object/],
  ['a Blob', new Blob(['{}']), null, /message must be a plain object/],
  ['a null-prototype object without type', Object.create(null), null, /^type must be one of init, load, chat, generateImage, unload, cancel, trap, loseDevice, gpuRefusal, squeezeMemory$/],
  ['an unknown type', { type: 'shutdown', id: 3 }, 3, /^type must be one of/],
  ['a type of another case', { type: 'Unload', id: 3 }, 3, /^type must be one of/],
  ['type inherited, not own', Object.assign(Object.create({ type: 'unload' }) as object, { id: 3 }), null, /plain object/],
  ['no id', { type: 'unload' }, null, /^unload: id must be a non-negative safe integer$/],
  ['id -1', { type: 'unload', id: -1 }, null, /unload: id must be/],
  ['id 1.5', { type: 'unload', id: 1.5 }, null, /unload: id must be/],
  ['id NaN', { type: 'unload', id: NaN }, null, /unload: id must be/],
  ['id 2^53', { type: 'unload', id: 2 ** 53 }, null, /unload: id must be/],
  ['id as a string', { type: 'unload', id: '1' }, null, /unload: id must be/],
  ['id as a BigInt', { type: 'unload', id: 1n }, null, /unload: id must be/],
  ['an extra top-level key', { type: 'unload', id: 4, force: true }, 4, /^unload: force is not a known field$/],
  ['a payload on trap', { type: 'trap', id: 4, request: {} }, 4, /^trap: request is not a known field$/],
  ['a malformed cancel: its id is not answered', { type: 'cancel', id: 4, reason: 'x' }, null, /^cancel: reason is not a known field$/],
  ['a cancel without id', { type: 'cancel' }, null, /^cancel: id must be/],
  ['init options an array', { type: 'init', id: 5, options: [] }, 5, /^init: options must be a plain object$/],
  ['init options null', { type: 'init', id: 5, options: null }, 5, /^init: options must be a plain object$/],
  ['init option misspelt', { type: 'init', id: 5, options: { quantization: 'q4' } }, 5, /^init: options\.quantization is not a known field$/],
  ['init dtype a number', { type: 'init', id: 5, options: { dtype: 16 } }, 5, /^init: options\.dtype must be a string$/],
  ['init maxBindingBytes a string', { type: 'init', id: 5, options: { maxBindingBytes: '1' } }, 5, /options\.maxBindingBytes must be a number/],
  ['init wasmUrl relative', { type: 'init', id: 5, wasmUrl: './janus_web_bg.wasm' }, 5, /^init: wasmUrl must be an absolute URL$/],
  ['init wasmUrl a number', { type: 'init', id: 5, wasmUrl: 1 }, 5, /^init: wasmUrl must be an absolute URL$/],
  ['load without source', { ...LOAD, source: undefined }, 7, /^load: source must be a plain object$/],
  ['load baseUrl without slash', { ...LOAD, source: { ...SOURCE, baseUrl: 'https://h.example/m' } }, 7, /^load: source\.baseUrl must be an absolute URL ending in '\/'$/],
  ['load baseUrl relative', { ...LOAD, source: { ...SOURCE, baseUrl: '/models/m/' } }, 7, /source\.baseUrl must be an absolute URL ending in '\/'/],
  ['load baseUrl not a string', { ...LOAD, source: { ...SOURCE, baseUrl: new URL('https://h.example/m/') } }, 7, /source\.baseUrl must be/],
  ['load name missing', { ...LOAD, source: { ...SOURCE, name: undefined } }, 7, /^load: source\.name must be a string$/],
  ['load entry a string', { ...LOAD, source: { ...SOURCE, entry: 'janus-1.3b' } }, 7, /^load: source\.entry must be a plain object$/],
  ['load entry files not an array', { ...LOAD, source: { ...SOURCE, entry: { ...SOURCE.entry, files: 'config.json' } } }, 7, /^load: source\.entry\.files must be an array$/],
  ['load entry file a number', { ...LOAD, source: { ...SOURCE, entry: { ...SOURCE.entry, files: ['config.json', 3] } } }, 7, /source\.entry\.files\[1\] must be a string/],
  ['load entry gpuBytes missing f32', { ...LOAD, source: { ...SOURCE, entry: { ...SOURCE.entry, gpuBytes: { f16: 1 } } } }, 7, /source\.entry\.gpuBytes\.f32 must be a number/],
  ['load entry unknown field', { ...LOAD, source: { ...SOURCE, entry: { ...SOURCE.entry, sha256: 'x' } } }, 7, /source\.entry\.sha256 is not a known field/],
  ['load treeUrl a number', { ...LOAD, source: { ...SOURCE, treeUrl: 0 } }, 7, /source\.treeUrl must be a string/],
  ['load without options', { ...LOAD, options: undefined }, 7, /^load: options must be a plain object$/],
  ['load options without cache', { ...LOAD, options: {} }, 7, /^load: options\.cache must be a boolean$/],
  ['load cache a string', { ...LOAD, options: { cache: 'true' } }, 7, /options\.cache must be a boolean/],
  ['load chunkBytes 0', { ...LOAD, options: { cache: true, chunkBytes: 0 } }, 7, /^load: options\.chunkBytes must be a finite number > 0$/],
  ['load chunkBytes Infinity', { ...LOAD, options: { cache: true, chunkBytes: Infinity } }, 7, /options\.chunkBytes must be a finite number > 0/],
  ['load idleTimeoutMs NaN', { ...LOAD, options: { cache: true, idleTimeoutMs: NaN } }, 7, /options\.idleTimeoutMs must be a finite number > 0/],
  ['load retry without baseMs', { ...LOAD, options: { cache: true, retry: { attempts: 1, maxMs: 1 } } }, 7, /options\.retry\.baseMs must be a finite number >= 0/],
  ['load retry attempts 0', { ...LOAD, options: { cache: true, retry: { attempts: 0, baseMs: 1, maxMs: 1 } } }, 7, /options\.retry\.attempts must be a finite number > 0/],
  ['load retry a number', { ...LOAD, options: { cache: true, retry: 3 } }, 7, /options\.retry must be a plain object/],
  ['load option of the client only', { ...LOAD, options: { cache: true, hub: 'https://hub.example/' } }, 7, /^load: options\.hub is not a known field$/],
  ['chat without request', { ...CHAT, request: undefined }, 8, /^chat: request must be a plain object$/],
  ['chat messages an object', { ...CHAT, request: { messages: { 0: { role: 'user', content: 'x' } } } }, 8, /^chat: request\.messages must be an array$/],
  ['chat message null', { ...CHAT, request: { messages: [null] }, images: [] }, 8, /request\.messages\[0\] must be a plain object/],
  ['chat content a number', { ...CHAT, request: { messages: [{ role: 'user', content: 1 }] }, images: [] }, 8, /^chat: request\.messages\[0\]\.content must be a string$/],
  ['chat role missing', { ...CHAT, request: { messages: [{ content: 'x' }] }, images: [] }, 8, /request\.messages\[0\]\.role must be a string/],
  ['chat images count -1', { ...CHAT, request: { messages: [{ role: 'user', content: 'x', images: -1 }] }, images: [] }, 8, /request\.messages\[0\]\.images must be a non-negative whole number/],
  ['chat images count 0.5', { ...CHAT, request: { messages: [{ role: 'user', content: 'x', images: 0.5 }] }, images: [] }, 8, /request\.messages\[0\]\.images must be a non-negative whole number/],
  ['chat message unknown field', { ...CHAT, request: { messages: [{ role: 'user', content: 'x', image: 1 }] }, images: [] }, 8, /request\.messages\[0\]\.image is not a known field/],
  ['chat temperature a string', { ...CHAT, request: { ...CHAT.request, temperature: '0.5' } }, 8, /^chat: request\.temperature must be a number$/],
  ['chat system null', { ...CHAT, request: { ...CHAT.request, system: null } }, 8, /request\.system must be a string/],
  ['chat reuse a string', { ...CHAT, request: { ...CHAT.request, reuse: 'no' } }, 8, /request\.reuse must be a boolean/],
  ['chat json a string', { ...CHAT, request: { ...CHAT.request, json: 'yes' } }, 8, /request\.json must be a boolean/],
  ['chat stop a string', { ...CHAT, request: { ...CHAT.request, stop: 'END' } }, 8, /^chat: request\.stop must be an array$/],
  ['chat stop holding a number', { ...CHAT, request: { ...CHAT.request, stop: ['END', 3] } }, 8, /^chat: request\.stop\[1\] must be a string$/],
  ['chat sampling option misspelt', { ...CHAT, request: { ...CHAT.request, top_k: 4 } }, 8, /request\.top_k is not a known field/],
  ['chat without images', { ...CHAT, images: undefined }, 8, /^chat: images must be an array$/],
  ['chat image a string', { ...CHAT, images: ['data:image/png;base64,'] }, 8, /^chat: images\[0\] must be a Blob, ImageBitmap, ImageData or \{width, height, data\}$/],
  ['chat image an ArrayBuffer', { ...CHAT, images: [new ArrayBuffer(4)] }, 8, /images\[0\] must be a Blob/],
  ['chat image without data', { ...CHAT, images: [{ width: 1, height: 1 }] }, 8, /^chat: images\[0\]\.data must be a Uint8ClampedArray$/],
  ['chat image data a Uint8Array', { ...CHAT, images: [{ width: 1, height: 1, data: new Uint8Array(4) }] }, 8, /images\[0\]\.data must be a Uint8ClampedArray/],
  ['chat image width a string', { ...CHAT, images: [{ width: '1', height: 1, data: new Uint8ClampedArray(4) }] }, 8, /images\[0\]\.width must be a number/],
  ['chat fewer images than announced', { ...CHAT, images: [] }, 8, /^chat: images holds 0 images but request\.messages announce 1$/],
  ['chat more images than announced', { ...CHAT, images: [new Blob(['a']), new Blob(['b'])] }, 8, /images holds 2 images but request\.messages announce 1/],
  ['chat announcing 2^52 images', { ...CHAT, request: { messages: [{ role: 'user', content: 'x', images: 2 ** 52 }, { role: 'user', content: 'x', images: 2 ** 52 }] } }, 8, /images holds 1 images but request\.messages announce/],
  ['generateImage without prompt', { ...IMAGE, request: {} }, 9, /^generateImage: request\.prompt must be a string$/],
  ['generateImage seed a string', { ...IMAGE, request: { prompt: 'x', seed: '42' } }, 9, /^generateImage: request\.seed must be a number$/],
  ['generateImage steps (not a field)', { ...IMAGE, request: { prompt: 'x', steps: 10 } }, 9, /request\.steps is not a known field/],
  ['generateImage request a string', { ...IMAGE, request: 'a cat' }, 9, /request must be a plain object/],
  // Hostile objects: never thrown, always answered.
  ['a getter on type that throws: the id is kept', throwing({ id: 12 }, 'type'), 12, /^the message could not be read/],
  ['a getter on id that throws', throwing({ type: 'unload' }, 'id'), null, /could not be read/],
  ['a getter throwing a revoked proxy', throwing({ type: 'generateImage', id: 12 }, 'request', revokedProxy()), 12, /^generateImage: the message could not be read/],
  ['a getter deep in a chat', { ...CHAT, request: { messages: [throwing({ role: 'user' }, 'content')] } }, 8, /^chat: the message could not be read/],
  ['a proxy whose every trap throws', hostile, null, /could not be read/],
  ['a revoked proxy', revokedProxy(), null, /could not be read/],
  ['a revoked proxy as the request', { ...IMAGE, request: revokedProxy() }, 9, /^generateImage: the message could not be read/],
  ['a cyclic message', cyclic, 11, /^unload: self is not a known field$/],
  ['a cyclic request', { ...IMAGE, request: cyclicRequest }, 9, /request\.seed must be a number/],
  ['a sparse array of 2^32 - 1 messages', { ...CHAT, request: { messages: new Array(2 ** 32 - 1) } }, 8, /request\.messages\[0\] must be a plain object/],
  ['2^32 - 1 images, a hole after the first', { ...CHAT, images: Object.assign(new Array(2 ** 32 - 1), { 0: new Blob(['x']) }) }, 8, /images\[1\] must be a Blob/],
  ['a million messages, the last one bad', { ...CHAT, request: { messages: [...Array.from({ length: 1e6 }, () => ({ role: 'user', content: '' })), { role: 'user' }] }, images: [] }, 8, /request\.messages\[1000000\]\.content must be a string/],
];

test('malformed messages are refused with the id to answer and the field at fault', () => {
  for (const [what, message, id, error] of MALFORMED) {
    const result = decode(message);
    assert.equal(result.ok, false, `${what}: accepted`);
    if (result.ok) continue;
    assert.equal(result.id, id, `${what}: id`);
    assert.match(result.error.message, error, what);
  }
});

// --- (c) property-based fuzz --------------------------------------------------------------------

/** fc.anything with every option: boxed values, Maps, Sets, dates, typed and sparse arrays... */
const anything = fc.anything({
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withObjectString: true,
  withNullPrototype: true,
  withTypedArray: true,
  withSparseArray: true,
  stringUnit: 'binary',
});

const params = { seed: SEED, numRuns: RUNS };

test(`fuzz: fc.anything() never makes decodeRequest throw (${RUNS} runs)`, () => {
  const before = decoded;
  fc.assert(
    fc.property(anything, (value) => {
      decode(value);
    }),
    params,
  );
  // Envelopes of every type with arbitrary fields: deeper than fc.anything alone gets.
  const envelope = fc.record({ type: fc.constantFrom<unknown>(...TYPES), id: fc.oneof(fc.maxSafeNat(), anything) });
  const fields = fc.dictionary(fc.constantFrom('options', 'wasmUrl', 'source', 'request', 'images', 'extra', '__proto__', 'constructor'), anything);
  fc.assert(
    fc.property(envelope, fields, (head, rest) => {
      decode({ ...rest, ...head });
    }),
    params,
  );
  console.log(`fuzz: fc.anything and envelopes: ${decoded - before} inputs decoded, none threw`);
});

// Valid requests, each optional field present or not.
const text = fc.string({ unit: 'binary', maxLength: 12 });
const anyNumber = fc.oneof(fc.integer(), fc.double());
const positive = fc.double({ min: Number.MIN_VALUE, max: Number.MAX_VALUE, noNaN: true });
const nonNegative = fc.double({ min: 0, max: Number.MAX_VALUE, noNaN: true });
const url = fc.webUrl({ withQueryParameters: true, withFragments: true });
const baseUrl = fc.webUrl().map((u) => (u.endsWith('/') ? u : `${u}/`));
const id = fc.maxSafeNat();
const opt = <T>(fields: { [K in keyof T]: fc.Arbitrary<T[K]> }, required: (keyof T)[]) => fc.record(fields, { requiredKeys: required });

const registryModel = opt(
  { id: text, name: text, repo: text, revision: text, preset: text, default: fc.boolean(), description: text, files: fc.array(text, { maxLength: 3 }), downloadBytes: anyNumber, parameters: anyNumber, gpuBytes: fc.record({ f16: anyNumber, f32: anyNumber }), q4: fc.record({ gpuBytes: fc.record({ f16: anyNumber, f32: anyNumber }), storedBytes: anyNumber }) },
  ['id', 'name', 'repo', 'revision', 'description', 'files', 'downloadBytes', 'parameters', 'gpuBytes'],
);
const image = fc.oneof(
  text.map((bytes) => new Blob([bytes])),
  fc.record({ width: anyNumber, height: anyNumber, data: fc.nat(16).map((n) => new Uint8ClampedArray(n)) }),
);
const message = opt({ role: fc.oneof(fc.constantFrom('user', 'assistant'), text), content: text, images: fc.nat(3) }, ['role', 'content']);
const chat = fc
  .tuple(id, fc.array(message, { maxLength: 4 }), opt({ system: text, maxNewTokens: anyNumber, temperature: anyNumber, topP: anyNumber, topK: anyNumber, seed: anyNumber, reuse: fc.boolean() }, []))
  .chain(([id, messages, sampling]) => {
    const count = messages.reduce((sum, m) => sum + (m.images ?? 0), 0);
    return fc.array(image, { minLength: count, maxLength: count }).map((images) => ({ type: 'chat', id, request: { messages, ...sampling }, images }));
  });

const valid: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  opt({ type: fc.constant('init'), id, options: opt({ maxBindingBytes: anyNumber, dtype: text, quant: text }, []), wasmUrl: url }, ['type', 'id']),
  fc.record({
    type: fc.constant('load'),
    id,
    source: fc.record({ baseUrl, name: text, entry: fc.option(fc.oneof(fc.constantFrom(...MODELS), registryModel)), treeUrl: fc.option(text) }),
    options: opt(
      { cache: fc.boolean(), chunkBytes: positive, retry: fc.record({ attempts: positive, baseMs: nonNegative, maxMs: nonNegative }), idleTimeoutMs: positive, skipSpaceCheck: fc.boolean(), keepSource: fc.boolean(), shardByShard: fc.constantFrom(true, false, 'auto') },
      ['cache'],
    ),
  }),
  chat,
  fc.record({ type: fc.constant('generateImage'), id, request: opt({ prompt: text, count: anyNumber, cfgWeight: anyNumber, temperature: anyNumber, topP: anyNumber, topK: anyNumber, seed: anyNumber, previewEvery: anyNumber }, ['prompt']) }),
  ...(['unload', 'cancel', 'trap', 'loseDevice', 'gpuRefusal'] as const).map((type) => fc.record({ type: fc.constant(type), id })),
  fc.record({ type: fc.constant('squeezeMemory'), id, leaveBytes: positive }),
);

/**
 * What each field of each request must be, by path (array indices as []): the oracle for the
 * mutations below, written from protocol.ts, types.ts and store/registry.ts.
 */
type Kind = 'type' | 'id' | 'string' | 'url' | 'baseUrl' | 'number' | 'positive' | 'nonNegative' | 'count' | 'boolean' | 'booleanOrAuto' | 'object' | 'array' | 'image' | 'pixels';
interface Field {
  kind: Kind;
  optional?: boolean;
  nullable?: boolean;
}
const f = (kind: Kind, more: Omit<Field, 'kind'> = {}): Field => ({ kind, ...more });
const o = (kind: Kind): Field => f(kind, { optional: true });
const ENVELOPE = { type: f('type'), id: f('id') };
const SAMPLING = { temperature: o('number'), topP: o('number'), topK: o('number'), seed: o('number') };
const FIELDS: Record<RequestType, Record<string, Field>> = {
  init: { ...ENVELOPE, options: o('object'), 'options.maxBindingBytes': o('number'), 'options.dtype': o('string'), 'options.quant': o('string'), 'options.conversationCacheBytes': o('number'), wasmUrl: o('url') },
  load: {
    ...ENVELOPE,
    source: f('object'),
    'source.baseUrl': f('baseUrl'),
    'source.name': f('string'),
    'source.entry': f('object', { nullable: true }),
    ...Object.fromEntries(['id', 'name', 'repo', 'revision', 'description'].map((k) => [`source.entry.${k}`, f('string')])),
    'source.entry.preset': o('string'),
    'source.entry.default': o('boolean'),
    'source.entry.files': f('array'),
    'source.entry.files[]': f('string'),
    'source.entry.downloadBytes': f('number'),
    'source.entry.parameters': f('number'),
    'source.entry.gpuBytes': f('object'),
    'source.entry.gpuBytes.f16': f('number'),
    'source.entry.gpuBytes.f32': f('number'),
    'source.entry.q4': o('object'),
    'source.entry.q4.gpuBytes': f('object'),
    'source.entry.q4.gpuBytes.f16': f('number'),
    'source.entry.q4.gpuBytes.f32': f('number'),
    'source.entry.q4.storedBytes': f('number'),
    'source.treeUrl': f('string', { nullable: true }),
    options: f('object'),
    'options.cache': f('boolean'),
    'options.chunkBytes': o('positive'),
    'options.retry': o('object'),
    'options.retry.attempts': f('positive'),
    'options.retry.baseMs': f('nonNegative'),
    'options.retry.maxMs': f('nonNegative'),
    'options.idleTimeoutMs': o('positive'),
    'options.skipSpaceCheck': o('boolean'),
    'options.keepSource': o('boolean'),
    'options.shardByShard': o('booleanOrAuto'),
  },
  chat: {
    ...ENVELOPE,
    request: f('object'),
    'request.messages': f('array'),
    'request.messages[]': f('object'),
    'request.messages[].role': f('string'),
    'request.messages[].content': f('string'),
    'request.messages[].images': o('count'),
    'request.system': o('string'),
    'request.maxNewTokens': o('number'),
    'request.reuse': o('boolean'),
    'request.stop': o('array'),
    'request.stop[]': f('string'),
    ...Object.fromEntries(Object.entries(SAMPLING).map(([k, v]) => [`request.${k}`, v])),
    images: f('array'),
    'images[]': f('image'),
    'images[].width': f('number'),
    'images[].height': f('number'),
    'images[].data': f('pixels'),
  },
  generateImage: {
    ...ENVELOPE,
    request: f('object'),
    'request.prompt': f('string'),
    'request.count': o('number'),
    'request.cfgWeight': o('number'),
    'request.previewEvery': o('number'),
    ...Object.fromEntries(Object.entries(SAMPLING).map(([k, v]) => [`request.${k}`, v])),
  },
  unload: ENVELOPE,
  cancel: ENVELOPE,
  trap: ENVELOPE,
  loseDevice: ENVELOPE,
  gpuRefusal: ENVELOPE,
  squeezeMemory: { ...ENVELOPE, leaveBytes: f('positive') },
};
const KNOWN_NAMES = new Set(Object.values(FIELDS).flatMap((fields) => Object.keys(fields).map((path) => path.replace(/.*[.\]]/, ''))));

type Segment = string | number;
interface Place {
  at: Segment[];
  /** 'request.messages[0].images' */
  path: string;
  /** 'request.messages[].images' */
  generic: string;
  value: unknown;
}

function isPlain(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Every field and array item of a request, outermost first. */
function places(value: unknown, at: Segment[] = [], out: Place[] = []): Place[] {
  const entries: [Segment, unknown][] = Array.isArray(value) ? value.map((v, i) => [i, v]) : isPlain(value) ? Object.entries(value) : [];
  for (const [key, child] of entries) {
    const here = [...at, key];
    const path = here.reduce<string>((p, s) => (typeof s === 'number' ? `${p}[${s}]` : p === '' ? s : `${p}.${s}`), '');
    out.push({ at: here, path, generic: path.replace(/\[\d+\]/g, '[]'), value: child });
    places(child, here, out);
  }
  return out;
}

function parentOf(root: unknown, at: readonly Segment[]): Record<Segment, unknown> {
  return at.slice(0, -1).reduce<unknown>((node, s) => (node as Record<Segment, unknown>)[s], root) as Record<Segment, unknown>;
}

type Category = 'undefined' | 'null' | 'string' | 'number' | 'boolean' | 'object' | 'array' | 'other';
function category(value: unknown): Category {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return typeof value as Category;
  if (Array.isArray(value)) return 'array';
  return isPlain(value) ? 'object' : 'other';
}

/** Kinds whose valid values the oracle can tell (the others: any value of an allowed category, or unknown). */
const DECIDED: Partial<Record<Kind, (value: unknown) => boolean>> = {
  positive: (v) => typeof v === 'number' && Number.isFinite(v) && v > 0,
  nonNegative: (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0,
  url: (v) => typeof v === 'string' && URL.canParse(v),
  baseUrl: (v) => typeof v === 'string' && URL.canParse(v) && v.endsWith('/'),
  booleanOrAuto: (v) => typeof v === 'boolean' || v === 'auto',
};

/** The categories a kind may take (others are refused), and whether any value of them is valid. */
const KINDS: Record<Kind, { allowed: Category[]; free: boolean }> = {
  type: { allowed: ['string'], free: false },
  id: { allowed: ['number'], free: false },
  string: { allowed: ['string'], free: true },
  url: { allowed: ['string'], free: false },
  baseUrl: { allowed: ['string'], free: false },
  number: { allowed: ['number'], free: true },
  positive: { allowed: ['number'], free: false },
  nonNegative: { allowed: ['number'], free: false },
  count: { allowed: ['number'], free: false },
  boolean: { allowed: ['boolean'], free: true },
  booleanOrAuto: { allowed: ['boolean', 'string'], free: false },
  object: { allowed: ['object'], free: false },
  array: { allowed: ['array'], free: false },
  image: { allowed: ['object', 'other'], free: false },
  pixels: { allowed: ['other'], free: false },
};

type Mutation = { op: 'drop' | 'replace'; place: Place; value?: unknown } | { op: 'add'; place: Place | null; key: string; value: unknown };
/** What decodeRequest must answer, or null where the oracle cannot tell. */
type Expected = { ok: true } | { ok: false; id: number | null; mentions: string } | null;

function expected(original: Record<string, unknown>, mutation: Mutation): Expected {
  const type = original.type as RequestType;
  const originalId = original.id as number;
  const answerId = type === 'cancel' ? null : originalId;
  const refused = (mentions: string): Expected => ({ ok: false, id: answerId, mentions });
  if (mutation.op === 'add') {
    const { place, key } = mutation;
    return refused(place === null ? key : `${place.path}.${key}`);
  }
  const { place } = mutation;
  const field = FIELDS[type][place.generic];
  assert.ok(field !== undefined, `no oracle for ${type} ${place.generic}`);
  const gone = mutation.op === 'drop' ? undefined : mutation.value;
  if (field.kind === 'id') {
    const ok = Number.isSafeInteger(gone) && (gone as number) >= 0;
    return ok ? { ok: true } : { ok: false, id: null, mentions: 'id' };
  }
  if (field.kind === 'type') {
    if (typeof gone === 'string' && (TYPES as string[]).includes(gone)) return gone === type ? { ok: true } : null;
    return { ok: false, id: originalId, mentions: 'type' };
  }
  // A message's image count must still add up to the images sent.
  if (place.generic === 'request.messages[].images' && gone === undefined) {
    return place.value === 0 ? { ok: true } : refused('images');
  }
  const got = category(gone);
  if (got === 'undefined') return field.optional === true ? { ok: true } : refused(place.path);
  if (got === 'null' && field.nullable === true) return { ok: true };
  const { allowed, free } = KINDS[field.kind];
  if (!allowed.includes(got)) return refused(place.path);
  const decide = DECIDED[field.kind];
  if (decide !== undefined) return decide(gone) ? { ok: true } : refused(place.path);
  return free ? { ok: true } : null;
}

/** Replacements near the edges of what the fields take, besides anything at all. */
const edge = fc.constantFrom<unknown>(0, -0, -1, 0.5, 2 ** 53, NaN, Infinity, -Infinity, '', '/', 'x', 'https://h.example/m/', 'https://h.example/m', '/m/', 'user', 'unload', null, [], {}, true);
const mutation = fc.record({ op: fc.constantFrom('drop', 'replace', 'add'), pick: fc.nat(), value: fc.oneof(anything, edge), key: fc.string({ unit: 'binary', maxLength: 8 }).filter((k) => !KNOWN_NAMES.has(k)) });

test(`fuzz: mutated valid requests are accepted exactly when still valid (${RUNS} runs)`, () => {
  const before = decoded;
  const outcomes = { accepted: 0, refused: 0, unknown: 0 };
  fc.assert(
    fc.property(valid, mutation, (generated, { op, pick, value, key }) => {
      const type = generated.type as RequestType;
      const request = structuredClone(generated);
      const all = places(request);
      for (const place of all) assert.ok(FIELDS[type][place.generic] !== undefined, `oracle lacks ${type} ${place.generic}`);
      accepted(generated, `valid ${type}`); // maybe with null-prototype objects (fc.record)
      accepted(request, `valid ${type}, cloned`);

      let change: Mutation;
      if (op === 'add') {
        const objects = [null, ...all.filter((p) => isPlain(p.value))];
        const place = objects[pick % objects.length]!;
        const target = place === null ? request : (place.value as Record<string, unknown>);
        // defineProperty: an own field even for '__proto__'.
        Object.defineProperty(target, key, { value, enumerable: true, configurable: true, writable: true });
        change = { op, place, key, value };
      } else {
        const candidates = op === 'drop' ? all.filter((p) => typeof p.at.at(-1) === 'string') : all;
        const place = candidates[pick % candidates.length]!;
        const parent = parentOf(request, place.at);
        const last = place.at.at(-1)!;
        if (op === 'drop') delete parent[last];
        else parent[last] = value;
        change = op === 'drop' ? { op, place } : { op, place, value };
      }

      const want = expected(generated, change);
      const got = decode(request);
      if (want === null) {
        outcomes.unknown += 1;
        return;
      }
      const what = `${type} ${change.op} ${change.place?.path ?? ''}`;
      if (want.ok) {
        assert.ok(got.ok, `${what}: refused: ${got.ok ? '' : got.error.message}`);
        outcomes.accepted += 1;
      } else {
        assert.ok(!got.ok, `${what}: accepted`);
        assert.equal(got.id, want.id, `${what}: id`);
        assert.ok(got.error.message.includes(want.mentions), `${what}: "${got.error.message}" does not name ${want.mentions}`);
        outcomes.refused += 1;
      }
    }),
    params,
  );
  const total = outcomes.accepted + outcomes.refused + outcomes.unknown;
  assert.ok(outcomes.accepted > total / 20 && outcomes.refused > total / 4, `a lopsided mix: ${JSON.stringify(outcomes)}`);
  console.log(`fuzz: mutated requests: ${decoded - before} inputs decoded (${RUNS} valid, their ${RUNS} clones, ${RUNS} mutated); mutations ${JSON.stringify(outcomes)}`);
});

test('inputs tried', () => {
  console.log(`wire-request: ${decoded} inputs decoded in all (JANUS_FUZZ_RUNS=${RUNS}, seed ${SEED})`);
});
