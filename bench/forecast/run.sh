#!/usr/bin/env bash
# Forecast accuracy and speed: loadcast against Prophet, statsmodels (Holt-Winters; STL+ETS)
# and the seasonal-naive baseline, on the same rolling holdouts of two real series:
#
#  * NYC taxi passengers, 30-minute buckets, Jul 2014–Jan 2015 (Numenta Anomaly Benchmark,
#    MIT licence; ../shared/data/nab): two-week holdouts, weekly season (336 samples).
#  * Mauna Loa CO2, weekly, 1958–2001, shipped inside statsmodels' wheel on PyPI
#    (statsmodels.datasets.co2; public domain, per its COPYRIGHT): one-year holdouts (52).
#
# MASE is scaled by each fold's in-sample seasonal-naive error; coverage is the share of holdout
# values inside the 80% and 95% intervals. Then: 1,000 series of the taxi's length forecast in
# one process (median of RUNS).
#
# Needs: python3 with numpy, pandas, statsmodels, prophet (pip install …).
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-3}
PEERS=${PEERS:-seasonal-naive,prophet,prophet-tuned,statsmodels-holt-winters,statsmodels-stl-ets}

cargo build --release -q -p loadcast
LOADCAST="${CARGO_TARGET_DIR:-target}/release/loadcast"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$work" <<'PY'
import sys
import statsmodels.datasets.co2 as co2
d = co2.load_pandas().data
d.index.name = "date"
d.to_csv(f"{sys.argv[1]}/co2.csv")
PY
cp ../shared/data/nab/nyc_taxi.csv "$work/taxi.csv"

# dataset csv column holdout(duration) holdout(samples) season
datasets=(
  "taxi taxi.csv value 14d 672 336"
  "co2 co2.csv co2 52w 52 52"
)

: > "$work/rows"
for spec in "${datasets[@]}"; do
  read -r name file column holdout samples season <<< "$spec"
  start=$(date +%s.%N)
  "$LOADCAST" forecast "$work/$file" --traffic "$column" --backtest --holdout "$holdout" --json > "$work/$name.loadcast.json"
  seconds=$(echo "$(date +%s.%N) - $start" | bc)
  python3 - "$work/$name.loadcast.json" "$name" "$seconds" >> "$work/rows" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))[0]["accuracy"]
print(json.dumps({"dataset": sys.argv[2], "model": "loadcast", "folds": r["folds"], "seconds": float(sys.argv[3]),
                  "mase": r["mase"], "smape": r["smape"], "cover80": r["cover80"], "cover95": r["cover95"]}))
PY
  python3 bench/forecast/peers.py "$work/$file" --column "$column" --holdout "$samples" --season "$season" \
      --models "$PEERS" 2>/dev/null \
    | python3 -c "import json,sys
for line in sys.stdin:
    r = json.loads(line); r['dataset'] = '$name'; print(json.dumps(r))" >> "$work/rows"
done

python3 - "$work/rows" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for dataset in dict.fromkeys(r["dataset"] for r in rows):
    rs = [r for r in rows if r["dataset"] == dataset]
    print(f"\n== {dataset}: rolling holdouts, {rs[0].get('folds', '?')} folds")
    print(f"{'model':<28} {'MASE':>7} {'sMAPE':>8} {'cover80':>8} {'cover95':>8} {'seconds':>8}")
    for r in rs:
        if "error" in r:
            print(f"{r['model']:<28} failed: {r['error']}")
            continue
        print(f"{r['model']:<28} {r['mase']:>7.3f} {r['smape']:>7.2f}% {r['cover80']*100:>7.1f}% {r['cover95']*100:>7.1f}% {r['seconds']:>8.2f}")
    ours = next(r for r in rs if r["model"] == "loadcast")
    peers = [r for r in rs if r["model"] != "loadcast" and "mase" in r]
    best = min(peers, key=lambda r: r["mase"])
    print(f"loadcast MASE / best other ({best['model']}): {ours['mase'] / best['mase']:.3f}   "
          f"coverage off nominal: 80% {abs(ours['cover80']*100-80):.1f} pts, 95% {abs(ours['cover95']*100-95):.1f} pts")
PY

# Speed: 1,000 series of the taxi's length (each the taxi series, rescaled, with noise).
python3 - "$work/many.csv" <<'PY'
import csv, random, sys
rows = list(csv.reader(open("../shared/data/nab/nyc_taxi.csv")))[1:]
random.seed(1)
scales = [random.uniform(0.1, 10) for _ in range(1000)]
with open(sys.argv[1], "w") as f:
    f.write("timestamp," + ",".join(f"s{i}" for i in range(1000)) + "\n")
    for t, v in rows:
        v = float(v)
        f.write(t + "," + ",".join(f"{v * s * random.uniform(0.95, 1.05):.1f}" for s in scales) + "\n")
PY
args=()
for i in $(seq 0 999); do args+=(--traffic "s$i"); done
: > "$work/speed"
for run in $(seq "$RUNS"); do
  start=$(date +%s.%N)
  "$LOADCAST" forecast "$work/many.csv" "${args[@]}" --horizon 14d -o "$work/many.json" > /dev/null
  echo "$(date +%s.%N) - $start" | bc >> "$work/speed"
done
median=$(sort -n "$work/speed" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
series=$(python3 -c "import json; print(len(json.load(open('$work/many.json'))['series']))")
echo
echo "== speed: $series series × 10,320 samples, 14-day horizon, $(nproc) CPUs"
printf "loadcast forecast: %.2f s (median of %d; goal < 10 s)\n" "$median" "$RUNS"
