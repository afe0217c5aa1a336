#!/usr/bin/env bash
# The whole test suite, on a fresh machine or a used one: installs what the tests need
# (idempotently), then runs every test in the workspace. `.ci/run` calls this same script.
set -euo pipefail
cd "$(dirname "$0")/.."

# Real parts the integration tests drive. Each is installed only when missing.
need_apt=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need_apt+=(nginx)
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing: ${need_apt[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

cargo test --workspace --locked "$@"
