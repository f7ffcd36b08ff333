//! `janus pack`: a checkpoint rewritten as a *pack* (read by [`super::packed`]) — the canonical
//! tensors, quantisable matrices already quantised into the GPU's row layout, in safetensors
//! shards of at most [`DEFAULT_SHARD_BYTES`], with an index and a manifest of sizes and SHA-256.
//! A host serves it as static files; a page loads it with no quantising and a quarter of the
//! bf16 download.
//!
//! The layout comes first, from sizes alone (which rows of which tensor go to which shard, so
//! shard names can say `-of-N` and the index is written before any tensor); then the reads are
//! converted as they arrive, whole or in row parts, straight into the shard that holds them
//! (rows arrive in the shards' order), and each shard is handed out as soon as its rows are
//! there. Host memory holds one read, its converted rows, and one shard. The same writer runs
//! in `janus pack` and in the browser while a model loads.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::READ_PART_BYTES;
use super::incoming::CHUNK_VALUES;
use super::index::INDEX_FILE;
use super::manifest::{MANIFEST_FILE, MANIFEST_FORMAT, PackFile, PackManifest};
use super::packed::{PACK_KEY, PACK_VERSION, QUANT_KEY, part_name, stored_row};
use super::plan::{LoadPlan, TensorRead};
use super::safetensors::{StoredDtype, decode_f32};
use super::source::ByteSource;
use super::spec::Placement;
use crate::error::{SourceError, WeightsError};
use crate::quant::{QuantFormat, quantize};
use crate::{CONFIG_FILE, TOKENIZER_FILE};

/// The largest shard by default: 64 MiB, which CDNs cache whole and a browser fetches in one go.
pub const DEFAULT_SHARD_BYTES: u64 = 64 << 20;
/// Header bytes allowed per tensor entry beyond its name (dtype, a shape of up to two 20-digit
/// numbers, two 20-digit offsets and the JSON around them fit in 160).
const ENTRY_HEADER_BYTES: u64 = 160;
/// Header bytes for the 8-byte prefix, braces, `__metadata__` and padding.
const SHARD_OVERHEAD: u64 = 256;

/// Where a pack's files go: `(file name, bytes)`.
pub type WriteFile<'a> = dyn FnMut(&str, &[u8]) -> Result<(), SourceError> + 'a;

/// What to write.
#[derive(Clone, Debug)]
pub struct PackOptions {
    pub format: QuantFormat,
    /// Largest shard file (header included).
    pub shard_bytes: u64,
    /// Where it came from, for the manifest (a repository id or folder).
    pub source_name: String,
}

/// What was written.
#[derive(Clone, Debug)]
pub struct PackReport {
    pub manifest: PackManifest,
    /// Canonical tensors written, and how many were cut into row parts.
    pub tensors: usize,
    pub split_tensors: usize,
    pub quantized_tensors: usize,
    /// Bytes of the source's tensor data that were read.
    pub source_bytes: u64,
}

/// One canonical tensor as the pack stores it.
struct Item {
    name: String,
    dtype: StoredDtype,
    /// Stored shape of one row (`[]` for a vector's elements or a scalar).
    row: Vec<usize>,
    rows: usize,
    row_bytes: u64,
    scalar: bool,
    packed: Option<QuantFormat>,
}

/// Converted rows of one item not yet in a shard: `data[at..]`, from item row `row` on.
struct Pending {
    item: usize,
    row: usize,
    data: Vec<u8>,
    at: usize,
}

/// The shard being written: its header, then its entries' rows as they arrive.
struct Filling {
    bytes: Vec<u8>,
    /// The entry rows go to next, and how many of its rows are in.
    entry: usize,
    rows: usize,
}

/// Rows `first..first + rows` of item `item` in one shard, under `name`.
struct Entry {
    item: usize,
    name: String,
    first: usize,
    rows: usize,
}

/// One file of a pack, ready to be stored.
#[derive(Clone, Debug)]
pub struct PackOutput {
    pub file: String,
    pub bytes: Vec<u8>,
    /// Lower-case hex (as in the manifest).
    pub sha256: String,
}

