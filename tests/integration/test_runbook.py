"""docs/operations.md "After a failover" and "Planned switchover", run as written against a
real MariaDB primary + replica and the real hakit tools.

Node B (the replica) is promoted by notify_master, node A (the old primary) demoted by
notify_backup, then the operator's steps follow: read the journal with hakit-status and the
runbook's jq commands, confirm A is read-only, compare GTIDs, re-attach A with the statement
from A's journal, let check_mysql_slave confirm, clear the flag. Each shell command the test
runs is first looked up verbatim in the runbook, so the document and the test cannot drift.
Paths in the commands (/var/lib/hakit, the default config) are mapped to each node's temp dirs.
"""
import json
import os
import re
import subprocess
import time

import pytest

from fixtures.common import SOURCE_DIR, require
from fixtures.mariadb import ADMIN_PRIVILEGES, start_pair
from fixtures.notify_env import Node, binary

RUNBOOK = open(os.path.join(SOURCE_DIR, "docs", "operations.md")).read()
REPL_PASSWORD = "replpass"  # the fixture's replication account


def documented(command):
    """The command exactly as the runbook prints it."""
    assert command in RUNBOOK, f"not in docs/operations.md any more: {command}"
    return command


def jq(node, filt, *, stdin=None, journal=False):
    """`... | jq FILTER` or `jq FILTER /var/lib/hakit/journal.jsonl | tail -1`."""
    argv = [require("jq")] + filt
    if journal:
        argv.append(os.path.join(node.state_dir, "journal.jsonl"))
    r = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    return lines[-1] if journal and lines else r.stdout


def status(node, *args):
    r = node.run("hakit-status", *args, verbose=False)
    assert r.returncode == 0, r.stderr
    return r.stdout


def seq_by_domain(gtids):
    """'0-101-12,1-5-3' -> {0: 12, 1: 3}"""
    out = {}
    for g in filter(None, gtids.split(",")):
        d, _, s = g.strip().split("-")
        out[int(d)] = int(s)
    return out


@pytest.fixture
def cluster():
    pair = start_pair(gtid=True)
    a, b = Node("runbook-a"), Node("runbook-b")
    try:
        pair.creds = pair.primary.create_user("hakit", privileges=ADMIN_PRIVILEGES)
        pair.wait_caught_up()
        repl_pass = os.path.join(a.dir, "repl.pass")
        with open(repl_pass, "w") as f:
            f.write(REPL_PASSWORD + "\n")
        os.chmod(repl_pass, 0o600)
        for node, local, peer, extra in (
                (a, pair.primary, pair.replica,
                 f", replication: {{user: repl, password_file: {repl_pass}}}"),
                (b, pair.replica, pair.primary, "")):
            node.write_config(f"""
maintenance_file: {node.dir}/maintenance
mysql:
  local: {local.profile_yaml(pair.creds)}
  peer: {peer.profile_yaml(pair.creds, connect_timeout='1s')}
checks:
  replica: {{type: mysql, mysql: local, mode: replica}}
instances:
  VI_1:
    promote:
      - mysql_promote: {{mysql: local, catchup_timeout: 20s, fence: peer}}
      - flag: set
    demote:
      - mysql_demote: {{mysql: local, peer: peer{extra}}}
""", log_level="info")
        yield pair, a, b
    finally:
        a.destroy()
        b.destroy()
        pair.destroy()


def test_planned_switchover_maintenance_file(cluster):
    pair, a, b = cluster
    check = ["--check", "replica"]
    r = b.run("check_mysql_slave", *check, verbose=False)
    assert r.returncode == 0, r.stdout + r.stderr
    # `touch /etc/hakit/maintenance`: every check fails at once, with the reason.
    documented("touch /etc/hakit/maintenance")
    open(os.path.join(b.dir, "maintenance"), "w").close()
    r = b.run("check_mysql_slave", *check, verbose=False)
    assert r.returncode == 2, r.stdout
    assert "maintenance" in r.stdout.lower()
    documented("rm /etc/hakit/maintenance")
    os.unlink(os.path.join(b.dir, "maintenance"))
    r = b.run("check_mysql_slave", *check, verbose=False)
    assert r.returncode == 0, r.stdout + r.stderr


