#!/usr/bin/env bash
# The TypeScript unit tests (web/test/unit/*.test.ts) in Node: bundled by esbuild (types
# stripped, no type check; `npm run typecheck` checks web/src), then `node --test`. Fast: no
# browser, no wasm. The store tests run the downloader against the fault-injecting server.
#   bash scripts/test-unit-ts.sh          (npm run test:unit)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=tests/artifacts/unit-ts
rm -rf "$OUT"
npx esbuild web/test/unit/*.test.ts --bundle --platform=node --format=esm --target=node20 \
  --outdir="$OUT" --out-extension:.js=.mjs --log-level=warning
node --test --test-concurrency=1 "$OUT"/*.test.mjs
