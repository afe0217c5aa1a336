#!/usr/bin/env bash
# Soak: memory must stay flat however long a run lasts. Two runs of SOAK seconds each (600 by
# default), RSS sampled from /proc early and late, and the run's errors:
#   1. 10,000 closed-model connections against nginx on loopback (one worker, CPU 0);
#   2. 50,000 virtual users of the session app, each logged in with its own feeder row and
#      its own token, looping through an authenticated page with a think time.
# Goal: RSS growth between the early and the late sample below 10%, and 0 errors.
#
# Usage: bench/soak.sh                 (SOAK=600 CONNECTIONS=10000 USERS=50000 by default)
# Needs: nginx (apt-get install nginx), python3.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh

SOAK=${SOAK:-600}
CONNECTIONS=${CONNECTIONS:-10000}
USERS=${USERS:-50000}
PORT=${PORT:-18182}
# The early sample once every connection is open (30 s) and every user has logged in and
# been through its first think time (90 s); the late one 10 s before the end.
EARLY=${EARLY:-30}
EARLY_USERS=${EARLY_USERS:-90}

command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { echo "missing: nginx" >&2; exit 1; }
cargo build --release -q -p loadcast
cargo build --release -q -p loadcast-testkit --example session_app
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
LOADCAST=$(realpath "$TARGET_DIR/release/loadcast")
APP=$(realpath "$TARGET_DIR/release/examples/session_app")

work=$(mktemp -d)
app_pid=""
trap 'nginx_stop "$work"; [ -n "$app_pid" ] && kill "$app_pid" 2>/dev/null; rm -rf "$work"' EXIT
nginx_start "$work" "$PORT" 3600s

rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# soak NAME PLAN EARLY: runs the plan, samples RSS at EARLY s and at SOAK-10 s, prints the figures.
soak() {
  local name=$1 plan=$2 EARLY=$3
  "$LOADCAST" --no-store run "$plan" --progress off --out "$work/$name.json" > "$work/$name.out" 2>&1 &
  local pid=$!
  sleep "$EARLY"; local early; early=$(rss "$pid")
  sleep $((SOAK - EARLY - 10)); local late; late=$(rss "$pid")
  wait "$pid" || true
  [ -s "$work/$name.json" ] || { echo "$name: no result; its output:" >&2; tail -20 "$work/$name.out" >&2; return 1; }
  python3 - "$work/$name.json" "$name" "$early" "$late" "$EARLY" "$((SOAK - 10))" <<'PY'
import json, sys
path, name, early, late, t1, t2 = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
r = json.load(open(path))
requests = sum(q["count"] for q in r["requests"])
errors = sum(sum(q["errors"].values()) for q in r["requests"])
growth = 100.0 * (late - early) / early if early else float("nan")
print(f"{name:<12} RSS at {t1} s {early / 1024:7.1f} MiB, at {t2} s {late / 1024:7.1f} MiB: "
      f"{growth:+.1f}% (goal < 10%); {requests:,} requests, {errors} errors (goal 0); "
      f"{len(r['timeline'])} seconds of timeline kept")
PY
}

cat > "$work/connections.toml" <<TOML
name = "soak-connections"
target = "http://127.0.0.1:${PORT}"
[http]
timeout = "60s"
[[scenario]]
[[scenario.step]]
get = "/"
[[scenario.step]]
think = "100ms..300ms"
[load]
model = "closed"
stages = [ { users = "0..${CONNECTIONS}", over = "10s" }, { users = ${CONNECTIONS}, over = "$((SOAK - 10))s" } ]
TOML

session_app_start "$APP" "$work" "$USERS"
cat > "$work/users.toml" <<TOML
name = "soak-users"
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
name = "orders"
get = "/api/users/{{user.email}}/orders"
headers = { authorization = "Bearer {{token}}" }
check = { status = 200 }
[[scenario.step]]
think = "20s..40s"
[load]
model = "closed"
stages = [ { users = "0..${USERS}", over = "20s" }, { users = ${USERS}, over = "$((SOAK - 20))s" } ]
TOML

echo "== soak: ${SOAK}s each; RSS early and late (loopback, nginx on CPU 0)"
soak connections "$work/connections.toml" "$EARLY"
(cd "$work" && soak users users.toml "$EARLY_USERS")