def test_after_a_failover_as_written(cluster):
    pair, a, b = cluster
    pair.primary.sql("INSERT INTO hakit_test.t VALUES (1, 'before the failover')")
    pair.wait_caught_up()

    # The failover: keepalived runs notify_master on B, notify_backup on A.
    r = b.run("notify_master", "--instance", "VI_1")
    assert r.returncode == 0, r.stderr
    r = a.run("notify_backup", "--instance", "VI_1")
    assert r.returncode == 0, r.stderr

    # 1. Read what happened (on B).
    documented("hakit-status -n 30")
    table = status(b, "-n", "30")
    assert re.search(r"VI_1\s+master", table) and "SET " in table
    documented("hakit-status --json | jq '.failover_flag'")
    flag = json.loads(jq(b, [".failover_flag"], stdin=status(b, "--json")))
    assert flag["set"] is True and flag["instance"] == "VI_1"
    filt = ('.journal[] | select(.kind == "transition") | '
            '{time, instance, from, to, outcome, message}')
    documented(f"hakit-status --json | jq -c '{filt}'")
    lines = jq(b, ["-c", filt], stdin=status(b, "--json")).splitlines()
    assert json.loads(lines[-1])["to"] == "master"
    filt = ('select(.kind == "transition" and .to == "master") | {time, outcome, positions, '
            'actions: [.actions[] | {action, outcome, error}]}')
    documented(f"jq -c '{filt}' /var/lib/hakit/journal.jsonl | tail -1")
    promo = json.loads(jq(b, ["-c", filt], journal=True))
    assert promo["outcome"] == "ok"
    assert [x["outcome"] for x in promo["actions"]] == ["ok", "ok"]

    # 2. The old master, read-only, and the statement to re-attach it (on A).
    documented("hakit-status                                           # on A: backup")
    assert re.search(r"VI_1\s+backup", status(a))
    filt = 'select(.kind == "transition") | .actions[]?.details.rejoin_statement // empty'
    documented(f"jq -r '{filt}' /var/lib/hakit/journal.jsonl | tail -1")
    statement = jq(a, ["-r", filt], journal=True)
    assert "CHANGE MASTER" in statement and "<password from" in statement
    documented("SELECT @@global.read_only;")
    assert pair.primary.scalar("SELECT @@global.read_only;") == "1"

    # 3. A holds nothing B does not have.
    documented("SELECT @@global.gtid_binlog_pos;")
    a_pos = seq_by_domain(pair.primary.scalar("SELECT @@global.gtid_binlog_pos;"))
    filt = ('select(.kind == "transition" and .to == "master" and .outcome == "ok") | '
            '.positions.gtid_current_pos')
    documented(f"jq -r '{filt}' /var/lib/hakit/journal.jsonl | tail -1")
    b_pos = seq_by_domain(jq(b, ["-r", filt], journal=True))
    assert a_pos and all(a_pos[d] <= b_pos.get(d, -1) for d in a_pos), (a_pos, b_pos)

    # B takes writes as the new master meanwhile.
    pair.replica.sql("INSERT INTO hakit_test.t VALUES (2, 'on the new master')")

    # 4. Re-attach A with the journal's statement and the real password.
    secret = re.search(r"'<password from [^>]*>'", statement).group(0)
    attach = statement.replace(secret, f"'{REPL_PASSWORD}'")
    documented("STOP SLAVE;")
    documented("START SLAVE;")
    pair.primary.sql("STOP SLAVE; " + attach)
    rows = None
    for _ in range(150):
        rows = pair.primary.scalar("SELECT COUNT(*) FROM hakit_test.t")
        if rows == "2":
            break
        time.sleep(0.2)
    assert rows == "2", "A did not replicate B's write"
    st = pair.primary.rows("SHOW SLAVE STATUS")[0]
    assert st["Slave_IO_Running"] == "Yes" and st["Slave_SQL_Running"] == "Yes"
    assert st["Last_Error"] == ""
    documented("check_mysql_slave --config /etc/hakit/hakit.yaml --check replica; echo \"exit $?\"")
    r = a.run("check_mysql_slave", "--check", "replica", verbose=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("\n") == 1 and "OK" in r.stdout

    # 5. Clear the flag on B.
    reason = "db1 re-attached as replica of db2 (ticket 4711)"
    documented(f'notify_master --clear-failover-flag --reason "{reason}"')
    r = b.run("notify_master", "--clear-failover-flag", "--reason", reason)
    assert r.returncode == 0, r.stderr
    assert "not set" in status(b)
    last = status(b, "-n", "1")
    assert "failover flag clear" in last and "db1 re-attached" in last

    # 6. Back to normal: B master, A backup, no flag on either, no warnings.
    jb, ja = json.loads(status(b, "--json")), json.loads(status(a, "--json"))
    assert jb["instances"][0]["role"] == "master" and ja["instances"][0]["role"] == "backup"
    assert not jb["failover_flag"]["set"] and not ja["failover_flag"]["set"]
    assert jb["warnings"] == [] and ja["warnings"] == []
    assert os.path.exists(binary("hakit-status"))
