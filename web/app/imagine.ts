// Text to image: prompt, how many, guidance, temperature and seed; a progress bar per image token;
// a gallery of results with PNG download, "reuse settings" and delete; cancel. The gallery is
// kept on this device (kept-images.ts) unless the person says not to; other tabs are told when
// it changes.

import type { JanusClient } from '../src/index.js';
import { encodePng, saveBlob } from '../src/canvas.js';
import { button, byId, numberIn, sayWithReload } from './dom.js';
import { formatBytes } from './format.js';
import { readKeepChoice, writeKeepChoice } from './keep-choice.js';
import { newKeptId, newerPage } from './kept-db.js';
import { galleryOrder, KeptImages, type KeptImage } from './kept-images.js';
import { showPreview } from '../src/preview.js';
import { drawingLine } from '../src/drawing.js';

export interface ImagineHooks {
  onError(error: unknown): void;
  /** "Ask about it": the picture goes to the conversation, attached to the next question. */
  onAsk(picture: File): void;
}

const $ = byId;
/** localStorage: 'false' when the person chose not to keep images on this device. */
const KEEP_KEY = 'janus-keep-images';

export class ImagineView {
  private stop: AbortController | null = null;
  private readonly kept = new KeptImages();
  /** The gallery's images, in its order. */
  private images: KeptImage[] = [];
  /**
   * Images shown here that are not (yet) in the store: being stored, or refused by it (they stay
   * while the page does). The gallery shown again from the store keeps them.
   */
  private readonly unkept = new Set<string>();
  /** Images deleted here: the gallery shown again from the store while the delete runs leaves them out. */
  private readonly removed = new Set<string>();
  /** An object URL per image shown, revoked when it leaves the gallery. */
  private readonly urls = new Map<string, string>();
  private readonly changes = typeof BroadcastChannel === 'function' ? new BroadcastChannel('janus-images') : null;

  constructor(
    private readonly client: JanusClient,
    private readonly hooks: ImagineHooks,
  ) {
    $<HTMLFormElement>('imagine-form').addEventListener('submit', (event) => {
      event.preventDefault();
      void this.generate();
    });
    $('imagine-stop').addEventListener('click', () => this.stop?.abort());
    $('imagine-random').addEventListener('click', () => {
      $<HTMLInputElement>('imagine-seed').value = '';
    });
    const keep = $<HTMLInputElement>('keep-images');
    keep.checked = readKeepChoice(KEEP_KEY);
    keep.addEventListener('change', () => void this.setKeep(keep.checked));
    // Another tab created or deleted images, or stopped keeping them (what this tab shows stays).
    this.changes?.addEventListener('message', () => {
      keep.checked = readKeepChoice(KEEP_KEY);
      void this.reload();
    });
    this.update();
    void this.reload();
  }

  private async generate(): Promise<void> {
    if (this.stop !== null) return;
    const prompt = $<HTMLTextAreaElement>('prompt').value.trim();
    if (prompt === '') {
      $('prompt').focus();
      return;
    }
    const seedText = $<HTMLInputElement>('imagine-seed').value.trim();
    const options = {
      count: Math.max(1, Math.min(4, Math.round(numberIn('imagine-count', 1)))),
      ...imageSampling(),
      ...(seedText === '' ? {} : { seed: Number(seedText) }),
    };
    this.stop = new AbortController();
    this.update();
    const bar = $<HTMLProgressElement>('imagine-bar');
    const text = $('imagine-progress');
    bar.removeAttribute('value');
    text.textContent = 'Starting…';
    const preview = $('imagine-preview');
    preview.replaceChildren();
    const started = performance.now();
    try {
      const result = await this.client.generateImage(prompt, {
        ...options,
        signal: this.stop.signal,
        onStep: (step, total) => {
          bar.max = total;
          bar.value = step;
          text.textContent = drawingLine(step, total, (performance.now() - started) / 1000);
        },
        onPreview: (partial) => showPreview(preview, partial),
      });
      if (result.cancelled) {
        text.textContent = `Stopped after ${result.codes[0]?.length ?? 0} of the image tokens.`;
        return;
      }
      const createdAt = Date.now();
      const pngs = await Promise.all(result.images.map(encodePng));
      const batch = pngs.map((png, index): KeptImage => ({ id: newKeptId(), png, prompt, seed: result.seed, index, count: pngs.length, cfgWeight: options.cfgWeight, temperature: options.temperature, createdAt }));
      text.textContent = `${batch.length} image${batch.length === 1 ? '' : 's'} in ${((performance.now() - started) / 1000).toFixed(0)} s (seed ${result.seed}).`;
      await this.keep(batch);
    } catch (error) {
      text.textContent = '';
      this.hooks.onError(error);
    } finally {
      preview.replaceChildren();
      this.stop = null;
      this.update();
    }
  }

  /** Shows a new batch first in the gallery, and keeps it where the person keeps images. */
  private async keep(batch: KeptImage[]): Promise<void> {
    this.show([...batch, ...this.images]);
    if (!$<HTMLInputElement>('keep-images').checked) return;
    for (const image of batch) this.unkept.add(image.id);
    if (await this.kept.add(batch)) {
      for (const image of batch) this.unkept.delete(image.id);
      this.status(keptSay(this.images.filter((image) => !this.unkept.has(image.id))));
      this.changes?.postMessage('changed');
    } else {
      this.notStored();
    }
  }

