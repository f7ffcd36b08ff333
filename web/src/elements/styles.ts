// The elements' look, as constructable stylesheets (adoptedStyleSheets): no <style> element and
// no inline style, so a host page's strict style-src CSP applies nothing to them. Themed by CSS
// custom properties set on the element or any ancestor; every region is a ::part().
//
//   --janus-font, --janus-fg, --janus-bg, --janus-muted, --janus-accent, --janus-accent-fg,
//   --janus-surface (message and card backgrounds), --janus-radius, --janus-gap

const BASE = `
:host {
  display: block;
  font: var(--janus-font, inherit);
  color: var(--janus-fg, inherit);
  background: var(--janus-bg, transparent);
  --_accent: var(--janus-accent, #0b57d0);
  --_accent-fg: var(--janus-accent-fg, #ffffff);
  --_muted: var(--janus-muted, #555);
  --_surface: var(--janus-surface, rgba(127, 127, 127, 0.12));
  --_radius: var(--janus-radius, 0.5rem);
  --_gap: var(--janus-gap, 0.5rem);
}
:host([hidden]) { display: none; }
* { box-sizing: border-box; }
form { display: flex; flex-wrap: wrap; gap: var(--_gap); align-items: flex-end; margin: 0; }
textarea {
  flex: 1 1 16rem; min-height: 3rem; font: inherit; color: inherit; background: transparent;
  border: 1px solid var(--_muted); border-radius: var(--_radius); padding: 0.5rem; resize: vertical;
}
button, .attach {
  font: inherit; min-height: 2.5rem; padding: 0.4rem 0.9rem; border-radius: var(--_radius);
  border: 1px solid var(--_accent); background: var(--_accent); color: var(--_accent-fg); cursor: pointer;
}
button.secondary, .attach { background: transparent; color: inherit; border-color: var(--_muted); }
button:disabled { opacity: 0.5; cursor: not-allowed; }
:focus-visible, .attach:focus-within { outline: 3px solid var(--janus-focus, #e8710a); outline-offset: 2px; }
.attach { display: inline-flex; align-items: center; position: relative; }
.attach input { position: absolute; width: 1px; height: 1px; opacity: 0; }
progress { width: 100%; }
[part~='status'] { color: var(--_muted); margin: var(--_gap) 0 0; min-height: 1.5em; }
[part~='status'][data-error] { color: var(--janus-error, #b3261e); }
[hidden] { display: none !important; }
`;

const CHAT = `
[part~='log'] { list-style: none; margin: 0 0 var(--_gap); padding: 0; display: flex; flex-direction: column; gap: var(--_gap); max-height: var(--janus-log-height, 28rem); overflow-y: auto; }
[part~='message'] { padding: 0.5rem 0.75rem; border-radius: var(--_radius); overflow-wrap: anywhere; }
[part~='user'] { background: var(--_surface); align-self: flex-end; max-width: 85%; white-space: pre-wrap; }
[part~='assistant'] { align-self: flex-start; max-width: 100%; }
[part~='assistant'] pre { overflow-x: auto; background: var(--_surface); padding: 0.5rem; border-radius: var(--_radius); }
[part~='message'] img { max-width: 8rem; max-height: 8rem; border-radius: calc(var(--_radius) / 2); display: block; margin-bottom: 0.25rem; }
[part~='attachments'] { display: flex; gap: 0.25rem; flex-basis: 100%; }
[part~='attachments']:empty { display: none; }
[part~='attachments'] img { width: 3rem; height: 3rem; object-fit: cover; border-radius: calc(var(--_radius) / 2); }
[part~='message'] img[part~='drawing'], [part~='message'] .preview canvas { width: min(100%, var(--janus-image-size, 16rem)); max-width: none; max-height: none; height: auto; }
[part~='message'] .preview canvas { display: block; border-radius: var(--_radius); background: var(--_surface); }
[part~='message'] [part~='copy'], [part~='message'] [part~='download'] { min-height: 2rem; padding: 0.15rem 0.6rem; font-size: 0.85em; margin-top: 0.25rem; display: block; }
`;

const IMAGE = `
[part~='preview'], [part~='gallery'] { display: grid; grid-template-columns: repeat(auto-fill, minmax(var(--janus-image-size, 12rem), 1fr)); gap: var(--_gap); margin-top: var(--_gap); }
[part~='preview']:empty, [part~='gallery']:empty { display: none; }
canvas { width: 100%; height: auto; border-radius: var(--_radius); background: var(--_surface); display: block; }
[part~='result'] { margin: 0; display: flex; flex-direction: column; gap: 0.25rem; }
[part~='result'] figcaption { font-size: 0.85em; color: var(--_muted); }
`;

function sheet(css: string): CSSStyleSheet {
  const s = new CSSStyleSheet();
  s.replaceSync(css);
  return s;
}

let sheets: { base: CSSStyleSheet; chat: CSSStyleSheet; image: CSSStyleSheet } | null = null;

/** The stylesheets, built once per page on first use (not at import: no DOM in Node or workers). */
export function styles(): { base: CSSStyleSheet; chat: CSSStyleSheet; image: CSSStyleSheet } {
  sheets ??= { base: sheet(BASE), chat: sheet(CHAT), image: sheet(IMAGE) };
  return sheets;
}
