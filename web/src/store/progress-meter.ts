// A model's download progress: per-file byte counts summed into one figure, with a rate over
// the last few seconds and the time left at that rate.

import type { DownloadProgress } from './model-cache.js';

/**
 * Aggregates per-file progress into model progress with a rate over the last seconds. Files may
 * download side by side (a streamed load's small shards, fetched whole beside the headers).
 */
export class ProgressMeter {
  total = 0;
  private doneFiles = 0;
  /** Files downloading now: bytes verified of each. */
  private readonly current = new Map<string, { done: number; total: number }>();
  /** The file last reported. */
  private latest = { file: '', done: 0, total: 0 };
  private samples: Array<{ at: number; bytes: number }> = [];
  private lastEmit = 0;

  constructor(private readonly sink: ((progress: DownloadProgress) => void) | undefined) {}

  file(file: string, done: number, total: number): void {
    const fresh = !this.current.has(file);
    this.current.set(file, { done, total });
    this.latest = { file, done, total };
    const now = performance.now();
    // The first report of a file is what was already stored: not network speed.
    if (fresh) this.samples = [];
    this.samples.push({ at: now, bytes: this.bytes() });
    while (this.samples.length > 2 && now - (this.samples[0]?.at ?? now) > 5000) this.samples.shift();
    if (now - this.lastEmit >= 100 || done === total) this.emit(now);
  }

  fileDone(file: string, size: number): void {
    this.current.delete(file);
    this.doneFiles += size;
    // Reported again with every file counted: side by side, a file's last event came before
    // the others' were counted as done.
    if (this.latest.file === file) this.latest = { file, done: 0, total: 0 };
    this.emit(performance.now());
  }

  private bytes(): number {
    let bytes = this.doneFiles;
    for (const { done } of this.current.values()) bytes += done;
    return bytes;
  }

  private emit(now: number): void {
    if (this.sink === undefined) return;
    this.lastEmit = now;
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    const seconds = first !== undefined && last !== undefined ? (last.at - first.at) / 1000 : 0;
    const rate = seconds > 0.2 && first !== undefined && last !== undefined ? (last.bytes - first.bytes) / seconds : 0;
    const bytes = this.bytes();
    const total = Math.max(this.total, bytes);
    this.sink({
      phase: 'download',
      file: this.latest.file,
      fileBytes: this.latest.done,
      fileTotal: this.latest.total,
      bytes,
      total,
      rate,
      etaSeconds: rate > 0 ? (total - bytes) / rate : null,
    });
  }
}
