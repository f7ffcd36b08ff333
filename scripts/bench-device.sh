#!/usr/bin/env bash
# What a session with a lent GPU measures for issue 7, in one prepared run (device time is short:
# BENCHMARKS.md says which figures are still missing on a real GPU). PARTS picks the sections
# (default: all of them, in this order):
#   convs      the VQ decoder's convolutions, each tile (JANUS_CONV_PIXELS=4 and 8), then once
#              against burn's conv2d: which tile GPUs should use (kernels::conv2d::pixels_for_adapter);
#   layouts    the decode kernels alone in the matrix-vector layouts of LAYOUTS
#              (scripts/bench-layouts.sh), then the default layout's products with each
#              reading one copy of its weights, which the GPU's cache may hold (--hot);
#   attention  the decode attention's splits (JANUS_ATTN_CHUNK=CHUNK:LANES, each of ATTN_SPLITS:
#              positions per chunk, invocations per position) at a text context and an image
#              step's (kernels::attention::chunk_for_adapter, lanes_for_adapter);
#   norms      the norms' walks (JANUS_NORM_WALK=256:8, the GPU default, and 128:1, the walk
#              before it): which GPUs should use (kernels::rms_norm::Walk::for_adapter);
#   overlap    text decode with each step's id read back while the GPU runs the next step (the
#              default) and with the id awaited first (JANUS_OVERLAP=0), alternating, twice;
#   fuse       text decode and image steps with the norms, residual connections and the q/k/v
#              rotation inside the matrix-vector products (the default), with the rotation as a
#              kernel of its own (JANUS_FUSE_ROPE=0), and with all of them apart (JANUS_FUSE=0),
#              alternating, twice;
#   dequant    codes made floats by the exponent trick (the default) and by conversion
#              (JANUS_DEQUANT=convert), alternating, twice: the products' kernel table, then
#              text decode (kernels::Dequant);
#   large      text decode of LARGE_PRESET (default janus-pro-7b: 4.4 GB of Q4 weights, matrices
#              of 4,096 columns) with a short prompt: how near the bandwidth the kernels come
#              where each launch has four times the bytes of Janus-1.3B's;
#   full       the full benchmark with the VQ decode at each of QUANTS (default q4), as
#              BENCHMARKS.md rows, in the adapter's default layout;
#   best       (after `layouts`, in the same call) the full benchmark in the layout whose
#              decode-step sum was least, where that is not the default;
#   profile    cubecl's per-kernel profile of a short run with the VQ decode, summed by kernel
#              (scripts/profile-summary.py).
#   bash scripts/bench-device.sh [JANUS_BINARY]
# JANUS_BINARY defaults to $CARGO_TARGET_DIR/release/janus (cargo build --release -p janus-cli).
# PRESET (default janus-1.3b) may name a preset or a config.json (a tiny one checks the script);
# STEPS (default "128 128 64": prompt tokens, decode tokens, image steps) sizes the full run.
# Where nvidia-smi exists, the GPU's clocks are sampled throughout into CLOCKS_CSV.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-${CARGO_TARGET_DIR:-target}/release/janus}"
PRESET="${PRESET:-janus-1.3b}"
PARTS="${PARTS:-convs layouts attention norms overlap fuse dequant full best large profile}"
read -r PROMPT DECODE IMAGE <<<"${STEPS:-128 128 64}"
LAYOUTS="${LAYOUTS:-flat:32:1 flat:32:1:2 flat:32:1:4 flat:16:1:4 flat:32:2 vector:8}"
ATTN_SPLITS="${ATTN_SPLITS:-32:8 32:1 32:4 16:8 64:4 64:1}"
run() {
  echo "== $*"
  "$@" 2>&1 | grep -v XDG_RUNTIME
}
has() { [[ " $PARTS " == *" $1 "* ]]; }
full() {
  for quant in ${QUANTS:-q4}; do
    run "$BIN" --backend wgpu bench --preset "$PRESET" --quant "$quant" \
      --prompt-tokens "$PROMPT" --decode-tokens "$DECODE" --image-steps "$IMAGE"
  done
}
# The GPU's clocks through the run, where nvidia-smi exists (a kernel slow at a low clock looks
# like a slow kernel): one line per 250 ms in $CLOCKS_CSV.
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,utilization.gpu,power.draw \
    --format=csv -lms 250 > "${CLOCKS_CSV:-/tmp/janus-clocks.csv}" 2>&1 &
  sampler=$!
  trap 'kill "$sampler" 2>/dev/null || true' EXIT