/// Writes a pack from the plan's reads as they arrive (sans IO: a synchronous driver is
/// [`write_pack`], the browser's awaits its reads from IndexedDB): [`Self::start`] gives the
/// small files; [`Self::accept`] takes each read in plan order, then [`Self::next_shard`] gives
/// each shard it completed, one at a time; [`Self::finish`] gives the manifest. Rows arrive in
/// the order the shards hold them (the layout follows the plan), so converted rows go straight
/// into the shard being written, after its header (known from the layout), and rows past a
/// finished shard wait until the caller has stored it and given its allocation back
/// ([`Self::recycle`]): host memory holds one read, its converted rows, and one shard.
pub struct PackWriter {
    options: PackOptions,
    items: Vec<Item>,
    shards: Vec<Vec<Entry>>,
    /// Per item, the rows converted so far.
    rows_done: Vec<usize>,
    /// Items begun (the last may still be arriving in row parts), shards written.
    next_item: usize,
    shards_done: usize,
    /// The shard `shards_done` while its rows arrive.
    filling: Option<Filling>,
    /// A stored shard's allocation, given back ([`Self::recycle`]) for the next one.
    spare: Vec<u8>,
    /// Converted rows accepted and not yet in a shard, in order.
    queue: VecDeque<Pending>,
    files: Vec<PackFile>,
    source_bytes: u64,
}

impl PackWriter {
    pub fn new(plan: &LoadPlan, options: PackOptions) -> Result<Self, WeightsError> {
        if plan.pack.is_some() {
            return Err(WeightsError::Pack {
                file: INDEX_FILE.into(),
                reason: "this checkpoint is a pack already".into(),
            });
        }
        let items = items(plan, options.format);
        let shards = layout(&items, options.shard_bytes)?;
        Ok(Self {
            rows_done: vec![0; items.len()],
            options,
            items,
            shards,
            next_item: 0,
            shards_done: 0,
            filling: None,
            spare: Vec::new(),
            queue: VecDeque::new(),
            files: Vec::new(),
            source_bytes: 0,
        })
    }

    fn shard_name(&self, i: usize) -> String {
        format!("model-{:05}-of-{:05}.safetensors", i + 1, self.shards.len())
    }

    /// Record a finished file (size, SHA-256) and hand it out.
    fn output(&mut self, file: String, bytes: Vec<u8>) -> PackOutput {
        let sha256 = hex(&Sha256::digest(&bytes));
        self.files.push(PackFile {
            path: file.clone(),
            size: bytes.len() as u64,
            sha256: sha256.clone(),
        });
        PackOutput {
            file,
            bytes,
            sha256,
        }
    }

    /// `config.json` and `tokenizer.json` as the source has them, and the shard index (known
    /// from the layout before any tensor is converted).
    pub fn start(&mut self, config: &[u8], tokenizer: &[u8]) -> Vec<PackOutput> {
        let mut weight_map = BTreeMap::new();
        let mut total_size = 0u64;
        for (i, shard) in self.shards.iter().enumerate() {
            for e in shard {
                weight_map.insert(e.name.clone(), self.shard_name(i));
                total_size += e.rows as u64 * self.items[e.item].row_bytes;
            }
        }
        let index = json!({ "metadata": { "total_size": total_size }, "weight_map": weight_map });
        vec![
            self.output(CONFIG_FILE.into(), config.to_vec()),
            self.output(TOKENIZER_FILE.into(), tokenizer.to_vec()),
            self.output(INDEX_FILE.into(), index.to_string().into_bytes()),
        ]
    }

