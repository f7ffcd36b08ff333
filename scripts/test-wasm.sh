#!/usr/bin/env bash
# The engine on WebGPU in headless Chromium (SwiftShader): crate/janus-web/tests/browser.rs.
#   bash scripts/test-wasm.sh
# Needs Debian's chromium + chromium-driver (.ci/run installs them), the wasm32 target,
# wasm-bindgen-cli at the Cargo.lock version (scripts/build-web.sh installs it) and wasm-pack.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v chromedriver >/dev/null || { echo "chromedriver missing: apt-get install chromium chromium-driver" >&2; exit 1; }
command -v wasm-pack >/dev/null || cargo install wasm-pack --version 0.15.0
# SwiftShader is a CPU implementation of WebGPU: the goldens take minutes, not the default 20 s.
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-1800}"
# Chromium and flags come from crate/janus-web/webdriver.json. --release shares the compiled
# dependencies with scripts/build-web.sh (and runs the tensor math at full speed).
wasm-pack test --release --headless --chrome --chromedriver "$(command -v chromedriver)" crate/janus-web
