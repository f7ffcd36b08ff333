// Light and dark: the system's choice unless the person picks one (kept in localStorage).

const KEY = 'janus-theme';

export function setupTheme(button: HTMLElement): void {
  const apply = (theme: string | null): void => {
    if (theme === 'light' || theme === 'dark') document.documentElement.dataset.theme = theme;
    else delete document.documentElement.dataset.theme;
    const dark = theme === 'dark' || (theme === null && matchMedia('(prefers-color-scheme: dark)').matches);
    button.setAttribute('aria-pressed', String(dark));
    button.textContent = dark ? 'Light theme' : 'Dark theme';
  };
  let saved: string | null = null;
  try {
    saved = localStorage.getItem(KEY);
  } catch {
    saved = null; // storage blocked: follow the system
  }
  apply(saved);
  button.addEventListener('click', () => {
    const dark = button.getAttribute('aria-pressed') === 'true';
    const next = dark ? 'light' : 'dark';
    try {
      localStorage.setItem(KEY, next);
    } catch {
      // not kept across visits; still applied now
    }
    apply(next);
  });
}
