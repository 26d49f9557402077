#!/usr/bin/python3
"""Partition figures: hakit's monitoring pair, the same pair with the etcd arbiter
(hakit-arbiter: monitoring-pair-arbiter.conf/.yaml, a third namespace with the third etcd
member) and the naive setup, per partition kind, in the same lab.

    HAKIT_BUILD_DIR=build PYTHONPATH=tests:tests/e2e /usr/bin/python3 tests/e2e/bench_partition.py [RUNS] [MODES] [KINDS]

RUNS (default 3) per setup and kind; MODES from hakit, hakit-arbiter, naive (default all
three); KINDS from
vrrp (nftables drops IP protocol 112 on both nodes), full (bridge ports isolated: the nodes
lose each other, the client reaches both); default both. Each run builds a fresh lab, lets a
client write through the VIP every 20 ms while read_only is sampled on both nodes every
10 ms, partitions for PARTITION_S (default 10) seconds, heals, and measures:
  dual_writable_s   both nodes writable (from the partition to the end of the run)
  stranded_rows     acknowledged rows missing on the node that is writable at the end
                    (counted on the VIP holder when there is not exactly one)
  one_writable_s    time after the heal until exactly one node is writable and holds the
                    VIP (None: not within 30 s)
Prints every run and the medians as JSON lines, then a Markdown table.
"""
import json
import os
import statistics
import sys
import time

sys.path[:0] = [os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."),
                os.path.dirname(os.path.abspath(__file__))]

import cluster  # noqa: E402
from arbiter_pair import ArbiterPair  # noqa: E402
from pair import MonitoringPair  # noqa: E402

PARTITION_S = float(os.environ.get("PARTITION_S", "10"))


def writable(pair):
    """Nodes answering read_only=OFF (a fence kills client sessions: a failed query counts as
    not writable, the next poll asks again)."""
    out = []
    for n, db in pair.dbs.items():
        ok, rows, _ = db.try_sql("SELECT @@global.read_only")
        if ok and rows and rows[0] and rows[0][0] == "0":
            out.append(n)
    return sorted(out)


def one(mode, kind):
    quiet = lambda *_: None  # noqa: E731
    pair = ArbiterPair(log=quiet) if mode == "hakit-arbiter" else MonitoringPair(mode=mode, log=quiet)
    with pair:
        pair.subs = {"min_interval: 60s": "min_interval: 5s"}
        pair.start()
        lab = pair.lab
        sampler = cluster.ReadOnlySampler(pair.dbs, period=0.01)
        sampler.start()
        pair.sampler = sampler
        writer = cluster.Writer(lab, pair.work, period=0.02)
        pair.writer = writer
        writer.wait_acks(50, timeout=30)
        t0 = time.time()
        if kind == "vrrp":
            lab.drop_vrrp("n1")
            lab.drop_vrrp("n2")
        else:
            lab.isolate("n1", "n2")
        time.sleep(PARTITION_S)
        if kind == "vrrp":
            lab.allow_vrrp("n1")
            lab.allow_vrrp("n2")
        else:
            lab.unisolate("n1", "n2")
        t_heal = time.time()
        one_at = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            w = writable(pair)
            if len(w) == 1 and lab.vip_holders() == w:
                one_at = time.time()
                break
            time.sleep(0.05)
        # A promotion attempt of the partition may still wait for the arbiter's lease
        # (acquire_timeout, 12 s): the run ends when it is over, so what it does counts.
        time.sleep(15 if mode == "hakit-arbiter" else 3)
        writer.stop()
        sampler.stop()
        acks, _ = writer.records()
        w = writable(pair)
        final = w[0] if len(w) == 1 else (lab.vip_holders() or ["n1"])[0]
        present = {int(r[0]) for r in pair.dbs[final].sql("SELECT id FROM app.writes")}
        acked = {a[0] for a in acks}
        dual = 0.0
        s = [x for x in sampler.samples if x[0] >= t0]
        for (a, v), (b, _) in zip(s, s[1:]):
            if sum(1 for x in v.values() if x) >= 2:
                dual += b - a
        return {"mode": mode, "kind": kind, "dual_writable_s": round(dual, 3),
                "stranded_rows": len(acked - present), "rows_acked": len(acked),
                "one_writable_s": round(one_at - t_heal, 2) if one_at else None,
                "final_writable": w, "vip": lab.vip_holders()}


def median(values):
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 3) if values else None


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    modes = (sys.argv[2] if len(sys.argv) > 2 else "hakit,hakit-arbiter,naive").split(",")
    kinds = (sys.argv[3] if len(sys.argv) > 3 else "vrrp,full").split(",")
    table = []
    for kind in kinds:
        for mode in modes:
            results = []
            for _ in range(runs):
                r = one(mode, kind)
                print(json.dumps(r), flush=True)
                results.append(r)
            m = {k: median([r[k] for r in results])
                 for k in ("dual_writable_s", "stranded_rows", "one_writable_s")}
            m["never_one_writable"] = sum(1 for r in results if r["one_writable_s"] is None)
            print(json.dumps({"median": True, "mode": mode, "kind": kind, "runs": runs, **m}),
                  flush=True)
            table.append((kind, mode, runs, m))
    print("\n| partition | setup | runs | dual-writable (s) | acknowledged rows stranded | "
          "exactly one writable after the heal (s) |")
    print("|---|---|---|---|---|---|")
    for kind, mode, runs, m in table:
        one_w = (f"{m['one_writable_s']}" if m["one_writable_s"] is not None else "never")
        if m["never_one_writable"] and m["one_writable_s"] is not None:
            one_w += f" (never in {m['never_one_writable']} of {runs})"
        print(f"| {kind} | {mode} | {runs} | {m['dual_writable_s']} | {m['stranded_rows']} | "
              f"{one_w} |")


if __name__ == "__main__":
    main()
