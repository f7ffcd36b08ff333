#!/usr/bin/env bash
# Every test of the project, in the order a failure is cheapest to find.
#   npm test            (or: bash scripts/test.sh)
# Uses CARGO_TARGET_DIR when set (share one across clones: builds are slow on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "format"
cargo fmt --all -- --check

step "lint"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "the engine builds for the browser (wasm32-unknown-unknown)"
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
cargo check --locked --target wasm32-unknown-unknown -p janus-model

step "rust tests (CPU device, goldens from the PyTorch reference)"
# --nocapture shows the measured figures (logit errors, PSNR, pixel differences).
cargo test --workspace --locked -- --nocapture

step "all tests passed"
