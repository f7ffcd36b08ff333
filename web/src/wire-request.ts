// The engine worker's decoder for what it receives: `event.data` -> a checked protocol Request.
//
// The worker reads its requests' fields directly (source.baseUrl, request.messages, images...), so
// a malformed message would make it throw an untyped TypeError somewhere in a handler. Every
// message passes through decodeRequest first: what does not have the shape of a Request
// (protocol.ts) is refused with a 'bad-request' WireError naming the field at fault, e.g.
// "load: source.baseUrl must be an absolute URL ending in '/'".
//
// Shapes and types only. Value ranges (temperature >= 0, dtype 'auto' | 'f16' | 'f32', roles,
// chunkBytes <= 64 MiB...) are checked where they are used, by the engine in Rust and by the
// downloader, which answer with 'bad-request' themselves; repeating them here would give two
// places to keep in step.
//
// Every object must have exactly the fields of its type: an unknown field is refused, as the
// engine's serde structs do (deny_unknown_fields), so that a misspelt option fails loudly instead
// of being ignored. Optional fields may be absent or undefined (structured clone keeps undefined
// fields; serde and the worker read them as absent).
//
// decodeRequest never throws. In the worker `event.data` is a structured clone (plain data: no
// getters, no proxies, no cycles through the fields checked here), so an accepted message is
// returned as it is, not copied. Called with anything else (tests), whatever throws while being
// read (a getter, a proxy trap) is a refusal too.

import type { WireError } from './errors.js';
import type { Request, RequestType } from './protocol.js';

export type DecodedRequest =
  | { ok: true; request: Request }
  /** `id`: the request to answer with `error`, or null when there is none to answer. */
  | { ok: false; id: number | null; error: WireError };

/** Thrown by the checks below, caught in decodeRequest: `message` names the field. */
class Refused extends Error {
  constructor(message: string) {
    super(message);
    REFUSALS.add(this);
  }
}
/**
 * The Refused errors, told apart from whatever a getter threw without touching the latter:
 * `instanceof` would ask a thrown proxy for its prototype, which can throw again.
 */
const REFUSALS = new WeakSet<object>();

/** Checks the value found at `path` (e.g. 'request.messages[0].content'); throws Refused if it does not fit. */
type Check = (value: unknown, path: string) => void;
type Fields = Readonly<Record<string, Check>>;

export function decodeRequest(data: unknown): DecodedRequest {
  let id: number | null = null;
  let where: RequestType | null = null;
  try {
    if (!isRecord(data)) throw new Refused('message must be a plain object');
    const rawId = field(data, 'id');
    if (isId(rawId)) id = rawId;
    const type = field(data, 'type');
    if (typeof type !== 'string' || !Object.hasOwn(MESSAGES, type)) {
      throw new Refused(`type must be one of ${Object.keys(MESSAGES).join(', ')}`);
    }
    where = type as RequestType;
    // A cancel's id is the request it cancels, which gets its own answer: a malformed cancel has
    // nobody to answer (an 'error' would end that request on the page while it still runs).
    if (where === 'cancel') id = null;
    if (!isId(rawId)) throw new Refused('id must be a non-negative safe integer');
    MESSAGES[where](data, '');
    return { ok: true, request: data as unknown as Request };
  } catch (error) {
    const reason = REFUSALS.has(error as object)
      ? (error as Refused).message
      : 'the message could not be read (a field threw while being checked)';
    return { ok: false, id, error: { code: 'bad-request', message: where === null ? reason : `${where}: ${reason}` } };
  }
}

// --- checks -------------------------------------------------------------------------------------

function need(ok: boolean, path: string, what: string): void {
  if (!ok) throw new Refused(`${path} must be ${what}`);
}

const string: Check = (v, path) => need(typeof v === 'string', path, 'a string');
const boolean: Check = (v, path) => need(typeof v === 'boolean', path, 'a boolean');
const booleanOrAuto: Check = (v, path) => need(typeof v === 'boolean' || v === 'auto', path, "a boolean or 'auto'");
/** Any number: NaN, infinities and ranges are the engine's to refuse, with its own message. */
const number: Check = (v, path) => need(typeof v === 'number', path, 'a number');
/** Sizes and durations the worker uses itself: 0, negative or NaN would mean nothing. */
const positive: Check = (v, path) => need(typeof v === 'number' && Number.isFinite(v) && v > 0, path, 'a finite number > 0');
const nonNegative: Check = (v, path) => need(typeof v === 'number' && Number.isFinite(v) && v >= 0, path, 'a finite number >= 0');
/** A count the decoder adds up (the images of a message). */
const count: Check = (v, path) => need(Number.isSafeInteger(v) && (v as number) >= 0, path, 'a non-negative whole number');
/** The client always sends absolute URLs (it resolves them against the page, not the worker). */
const absoluteUrl: Check = (v, path) => need(typeof v === 'string' && isAbsoluteUrl(v), path, 'an absolute URL');
/** A model's base URL is the cache key and file names are appended to it. */
const baseUrl: Check = (v, path) =>
  need(typeof v === 'string' && v.endsWith('/') && isAbsoluteUrl(v), path, "an absolute URL ending in '/'");

function nullable(check: Check): Check {
  return (v, path) => {
    if (v !== null) check(v, path);
  };
}

function arrayOf(check: Check): Check {
  return (v, path) => {
    need(Array.isArray(v), path, 'an array');
    const items = v as readonly unknown[];
    // Every item check refuses undefined, so a huge sparse array stops at its first hole.
    for (let i = 0; i < items.length; i += 1) check(items[i], `${path}[${i}]`);
  };
}

