#!/usr/bin/python3
"""The README demo (run by scripts/demo.sh): scenario 1, the monitoring pair, told step by step.

Builds the lab (two nodes and a client in network namespaces), starts MariaDB with
replication, nginx, an rsync daemon and keepalived configured from keepalived-conf/ and
examples/ on each node, lets a client write through the VIP, stops nginx on the master and
reports what hakit did, with the figures. Everything is removed at the end.
"""
import os
import sys
import time

sys.path[:0] = [os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."),
                os.path.dirname(os.path.abspath(__file__))]

from pair import MonitoringPair, describe  # noqa: E402

T0 = time.monotonic()


def say(msg):
    print(f"[{time.monotonic() - T0:6.1f}s] {msg}", flush=True)


def main():
    ok = True
    with MonitoringPair(mode="hakit", log=say) as pair:
        pair.start()
        r, entry, _ = pair.sitesync("n2")
        say(f"sitesync on n2 (backup): {entry['result'] if entry else 'no result'}, "
            f"{entry.get('files', 0) if entry else 0} files mirrored from the master")
        r, entry, logged = pair.sitesync("n1")
        say("sitesync on n1 (master): " + ("skipped by the role gate (when: backup)"
                                           if "skipped" in logged else "NOT skipped"))
        say("client: writing one row every 20 ms through the VIP 192.0.2.100")
        f = pair.failover()
        for line in describe(f):
            say("  " + line)
        promo = pair.wait_journal("n2", "MASTER")
        fault = pair.wait_journal("n1", "FAULT")
        say(f"n2 journal: MASTER -> {promo.get('outcome')} in {promo.get('duration_ms')} ms "
            f"({', '.join(a.get('action', a.get('label', '?')) for a in promo.get('actions', []))})")
        say(f"n1 journal: FAULT -> demoted, {fault.get('outcome')} in {fault.get('duration_ms')} ms")
        for n in ("n1", "n2"):
            _, _, logged = pair.sitesync(n)
            say(f"sitesync on {n} after the failover: "
                + ("skipped (gated: not the backup)" if "skipped" in logged else "ran"))
        ok = (f["rows_lost"] == 0 and f["new_master_writable"] and f["old_master_read_only_at_end"]
              and f["dual_writable_s"] <= 0.02)
        say("tearing down: stopping every process by PID, deleting the namespaces")
    say("done: " + ("failover OK, no acknowledged row lost" if ok else "FAILOVER PROBLEM (see above)"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
