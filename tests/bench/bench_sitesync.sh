#!/usr/bin/env bash
# sitesync beside raw `rsync -a --delete`, both pulling from the same private rsync daemon on
# a loopback port: 10,000 small files (no-op and full copy) and one 1 GiB file (full copy
# and no-op). Full copies of the small files run RUNS times (default 3), the 1 GiB copy
# BIG_RUNS (1), no-ops NOOP_RUNS (11), alternating the order; the table shows medians and
# the ratios sitesync/rsync, for sitesync's default (no --delay-updates: the same rsync work as
# the raw command, so the ratio is the wrapper's own cost) and for sitesync --delay-updates
# (rsync's --delay-updates/--partial-dir cost included).
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
CASES=${CASES:-1}        # 0: only the hyperfine no-op part (no 1 GiB file); small: only the
                         # 10,000-file cases; getperf: only the getperf part; cpu: CPU
                         # time of the 10,000-file full copy (/usr/bin/time user+sys)
ARCHIVES=${ARCHIVES:-1000}  # getperf part: archives for the extraction comparison
AGENTS=${AGENTS:-50}        # getperf part: agents of the 5-minute cycle
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
mkdir -p "$WORK/small" "$WORK/big" "$WORK/state" "$WORK/run" "$WORK/arcs" "$WORK/cycle"
cat >"$WORK/rsyncd.conf" <<EOF
pid file = $WORK/rsyncd.pid
use chroot = false
max connections = 10
uid = $(id -un)
gid = $(id -gn)
[small]
path = $WORK/small
read only = true
[arcs]
path = $WORK/arcs
read only = true
[cycle]
path = $WORK/cycle
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
if [ "$CASES" = getperf ]; then
  # getperf archives: ARCHIVES of 10 text files (2-6 KiB) each, over 20 agents; and one
  # 5-minute cycle of AGENTS agents x 4 categories (what a site's module holds per cycle).
  /usr/bin/python3 - "$WORK" "$ARCHIVES" "$AGENTS" <<'EOF'
