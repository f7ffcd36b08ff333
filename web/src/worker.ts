// The engine worker: a module Web Worker that owns the wasm instance and its one Engine.
//
// Requests (protocol.ts) run one at a time in arrival order: the Engine allows a single call in
// flight. 'cancel' and the test hooks act at once. Cancelling works because every generated token
// or image step awaits a GPU readback, which lets this worker's message handler run; the handler
// flips a flag that the engine's next onToken/onStep callback returns as `false` (or its
// onPrompt, between the passes of a long chat prompt).
//
// Three things end the instance: a WebAssembly trap (a Rust panic, or debugTrap()), an allocation
// that failed (wasm memory exhausted: also a trap), and the loss of the GPU device. The worker
// then posts one 'fatal' message ('worker-crashed' with the panic text, 'out-of-memory' or
// 'device-lost') and answers every later request with it. The client terminates the worker and
// can start a fresh one; the weights stored in IndexedDB are untouched by any of this.

import init, { Engine, debugGpuRefusal, debugLoseDevice, debugTrap, deviceLost, failedAllocation, lastPanic, wasmMemoryBytes } from '../pkg/janus_web.js';
import { JanusError, isWasmTrap, toWireError, type WireError } from './errors.js';
import { toEngineImages } from './images.js';
import { NO_GPU_IN_WORKER, type Request, type Response, type Results } from './protocol.js';
import { chatResult, imageResult, loadResult } from './results.js';
import type { ChatResult, DeviceInfo, EngineImageResult, EnginePreview, TokenLogprob } from './types.js';
import { decodeRequest } from './wire-request.js';
import { loadModel } from './worker-load.js';

/** The members of DedicatedWorkerGlobalScope used here (the program is type-checked with the DOM lib). */
interface WorkerScope {
  postMessage(message: Response, options: StructuredSerializeOptions): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<unknown>) => void): void;
  addEventListener(type: 'error', listener: (event: ErrorEvent) => void): void;
  addEventListener(type: 'unhandledrejection', listener: (event: PromiseRejectionEvent) => void): void;
}
const scope = self as unknown as WorkerScope;

type Work = Exclude<Request, { type: 'cancel' | 'trap' | 'loseDevice' | 'gpuRefusal' | 'squeezeMemory' }>;
type Outcome = { value: Results[keyof Results]; transfer?: Transferable[] };

let engine: Engine | null = null;
let memory: WebAssembly.Memory | null = null;
/** Set once the instance trapped; the error every later request gets. */
let dead: WireError | null = null;

const queue: Work[] = [];
let running: number | null = null;
/** Ids of running requests whose caller asked to stop. */
const cancelled = new Set<number>();
/** The running load's abort controller (stops its downloads at once). */
let loadAbort: { id: number; controller: AbortController } | null = null;

function post(message: Response, transfer: Transferable[] = []): void {
  scope.postMessage(message, { transfer });
}

scope.addEventListener('message', (event) => {
  // Nothing unchecked reaches the code below: a malformed message would make it throw untyped.
  const decoded = decodeRequest(event.data);
  if (!decoded.ok) {
    if (decoded.id !== null) post({ type: 'error', id: decoded.id, error: decoded.error });
    else console.warn(`janus worker: dropped a malformed message (no request to answer): ${decoded.error.message}`);
    return;
  }
  const { request } = decoded;
  if (dead !== null) {
    if (request.type !== 'cancel') post({ type: 'error', id: request.id, error: dead });
    return;
  }
  if (request.type === 'cancel') cancel(request.id);
  else if (request.type === 'trap') trap(request.id);
  else if (request.type === 'loseDevice') loseDevice(request.id);
  else if (request.type === 'gpuRefusal') void gpuRefusal(request.id);
  else if (request.type === 'squeezeMemory') squeezeMemory(request.id, request.leaveBytes);
  else {
    queue.push(request);
    void pump();
  }
});

// A trap inside a wasm-bindgen future (spawn_local) is not seen by any await here.
scope.addEventListener('unhandledrejection', (event) => {
  if (isWasmTrap(event.reason)) die(trapError(event.reason));
});
scope.addEventListener('error', (event) => {
  if (isWasmTrap(event.error)) die(trapError(event.error));
});

function cancel(id: number): void {
  const queued = queue.findIndex((request) => request.id === id);
  if (queued >= 0) {
    queue.splice(queued, 1);
    post({ type: 'error', id, error: { code: 'aborted', message: 'cancelled before it started' } });
  } else if (running === id) {
    cancelled.add(id);
    if (loadAbort?.id === id) loadAbort.controller.abort();
  }
}

