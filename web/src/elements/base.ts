// What <janus-chat> and <janus-image> share: the model attributes, the shared engine, the load's
// progress and errors shown in the element and sent as DOM events.
//
// Attributes: `model` (a registry id such as janus-1.3b, or owner/repo) or `model-url` (a base
// URL in Hugging Face layout, relative to the page); `cache="false"` streams the weights instead
// of storing them in IndexedDB. Events, on the element itself (not bubbling; `detail` as below):
//   progress  DownloadProgress | LoadProgress     while the model downloads and loads
//   ready     LoadResult                          the model is loaded (also when already loaded)
//   error     JanusError                          anything that failed, with its `code`

import type { JanusClient } from '../client.js';
import { JanusError, toJanusError } from '../errors.js';
import { humanError } from '../messages.js';
import type { LoadResult } from '../protocol.js';
import type { DownloadProgress } from '../store/model-cache.js';
import { formatBytes } from '../store/model-cache.js';
import type { LoadProgress, Quant } from '../types.js';
import { engineFor, type SharedEngine } from './engines.js';
import { styles } from './styles.js';

/** The registry's default when neither `model` nor `model-url` is set. */
const DEFAULT_MODEL = 'janus-1.3b';

export abstract class JanusElement extends HTMLElement {
  static readonly modelAttributes = ['model', 'model-url', 'cache', 'quant'];
  static get observedAttributes(): string[] {
    return JanusElement.modelAttributes;
  }

  protected readonly root: ShadowRoot;
  protected status!: HTMLElement;
  protected progress!: HTMLProgressElement;
  private engine: SharedEngine | null = null;
  private connected = false;
  /** A load in progress: the download not finished, the engine reading weights. */
  private downloading = false;
  private loading = false;
  private readonly listeners: [string, EventListener][] = [
    ['progress', (event) => this.onProgress((event as CustomEvent<LoadProgress | DownloadProgress>).detail)],
    ['ready', (event) => this.onReady((event as CustomEvent<LoadResult>).detail)],
    ['error', (event) => this.fail((event as CustomEvent<JanusError>).detail)],
    ['crash', (event) => {
      this.setBusy(true);
      this.fail((event as CustomEvent<JanusError>).detail);
    }],
  ];

  constructor() {
    super();
    this.root = this.attachShadow({ mode: 'open' });
  }

  /** The element's own stylesheet and markup (built once, in the first connect). */
  protected abstract build(): void;
  protected abstract stylesheet(): CSSStyleSheet;
  /** The engine became (un)usable: enable or disable the element's actions. */
  protected abstract setBusy(busy: boolean): void;

  connectedCallback(): void {
    if (this.root.childElementCount === 0) {
      this.root.adoptedStyleSheets = [styles().base, this.stylesheet()];
      this.build();
      this.status = this.make('p', 'status');
      this.status.setAttribute('role', 'status');
      this.progress = this.make('progress', 'progress');
      this.progress.hidden = true;
      this.progress.setAttribute('aria-label', 'Model download');
      this.root.append(this.progress, this.status);
    }
    this.connected = true;
    this.connectEngine();
  }

  disconnectedCallback(): void {
    this.connected = false;
    this.disconnectEngine();
  }

  attributeChangedCallback(name: string, old: string | null, value: string | null): void {
    // Before the first connect (the parser sets attributes first) there is nothing to switch.
    if (old === value || !this.connected || !JanusElement.modelAttributes.includes(name)) return;
    this.disconnectEngine();
    this.connectEngine();
  }

  /** The model source the attributes name. */
  get modelSource(): string {
    return this.getAttribute('model-url') ?? this.getAttribute('model') ?? DEFAULT_MODEL;
  }

  /**
   * The weights on the GPU (`quant="q4" | "q8" | "none"`): 4 bits unless the attribute says
   * otherwise, as the page loads them (a quarter of the GPU memory and of the stored bytes).
   */
  get quant(): Quant {
    const value = this.getAttribute('quant');
    if (value === null || value === 'q4') return 'q4';
    if (value === 'q8' || value === 'none') return value;
    throw new JanusError('bad-request', `quant="${value}": use q4, q8 or none`);
  }

  /** The loaded client (starting the engine and loading the model first when needed). */
  protected async client(): Promise<JanusClient> {
    if (this.engine === null) throw new JanusError('not-loaded', 'the element is not on the page');
    return this.engine.ready();
  }

