#!/usr/bin/python3
"""Failover figures of hakit's monitoring pair beside the naive setup, in the same lab.

    HAKIT_BUILD_DIR=build-f PYTHONPATH=tests:tests/e2e /usr/bin/python3 tests/e2e/bench_failover.py [RUNS] [MODES]

`bench_failover.py lagging` runs scenario 3 (MASTER_DELAY=8 replica, master host lost)
once per setup and prints rows acknowledged and lost.
RUNS (default 3) failovers per setup, MODES from hakit, hakit-fast (the naive detection
settings, interval 1 and fall 2, with hakit's tools) and naive; default "hakit,naive". Each run builds a
fresh lab (namespaces, MariaDB pair, nginx, keepalived), stops nginx on the master while a
client writes through the VIP every 20 ms, and measures time to VIP, time to writable, rows
acknowledged vs present, the dual-writable window (read_only on both nodes every 10 ms) and
how long the failed master stayed writable. Prints every run and the medians as JSON lines
and a Markdown table.
"""
import json
import os
import statistics
import sys

sys.path[:0] = [os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."),
                os.path.dirname(os.path.abspath(__file__))]

from pair import MonitoringPair  # noqa: E402

KEYS = ("time_to_vip_s", "time_to_writable_s", "rows_lost", "dual_writable_s",
        "old_master_writable_s")


def one(mode):
    with MonitoringPair(mode=mode, log=lambda *_: None) as pair:
        pair.start()
        return pair.failover(observe=4.0)


def lagging(mode, delay=8):
    """Scenario 3 with either setup: acknowledged rows all retrieved by a replica lagging
    `delay` s, then the master host lost. Returns (acknowledged, lost)."""
    import time
    import cluster
    with MonitoringPair(mode=mode, log=lambda *_: None) as pair:
        pair.start(master_delay=delay)
        n1, n2 = pair.dbs["n1"], pair.dbs["n2"]
        w = cluster.Writer(pair.lab, pair.work, period=0.02)
        w.wait_acks(100, timeout=30)
        w.stop()
        acked = {a[0] for a in w.records()[0]}
        pos = n1.scalar("SELECT @@gtid_binlog_pos")
        while n2.rows("SHOW ALL SLAVES STATUS")[0].get("Gtid_IO_Pos") != pos:
            time.sleep(0.05)
        pair.lab.cut_link("n1")
        pair.ka["n1"].kill()
        n1.kill()
        pair.lab.wait_vip("n2", timeout=30)
        deadline = time.monotonic() + delay + 30
        while n2.read_only() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)
        present = {int(r[0]) for r in n2.sql("SELECT id FROM app.writes")}
        return len(acked), len(acked - present)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "lagging":
        for m in ("hakit", "naive"):
            acked, lost = lagging(m)
            print(json.dumps({"scenario": "lagging replica, master host lost", "mode": m,
                              "rows_acknowledged": acked, "rows_lost": lost}), flush=True)
        return
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    modes = (sys.argv[2] if len(sys.argv) > 2 else "hakit,naive").split(",")
    results = {m: [] for m in modes}
    for i in range(runs):
        for m in modes:
            f = one(m)
            results[m].append(f)
            print(json.dumps({"mode": m, "run": i + 1, **f}), flush=True)
    medians = {}
    for m in modes:
        medians[m] = {k: statistics.median([r[k] for r in results[m] if r[k] is not None])
                      for k in KEYS if any(r[k] is not None for r in results[m])}
        medians[m]["still_writable_at_end"] = sum(not r["old_master_read_only_at_end"]
                                                  for r in results[m])
        print(json.dumps({"mode": m, "median_of": runs, **medians[m]}), flush=True)
    print()
    print("| setup | time to VIP | time to writable | rows lost | dual-writable window "
          "| failed master writable for | still writable at end |")
    print("|---|---|---|---|---|---|---|")
    for m in modes:
        d = medians[m]
        print(f"| {m} | {d.get('time_to_vip_s', 'n/a')} s | {d.get('time_to_writable_s', 'n/a')} s "
              f"| {d.get('rows_lost')} | {d.get('dual_writable_s')} s "
              f"| {d.get('old_master_writable_s')} s | {d['still_writable_at_end']}/{runs} |")


if __name__ == "__main__":
    main()
