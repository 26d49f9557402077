"""Scenario 1: the monitoring pair. nginx stops on the master while a client writes through
the VIP: the VIP moves, the replica is promoted, the old master is demoted by notify_fault,
sitesync is gated by the roles, and no acknowledged row is lost."""
import os

from fixtures.netns import VIP
from pair import MonitoringPair, archive_name, describe


def test_monitoring_pair_failover():
    with MonitoringPair(mode="hakit") as pair:
        pair.start()
        # Start-up: n1 MASTER (promotion of an already writable primary is a no-op), n2 BACKUP.
        assert pair.wait_journal("n1", "MASTER")["outcome"] == "ok"
        assert pair.wait_journal("n2", "BACKUP")["outcome"] == "ok"
        for n in ("n1", "n2"):
            assert not pair.ka[n].security_violations(), pair.ka[n].log()

        # sitesync before the failure: the backup mirrors the master's archive through the VIP.
        r, entry, _ = pair.sitesync("n2")
        assert r.returncode == 0, r.stdout + r.stderr
        assert entry and entry["result"] in ("ok", "warning"), entry
        copied = os.path.join(pair.work, "site1-n2", ".rsync", "archive_site1")
        assert sorted(os.listdir(copied))[:1] == [archive_name("n1", 0)], os.listdir(copied)
        # The getperf form's part: the archives are extracted into analysis/<agent>/ with the
        # time directories normalised (1400 → 140000), and the aggregation got those files.
        analysis = os.path.join(pair.work, "site1-n2", "analysis", "n1web", "Linux", "20261125")
        extracted = [os.path.join(analysis, f"14{i * 5:02d}00", "vmstat.txt") for i in range(3)]
        for i, path in enumerate(extracted):
            with open(path) as fh:
                assert fh.read() == f"collected on n1 #{i}\n", path
        print("extracted:", *extracted, sep="\n  ")
        print("aggregation calls:", pair.aggregate_calls("n2"))
        assert [sorted(c) for c in pair.aggregate_calls("n2")] == [sorted(extracted)]
        assert (entry["archives"], entry["extracted"], entry["aggregate"]) == (3, 3, "ok"), entry
        # ... and the master does not pull (when: backup).
        r, entry, logged = pair.sitesync("n1")
        assert r.returncode == 0 and entry is None, (r.stderr, entry)
        assert "site1: skipped: when: backup" in logged, logged

        f = pair.failover()
        print("\n".join(describe(f)))
        print(f)
        assert pair.lab.vip_holders() == ["n2"]
        assert f["time_to_vip_s"] < 20          # fall 3 x interval 2 s, plus a margin
        assert f["new_master_writable"], "n2 was not promoted"
        assert f["time_to_writable_s"] is not None and f["time_to_writable_s"] < 30
        assert f["rows_lost"] == 0, f
        assert f["rows_acknowledged"] > 100
        # notify_fault demoted the failed master: read_only, and never writable beside n2
        # (one 10 ms sampling period of tolerance: the two nodes are sampled one after the
        # other, not at the same instant).
        assert f["old_master_read_only_at_end"], "n1 still writable: notify_fault not wired?"
        assert f["dual_writable_s"] <= 0.02, f
        fault = pair.wait_journal("n1", "FAULT")
        assert fault["outcome"] == "ok", fault
        promo = pair.wait_journal("n2", "MASTER")
        assert promo["outcome"] == "ok", promo
        assert pair.ka["n1"].state() == "FAULT" and pair.ka["n2"].state() == "MASTER"

        # sitesync after the failover: the new master (n2) and the faulted n1 both skip.
        for n in ("n1", "n2"):
            r, entry, logged = pair.sitesync(n)
            assert r.returncode == 0 and entry is None, (n, r.stderr, entry)
            assert "site1: skipped: when: backup" in logged, (n, logged)
