// Messages between the page (web/app/offline.ts) and its service worker (web/app/sw.ts).

/** Page -> waiting service worker: take over now (the page reloads when it has). */
export const SKIP_WAITING = 'janus-skip-waiting';
