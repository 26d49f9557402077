"""docs/operations.md in the end-to-end lab: a planned switchover with the maintenance file
and the re-attachment of the old master, with real keepalived moving the VIP between two
nodes (scenario 1, the monitoring pair, configured from examples/ and keepalived-conf/).

The shell commands and SQL the test runs are first looked up verbatim in the runbook, so the
document and what was run cannot drift; production paths are mapped to each node's temp dirs.
"""
import json
import os
import re
import time

from fixtures.common import SOURCE_DIR
from fixtures.keepalived import built
from pair import MonitoringPair

RUNBOOK = open(os.path.join(SOURCE_DIR, "docs", "operations.md")).read()


def documented(command):
    assert command in RUNBOOK, f"not in docs/operations.md any more: {command}"
    return command


class RunbookPair(MonitoringPair):
    """The monitoring pair with each node's maintenance file in its own /etc/hakit."""

    def hakit_config(self, node):
        path = super().hakit_config(node)
        with open(path, "a") as f:
            f.write(f"maintenance_file: {self.maintenance(node)}\n")
        return path

    def maintenance(self, node):
        return os.path.join(self.files[node].etc, "maintenance")

    def tool(self, node, name, *args, timeout=60):
        # keepalived's tools are in the lab's installed prefix; hakit-status only in the build.
        path = self.tools.path(name)
        if not os.path.exists(path):
            path = built(name)
            assert path, f"{name} is not built"
        return self.lab.run(node, [path, "--config", self.files[node].config, *args],
                            timeout=timeout)

    def status(self, node):
        r = self.tool(node, "hakit-status", "--json")
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)


def role_and_vip(status):
    inst = status["instances"][0]
    return inst["role"], inst["vip_present"]


def wait(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} not reached within {timeout}s")


