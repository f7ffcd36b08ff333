#!/usr/bin/env bash
# Every test of the project, in the order a failure is cheapest to find.
#   npm test            (or: bash scripts/test.sh)
# Uses CARGO_TARGET_DIR when set (share one across clones: builds are slow on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

# Every fault the test server injects into the downloader, the store and the page appends its
# mode to this file (web/test/server.mjs); the last step totals them (RELIABILITY.md's figures).
mkdir -p tests/artifacts
export JANUS_FAULT_LOG="$PWD/tests/artifacts/faults-injected.log"
: >"$JANUS_FAULT_LOG"

step "format"
cargo fmt --all -- --check

# janus-web is a browser crate: it is linted, built and tested for wasm32 below. Keeping it out of
# the native builds also keeps their dependency features (and compiled artefacts) unchanged.
step "lint (native)"
cargo clippy --workspace --exclude janus-web --all-targets --locked -- -D warnings

step "lint of the browser build (wasm32-unknown-unknown: janus-web, its browser tests, janus-model)"
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
cargo clippy --locked --target wasm32-unknown-unknown -p janus-web --all-targets -- -D warnings

step "rust tests (CPU device, goldens from the PyTorch reference)"
# --nocapture shows the measured figures (logit errors, PSNR, pixel differences).
cargo test --workspace --exclude janus-web --locked -- --nocapture

step "fuzz the parsers of untrusted bytes, a short budget (scripts/fuzz.sh 20; FUZZING.md)"
bash scripts/fuzz.sh 20

step "browser build: wasm engine, wasm-bindgen, TypeScript client (scripts/build-web.sh)"
bash scripts/build-web.sh

step "TypeScript unit tests in Node: weight store and downloader against the fault server (scripts/test-unit-ts.sh)"
bash scripts/test-unit-ts.sh

step "the engine on WebGPU in headless Chromium against the goldens (scripts/test-wasm.sh)"
bash scripts/test-wasm.sh

step "the TypeScript client and worker in headless Chromium (scripts/test-web.sh)"
bash scripts/test-web.sh

step "faults the test server injected in this run, by mode (tests/artifacts/faults-injected.log)"
sort "$JANUS_FAULT_LOG" | uniq -c | sort -rn
echo "total: $(wc -l <"$JANUS_FAULT_LOG") faults injected"

step "all tests passed"