function trap(id: number): void {
  try {
    debugTrap();
    post({ type: 'error', id, error: { code: 'internal', message: 'debugTrap() returned without trapping' } });
  } catch (error) {
    if (isWasmTrap(error)) die(trapError(error));
    else post({ type: 'error', id, error: toWireError(error) });
  }
}

/** Test hook: destroy the GPU device now; the running job fails at its next GPU step. */
function loseDevice(id: number): void {
  try {
    if (debugLoseDevice()) post({ type: 'result', id, value: null });
    else post({ type: 'error', id, error: { code: 'bad-request', message: 'the engine has no GPU device yet: init first' } });
  } catch (error) {
    post({ type: 'error', id, error: toWireError(error) });
  }
}

/**
 * Test hook: a real WebGPU validation error. wgpu hands it to the uncaptured-error handler, which
 * panics inside the browser's event (a trap the 'error' listener above turns into 'fatal'); if
 * nothing trapped once the work is done, the hook says so.
 */
async function gpuRefusal(id: number): Promise<void> {
  try {
    await debugGpuRefusal();
    await new Promise((resolve) => setTimeout(resolve, 100)); // the error event comes as a task
    if (dead === null) post({ type: 'error', id, error: { code: 'internal', message: 'the GPU accepted the invalid work: nothing trapped' } });
  } catch (error) {
    if (isWasmTrap(error)) die(trapError(error));
    else if (dead === null) post({ type: 'error', id, error: toWireError(error) });
  }
}

/**
 * Test hook: grow the wasm memory, in halving steps, until a step of `leaveBytes` no longer fits
 * under the instance's maximum. The pages grown here are never handed to the allocator, so less
 * than 2 × `leaveBytes` remain for it: what a smaller memory maximum would leave.
 */
function squeezeMemory(id: number, leaveBytes: number): void {
  if (memory === null) {
    post({ type: 'error', id, error: { code: 'bad-request', message: 'the engine is not initialised: init first' } });
    return;
  }
  const page = 65536;
  for (let pages = 65536; pages * page >= leaveBytes && pages >= 1; ) {
    try {
      memory.grow(pages);
    } catch {
      pages = Math.floor(pages / 2); // RangeError: past the maximum
    }
  }
  post({ type: 'result', id, value: { memoryBytes: memory.buffer.byteLength } });
}

/**
 * What a trap means for the page. Read from the dead instance where it can still answer (each
 * read may itself fail): an allocation that failed is running out of memory, a device that was
 * lost is the loss, a panic keeps its message; anything else is a crash.
 */
function trapError(error: unknown): WireError {
  const read = <T>(get: () => T): T | undefined => {
    try {
      return get();
    } catch {
      return undefined; // the glue itself may fail after a trap
    }
  };
  const panic = read(() => lastPanic() ?? undefined);
  const failed = read(() => failedAllocation() ?? undefined);
  const lost = read(() => deviceLost() ?? undefined);
  const reason = error instanceof Error ? error.message : String(error);
  if (failed !== undefined) {
    const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
    const used = memory === null ? '' : ` with ${mib(memory.buffer.byteLength)} already in use`;
    return {
      code: 'out-of-memory',
      message: `the engine ran out of WebAssembly memory: ${mib(failed)} could not be allocated${used} (the browser's limit for one instance); restart the engine, or pick a smaller or quantised model`,
    };
  }
  if (lost !== undefined) return { code: 'device-lost', message: `the GPU device was lost (${lost}); the engine stopped (${reason})` };
  // wgpu's uncaptured-error handler panics with 'wgpu error: ...' when the GPU refuses a command.
  const refused = panic?.match(/wgpu error: (.*)/)?.[1];
  const dead: WireError = {
    code: 'worker-crashed',
    message:
      refused !== undefined
        ? `the GPU refused the engine's work (${refused.trim()}); the engine stopped and must be restarted. This is a bug in janus-web: please report it with the browser and GPU`
        : `the wasm engine trapped (${reason})${panic === undefined ? '' : `: ${panic}`}`,
  };
  if (panic !== undefined) dead.panic = panic;
  return dead;
}

/** The instance is unusable: tell the page once, then refuse everything. */
function die(error: WireError): void {
  if (dead !== null) return;
  dead = error;
  engine = null;
  queue.length = 0;
  post({ type: 'fatal', error: dead });
}

