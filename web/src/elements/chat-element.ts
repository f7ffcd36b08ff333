// <janus-chat>: a complete chat with pictures. A conversation log with streamed replies rendered
// as sanitised Markdown, a message box (Enter sends, Shift+Enter for a new line), pictures by
// button, drag-and-drop or paste, and Stop. A message that begins with /imagine (or /draw) asks
// Janus for a picture of the rest, drawn in the log with its rows as they are decoded; Janus
// can then be asked about it (drawing.ts).
//
// Attributes (besides JanusElement's model / model-url / cache): `system` (the system prompt),
// `temperature`, `top-p`, `top-k`, `max-tokens`, `seed` (also a drawing's), `placeholder`,
// `cfg-weight` (a drawing's guidance), `imagine="false"` (/imagine is sent as text).
// Events (besides progress / ready / error): `message` with detail
//   { role: 'user' | 'assistant', text, images (user; assistant: the drawing as a PNG Blob),
//     draw (a drawing: the request or the picture), stop, seed and promptTokens (assistant) }.
//   Regenerate sends only Janus's new turn.
// Parts: log, message, user, assistant, drawing, download (a drawing's), copy (a reply's), form,
// input, attachments, attach, send, regenerate, stop, status, progress.
// Methods: send(text, images?) as if typed; draw(prompt); regenerate(); clear().

import type { ChatOptions, GenerateImageOptions } from '../client.js';
import type { ChatImage } from '../protocol.js';
import { saveBlob } from '../canvas.js';
import { drawOne, drawPrompt, modelHistory, type DrawnTurn } from '../drawing.js';
import { renderMarkdown } from '../markdown.js';
import { readingLine } from '../reading.js';
import { JanusElement } from './base.js';
import { styles } from './styles.js';

export interface ChatMessageEventDetail {
  role: 'user' | 'assistant';
  text: string;
  images?: ChatImage[];
  /** A drawing: the person's request (`text` its prompt) or Janus's picture (`images[0]`). */
  draw?: boolean;
  stop?: string;
  seed?: number;
  /** The prompt's length in tokens (a reply's): a drawing asked about adds its image tokens. */
  promptTokens?: number;
}

export class JanusChatElement extends JanusElement {
  private log!: HTMLOListElement;
  private input!: HTMLTextAreaElement;
  private attachments!: HTMLElement;
  private sendButton!: HTMLButtonElement;
  private stopButton!: HTMLButtonElement;
  private regenerateButton!: HTMLButtonElement;
  private turns: DrawnTurn[] = [];
  /** Janus's last turn while it ends the log (what Regenerate replaces), with its element. */
  private last: { turn: DrawnTurn; element: HTMLLIElement } | null = null;
  private pending: Blob[] = [];
  private running: AbortController | null = null;
  private busy = true;

  protected stylesheet(): CSSStyleSheet {
    return styles().chat;
  }

