#!/usr/bin/env bash
# What a session with a lent GPU measures for issue 7, in one prepared run (device time is short:
# BENCHMARKS.md says which figures are still missing on a real GPU):
#   1. the VQ decoder's convolutions, each tile (JANUS_CONV_PIXELS=4 and 8), then once against
#      burn's conv2d: which tile GPUs should use (kernels::conv2d::pixels_for_adapter);
#   2. the decode kernels alone in a few layouts (scripts/bench-layouts.sh): the bandwidth fraction;
#   3. the decode attention's chunk sizes (JANUS_ATTN_CHUNK=32, 64, 128) at a text context and an
#      image step's (kernels::attention::set_chunk);
#   4. the full benchmark at q4 with the VQ decode, as one BENCHMARKS.md row.
#   bash scripts/bench-device.sh [JANUS_BINARY]
# JANUS_BINARY defaults to $CARGO_TARGET_DIR/release/janus (cargo build --release -p janus-cli).
# PRESET (default janus-1.3b) may name a preset or a config.json (a tiny one checks the script);
# STEPS (default "128 128 64": prompt tokens, decode tokens, image steps) sizes the full run.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-${CARGO_TARGET_DIR:-target}/release/janus}"
PRESET="${PRESET:-janus-1.3b}"
read -r PROMPT DECODE IMAGE <<<"${STEPS:-128 128 64}"
run() {
  echo "== $*"
  "$@" 2>&1 | grep -v XDG_RUNTIME
}
for px in 4 8; do
  echo "== JANUS_CONV_PIXELS=$px"
  JANUS_CONV_PIXELS=$px run "$BIN" --backend wgpu bench --preset "$PRESET" --vq-convs --no-reference
done
run "$BIN" --backend wgpu bench --preset "$PRESET" --vq-convs
PRESET="$PRESET" bash scripts/bench-layouts.sh "$BIN" shared:64:1 shared:32:2 shared:16:4
for chunk in 32 64 128; do
  for context in 256 640; do
    echo "== JANUS_ATTN_CHUNK=$chunk, $context positions"
    JANUS_ATTN_CHUNK=$chunk run "$BIN" --backend wgpu bench --preset "$PRESET" --quant q4 \
      --kernels --context "$context" | grep -E 'attn|adapter'
  done
done
run "$BIN" --backend wgpu bench --preset "$PRESET" --quant q4 \
  --prompt-tokens "$PROMPT" --decode-tokens "$DECODE" --image-steps "$IMAGE"
