#!/usr/bin/env bash
# Per-invocation cost of check_http_200 beside curl and monitoring-plugins' check_http and
# check_curl, all against the same private loopback nginx (tests/fixtures/nginx.py), in one
# hyperfine run: wall time (median), CPU (user+sys), and peak RSS (GNU time, median of runs).
# Writes a markdown table to stdout (paste into docs/benchmarks.md, section check_http_200).
#
#   tests/bench/bench_http.sh [BUILD_DIR] [EXTRA_CHECK_HTTP_200_BINARY...]
#
# BUILD_DIR defaults to ./build; extra binaries given as LABEL=PATH (e.g. a build with
# -DHAKIT_SYSTEM_CURL=ON) are measured too. RUNS (default 300) and WARMUP (default 30) tune hyperfine.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build}
shift || true
RUNS=${RUNS:-300}
WARMUP=${WARMUP:-30}
PLUGINS=/usr/lib/nagios/plugins
BIN=$BUILD/tools/check_http_200
[ -x "$BIN" ] || BIN=$BUILD/check_http_200
for need in "$BIN" "$PLUGINS/check_http" "$PLUGINS/check_curl" /usr/bin/curl /usr/bin/hyperfine /usr/bin/time; do
  [ -x "$need" ] || { echo "bench_http: missing $need (run scripts/deps.sh and build)" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/hakit-bench-http-XXXXXX)
NGINX_PID=
cleanup() {
  [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

# The private nginx from the test fixtures (foreground, temp prefix, stopped by PID).
PYTHONPATH=$ROOT/tests /usr/bin/python3 -m fixtures.nginx >"$WORK/url" 2>"$WORK/nginx.log" &
NGINX_PID=$!
for _ in $(seq 100); do [ -s "$WORK/url" ] && break; sleep 0.1; done
URL=$(head -1 "$WORK/url")
[ -n "$URL" ] || { echo "bench_http: nginx did not start: $(cat "$WORK/nginx.log")" >&2; exit 1; }
PORT=${URL##*:}; PORT=${PORT%%/*}

# Every command fetches / (a 1234-byte static page) once and judges the status.
names=("check_http_200" "check_http" "check_curl" "curl")
cmds=("$BIN --maintenance-file '' $URL"
      "$PLUGINS/check_http -H 127.0.0.1 -p $PORT -u /"
      "$PLUGINS/check_curl -H 127.0.0.1 -p $PORT -u /"
      "curl -s -o /dev/null -w %{http_code} $URL")
for extra in "$@"; do  # LABEL=PATH or PATH
  label=${extra%=*}; path=${extra##*=}
  names+=("$label")
  cmds+=("$path --maintenance-file '' $URL")
done
for c in "${cmds[@]}"; do
  out=$(eval "$c" 2>&1) || { echo "bench_http: '$c' failed: $out" >&2; exit 1; }
done

hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --export-json "$WORK/hf.json" "${cmds[@]}" >"$WORK/hf.txt" 2>&1 \
  || { cat "$WORK/hf.txt" >&2; exit 1; }

# Peak RSS: GNU time's %M (KiB), median of 31 runs each.
: >"$WORK/rss"
for i in "${!cmds[@]}"; do
  for _ in $(seq 31); do
    eval "/usr/bin/time -f %M -o $WORK/one ${cmds[$i]}" >/dev/null 2>&1 || true
    echo "$i $(tail -1 "$WORK/one")" >>"$WORK/rss"
  done
done

# Shared libraries each binary loads (a proxy for its start-up work).
: >"$WORK/libs"
for i in "${!cmds[@]}"; do
  exe=$(eval "set -- ${cmds[$i]}"; command -v "$1")
  [ -n "$exe" ] || exe=$(eval "set -- ${cmds[$i]}"; echo "$1")
  echo "$i $(ldd "$exe" | grep -c '=>')" >>"$WORK/libs"
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
base = statistics.median(hf[0]["times"])
print("| command | median wall | mean user+sys CPU | peak RSS (median) | shared libs | wall vs check_http_200 |")
print("|---|---|---|---|---|---|")
for i, (name, r) in enumerate(zip(names, hf)):
    med = statistics.median(r["times"])
    cpu = r["user"] + r["system"]
    print(f"| `{name}` | {med*1000:.2f} ms | {cpu*1000:.2f} ms | {statistics.median(rss[i])/1024:.1f} MiB "
          f"| {libs[i]} | {med/base:.2f}x |")
print()
print(f"hyperfine -N, {len(hf[0]['times'])} runs each after warm-up; commands:")
for r in hf:
    print(f"- `{r['command']}`")
PY
