// The list of conversations kept on this device: each one's title, size and date, a button that
// opens it and one that deletes it. The one shown is marked; one another tab shows cannot be
// opened or deleted here (conversation-claim.ts). What the buttons do is the chat's (chat.ts).

import { button, byId } from './dom.js';
import type { ConversationSummary } from './kept-conversations.js';

export interface HistoryActions {
  open(id: string): void;
  remove(id: string): void;
}

export function renderHistory(list: readonly ConversationSummary[], current: string, elsewhere: ReadonlySet<string>, actions: HistoryActions): void {
  byId('history-count').textContent = String(list.length);
  byId<HTMLUListElement>('conversations').replaceChildren(
    ...list.map((c) => {
      const item = document.createElement('li');
      item.dataset.id = c.id;
      const here = c.id === current;
      const away = elsewhere.has(c.id);
      if (here) item.setAttribute('aria-current', 'true');
      const open = button(c.title, () => actions.open(c.id), { className: 'open', label: `Open “${c.title}”` });
      open.disabled = here || away;
      const facts = document.createElement('span');
      facts.className = 'facts';
      const when = new Date(c.savedAt).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
      const where = here ? ' · shown here' : away ? ' · open in another tab' : '';
      facts.textContent = `${c.messages} ${c.messages === 1 ? 'message' : 'messages'} · ${when}${where}`;
      const remove = button('Delete', () => actions.remove(c.id), { className: 'delete secondary', label: `Delete “${c.title}”` });
      remove.disabled = away;
      item.append(open, facts, remove);
      return item;
    }),
  );
}