def test_switchover_and_reattach_as_written():
    with RunbookPair(mode="hakit") as pair:
        pair.start()
        # 0. both healthy: n1 master with the VIP, n2 backup replicating.
        assert role_and_vip(pair.status("n1")) == ("master", True)
        assert role_and_vip(pair.status("n2")) == ("backup", False)
        r = pair.tool("n2", "check_mysql_slave", "--check", "replica")
        assert r.returncode == 0, r.stdout + r.stderr

        # 1. on A (n1): the maintenance file fails every check; keepalived moves the VIP.
        documented("touch /etc/hakit/maintenance")
        open(pair.maintenance("n1"), "w").close()
        pair.lab.wait_vip("n2", timeout=60)
        pair.wait_journal("n2", "MASTER", timeout=60, outcome="ok")
        pair.wait_journal("n1", "FAULT", timeout=60)
        s2 = pair.status("n2")
        assert role_and_vip(s2) == ("master", True), s2
        assert not pair.dbs["n2"].read_only() and pair.dbs["n1"].read_only()

        # 3. on A: leave maintenance. n2's promotion fenced n1 (read-only, not replicating:
        # stale from n2's first write on), so n1's guard keeps it FAULT: no VIP, no vote.
        documented("rm /etc/hakit/maintenance")
        os.unlink(pair.maintenance("n1"))
        documented("check_mysql_slave --config /etc/hakit/hakit.yaml --check guard")
        wait(lambda: pair.tool("n1", "check_mysql_slave", "--check", "guard").returncode == 2
             and not os.path.exists(pair.maintenance("n1")), 30, "n1's guard on the mark")
        r = pair.tool("n1", "check_mysql_slave", "--check", "guard")
        assert r.stdout.startswith("MYSQL CRITICAL - fenced by"), r.stdout
        time.sleep(3)
        assert pair.lab.has_vip("n2") and not pair.lab.has_vip("n1")
        assert pair.ka["n1"].state() == "FAULT", pair.ka["n1"].state()

        # After a failover, 2.: the re-attach statement from A's journal; A is read-only.
        filt = 'select(.kind == "transition") | .actions[]?.details.rejoin_statement // empty'
        documented(f"jq -r '{filt}' /var/lib/hakit/journal.jsonl | tail -1")
        statements = [a.get("details", {}).get("rejoin_statement")
                      for e in pair.journal("n1") for a in e.get("actions", [])]
        statements = [s for s in statements if s]
        assert statements, pair.journal("n1")
        statement = statements[-1]
        # The example's mysql_demote names no peer: the host is a placeholder to fill in.
        assert re.search(r"MASTER_HOST='(192\.0\.2\.12|<new master host>)'", statement), statement
        statement = statement.replace("'<new master host>'", "'192.0.2.12'")
        documented("SELECT @@global.read_only;")
        assert pair.dbs["n1"].scalar("SELECT @@global.read_only;") == "1"

        # 3.: A holds nothing B had not applied when it was promoted.
        promo = pair.wait_journal("n2", "MASTER", outcome="ok")
        b_pos = {g.split("-")[0]: int(g.split("-")[2])
                 for g in promo["positions"]["gtid_current_pos"].split(",") if g}
        a_pos = {g.split("-")[0]: int(g.split("-")[2])
                 for g in pair.dbs["n1"].scalar("SELECT @@global.gtid_binlog_pos;").split(",")
                 if g}
        assert all(a_pos[d] <= b_pos.get(d, -1) for d in a_pos), (a_pos, b_pos)

        # 4.: re-attach with the statement and the real password; replication runs.
        secret = re.search(r"'<[^>]*password[^>]*>'", statement).group(0)
        documented("STOP SLAVE;")
        pair.dbs["n1"].sql("STOP SLAVE; " + statement.replace(secret, "'replpass'"))
        pair.dbs["n2"].sql("CREATE DATABASE IF NOT EXISTS runbook")
        wait(lambda: pair.dbs["n1"].scalar(
            "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'runbook'")
            == "1", 30, "n1 replicating from n2")
        st = pair.dbs["n1"].rows("SHOW SLAVE STATUS")[0]
        assert st["Slave_IO_Running"] == "Yes" and st["Slave_SQL_Running"] == "Yes", st
        documented("check_mysql_slave --config /etc/hakit/hakit.yaml --check replica")
        r = pair.tool("n1", "check_mysql_slave", "--check", "replica")
        assert r.returncode == 0, r.stdout + r.stderr

        # 4b.: n1 replicates from n2 again: clear its fence mark; n1 becomes BACKUP, n2 keeps
        # the VIP (nopreempt).
        reason = "db1 re-attached as replica of db2"
        documented(f'notify_backup --instance VI_1 --clear-fence --reason "{reason}"')
        r = pair.tool("n1", "notify_backup", "--instance", "VI_1", "--clear-fence",
                      "--reason", reason)
        assert r.returncode == 0, r.stdout + r.stderr
        r = pair.tool("n1", "check_mysql_slave", "--check", "guard")
        assert r.returncode == 0, r.stdout + r.stderr
        pair.wait_journal("n1", "BACKUP", timeout=60)
        wait(lambda: role_and_vip(pair.status("n1")) == ("backup", False), 30, "n1 backup")
        time.sleep(3)
        assert pair.lab.has_vip("n2") and not pair.lab.has_vip("n1")

        # 5.: clearing the flag is journaled (this deployment sets none: "nothing to clear").
        reason = "db1 re-attached as replica of db2 (ticket 4711)"
        documented(f'notify_master --clear-failover-flag --reason "{reason}"')
        r = pair.tool("n2", "notify_master", "--clear-failover-flag", "--reason", reason)
        assert r.returncode == 0, r.stderr

        # 6.: back to normal, roles rotated, no warnings on either node.
        s1, s2 = pair.status("n1"), pair.status("n2")
        assert role_and_vip(s1) == ("backup", False) and role_and_vip(s2) == ("master", True)
        assert s1["warnings"] == [] and s2["warnings"] == []
        assert not s1["failover_flag"]["set"] and not s2["failover_flag"]["set"]
        assert s2["journal"][-1]["kind"] == "failover-flag"
