#!/usr/bin/env bash
# sitesync beside raw `rsync -a --delete`, both pulling from the same private rsync daemon on
# a loopback port: 10,000 small files (no-op and full copy) and one 1 GiB file (full copy
# and no-op). Full copies of the small files run RUNS times (default 3), the 1 GiB copy
# BIG_RUNS (1), no-ops NOOP_RUNS (11), alternating the order; the table shows medians and the ratios sitesync/rsync, for
# sitesync with --no-delay-updates (the same rsync work as the raw command: the wrapper's own
# cost) and for sitesync's default (rsync's --delay-updates/--partial-dir cost included).
# Writes a markdown table to stdout (docs/benchmarks.md, section sitesync).
#
#   tests/bench/bench_sitesync.sh [BUILD_DIR]
#
# Everything lives under one /tmp/hakit-bench-sitesync-* dir, removed at the end.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build}
RUNS=${RUNS:-3}          # full copies of the small files
NOOP_RUNS=${NOOP_RUNS:-11}
BIG_RUNS=${BIG_RUNS:-1}
CASES=${CASES:-1}        # 0: only the hyperfine no-op part (no 1 GiB file)
BIN=$BUILD/tools/sitesync
[ -x "$BIN" ] || BIN=$BUILD/sitesync
for need in "$BIN" /usr/bin/rsync /usr/bin/python3; do
  [ -x "$need" ] || { echo "bench_sitesync: missing $need (run scripts/deps.sh and build)" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/hakit-bench-sitesync-XXXXXX)
