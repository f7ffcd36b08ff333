// The conversation: messages with pictures, a streamed Markdown reply, stop, continue, regenerate,
// copy, edit a question and ask again (chat-edit.ts), clear, save as Markdown (export.ts);
// pictures attached by button, drag-and-drop or paste (chat-attachments.ts); sampling settings.
// A file that is not a usable picture is refused with a sentence saying why: at once when its
// header tells (picture.ts), else when the engine fails to decode it; the conversation goes on
// without it.
// Conversations are kept on this device unless the person says not to (kept-conversations.ts):
// after a reload the tab's conversation is shown again and goes on where it stopped; a new tab
// opens the latest one no other tab shows; earlier ones are listed (history.ts) to go back to.
// `/imagine` (or Draw) makes a picture in the conversation, to ask Janus about (../src/drawing.ts).

import { humanError, toJanusError, type ChatMessage, type JanusClient, type JanusError } from '../src/index.js';
import { saveBlob } from '../src/canvas.js';
import { renderMarkdown } from '../src/markdown.js';
import { drawOne, drawPrompt, modelHistory } from '../src/drawing.js';
import { readingLine } from '../src/reading.js';
import { button, byId, numberIn, sayWithReload } from './dom.js';
import { conversationMarkdown, exportName } from './export.js';
import { ConversationClaim } from './conversation-claim.js';
import { renderHistory } from './history.js';
import { readKeepChoice, writeKeepChoice } from './keep-choice.js';
import { KeptConversations, titleOf, type KeptTurn } from './kept-conversations.js';
import { newKeptId, newerPage } from './kept-db.js';
import { AttachedPictures } from './chat-attachments.js';
import { continuable, decorate, replyStats, showPictures, type Turn } from './chat-turn.js';
import { QuestionEdit, type Draft } from './chat-edit.js';

/** localStorage: 'false' when the person chose not to keep conversations on this device. */
const KEEP_KEY = 'janus-keep-conversation';
/** localStorage: 'false' when the person chose not to read conversations ahead (`warm`). */
const READ_AHEAD_KEY = 'janus-read-ahead';
/** sessionStorage: the conversation this tab shows, so that a reload shows it again. */
const SHOWN_KEY = 'janus-conversation-shown';
/** Tabs tell each other the list changed. */
const CHANGES = 'janus-conversations';

export interface ChatHooks {
  onError(error: unknown): void;
  /** How a drawing is drawn (the Create section's guidance and temperature). */
  drawing(): { cfgWeight: number; temperature: number };
}

const $ = byId;

export class ChatView {
  private turns: Turn[] = [];
  private stop: AbortController | null = null;
  /** A question taken back to be changed (Edit). */
  private readonly editing: QuestionEdit;
  /** The pictures attached to the next message. */
  private readonly attached = new AttachedPictures();
  private readonly kept = new KeptConversations();
  private readonly claim = new ConversationClaim();
  /** The conversation shown: its key among the kept ones. */
  private id = newKeptId();
  /** Other tabs' word that the list changed (none where BroadcastChannel is missing). */
  private readonly changes: BroadcastChannel | null = typeof BroadcastChannel === 'function' ? new BroadcastChannel(CHANGES) : null;
  /** The kept conversation shown again; sending waits for it. */
  private readonly restored: Promise<void>;
  /** The conversation being read into the engine's cache (`warm`), or the last such read. */
  warming: Promise<void> | null = null;
  /** Stops that read (the person turned reading ahead off). */
  private warmStop: AbortController | null = null;

