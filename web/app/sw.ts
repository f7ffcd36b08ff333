// The page's service worker: the app shell (index.html, the stylesheet, the page and worker
// bundles, the wasm) kept in the Cache API, so that the page starts with no network after the first
// visit. The weights live in IndexedDB (web/src/store), not here.
//
// Cache-first for exactly the shell's URLs, in a cache named after the shell's version (the
// SHA-256 of its files, written in by scripts/bundle.mjs); every other request goes to the network
// untouched. A new build is a new sw.js: the browser installs it beside the running one, and it
// takes over when every tab of the old one has closed, or when the page asks (web/app/offline.ts).

import { SKIP_WAITING } from './sw-messages.js';

declare const __SHELL__: { version: string; files: string[] };

// The service-worker globals this file uses (the project's one DOM-lib program has no
// ServiceWorkerGlobalScope).
interface ExtendableEvent extends Event {
  waitUntil(promise: Promise<unknown>): void;
}
interface FetchEvent extends ExtendableEvent {
  readonly request: Request;
  respondWith(response: Promise<Response>): void;
}
interface ExtendableMessageEvent extends ExtendableEvent {
  readonly data: unknown;
}
interface ServiceWorkerScope {
  readonly location: { readonly href: string };
  readonly clients: { claim(): Promise<void> };
  skipWaiting(): Promise<void>;
  addEventListener(type: 'install' | 'activate', listener: (event: ExtendableEvent) => void): void;
  addEventListener(type: 'fetch', listener: (event: FetchEvent) => void): void;
  addEventListener(type: 'message', listener: (event: ExtendableMessageEvent) => void): void;
}

const scope = self as unknown as ServiceWorkerScope;
const PREFIX = 'janus-shell-';
const CACHE = `${PREFIX}${__SHELL__.version}`;
/** Absolute URLs of the shell; the first ('./') is the page itself. */
const SHELL = __SHELL__.files.map((file) => new URL(file, scope.location.href).href);
const INDEX = SHELL[0] ?? '';

scope.addEventListener('install', (event) => {
  // All of this version's shell or nothing: a failed fetch fails the install and the running
  // version stays. `cache: 'reload'` skips the HTTP cache, which may hold older bytes.
  event.waitUntil(
    caches.open(CACHE).then((cache) => cache.addAll(SHELL.map((url) => new Request(url, { cache: 'reload' })))),
  );
});

scope.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith(PREFIX) && name !== CACHE) await caches.delete(name);
      }
      // The first visit's page is served by the network; from now on its requests (a restarted
      // engine worker fetching the wasm) come from this version's shell too.
      await scope.clients.claim();
    })(),
  );
});

scope.addEventListener('message', (event) => {
  if (event.data === SKIP_WAITING) event.waitUntil(scope.skipWaiting());
});

scope.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  // A visit to the page with any query (?debug) or hash is the page.
  const key = request.mode === 'navigate' && (url.origin + url.pathname === INDEX || url.origin + url.pathname === `${INDEX}index.html`) ? INDEX : request.url;
  if (!SHELL.includes(key)) return;
  event.respondWith(fromShell(key, request));
});

async function fromShell(key: string, request: Request): Promise<Response> {
  const hit = await (await caches.open(CACHE)).match(key);
  // Missing (storage cleared under us): the network, as if there were no service worker.
  return hit ?? fetch(request);
}
