// The client and its worker protocol (web/src/client.ts, connection.ts, protocol.ts) against a
// scripted stand-in for the engine worker: what each call posts, how 'step' / 'result' / 'error' /
// 'fatal' messages reach the caller, cancelling, a worker that dies and the restart after it.
// The real worker runs the real engine in Chromium (web/test/e2e.mjs); this pins the protocol.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_PREVIEW_EVERY, JanusClient, JanusError, type ImagePreview } from '../../src/index.js';
import { NO_GPU_IN_WORKER, type Request, type Response } from '../../src/protocol.js';

type Script = (request: Request, worker: FakeWorker) => void;

/** A Worker whose "engine" is `FakeWorker.script`; it records what the client posts. */
class FakeWorker extends EventTarget {
  static instances: FakeWorker[] = [];
  static script: Script = () => {};
  readonly posted: Request[] = [];
  terminated = false;

  constructor(
    readonly url: URL | string,
    readonly options?: WorkerOptions,
  ) {
    super();
    FakeWorker.instances.push(this);
  }

  postMessage(request: Request): void {
    this.posted.push(structuredClone(request));
    setTimeout(() => FakeWorker.script(request, this), 0);
  }

  send(message: Response): void {
    if (!this.terminated) this.dispatchEvent(new MessageEvent('message', { data: message }));
  }

  terminate(): void {
    this.terminated = true;
  }
}
(globalThis as { Worker?: unknown }).Worker = FakeWorker;

const DEVICE = { adapter: 'fake', backend: 'test', shaderF16: false, dtype: 'f32', maxBufferSize: 1, maxStorageBufferBindingSize: 1, maxTensorBytes: 1 } as const;

/** Answers init; generateImage sends `steps` steps (a preview on even ones when asked) then its result. */
function engine(steps = 4, onCancel?: (worker: FakeWorker, id: number) => void): Script {
  return (request, worker) => {
    switch (request.type) {
      case 'init':
        worker.send({ type: 'result', id: request.id, value: { deviceInfo: { ...DEVICE }, wasmMemoryBytes: 1 } });
        return;
      case 'generateImage': {
        const every = request.request.previewEvery ?? 0;
        for (let step = 1; step <= steps; step += 1) {
          const preview = every > 0 && step % every === 0 ? { width: 2, height: 1, images: [new Uint8Array([1, 2, 3, 255, 4, 5, 6, 255])] } : undefined;
          worker.send(preview === undefined ? { type: 'step', id: request.id, step, total: steps } : { type: 'step', id: request.id, step, total: steps, preview });
        }
        if (onCancel === undefined) {
          const image = new Uint8Array(2 * 2 * 4).fill(9);
          worker.send({ type: 'result', id: request.id, value: { width: 2, height: 2, images: [image], codes: [[1, 2, 3, 4]], cancelled: false, seed: 7 } });
        }
        return;
      }
      case 'cancel':
        onCancel?.(worker, request.id);
        return;
      default:
        worker.send({ type: 'error', id: request.id, error: { code: 'bad-request', message: `unexpected ${request.type}` } });
    }
  };
}

function lastRequest(type: Request['type']): Request | undefined {
  return FakeWorker.instances.at(-1)?.posted.filter((r) => r.type === type).at(-1);
}

