// One engine worker's lifetime, seen from the page: spawn it, send requests, route responses to
// the pending calls, and notice when it dies.
//
// A call is a Promise for its request's 'result'; its 'progress' / 'token' / 'prompt' / 'step' messages go to
// the handlers given with it. An AbortSignal sends 'cancel' (see protocol.ts for what the worker
// does with it); a load is rejected with 'aborted' at once, while the worker stops it.
// When the worker dies ('fatal', an uncaught error, an undecodable message) the connection
// terminates it, rejects every pending call with 'worker-crashed' and calls `onDead` once.

import { JanusError, toJanusError } from './errors.js';
import type { Request, RequestType, Response, Results } from './protocol.js';
import type { DownloadProgress } from './store/model-cache.js';
import type { EnginePreview, LoadProgress, TokenLogprob } from './types.js';

export interface CallHandlers {
  onProgress?: (progress: LoadProgress | DownloadProgress) => void;
  onToken?: (piece: string, tokenId: number, logprobs?: TokenLogprob) => void;
  onPrompt?: (read: number, total: number) => void;
  onStep?: (step: number, total: number, preview?: EnginePreview) => void;
}

/** Request types that are calls (everything but 'cancel', which is sent by an AbortSignal). */
export type Called = Exclude<RequestType, 'cancel'>;
/** The fields of a request of type K besides `type` and `id` (the connection numbers requests). */
export type RequestFields<K extends Called> = Omit<Extract<Request, { type: K }>, 'type' | 'id'>;

interface Pending {
  type: Called;
  handlers: CallHandlers;
  resolve: (value: Results[keyof Results]) => void;
  reject: (error: JanusError) => void;
}

export class WorkerConnection {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Set once closed: what every later call is rejected with. */
  private closed: JanusError | null = null;

  constructor(
    workerUrl: URL | string,
    private readonly onDead: (error: JanusError) => void,
  ) {
    this.worker = new Worker(workerUrl, { type: 'module', name: 'janus-engine' });
    this.worker.addEventListener('message', (event: MessageEvent<Response>) => this.receive(event.data));
    // Fires for an uncaught exception in the worker and when its script cannot be loaded.
    this.worker.addEventListener('error', (event: Event) => {
      event.preventDefault();
      const detail = event instanceof ErrorEvent && event.message ? event.message : 'the worker script failed to load';
      this.die(new JanusError('worker-crashed', `the engine worker failed: ${detail}`));
    });
    this.worker.addEventListener('messageerror', () => {
      this.die(new JanusError('worker-crashed', 'a message from the engine worker could not be decoded'));
    });
  }

  call<K extends Called>(
    type: K,
    fields: RequestFields<K>,
    handlers: CallHandlers = {},
    signal?: AbortSignal,
    transfer: Transferable[] = [],
  ): Promise<Results[K]> {
    if (this.closed !== null) return Promise.reject(this.closed);
    if (signal?.aborted === true) {
      return Promise.reject(new JanusError('aborted', `${type} aborted before it was sent`));
    }
    const id = this.nextId++;
    return new Promise<Results[K]>((resolve, reject) => {
      const onAbort = (): void => {
        if (!this.pending.has(id)) return;
        this.post({ type: 'cancel', id });
        if (type === 'load') this.settle(id, new JanusError('aborted', 'load aborted'));
      };
      const detach = (): void => signal?.removeEventListener('abort', onAbort);
      this.pending.set(id, {
        type,
        handlers,
        // The worker answers request K with Results[K] (protocol.ts); the map only loses the pairing.
        resolve: (value) => {
          detach();
          resolve(value as Results[K]);
        },
        reject: (error) => {
          detach();
          reject(error);
        },
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        this.post({ ...fields, type, id } as Request, transfer);
      } catch (error) {
        // DataCloneError: something in the request cannot be posted (e.g. an <img> element).
        const cause = toJanusError(error);
        this.settle(id, new JanusError('bad-request', `could not send ${type}: ${cause.message}`, { cause: error }));
      }
    });
  }

  /** Terminates the worker and rejects every pending call with `error`. Idempotent. */
  close(error: JanusError): void {
    if (this.closed !== null) return;
    this.closed = error;
    this.worker.terminate();
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const call of pending) call.reject(error);
  }

  private die(error: JanusError): void {
    if (this.closed !== null) return;
    this.close(error);
    this.onDead(error);
  }

  private post(request: Request, transfer: Transferable[] = []): void {
    this.worker.postMessage(request, transfer);
  }

  /** Ends call `id` with a value or an error (no-op if it already ended). */
  private settle(id: number, outcome: { value: Results[keyof Results] } | JanusError): void {
    const call = this.pending.get(id);
    if (call === undefined) return;
    this.pending.delete(id);
    if (outcome instanceof JanusError) call.reject(outcome);
    else call.resolve(outcome.value);
  }

  private receive(message: Response): void {
    if (this.closed !== null) return;
    if (message.type === 'fatal') {
      this.die(JanusError.fromWire(message.error));
      return;
    }
    // Late answers to calls that ended early (an aborted load) have no pending entry.
    const call = this.pending.get(message.id);
    if (call === undefined) return;
    switch (message.type) {
      case 'progress':
        guard(() => call.handlers.onProgress?.(message.progress));
        return;
      case 'token':
        guard(() => call.handlers.onToken?.(message.piece, message.tokenId, message.logprobs));
        return;
      case 'prompt':
        guard(() => call.handlers.onPrompt?.(message.read, message.total));
        return;
      case 'step':
        guard(() => call.handlers.onStep?.(message.step, message.total, message.preview));
        return;
      case 'result':
        this.settle(message.id, { value: message.value });
        return;
      case 'error':
        this.settle(message.id, JanusError.fromWire(message.error));
        return;
    }
  }
}

/** A throwing user callback must not break message routing: report it and go on. */
function guard(callback: () => void): void {
  try {
    callback();
  } catch (error) {
    console.error('janus: a progress/token/step callback threw', error);
  }
}
