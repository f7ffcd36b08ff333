// <janus-chat>: a complete chat with pictures. A conversation log with streamed replies rendered
// as sanitised Markdown, a message box (Enter sends, Shift+Enter for a new line), pictures by
// button, drag-and-drop or paste, and Stop.
//
// Attributes (besides JanusElement's model / model-url / cache): `system` (the system prompt),
// `temperature`, `top-p`, `top-k`, `max-tokens`, `seed`, `placeholder`.
// Events (besides progress / ready / error): `message` with detail
//   { role: 'user' | 'assistant', text, images (user), stop and seed (assistant) }.
// Parts: log, message, user, assistant, form, input, attachments, attach, send, stop, status,
// progress.
// Methods: send(text, images?) as if typed; clear().

import type { ChatMessage, ChatOptions } from '../client.js';
import type { ChatImage } from '../protocol.js';
import { renderMarkdown } from '../markdown.js';
import { JanusElement } from './base.js';
import { styles } from './styles.js';

export interface ChatMessageEventDetail {
  role: 'user' | 'assistant';
  text: string;
  images?: ChatImage[];
  stop?: string;
  seed?: number;
}

export class JanusChatElement extends JanusElement {
  private log!: HTMLOListElement;
  private input!: HTMLTextAreaElement;
  private attachments!: HTMLElement;
  private sendButton!: HTMLButtonElement;
  private stopButton!: HTMLButtonElement;
  private history: ChatMessage[] = [];
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
    form.append(this.input, this.attachments, attach, this.sendButton, this.stopButton);
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
  }

  protected setBusy(busy: boolean): void {
    this.busy = busy;
    this.sendButton.disabled = busy || this.running !== null;
  }

  /** Send `text` (with pictures) as the user's next message; resolves with the reply's text. */
  async send(text: string, images: ChatImage[] = []): Promise<string> {
    if (this.running !== null) throw new Error('a reply is still being written');
    const user: ChatMessage = images.length > 0 ? { role: 'user', content: text, images } : { role: 'user', content: text };
    this.history.push(user);
    this.addTurn('user', text, images);
    this.emit('message', { role: 'user', text, images } satisfies ChatMessageEventDetail);
    const reply = this.addTurn('assistant', '', []);
    reply.setAttribute('aria-busy', 'true');
    this.running = new AbortController();
    this.sendButton.disabled = true;
    this.stopButton.hidden = false;
    let written = '';
    try {
      const client = await this.client();
      const stream = client.chat(this.history, { ...this.options(), signal: this.running.signal });
      for await (const piece of stream) {
        written += piece;
        reply.innerHTML = renderMarkdown(written); // sanitised by DOMPurify
        this.log.scrollTop = this.log.scrollHeight;
      }
      const result = await stream.result;
      this.history.push({ role: 'assistant', content: result.text });
      reply.innerHTML = renderMarkdown(result.text);
      if (result.stop === 'cancelled') reply.dataset.stopped = 'true';
      this.say(result.stop === 'cancelled' ? 'Stopped.' : 'Ready.');
      this.emit('message', { role: 'assistant', text: result.text, stop: result.stop, seed: result.seed } satisfies ChatMessageEventDetail);
      return result.text;
    } catch (error) {
      // The question stays in the log but not in the history sent next time.
      this.history.pop();
      reply.dataset.failed = 'true';
      this.fail(error);
      throw error;
    } finally {
      reply.removeAttribute('aria-busy');
      this.running = null;
      this.stopButton.hidden = true;
      this.sendButton.disabled = this.busy;
    }
  }

  /** Forget the conversation. */
  clear(): void {
    this.running?.abort();
    this.history = [];
    this.log.replaceChildren();
  }

  private async sendTyped(): Promise<void> {
    const text = this.input.value.trim();
    if ((text === '' && this.pending.length === 0) || this.running !== null || this.busy) return;
    const images = this.pending;
    this.pending = [];
    this.attachments.replaceChildren();
    this.input.value = '';
    await this.send(text, images).catch(() => undefined); // shown in the element and sent as 'error'
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
    this.log.scrollTop = this.log.scrollHeight;
    return item;
  }

  private options(): ChatOptions {
    const options: ChatOptions = {};
    const system = this.getAttribute('system');
    if (system !== null) options.system = system;
    const set = <K extends 'temperature' | 'topP' | 'topK' | 'maxNewTokens' | 'seed'>(key: K, attribute: string): void => {
      const value = this.numberAttribute(attribute);
      if (value !== undefined) options[key] = value;
    };
    set('temperature', 'temperature');
    set('topP', 'top-p');
    set('topK', 'top-k');
    set('maxNewTokens', 'max-tokens');
    set('seed', 'seed');
    return options;
  }
}
