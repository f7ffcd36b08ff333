// <janus-image>: text to image. A prompt box, Create and Stop, a progress bar per image token, a
// progressive preview, and a gallery of the results (canvases, each with a PNG download).
//
// Attributes (besides JanusElement's model / model-url / cache): `count`, `cfg-weight`,
// `temperature`, `seed`, `prompt` (the initial text), `placeholder`.
// Events (besides progress / ready / error): `image` with detail GeneratedImages plus `prompt`.
// Parts: form, prompt, create, stop, steps (the image progress bar), preview, gallery, result,
// image, download, status, progress.
// Methods: generate(prompt?) as if Create was pressed; resolves with the GeneratedImages.

import type { GeneratedImages, GenerateImageOptions, RgbaImage } from '../client.js';
import { drawRgba, saveCanvasAsPng } from '../canvas.js';
import { showPreview } from '../preview.js';
import { drawingLine } from '../drawing.js';
import { JanusElement } from './base.js';
import { styles } from './styles.js';

export type ImageEventDetail = GeneratedImages & { prompt: string };

export class JanusImageElement extends JanusElement {
  private input!: HTMLTextAreaElement;
  private createButton!: HTMLButtonElement;
  private stopButton!: HTMLButtonElement;
  private steps!: HTMLProgressElement;
  private preview!: HTMLElement;
  private gallery!: HTMLElement;
  private running: AbortController | null = null;
  private busy = true;

  protected stylesheet(): CSSStyleSheet {
    return styles().image;
  }

  protected build(): void {
    const form = this.make('form', 'form');
    this.input = this.make('textarea', 'prompt');
    this.input.rows = 2;
    this.input.setAttribute('aria-label', 'Describe the picture');
    this.input.placeholder = this.getAttribute('placeholder') ?? 'A red fox in the snow, watercolor';
    this.input.value = this.getAttribute('prompt') ?? '';
    this.createButton = this.button('create', 'Create', { submit: true });
    this.stopButton = this.button('stop', 'Stop', { secondary: true, hidden: true });
    form.append(this.input, this.createButton, this.stopButton);
    this.steps = this.make('progress', 'steps');
    this.steps.setAttribute('aria-label', 'Image tokens drawn');
    this.steps.hidden = true;
    this.preview = this.make('div', 'preview');
    this.preview.setAttribute('role', 'img');
    this.preview.setAttribute('aria-label', 'Preview of the images being drawn');
    this.gallery = this.make('div', 'gallery');
    this.gallery.setAttribute('aria-label', 'Created images');
    this.root.append(form, this.steps, this.preview, this.gallery);

    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const prompt = this.input.value.trim();
      if (prompt !== '' && !this.busy && this.running === null) void this.generate(prompt).catch(() => undefined);
    });
    this.stopButton.addEventListener('click', () => this.running?.abort());
  }

  protected setBusy(busy: boolean): void {
    this.busy = busy;
    this.createButton.disabled = busy || this.running !== null;
  }

  /** Create images for `prompt` (default: the prompt box); shows them and sends an 'image' event. */
  async generate(prompt = this.input.value.trim()): Promise<GeneratedImages> {
    if (this.running !== null) throw new Error('images are still being drawn');
    this.running = new AbortController();
    this.createButton.disabled = true;
    this.stopButton.hidden = false;
    this.steps.hidden = false;
    this.steps.removeAttribute('value');
    this.preview.replaceChildren();
    this.say('Reading the prompt…');
    const started = performance.now();
    try {
      const client = await this.client();
      const result = await client.generateImage(prompt, {
        ...this.options(),
        signal: this.running.signal,
        onStep: (step, total) => {
          this.steps.max = total;
          this.steps.value = step;
          this.say(drawingLine(step, total, (performance.now() - started) / 1000));
        },
        onPreview: (preview) => showPreview(this.preview, preview),
      });
      this.say(result.cancelled ? 'Stopped.' : `Seed ${result.seed}.`);
      result.images.forEach((image, i) => this.addResult(image, prompt, result.seed, i));
      this.emit('image', { ...result, prompt } satisfies ImageEventDetail);
      return result;
    } catch (error) {
      this.fail(error);
      throw error;
    } finally {
      this.running = null;
      this.preview.replaceChildren();
      this.steps.hidden = true;
      this.stopButton.hidden = true;
      this.createButton.disabled = this.busy;
    }
  }

  private addResult(image: RgbaImage, prompt: string, seed: number, index: number): void {
    const figure = this.make('figure', 'result');
    const canvas = this.make('canvas', 'image');
    canvas.width = image.width;
    canvas.height = image.height;
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', `Created image ${index + 1}: ${prompt}`);
    drawRgba(canvas, image);
    const caption = document.createElement('figcaption');
    caption.textContent = `Seed ${seed}${index > 0 ? ` · #${index + 1}` : ''}`;
    const download = this.button('download', 'Download PNG', { secondary: true });
    download.addEventListener('click', () => saveCanvasAsPng(canvas, `janus-${seed}-${index + 1}.png`));
    figure.append(canvas, caption, download);
    this.gallery.prepend(figure);
  }

  private options(): GenerateImageOptions {
    return this.numberOptions({ count: 'count', cfgWeight: 'cfg-weight', temperature: 'temperature', seed: 'seed' });
  }
}
