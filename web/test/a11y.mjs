// Accessibility checks run inside a page (web/test/page-e2e.mjs): every visible control has an
// accessible name, every visible text meets WCAG AA contrast against what is behind it, pictures
// have text alternatives, and the keyboard reaches the controls with a visible focus ring.

/**
 * Audit the visible page. Returns lists of offenders (empty when all is well) and how many
 * elements were checked.
 */
export function audit(page) {
  return page.evaluate(() => {
    const visible = (e) => e.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true });
    const describe = (e) => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}${e.className && typeof e.className === 'string' ? `.${e.className.split(' ')[0]}` : ''} "${(e.textContent ?? '').trim().slice(0, 30)}"`;

    // Accessible names (the parts of the accname algorithm this page uses).
    const nameOf = (e) => {
      const label = e.getAttribute('aria-label');
      if (label?.trim()) return label.trim();
      const by = e.getAttribute('aria-labelledby');
      if (by) return by.split(/\s+/).map((id) => document.getElementById(id)?.textContent ?? '').join(' ').trim();
      const labels = e.labels ? [...e.labels].map((l) => l.textContent ?? '').join(' ').trim() : '';
      if (labels) return labels;
      if (e instanceof HTMLInputElement || e instanceof HTMLTextAreaElement) return (e.title || '').trim();
      return (e.textContent ?? '').trim() || (e.title || '').trim();
    };
    const controls = [...document.querySelectorAll('button, input:not([type=hidden]), textarea, select, summary, a[href], [role=button], progress')].filter(
      (e) => visible(e) || (e instanceof HTMLInputElement && e.type === 'file' && e.labels?.length && visible(e.labels[0])),
    );
    const unnamed = controls.filter((e) => nameOf(e) === '').map(describe);
    const pictures = [...document.querySelectorAll('img, canvas, svg, [role=img]')].filter(visible);
    const noAlt = pictures.filter((e) => e.getAttribute('aria-hidden') !== 'true' && !(e.getAttribute('alt') ?? e.getAttribute('aria-label') ?? e.closest('[role=img][aria-label]')?.getAttribute('aria-label'))).map(describe);

    // Contrast: text colour against the first opaque background behind it.
    const parse = (c) => {
      const m = c.match(/rgba?\(([^)]+)\)/);
      if (!m) return null;
      const [r, g, b, a = 1] = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
      return { r, g, b, a };
    };
    const background = (e) => {
      for (let n = e; n; n = n.parentElement) {
        const c = parse(getComputedStyle(n).backgroundColor);
        if (c && c.a > 0.5) return c;
      }
      return parse(getComputedStyle(document.documentElement).backgroundColor) ?? { r: 255, g: 255, b: 255, a: 1 };
    };
    const luminance = ({ r, g, b }) => {
      const f = (v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const ratio = (a, b) => {
      const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
      return (hi + 0.05) / (lo + 0.05);
    };
    const texts = [...document.querySelectorAll('body *')].filter(
      (e) => visible(e) && [...e.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim() !== '') && !e.closest(':disabled, [aria-disabled=true]'),
    );
    const lowContrast = [];
    for (const e of texts) {
      const style = getComputedStyle(e);
      const fg = parse(style.color);
      if (!fg) continue;
      const size = parseFloat(style.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
      const r = ratio(fg, background(e));
      if (r < (large ? 3 : 4.5)) lowContrast.push(`${describe(e)}: ${r.toFixed(2)}`);
    }
    return { controls: controls.length, texts: texts.length, pictures: pictures.length, unnamed, noAlt, lowContrast };
  });
}

/**
 * Press Tab `presses` times from the top of the page; returns what got focus each time (an id or
 * a description) and the focused elements that showed no focus ring.
 */
export async function tabThrough(page, presses) {
  // Focus the body itself: the next Tab starts from the top of the page.
  await page.evaluate(() => {
    document.activeElement?.blur();
    document.body.tabIndex = -1;
    document.body.focus();
    document.body.removeAttribute('tabindex');
  });
  const reached = [];
  const noRing = [];
  for (let i = 0; i < presses; i += 1) {
    await page.keyboard.press('Tab');
    const focus = await page.evaluate(() => {
      const e = document.activeElement;
      if (!e || e === document.body) return null;
      const style = getComputedStyle(e);
      const ring = (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0) || style.boxShadow !== 'none';
      // A file input shows its ring on the label around it.
      const labelRing = e.closest('label') ? getComputedStyle(e.closest('label')).outlineStyle !== 'none' : false;
      return { id: e.id || `${e.tagName.toLowerCase()} "${(e.textContent ?? '').trim().slice(0, 40)}"`, ring: ring || labelRing };
    });
    if (focus === null) continue;
    reached.push(focus.id);
    if (!focus.ring) noRing.push(focus.id);
  }
  return { reached, noRing };
}