import os, random, sys, zipfile
work, n, agents = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
random.seed(1)
def text(size):
    line = " ".join(str(random.randint(0, 99999)) for _ in range(12)) + "\n"
    return (line * (size // len(line) + 1))[:size]
def archive(path, cat, hhmm, files):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for f in range(files):
            z.writestr(f"{cat}/20261125/{hhmm}/metric{f:02d}.txt", text(random.randint(2048, 6144)))
for i in range(n):
    hhmm = f"{(i // 60) % 24:02d}{i % 60:02d}"
    archive(f"{work}/arcs/arc_agent{i % 20:02d}__Linux_20261125_{hhmm}.zip", "Linux", hhmm, 10)
for a in range(agents):
    for cat in ("Linux", "HW", "MySQL", "Apache"):
        archive(f"{work}/cycle/arc_host{a:03d}__{cat}_20261125_1400.zip", cat, "1400", 8)
EOF
fi
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
SS=("$BIN" -t 1 --no-progress --delay-updates)   # the opt-in
SS_ND=("$BIN" -t 1 --no-progress)                # the default: no --delay-updates
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

if [ "$CASES" = 1 ] || [ "$CASES" = small ]; then
  echo "rsync $(/usr/bin/rsync --version | head -1 | awk '{print $3}'), $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg), loopback rsync daemon; seconds (median)"
  echo
  echo "| case | runs | rsync -a --delete | sitesync -t 1 (default) | ratio | sitesync -t 1 --delay-updates | ratio |"
  echo "|---|---|---|---|---|---|---|"
  bench_case "10,000 small files, full copy" small fresh "$RUNS"
  # Seed the destination once for the no-op runs.
  "${RAW[@]}" "rsync://127.0.0.1:$PORT/small/" "$WORK/dest/"
  bench_case "10,000 small files, no-op" small keep "$NOOP_RUNS"
  if [ "$CASES" = 1 ]; then
    bench_case "1 GiB file, full copy" big fresh "$BIG_RUNS"
    bench_case "1 GiB file, no-op" big keep "$NOOP_RUNS"
  fi
  [ "$CASES" = small ] && exit 0
fi

if [ "$CASES" = cpu ]; then
  # CPU time (user+sys of the client side, children included) of the full copy, RUNS runs
  # per command in alternating order, medians: less disturbed by a shared machine than wall.
  URL="rsync://127.0.0.1:$PORT/small"
  names=(raw raw_delay default delay)
  cmds=("${RAW[*]} $URL/ $WORK/dest/" "${RAW[*]} --delay-updates $URL/ $WORK/dest/"
        "${SS_ND[*]} $URL $WORK/dest" "${SS[*]} $URL $WORK/dest")
  for i in $(seq "$RUNS"); do
    for k in "${!names[@]}"; do
      rm -rf "$WORK/dest"; sync
      # shellcheck disable=SC2086  # the commands are word lists built above
      /usr/bin/time -f "%U %S" -o "$WORK/t" ${cmds[$k]} >/dev/null 2>&1 || { echo "bench_sitesync: ${cmds[$k]} failed" >&2; exit 1; }
      echo "${names[$k]} $(awk '{print $1 + $2}' "$WORK/t")" >>"$WORK/cpu"
    done
  done
  echo "rsync $(/usr/bin/rsync --version | head -1 | awk '{print $3}'), $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg); CPU seconds (median of $RUNS)"
  echo
  echo "| 10,000 small files, full copy | rsync -a --delete | + --delay-updates | sitesync (default) | sitesync --delay-updates |"
  echo "|---|---|---|---|---|"
  row="| CPU s |"
  for n in "${names[@]}"; do row+=" $(awk -v n="$n" '$1 == n {print $2}' "$WORK/cpu" | median) |"; done
  echo "$row"
  exit 0
fi

if [ "$CASES" = getperf ]; then
  URL="rsync://127.0.0.1:$PORT"
  NOP=/usr/bin/true   # the no-op aggregator
  # extraction: getperf runs `cd analysis/<agent>; unzip -o ARCHIVE` once per archive, after
  # rsync; sitesync extracts in-process. Each side starts from an empty site home; rsync's
  # part is timed apart (sitesync --no-extract) and taken off sitesync's total.
  ex_unzip=() ex_ss=() ex_copy=()
  for i in $(seq "$RUNS"); do
    rm -rf "$WORK/site" && mkdir -p "$WORK/site"
    ex_copy+=("$(cd "$WORK/site" && time_cmd keep "$BIN" -t 1 --no-progress --no-extract "$URL/arcs")")
    t0=$(now)
    for z in "$WORK"/site/.rsync/arcs/arc_*.zip; do
      b=${z##*/arc_}; agent=${b%%__*}
      mkdir -p "$WORK/site/analysis/$agent"
      (cd "$WORK/site/analysis/$agent" && /usr/bin/unzip -o -q "$z")
    done
    sync
    t1=$(now)
    ex_unzip+=("$(echo "$t1 - $t0" | bc -l)")
    rm -rf "$WORK/site" && mkdir -p "$WORK/site"
    ex_ss+=("$(cd "$WORK/site" && time_cmd keep "$BIN" -t 1 --no-progress "$URL/arcs")")
  done
  mc=$(printf '%s\n' "${ex_copy[@]}" | median)
  mu=$(printf '%s\n' "${ex_unzip[@]}" | median)
  ms=$(printf '%s\n' "${ex_ss[@]}" | median)
  mx=$(echo "$ms - $mc" | bc -l | xargs printf '%.3f')
  echo "rsync $(/usr/bin/rsync --version | head -1 | awk '{print $3}'), $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg); seconds (median of $RUNS)"
  echo
  echo "| case | unzip -o per archive (getperf) | sitesync in-process | speed-up |"
  echo "|---|---|---|---|"
  printf '| extract %s archives (10 files each) | %s | %s (= %s rsync+extract - %s rsync only) | %s |\n' \
    "$ARCHIVES" "$mu" "$mx" "$ms" "$mc" "$(echo "$mu / $mx" | bc -l | xargs printf '%.1fx')"
  # One 5-minute cycle of a site end to end: rsync + extract + aggregate (no-op aggregator).
  cyc=()
  for i in $(seq "$RUNS"); do
    rm -rf "$WORK/site" && mkdir -p "$WORK/site"
    cyc+=("$(cd "$WORK/site" && time_cmd keep "$BIN" -t 1 --no-progress --aggregate "$NOP" "$URL/cycle")")
  done
  echo
  printf '| one cycle of %s agents (%s archives, %s files): rsync + extract + aggregate | %s s |\n' \
    "$AGENTS" "$((AGENTS * 4))" "$((AGENTS * 32))" "$(printf '%s\n' "${cyc[@]}" | median)"
  exit 0
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
    -n "sitesync -t 1 (default)" "${SS_ND[*]} $URL $WORK/dest2" \
    -n "sitesync -t 1 --delay-updates" "${SS[*]} $URL $WORK/dest3" >/dev/null
  cat "$WORK/hf.md"
fi
