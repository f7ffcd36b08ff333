// Text to image: prompt, how many, guidance, temperature and seed; a progress bar per image token;
// a gallery of results with PNG download and "reuse this seed"; cancel.

import type { ImagePreview, JanusClient } from '../src/index.js';
import { drawRgba, saveCanvasAsPng } from '../src/canvas.js';
import { byId } from './dom.js';

export interface ImagineHooks {
  onError(error: unknown): void;
}

const $ = byId;

export class ImagineView {
  private stop: AbortController | null = null;

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
    this.update();
  }

  private async generate(): Promise<void> {
    if (this.stop !== null) return;
    const prompt = $<HTMLTextAreaElement>('prompt').value.trim();
    if (prompt === '') {
      $('prompt').focus();
      return;
    }
    const value = (id: string, fallback: number): number => {
      const input = $<HTMLInputElement>(id);
      const n = Number(input.value);
      return input.value !== '' && Number.isFinite(n) ? n : fallback;
    };
    const seedText = $<HTMLInputElement>('imagine-seed').value.trim();
    const options = {
      count: Math.max(1, Math.min(4, Math.round(value('imagine-count', 1)))),
      cfgWeight: value('cfg', 5),
      temperature: value('imagine-temperature', 1),
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
          const seconds = (performance.now() - started) / 1000;
          const left = (seconds / step) * (total - step);
          // The first steps include reading the prompt: no estimate until the pace settles.
          text.textContent = `Drawing: token ${step} of ${total}${step >= 8 ? ` (${Math.round(left)} s left)` : ''}`;
        },
        onPreview: (partial) => showPreview(preview, partial),
      });
      if (result.cancelled) {
        text.textContent = `Stopped after ${result.codes[0]?.length ?? 0} of the image tokens.`;
        return;
      }
      text.textContent = `${result.images.length} image${result.images.length === 1 ? '' : 's'} in ${((performance.now() - started) / 1000).toFixed(0)} s (seed ${result.seed}).`;
      // Newest batch first, and within it image 1 first.
      for (let i = result.images.length - 1; i >= 0; i -= 1) {
        const image = result.images[i];
        if (image !== undefined) this.show(image, prompt, result.seed, i);
      }
    } catch (error) {
      text.textContent = '';
      this.hooks.onError(error);
    } finally {
      preview.replaceChildren();
      this.stop = null;
      this.update();
    }
  }

  private show(image: { width: number; height: number; data: Uint8ClampedArray }, prompt: string, seed: number, index: number): void {
    const figure = document.createElement('figure');
    figure.className = 'result';
    const canvas = document.createElement('canvas');
    canvas.width = image.width;
    canvas.height = image.height;
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', `Generated image ${index + 1} for “${prompt}”`);
    drawRgba(canvas, image);
    const caption = document.createElement('figcaption');
    caption.textContent = `${prompt} · seed ${seed}${index > 0 ? ` · #${index + 1}` : ''}`;
    const download = document.createElement('button');
    download.type = 'button';
    download.textContent = 'Download PNG';
    download.addEventListener('click', () => saveCanvasAsPng(canvas, `janus-${seed}-${index + 1}.png`));
    const reuse = document.createElement('button');
    reuse.type = 'button';
    reuse.className = 'secondary';
    reuse.textContent = 'Reuse this seed';
    reuse.addEventListener('click', () => {
      $<HTMLInputElement>('imagine-seed').value = String(seed);
      $('prompt').focus();
    });
    figure.append(canvas, caption, download, reuse);
    $('gallery').prepend(figure);
  }

  private update(): void {
    const busy = this.stop !== null;
    $<HTMLButtonElement>('imagine-go').disabled = busy;
    $('imagine-stop').hidden = !busy;
    $('imagine-status').hidden = !busy && $('imagine-progress').textContent === '';
  }
}

/**
 * Draw a progressive preview: one square canvas per image (the final size), the rows decoded so
 * far at the top, the rest left as the placeholder pattern behind the canvas.
 */
function showPreview(area: HTMLElement, preview: ImagePreview): void {
  preview.images.forEach((image, i) => {
    let canvas = area.children[i] as HTMLCanvasElement | undefined;
    if (canvas === undefined) {
      canvas = document.createElement('canvas');
      canvas.width = preview.width;
      canvas.height = preview.width;
      area.append(canvas);
    }
    canvas.dataset.rows = String(preview.height);
    drawRgba(canvas, image);
  });
}
