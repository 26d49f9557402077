#!/usr/bin/env bash
# Per-invocation cost of check_mysql_slave beside monitoring-plugins' check_mysql
# --check-slave and `mariadb -e 'SHOW SLAVE STATUS\G' | grep`, all against the same replica of
# a private loopback MariaDB pair (tests/fixtures/mariadb.py), in one hyperfine run: wall time
# (median), CPU (user+sys), peak RSS (GNU time, median of 31 runs), shared libraries.
# Writes a markdown table to stdout (docs/benchmarks.md, section check_mysql_slave).
#
#   tests/bench/bench_mysql.sh [BUILD_DIR] [LABEL=PATH...]
#
# BUILD_DIR defaults to ./build; extra check_mysql_slave binaries given as LABEL=PATH (e.g. a
# build with -DHAKIT_STATIC_DEPS=OFF) are measured too. RUNS (default 300), WARMUP (default 30).
# Every command logs in as the same user with the password from the same 0600 option file.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build}
shift || true
RUNS=${RUNS:-300}
WARMUP=${WARMUP:-30}
PLUGINS=/usr/lib/nagios/plugins
BIN=$BUILD/tools/check_mysql_slave
[ -x "$BIN" ] || BIN=$BUILD/check_mysql_slave
for need in "$BIN" "$PLUGINS/check_mysql" /usr/bin/mariadb /usr/bin/hyperfine /usr/bin/time; do
  [ -x "$need" ] || { echo "bench_mysql: missing $need (run scripts/deps.sh and build)" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/hakit-bench-mysql-XXXXXX)
PAIR_PID=
cleanup() {
  if [ -n "$PAIR_PID" ]; then kill "$PAIR_PID" 2>/dev/null || true; wait "$PAIR_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# The pair from the test fixtures (stopped by PID: the helper destroys it on SIGTERM).
(cd /tmp && PYTHONPATH=$ROOT/tests exec /usr/bin/python3 -m fixtures.mariadb pair) \
  >"$WORK/pair.json" 2>"$WORK/pair.log" &
PAIR_PID=$!
for _ in $(seq 600); do [ -s "$WORK/pair.json" ] && break; sleep 0.1; done
[ -s "$WORK/pair.json" ] || { echo "bench_mysql: pair did not start: $(cat "$WORK/pair.log")" >&2; exit 1; }
read -r PORT CNF < <(/usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(d["replica"]["port"], d["defaults_file"])' "$WORK/pair.json")

names=("check_mysql_slave" "check_mysql --check-slave" "mariadb -e 'SHOW SLAVE STATUS\\G' | grep")
cmds=("$BIN --maintenance-file '' --defaults-file $CNF"
      "$PLUGINS/check_mysql -H 127.0.0.1 -P $PORT -f $CNF -S"
      "/bin/sh -c \"/usr/bin/mariadb --defaults-file=$CNF -e 'SHOW SLAVE STATUS\\G' | grep -E 'Slave_(IO|SQL)_Running:'\"")
for extra in "$@"; do
  label=${extra%=*}; path=${extra##*=}
  names+=("$label")
  cmds+=("$path --maintenance-file '' --defaults-file $CNF")
done
for c in "${cmds[@]}"; do
  out=$(eval "$c" 2>&1) || { echo "bench_mysql: '$c' failed: $out" >&2; exit 1; }
  echo "$out" | head -3 >&2
done

hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --export-json "$WORK/hf.json" "${cmds[@]}" >"$WORK/hf.txt" 2>&1 \
  || { cat "$WORK/hf.txt" >&2; exit 1; }

: >"$WORK/rss"
for i in "${!cmds[@]}"; do
  for _ in $(seq 31); do
    eval "/usr/bin/time -f %M -o $WORK/one ${cmds[$i]}" >/dev/null 2>&1 || true
    echo "$i $(tail -1 "$WORK/one")" >>"$WORK/rss"
  done
done

# task-clock (CPU of the process itself, steadier than wall time on a busy box), when perf works.
: >"$WORK/tc"
if command -v perf >/dev/null; then
  for i in "${!cmds[@]}"; do
    tc=$(eval "perf stat -x, -r 200 -e task-clock ${cmds[$i]}" 2>&1 >/dev/null | grep task-clock | cut -d, -f1) || true
    echo "$i ${tc:-nan}" >>"$WORK/tc"
  done
fi

: >"$WORK/libs"
for i in "${!cmds[@]}"; do
  exe=$(eval "set -- ${cmds[$i]}"; echo "$1")
  [ "$exe" = /bin/sh ] && exe=/usr/bin/mariadb
  echo "$i $(ldd "$exe" | grep -c '=>' || true)" >>"$WORK/libs"
done

/usr/bin/python3 - "$WORK" "${names[@]}" <<'PY'
import json, statistics, sys
work, names = sys.argv[1], sys.argv[2:]
hf = json.load(open(f"{work}/hf.json"))["results"]
rss = {}
for line in open(f"{work}/rss"):
    i, kb = line.split()
    rss.setdefault(int(i), []).append(int(kb))
libs = {int(l.split()[0]): int(l.split()[1]) for l in open(f"{work}/libs")}
tc = {int(l.split()[0]): float(l.split()[1]) for l in open(f"{work}/tc")}
base = statistics.median(hf[1]["times"])
print("| command | median wall | mean user+sys CPU | task-clock (perf) | peak RSS (median) | shared libs | wall vs check_mysql | task-clock vs check_mysql |")
print("|---|---|---|---|---|---|---|---|")
for i, (name, r) in enumerate(zip(names, hf)):
    med = statistics.median(r["times"])
    cpu = r["user"] + r["system"]
    t = tc.get(i, float("nan"))
    print(f"| `{name}` | {med*1000:.2f} ms | {cpu*1000:.2f} ms | {t:.2f} ms "
          f"| {statistics.median(rss[i])/1024:.1f} MiB | {libs[i]} | {med/base:.2f}x "
          f"| {t/tc.get(1, float('nan')):.2f}x |")
print()
print(f"hyperfine -N, {len(hf[0]['times'])} runs each after warm-up; commands:")
for r in hf:
    print(f"- `{r['command']}`")
PY
