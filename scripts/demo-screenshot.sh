#!/usr/bin/env bash
# Regenerates docs/demo-report.png, the README's image: runs the full `loadcast demo` and
# screenshots its report in headless Chromium (Debian's package; nothing is downloaded).
#
# Usage: scripts/demo-screenshot.sh      (WIDTH=1100 HEIGHT=2230)
set -euo pipefail
cd "$(dirname "$0")/.."
WIDTH=${WIDTH:-1100}
HEIGHT=${HEIGHT:-2230}
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
cargo build --release -q -p loadcast
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$TARGET_DIR/release/loadcast" --no-store demo --quiet --dir "$work/demo"
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync --hide-scrollbars \
  --user-data-dir="$work/profile" --window-size="$WIDTH,$HEIGHT" \
  --screenshot="$PWD/docs/demo-report.png" "file://$work/demo/report.html" 2>/dev/null
echo "docs/demo-report.png (${WIDTH}×${HEIGHT}) from $work/demo/report.html"