  /** A number attribute, or undefined when absent or not a number. */
  protected numberAttribute(name: string): number | undefined {
    const text = this.getAttribute(name);
    if (text === null || text.trim() === '') return undefined;
    const value = Number(text);
    return Number.isFinite(value) ? value : undefined;
  }

  /**
   * The number attributes present, under the option names they stand for:
   * `{ cfgWeight: 'cfg-weight' }` with `cfg-weight="5"` gives `{ cfgWeight: 5 }`.
   */
  protected numberOptions<K extends string>(names: Record<K, string>): Partial<Record<K, number>> {
    const options: Partial<Record<K, number>> = {};
    for (const [key, attribute] of Object.entries(names) as [K, string][]) {
      const value = this.numberAttribute(attribute);
      if (value !== undefined) options[key] = value;
    }
    return options;
  }

  /** An element of the shadow tree with `part` names. */
  protected make<K extends keyof HTMLElementTagNameMap>(tag: K, part: string): HTMLElementTagNameMap[K] {
    const element = document.createElement(tag);
    element.setAttribute('part', part);
    return element;
  }

  /** A button of the shadow tree: `submit` submits its form, `secondary` is the quiet style. */
  protected button(part: string, text: string, { submit = false, secondary = false, hidden = false } = {}): HTMLButtonElement {
    const button = this.make('button', part);
    button.type = submit ? 'submit' : 'button';
    if (secondary) button.className = 'secondary';
    button.textContent = text;
    button.hidden = hidden;
    return button;
  }

  protected say(text: string): void {
    this.status.textContent = text;
    delete this.status.dataset.error;
  }

  /** Shows the error as a sentence and sends it as an 'error' event. */
  protected fail(error: unknown): void {
    this.downloading = false;
    this.loading = false;
    const janus = toJanusError(error);
    const { title, action } = humanError(janus.code);
    this.status.textContent = `${title} ${action}`;
    this.status.dataset.error = janus.code;
    this.progress.hidden = true;
    this.emit('error', janus);
  }

  /**
   * Events stay on the element (no bubbling): a bubbling 'message' or 'error' would reach the
   * window's listeners, which expect a postMessage MessageEvent or a script ErrorEvent.
   */
  protected emit(type: string, detail: unknown): void {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  private connectEngine(): void {
    try {
      this.engine = engineFor(this.modelSource, this.getAttribute('cache') !== 'false', this.quant);
    } catch (error) {
      this.fail(error);
      return;
    }
    this.engine.hold();
    for (const [type, listener] of this.listeners) this.engine.addEventListener(type, listener);
    if (this.engine.result !== null) {
      this.onReady(this.engine.result);
      return;
    }
    this.setBusy(true);
    this.say('Loading the model…');
    // A failure arrives as the engine's 'error' event, to every element using it.
    this.engine.ready().catch(() => undefined);
  }

  private disconnectEngine(): void {
    if (this.engine === null) return;
    for (const [type, listener] of this.listeners) this.engine.removeEventListener(type, listener);
    this.engine.release();
    this.engine = null;
  }

  private onProgress(progress: LoadProgress | DownloadProgress): void {
    this.progress.hidden = false;
    // A first load reads the shards while they download: both kinds of event come at once.
    if (progress.phase === 'download') {
      this.downloading = progress.waiting !== true && progress.bytes < progress.total;
      if (this.loading) return;
      this.progress.max = Math.max(1, progress.total);
      this.progress.value = progress.bytes;
      this.say(progress.waiting === true ? 'Waiting for another tab’s download…' : `Downloading the model: ${formatBytes(progress.bytes)} of ${formatBytes(progress.total)}`);
    } else {
      this.loading = progress.phase === 'weights';
      this.progress.max = Math.max(1, progress.bytesTotal);
      this.progress.value = progress.bytesDone;
      this.say(this.downloading ? 'Downloading the model and loading it onto the GPU…' : 'Loading the model onto the GPU…');
    }
    this.emit('progress', progress);
  }

  private onReady(result: LoadResult): void {
    this.downloading = false;
    this.loading = false;
    this.progress.hidden = true;
    this.setBusy(false);
    this.say('Ready.');
    this.emit('ready', result);
  }
}
