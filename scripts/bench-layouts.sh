#!/usr/bin/env bash
# Sweep the quantised matrix-vector kernels' layouts (janus_model::kernels::qmatvec::Layout) on
# this machine's adapter with `janus bench --kernels`, to choose Layout::for_adapter's defaults
# from measurements: prints each layout's per-kernel table and its sum over a decode step.
#   bash scripts/bench-layouts.sh [JANUS_BINARY] [LAYOUT...]
# JANUS_BINARY defaults to $CARGO_TARGET_DIR/release/janus (cargo build --release -p janus-cli);
# PRESET (default janus-1.3b) may name a preset or a config.json.
# Default layouts: GPU candidates (the flat walk with one, two or four rows per group of lanes,
# one, two or four loads per trip, 16 to 64 lanes) and the CPU-adapter one (vector rows).
set -euo pipefail
BIN="${1:-${CARGO_TARGET_DIR:-target}/release/janus}"
shift || true
LAYOUTS=("$@")
[[ ${#LAYOUTS[@]} -gt 0 ]] || LAYOUTS=(flat:32:1 flat:32:1:2 flat:32:1:4 flat:16:1:4 flat:64:1:4 flat:32:2 flat:16:2 flat:64:1 vector:8)
for layout in "${LAYOUTS[@]}"; do
  echo "== layout $layout"
  JANUS_QMATVEC="$layout" "$BIN" --backend wgpu bench --preset "${PRESET:-janus-1.3b}" --quant "${QUANT:-q4}" --kernels 2>&1 \
    | grep -v XDG_RUNTIME
done