test('image generation: steps, previews (every 96 tokens by default when asked for) and pixels', async () => {
  FakeWorker.script = engine(4);
  const client = await JanusClient.create({ workerUrl: 'http://test/worker.js' });
  const init = lastRequest('init') as Extract<Request, { type: 'init' }>;
  assert.deepEqual({ ...init, wasmUrl: undefined }, { type: 'init', id: 1, options: {}, wasmUrl: undefined });
  assert.match(init.wasmUrl ?? '', /^file:.*\/janus_web_bg\.wasm$/, 'the wasm next to the client module');
  assert.equal(client.deviceInfo.adapter, 'fake');

  // No onPreview: no previews asked for, and none computed.
  const steps: number[] = [];
  const plain = await client.generateImage('a cat', { count: 1, onStep: (step) => steps.push(step) });
  assert.deepEqual(lastRequest('generateImage'), { type: 'generateImage', id: 2, request: { prompt: 'a cat', count: 1 } });
  assert.deepEqual(steps, [1, 2, 3, 4]);
  assert.equal(plain.seed, 7);
  assert.equal(plain.images[0]?.width, 2);
  assert.ok(plain.images[0]?.data instanceof Uint8ClampedArray && plain.images[0].data.length === 16);

  // onPreview alone: the default interval is asked for.
  await client.generateImage('a dog', { onPreview: () => {} });
  assert.equal((lastRequest('generateImage') as Extract<Request, { type: 'generateImage' }>).request.previewEvery, DEFAULT_PREVIEW_EVERY);

  // A given interval, previews routed with their step, each image's pixels as RGBA.
  const previews: ImagePreview[] = [];
  steps.length = 0;
  await client.generateImage('a fox', { previewEvery: 2, onPreview: (p) => previews.push(p), onStep: (step) => steps.push(step) });
  assert.deepEqual(steps, [1, 2, 3, 4], 'onStep still sees every step');
  assert.deepEqual(previews.map((p) => [p.step, p.total, p.width, p.height]), [[2, 4, 2, 1], [4, 4, 2, 1]]);
  assert.deepEqual([...previews[0]!.images[0]!.data], [1, 2, 3, 255, 4, 5, 6, 255]);
  client.dispose();
});

test('a throwing callback is reported and the call still ends with its result', async () => {
  FakeWorker.script = engine(3);
  const client = await JanusClient.create({ workerUrl: 'http://test/worker.js' });
  const logged: unknown[] = [];
  const error = console.error;
  console.error = (...args: unknown[]) => logged.push(args[0]);
  try {
    const result = await client.generateImage('x', {
      onStep: () => {
        throw new Error('page bug');
      },
    });
    assert.equal(result.cancelled, false);
    assert.equal(logged.length, 3);
  } finally {
    console.error = error;
    client.dispose();
  }
});

test('aborting a running generation sends cancel for its id; the worker answers cancelled', async () => {
  const controller = new AbortController();
  FakeWorker.script = engine(2, (worker, id) => {
    worker.send({ type: 'result', id, value: { width: 2, height: 2, images: [], codes: [[5, 6]], cancelled: true, seed: 1 } });
  });
  const client = await JanusClient.create({ workerUrl: 'http://test/worker.js' });
  const result = await client.generateImage('x', { signal: controller.signal, onStep: (step) => step === 2 && controller.abort() });
  assert.equal(result.cancelled, true);
  assert.deepEqual(result.codes, [[5, 6]]);
  const image = lastRequest('generateImage')!;
  assert.deepEqual(lastRequest('cancel'), { type: 'cancel', id: image.id });
  // A signal aborted before the call: nothing is sent.
  const before = FakeWorker.instances.at(-1)!.posted.length;
  await assert.rejects(client.generateImage('y', { signal: AbortSignal.abort() }), (e: unknown) => e instanceof JanusError && e.code === 'aborted');
  assert.equal(FakeWorker.instances.at(-1)!.posted.length, before);
  client.dispose();
});

test('a fatal message fails the running call, marks the client crashed, and restart() starts a new worker', async () => {
  let die = true;
  const normal = engine(1);
  FakeWorker.script = (request, worker) => {
    if (request.type === 'generateImage' && die) {
      worker.send({ type: 'fatal', error: { code: 'device-lost', message: 'the GPU went away' } });
      return;
    }
    normal(request, worker);
  };
  const client = await JanusClient.create({ workerUrl: 'http://test/worker.js' });
  const crashes: string[] = [];
  client.addEventListener('crash', (event) => crashes.push((event as CustomEvent<JanusError>).detail.code));
  const first = FakeWorker.instances.at(-1)!;
  await assert.rejects(client.generateImage('x'), (e: unknown) => e instanceof JanusError && e.code === 'device-lost' && /GPU went away/.test(e.message));
  assert.deepEqual(crashes, ['device-lost']);
  assert.ok(client.crashed && first.terminated);
  // Later calls fail at once, saying why, until restart().
  await assert.rejects(client.generateImage('x'), (e: unknown) => e instanceof JanusError && e.code === 'worker-crashed' && /restart\(\).*GPU went away/.test(e.message));
  die = false;
  await client.restart();
  assert.ok(!client.crashed);
  assert.notEqual(FakeWorker.instances.at(-1), first);
  assert.equal((await client.generateImage('x')).seed, 7);
  client.dispose();
  await assert.rejects(client.generateImage('x'), (e: unknown) => e instanceof JanusError && e.code === 'disposed');
  // A second dispose does nothing (no throw, no crash event); calls still say 'disposed'.
  client.dispose();
  assert.deepEqual(crashes, ['device-lost']);
  await assert.rejects(client.generateImage('x'), (e: unknown) => e instanceof JanusError && e.code === 'disposed');
});