  protected build(): void {
    this.log = this.make('ol', 'log');
    this.log.setAttribute('role', 'log');
    this.log.setAttribute('aria-label', 'Conversation');
    const form = this.make('form', 'form');
    this.input = this.make('textarea', 'input');
    this.input.rows = 2;
    this.input.setAttribute('aria-label', 'Message');
    this.input.placeholder = this.getAttribute('placeholder') ?? 'Ask about a picture, or anything…';
    this.attachments = this.make('div', 'attachments');
    this.attachments.setAttribute('aria-label', 'Attached pictures');
    const attach = this.make('label', 'attach');
    attach.className = 'attach';
    attach.textContent = 'Add picture';
    const file = document.createElement('input');
    file.type = 'file';
    file.accept = 'image/png,image/jpeg,image/webp';
    file.multiple = true;
    attach.append(file);
    this.sendButton = this.button('send', 'Send', { submit: true });
    this.stopButton = this.button('stop', 'Stop', { secondary: true, hidden: true });
    this.regenerateButton = this.button('regenerate', 'Regenerate', { secondary: true, hidden: true });
    form.append(this.input, this.attachments, attach, this.sendButton, this.regenerateButton, this.stopButton);
    this.root.append(this.log, form);

    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.sendTyped();
    });
    this.input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        void this.sendTyped();
      }
    });
    file.addEventListener('change', () => {
      this.attach([...(file.files ?? [])]);
      file.value = '';
    });
    form.addEventListener('dragover', (event) => event.preventDefault());
    form.addEventListener('drop', (event) => {
      event.preventDefault();
      this.attach([...(event.dataTransfer?.files ?? [])]);
    });
    this.input.addEventListener('paste', (event) => {
      const files = [...(event.clipboardData?.files ?? [])];
      if (files.length > 0) {
        event.preventDefault();
        this.attach(files);
      }
    });
    this.stopButton.addEventListener('click', () => this.running?.abort());
    this.regenerateButton.addEventListener('click', () => void this.regenerate().catch(() => undefined));
  }

  protected setBusy(busy: boolean): void {
    this.busy = busy;
    this.update();
  }

  /** The buttons as the model and the work now allow. */
  private update(): void {
    const working = this.running !== null;
    this.sendButton.disabled = this.busy || working;
    this.stopButton.hidden = !working;
    this.regenerateButton.hidden = working || this.last === null;
    this.regenerateButton.disabled = this.busy;
  }

  /**
   * Send `text` (with pictures) as the user's next message; resolves with the reply's text. A
   * text beginning with /imagine (unless `imagine="false"`) draws instead ([`draw`]) and
   * resolves with ''.
   */
  async send(text: string, images: ChatImage[] = []): Promise<string> {
    const prompt = this.drawing(text);
    if (prompt !== null) return this.draw(prompt).then(() => '');
    this.ask({ role: 'user', content: text, images });
    return this.reply();
  }

  /**
   * Janus's last turn again, in its place: a reply written anew (the same words where sampling
   * is greedy) or the picture drawn anew (another one unless `seed` is set). Resolves as
   * `send` or `draw` would.
   */
  async regenerate(): Promise<string | Blob | null> {
    const last = this.last;
    const asked = this.turns.at(-2);
    if (last === null || asked === undefined) throw new Error('there is no reply to regenerate');
    if (this.running !== null) throw new Error('a reply is still being written');
    this.turns.pop();
    last.element.remove();
    this.last = null;
    return asked.draw === true ? this.drawAnswer(asked.content) : this.reply();
  }

  /** Janus's reply to the conversation so far, streamed into the log; resolves with its text. */
  private reply(): Promise<string> {
    const reply = this.addTurn('assistant', '', []);
    let written = '';
    return this.run(reply, async (signal, turns) => {
      const client = await this.client();
      const asked = performance.now();
      // A long prompt's passes (a long conversation): said on the status line until the first piece.
      let reading = false;
      const onPrompt = (read: number, total: number): void => {
        reading = true;
        this.say(readingLine(read, total, (performance.now() - asked) / 1000));
      };
      const stream = client.chat(modelHistory(turns), { ...this.options(), signal, onPrompt });
      for await (const piece of stream) {
        if (reading) this.say('Writing…');
        reading = false;
        written += piece;
        reply.innerHTML = renderMarkdown(written); // sanitised by DOMPurify
        this.scrollToEnd();
      }
      const result = await stream.result;
      const turn: DrawnTurn = { role: 'assistant', content: result.text };
      turns.push(turn);
      reply.innerHTML = renderMarkdown(result.text);
      if (result.stop === 'cancelled') reply.dataset.stopped = 'true';
      const copy = this.button('copy', 'Copy', { secondary: true });
      copy.addEventListener('click', () => {
        void navigator.clipboard?.writeText(result.text).then(
          () => (copy.textContent = 'Copied'),
          () => (copy.textContent = 'Copy failed'),
        );
      });
      reply.append(copy);
      this.scrollToEnd();
      if (turns === this.turns) this.last = { turn, element: reply };
      this.say(result.stop === 'cancelled' ? 'Stopped.' : 'Ready.');
      this.emit('message', { role: 'assistant', text: result.text, stop: result.stop, seed: result.seed, promptTokens: result.promptTokens } satisfies ChatMessageEventDetail);
      return result.text;
    });
  }

  /**
   * Janus draws `prompt` as its next turn (one picture: the `cfg-weight` and `seed` attributes,
   * the reference's defaults otherwise); resolves with the PNG, or null when stopped. The
   * drawing goes to the model with the next question, so Janus can be asked about it.
   */
  async draw(prompt: string): Promise<Blob | null> {
    this.ask({ role: 'user', content: prompt, draw: true });
    return this.drawAnswer(prompt);
  }

  /** Janus's picture of `prompt` in the log; resolves with its PNG, or null when stopped. */
  private drawAnswer(prompt: string): Promise<Blob | null> {
    const turn = this.addTurn('assistant', '', []);
    turn.dataset.draw = 'true';
    return this.run(turn, async (signal, turns) => {
      const client = await this.client();
      // The rows as they are decoded, once there is a model to draw them (drawOne removes it).
      const preview = document.createElement('div');
      preview.className = 'preview';
      turn.append(preview);
      const drawn = await drawOne(client, prompt, { ...this.drawOptions(), signal }, (text) => this.say(text), preview);
      if (drawn === null) {
        turn.dataset.stopped = 'true';
        turns.pop();
        this.say('Stopped.');
        return null;
      }
      const { png, seed } = drawn;
      const answer: DrawnTurn = { role: 'assistant', content: '', images: [png], draw: true };
      turns.push(answer);
      if (turns === this.turns) this.last = { turn: answer, element: turn };
      const img = this.make('img', 'drawing');
      img.src = URL.createObjectURL(png);
      img.alt = `Janus’s picture of “${prompt}”`;
      const download = this.button('download', 'Download PNG', { secondary: true });
      download.addEventListener('click', () => saveBlob(png, `janus-${seed}.png`));
      // Its height is known once it has loaded.
      img.addEventListener('load', () => this.scrollToEnd(), { once: true });
      turn.append(img, download);
      this.scrollToEnd();
      this.say(`Seed ${seed}.`);
      this.emit('message', { role: 'assistant', text: '', images: [png], draw: true, seed } satisfies ChatMessageEventDetail);
      return png;
    });
  }

  /** Forget the conversation. */
  clear(): void {
    this.running?.abort();
    this.turns = [];
    this.last = null;
    this.log.replaceChildren();
    this.update();
  }

  /** The person's turn: kept, shown and sent as a 'message' event. */
  private ask(turn: DrawnTurn): void {
    if (this.running !== null) throw new Error('a reply is still being written');
    this.turns.push(turn);
    this.last = null;
    const images = [...(turn.images ?? [])];
    this.addTurn('user', turn.content, images);
    this.emit('message', { role: 'user', text: turn.content, images, ...(turn.draw === true ? { draw: true } : {}) } satisfies ChatMessageEventDetail);
  }

  /**
   * The frame of Janus's turn, words or a picture: busy, Stop on; a failure leaves the turn
   * marked in the log, and the person's turn (the last kept) out of what is sent next time.
   * `work` adds Janus's turn to `turns`, the conversation it answers: cleared meanwhile, the new
   * one gets nothing of it.
   */
  private async run<T>(reply: HTMLLIElement, work: (signal: AbortSignal, turns: DrawnTurn[]) => Promise<T>): Promise<T> {
    const turns = this.turns;
    reply.setAttribute('aria-busy', 'true');
    this.running = new AbortController();
    this.update();
    try {
      return await work(this.running.signal, turns);
    } catch (error) {
      turns.pop();
      reply.dataset.failed = 'true';
      this.fail(error);
      throw error;
    } finally {
      reply.removeAttribute('aria-busy');
      this.running = null;
      this.update();
    }
  }

  private async sendTyped(): Promise<void> {
    const text = this.input.value.trim();
    if ((text === '' && this.pending.length === 0) || this.running !== null || this.busy) return;
    const prompt = this.drawing(text);
    if (prompt === '') return; // /imagine and nothing to draw: the message box stays
    this.input.value = '';
    // Pictures attached stay for the next question: a drawing is made from words alone.
    if (prompt !== null) return void (await this.draw(prompt).catch(() => undefined));
    const images = this.pending;
    this.pending = [];
    this.attachments.replaceChildren();
    await this.send(text, images).catch(() => undefined); // shown in the element and sent as 'error'
  }

  /** The prompt a message asks Janus to draw (unless `imagine="false"`), or null. */
  private drawing(text: string): string | null {
    return this.getAttribute('imagine') === 'false' ? null : drawPrompt(text);
  }

  private attach(files: File[]): void {
    for (const file of files.filter((f) => f.type.startsWith('image/'))) {
      this.pending.push(file);
      const thumb = document.createElement('img');
      thumb.src = URL.createObjectURL(file);
      thumb.alt = `Attached: ${file.name}`;
      this.attachments.append(thumb);
    }
  }

  private addTurn(role: 'user' | 'assistant', text: string, images: ChatImage[]): HTMLLIElement {
    const item = this.make('li', `message ${role}`);
    item.setAttribute('aria-label', role === 'user' ? 'You' : 'Janus');
    for (const image of images) {
      if (!(image instanceof Blob)) continue;
      const img = document.createElement('img');
      img.src = URL.createObjectURL(image);
      img.alt = 'A picture you sent';
      item.append(img);
    }
    if (text !== '') item.append(document.createTextNode(text));
    this.log.append(item);
    this.scrollToEnd();
    return item;
  }

  /** The log shows its end: the turn being written and the buttons under it. */
  private scrollToEnd(): void {
    this.log.scrollTop = this.log.scrollHeight;
  }

  private options(): ChatOptions {
    const system = this.getAttribute('system');
    const numbers = this.numberOptions({ temperature: 'temperature', topP: 'top-p', topK: 'top-k', maxNewTokens: 'max-tokens', seed: 'seed' });
    return system === null ? numbers : { ...numbers, system };
  }

  private drawOptions(): GenerateImageOptions {
    return this.numberOptions({ cfgWeight: 'cfg-weight', seed: 'seed' });
  }
}
