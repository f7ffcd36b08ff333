// Whether the person keeps something on this device (conversations, images): a choice in
// localStorage, on unless they said otherwise. Where there is no localStorage (a sandboxed
// frame) the choice lasts for this page only.

/** The choice under `key`: true unless 'false' was stored. */
export function readKeepChoice(key: string): boolean {
  try {
    return localStorage.getItem(key) !== 'false';
  } catch {
    return true;
  }
}

export function writeKeepChoice(key: string, keep: boolean): void {
  try {
    localStorage.setItem(key, String(keep));
  } catch {
    // No localStorage: the checkbox holds the choice until the page goes.
  }
}
