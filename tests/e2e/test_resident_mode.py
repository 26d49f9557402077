"""Scenario 1 in resident mode: hakitd on each node probes in-process into keepalived's track
files and runs keepalived's notify FIFO events through the notify engine. One lab, in order:
a page stalling 0.3 s again and again moves nothing; keepalived reloads and the FIFO still
carries its events; nginx stops on the master while a client writes (VIP moved, replica
promoted, 0 rows lost, never two writable databases); hakitd SIGKILLed on the master: its
exit guard gives the VIP up and the FIFO events keepalived wrote meanwhile reach the
engine once hakitd is back."""
import json
import os
import signal
import time

from pair import MonitoringPair, describe


def read(path):
    with open(path) as f:
        return f.read()


def from_fifo(entry):
    return entry.get("args", [])[:2] == ["hakitd", "fifo"]


def nginx_pids(ng):
    """nginx's master and workers (a stall freezes them all: connections wait in the backlog)."""
    master = ng.proc.pid
    with open(f"/proc/{master}/task/{master}/children") as f:
        return [master] + [int(p) for p in f.read().split()]


def stall(ng, seconds, times, gap):
    for _ in range(times):
        pids = nginx_pids(ng)
        for p in pids:
            os.kill(p, signal.SIGSTOP)
        time.sleep(seconds)
        for p in pids:
            os.kill(p, signal.SIGCONT)
        time.sleep(gap)


def status(pair, node):
    return json.loads(read(os.path.join(pair.files[node].state, "hakitd.json")))


def wait_for(what, predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        time.sleep(0.01)
    raise AssertionError(f"not within {timeout}s: {what}")


def test_resident_mode():
    with MonitoringPair(mode="resident") as pair:
        pair.start()
        # Start-up: the roles came through the FIFO into the engine (no script was forked).
        master = pair.wait_journal("n1", "MASTER")
        backup = pair.wait_journal("n2", "BACKUP")
        assert master["outcome"] == "ok" and from_fifo(master), master
        assert backup["outcome"] == "ok" and from_fifo(backup), backup
        for n in ("n1", "n2"):
            assert read(pair.track_file(n, "site")) == "0\n"
            assert read(pair.track_file(n, "replica")) == "0\n"
            assert not pair.ka[n].security_violations(), pair.ka[n].log()
            assert "Executing" not in pair.ka[n].log(), "a script was forked in resident mode"

        # A: the master's page stalls 0.3 s, 15 times in a row: every probe still answers
        # within its timeout and below fall_after, so nothing moves.
        before = {n: len(pair.journal(n)) for n in ("n1", "n2")}
        stall(pair.nginx["n1"], 0.3, times=15, gap=0.1)
        time.sleep(1.0)
        assert pair.lab.vip_holders() == ["n1"]
        assert pair.ka["n1"].state() == "MASTER" and pair.ka["n2"].state() == "BACKUP"
        assert {n: len(pair.journal(n)) for n in ("n1", "n2")} == before
        assert read(pair.track_file("n1", "site")) == "0\n"
        site = [c for c in status(pair, "n1")["checks"] if c["name"] == "site"][0]
        print("n1 site probes after the stalls:", site)
        assert site["healthy"] and site["failures"] == 0, site

        # B: keepalived on n2 reloads (SIGHUP); the FIFO stays hakitd's input: the promotion
        # below arrives through it.
        log_at = len(pair.ka["n2"].log())
        os.kill(pair.ka["n2"].proc.pid, signal.SIGHUP)
        pair.ka["n2"].wait_log(r"[Rr]eload", timeout=20, start=log_at)
        time.sleep(1.0)
        assert pair.ka["n2"].proc.poll() is None

        # C: nginx stops on the master while the client writes through the VIP.
        f = pair.failover(observe=3.0)
        print("\n".join(describe(f)))
        print(f)
        assert pair.lab.vip_holders() == ["n2"]
        assert f["new_master_writable"], "n2 was not promoted"
        assert f["time_to_writable_s"] is not None
        assert f["rows_lost"] == 0, f
        assert f["rows_acknowledged"] > 50, f
        assert f["old_master_read_only_at_end"], "n1 still writable: FAULT not handled"
        assert f["dual_writable_s"] <= 0.02, f
        fault = pair.wait_journal("n1", "FAULT")
        promo = pair.wait_journal("n2", "MASTER", outcome="ok")
        assert fault["outcome"] == "ok" and from_fifo(fault), fault
        assert from_fifo(promo), promo
        assert read(pair.track_file("n1", "site")) == "1\n"
        assert pair.ka["n1"].state() == "FAULT" and pair.ka["n2"].state() == "MASTER"

        # D: n1 healthy again (BACKUP), then hakitd on the master n2 is SIGKILLed: it cannot
        # write "failed" itself; its exit guard (hakitd-guard) does, keepalived faults n2 and
        # the VIP goes back to n1. (keepalived's vrrp_track_process, the sample's second
        # guard, cannot run in a network namespace: see pair.py.)
        pair.nginx["n1"].start()
        wait_for("n1's site track file says 0",
                 lambda: read(pair.track_file("n1", "site")) == "0\n", 20)
        pair.ka["n1"].wait_log(r"Entering BACKUP STATE", timeout=20)
        log_at = len(pair.ka["n2"].log())
        t0 = time.monotonic()
        pair.kill_hakitd("n2")
        t_gone = wait_for("n2 gives the VIP up", lambda: not pair.lab.has_vip("n2"), 20)
        print(f"hakitd SIGKILLed on n2: VIP given up after {t_gone - t0:.2f} s")
        assert read(pair.track_file("n2", "site")) == "1\n"
        assert read(pair.track_file("n2", "replica")) == "1\n"
        pair.ka["n2"].wait_log(r"Entering FAULT STATE", timeout=10, start=log_at)
        pair.lab.wait_vip("n1", timeout=20)
        # keepalived keeps its end of the FIFO open: the FAULT it wrote while no hakitd read
        # waits in the pipe, and the restarted hakitd demotes n2 with it.
        faults = len(pair.journal("n2", "FAULT"))
        pair.start_hakitd("n2")
        wait_for("n2's FAULT journaled by the restarted hakitd",
                 lambda: len(pair.journal("n2", "FAULT")) > faults, 30)
        late = pair.wait_journal("n2", "FAULT")
        assert from_fifo(late) and late["outcome"] == "ok", late
        wait_for("n2 read-only again", lambda: pair.dbs["n2"].read_only(), 30)

        # SIGTERM: hakitd gives the node up itself before it exits.
        pair.stop_hakitd("n1")
        assert read(pair.track_file("n1", "site")) == "1\n"
        assert read(pair.track_file("n1", "replica")) == "1\n"
