#!/usr/bin/env bash
# Capacity against data volume: fit on 1×, 2×, 4× data, predict 8×, then measure 8×.
#
# The target (crates/loadcast-testkit/examples/capacity_server.rs) serves 4 requests at once,
# each taking 2 ms + 0.5 ms × (rows / 1000)^EXPONENT of a real SQLite table that `loadcast
# capacity` grows between searches. EXPONENT=1 is a scan (1/C exactly linear in the rows: the
# law the study should recognise every time); 0.85 is sub-linear, so the fitted forms compete.
# The capacity quoted is the study's one figure, the highest rate that held the SLO.
#
# Usage: bench/capacity.sh      (BASE_ROWS=20000 HOLD=3s EXPONENT=0.85)
set -euo pipefail
cd "$(dirname "$0")/.."
BASE_ROWS=${BASE_ROWS:-20000}
HOLD=${HOLD:-3s}
EXPONENT=${EXPONENT:-0.85}
cargo build --release -q -p loadcast
cargo build --release -q -p loadcast-testkit --example capacity_server
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
LOADCAST="$TARGET_DIR/release/loadcast"
work=$(mktemp -d)
server=""
# The study files of the last run stay in bench/out/capacity for a look.
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; mkdir -p bench/out/capacity; cp "$work"/*.json "$work"/*.out bench/out/capacity/ 2>/dev/null; rm -rf "$work"' EXIT

fresh_db() {
  rm -f "$work/items.db"*
  python3 -c "import sqlite3; c = sqlite3.connect('$work/items.db'); c.executescript('CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL NOT NULL); CREATE TABLE loadcast_target (marked_at TEXT, note TEXT);')"
  "$LOADCAST" grow --db "sqlite://$work/items.db" --rows "items=$BASE_ROWS" --progress off > /dev/null
}
fresh_db
"$TARGET_DIR/release/examples/capacity_server" "$work/items.db" items 4 2 0.5 "$EXPONENT" > "$work/url" &
server=$!
for _ in $(seq 50); do [ -s "$work/url" ] && break; sleep 0.1; done
URL=$(cat "$work/url")

cat > "$work/plan.toml" <<TOML
name = "data-knob"
target = "$URL"
[slo]
p99 = "250ms"
errors = "1%"
[[scenario]]
[[scenario.step]]
get = "/items"
check = { status = 200 }
[load]
model = "open"
rate = "10/s"
duration = "1s"
[database]
url = "sqlite://$work/items.db"
[database.tables.items]
rows = "2x"
[capacity]
from = "20/s"
factor = 1.5
hold = "$HOLD"
warmup = "1s"
TOML

# A projection whose only job is to name the volume to predict: 8× today's rows.
python3 - "$work/projection.json" "$BASE_ROWS" <<'PY'
import json, sys
rows = 8 * int(sys.argv[2])
band = {"point": rows, "lo80": rows, "hi80": rows, "lo95": rows, "hi95": rows}
json.dump({"format": "loadcast-projection", "version": 1, "as_of": "", "as_of_unix": 0,
           "history_start": "", "step_seconds": 86400, "horizon_end": "", "horizon_end_unix": 0,
           "series": [{"name": "items", "kind": "data", "model": "given", "candidates": [],
                       "last": rows / 8, "current_peak": rows / 8, "at_horizon": band, "peak": band,
                       "peak_at": "", "peak_at_unix": 0, "growth": 7.0,
                       "backtest": {"mase": 0, "smape": 0, "mape": 0, "cover80": 0, "cover95": 0, "folds": 0},
                       "path": [], "history": []}], "notes": []}, open(sys.argv[1], "w"))
PY

started=$(date +%s)
"$LOADCAST" capacity "$work/plan.toml" --scales 2x,4x --projection "$work/projection.json" --quiet -o "$work/fit.json" > "$work/fit.out" 2>&1
# Back to today's rows in the same file (the server keeps it open).
python3 -c "import sqlite3; c = sqlite3.connect('$work/items.db'); c.execute('DELETE FROM items WHERE id > $BASE_ROWS'); c.commit(); c.execute('VACUUM')"
sleep 0.5
"$LOADCAST" capacity "$work/plan.toml" --scales 8x --quiet -o "$work/measured.json" > "$work/measured.out" 2>&1
seconds=$(( $(date +%s) - started ))

python3 - "$work/fit.json" "$work/measured.json" "$seconds" "$EXPONENT" <<'PY'
import json, sys
fit, measured = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
def cap(s):
    return s["breaking_point"]["max_rate"]
print(f"== capacity against data volume (4 workers, 2 ms + 0.5 ms × (rows/1000)^{sys.argv[4]})")
for s in fit["scales"]:
    b = s["breaking_point"]
    limited = "  GENERATOR-LIMITED" if b["generator_limited"] else ""
    print(f"measured  {s['scale']:>4}  {s['volume']:>9.0f} rows  {cap(s):7.1f}/s  (broke at {b['broke_at']}){limited}")
for w in fit["warnings"]:
    print(f"warning: {w}")
m = fit["data_model"]
if m is None:
    sys.exit("no capacity-vs-data fit (see the warnings above)")
print(f"fitted form: {m['form']}  (mean error {m['relative_error']*100:.1f}% on 3 scales; tried {[(f, round(e*100,1)) for f, e in m['tried']]}; alternatives {[a['form'] for a in m.get('alternatives', [])]})")
p = fit["at_horizon"]
eight = measured["scales"][1]
actual = cap(eight)
high = "∞" if p["high"] is None else f"{p['high']:.1f}"
print(f"predicted  8x  {fit['horizon_volume']:>9.0f} rows  {p['capacity']:7.1f}/s  (95%: {p['low']:.1f} – {high})")
print(f"measured   8x  {eight['volume']:>9.0f} rows  {actual:7.1f}/s")
err = p['capacity'] / actual - 1
print(f"prediction error {err*100:+.1f}%  (goal within ±10%)  — {'met' if abs(err) <= 0.1 else 'NOT met'}; {sys.argv[3]} s in all")
PY
