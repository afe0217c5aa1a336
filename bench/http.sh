#!/usr/bin/env bash
# HTTP generator benchmark: loadcast side by side with wrk and oha against nginx on loopback.
#
# nginx runs pinned to CPU 0 (one worker, access log off, a 3-byte body); every generator runs
# pinned to CPU 1. On two cores nginx saturates first, so the fair figure is requests per
# generator CPU-second, not requests per second.
#
# Usage: bench/http.sh            (RUNS=3 DURATION=10 CONNECTIONS=50 SOAK=60 by default)
# Needs: nginx, wrk (apt-get install nginx wrk), oha (cargo install oha), python3, GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh

RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-50}
SOAK=${SOAK:-60}
PORT=${PORT:-18181}
URL="http://127.0.0.1:${PORT}/"

for tool in nginx wrk oha taskset python3 /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 1; }
done

cargo build --release -q -p loadcast
LOADCAST="${CARGO_TARGET_DIR:-target}/release/loadcast"

work=$(mktemp -d)
trap 'nginx_stop "$work"; rm -rf "$work"' EXIT
nginx_start "$work" "$PORT" 300s

closed_plan() { # users duration → plan path
  local path="$work/closed-$1-$2.toml"
  printf 'name = "bench"\ntarget = "http://127.0.0.1:%s"\n[http]\ntimeout = "60s"\n[[scenario]]\n[[scenario.step]]\nget = "/"\n[load]\nmodel = "closed"\nusers = %s\nduration = "%ss"\n' \
    "$PORT" "$1" "$2" > "$path"
  echo "$path"
}

# measure NAME CMD… : runs CMD on CPU 1 under GNU time; appends "name rps cpu rss_kb" to results.
measure() {
  local name=$1; shift
  /usr/bin/time -f "%U %S %M" -o "$work/time" taskset -c 1 "$@" > "$work/out" 2>&1 || {
    echo "$name failed:" >&2; tail -5 "$work/out" >&2; return 1; }
  local rps
  case $name in
    wrk*) rps=$(awk '/Requests\/sec:/ {print $2}' "$work/out") ;;
    oha*) rps=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"]["requestsPerSec"])' "$work/out") ;;
    loadcast*) rps=$(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print(sum(q["count"] for q in r["requests"]) / r["meta"]["elapsed_seconds"])' "$work/result.json") ;;
  esac
  read -r user sys rss < "$work/time"
  echo "$name $rps $(python3 -c "print($user + $sys)") $rss" >> "$work/results"
}

echo "== throughput: $CONNECTIONS connections, ${DURATION}s, $RUNS runs each (nginx on CPU 0, generator on CPU 1)"
plan=$(closed_plan "$CONNECTIONS" "$DURATION")
for run in $(seq "$RUNS"); do
  measure wrk wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" "$URL"
  measure oha oha -z "${DURATION}s" -c "$CONNECTIONS" --no-tui --output-format json "$URL"
  measure loadcast "$LOADCAST" run "$plan" --progress off --out "$work/result.json"
  echo "  run $run done"
done

echo "== memory per connection: peak RSS at 1,000 and 10,000 connections (5 s each)"
for c in 1000 10000; do
  measure "wrk-$c" wrk -t1 -c"$c" -d5s "$URL"
  measure "oha-$c" oha -z 5s -c "$c" --no-tui --output-format json "$URL"
  measure "loadcast-$c" "$LOADCAST" run "$(closed_plan "$c" 5)" --progress off --out "$work/result.json"
done

echo "== fixed rate: 5000/s for ${DURATION}s (open model)"
printf 'name = "rate"\ntarget = "http://127.0.0.1:%s"\n[[scenario]]\n[[scenario.step]]\nget = "/"\n[load]\nmodel = "open"\nrate = "5000/s"\nduration = "%ss"\n' \
  "$PORT" "$DURATION" > "$work/rate.toml"
/usr/bin/time -f "%U %S %M" -o "$work/time" taskset -c 1 "$LOADCAST" run "$work/rate.toml" --progress off --out "$work/rate.json" > /dev/null
read -r user sys _ < "$work/time"
python3 - "$work/rate.json" "$user" "$sys" "$DURATION" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
user, sys_, duration = float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
sent = sum(q["count"] for q in r["requests"])
expected = 5000 * duration
print(f"  sent {sent} of {expected:.0f} ({100 * (sent - expected) / expected:+.2f}%), "
      f"late {r['generator']['late']}, dropped {r['generator']['dropped']}, "
      f"CPU {user + sys_:.2f}s = {100 * (user + sys_) / duration:.1f}% of a core")
PY

echo "== flat memory: RSS at the start and end of a ${SOAK}s run"
"$LOADCAST" run "$(closed_plan "$CONNECTIONS" "$SOAK")" --progress off --out "$work/soak.json" > /dev/null &
pid=$!
sleep 0.2
sleep 5; early=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
sleep $((SOAK - 10)); late=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
wait "$pid"
echo "  RSS at 5 s: ${early} KB; at $((SOAK - 5)) s: ${late} KB; change $((late - early)) KB"

python3 - "$work/results" "$DURATION" <<'PY'
import statistics, sys
duration = float(sys.argv[2])
rows = {}
for line in open(sys.argv[1]):
    name, rps, cpu, rss = line.split()
    rows.setdefault(name, []).append((float(rps), float(cpu), int(rss)))
med = lambda xs: statistics.median(xs)
print()
print(f"{'tool':<10} {'req/s (median)':>15} {'CPU s':>8} {'req per CPU-s':>14} {'peak RSS':>10}")
fig = {}
for tool in ("wrk", "oha", "loadcast"):
    runs = rows[tool]
    rps = med([r[0] for r in runs]); cpu = med([r[1] for r in runs]); rss = med([r[2] for r in runs])
    # requests per generator CPU-second, per run, then the median
    per_cpu = med([r[0] * duration / r[1] if r[1] else 0 for r in runs])
    fig[tool] = per_cpu
    print(f"{tool:<10} {rps:>15,.0f} {cpu:>8.2f} {per_cpu:>14,.0f} {rss / 1024:>8.1f}MB")
print()
print(f"loadcast/wrk requests per CPU-second: {fig['loadcast'] / fig['wrk']:.2f}x")
print(f"loadcast/oha requests per CPU-second: {fig['loadcast'] / fig['oha']:.2f}x")
print()
print(f"{'tool':<10} {'RSS @1k':>10} {'RSS @10k':>10} {'KB/conn':>8}")
for tool in ("wrk", "oha", "loadcast"):
    a = rows[f"{tool}-1000"][0][2]; b = rows[f"{tool}-10000"][0][2]
    print(f"{tool:<10} {a / 1024:>8.1f}MB {b / 1024:>8.1f}MB {(b - a) / 9000:>8.1f}")
PY
