#!/usr/bin/env bash
# Memory of many virtual users: 50,000 users, each with its own row of a 100,000-row feeder,
# log in (a session cookie and a captured token each) and then sit idle, thinking. Peak RSS of
# the generator is sampled from /proc; Locust runs the same users side by side when installed
# (pip install locust) for a peer figure.
#
# Usage: bench/users.sh          (RUNS=3 USERS=50000 ROWS=100000 RAMP=10 HOLD=15 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh

RUNS=${RUNS:-3}
USERS=${USERS:-50000}
ROWS=${ROWS:-100000}
RAMP=${RAMP:-10}
HOLD=${HOLD:-15}

cargo build --release -q -p loadcast
cargo build --release -q -p loadcast-testkit --example session_app
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
LOADCAST=$(realpath "$TARGET_DIR/release/loadcast")
APP=$(realpath "$TARGET_DIR/release/examples/session_app")

work=$(mktemp -d)
app_pid=""
trap '[ -n "$app_pid" ] && kill "$app_pid" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT

# The app knows users 0..999 by default; the bench needs ROWS of them.
session_app_start "$APP" "$work" "$ROWS"

cat > "$work/users.toml" <<TOML
name = "idle-users"
target = "$URL"
[http]
connections = "shared"      # 50,000 sockets would pass the machine's open-file limit
timeout = "30s"
[feeders.user]
csv = "users.csv"
[[scenario]]
[[scenario.step]]
name = "login"
post = "/api/login"
json = { email = "{{user.email}}", password = "{{user.password}}" }
capture = { token = "json:/token" }
check = { status = 200 }
[[scenario.step]]
think = "10m"
[[scenario.step]]
get = "/api/users/{{user.email}}/orders"
headers = { authorization = "Bearer {{token}}" }
[load]
model = "closed"
stages = [ { users = "0..$USERS", over = "${RAMP}s" }, { users = $USERS, over = "${HOLD}s" } ]
TOML

# peak_rss PID → largest VmRSS (kB) seen while PID runs
peak_rss() {
  local pid=$1 peak=0 rss
  while kill -0 "$pid" 2>/dev/null; do
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    [ "${rss:-0}" -gt "$peak" ] && peak=$rss
    sleep 0.5
  done
  echo "$peak"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

: > "$work/loadcast.kb"
for run in $(seq "$RUNS"); do
  pushd "$work" > /dev/null
  "$LOADCAST" run users.toml --progress off --out "r$run.json" > "out$run" 2>&1 &
  pid=$!
  popd > /dev/null
  peak=$(peak_rss "$pid")
  wait "$pid" || true
  logins=$(python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(next(q['ok'] for q in r['requests'] if q['name']=='login'))" "$work/r$run.json")
  vus=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['generator']['max_vus'])" "$work/r$run.json")
  echo "run $run: loadcast peak RSS $((peak / 1024)) MiB, $vus virtual users, $logins logged in"
  echo "$peak" >> "$work/loadcast.kb"
done
lc=$(median < "$work/loadcast.kb")

if command -v locust >/dev/null 2>&1; then
  cat > "$work/locustfile.py" <<'PY'
import csv, itertools, threading
from locust import HttpUser, task, constant
rows = list(csv.DictReader(open("users.csv")))
counter = itertools.count()
class Shopper(HttpUser):
    wait_time = constant(600)
    def on_start(self):
        row = rows[next(counter) % len(rows)]
        r = self.client.post("/api/login", json={"email": row["email"], "password": row["password"]})
        self.token = r.json().get("token")
        self.email = row["email"]
    @task
    def orders(self):
        self.client.get(f"/api/users/{self.email}/orders", headers={"authorization": f"Bearer {self.token}"})
PY
  pushd "$work" > /dev/null
  locust -f locustfile.py --headless -u "$USERS" -r $((USERS / RAMP)) -t "$((RAMP + HOLD))s" \
    -H "$URL" --only-summary --stop-timeout 1 > locust.out 2>&1 &
  pid=$!
  popd > /dev/null
  lo=$(peak_rss "$pid")
  wait "$pid" || true
  # Locust spawns at the rate Python allows; say how many users it really had.
  reached=$(grep -oE '"Shopper": [0-9]+' "$work/locust.out" | tail -1 | grep -oE '[0-9]+$' || true)
  logins=$(grep -E "POST +/api/login" "$work/locust.out" | head -1 | awk '{print $3}' || true)
  echo "locust: peak RSS $((lo / 1024)) MiB, ${reached:-?} users spawned, ${logins:-?} logins"
fi

echo
echo "== $USERS idle virtual users, $ROWS-row feeder, login then think (median of $RUNS)"
printf "loadcast  peak RSS %6d MiB  (%.1f KiB per user)  goal < 500 MiB\n" $((lc / 1024)) "$(echo "$lc / $USERS" | bc -l)"
if [ -n "${lo:-}" ]; then
  printf "locust    peak RSS %6d MiB  (%.1f KiB per user)\n" $((lo / 1024)) "$(echo "$lo / $USERS" | bc -l)"
  printf "loadcast/locust memory: %.2fx\n" "$(echo "$lc / $lo" | bc -l)"
fi
