#!/usr/bin/python3
"""Failover figures of hakit's monitoring pair beside the naive setup, in the same lab.

    HAKIT_BUILD_DIR=build-f PYTHONPATH=tests:tests/e2e /usr/bin/python3 tests/e2e/bench_failover.py [RUNS] [MODES]

RUNS (default 3) failovers per setup, MODES "hakit,naive" (default both). Each run builds a
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


def main():
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
