#!/usr/bin/env bash
# The whole test suite, on a fresh machine or a used one: installs what the tests need
# (idempotently), then runs every test in the workspace. `.ci/run` calls this same script.
set -euo pipefail
cd "$(dirname "$0")/.."

# Real parts the integration tests drive. Each is installed only when missing.
need_apt=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need_apt+=(nginx)
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v xmllint >/dev/null 2>&1 || need_apt+=(libxml2-utils)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing: ${need_apt[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi

# PostgreSQL (127.0.0.1:5432, user postgres without a password) and MariaDB (127.0.0.1:3306,
# root without a password): started when stopped; installed and opened to loopback when missing.
if ! command -v psql >/dev/null 2>&1 || ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
  echo "installing: postgresql"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  for hba in /etc/postgresql/*/main/pg_hba.conf; do
    printf 'host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n' | $SUDO tee "$hba.loadcast" >/dev/null
    cat "$hba" | $SUDO tee -a "$hba.loadcast" >/dev/null && $SUDO mv "$hba.loadcast" "$hba"
  done
fi
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
fi
if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then
  echo "installing: mariadb-server"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends mariadb-server >/dev/null
  fresh_mariadb=1
fi
if ! mariadb-admin -h 127.0.0.1 -u root ping >/dev/null 2>&1; then
  $SUDO mkdir -p /run/mysqld && $SUDO chown mysql:mysql /run/mysqld 2>/dev/null || true
  $SUDO start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql || true
fi
for _ in $(seq 60); do
  pg_isready -q -h 127.0.0.1 -p 5432 && mariadb-admin -h 127.0.0.1 -u root ping >/dev/null 2>&1 && break
  # A fresh MariaDB lets root in over the socket only: open it to loopback without a password.
  if [ -n "${fresh_mariadb:-}" ] && $SUDO mariadb -e "SELECT 1" >/dev/null 2>&1; then
    $SUDO mariadb -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD(''); FLUSH PRIVILEGES;" || true
    fresh_mariadb=
  fi
  sleep 1
done
pg_isready -q -h 127.0.0.1 -p 5432 || { echo "PostgreSQL is not answering on 127.0.0.1:5432" >&2; exit 1; }
mariadb-admin -h 127.0.0.1 -u root ping >/dev/null 2>&1 || { echo "MariaDB is not answering on 127.0.0.1:3306" >&2; exit 1; }

# An S3-compatible server (moto, from PyPI) for the object storage tests, and the Kubernetes
# schema validator for the exported manifests.
if ! command -v moto_server >/dev/null 2>&1; then
  echo "installing: moto[server] (pip)"
  python3 -m pip install -q "moto[server]" >/dev/null
fi
if ! command -v kubernetes-validate >/dev/null 2>&1; then
  echo "installing: kubernetes-validate (pip)"
  python3 -m pip install -q kubernetes-validate >/dev/null
fi

cargo test --workspace --locked "$@"
