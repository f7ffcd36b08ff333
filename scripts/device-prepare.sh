#!/usr/bin/env bash
# Prepare this checkout for a lent GPU machine (issue 7's measurements; see
# scripts/device-session.sh, which runs there): the machine has no Rust toolchain and may lack
# the Vulkan loader, so the release binary (stripped, xz) goes to .bench/ and the loader's Debian
# packages to .gl/, both kept out of git through .git/info/exclude. Then one device call:
#   run(command: "bash scripts/device-session.sh", carry: [".gl", ".bench"], timeout_s: 600)
# Run here, from any directory: bash scripts/device-prepare.sh (builds with $CARGO_TARGET_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
exclude=.git/info/exclude
mkdir -p .git/info .bench .gl
for path in /.gl/ /.bench/; do
  grep -qx "$path" "$exclude" 2>/dev/null || echo "$path" >>"$exclude"
done
target="${CARGO_TARGET_DIR:-target}"
cargo build --release --locked -p janus-cli
strip -o /tmp/janus-device "$target/release/janus"
xz -T2 -6 -c /tmp/janus-device >.bench/janus.xz
git rev-parse --short HEAD >.bench/commit
git diff --quiet HEAD || echo "(with uncommitted changes)" >>.bench/commit
if ! ls .gl/*.deb >/dev/null 2>&1; then
  # The amd64 packages whatever this machine is, from a private package list.
  o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
  mkdir -p /tmp/amd64/partial
  apt-get "${o[@]}" update -qq
  (cd .gl && apt-get "${o[@]}" download libvulkan1)
fi
ls -la .bench .gl
