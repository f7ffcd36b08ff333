// The pictures attached to the next message: by the Attach button, drag-and-drop onto the
// message form, or paste into the message box. Every file is looked at before it is taken (a
// name ending .png proves nothing: picture.ts reads its header); one that is not a usable
// picture is refused with a sentence saying why, under the attachments. The conversation
// (chat.ts) takes the pictures with the message.

import { button, byId } from './dom.js';
import { describeProblem, inspectPicture } from './picture.js';
import { thumbnail } from './chat-turn.js';

export class AttachedPictures {
  private list: Blob[] = [];
  /** The files being looked at: a send waits for them, so that a picture just dropped goes along. */
  private looking: Promise<void> = Promise.resolve();
  /** Why pictures were refused, under the attachments (made here: index.html has no place for it). */
  private readonly problems: HTMLElement;

  constructor() {
    this.problems = document.createElement('div');
    this.problems.id = 'attach-problem';
    this.problems.className = 'problem';
    this.problems.setAttribute('role', 'alert');
    this.problems.hidden = true;
    byId('attachments').after(this.problems);
    byId<HTMLInputElement>('attach').addEventListener('change', (event) => {
      const input = event.target as HTMLInputElement;
      void this.add([...(input.files ?? [])]);
      input.value = '';
    });
    const form = byId<HTMLFormElement>('composer');
    form.addEventListener('dragover', (event) => {
      event.preventDefault();
      form.classList.add('dropping');
    });
    form.addEventListener('dragleave', () => form.classList.remove('dropping'));
    form.addEventListener('drop', (event) => {
      event.preventDefault();
      form.classList.remove('dropping');
      void this.add([...(event.dataTransfer?.files ?? [])]);
    });
    byId('message').addEventListener('paste', (event) => {
      const files = [...(event.clipboardData?.files ?? [])];
      if (files.length > 0) {
        event.preventDefault();
        void this.add(files);
      }
    });
  }

  /** The pictures attached now, in order. */
  get pictures(): Blob[] {
    return this.list;
  }

  /** The pictures attached from now on are `pictures` (none: the message box is emptied). */
  set(pictures: Blob[]): void {
    this.list = pictures;
    this.render();
  }

  /** Attaches the files that are usable pictures; says why about each one that is not. */
  add(files: File[]): Promise<void> {
    this.looking = this.looking.then(() => this.admit(files));
    return this.looking;
  }

  /** Resolves once every file given so far has been looked at. */
  settled(): Promise<void> {
    return this.looking;
  }

  /** Shows (or with nothing to say, hides) why pictures were refused. */
  say(problems: string[]): void {
    this.problems.replaceChildren(...problems.map((text) => Object.assign(document.createElement('p'), { textContent: text })));
    this.problems.hidden = problems.length === 0;
  }

  private async admit(files: File[]): Promise<void> {
    const refused: string[] = [];
    for (const file of files) {
      const check = await inspectPicture(file).catch(() => ({ ok: false, problem: 'not-a-picture' }) as const);
      if (check.ok) this.list.push(file);
      else refused.push(describeProblem(file.name || 'The file', check));
    }
    this.say(refused);
    this.render();
  }

  private render(): void {
    byId<HTMLUListElement>('attachments').replaceChildren(
      ...this.list.map((blob, i) => {
        const item = document.createElement('li');
        item.append(thumbnail(blob, `attached picture ${i + 1}`));
        const remove = button(
          '×',
          () => {
            this.list.splice(i, 1);
            this.render();
          },
          { label: `Remove attached picture ${i + 1}` },
        );
        item.append(remove);
        return item;
      }),
    );
  }
}