  /** The gallery as kept (with what this page could not keep), where images are kept. */
  private async reload(): Promise<void> {
    if (!$<HTMLInputElement>('keep-images').checked) return;
    const stored = (await this.kept.list()).filter((image) => !this.removed.has(image.id));
    const known = new Set(stored.map((image) => image.id));
    const only = this.images.filter((image) => this.unkept.has(image.id) && !known.has(image.id));
    this.show([...stored, ...only].sort(galleryOrder));
    if (stored.length > 0) this.status(keptSay(stored));
  }

  private async remove(id: string): Promise<void> {
    this.removed.add(id);
    this.show(this.images.filter((image) => image.id !== id));
    this.unkept.delete(id);
    if ($<HTMLInputElement>('keep-images').checked && (await this.kept.remove(id))) this.changes?.postMessage('changed');
  }

  private async setKeep(keep: boolean): Promise<void> {
    writeKeepChoice(KEEP_KEY, keep);
    if (keep) {
      // Kept from now on, with what the gallery shows.
      const ok = await this.kept.add(this.images);
      if (ok) this.unkept.clear();
      if (ok) this.status('Images are kept on this device from now on.');
      else this.notStored();
    } else {
      await this.kept.forget();
      this.status('Not kept: images go with the page, and none is stored.');
    }
    this.changes?.postMessage('changed');
  }

  /** Says why the images were not stored: a newer page keeps them now, or the browser would not. */
  private notStored(): void {
    const outdated = this.kept.outdated;
    sayWithReload($('keep-images-status'), outdated ? newerPage('the images') : NOT_STORED, outdated);
  }

  private status(text: string): void {
    $('keep-images-status').textContent = text;
  }

  /** Makes the gallery show `images`, in that order (figures of images still shown are reused). */
  private show(images: KeptImage[]): void {
    const gallery = $('gallery');
    const figures = new Map([...gallery.querySelectorAll<HTMLElement>('figure[data-id]')].map((f) => [f.dataset.id ?? '', f]));
    gallery.replaceChildren(...images.map((image) => figures.get(image.id) ?? this.figure(image)));
    const shown = new Set(images.map((image) => image.id));
    for (const [id, url] of this.urls) {
      if (!shown.has(id)) {
        URL.revokeObjectURL(url);
        this.urls.delete(id);
      }
    }
    this.images = images;
  }

  private figure(image: KeptImage): HTMLElement {
    const figure = document.createElement('figure');
    figure.className = 'result';
    figure.dataset.id = image.id;
    const url = URL.createObjectURL(image.png);
    this.urls.set(image.id, url);
    const picture = document.createElement('img');
    picture.src = url;
    picture.decoding = 'async';
    picture.loading = 'lazy';
    picture.alt = `Generated image ${image.index + 1} for “${image.prompt}”`;
    const caption = document.createElement('figcaption');
    const which = image.count > 1 ? ` · #${image.index + 1} of ${image.count}` : '';
    caption.textContent = `${image.prompt} · seed ${image.seed}${which} · guidance ${image.cfgWeight} · temperature ${image.temperature}`;
    const name = `janus-${image.seed}-${image.index + 1}.png`;
    const download = button('Download PNG', () => saveBlob(image.png, name));
    const reuse = button('Reuse settings', () => this.reuse(image), { className: 'secondary' });
    reuse.title = 'Prompt, how many, guidance, temperature and seed: Create draws this batch again';
    const remove = button('Delete', () => void this.remove(image.id), { className: 'delete secondary', label: `Delete image ${image.index + 1} for “${image.prompt}”` });
    const ask = button('Ask about it', () => this.hooks.onAsk(new File([image.png], name, { type: 'image/png' })), {
      className: 'secondary',
      label: `Ask about it: image ${image.index + 1} for “${image.prompt}”`,
    });
    ask.title = 'Attach it to your next message in the conversation: Janus reads what it drew';
    figure.append(picture, caption, download, ask, reuse, remove);
    return figure;
  }

  /** Fills the form with what drew `image`: Create draws its batch again. */
  private reuse(image: KeptImage): void {
    $<HTMLTextAreaElement>('prompt').value = image.prompt;
    $<HTMLInputElement>('imagine-count').value = String(image.count);
    $<HTMLInputElement>('cfg').value = String(image.cfgWeight);
    $<HTMLInputElement>('imagine-temperature').value = String(image.temperature);
    $<HTMLInputElement>('imagine-seed').value = String(image.seed);
    $('prompt').focus();
  }

  private update(): void {
    const busy = this.stop !== null;
    $<HTMLButtonElement>('imagine-go').disabled = busy;
    $('imagine-stop').hidden = !busy;
    $('imagine-status').hidden = !busy && $('imagine-progress').textContent === '';
  }
}

/**
 * How a picture is drawn, as set in the Create section: the guidance and the temperature. A
 * drawing in the conversation (/imagine) is drawn so too.
 */
export function imageSampling(): { cfgWeight: number; temperature: number } {
  return { cfgWeight: numberIn('cfg', 5), temperature: numberIn('imagine-temperature', 1) };
}

/** What the page says where the store refused the images. */
const NOT_STORED = 'This browser would not store the images (a private window, or no room): they go with the page.';

/** What the page says with `images` kept: how many, and the room their PNGs take. */
function keptSay(images: readonly KeptImage[]): string {
  const n = images.length;
  const bytes = images.reduce((sum, image) => sum + image.png.size, 0);
  return `Kept on this device (${n} ${n === 1 ? 'image' : 'images'}, ${formatBytes(bytes)}); Delete removes one.`;
}
