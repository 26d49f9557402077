#!/usr/bin/env bash
# Installs everything hakit needs to build, test and run its lab on Debian 12. Idempotent:
# only missing packages are installed, and apt-get update runs only when something is missing.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
  libcurl4-openssl-dev libmariadb-dev libyaml-cpp-dev libspdlog-dev libfmt-dev
  libcli11-dev doctest-dev nlohmann-json3-dev libssl-dev zlib1g-dev libre2-dev dpkg-dev help2man
  fakeroot logrotate jq
  libzip-dev  # sitesync extracts getperf archives in-process (linked into sitesync only)
  # tests: real servers and peers
  python3 python3-pytest python3-pymysql mariadb-server mariadb-client galera-4 nginx-light rsync
  keepalived openssl iproute2 nftables iputils-ping procps psmisc util-linux unzip  # unzip: the sitesync benchmark
  etcd-server etcd-client  # the arbiter's tests: a real 3-member etcd (tests/fixtures/etcd.py)
  # benchmarks: the peer tools we compare with
  monitoring-plugins-basic monitoring-plugins-standard liburiparser1 hyperfine curl time
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "deps.sh: missing packages (${missing[*]}); run as root" >&2
    exit 1
  fi
  echo "deps.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian starts packaged daemons on install where an init system runs; the tests start their
# own instances on other ports and must not fight a system one over a datadir or port.
for svc in mariadb nginx keepalived rsync etcd; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" || true
    systemctl disable "$svc" >/dev/null 2>&1 || true
  fi
done
echo "deps.sh: all dependencies present"