test("a long prompt's passes reach onPrompt before the reply's pieces", async () => {
  const normal = engine();
  FakeWorker.script = (request, worker) => {
    if (request.type !== 'chat') return normal(request, worker);
    for (const read of [100, 200]) worker.send({ type: 'prompt', id: request.id, read, total: 250 });
    worker.send({ type: 'token', id: request.id, piece: 'Hi', tokenId: 5 });
    worker.send({ type: 'result', id: request.id, value: { text: 'Hi', ids: [5], promptTokens: 250, reusedTokens: 0, stop: 'eos', seed: 1 } });
  };
  const client = await JanusClient.create({ workerUrl: 'http://test/worker.js' });
  const heard: string[] = [];
  const stream = client.chat([{ role: 'user', content: 'hello' }], { onPrompt: (read, total) => heard.push(`${read}/${total}`) });
  for await (const piece of stream) heard.push(piece);
  assert.deepEqual(heard, ['100/250', '200/250', 'Hi']);
  assert.equal((await stream.result).text, 'Hi');
  // The callback itself is not sent to the worker.
  assert.ok(!('onPrompt' in (lastRequest('chat') as Extract<Request, { type: 'chat' }>).request));
  client.dispose();
});

test('log-probabilities are asked for on the wire and reach onLogprobs token by token', async () => {
  const normal = engine();
  const entry = (id: number, token: string) => ({ id, token, bytes: [...new TextEncoder().encode(token)], logprob: -0.5, topLogprobs: [] });
  FakeWorker.script = (request, worker) => {
    if (request.type !== 'chat') return normal(request, worker);
    worker.send({ type: 'token', id: request.id, piece: 'Hi', tokenId: 5, logprobs: entry(5, 'Hi') });
    worker.send({ type: 'token', id: request.id, piece: '', tokenId: 6, logprobs: entry(6, '') });
    worker.send({ type: 'token', id: request.id, piece: '!', tokenId: 7, logprobs: entry(7, '!') });
    const logprobs = [entry(5, 'Hi'), entry(6, ''), entry(7, '!')];
    worker.send({ type: 'result', id: request.id, value: { text: 'Hi!', ids: [5, 6, 7], promptTokens: 9, reusedTokens: 0, stop: 'eos', seed: 1, logprobs } });
  };
  const client = await JanusClient.create({ workerUrl: 'http://test/worker.js' });
  const heard: number[] = [];
  const stream = client.chat([{ role: 'user', content: 'hello' }], { logprobs: true, topLogprobs: 3, onLogprobs: (e) => heard.push(e.id) });
  const pieces: string[] = [];
  for await (const piece of stream) pieces.push(piece);
  // Every token's entry, the one without text too.
  assert.deepEqual(heard, [5, 6, 7]);
  assert.deepEqual(pieces, ['Hi', '!']);
  const result = await stream.result;
  assert.deepEqual(result.logprobs?.map((e) => e.id), [5, 6, 7]);
  const sent = (lastRequest('chat') as Extract<Request, { type: 'chat' }>).request;
  assert.equal(sent.logprobs, true);
  assert.equal(sent.topLogprobs, 3);
  // The callback itself is not sent to the worker.
  assert.ok(!('onLogprobs' in sent));
  assert.ok(!('json' in sent));
  await client.chat([{ role: 'user', content: 'hello' }], { json: true }).result;
  assert.equal((lastRequest('chat') as Extract<Request, { type: 'chat' }>).request.json, true);
  // Without them, the result has none.
  FakeWorker.script = (request, worker) => {
    if (request.type !== 'chat') return normal(request, worker);
    worker.send({ type: 'result', id: request.id, value: { text: 'Hi', ids: [5], promptTokens: 9, reusedTokens: 0, stop: 'eos', seed: 1 } });
  };
  const plain = await client.chat([{ role: 'user', content: 'hello' }]).result;
  assert.ok(!('logprobs' in plain));
  client.dispose();
});

