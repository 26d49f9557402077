#!/usr/bin/env bash
# hakit in two minutes: a real keepalived pair failing over, with hakit's checks and notify
# tools, in network namespaces on this machine (192.0.2.0/24 inside the namespaces only; the
# host's interfaces, routes and firewall are not touched).
#
#   sudo ./scripts/demo.sh
#
# Installs what is missing (scripts/deps.sh, Debian 12), builds into build/, runs scenario 1
# (the monitoring pair: stop nginx on the master while a client writes through the VIP) and
# prints what happened and the figures, then removes everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "demo.sh: run as root (it creates network namespaces and starts keepalived and MariaDB)" >&2
  exit 1
fi

echo "== dependencies"
./scripts/deps.sh

echo "== build (build/)"
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=16 > /dev/null
fi
if ! cmake --build build -j"$(nproc)" --target check_http_200 check_mysql_slave notify_master \
  notify_backup sitesync > build/demo-build.log 2>&1; then
  tail -n 30 build/demo-build.log
  echo "demo.sh: build failed (full log: build/demo-build.log)" >&2
  exit 1
fi
tail -n 1 build/demo-build.log

echo "== scenario 1: monitoring pair failover"
HAKIT_BUILD_DIR="$PWD/build" PYTHONPATH="$PWD/tests:$PWD/tests/e2e" PYTHONDONTWRITEBYTECODE=1 \
  exec /usr/bin/python3 tests/e2e/demo.py
