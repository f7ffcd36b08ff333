#!/usr/bin/env bash
# The native demo: build the `janus` CLI and run Janus end to end — a chat reply and an image —
# on a model folder in Hugging Face layout.
#   npm run demo:cli                # the committed tiny test model (random weights)
#   MODEL=/path/to/Janus-1.3B npm run demo:cli
#   BACKEND=wgpu npm run demo:cli   # GPU through wgpu (Vulkan/Metal/DX12)
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL="${MODEL:-tests/fixtures/models/tiny-a-hf}"
BACKEND="${BACKEND:-cpu}"
OUT="${OUT:-janus-start.png}"

cargo build --release --locked -p janus-cli
JANUS="${CARGO_TARGET_DIR:-target}/release/janus"

echo "== model"
"$JANUS" inspect --model "$MODEL"
echo
echo "== chat (greedy, 32 tokens), then a follow-up question from stdin (--interactive: the"
echo "   follow-up starts from the first turn's cache; the picture is not encoded again)"
echo "What colours does it have?" |
  "$JANUS" --backend "$BACKEND" chat --model "$MODEL" --prompt "Describe this picture." \
    --image tests/fixtures/images/photo.png --max-new-tokens 32 --interactive
echo
echo "== imagine (CFG 5, seed 42)"
"$JANUS" --backend "$BACKEND" imagine --model "$MODEL" --prompt "A red cat on a blue house at night." \
  --seed 42 --out "$OUT"
if [[ "$MODEL" == tests/fixtures/* ]]; then
  echo
  echo "(the tiny test model has random weights: the text and image are noise by design)"
fi
