#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers of untrusted bytes (fuzz/, issue 8): each target runs
# for SECONDS (default 20: the test command's short budget; FUZZING.md records the long runs)
# from the committed seeds (fuzz/seeds/<target>) plus the corpus it has grown before
# (fuzz/corpus/<target>, not committed). A crash fails the run; libFuzzer leaves the input in
# fuzz/artifacts/<target>/ — make it a regression test (FUZZING.md says how).
#   bash scripts/fuzz.sh [SECONDS] [TARGET...]
# Needs the nightly toolchain (sanitizer flags) and cargo-fuzz, installed here if missing.
# Prints one line per target: executions, rate, corpus size, coverage; figures also go to
# tests/artifacts/fuzz.tsv.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${1:-20}"
shift || true
TARGETS=("$@")
[[ ${#TARGETS[@]} -gt 0 ]] || TARGETS=(safetensors_header config_json shard_index pack_manifest image_file worker_request)

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
cargo fuzz --version 2>/dev/null | grep -q "0.13.2" || cargo install -q cargo-fuzz --version 0.13.2 --locked

# cargo-fuzz builds for the host triple explicitly, so its artefacts sit apart from the normal
# builds even in a shared CARGO_TARGET_DIR.
cargo +nightly fuzz build --fuzz-dir fuzz
BIN="${CARGO_TARGET_DIR:-fuzz/target}/$(rustc -vV | awk '/^host/ { print $2 }')/release"

mkdir -p tests/artifacts
SUMMARY=tests/artifacts/fuzz.tsv
printf 'target\tseconds\texecutions\texec_per_s\tcorpus\tcoverage\tcrashes\n' > "$SUMMARY"
for t in "${TARGETS[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  log="$(mktemp)"
  status=0
  # A target's dictionary (field names, edge values) where it has one.
  dict=()
  [[ -f "fuzz/dicts/$t.dict" ]] && dict=(-dict="fuzz/dicts/$t.dict")
  "$BIN/$t" "fuzz/corpus/$t" "fuzz/seeds/$t" "${dict[@]}" -max_total_time="$SECONDS_PER_TARGET" \
    -rss_limit_mb=2048 -max_len=262144 -print_final_stats=1 \
    -artifact_prefix="fuzz/artifacts/$t/" >"$log" 2>&1 || status=$?
  runs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$log")
  rate=$(awk '/stat::average_exec_per_sec/ { print $2 }' "$log")
  corpus=$(find "fuzz/corpus/$t" -type f | wc -l)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{ print $2 }')
  crashes=$(find "fuzz/artifacts/$t" -type f | wc -l)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$SECONDS_PER_TARGET" "${runs:-0}" "${rate:-0}" "$corpus" "${cov:-0}" "$crashes" >> "$SUMMARY"
  printf '%-20s %9s runs  %7s/s  corpus %5s  cov %5s  crashes %s\n' "$t" "${runs:-0}" "${rate:-0}" "$corpus" "${cov:-0}" "$crashes"
  if [[ $status -ne 0 ]]; then
    tail -40 "$log" >&2
    echo "fuzz target $t failed (input saved in fuzz/artifacts/$t/)" >&2
    exit 1
  fi
  rm -f "$log"
done
