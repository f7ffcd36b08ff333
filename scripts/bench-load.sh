#!/usr/bin/env bash
# A full-size Janus-1.3B loaded in headless Chromium, the first time (downloaded into IndexedDB
# from a local server) and again after a browser restart (from IndexedDB), both ways a page gets
# it: from the bf16 checkpoint (quantised to q4 while loading, its pack stored, the download
# released) and from a q4 pack (`janus pack`). Random weights in the real shapes. Prints the
# BENCHMARKS.md rows ("Loading a full-size model in the browser").
#   bash scripts/bench-load.sh [DIR]     (DIR: where the models go, default /tmp/janus-bench-models;
#                                         about 5.3 GB of disk, and 1.3 GB per profile while it runs)
# Needs web/dist (bash scripts/build-web.sh) and the janus CLI ($CARGO_TARGET_DIR/release/janus).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="${1:-/tmp/janus-bench-models}"
BIN="${CARGO_TARGET_DIR:-target}/release/janus"
[[ -x "$BIN" ]] || cargo build --release --locked -p janus-cli
mkdir -p "$DIR"
if [[ ! -f "$DIR/janus-1.3b-bf16/model.safetensors" ]]; then
  "$BIN" random-model --config janus-1.3b --tokenizer tests/fixtures/models/tiny-a-hf/tokenizer.json \
    --out "$DIR/janus-1.3b-bf16" --skip-unused
fi
if [[ ! -f "$DIR/janus-1.3b-q4/janus-pack.json" ]]; then
  "$BIN" pack --model "$DIR/janus-1.3b-bf16" --quant q4 --out "$DIR/janus-1.3b-q4"
fi
node web/test/bench-load.mjs --model "$DIR/janus-1.3b-q4" --visits 3
node web/test/bench-load.mjs --model "$DIR/janus-1.3b-bf16" --visits 2
