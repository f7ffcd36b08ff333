#!/usr/bin/env bash
# A full-size model (Janus-1.3B by default) loaded in headless Chromium, the first time
# (downloaded into IndexedDB from a local server) and again after a browser restart (from
# IndexedDB), both ways a page gets it: from the bf16 checkpoint (quantised to q4 while loading,
# its pack stored, the download released) and from a q4 pack (`janus pack`). Random weights in
# the real shapes. Prints the BENCHMARKS.md rows ("Loading a full-size model in the browser").
#   bash scripts/bench-load.sh [DIR]     (DIR: where the models go, default /tmp/janus-bench-models;
#                                         about 5.3 GB of disk, and 1.3 GB per profile while it runs)
# PRESET (default janus-1.3b) picks the model: janus-pro-7b takes about 19 GB of disk (14.8 GB
# of bf16 shards, a 4.3 GB pack) and 4.3 GB per profile. LOADS (default "pack bf16") picks the
# ways loaded: the bf16 path of the 7B quantises 14.8 GB in the page.
# Needs web/dist (bash scripts/build-web.sh) and the janus CLI ($CARGO_TARGET_DIR/release/janus).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="${1:-/tmp/janus-bench-models}"
BIN="${CARGO_TARGET_DIR:-target}/release/janus"
[[ -x "$BIN" ]] || cargo build --release --locked -p janus-cli
PRESET="${PRESET:-janus-1.3b}"
mkdir -p "$DIR"
bf16="$DIR/$PRESET-bf16"
q4="$DIR/$PRESET-q4"
if [[ ! -f "$bf16/model.safetensors" && ! -f "$bf16/model.safetensors.index.json" ]]; then
  "$BIN" random-model --config "$PRESET" --tokenizer tests/fixtures/models/tiny-a-hf/tokenizer.json \
    --out "$bf16" --skip-unused
fi
if [[ ! -f "$q4/janus-pack.json" ]]; then
  "$BIN" pack --model "$bf16" --quant q4 --out "$q4"
fi
for load in ${LOADS:-pack bf16}; do
  case "$load" in
    pack) node web/test/bench-load.mjs --model "$q4" --visits 3 ;;
    bf16) node web/test/bench-load.mjs --model "$bf16" --visits 2 ;;
    *) echo "LOADS: pack or bf16, not $load" >&2; exit 2 ;;
  esac
done
