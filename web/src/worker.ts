// The engine worker: a module Web Worker that owns the wasm instance and its one Engine.
//
// Requests (protocol.ts) run one at a time in arrival order: the Engine allows a single call in
// flight. 'cancel' and 'trap' act at once. Cancelling works because every generated token or image
// step awaits a GPU readback, which lets this worker's message handler run; the handler flips a
// flag that the engine's next onToken/onStep callback returns as `false`.
//
// A WebAssembly trap (a Rust panic, or debugTrap()) kills the instance: the worker then posts one
// 'fatal' message with the panic text and answers every later request with 'worker-crashed'. The
// client terminates it and can start a fresh one.

import init, { Engine, debugTrap, lastPanic, wasmMemoryBytes } from '../pkg/janus_web.js';
import { JanusError, isWasmTrap, toWireError, type WireError } from './errors.js';
import { toEngineImages } from './images.js';
import type { Request, Response, Results } from './protocol.js';
import { chatResult, imageResult, loadResult } from './results.js';
import type { ChatResult, DeviceInfo, EngineImageResult, EnginePreview } from './types.js';
import { loadModel } from './worker-load.js';

/** The members of DedicatedWorkerGlobalScope used here (the program is type-checked with the DOM lib). */
interface WorkerScope {
  postMessage(message: Response, options: StructuredSerializeOptions): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<Request>) => void): void;
  addEventListener(type: 'error', listener: (event: ErrorEvent) => void): void;
  addEventListener(type: 'unhandledrejection', listener: (event: PromiseRejectionEvent) => void): void;
}
const scope = self as unknown as WorkerScope;

type Work = Exclude<Request, { type: 'cancel' } | { type: 'trap' }>;
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
  const request = event.data;
  if (dead !== null) {
    if (request.type !== 'cancel') post({ type: 'error', id: request.id, error: dead });
    return;
  }
  if (request.type === 'cancel') cancel(request.id);
  else if (request.type === 'trap') trap(request.id);
  else {
    queue.push(request);
    void pump();
  }
});

// A trap inside a wasm-bindgen future (spawn_local) is not seen by any await here.
scope.addEventListener('unhandledrejection', (event) => {
  if (isWasmTrap(event.reason)) die(event.reason);
});
scope.addEventListener('error', (event) => {
  if (isWasmTrap(event.error)) die(event.error);
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
    if (isWasmTrap(error)) die(error);
    else post({ type: 'error', id, error: toWireError(error) });
  }
}

/** The instance is unusable: tell the page once, then refuse everything. */
function die(error: unknown): void {
  if (dead !== null) return;
  let panic: string | undefined;
  try {
    panic = lastPanic() ?? undefined;
  } catch {
    panic = undefined; // the glue itself may fail after a trap
  }
  const reason = error instanceof Error ? error.message : String(error);
  dead = {
    code: 'worker-crashed',
    message: `the wasm engine trapped (${reason})${panic === undefined ? '' : `: ${panic}`}`,
  };
  if (panic !== undefined) dead.panic = panic;
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
      if (isWasmTrap(error)) die(error);
      else if (dead === null) post({ type: 'error', id: request.id, error: toWireError(error) });
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
      try {
        const wasmUrl = request.wasmUrl ?? new URL('./janus_web_bg.wasm', import.meta.url);
        memory = (await init({ module_or_path: wasmUrl })).memory;
      } catch (error) {
        throw new JanusError('internal', `could not instantiate janus_web_bg.wasm: ${toWireError(error).message}`, {
          cause: error,
        });
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
      const raw = (await current.chat(request.request, images, (piece: string, tokenId: number) => {
        post({ type: 'token', id, piece, tokenId });
        return !cancelled.has(id);
      })) as ChatResult;
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
