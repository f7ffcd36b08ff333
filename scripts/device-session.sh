#!/usr/bin/env bash
# What one call of a lent GPU machine runs (prepared by scripts/device-prepare.sh): the Vulkan
# loader unpacked where the machine lacks it, the prepared binary, then the parts of
# scripts/bench-device.sh that BENCHMARKS.md still lacks on a real GPU, each part's output in
# $OUT (or /tmp/janus-device) as its own log, the GPU's clocks in one CSV (a call brings back at
# most 8 files). Sized for one 600-second call: SESSION_PARTS (default below), PART_LIMIT_S and
# the bench script's own variables (PRESET, LAYOUTS, ATTN_SPLITS, STEPS) narrow or widen it.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-/tmp/janus-device}"
mkdir -p "$out"
if ! ldconfig -p | grep -q libvulkan; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
if [[ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/janus-xdg}"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
xz -dc .bench/janus.xz >/tmp/janus && chmod +x /tmp/janus
{ cat .bench/commit; nvidia-smi -L 2>&1; } | tee "$out/machine.log"
# The headline figures first (a call that runs out of time keeps what its parts wrote). Parts
# joined by + run in one bench-device.sh call: `layouts+best` runs the full benchmark again in
# the layout whose decode-step sum was least, where that is not the default.
parts="${SESSION_PARTS:-full layouts+best dequant fuse attention overlap large}"
# Each part alone, so one that fails leaves the others' figures.
for part in $parts; do
  echo "== part $part ($(date +%T))"
  LAYOUTS="${LAYOUTS:-flat:32:1 flat:32:1:2 flat:32:1:4 flat:16:1:4}" PARTS="${part//+/ }" \
    CLOCKS_CSV="/tmp/clocks-$part.csv" timeout "${PART_LIMIT_S:-240}" \
    bash scripts/bench-device.sh /tmp/janus 2>&1 | tee "$out/$part.log"
done
for part in $parts; do
  [[ -f "/tmp/clocks-$part.csv" ]] && sed "s/^/$part,/" "/tmp/clocks-$part.csv"
done >"$out/clocks.csv"
echo "== done ($(date +%T))"