DAEMON_PID=
cleanup() {
  if [ -n "$DAEMON_PID" ]; then kill "$DAEMON_PID" 2>/dev/null || true; wait "$DAEMON_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$WORK/small" "$WORK/big" "$WORK/state" "$WORK/run"
cat >"$WORK/rsyncd.conf" <<EOF
pid file = $WORK/rsyncd.pid
use chroot = false
max connections = 10
uid = $(id -un)
gid = $(id -gn)
[small]
path = $WORK/small
read only = true
[big]
path = $WORK/big
read only = true
EOF
/usr/bin/rsync --daemon --no-detach --config="$WORK/rsyncd.conf" --port="$PORT" --address=127.0.0.1 &
DAEMON_PID=$!
cat >"$WORK/hakit.yaml" <<EOF
state_dir: $WORK/state
run_dir: $WORK/run
log: {syslog: false}
EOF
chmod 600 "$WORK/hakit.yaml"
export HAKIT_CONFIG=$WORK/hakit.yaml
export TMPDIR=$WORK   # sitesync's temp files go away with the rest

# 10,000 small files (1-4 KiB) in 100 directories; one 1 GiB file.
/usr/bin/python3 - "$WORK/small" <<'EOF'
import os, sys, random
root = sys.argv[1]
random.seed(1)
for d in range(100):
    os.makedirs(f"{root}/d{d:03d}")
    for f in range(100):
        with open(f"{root}/d{d:03d}/f{f:03d}.dat", "wb") as fh:
            fh.write(os.urandom(random.randint(1024, 4096)))
EOF
[ "$CASES" = 1 ] && head -c 1G /dev/urandom >"$WORK/big/storage.rrd"
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done

now() { date +%s.%N; }
# time_cmd DEST_RESET CMD... → seconds on stdout
time_cmd() {
  local reset=$1; shift
  [ "$reset" = fresh ] && rm -rf "$WORK/dest"
  sync
  local t0 t1
  t0=$(now)
  "$@" >/dev/null 2>"$WORK/err" || { echo "bench_sitesync: $* failed: $(cat "$WORK/err")" >&2; exit 1; }
  # A copy counts until its data is on disk: sitesync fsyncs its journal, which on ext4
  # flushes the copied data too; raw rsync would otherwise leave that bill to the next one.
  [ "$reset" = fresh ] && sync
  t1=$(now)
  echo "$t1 - $t0" | bc -l
}
median() { sort -g | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.3f", m}'; }

RAW=(/usr/bin/rsync -a --delete)
SS=("$BIN" -t 1 --no-progress)
SS_ND=("$BIN" -t 1 --no-progress --no-delay-updates)
# case NAME MODULE RESET RUNS
bench_case() {
  local name=$1 module=$2 reset=$3 runs=$4
  local url="rsync://127.0.0.1:$PORT/$module"
  local raw=() ss=() nd=()
  for i in $(seq "$runs"); do
    # Alternate the order so neither tool always meets a warmer cache.
    if (( i % 2 )); then
      raw+=("$(time_cmd "$reset" "${RAW[@]}" "$url/" "$WORK/dest/")")
      nd+=("$(time_cmd "$reset" "${SS_ND[@]}" "$url" "$WORK/dest")")
      ss+=("$(time_cmd "$reset" "${SS[@]}" "$url" "$WORK/dest")")
    else
      ss+=("$(time_cmd "$reset" "${SS[@]}" "$url" "$WORK/dest")")
      nd+=("$(time_cmd "$reset" "${SS_ND[@]}" "$url" "$WORK/dest")")
      raw+=("$(time_cmd "$reset" "${RAW[@]}" "$url/" "$WORK/dest/")")
    fi
  done
  local mr ms mn
  mr=$(printf '%s\n' "${raw[@]}" | median)
  ms=$(printf '%s\n' "${ss[@]}" | median)
  mn=$(printf '%s\n' "${nd[@]}" | median)
  printf '| %s | %d | %s | %s | %s | %s | %s |\n' "$name" "$runs" "$mr" "$mn" \
    "$(echo "$mn / $mr" | bc -l | xargs printf '%.3f')" "$ms" \
    "$(echo "$ms / $mr" | bc -l | xargs printf '%.3f')"
}

if [ "$CASES" = 1 ]; then
  echo "rsync $(/usr/bin/rsync --version | head -1 | awk '{print $3}'), $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg), loopback rsync daemon; seconds (median)"
  echo
  echo "| case | runs | rsync -a --delete | sitesync -t 1 --no-delay-updates | ratio | sitesync -t 1 (default, --delay-updates) | ratio |"
  echo "|---|---|---|---|---|---|---|"
  bench_case "10,000 small files, full copy" small fresh "$RUNS"
  # Seed the destination once for the no-op runs.
  "${RAW[@]}" "rsync://127.0.0.1:$PORT/small/" "$WORK/dest/"
  bench_case "10,000 small files, no-op" small keep "$NOOP_RUNS"
  bench_case "1 GiB file, full copy" big fresh "$BIG_RUNS"
  bench_case "1 GiB file, no-op" big keep "$NOOP_RUNS"
fi

# The no-op again under hyperfine (many runs, mean ± σ, CPU): the fixed cost of a run.
if [ -x /usr/bin/hyperfine ]; then
  rm -rf "$WORK/dest" "$WORK/dest2" "$WORK/dest3"
  URL="rsync://127.0.0.1:$PORT/small"
  "${RAW[@]}" "$URL/" "$WORK/dest/" && "${RAW[@]}" "$URL/" "$WORK/dest2/" && "${RAW[@]}" "$URL/" "$WORK/dest3/"
  echo
  echo "10,000 small files, no-op, hyperfine ${HF_RUNS:-30} runs:"
  echo
  /usr/bin/hyperfine -N -w 3 -r "${HF_RUNS:-30}" --export-markdown "$WORK/hf.md" \
    -n "rsync -a --delete" "${RAW[*]} $URL/ $WORK/dest/" \
    -n "sitesync -t 1 --no-delay-updates" "${SS_ND[*]} $URL $WORK/dest2" \
    -n "sitesync -t 1" "${SS[*]} $URL $WORK/dest3" >/dev/null
  cat "$WORK/hf.md"
fi
