#!/usr/bin/env bash
# The main job: build the browser engine and the page, then serve it on localhost.
#   npm start                  # http://127.0.0.1:8080/ (PORT=... to change)
# The page offers the registry's models (downloaded once from Hugging Face into the browser's
# storage), the committed tiny test model (random weights: it runs offline in seconds, its output
# is noise by design), and any model folder in Hugging Face layout placed under models/<name>/.
# The native CLI demo is `npm run demo:cli`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-web.sh
exec node web/dev-server.mjs "${PORT:-8080}"
