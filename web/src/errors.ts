// Typed errors of the client, and their wire form between worker and page.
//
// The wasm engine rejects with a JS `Error` carrying a string `code` (ENGINE_CODES); the client
// adds its own codes (CLIENT_CODES). Errors cross the worker boundary as plain `{code, message}`
// objects (structured clone would drop the `code` of an Error) and become `JanusError` again.

/** Codes the wasm engine rejects with. */
export const ENGINE_CODES = [
  'no-webgpu', // no WebGPU adapter (browser without WebGPU, or it is disabled)
  'device', // the adapter refused a device or a limit
  'device-lost', // the GPU device was lost; restart() the client
  'out-of-memory', // GPU or wasm memory exhausted
  'network', // fetch failed (offline, CORS, connection reset)
  'http', // an HTTP status other than 200/206, or a server ignoring Range
  'not-found', // HTTP 404 for a model file
  'bad-checkpoint', // weights missing, misshapen, wrongly typed or corrupt
  'bad-config', // config.json unreadable or not a Janus model
  'bad-tokenizer', // tokenizer.json unreadable or missing special tokens
  'bad-image', // an image that cannot be decoded or is of an unsupported type
  'bad-prompt', // prompt longer than the context, or empty
  'bad-request', // an option out of range, or a call in the wrong state
  'too-large', // a tensor or batch beyond the device limits
  'not-loaded', // chat/generateImage before load
  'integrity', // downloaded or stored weights failed their hash check (never kept; fetched again)
  'storage', // IndexedDB failed (unavailable, disk error)
  'quota', // not enough storage for the model (estimate) or the disk/quota filled up while writing
  'bad-response', // the server sent something other than the file asked for (wrong range, web page, wrong size)
  'busy', // a second engine call while one runs (the worker queues, so the client never sees it)
  'internal', // a bug: anything else
] as const;

/** Codes only the client produces. */
export const CLIENT_CODES = [
  'aborted', // the caller's AbortSignal fired before the engine started the request, or stopped a load
  'worker-crashed', // the worker died (wasm trap, uncaught error); restart() the client
  'disposed', // the client was disposed
  'blocked', // the page's Content-Security-Policy forbids WebAssembly (no 'wasm-unsafe-eval' in script-src)
] as const;

export type EngineErrorCode = (typeof ENGINE_CODES)[number];
export type ClientErrorCode = (typeof CLIENT_CODES)[number];
export type JanusErrorCode = EngineErrorCode | ClientErrorCode;

/** An error as it crosses postMessage. `panic` is the last Rust panic message, when known. */
export interface WireError {
  code: JanusErrorCode;
  message: string;
  panic?: string;
}

const KNOWN_CODES: ReadonlySet<string> = new Set<string>([...ENGINE_CODES, ...CLIENT_CODES]);

export function isJanusErrorCode(value: unknown): value is JanusErrorCode {
  return typeof value === 'string' && KNOWN_CODES.has(value);
}

/** Every failure of the client API is a JanusError; switch on `code`, show `message`. */
export class JanusError extends Error {
  override readonly name = 'JanusError';
  readonly code: JanusErrorCode;
  /** The Rust panic message behind a 'worker-crashed' error, when there was one. */
  readonly panic: string | undefined;

  constructor(code: JanusErrorCode, message: string, options?: { cause?: unknown; panic?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.panic = options?.panic;
  }

  toWire(): WireError {
    const wire: WireError = { code: this.code, message: this.message };
    if (this.panic !== undefined) wire.panic = this.panic;
    return wire;
  }

  static fromWire(wire: WireError): JanusError {
    return new JanusError(wire.code, wire.message, wire.panic === undefined ? undefined : { panic: wire.panic });
  }
}

/** True for a WebAssembly trap: the instance that threw it must not be used again. */
export function isWasmTrap(error: unknown): boolean {
  return typeof WebAssembly !== 'undefined' && error instanceof WebAssembly.RuntimeError;
}

/**
 * Turns anything thrown (an engine Error with `code`, a JanusError, a DOMException, a string...)
 * into a WireError. An unknown `code` from the engine is kept in the message under 'internal'.
 */
export function toWireError(error: unknown): WireError {
  if (error instanceof JanusError) return error.toWire();
  if (isWasmTrap(error)) {
    return { code: 'worker-crashed', message: `WebAssembly trap: ${messageOf(error)}` };
  }
  if (error instanceof DOMException && error.name === 'AbortError') {
    return { code: 'aborted', message: error.message || 'aborted' };
  }
  const code: unknown = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  if (isJanusErrorCode(code)) return { code, message: messageOf(error) };
  if (typeof code === 'string') return { code: 'internal', message: `[${code}] ${messageOf(error)}` };
  return { code: 'internal', message: messageOf(error) };
}

/** Same as toWireError, as a JanusError (keeps the original as `cause`). */
export function toJanusError(error: unknown): JanusError {
  if (error instanceof JanusError) return error;
  const wire = toWireError(error);
  return new JanusError(wire.code, wire.message, { cause: error });
}

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  if (typeof error === 'object' && error !== null) {
    const message: unknown = (error as { message?: unknown }).message;
    if (typeof message === 'string') return message;
  }
  return String(error);
}
