// The custom elements: `import 'janus-web/elements'` defines <janus-chat> and <janus-image>.
// Several on one page share one engine per model (engines.ts).

import { JanusChatElement } from './chat-element.js';
import { JanusImageElement } from './image-element.js';

export { JanusChatElement, type ChatMessageEventDetail } from './chat-element.js';
export { JanusImageElement, type ImageEventDetail } from './image-element.js';
export { JanusElement } from './base.js';
export { engineFor, SharedEngine, type EngineEvents } from './engines.js';

/** Define the elements under their names (idempotent; also done on import). */
export function defineJanusElements(): void {
  if (typeof customElements === 'undefined') return;
  if (customElements.get('janus-chat') === undefined) customElements.define('janus-chat', JanusChatElement);
  if (customElements.get('janus-image') === undefined) customElements.define('janus-image', JanusImageElement);
}

defineJanusElements();

declare global {
  interface HTMLElementTagNameMap {
    'janus-chat': JanusChatElement;
    'janus-image': JanusImageElement;
  }
}