  constructor(
    private readonly client: JanusClient,
    private readonly hooks: ChatHooks,
  ) {
    $<HTMLFormElement>('composer').addEventListener('submit', (event) => {
      event.preventDefault();
      void this.send();
    });
    $('draw').addEventListener('click', () => void this.send(true));
    $('message').addEventListener('keydown', (event) => {
      // Enter sends, Shift+Enter is a new line.
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        void this.send();
      }
    });
    $('stop').addEventListener('click', () => this.stop?.abort());
    $('regenerate').addEventListener('click', () => void this.regenerate());
    $('continue').addEventListener('click', () => void this.continueReply());
    $('clear').addEventListener('click', () => this.clear());
    $('new-conversation').addEventListener('click', () => void this.startNew());
    $('export').addEventListener('click', () => void this.export());
    // Which conversations other tabs show: looked at again when another tab says the list
    // changed, when one lets a conversation go (ConversationClaim.watch), when the list is opened
    // and when the page comes back into view.
    this.changes?.addEventListener('message', () => void this.showHistory());
    $('history').addEventListener('toggle', () => void this.showHistory());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') void this.showHistory();
    });
    this.editing = new QuestionEdit({
      turns: () => this.turns,
      read: () => ({ text: $<HTMLTextAreaElement>('message').value, pictures: this.attached.pictures }),
      write: (draft) => {
        $<HTMLTextAreaElement>('message').value = draft.text;
        this.attached.set(draft.pictures);
      },
      changed: () => this.update(),
    });
    const keep = $<HTMLInputElement>('keep');
    keep.checked = readKeep();
    keep.addEventListener('change', () => void this.setKeep(keep.checked));
    const ahead = $<HTMLInputElement>('read-ahead');
    ahead.checked = readKeepChoice(READ_AHEAD_KEY);
    ahead.addEventListener('change', () => {
      writeKeepChoice(READ_AHEAD_KEY, ahead.checked);
      if (ahead.checked) this.warm();
      else this.warmStop?.abort();
    });
    this.update();
    this.restored = this.restore();
  }

  /**
   * Shows a kept conversation again, as it was left: the one this tab showed before a reload, else
   * the latest one no other tab shows, else none (a new conversation).
   */
  private async restore(): Promise<void> {
    if (!readKeep()) {
      void this.showHistory();
      return this.keepStatus('Not kept: this conversation ends with the page.');
    }
    const own = readShown();
    let id: string | null = own !== null && (await this.claim.take(own, true)) ? own : null;
    if (id === null) {
      const elsewhere = await ConversationClaim.elsewhere(null);
      const latest = (await this.kept.list()).find((c) => !elsewhere.has(c.id));
      if (latest !== undefined && (await this.claim.take(latest.id))) id = latest.id;
    }
    const turns = id === null ? [] : await this.kept.load(id);
    this.show(id ?? newKeptId(), turns);
    this.keepStatus(turns.length > 0 ? `Your last conversation, kept on this device (${messages(turns.length)}); Clear deletes it.` : 'Kept on this device; Clear deletes it.');
    await this.showHistory();
  }

  /** Shows conversation `id` (this tab's from now on) with `turns`, in place of the one shown. */
  private show(id: string, turns: KeptTurn[]): void {
    this.editing.cancel();
    this.id = id;
    // The other tabs' lists show it taken (they wait for it to be let go: ConversationClaim.watch).
    void this.claim.take(id).then((taken) => taken && this.changes?.postMessage('taken'));
    rememberShown(id);
    this.turns = [];
    $('messages').replaceChildren();
    this.attached.say([]);
    for (const kept of turns) {
      const turn = this.push(kept);
      if (kept.role === 'assistant') decorate(turn);
    }
    this.update();
    this.warm();
  }

  /**
   * Reads the conversation shown into the engine's cache while nothing else runs (it gives way
   * to any other call), so that the next question runs only itself: after the page or the
   * engine started again, and for a conversation opened from the list. `warming` is the read in
   * flight (a test awaits it). Not where the person turned it off (the settings' "Read a
   * conversation into the GPU"): on a shared or battery-powered machine that is GPU work they did
   * not ask for; the next question then reads the conversation.
   */
  warm(): void {
    const history = modelHistory(this.turns);
    if (history.length === 0 || this.stop !== null || !$<HTMLInputElement>('read-ahead').checked) return;
    this.warmStop?.abort();
    const stop = new AbortController();
    this.warmStop = stop;
    this.warming = this.client.prefill(history, { signal: stop.signal }).then(
      () => undefined,
      () => undefined, // stopped before it began, or failed: the next question reads it all
    );
  }

  /** Goes back to a kept conversation from the list, unless another tab shows it. */
  private async open(id: string): Promise<void> {
    if (this.stop !== null) return;
    if (!(await this.claim.take(id))) {
      this.keepStatus('That conversation is open in another tab: go on with it there.');
      return this.showHistory();
    }
    const turns = await this.kept.load(id);
    this.show(id, turns);
    this.keepStatus(`“${titleOf(turns)}”, kept on this device (${messages(turns.length)}).`);
    await this.showHistory();
  }

  /** A new, empty conversation; the one shown stays in the list. */
  private async startNew(): Promise<void> {
    if (this.stop !== null) return;
    this.show(newKeptId(), []);
    this.keepStatus(readKeep() ? 'A new conversation; the others are kept in the list.' : 'A new conversation.');
    await this.showHistory();
  }

  /** Deletes a kept conversation from the list (the one shown: as Clear does). */
  private async remove(id: string): Promise<void> {
    if (id === this.id) return this.clear();
    await this.kept.remove(id);
    this.changed();
  }

  /** The list of kept conversations, as the store has it now (none while nothing is kept). */
  private async showHistory(): Promise<void> {
    const keeping = $<HTMLInputElement>('keep').checked;
    $('history').hidden = !keeping;
    const shown = keeping ? await this.kept.list() : [];
    const elsewhere = await ConversationClaim.elsewhere(this.claim.id);
    // Shown as free again as soon as the other tab lets it go (a closed tab says nothing).
    this.claim.watch(keeping ? elsewhere : new Set(), () => void this.showHistory());
    renderHistory(shown, this.id, elsewhere, { open: (id) => void this.open(id), remove: (id) => void this.remove(id) });
  }

  /** The list changed here: show it, and tell the other tabs. */
  private changed(): void {
    void this.showHistory();
    this.changes?.postMessage('changed');
  }

  private async setKeep(keep: boolean): Promise<void> {
    writeKeepChoice(KEEP_KEY, keep);
    if (keep) {
      // Kept from now on: this tab's, as a conversation shown at the start is.
      await this.claim.take(this.id);
      rememberShown(this.id);
      return this.persist();
    }
    await this.kept.forget();
    this.changed();
    this.keepStatus('Not kept: conversations end with the page, and nothing of them is stored.');
  }

  /**
   * The conversation as it is now: a reply still being written is not in it yet, one being
   * continued is as it was before.
   */
  private settled(): KeptTurn[] {
    return this.turns
      .filter((t) => t.element.getAttribute('aria-busy') !== 'true' || t.before !== undefined)
      .map(({ element: _, before, ...kept }) => (before === undefined ? kept : { ...kept, content: before }));
  }

  /** Offers the conversation as a Markdown file (pictures in it). */
  private async export(): Promise<void> {
    const turns = this.settled();
    if (turns.length === 0) return;
    const title = titleOf(turns);
    saveBlob(new Blob([await conversationMarkdown(title, turns)], { type: 'text/markdown' }), exportName(title));
  }

  /** Stores the conversation as it is now, where the person keeps it. */
  private async persist(): Promise<void> {
    if (!$<HTMLInputElement>('keep').checked) return;
    // A reply still being written is kept once it ends.
    const turns = this.settled();
    const ok = await this.kept.save(this.id, turns);
    const outdated = !ok && this.kept.outdated;
    const refused = outdated ? newerPage('the conversations') : 'This browser would not store the conversation (a private window, or no room): it ends with the page.';
    sayWithReload($('keep-status'), ok ? `Kept on this device (${messages(turns.length)}); Clear deletes it.` : refused, outdated);
    this.changed();
  }

  private keepStatus(text: string): void {
    $('keep-status').textContent = text;
  }

  /**
   * A picture from elsewhere on the page (the gallery's "Ask about it") attached to the next
   * message, with the message box in view and focused for the question.
   */
  async ask(picture: File): Promise<void> {
    await this.attached.add([picture]);
    const input = $<HTMLTextAreaElement>('message');
    input.scrollIntoView({ block: 'center' });
    input.focus();
  }

  /**
   * The engine could not decode a picture of the last question (cut short, or damaged past its
   * header): that question and the failed reply leave the history, so that the next message is
   * not refused again; both stay on screen, marked.
   */
  private refuse(reply: Turn, error: JanusError): void {
    const before = this.turns.at(-2);
    const question = before?.role === 'user' ? before : undefined;
    this.turns = this.turns.filter((t) => t !== reply && t !== question);
    reply.element.remove();
    if (question !== undefined) {
      question.element.dataset.refused = 'true';
      question.element.querySelector('.edit')?.remove();
    }
    const { title, action } = humanError(error.code);
    const why = error.message.replace(/\.$/, '');
    this.attached.say([`${title} The engine says: ${why}.`, `Your message with it was left out of the conversation. ${action}`]);
  }

  private settings(): { temperature: number; topP: number; maxNewTokens: number; seed?: number } {
    const settings: { temperature: number; topP: number; maxNewTokens: number; seed?: number } = {
      temperature: numberIn('temperature', 0.7),
      topP: numberIn('top-p', 0.95),
      maxNewTokens: Math.round(numberIn('max-tokens', 512)),
    };
    const seed = $<HTMLInputElement>('seed').value.trim();
    if (seed !== '') settings.seed = Number(seed);
    return settings;
  }

  /** Sends the message; `/imagine …` or `draw` asks for a picture of it instead. */
  private async send(draw = false): Promise<void> {
    await Promise.all([this.attached.settled(), this.restored]);
    if (this.stop !== null) return;
    const input = $<HTMLTextAreaElement>('message');
    const text = input.value.trim();
    const prompt = draw ? (drawPrompt(text) ?? text) : drawPrompt(text);
    if (prompt !== null) {
      if (prompt === '') return input.focus();
      const draft = this.applyEdit();
      // Pictures attached stay for the next question: a drawing is made from words alone.
      this.push({ role: 'user', content: prompt, images: [], draw: true });
      input.value = draft?.text ?? '';
      if (draft !== null) this.attached.set(draft.pictures);
      return this.drawReply(prompt);
    }
    if (text === '' && this.attached.pictures.length === 0) return;
    const draft = this.applyEdit();
    this.push({ role: 'user', content: text, images: this.attached.pictures });
    this.attached.say([]);
    input.value = draft?.text ?? '';
    this.attached.set(draft?.pictures ?? []);
    await this.reply();
  }

  /**
   * Takes a question back into the message box to change it (chat-edit.ts): Send asks again from
   * there (the engine's kept cache holds what comes before, so only the question runs).
   */
  private edit(turn: Turn): void {
    if (this.stop !== null) return;
    this.editing.begin(turn, { text: turn.draw === true ? `/imagine ${turn.content}` : turn.content, pictures: [...turn.images] });
    this.attached.say([]);
    $('message').focus();
  }

  /** The edit being sent: the turns it replaces go; returns what the message box held before it. */
  private applyEdit(): Draft | null {
    const applied = this.editing.apply();
    if (applied === null) return null;
    this.turns = this.turns.slice(0, applied.at);
    return applied.draft;
  }

  private async regenerate(): Promise<void> {
    await this.restored;
    if (this.stop !== null) return;
    this.editing.cancel();
    const last = this.turns.at(-1);
    if (last?.role === 'assistant') {
      last.element.remove();
      this.turns.pop();
    }
    const asked = this.turns.at(-1);
    // A drawing is drawn again (with another seed unless one is set).
    if (asked?.draw === true) await this.drawReply(asked.content);
    else if (asked !== undefined) await this.reply();
  }

  /** The last reply, cut at its length or stopped, goes on from where it ended. */
  private async continueReply(): Promise<void> {
    await this.restored;
    this.editing.cancel();
    const last = this.turns.at(-1);
    if (this.stop === null && last !== undefined && continuable(last)) await this.reply(last);
  }

  private clear(): void {
    this.stop?.abort();
    this.editing.cancel();
    this.turns = [];
    $('messages').replaceChildren();
    this.attached.say([]);
    this.update();
    void this.kept.remove(this.id).then((ok) => {
      if (ok && $<HTMLInputElement>('keep').checked) this.keepStatus('Cleared: nothing of this conversation is kept.');
      this.changed();
    });
  }

  /**
   * Streams the assistant's answer to the conversation so far, or with `into` (the last reply)
   * what follows it: the engine goes on from a last message of the assistant's, and its kept
   * cache holds all of it.
   */
  private async reply(into?: Turn): Promise<void> {
    const history: ChatMessage[] = modelHistory(this.turns);
    const turn = into ?? this.push({ role: 'assistant', content: '', images: [] });
    const body = turn.element.querySelector<HTMLElement>('.content');
    if (body === null) return;
    const before = turn.content;
    if (into !== undefined) {
      turn.before = before;
      delete turn.stopped;
      delete turn.cut;
    }
    let frame = 0;
    const asked = performance.now();
    let first: number | null = null;
    // A long prompt's passes, said under the reply until its first piece.
    let reading: HTMLElement | null = null;
    const onPrompt = (read: number, total: number): void => {
      if (reading === null) {
        reading = document.createElement('p');
        reading.className = 'reading';
        body.after(reading);
      }
      reading.textContent = readingLine(read, total, (performance.now() - asked) / 1000);
    };
    const work = async (signal: AbortSignal): Promise<void> => {
      const stream = this.client.chat(history, { ...this.settings(), signal, onPrompt });
      for await (const piece of stream) {
        first ??= performance.now();
        reading?.remove();
        turn.content += piece;
        if (frame === 0) {
          frame = requestAnimationFrame(() => {
            frame = 0;
            body.innerHTML = renderMarkdown(turn.content);
          });
        }
      }
      const result = await stream.result;
      turn.content = before + result.text;
      if (result.stop === 'cancelled') turn.stopped = true;
      if (result.stop === 'max_tokens') turn.cut = true;
      const stats = replyStats(result, asked, first ?? performance.now(), performance.now());
      turn.stats = into === undefined ? stats : `continued: ${stats}`;
    };
    await this.answer(turn, work, () => {
      reading?.remove();
      cancelAnimationFrame(frame);
      body.innerHTML = renderMarkdown(turn.content);
      delete turn.before;
    });
  }

  /**
   * Janus's turn is a picture of `prompt`: drawn with the Create section's guidance and
   * temperature and the chat's seed when one is set, its rows shown as they are decoded.
   */
  private async drawReply(prompt: string): Promise<void> {
    const turn = this.push({ role: 'assistant', content: '', images: [], draw: true });
    const body = turn.element.querySelector<HTMLElement>('.content');
    if (body === null) return;
    const preview = document.createElement('div');
    preview.className = 'preview';
    body.before(preview);
    const started = performance.now();
    const work = async (signal: AbortSignal): Promise<void> => {
      // The chat's seed; the guidance and temperature of the Create section.
      const { seed } = this.settings();
      const sampling = this.hooks.drawing();
      const say = (text: string): void => void (body.textContent = text);
      const drawn = await drawOne(this.client, prompt, { ...sampling, ...(seed === undefined ? {} : { seed }), signal }, say, preview);
      if (drawn === null) {
        turn.stopped = true;
      } else {
        turn.images = [drawn.png];
        turn.seed = drawn.seed;
        const seconds = ((performance.now() - started) / 1000).toFixed(1);
        turn.stats = `seed ${drawn.seed} · guidance ${sampling.cfgWeight} · temperature ${sampling.temperature} · ${drawn.tokens} image tokens in ${seconds} s`;
      }
    };
    await this.answer(turn, work, () => {
      preview.remove(); // never started (the conversation could not be kept first)
      body.textContent = '';
      showPictures(turn, prompt);
    });
  }

  /**
   * The frame of every answer, words or a picture: `turn` is busy and Stop ends it while `work`
   * fills it in, then `shown` puts what it holds on screen. The conversation is kept before the
   * work starts (a crash during it leaves the conversation as it was asked, without a reply that
   * replaces one) and again after.
   */
  private async answer(turn: Turn, work: (signal: AbortSignal) => Promise<void>, shown: () => void): Promise<void> {
    turn.element.setAttribute('aria-busy', 'true');
    this.stop = new AbortController();
    const { signal } = this.stop;
    this.update();
    try {
      await this.persist();
      await work(signal);
    } catch (error) {
      const janus = toJanusError(error);
      if (janus.code === 'bad-image') {
        this.refuse(turn, janus);
      } else if (janus.code === 'aborted') {
        // Stopped (or cleared) before the engine took the request: nothing to say.
        turn.stopped = true;
      } else {
        this.hooks.onError(error);
        turn.failed = true;
      }
    } finally {
      shown();
      decorate(turn);
      turn.element.removeAttribute('aria-busy');
      this.stop = null;
      this.update();
      void this.persist();
    }
  }

  /** Shows a message (a kept one with its marks and figures) at the end of the conversation. */
  private push(message: KeptTurn): Turn {
    const { role, content } = message;
    const element = document.createElement('li');
    element.className = `turn ${role}`;
    if (message.draw === true) element.dataset.draw = 'true';
    const who = document.createElement('p');
    who.className = 'who';
    who.textContent = role === 'user' ? 'You' : 'Janus';
    const body = document.createElement('div');
    body.className = 'content';
    if (role === 'user') body.textContent = content;
    else body.innerHTML = renderMarkdown(content);
    element.append(who, body);
    const turn: Turn = { ...message, element };
    // A drawing follows its request.
    showPictures(turn, this.turns.at(-1)?.content);
    if (role === 'assistant' && message.draw === true) {
      const save = (): void => {
        const png = turn.images[0];
        if (png !== undefined) saveBlob(png, `janus-${turn.seed ?? 'picture'}.png`);
      };
      element.append(button('Download PNG', save, { className: 'copy', label: 'Download this picture as PNG' }));
    } else if (role === 'assistant') {
      const copy = button('Copy', () => {
        void navigator.clipboard?.writeText(turn.content).then(
          () => (copy.textContent = 'Copied'),
          () => (copy.textContent = 'Copy failed'),
        );
      }, { className: 'copy', label: 'Copy this reply' });
      element.append(copy);
    } else {
      element.append(button('Edit', () => this.edit(turn), { className: 'edit', label: 'Edit this message and ask again from it' }));
    }
    $('messages').append(element);
    this.turns.push(turn);
    element.scrollIntoView({ block: 'end' });
    return turn;
  }

  /** The buttons as the conversation and the work now allow. */
  private update(): void {
    const busy = this.stop !== null;
    for (const edit of document.querySelectorAll<HTMLButtonElement>('#messages .edit')) edit.disabled = busy;
    $<HTMLButtonElement>('send').disabled = busy;
    $<HTMLButtonElement>('draw').disabled = busy;
    $('stop').hidden = !busy;
    $<HTMLButtonElement>('regenerate').disabled = busy || this.turns.length === 0;
    const last = this.turns.at(-1);
    $<HTMLButtonElement>('continue').disabled = busy || last === undefined || !continuable(last);
    $<HTMLButtonElement>('clear').disabled = this.turns.length === 0;
    $<HTMLButtonElement>('new-conversation').disabled = busy || this.turns.length === 0;
    $<HTMLButtonElement>('export').disabled = this.turns.length === 0;
  }
}

function messages(n: number): string {
  return `${n} ${n === 1 ? 'message' : 'messages'}`;
}

function rememberShown(id: string): void {
  try {
    sessionStorage.setItem(SHOWN_KEY, id);
  } catch {
    // No sessionStorage (a sandboxed frame): a reload shows the latest conversation.
  }
}

function readShown(): string | null {
  try {
    return sessionStorage.getItem(SHOWN_KEY);
  } catch {
    return null;
  }
}

function readKeep(): boolean {
  return readKeepChoice(KEEP_KEY);
}
