"""Scenario 6: flapping. The master's check flaps 10 times in about 10 s; keepalived's notify
events overlap; the same promotion arrives twice. Expected: no failover from a flapping
check (fall/rise hysteresis), no interleaved actions (one transition at a time per instance,
stale and superseded events skipped), consistent final roles, anti-flap honoured."""
import os
import threading
import time

from fixtures.common import stop_pid
from pair import MonitoringPair


def transitions(pair, node):
    return [e for e in pair.journal(node) if "decision" in e]


def intervals_overlap(entries):
    """Whether two transitions that ran actions held the instance at once. Each one's span is
    from taking the instance lock to its journal entry (written under the lock): duration_ms
    counts from the event's arrival, so the lock wait is taken off. The journal's times and
    both durations are whole milliseconds: 2 ms of slack."""
    from datetime import datetime
    spans = []
    for e in entries:
        if e.get("decision") != "ran":
            continue
        end = datetime.fromisoformat(e["time"].replace("Z", "+00:00")).timestamp()
        held_ms = e.get("duration_ms", 0) - e.get("lock_wait_ms", 0)
        spans.append((end - held_ms / 1000.0, end))
    spans.sort()
    return any(b[0] < a[1] - 0.002 for a, b in zip(spans, spans[1:]))


def notify(pair, node, tool, *args):
    return pair.lab.run(node, [pair.tools.path(tool), "--config", pair.files[node].config,
                               "--instance", "VI_1", *args], timeout=120)


def test_flapping():
    with MonitoringPair(mode="hakit") as pair:
        pair.start()
        before = {n: len(transitions(pair, n)) for n in ("n1", "n2")}

        # A: the master's site flaps 10 times (404 for 0.3 s, then 200 for 0.8 s). The check
        # runs every 2 s and needs 3 failures in a row: the flapping never moves the VIP. The
        # page is renamed away and back (instant), not nginx restarted: a restart's own
        # duration grows with the machine's load and would stretch the outage it stages.
        page = os.path.join(pair.nginx["n1"].dir, "www", "site1", "index.html")
        for i in range(10):
            os.rename(page, page + ".away")
            if i == 0:  # the check does see each outage
                r = pair.lab.run("n1", [pair.tools.path("check_http_200"), "--config",
                                        pair.files["n1"].config, "--check", "site"])
                assert r.returncode == 2, r.stdout + r.stderr
            time.sleep(0.3)
            os.rename(page + ".away", page)
            time.sleep(0.8)
        time.sleep(2.5)
        assert pair.lab.vip_holders() == ["n1"]
        assert pair.ka["n1"].state() == "MASTER" and pair.ka["n2"].state() == "BACKUP"
        assert {n: len(transitions(pair, n)) for n in ("n1", "n2")} == before
        assert not pair.dbs["n1"].read_only() and pair.dbs["n2"].read_only()

        # B: an overlapping storm of events on the backup, as keepalived forks them for an
        # instance that flaps: MASTER and BACKUP interleaved, all at once.
        procs = []
        for i in range(10):
            tool = "notify_master" if i % 2 == 0 else "notify_backup"
            procs.append(pair.lab.popen("n2", [pair.tools.path(tool), "--config",
                                               pair.files["n2"].config, "--instance", "VI_1"]))
        for p in procs:
            assert p.wait(timeout=120) is not None
            pair.lab.procs = [(q, n) for q, n in pair.lab.procs if q is not p]
        storm = transitions(pair, "n2")[before["n2"]:]
        assert len(storm) == 10, storm
        # No MASTER event ran its promotion: the VIP is not on n2 (stale) or a newer event
        # superseded it.
        for e in storm:
            if e["event"]["state"] == "MASTER":
                assert e["decision"] in ("stale", "superseded"), e
        assert not intervals_overlap(transitions(pair, "n2")), storm
        assert pair.dbs["n2"].read_only(), "a stale MASTER event promoted the backup"
        assert pair.lab.vip_holders() == ["n1"] and not pair.dbs["n1"].read_only()

        # C: a real failover, then the same promotion again within min_interval (60 s):
        # refused by anti-flap, and the node stays the writable master.
        pair.nginx["n1"].stop()
        pair.lab.wait_vip("n2", timeout=30)
        promo = pair.wait_journal("n2", "MASTER", outcome="ok", timeout=30)
        assert promo["decision"] == "ran"
        r = notify(pair, "n2", "notify_master")
        again = transitions(pair, "n2")[-1]
        assert again["event"]["state"] == "MASTER" and again["decision"] == "refused", \
            (r.stdout, r.stderr, again)
        assert not pair.dbs["n2"].read_only()
        # Final roles: one VIP holder, writable; the failed master read-only.
        assert pair.lab.vip_holders() == ["n2"]
        assert pair.dbs["n1"].read_only() and not pair.dbs["n2"].read_only()
        for n in ("n1", "n2"):
            assert not intervals_overlap(transitions(pair, n)), transitions(pair, n)
