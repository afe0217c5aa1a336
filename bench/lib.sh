# Shared by the bench scripts (sourced, not run): nginx on loopback pinned to CPU 0, and the
# session app with a feeder of its users.

# nginx_start WORK PORT KEEPALIVE: one worker, access log off, a 3-byte body, 19,000 connections.
nginx_start() {
  local work=$1 port=$2 keepalive=$3
  mkdir -p "$work/logs"
  cat > "$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/logs/error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 19000; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout ${keepalive};
  server {
    listen 127.0.0.1:${port} backlog=16384;
    location / { return 200 "ok\n"; }
  }
}
NGINX
  taskset -c 0 nginx -p "$work" -c nginx.conf
  sleep 0.5
}

nginx_stop() {
  nginx -p "$1" -c nginx.conf -s stop 2>/dev/null || true
}

# session_app_start APP WORK USERS: starts the session app knowing USERS users, writes their
# feeder (WORK/users.csv); sets app_pid and URL.
session_app_start() {
  local app=$1 work=$2 users=$3
  SESSION_APP_USERS=$users "$app" > "$work/url" &
  app_pid=$!
  for _ in $(seq 50); do [ -s "$work/url" ] && break; sleep 0.1; done
  URL=$(cat "$work/url")
  python3 - "$users" > "$work/users.csv" <<'PY'
import sys
print("email,password")
for i in range(int(sys.argv[1])):
    print(f"user{i}@example.com,pw-{i}")
PY
}
