#!/usr/bin/env bash
# Promotion latency of notify_master for a caught-up MariaDB replica, beside the naive hook
# `mariadb -e 'STOP SLAVE; SET GLOBAL read_only=0'`. A private primary + replica pair on
# loopback (tests/fixtures/mariadb.py); before every run the replica is re-attached and caught
# up (not timed). notify_master runs the whole event: ticket, instance lock, stale/anti-flap
# checks, mysql_promote (stop IO thread, catch-up check, STOP SLAVE, RESET SLAVE ALL,
# read_only=OFF, positions), role record, state, metrics and the fsync'd journal entry.
# Prints a markdown table (paste into docs/benchmarks.md, section notify_master).
#
#   tests/bench/bench_notify.sh [BUILD_DIR]      RUNS (default 20) runs per command
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build}
export RUNS=${RUNS:-20}
BIN=$BUILD/tools/notify_master
[ -x "$BIN" ] || BIN=$BUILD/notify_master
[ -x "$BIN" ] || { echo "bench_notify: $BIN not built" >&2; exit 1; }
export BIN
PYTHONPATH=$ROOT/tests exec /usr/bin/python3 - <<'PY'
import json, os, shutil, statistics, subprocess, tempfile, time
from fixtures.common import write_config
from fixtures.mariadb import ADMIN_PRIVILEGES, attach_replica, require, start_pair

BIN, RUNS = os.environ["BIN"], int(os.environ["RUNS"])
pair = start_pair(gtid=True)
work = tempfile.mkdtemp(prefix="hakit-bench-notify-")
try:
    creds = pair.primary.create_user("hakit", privileges=ADMIN_PRIVILEGES)
    pair.wait_caught_up()
    rep = pair.replica
    cfg = write_config(work, f"""log: {{level: warning, syslog: false}}
state_dir: {work}/state
run_dir: {work}/run
mysql:
  local: {rep.profile_yaml(creds)}
instances:
  VI_1:
    promote: [{{mysql_promote: {{mysql: local, catchup_timeout: 10s}}}}]
""")
    naive_cnf = rep.defaults_file(creds)
    naive = [require("mariadb"), f"--defaults-file={naive_cnf}", "-e",
             "STOP SLAVE; SET GLOBAL read_only=0"]
    row = [0]

    def reattach():
        rep.sql("STOP SLAVE")
        rep.sql("RESET SLAVE ALL")
        rep.set_read_only(True)
        attach_replica(rep, pair.primary, gtid=True)
        pair.wait_replicating()
        row[0] += 1
        pair.primary.sql(f"INSERT INTO hakit_test.t VALUES ({row[0]}, 'bench')")
        pair.wait_caught_up()
        time.sleep(0.2)

    def timed(argv):
        t0 = time.perf_counter()
        r = subprocess.run(argv, capture_output=True, text=True)
        ms = (time.perf_counter() - t0) * 1000
        assert r.returncode == 0, r.stderr
        assert rep.variable("read_only") == "OFF"
        return ms

    hakit, naive_ms, writable, promote_ms = [], [], [], []
    journal = os.path.join(work, "state", "journal.jsonl")
    for i in range(RUNS):
        reattach()
        hakit.append(timed([BIN, "--config", cfg, "--instance", "VI_1"]))
        with open(journal) as f:
            e = json.loads(f.readlines()[-1])
        writable.append(e["writable_ms"])
        promote_ms.append(e["actions"][0]["ms"])
        reattach()
        naive_ms.append(timed(naive))
    med = statistics.median
    print(f"| command | median wall (whole process) | min | max |")
    print(f"|---|---|---|---|")
    print(f"| `notify_master --instance VI_1` (mysql_promote, journal) | {med(hakit):.1f} ms | "
          f"{min(hakit):.1f} ms | {max(hakit):.1f} ms |")
    print(f"| `mariadb -e 'STOP SLAVE; SET GLOBAL read_only=0'` | {med(naive_ms):.1f} ms | "
          f"{min(naive_ms):.1f} ms | {max(naive_ms):.1f} ms |")
    print()
    print(f"notify_master from the journal: process start -> read_only=OFF median "
          f"{med(writable)} ms (min {min(writable)}, max {max(writable)}); mysql_promote action "
          f"median {med(promote_ms)} ms; ratio whole process notify_master / naive "
          f"{med(hakit) / med(naive_ms):.2f}x; runs {RUNS} each")
finally:
    pair.destroy()
    shutil.rmtree(work, ignore_errors=True)
PY
