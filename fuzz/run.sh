#!/usr/bin/env bash
# Fuzzes every target for SECONDS each (default 20) with cargo fuzz (nightly, libFuzzer,
# AddressSanitizer), starting from the seeds in fuzz/corpus/TARGET. New inputs the fuzzer finds
# go to a scratch copy, so the repository's corpus stays small; a crash stops the script with
# the input that caused it (fuzz/artifacts/TARGET/) and exits non-zero.
#
# Usage: fuzz/run.sh [SECONDS] [TARGET…]     (needs: rustup's nightly toolchain; installs
#        cargo-fuzz from crates.io when missing)
set -euo pipefail
cd "$(dirname "$0")"

SECONDS_EACH=${1:-20}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(plan history_csv har documents pgbench)

rustup toolchain list | grep -q '^nightly' || { echo "fuzz: no nightly toolchain (rustup toolchain install nightly)" >&2; exit 1; }
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked --quiet

# A target dir of its own: the sanitizer build shares nothing with the product's.
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:-$PWD/target}/fuzz}"

status=0
for target in "${TARGETS[@]}"; do
  scratch=$(mktemp -d)
  cp -r "corpus/$target/." "$scratch/"
  log=$(mktemp)
  if cargo +nightly fuzz run "$target" "$scratch" -- -max_total_time="$SECONDS_EACH" \
      -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 > "$log" 2>&1; then
    runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo "?")
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || echo "?")
    echo "fuzz $target: ${SECONDS_EACH}s, $runs executions, coverage $cov edges, $(ls "$scratch" | wc -l) inputs in the corpus, no crash"
  else
    echo "fuzz $target: FAILED; the last lines of its log:" >&2
    tail -40 "$log" >&2
    status=1
  fi
  rm -rf "$scratch" "$log"
done
exit $status