fi
if has convs; then
  for px in 4 8; do
    echo "== JANUS_CONV_PIXELS=$px"
    JANUS_CONV_PIXELS=$px run "$BIN" --backend wgpu bench --preset "$PRESET" --vq-convs --no-reference
  done
  run "$BIN" --backend wgpu bench --preset "$PRESET" --vq-convs
fi
best=""
if has layouts; then
  # shellcheck disable=SC2086 # one word per layout
  PRESET="$PRESET" bash scripts/bench-layouts.sh "$BIN" $LAYOUTS | tee /tmp/janus-layouts.log
  # The layout with the least µs summed over a decode step's kernels: replayed where the
  # adapter records (column 6), else launched one by one (column 5).
  best=$(awk '/^== layout /{l=$3} /sum over a decode step/{split($0,c,"|"); v=c[6]+0; if (v == 0) v=c[5]+0;
    if (b=="" || v<b) {b=v; best=l}} END{print best}' /tmp/janus-layouts.log)
  echo "== least decode-step sum: $best"
  # The products once more with one copy of their weights each (--hot), as the tables before
  # 2026-11-28 were timed: how much the GPU's cache flattered the small products.
  run "$BIN" --backend wgpu bench --preset "$PRESET" --quant q4 --kernels --only qmatvec --hot
fi
if has attention; then
  for split in $ATTN_SPLITS; do
    for context in 256 640; do
      echo "== JANUS_ATTN_CHUNK=$split, $context positions"
      JANUS_ATTN_CHUNK=$split run "$BIN" --backend wgpu bench --preset "$PRESET" --quant q4 \
        --kernels --context "$context" --only attn_decode
    done
  done
fi
if has norms; then
  for walk in 256:8 128:1; do
    echo "== JANUS_NORM_WALK=$walk"
    JANUS_NORM_WALK=$walk run "$BIN" --backend wgpu bench --preset "$PRESET" --quant q4 --kernels
  done
fi
# The defaults, then each setting alone, alternating, twice: `ab IMAGE_STEPS NAME=VALUE...`.
ab() {
  local image=$1
  shift
  for round in 1 2; do
    for setting in "" "$@"; do
      echo "== ${setting:-defaults} (round $round)"
      run env ${setting:+"$setting"} "$BIN" --backend wgpu bench --preset "$PRESET" --quant q4 \
        --prompt-tokens "$PROMPT" --decode-tokens "$DECODE" --image-steps "$image" --no-vq
    done
  done
}
if has overlap; then
  ab 0 JANUS_OVERLAP=0
fi
if has fuse; then
  ab "$IMAGE" JANUS_FUSE_ROPE=0 JANUS_FUSE=0
fi
if has dequant; then
  for round in 1 2; do
    for how in exponent convert; do
      echo "== JANUS_DEQUANT=$how (round $round)"
      JANUS_DEQUANT=$how run "$BIN" --backend wgpu bench --preset "$PRESET" --quant q4 \
        --kernels --only qmatvec
    done
  done
  ab 0 JANUS_DEQUANT=convert
fi
if has large; then
  run "$BIN" --backend wgpu bench --preset "${LARGE_PRESET:-janus-pro-7b}" --quant q4 \
    --prompt-tokens 16 --decode-tokens "$DECODE" --image-steps 0 --no-vq
fi
if has full; then
  full
fi
# The least-sum layout's own run, unless it is the default (the first layout of `layouts`, as
# scripts/bench-layouts.sh orders them).
if has best && [[ -n "$best" && "$best" != "${LAYOUTS%% *}" ]]; then
  echo "== JANUS_QMATVEC=$best"
  JANUS_QMATVEC="$best" full
fi
if has profile; then
  echo "== JANUS_GRAPHS=0 CUBECL_DEBUG_OPTION=profile: a short run with the VQ decode (a recorded step cannot be profiled)"
  rm -f /tmp/janus-cubecl.log
  JANUS_GRAPHS=0 CUBECL_DEBUG_OPTION=profile CUBECL_DEBUG_LOG=/tmp/janus-cubecl.log \
    "$BIN" --backend wgpu bench --preset "$PRESET" --quant q4 --prompt-tokens 1 \
    --decode-tokens 1 --image-steps 0 2>&1 | grep -v XDG_RUNTIME || true
  python3 scripts/profile-summary.py /tmp/janus-cubecl.log 40
fi
