"""Scenario 3: a lagging replica (MASTER_DELAY) and the master HOST lost (keepalived and
MariaDB killed, its link cut). The replica takes over after the advert timeout and is
promoted only after applying everything it had retrieved: no acknowledged row that reached
the replica is lost."""
import time

import cluster
from pair import MonitoringPair

DELAY = 8


def ids(db):
    return {int(r[0]) for r in db.sql("SELECT id FROM app.writes")}


def test_lagging_replica_master_host_lost():
    with MonitoringPair(mode="hakit") as pair:
        pair.start(master_delay=DELAY)
        n1, n2 = pair.dbs["n1"], pair.dbs["n2"]
        writer = cluster.Writer(pair.lab, pair.work, period=0.02)
        writer.wait_acks(100, timeout=30)
        writer.stop()
        acked = {a[0] for a in writer.records()[0]}
        # Every acknowledged row has reached the replica (retrieved: gtid_io_pos), none applied yet.
        pos = n1.scalar("SELECT @@gtid_binlog_pos")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            st = n2.rows("SHOW ALL SLAVES STATUS")[0]
            if st.get("Gtid_IO_Pos") == pos:
                break
            time.sleep(0.05)
        else:
            raise AssertionError(f"replica did not retrieve {pos}: {st}")
        applied_before = ids(n2) & acked
        assert len(applied_before) < len(acked), "the replica was not lagging"

        # The master host dies: its link goes first (nothing it says reaches n2 any more),
        # then keepalived and MariaDB are killed.
        t0 = time.monotonic()
        pair.lab.cut_link("n1")
        pair.ka["n1"].kill()
        n1.kill()
        pair.lab.wait_vip("n2", timeout=30)
        took = time.monotonic() - t0
        assert took > 2.5, "advert timeout is 3 x advert_int: the loss was announced?"
        promo = pair.wait_journal("n2", "MASTER", timeout=DELAY + 60)
        assert promo["outcome"] == "ok", promo
        assert not n2.read_only()
        present = ids(n2)
        lost = acked - present
        print(f"VIP on n2 after {took:.2f} s; {len(acked)} rows acknowledged, "
              f"{len(applied_before)} applied on the replica at the loss, {len(lost)} lost")
        assert not lost, f"{len(lost)} acknowledged rows lost: {sorted(lost)[:10]}"
        # Replication is gone from the promoted node (no re-attach to the dead master).
        assert not n2.rows("SHOW ALL SLAVES STATUS") or \
            n2.rows("SHOW ALL SLAVES STATUS")[0]["Slave_IO_Running"] == "No"
