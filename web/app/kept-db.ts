// One IndexedDB database of what the page keeps on this device (conversations, images): opened
// on first use and again after a failure, written in the order writes were asked for, deleted
// whole when the person stops keeping. Keeping is best effort: a read where the store fails (a
// private window, a full disk) finds nothing, and a write says it did not keep.

import { deleteDB, openDB, type DBSchema, type IDBPDatabase, type OpenDBCallbacks } from 'idb';

export class KeptDatabase<Schema extends DBSchema> {
  private db: Promise<IDBPDatabase<Schema>> | null = null;
  /** The last open failed because the database is at a newer version (a newer page's, in another tab). */
  private superseded = false;
  /** Writes in the order they were asked for: a delete after a save is never undone by it. */
  private writes: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly name: string,
    private readonly version: number,
    private readonly upgrade: NonNullable<OpenDBCallbacks<Schema>['upgrade']>,
  ) {}

  /**
   * A newer version of the page, in another tab, upgraded the database past this page's
   * version: this page can neither read nor write it until it is reloaded.
   */
  get outdated(): boolean {
    return this.superseded;
  }

  /** What `run` reads, or `fallback` where the store fails. */
  async read<T>(run: (db: IDBPDatabase<Schema>) => Promise<T>, fallback: T): Promise<T> {
    try {
      return await run(await this.open());
    } catch {
      return fallback;
    }
  }

  /** Runs `run` after the writes asked for before it; false where it failed. */
  write(run: (db: IDBPDatabase<Schema>) => Promise<void>): Promise<boolean> {
    return this.queue(async () => run(await this.open()));
  }

  /** Deletes the whole database: what "do not keep" asks for. */
  forget(): Promise<boolean> {
    return this.queue(async () => {
      const open = this.db;
      this.db = null;
      (await open?.catch(() => null))?.close();
      await deleteDB(this.name);
    });
  }

  private queue(run: () => Promise<void>): Promise<boolean> {
    const done = this.writes.then(run);
    this.writes = done.catch(() => undefined);
    return done.then(
      () => true,
      () => false,
    );
  }

  private open(): Promise<IDBPDatabase<Schema>> {
    if (typeof indexedDB === 'undefined') return Promise.reject(new Error('no IndexedDB'));
    const forget = (): void => {
      this.db = null;
    };
    this.db ??= openDB<Schema>(this.name, this.version, {
      upgrade: this.upgrade,
      blocking(_current, _next, event) {
        // Another tab deletes the database ("do not keep") or upgrades it: let it, and reopen
        // on next use.
        (event.target as IDBDatabase).close();
        forget();
      },
      terminated: forget,
    });
    // A failed open is tried again next time (the store may work later).
    this.db.then(
      () => (this.superseded = false),
      (error: unknown) => {
        this.db = null;
        this.superseded = error instanceof DOMException && error.name === 'VersionError';
      },
    );
    return this.db;
  }
}

/** What a page says where a newer page upgraded the database that keeps `what` (see `outdated`). */
export function newerPage(what: string): string {
  return `A newer version of this page, open in another tab, now keeps ${what}: reload this tab to go on keeping them here.`;
}

/** A new id for a kept thing (a conversation, an image). */
export function newKeptId(): string {
  return typeof crypto.randomUUID === 'function' ? crypto.randomUUID() : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}