    /// The bytes of a read of the plan, or of one of its row parts
    /// ([`TensorRead::row_parts`]), in plan order: converts its rows, which
    /// [`Self::next_shard`] then places.
    pub fn accept(&mut self, read: &TensorRead, bytes: &[u8]) -> Result<(), WeightsError> {
        let out_of_order =
            |what: &str| WeightsError::Internal(format!("pack writer: `{}` {what}", read.name));
        if bytes.len() as u64 != read.len {
            return Err(out_of_order("has the wrong length"));
        }
        self.source_bytes += read.len;
        for placement in &read.placements {
            // The item still arriving in parts, or the next one.
            let current = self
                .next_item
                .checked_sub(1)
                .filter(|&i| self.rows_done[i] < self.items[i].rows);
            let index = match current {
                Some(i) => i,
                None => {
                    self.next_item += 1;
                    self.next_item - 1
                }
            };
            let item = self
                .items
                .get(index)
                .filter(|item| item.name == placement.target)
                .ok_or_else(|| out_of_order("arrived out of plan order"))?;
            if read.first_row.unwrap_or(0) != self.rows_done[index] {
                return Err(out_of_order("continues at the wrong row"));
            }
            let data = convert(read, placement, bytes, item)?;
            let row = self.rows_done[index];
            self.rows_done[index] += data.len() / item.row_bytes.max(1) as usize;
            self.queue.push_back(Pending {
                item: index,
                row,
                data,
                at: 0,
            });
        }
        Ok(())
    }

    /// The next shard whose rows have all been accepted, `None` until there is one. Store it,
    /// give its bytes back ([`Self::recycle`]) and ask again: the rows after it wait, so the
    /// next shard is written into the same allocation rather than beside it.
    pub fn next_shard(&mut self) -> Result<Option<PackOutput>, WeightsError> {
        while let Some(mut p) = self.queue.pop_front() {
            let done = self.place(&mut p)?;
            if p.at < p.data.len() {
                self.queue.push_front(p);
            }
            if let Some(bytes) = done {
                let name = self.shard_name(self.shards_done);
                self.shards_done += 1;
                return Ok(Some(self.output(name, bytes)));
            }
        }
        Ok(None)
    }

    /// `p`'s rows into the shard being written, up to its end: the shard's bytes when they
    /// complete it.
    fn place(&mut self, p: &mut Pending) -> Result<Option<Vec<u8>>, WeightsError> {
        let index = p.item;
        let row_bytes = self.items[index].row_bytes.max(1) as usize;
        while p.at < p.data.len() {
            let Some(entries) = self.shards.get(self.shards_done) else {
                return Err(self.out_of_layout(index));
            };
            let filling = match self.filling.take() {
                Some(f) => f,
                None => Filling {
                    bytes: shard_header(
                        entries,
                        &self.items,
                        &self.options,
                        std::mem::take(&mut self.spare),
                    ),
                    entry: 0,
                    rows: 0,
                },
            };
            let e = &entries[filling.entry];
            if e.item != index || e.first + filling.rows != p.row {
                return Err(self.out_of_layout(index));
            }
            let take = ((e.rows - filling.rows) * row_bytes).min(p.data.len() - p.at);
            let Filling {
                mut bytes,
                mut entry,
                mut rows,
            } = filling;
            bytes.extend_from_slice(&p.data[p.at..p.at + take]);
            p.at += take;
            rows += take / row_bytes;
            p.row += take / row_bytes;
            if rows == e.rows {
                (entry, rows) = (entry + 1, 0);
            }
            if entry < entries.len() {
                self.filling = Some(Filling { bytes, entry, rows });
                continue;
            }
            if bytes.len() as u64 > self.options.shard_bytes {
                return Err(WeightsError::Internal(format!(
                    "pack shard {} came to {} bytes, over the {}-byte limit",
                    self.shards_done + 1,
                    bytes.len(),
                    self.options.shard_bytes
                )));
            }
            return Ok(Some(bytes));
        }
        Ok(None)
    }

    /// Give a handed-out file's bytes back once they are stored: the next shard is written
    /// into the same allocation. (A fresh 64 MiB buffer per shard fragments the heap, and
    /// wasm memory never shrinks: the browser's peak grew by shards.)
    pub fn recycle(&mut self, bytes: Vec<u8>) {
        if bytes.capacity() > self.spare.capacity() {
            self.spare = bytes;
        }
    }

    /// Rows of item `index` arrived where the layout has another entry.
    fn out_of_layout(&self, index: usize) -> WeightsError {
        WeightsError::Internal(format!(
            "pack writer: rows of `{}` arrived where shard {} wants others",
            self.items[index].name,
            self.shards_done + 1
        ))
    }

