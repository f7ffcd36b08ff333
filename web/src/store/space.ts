// How much of a model's download must sit in the store at once, and whether that fits.
//
// A quantised first load (`quant`) downloads the bf16 checkpoint, writes its pack while loading
// and then releases the download (worker-load.ts). Stored whole, the download and the pack are in
// the store together at the end: Janus-Pro-7B's 13.8 GiB of shards and 4.0 GiB of pack, against
// quotas of 10 GiB (Firefox's best-effort storage; Chromium on this project's CI machine). Shard
// by shard, only one shard is stored at a time beside the pack (model-cache.ts fetches each
// shard's header first, store-reader.ts fetches a shard when the engine reaches it and releases
// the one before), so the 7B needs about 4.0 + 4.0 GiB. Whole stays the default where it fits:
// a download cut off by a closed tab resumes from its stored chunks, while shard by shard
// starts the pack again.

/** Bytes the rest of a load needs in the store. */
export interface SpaceNeeds {
  /** The rest of the download, every file whole. */
  download: number;
  /** The pack the load writes (estimated), 0 where it writes none. */
  pack: number;
  /**
   * Shard by shard: the small files, each shard's first chunk, the largest shard and the pack;
   * null where that saves nothing (a model in one file) or no pack is written.
   */
  byShard: number | null;
}

/** Shard by shard: true always (least space), false never, 'auto' only where whole does not fit. */
export type ShardMode = boolean | 'auto';

export type SpacePlan = { kind: 'whole' } | { kind: 'shards' } | { kind: 'refuse'; needed: number };

/**
 * Whole where the download and the pack fit (or nothing is known of the room); else shard by
 * shard where that fits; else whole where the download alone fits (the pack then fails to store
 * and the model still loads, as before shard-by-shard loads existed); else refused.
 */
export function planSpace(needs: SpaceNeeds, free: number | null, mode: ShardMode): SpacePlan {
  const fits = (bytes: number): boolean => free === null || bytes <= free;
  const { byShard } = needs;
  if (byShard !== null && mode === true) return fits(byShard) ? { kind: 'shards' } : { kind: 'refuse', needed: byShard };
  if (byShard === null || mode === false) return fits(needs.download) ? { kind: 'whole' } : { kind: 'refuse', needed: needs.download };
  if (fits(needs.download + needs.pack)) return { kind: 'whole' };
  if (fits(byShard)) return { kind: 'shards' };
  if (fits(needs.download)) return { kind: 'whole' };
  return { kind: 'refuse', needed: Math.min(needs.download, byShard) };
}

/**
 * A pack's size from its bf16 checkpoint's: 4.5 bits per weight of the quantised matrices
 * (codes and an f16 scale per 32) against 16, the rest as stored. Janus-1.3B's q4 pack is 0.294
 * of its checkpoint and Janus-Pro-7B's 0.287 (BENCHMARKS.md, "Download size: packs"); q8 (8.5
 * bits) about 0.55. Rounded up: an estimate that is short could choose a plan that runs out.
 */
export function packEstimate(checkpointBytes: number, quant: 'q4' | 'q8'): number {
  return Math.ceil(checkpointBytes * (quant === 'q4' ? 0.31 : 0.56));
}
