#!/usr/bin/env bash
# SQL generator benchmark: pgbench's TPC-B-like transaction run by pgbench and by loadcast on
# the same initialized database. loadcast runs the plan `loadcast plan import-pgbench` writes
# from bench/sql/tpcb-like.sql (pgbench's built-in script, written out), so both send the same
# five prepared statements between BEGIN and END.
#
# Closed model at each of CLIENTS clients, then open model at a fixed RATE on 8 connections
# (pgbench -c 8 -R; loadcast's pool of 8): TPS of committed transactions, p50 and p99
# latency from both, median of RUNS runs, the two tools alternating run by run. Both use two
# threads (pgbench -j 2, loadcast's two workers) on the machine PostgreSQL runs on; latency is
# per transaction, BEGIN to END (pgbench's per-transaction log; loadcast's transaction line).
#
# Then the database's own view's cost: loadcast at VIEW_CLIENTS clients with the view on (the
# default) and off (`observe = false`), alternating: its TPS either way and what its sampling
# queries took on the server.
#
# Usage: bench/sql.sh      (RUNS=3 DURATION=10 SCALE=10 CLIENTS="1 8 32" RATE=1000 VIEW_CLIENTS=8)
# Needs: PostgreSQL on 127.0.0.1:5432 (user postgres, trust), pgbench (postgresql-contrib).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
SCALE=${SCALE:-10}
CLIENTS=${CLIENTS:-"1 8 32"}
RATE=${RATE:-1000}
VIEW_CLIENTS=${VIEW_CLIENTS:-8}
export PGHOST=127.0.0.1 PGUSER=postgres
DB="lc_bench_sql_$$"

for tool in pgbench psql python3; do
  command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 1; }
done
cargo build --release -q -p loadcast
LOADCAST="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/loadcast"

work=$(mktemp -d)
trap 'psql -qc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1; rm -rf "$work"' EXIT
psql -qc "CREATE DATABASE $DB"
pgbench -i -s "$SCALE" -q "$DB" 2>&1 | tail -1
URL="postgres://postgres@127.0.0.1:5432/$DB"

# pgbench_run ARGS…: prints "tps p50_ms p99_ms" from its output and per-transaction log.
pgbench_run() {
  rm -f "$work"/pgb_log*
  local out
  out=$(cd "$work" && pgbench -n -M prepared -j 2 -T "$DURATION" -l --log-prefix=pgb_log "$@" "$DB" 2>&1)
  local tps
  tps=$(echo "$out" | awk '/^tps = / {print $3}')
  cat "$work"/pgb_log* | python3 -c "
import sys
lat = sorted(int(l.split()[2]) for l in sys.stdin if l.strip())
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] / 1000
print('$tps', f'{q(0.5):.3f}', f'{q(0.99):.3f}')"
}

# loadcast_run PLAN: prints "tps p50_ms p99_ms" of the transaction.
loadcast_run() {
  "$LOADCAST" --no-store run "$1" --progress off -o "$work/lc.json" > /dev/null 2>&1
  "$LOADCAST" --no-store report "$work/lc.json" --summary "$work/lc.summary.json" > /dev/null 2>&1
  python3 - "$work/lc.summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
t = next(r for r in s["requests"] if r["name"] == "tpcb-like")
# Transactions that committed, as pgbench counts them; a failing run is no benchmark.
if t["error_rate"] > 0.001:
    sys.exit(f"loadcast: {t['error_rate'] * 100:.2f}% of transactions failed: {t['errors']}")
print(f"{t['ok'] / s['elapsed_seconds']:.1f} {t['p50_ms']:.3f} {t['p99_ms']:.3f}")
PY
}

: > "$work/rows"
for clients in $CLIENTS; do
  "$LOADCAST" plan import-pgbench bench/sql/tpcb-like.sql --database "$URL" --scale "$SCALE" \
    --clients "$clients" --duration "${DURATION}s" -o "$work/closed.toml" 2> /dev/null
  for run in $(seq "$RUNS"); do
    echo "closed $clients pgbench $(pgbench_run -c "$clients")" >> "$work/rows"
    figures=$(loadcast_run "$work/closed.toml")
    echo "closed $clients loadcast $figures" >> "$work/rows"
  done
