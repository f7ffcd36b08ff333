// The weight store in memory: for contexts without IndexedDB (some private modes, storage
// disabled) the download still works for this session, and for unit tests of the downloader.

import type { ChunkStore, FileRecord, ModelRecord, StoredChunk } from './records.js';

export class MemoryChunkStore implements ChunkStore {
  readonly kind = 'memory' as const;
  private readonly models = new Map<string, ModelRecord>();
  private readonly files = new Map<string, FileRecord>();
  private readonly chunks = new Map<string, Map<number, StoredChunk>>();

  async getModel(key: string): Promise<ModelRecord | null> {
    return clone(this.models.get(key)) ?? null;
  }

  async putModel(record: ModelRecord): Promise<void> {
    this.models.set(record.key, clone(record));
  }

  async listModels(): Promise<ModelRecord[]> {
    return [...this.models.values()].map((record) => clone(record));
  }

  async deleteModel(key: string): Promise<void> {
    for (const file of [...this.files.values()]) {
      if (file.model === key) await this.deleteFile(file.key);
    }
    this.models.delete(key);
  }

  async getFile(key: string): Promise<FileRecord | null> {
    return clone(this.files.get(key)) ?? null;
  }

  async putFile(record: FileRecord): Promise<void> {
    this.files.set(record.key, clone(record));
  }

  async deleteFile(key: string): Promise<void> {
    this.files.delete(key);
    this.chunks.delete(key);
  }

  async chunkIndices(file: string): Promise<number[]> {
    return [...(this.chunks.get(file)?.keys() ?? [])].sort((a, b) => a - b);
  }

  async getChunk(file: string, index: number): Promise<StoredChunk | null> {
    const chunk = this.chunks.get(file)?.get(index);
    return chunk === undefined ? null : structuredClone(chunk);
  }

  async putChunk(file: string, index: number, chunk: StoredChunk): Promise<void> {
    let chunks = this.chunks.get(file);
    if (chunks === undefined) {
      chunks = new Map();
      this.chunks.set(file, chunks);
    }
    chunks.set(index, structuredClone(chunk));
  }

  async deleteChunks(file: string, from: number): Promise<void> {
    const chunks = this.chunks.get(file);
    if (chunks === undefined) return;
    for (const index of [...chunks.keys()]) if (index >= from) chunks.delete(index);
  }

  async deleteChunk(file: string, index: number): Promise<void> {
    this.chunks.get(file)?.delete(index);
  }

  close(): void {}
}

function clone<T>(value: T): T {
  return value === undefined ? value : structuredClone(value);
}