/** An object with the `required` fields, maybe the `optional` ones, and no others. */
function shape(required: Fields, optional: Fields = {}): Check {
  return (v, path) => {
    need(isRecord(v), path || 'message', 'a plain object');
    const record = v as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (!Object.hasOwn(required, key) && !Object.hasOwn(optional, key)) throw new Refused(`${join(path, key)} is not a known field`);
    }
    for (const [key, check] of Object.entries(required)) check(field(record, key), join(path, key));
    for (const [key, check] of Object.entries(optional)) {
      const value = field(record, key);
      if (value !== undefined) check(value, join(path, key));
    }
  };
}

/** Each check in turn (a shape, then a rule across its fields). */
function all(...checks: Check[]): Check {
  return (v, path) => {
    for (const check of checks) check(v, path);
  };
}

// --- the protocol -------------------------------------------------------------------------------

/** RetryPolicy (store/http.ts). */
const retry = shape({ attempts: positive, baseMs: nonNegative, maxMs: nonNegative });

/** RegistryModel (store/registry.ts): the registry's record, sent back with the source. */
const registryModel = shape(
  {
    id: string,
    name: string,
    repo: string,
    revision: string,
    description: string,
    files: arrayOf(string),
    downloadBytes: number,
    parameters: number,
    gpuBytes: shape({ f16: number, f32: number }),
  },
  { preset: string, default: boolean, q4: shape({ gpuBytes: shape({ f16: number, f32: number }), storedBytes: number }) },
);

/** ModelSource (store/registry.ts). */
const modelSource = shape({ baseUrl, name: string, entry: nullable(registryModel), treeUrl: nullable(string) });

/** WireLoadOptions (protocol.ts). */
const loadOptions = shape(
  { cache: boolean },
  { chunkBytes: positive, retry, idleTimeoutMs: positive, skipSpaceCheck: boolean, keepSource: boolean, shardByShard: booleanOrAuto },
);

/** EngineOptions (types.ts). */
const engineOptions = shape({}, { maxBindingBytes: number, dtype: string, quant: string, conversationCacheBytes: number });

/** EngineChatRequest (types.ts): SamplingOptions plus the messages. */
const chatRequest = shape(
  { messages: arrayOf(shape({ role: string, content: string }, { images: count })) },
  {
    system: string,
    maxNewTokens: number,
    temperature: number,
    topP: number,
    topK: number,
    seed: number,
    stop: arrayOf(string),
    reuse: boolean,
    logprobs: boolean,
    topLogprobs: number,
    json: boolean,
  },
);

/** EngineImageRequest (types.ts). */
const imageRequest = shape(
  { prompt: string },
  { count: number, cfgWeight: number, temperature: number, topP: number, topK: number, seed: number, previewEvery: number },
);

/** RGBA pixels as a plain object: what an ImageData is where the constructor does not exist. */
const rgbaObject = shape({ width: number, height: number, data: (v, path) => need(v instanceof Uint8ClampedArray, path, 'a Uint8ClampedArray') });

/** ChatImage (protocol.ts): a Blob, ImageBitmap or ImageData, or its plain-object form. */
const chatImage: Check = (v, path) => {
  if (isRecord(v)) rgbaObject(v, path);
  else need(isPlatformImage(v), path, 'a Blob, ImageBitmap, ImageData or {width, height, data}');
};

/** The worker splits `images` among the messages by their counts, which must therefore add up. */
const imagesAddUp: Check = (v, path) => {
  const { request, images } = v as { request: { messages: { images?: number }[] }; images: unknown[] };
  const announced = request.messages.reduce((sum, message) => sum + (message.images ?? 0), 0);
  if (announced !== images.length) {
    throw new Refused(`${join(path, 'images')} holds ${images.length} images but request.messages announce ${announced}`);
  }
};

/** Each message's shape; `type` and `id` were checked already (decodeRequest). */
const envelope = { type: string, id: number };
const MESSAGES: Readonly<Record<RequestType, Check>> = {
  init: shape(envelope, { options: engineOptions, wasmUrl: absoluteUrl }),
  load: shape({ ...envelope, source: modelSource, options: loadOptions }),
  chat: all(shape({ ...envelope, request: chatRequest, images: arrayOf(chatImage) }), imagesAddUp),
  generateImage: shape({ ...envelope, request: imageRequest }),
  unload: shape(envelope),
  cancel: shape(envelope),
  trap: shape(envelope),
  loseDevice: shape(envelope),
  gpuRefusal: shape(envelope),
  squeezeMemory: shape({ ...envelope, leaveBytes: positive }),
};

// --- helpers ------------------------------------------------------------------------------------

/**
 * A plain object: what structured clone makes of an object literal. Class instances, arrays and
 * functions are not (a null-prototype object is, as `Object.create(null)` holds data the same way).
 */
function isRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** An own field only: nothing inherited (Object.prototype's `constructor`, `toString`...) counts. */
function field(record: Record<string, unknown>, name: string): unknown {
  return Object.hasOwn(record, name) ? record[name] : undefined;
}

function isId(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function isAbsoluteUrl(text: string): boolean {
  try {
    new URL(text); // without a base: relative URLs throw
    return true;
  } catch {
    return false;
  }
}

/** The image types the worker converts (images.ts); each checked only where the platform has it. */
function isPlatformImage(value: unknown): boolean {
  return (
    (typeof Blob !== 'undefined' && value instanceof Blob) ||
    (typeof ImageBitmap !== 'undefined' && value instanceof ImageBitmap) ||
    (typeof ImageData !== 'undefined' && value instanceof ImageData)
  );
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}