test('a worker without WebGPU on a page that has it says so; a browser without any keeps the engine\'s words', async () => {
  FakeWorker.script = (request, worker) => worker.send({ type: 'error', id: request.id, error: { code: 'no-webgpu', message: NO_GPU_IN_WORKER } });
  // Node has no navigator.gpu: as a browser without WebGPU.
  await assert.rejects(JanusClient.create({ workerUrl: 'http://test/worker.js' }), (e: unknown) => e instanceof JanusError && e.code === 'no-webgpu' && e.message === NO_GPU_IN_WORKER);
  const before = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
  Object.defineProperty(globalThis, 'navigator', { value: { gpu: {} }, configurable: true });
  try {
    await assert.rejects(
      JanusClient.create({ workerUrl: 'http://test/worker.js' }),
      (e: unknown) => e instanceof JanusError && e.code === 'no-webgpu' && /gives WebGPU to the page but not to Web Workers.*dom\.webgpu\.workers\.enabled/.test(e.message),
    );
  } finally {
    if (before === undefined) delete (globalThis as { navigator?: unknown }).navigator;
    else Object.defineProperty(globalThis, 'navigator', before);
  }
});

test('prefill reads a conversation and writes nothing; the next call stops it, and a signal does', async () => {
  const normal = engine();
  FakeWorker.script = (request, worker) => {
    if (request.type === 'cancel') {
      // The prefill stops at its next pass.
      worker.send({ type: 'result', id: request.id, value: { text: '', ids: [], promptTokens: 900, reusedTokens: 100, stop: 'cancelled', seed: 1 } });
      return;
    }
    if (request.type !== 'chat') return normal(request, worker);
    if (request.request.maxNewTokens === 0) {
      worker.send({ type: 'prompt', id: request.id, read: 256, total: 800 });
      return; // reading until cancelled
    }
    worker.send({ type: 'result', id: request.id, value: { text: 'Hi', ids: [5], promptTokens: 910, reusedTokens: 356, stop: 'eos', seed: 1 } });
  };
  const client = await JanusClient.create({ workerUrl: 'http://test/worker.js' });
  const history = [
    { role: 'user' as const, content: 'hello' },
    { role: 'assistant' as const, content: 'hi' },
  ];
  const heard: number[] = [];
  const reading = client.prefill(history, { onPrompt: (read) => heard.push(read) });
  const asked = lastRequest('chat') as Extract<Request, { type: 'chat' }>;
  assert.equal(asked.request.maxNewTokens, 0);
  assert.deepEqual(asked.request.messages, history);
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.deepEqual(heard, [256]);
  // Another call: the prefill is cancelled first, then the call is sent.
  const reply = client.chat([...history, { role: 'user', content: 'more' }]);
  const posted = FakeWorker.instances.at(-1)!.posted.slice(-2);
  assert.deepEqual(posted.map((r) => r.type), ['cancel', 'chat']);
  assert.equal(posted[0]!.id, asked.id);
  assert.deepEqual(await reading, { promptTokens: 900, reusedTokens: 100, stopped: true });
  assert.equal((await reply.result).text, 'Hi');
  // A signal stops it too; a call made after a prefill ended aborts nothing.
  const controller = new AbortController();
  const stopped = client.prefill(history, { signal: controller.signal });
  controller.abort();
  assert.equal((await stopped).stopped, true);
  const before = FakeWorker.instances.at(-1)!.posted.length;
  await client.chat(history).result;
  assert.deepEqual(FakeWorker.instances.at(-1)!.posted.slice(before).map((r) => r.type), ['chat']);
  client.dispose();
});