done
"$LOADCAST" plan import-pgbench bench/sql/tpcb-like.sql --database "$URL" --scale "$SCALE" \
  --rate "$RATE" --clients 8 --duration "${DURATION}s" -o "$work/open.toml" 2> /dev/null
for run in $(seq "$RUNS"); do
  echo "rate $RATE pgbench $(pgbench_run -c 8 -R "$RATE")" >> "$work/rows"
  figures=$(loadcast_run "$work/open.toml")
  echo "rate $RATE loadcast $figures" >> "$work/rows"
done

# The view's cost: the same closed plan with the view on and off.
"$LOADCAST" plan import-pgbench bench/sql/tpcb-like.sql --database "$URL" --scale "$SCALE" \
  --clients "$VIEW_CLIENTS" --duration "${DURATION}s" -o "$work/view-on.toml" 2> /dev/null
sed 's/^\[database\]$/[database]\nobserve = false/' "$work/view-on.toml" > "$work/view-off.toml"
grep -q '^observe = false' "$work/view-off.toml" || { echo "no [database] table in the plan" >&2; exit 1; }
: > "$work/view"
for run in $(seq "$RUNS"); do
  for view in on off; do
    figures=$(loadcast_run "$work/view-$view.toml")
    sampling=$(python3 -c "
import json; d = json.load(open('$work/lc.json')).get('database') or {}
print(d.get('sampling_queries', 0), f\"{d.get('sampling_seconds', 0.0) * 1e3:.1f}\", f\"{d.get('seconds', 0.0):.1f}\")")
    echo "$view $figures $sampling" >> "$work/view"
  done
done

python3 - "$work/rows" "$RUNS" "$RATE" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
runs, rate = sys.argv[2], float(sys.argv[3])
print(f"\n== pgbench TPC-B-like, scale factor from the database, median of {runs} runs on {__import__('os').cpu_count()} CPUs")
print(f"{'load':<14} {'tool':<9} {'TPS':>9} {'p50 ms':>8} {'p99 ms':>8}   loadcast/pgbench TPS")
for key in dict.fromkeys((r[0], r[1]) for r in rows):
    figures = {}
    for tool in ("pgbench", "loadcast"):
        rs = [r for r in rows if (r[0], r[1]) == key and r[2] == tool]
        figures[tool] = [statistics.median(float(r[i]) for r in rs) for i in (3, 4, 5)]
    label = f"{key[1]} clients" if key[0] == "closed" else f"rate {key[1]}/s"
    for tool in ("pgbench", "loadcast"):
        tps, p50, p99 = figures[tool]
        extra = ""
        if tool == "loadcast":
            extra = f"   {tps / figures['pgbench'][0]:.3f}"
            if key[0] == "rate":
                extra += f" (rate held within {abs(tps - rate) / rate * 100:.2f}%)"
        print(f"{label:<14} {tool:<9} {tps:>9.1f} {p50:>8.3f} {p99:>8.3f}{extra}")
PY

python3 - "$work/view" "$RUNS" "$VIEW_CLIENTS" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
runs, clients = sys.argv[2], sys.argv[3]
tps = {v: statistics.median(float(r[1]) for r in rows if r[0] == v) for v in ("on", "off")}
on = [r for r in rows if r[0] == "on"]
queries = statistics.median(float(r[4]) for r in on)
ms = statistics.median(float(r[5]) for r in on)
seconds = statistics.median(float(r[6]) for r in on)
print(f"\n== the database's view at {clients} clients, median of {runs} runs each, alternating")
print(f"view on  {tps['on']:>9.1f} TPS   ({queries:.0f} sampling queries, {ms:.1f} ms of them in {seconds:.1f} s)")
print(f"view off {tps['off']:>9.1f} TPS")
print(f"difference {(tps['on'] / tps['off'] - 1) * 100:+.2f}% (goal: within 2%)")
PY
