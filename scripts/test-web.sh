#!/usr/bin/env bash
# The browser tests: the test server's unit tests, the weight store in headless Chromium against
# the fault-injecting server (IndexedDB, resume, repair, two pages, quota, offline), the page, the
# npm package in example apps under a strict CSP, then the client end to end (WebGPU on
# SwiftShader) against the tiny fixture model.
#   npm run test:web       (or: bash scripts/test-web.sh)
# Builds nothing: run `bash scripts/build-web.sh` first (wasm + web/dist).
# CHROMIUM=/path/to/chromium overrides /usr/bin/chromium. Figures and screenshots: tests/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

for built in web/dist/janus.js web/dist/worker.js web/dist/app.js web/dist/janus_web_bg.wasm; do
  if [[ ! -f "$built" ]]; then
    echo "test-web: $built is missing; build first: bash scripts/build-web.sh" >&2
    exit 1
  fi
done
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [[ ! -x "$CHROMIUM" ]]; then
  echo "test-web: no Chromium at $CHROMIUM (apt-get install -y chromium, or set CHROMIUM)" >&2
  exit 1
fi
if [[ ! -d node_modules/playwright-core ]]; then
  echo "test-web: node_modules is missing; run npm ci" >&2
  exit 1
fi
export CHROMIUM

# A random-weight variant of the tiny fixture: $1 the folder, $2 JavaScript changing its config
# `c`; further arguments go to `janus random-model`.
tiny_variant() {
  local dir="$1" change="$2"
  shift 2
  mkdir -p "$dir"
  node -e "
    const fs = require('fs');
    const c = JSON.parse(fs.readFileSync('tests/fixtures/models/tiny-a-hf/config.json', 'utf8'));
    $change;
    fs.writeFileSync(process.argv[1], JSON.stringify(c, null, 1));
  " "$dir/source-config.json"
  cargo run --locked -q -p janus-cli -- random-model --config "$dir/source-config.json" \
    --tokenizer tests/fixtures/models/tiny-a-hf/tokenizer.json --out "$dir" --skip-unused "$@"
}

step "a larger random-weight model for the weight store's tests (janus random-model)"
# tiny-a's architecture with 12 layers of 16,384-wide MLPs: ~75 MiB of bf16 in 40 MiB shards, for
# the store's throughput, resume and quota steps.
tiny_variant tests/artifacts/models/tiny-a-wide \
  'c.text_config.num_hidden_layers = 12; c.text_config.intermediate_size = 16384' --shard-mib 40

step "a random-weight model with a 393,216-token vocabulary for the memory-bound check (janus random-model)"
# tiny-a with a vocabulary of 393,216: its embedding and lm_head are 48 MiB each in bf16 and
# 96 MiB in f32, so a loader that held one whole tensor on the host would blow the bound the
# e2e test asserts (one request plus a few MiB, whatever the tensors).
tiny_variant tests/artifacts/models/tiny-a-vocab 'c.text_config.vocab_size = 393216'

step "test server (node --test)"
# Its faults test the server itself, not the downloader: they are not counted.
JANUS_FAULT_LOG= node --test web/test/server.test.mjs

step "weight store in Chromium: fault modes, resume, repair, two pages, quota, offline (web/test/store-e2e.mjs)"
node web/test/store-e2e.mjs

step "the page in Chromium: capability, models, download stopped and resumed, chat, images with a preview, offline through the service worker, crash recovery, accessibility, delete (web/test/page-e2e.mjs)"
node web/test/page-e2e.mjs

step "the npm package: npm pack, installed into example apps (plain HTML elements, Vite + API, strict TypeScript), under a strict CSP (web/test/package-e2e.mjs)"
node web/test/package-e2e.mjs

step "the benchmark's entry point: each decode kernel at Janus-1.3B's shapes, and no GPU error (npm run bench -- --kernels --context 16)"
# The figures of this short run are not recorded (BENCHMARKS.md has the full runs); a refused
# launch (a page error) fails it.
node web/test/bench.mjs --kernels --context 16

step "client end to end in Chromium (WebGPU on SwiftShader; slow)"
node web/test/e2e.mjs

step "web tests passed"
