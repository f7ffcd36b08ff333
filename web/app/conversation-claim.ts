// Which tab has a conversation open: each tab holds a Web Lock named after the conversation it
// shows, for as long as it shows it, so that two tabs never write the same kept conversation
// (the last save would undo the other's turns). The browser lets a lock go when its tab closes or
// crashes. Where there are no Web Locks (an insecure context), every tab may open every
// conversation, and the last save wins.

const PREFIX = 'janus-conversation:';

/**
 * How long a tab waits for the conversation it showed before a reload (the old page's lock goes
 * as it unloads); a duplicated tab, whose original still shows it, then starts a new one.
 */
const OWN_WAIT_MS = 3000;

export class ConversationClaim {
  private release: (() => void) | null = null;
  private held: string | null = null;
  /** Other tabs' conversations watched for (`watch`), each with what stops its watch. */
  private readonly watching = new Map<string, AbortController>();

  /** The conversation this tab holds, if any. */
  get id(): string | null {
    return this.held;
  }

  /**
   * Holds `id` for this tab, then lets go of the one held before; false where another tab holds
   * it (the one held before is kept). `wait`: wait a moment for it (the tab's own conversation
   * across a reload).
   */
  async take(id: string, wait = false): Promise<boolean> {
    if (this.held === id) return true;
    const locks = webLocks();
    let release: (() => void) | null = null;
    if (locks !== undefined) {
      release = await new Promise<(() => void) | null>((resolve) => {
        const options: LockOptions = wait ? { signal: AbortSignal.timeout(OWN_WAIT_MS) } : { ifAvailable: true };
        locks
          .request(`${PREFIX}${id}`, options, (lock) => {
            if (lock === null) {
              resolve(null);
              return undefined;
            }
            // Held until the tab takes another conversation (or goes).
            return new Promise<void>((done) => resolve(done));
          })
          .catch(() => resolve(null));
      });
      if (release === null) return false;
    }
    this.release?.();
    this.release = release;
    this.held = id;
    return true;
  }

  /**
   * Calls `onFree` as soon as one of `ids` (conversations other tabs show) is let go: the tab
   * closed, crashed or showed another. A closing tab says nothing, but its locks go; a shared
   * request for each waits behind the other tab's and, once granted, lets go at once. Watches on
   * conversations no longer in `ids` stop.
   */
  watch(ids: ReadonlySet<string>, onFree: () => void): void {
    const locks = webLocks();
    if (locks === undefined) return;
    for (const [id, stop] of this.watching) {
      if (!ids.has(id)) {
        this.watching.delete(id);
        stop.abort();
      }
    }
    for (const id of ids) {
      if (this.watching.has(id)) continue;
      const stop = new AbortController();
      this.watching.set(id, stop);
      const done = (): void => {
        if (this.watching.get(id) === stop) this.watching.delete(id);
      };
      locks
        .request(`${PREFIX}${id}`, { mode: 'shared', signal: stop.signal }, () => {
          done();
          onFree();
          return undefined;
        })
        .catch(done);
    }
  }

  /**
   * The conversations other tabs hold, or are about to (a reloaded tab waiting for its own, whose
   * old page just let it go); none known without Web Locks. Watches (shared) are not holding.
   */
  static async elsewhere(mine: string | null): Promise<Set<string>> {
    const locks = webLocks();
    if (locks === undefined) return new Set();
    try {
      const { held = [], pending = [] } = await locks.query();
      const taking = [...held, ...pending].filter((lock) => lock.mode === 'exclusive');
      const ids = taking.map((lock) => lock.name ?? '').filter((name) => name.startsWith(PREFIX)).map((name) => name.slice(PREFIX.length));
      return new Set(ids.filter((id) => id !== mine));
    } catch {
      return new Set();
    }
  }
}

/** The Web Locks API, where there is one (not in an insecure context). */
function webLocks(): LockManager | undefined {
  return typeof navigator === 'undefined' ? undefined : navigator.locks;
}
