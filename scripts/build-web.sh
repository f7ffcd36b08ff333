#!/usr/bin/env bash
# Build the browser engine: Rust -> wasm32 (release) -> wasm-bindgen ES module in web/pkg/ ->
# the TypeScript client and worker bundle in web/dist/.
#   bash scripts/build-web.sh            (npm run build)
# Installs what it needs from the registries only: the rustup wasm32 target and wasm-bindgen-cli
# at exactly the version Cargo.lock pins (the CLI must match the library byte for byte).
# Uses CARGO_TARGET_DIR when set (share one across clones: builds are slow on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET_DIR="${CARGO_TARGET_DIR:-target}"

step() { printf '\n== %s\n' "$*"; }

rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
WB_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if ! wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $WB_VERSION"; then
  step "installing wasm-bindgen-cli $WB_VERSION (from source; no prebuilt download)"
  # Not --locked: one of the CLI's locked dependencies is not on the registry any more.
  cargo install wasm-bindgen-cli --version "$WB_VERSION"
fi

step "wasm engine (cargo build --release --target wasm32-unknown-unknown -p janus-web)"
cargo build --release --locked --target wasm32-unknown-unknown -p janus-web
WASM="$TARGET_DIR/wasm32-unknown-unknown/release/janus_web.wasm"

step "wasm-bindgen -> web/pkg"
rm -rf web/pkg
# Without the name section (function names for stack traces: 6 of 37 MB). Panics keep their
# messages; set JANUS_WASM_NAMES=1 to keep the names when debugging a trap.
NAMES=(--remove-name-section)
[[ "${JANUS_WASM_NAMES:-}" == 1 ]] && NAMES=()
wasm-bindgen --target web --typescript "${NAMES[@]}" --out-dir web/pkg "$WASM"
ls -l web/pkg

if [[ "${1:-}" != "--wasm-only" ]]; then
  step "TypeScript client and worker -> web/dist"
  [[ -d node_modules ]] || npm ci --no-audit --no-fund
  npm run build:ts
fi