    /// The manifest (written last: a pack with its manifest is complete) and the report.
    pub fn finish(self) -> Result<(PackOutput, PackReport), WeightsError> {
        if self.shards_done != self.shards.len() || !self.queue.is_empty() {
            return Err(WeightsError::Internal(format!(
                "pack writer: finished after {} of {} shards",
                self.shards_done,
                self.shards.len()
            )));
        }
        let manifest = PackManifest {
            format: MANIFEST_FORMAT.into(),
            version: 1,
            quant: self.options.format.name().into(),
            source: self.options.source_name.clone(),
            shard_bytes: self.options.shard_bytes,
            files: self.files,
        };
        let report = PackReport {
            tensors: self.items.len(),
            split_tensors: count_split(&self.shards, &self.items),
            quantized_tensors: self.items.iter().filter(|i| i.packed.is_some()).count(),
            source_bytes: self.source_bytes,
            manifest: manifest.clone(),
        };
        let bytes = manifest.to_json().into_bytes();
        let output = PackOutput {
            file: MANIFEST_FILE.into(),
            sha256: hex(&Sha256::digest(&bytes)),
            bytes,
        };
        Ok((output, report))
    }
}

/// Write the pack of the checkpoint in `source` through `write(file, bytes)` (a
/// [`PackWriter`] driven with synchronous reads); the manifest is written last.
pub fn write_pack(
    source: &dyn ByteSource,
    plan: &LoadPlan,
    options: &PackOptions,
    write: &mut WriteFile<'_>,
) -> Result<PackReport, WeightsError> {
    let mut writer = PackWriter::new(plan, options.clone())?;
    let config = source.read_all(CONFIG_FILE)?;
    let tokenizer = source.read_all(TOKENIZER_FILE)?;
    for out in writer.start(&config, &tokenizer) {
        write(&out.file, &out.bytes)?;
    }
    for read in plan.reads.iter().flat_map(|r| r.row_parts(READ_PART_BYTES)) {
        let bytes = source.read(&read.file, read.offset, read.len)?;
        writer.accept(&read, &bytes)?;
        while let Some(out) = writer.next_shard()? {
            write(&out.file, &out.bytes)?;
            writer.recycle(out.bytes);
        }
    }
    let (manifest, report) = writer.finish()?;
    write(&manifest.file, &manifest.bytes)?;
    Ok(report)
}

/// The canonical tensors of the plan's reads, in read order.
fn items(plan: &LoadPlan, format: QuantFormat) -> Vec<Item> {
    plan.reads
        .iter()
        .flat_map(|r| r.placements.iter().map(move |p| (r, p)))
        .map(|(read, p)| {
            let (packed, row) = stored_row(&p.target, &p.shape, format);
            let dtype = if packed.is_some() {
                StoredDtype::U8
            } else {
                read.dtype
            };
            let row_bytes = row.iter().product::<usize>() as u64 * dtype.size() as u64;
            Item {
                name: p.target.clone(),
                dtype,
                rows: p.shape.first().copied().unwrap_or(1),
                scalar: p.shape.is_empty(),
                row,
                row_bytes,
                packed,
            }
        })
        .collect()
}

/// Which rows of which items go to which shard: whole tensors where they fit (a new shard
/// rather than a split), row parts only for a tensor larger than a shard.
fn layout(items: &[Item], shard_bytes: u64) -> Result<Vec<Vec<Entry>>, WeightsError> {
    let mut shards: Vec<Vec<Entry>> = Vec::new();
    let mut current: Vec<Entry> = Vec::new();
    let mut used = SHARD_OVERHEAD;
    for (i, item) in items.iter().enumerate() {
        let cost = item.rows as u64 * item.row_bytes + item.name.len() as u64 + ENTRY_HEADER_BYTES;
        let whole = Entry {
            item: i,
            name: item.name.clone(),
            first: 0,
            rows: item.rows,
        };
        if used + cost <= shard_bytes {
            used += cost;
            current.push(whole);
            continue;
        }
        if SHARD_OVERHEAD + cost <= shard_bytes {
            shards.push(std::mem::replace(&mut current, vec![whole]));
            used = SHARD_OVERHEAD + cost;
            continue;
        }
        let mut row = 0;
        while row < item.rows {
            let name = part_name(&item.name, row);
            let fixed = name.len() as u64 + ENTRY_HEADER_BYTES;
            let room = shard_bytes.saturating_sub(used + fixed);
            let rows = ((room / item.row_bytes.max(1)) as usize).min(item.rows - row);
            if rows == 0 || item.scalar {
                if current.is_empty() {
                    return Err(WeightsError::Pack {
                        file: item.name.clone(),
                        reason: format!(
                            "one row of {} bytes does not fit a {shard_bytes}-byte shard",
                            item.row_bytes
                        ),
                    });
                }
                shards.push(std::mem::take(&mut current));
                used = SHARD_OVERHEAD;
                continue;
            }
            current.push(Entry {
                item: i,
                name,
                first: row,
                rows,
            });
            used += rows as u64 * item.row_bytes + fixed;
            row += rows;
        }
    }
    shards.push(current);
    shards.retain(|s| !s.is_empty());
    Ok(shards)
}

