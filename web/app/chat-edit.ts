// Edit: a question taken back into the message box to be changed. Nothing is lost before the
// changed question is sent: the question and the turns after it stay in the conversation (and
// in its kept copy), marked as about to be replaced, and what the message box held is put aside.
// Sending the edit replaces them (apply); Cancel edit or Esc leaves them and puts the message box
// back (cancel). One edit at a time: a second Edit cancels the first. The conversation (chat.ts)
// owns the turns; this owns the marks, the "Editing" note and the message box put aside.

import { byId } from './dom.js';
import type { Turn } from './chat-turn.js';

/** What the message box holds: its text and the pictures attached. */
export interface Draft {
  text: string;
  pictures: Blob[];
}

/** The conversation, as far as an edit needs it. */
export interface EditHost {
  /** The turns shown, in order. */
  turns(): readonly Turn[];
  /** The message box now. */
  read(): Draft;
  /** The message box from now on. */
  write(draft: Draft): void;
  /** Something an edit changed: the buttons' states follow. */
  changed(): void;
}

export class QuestionEdit {
  private editing: { turn: Turn; draft: Draft } | null = null;

  constructor(private readonly host: EditHost) {
    byId('cancel-edit').addEventListener('click', () => this.cancel());
    byId('message').addEventListener('keydown', (event) => {
      if (event.key === 'Escape') this.cancel();
    });
  }

  /** Whether a question is being edited. */
  get active(): boolean {
    return this.editing !== null;
  }

  /**
   * Takes `turn` (a question of the conversation) back into the message box as `question`; it
   * and the turns after it are marked as about to be replaced.
   */
  begin(turn: Turn, question: Draft): void {
    const turns = this.host.turns();
    if (!turns.includes(turn)) return;
    this.cancel();
    this.editing = { turn, draft: this.host.read() };
    for (const later of turns.slice(turns.indexOf(turn))) later.element.dataset.replacing = 'true';
    this.host.write(question);
    this.note(true);
  }

  /** Leaves the question being edited and what followed it, and puts the message box back. */
  cancel(): void {
    const editing = this.editing;
    if (editing === null) return;
    this.editing = null;
    for (const turn of this.host.turns()) delete turn.element.dataset.replacing;
    this.host.write(editing.draft);
    this.note(false);
  }

  /**
   * The changed question is being sent: the one it replaces and the turns after it leave the
   * page. Returns where they began (the conversation keeps the turns before it) and what the
   * message box held before the edit; null when nothing was being edited.
   */
  apply(): { at: number; draft: Draft } | null {
    const editing = this.editing;
    if (editing === null) return null;
    this.editing = null;
    const turns = this.host.turns();
    // Always found: whatever takes turns away (Clear, another conversation) cancels first.
    const at = turns.includes(editing.turn) ? turns.indexOf(editing.turn) : turns.length;
    for (const later of turns.slice(at)) later.element.remove();
    this.note(false);
    return { at, draft: editing.draft };
  }

  private note(shown: boolean): void {
    byId('editing').hidden = !shown;
    byId('cancel-edit').hidden = !shown;
    this.host.changed();
  }
}
