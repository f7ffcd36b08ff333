// ChatStream: the text pieces of one reply as an async iterable, plus the final result.
//
// Pieces are kept for the stream's lifetime (a reply is small), so every iterator sees the whole
// reply from its first piece, whenever it starts. The pieces add up to `result.text`. Iteration ends when the reply ends; it throws the
// request's JanusError if it failed. A cancelled reply ends normally: `result.stop === 'cancelled'`.

import type { JanusError } from './errors.js';
import type { ChatResult } from './types.js';

export interface ChatStream extends AsyncIterable<string> {
  /** Resolves when the reply ends (also when cancelled); rejects with a JanusError on failure. */
  readonly result: Promise<ChatResult>;
}

type State = { kind: 'open' } | { kind: 'done' } | { kind: 'failed'; error: JanusError };

/** The producer side, driven by the client as worker messages arrive. */
export class PieceStream implements ChatStream {
  readonly result: Promise<ChatResult>;
  private readonly pieces: string[] = [];
  private state: State = { kind: 'open' };
  /** Iterators waiting for the next piece or the end. */
  private waiters: (() => void)[] = [];
  private settle!: { resolve: (result: ChatResult) => void; reject: (error: JanusError) => void };

  constructor() {
    this.result = new Promise<ChatResult>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    // Callers that only iterate must not see an "unhandled rejection" for `result`.
    this.result.catch(() => undefined);
  }

  push(piece: string): void {
    if (this.state.kind !== 'open') return;
    this.pieces.push(piece);
    this.wake();
  }

  finish(result: ChatResult): void {
    if (this.state.kind !== 'open') return;
    // The engine streams a token's text once its bytes form whole UTF-8 characters; a reply that
    // stops inside a character has that tail only in `text` (as U+FFFD). Stream it too, so that
    // the pieces always add up to `text`.
    const streamed = this.pieces.join('');
    if (result.text.length > streamed.length && result.text.startsWith(streamed)) {
      this.pieces.push(result.text.slice(streamed.length));
    }
    this.state = { kind: 'done' };
    this.settle.resolve(result);
    this.wake();
  }

  fail(error: JanusError): void {
    if (this.state.kind !== 'open') return;
    this.state = { kind: 'failed', error };
    this.settle.reject(error);
    this.wake();
  }

  [Symbol.asyncIterator](): AsyncIterator<string> {
    let next = 0;
    return {
      next: async (): Promise<IteratorResult<string>> => {
        for (;;) {
          const piece = this.pieces[next];
          if (piece !== undefined) {
            next += 1;
            return { done: false, value: piece };
          }
          if (this.state.kind === 'done') return { done: true, value: undefined };
          if (this.state.kind === 'failed') throw this.state.error;
          await new Promise<void>((resolve) => this.waiters.push(resolve));
        }
      },
    };
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