fn count_split(shards: &[Vec<Entry>], items: &[Item]) -> usize {
    let mut split: Vec<usize> = shards
        .iter()
        .flatten()
        .filter(|e| e.rows != items[e.item].rows)
        .map(|e| e.item)
        .collect();
    split.dedup();
    split.len()
}

/// One canonical tensor's stored bytes, from the rows of `read` that `p` places.
fn convert(
    read: &TensorRead,
    p: &Placement,
    bytes: &[u8],
    item: &Item,
) -> Result<Vec<u8>, WeightsError> {
    let src_row: usize = read.shape.iter().skip(1).product::<usize>() * read.dtype.size();
    let (start, end) = p
        .rows
        .unwrap_or((0, read.shape.first().copied().unwrap_or(1)));
    let slice = if read.shape.is_empty() {
        bytes
    } else {
        &bytes[start * src_row..end * src_row]
    };
    // Whole rows per chunk, as the loader converts them.
    let cols = p.shape.iter().skip(1).product::<usize>().max(1);
    let chunk = (CHUNK_VALUES / cols).max(1) * cols * read.dtype.size();
    // This read's rows only (a row part of a 0.4 GB embedding is 8 MiB, not the whole tensor).
    let rows = if read.shape.is_empty() {
        1
    } else {
        end - start
    };
    let mut out = Vec::with_capacity(rows * item.row_bytes as usize);
    for part in slice.chunks(chunk) {
        let values = decode_f32(read.dtype, part);
        if values.iter().any(|v| !v.is_finite()) {
            return Err(WeightsError::NonFinite {
                name: read.name.clone(),
            });
        }
        match item.packed {
            Some(format) => out.extend_from_slice(&quantize(&values, cols, format).to_row_bytes()),
            None => out.extend_from_slice(part),
        }
    }
    Ok(out)
}

/// The start of a shard of `entries` in `out` (emptied; its allocation reused): the length
/// prefix and the header (every entry's dtype, shape and offsets, known from the layout) padded
/// with spaces to 8 bytes, with room for the data, which follows as it arrives.
fn shard_header(
    entries: &[Entry],
    items: &[Item],
    options: &PackOptions,
    mut out: Vec<u8>,
) -> Vec<u8> {
    let mut header = Map::new();
    let mut end = 0usize;
    for e in entries {
        let item = &items[e.item];
        let start = end;
        end += e.rows * item.row_bytes as usize;
        let mut shape = if item.scalar { vec![] } else { vec![e.rows] };
        shape.extend_from_slice(&item.row);
        header.insert(
            e.name.clone(),
            json!({ "dtype": item.dtype.name(), "shape": shape, "data_offsets": [start, end] }),
        );
    }
    let metadata =
        json!({ "format": "pt", PACK_KEY: PACK_VERSION, QUANT_KEY: options.format.name() });
    header.insert("__metadata__".into(), metadata);
    let mut text = Value::Object(header).to_string();
    while !text.len().is_multiple_of(8) {
        text.push(' ');
    }
    out.clear();
    // Room for the largest shard at once: every shard of the pack then fits the one allocation.
    let room = (8 + text.len() + end).max(options.shard_bytes as usize);
    out.reserve_exact(room);
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
