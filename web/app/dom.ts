// The page's DOM helpers: the one lookup (an element index.html must have, typed), and a button.

export function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`index.html has no #${id}`);
  return element as T;
}

/** The number in input `id`, or `fallback` where it holds none (or not a number). */
export function numberIn(id: string, fallback: number): number {
  const input = byId<HTMLInputElement>(id);
  const n = Number(input.value);
  return input.value !== '' && Number.isFinite(n) ? n : fallback;
}

/**
 * `element` says `text`, with a Reload button after it where `reload` (a tab older than the
 * database that keeps things: reloading runs the newer page, which can open it).
 */
export function sayWithReload(element: HTMLElement, text: string, reload: boolean): void {
  if (!reload) return void (element.textContent = text);
  element.replaceChildren(`${text} `, button('Reload', () => location.reload(), { className: 'secondary', label: 'Reload this tab' }));
}

/** A `type=button` button saying `text` (named `label` for assistive technology, when given). */
export function button(text: string, onClick: () => void, options: { className?: string; label?: string } = {}): HTMLButtonElement {
  const element = document.createElement('button');
  element.type = 'button';
  element.textContent = text;
  if (options.className !== undefined) element.className = options.className;
  if (options.label !== undefined) element.setAttribute('aria-label', options.label);
  element.addEventListener('click', onClick);
  return element;
}