async function pump(): Promise<void> {
  if (running !== null) return;
  for (let request = queue.shift(); request !== undefined && dead === null; request = queue.shift()) {
    running = request.id;
    try {
      const { value, transfer } = await execute(request);
      if (dead === null) post({ type: 'result', id: request.id, value }, transfer);
    } catch (error) {
      if (isWasmTrap(error)) die(trapError(error));
      else if (dead === null) {
        const wire = toWireError(error);
        // The device is gone for good in this instance (burn cannot open another): the job's
        // error ends the instance, and the page restarts a fresh one.
        if (wire.code === 'device-lost') die(wire);
        else post({ type: 'error', id: request.id, error: wire });
      }
    } finally {
      cancelled.delete(request.id);
      running = null;
    }
  }
}

function loaded(): Engine {
  if (engine === null) throw new JanusError('bad-request', 'the worker has no engine: init first');
  return engine;
}

async function execute(request: Work): Promise<Outcome> {
  const { id } = request;
  switch (request.type) {
    case 'init': {
      if (engine !== null) throw new JanusError('bad-request', 'the engine is already initialised');
      // Before the wasm is compiled: nothing here can run without it.
      if ((self as { navigator?: { gpu?: unknown } }).navigator?.gpu == null) throw new JanusError('no-webgpu', NO_GPU_IN_WORKER);
      try {
        const wasmUrl = request.wasmUrl ?? new URL('./janus_web_bg.wasm', import.meta.url);
        memory = (await init({ module_or_path: wasmUrl })).memory;
      } catch (error) {
        const message = toWireError(error).message;
        // A Content-Security-Policy without 'wasm-unsafe-eval' forbids compiling any module.
        if (/unsafe-eval|Content Security Policy/i.test(message)) {
          throw new JanusError(
            'blocked',
            `this page's Content-Security-Policy does not allow WebAssembly; add 'wasm-unsafe-eval' to its script-src (the browser said: ${message})`,
            { cause: error },
          );
        }
        throw new JanusError('internal', `could not instantiate janus_web_bg.wasm: ${message}`, { cause: error });
      }
      // wasm-bindgen types the promise as Promise<any>; it resolves with an Engine.
      const created = (await Engine.create(request.options)) as Engine;
      engine = created;
      return { value: { deviceInfo: created.deviceInfo() as DeviceInfo, wasmMemoryBytes: wasmMemoryBytes() } };
    }
    case 'load': {
      const current = loaded();
      const controller = new AbortController();
      loadAbort = { id, controller };
      try {
        const { report, download } = await loadModel(current, request.source, request.options, controller.signal, (progress) => {
          post({ type: 'progress', id, progress });
          return !cancelled.has(id); // false stops the load at its next step ('aborted')
        });
        // Cancelled after the engine's last progress step: undo the load.
        if (cancelled.has(id)) {
          if (current.isLoaded()) current.unload();
          throw new JanusError('aborted', 'load cancelled');
        }
        return { value: loadResult(report, wasmMemoryBytes(), download) };
      } finally {
        loadAbort = null;
      }
    }
    case 'chat': {
      const current = loaded();
      const images = await toEngineImages(request.images);
      const raw = (await current.chat(
        request.request,
        images,
        (piece: string, tokenId: number, logprobs?: TokenLogprob) => {
          post(logprobs === undefined ? { type: 'token', id, piece, tokenId } : { type: 'token', id, piece, tokenId, logprobs });
          return !cancelled.has(id);
        },
        (read: number, total: number) => {
          post({ type: 'prompt', id, read, total });
          return !cancelled.has(id); // false stops before the first token; what was read is kept
        },
      )) as ChatResult;
      return { value: chatResult(raw) };
    }
    case 'generateImage': {
      const current = loaded();
      const raw = (await current.generateImage(request.request, (step: number, total: number, preview?: EnginePreview) => {
        if (preview === undefined) post({ type: 'step', id, step, total });
        else post({ type: 'step', id, step, total, preview }, preview.images.map((bytes) => bytes.buffer));
        return !cancelled.has(id);
      })) as EngineImageResult;
      if (memory === null) throw new JanusError('internal', 'wasm memory unknown');
      return imageResult(raw, memory);
    }
    case 'unload': {
      // Idempotent for the caller: nothing loaded is already unloaded.
      const current = loaded();
      if (current.isLoaded()) current.unload();
      return { value: null };
    }
  }
}
