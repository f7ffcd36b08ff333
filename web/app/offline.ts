// Offline use of the page: registers the service worker (web/app/sw.ts, built to /sw.js) that keeps
// the app shell, says whether the page can start with no network, and offers a new version when
// one has been installed.

/** What the page can tell the person about offline use. */
export type OfflineState =
  | { kind: 'ready' }
  | { kind: 'unavailable'; reason: string };

import { SKIP_WAITING } from './sw-messages.js';

/**
 * Register the service worker. `onUpdate(apply)` is called when a newer version of the page is
 * installed and waiting; `apply()` switches to it and reloads the page.
 */
export async function setupOffline(onUpdate: (apply: () => void) => void): Promise<OfflineState> {
  if (!('serviceWorker' in navigator)) {
    return { kind: 'unavailable', reason: window.isSecureContext ? 'this browser has no service workers' : 'the page is not served over HTTPS or from localhost' };
  }
  let registration: ServiceWorkerRegistration;
  try {
    registration = await navigator.serviceWorker.register('/sw.js', { scope: '/' });
  } catch (error) {
    return { kind: 'unavailable', reason: `the service worker could not be installed (${error instanceof Error ? error.message : String(error)})` };
  }
  const offer = (): void => {
    const waiting = registration.waiting;
    // Only an update: the first install has nothing to replace.
    if (waiting === null || navigator.serviceWorker.controller === null) return;
    onUpdate(() => {
      navigator.serviceWorker.addEventListener('controllerchange', () => location.reload(), { once: true });
      waiting.postMessage(SKIP_WAITING);
    });
  };
  offer();
  registration.addEventListener('updatefound', () => {
    const installing = registration.installing;
    installing?.addEventListener('statechange', () => {
      if (installing.state === 'installed') offer();
    });
  });
  await navigator.serviceWorker.ready;
  return { kind: 'ready' };
}
