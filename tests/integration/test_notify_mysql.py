"""notify_master / notify_backup against a real MariaDB primary + replica (tests/fixtures/mariadb):
lossless promotion (also with MASTER_DELAY), catch-up timeout policy, fencing, demotion and
rejoin, crash in the middle, notifications, and no password anywhere it must not be."""
import json
import os
import signal
import subprocess
import time

import pytest

from fixtures.common import stop_pid
from fixtures.mariadb import require, start_admin_pair
from fixtures.notify_env import Node
from fixtures.smtp_sink import SmtpSink
from fixtures.webhook import WebhookReceiver

PY = "/usr/bin/python3"


def _pair(gtid):
    return start_admin_pair(gtid=gtid)


@pytest.fixture
def pair():
    p = _pair(True)
    yield p
    p.destroy()


@pytest.fixture
def node():
    n = Node("mysql")
    yield n
    n.destroy()


def profiles(pair, local, peer):
    return (f"mysql:\n  local: {local.profile_yaml(pair.creds)}\n"
            f"  peer: {peer.profile_yaml(pair.creds, connect_timeout='1s')}\n")


def configure(node, pair, promote="mysql_promote: {mysql: local, catchup_timeout: 20s}",
              demote="mysql_demote: {mysql: local, peer: peer}", more_promote=(), extra="",
              local=None, peer=None):
    local = local or pair.replica
    peer = peer or pair.primary
    tail = "".join(f"      - {a}\n" for a in more_promote)
    node.write_config(profiles(pair, local, peer) + f"""
instances:
  VI_1:
    promote:
      - {promote}
      - flag: set
{tail}    demote:
      - {demote}
{extra}""")


def count(srv):
    return int(srv.scalar("SELECT COUNT(*) FROM hakit_test.t"))


def insert(srv, ids):
    values = ", ".join(f"({i}, 'row {i}')" for i in ids)
    srv.sql(f"INSERT INTO hakit_test.t VALUES {values}")


def wait_for(pred, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} not reached within {timeout}s")


def received_all(pair):
    want = pair.primary.scalar("SELECT @@gtid_binlog_pos")
    return pair.replica_status().get("Gtid_IO_Pos") == want


class RowLock:
    """Holds a row lock on the replica so its SQL thread cannot apply an update of that row."""

    def __init__(self, srv, row_id):
        argv = [require("mariadb"), "--no-defaults", f"--socket={srv.socket}", "-u", "root", "-N",
                "--unbuffered"]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.proc.stdin.write(f"BEGIN; SELECT id FROM hakit_test.t WHERE id={row_id} FOR UPDATE;\n")
        self.proc.stdin.flush()
        self.proc.stdout.readline()  # the row: the lock is held

    def release(self):
        if self.proc.poll() is None:
            self.proc.stdin.write("ROLLBACK;\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=30)


def test_promote_caught_up_replica(pair, node):
    configure(node, pair)
    insert(pair.primary, range(1, 11))
    pair.wait_caught_up()
    r = node.run("notify_master", "--instance", "VI_1")
    assert r.returncode == 0, r.stderr
    rep = pair.replica
    assert rep.variable("read_only") == "OFF"
    assert rep.rows("SHOW SLAVE STATUS") == []
    assert count(rep) == 10
    e = node.transitions()[-1]
    assert e["outcome"] == "ok" and e["to"] == "master"
    act = e["actions"][0]
    assert act["details"]["catchup"]["result"] == "caught-up"
    assert e["positions"]["gtid_binlog_pos"] == rep.scalar("SELECT @@gtid_binlog_pos")
    f, p = rep.sql("SHOW MASTER STATUS")[0][:2]
    assert e["positions"]["binlog_file"] == f and e["positions"]["binlog_pos"] == p
    assert node.role() == "master" and node.flag_set()
    # Twice is safe: nothing left to do, still writable.
    r = node.run("notify_master", "--instance", "VI_1")
    assert r.returncode == 0, r.stderr
    assert rep.variable("read_only") == "OFF"
    assert "none configured" in node.transitions()[-1]["actions"][0]["details"]["replication"]
    insert(rep, [100])  # writable for real
    assert count(rep) == 11


@pytest.mark.parametrize("gtid", [True, False], ids=["gtid", "filepos"])
def test_master_delay_rows_waiting_are_all_applied(gtid, node):
    pair = _pair(gtid)
    try:
        configure(node, pair, promote="mysql_promote: {mysql: local, catchup_timeout: 30s, fence: peer}")
        pair.stop_replica()
        pair.replica.sql("CHANGE MASTER TO MASTER_DELAY=5")
        pair.start_replica()
        pair.wait_replicating()
        insert(pair.primary, range(1, 21))
        f, p = pair.primary.sql("SHOW MASTER STATUS")[0][:2]
        wait_for(lambda: pair.replica_status().get("Read_Master_Log_Pos") == p
                 and pair.replica_status().get("Master_Log_File") == f,
                 what="replica received the rows")
        assert count(pair.replica) < 20, "MASTER_DELAY should still hold the rows"
        pair.primary.kill()  # the old master is gone: the rows exist only in the relay log
        r = node.run("notify_master", "--instance", "VI_1")
        assert r.returncode == 0, r.stderr
        assert count(pair.replica) == 20
        assert pair.replica.variable("read_only") == "OFF"
        d = node.transitions()[-1]["actions"][0]["details"]
        assert d["master_delay_cleared"] == "5"
        assert d["fence"]["result"] == "unreachable"
        assert d["catchup"]["result"] == "caught-up"
    finally:
        pair.destroy()


def test_catchup_timeout_refuses_stays_read_only_and_alerts(pair, node):
    insert(pair.primary, [1])
    pair.wait_caught_up()
    lock = RowLock(pair.replica, 1)
    try:
        with SmtpSink() as sink:
            configure(node, pair, promote="mysql_promote: {mysql: local, catchup_timeout: 2s}",
                      more_promote=["notify: ops"], extra=f"""notifications:
  ops: {{email: {{smtp: '{sink.url}', from: ha@example.com, to: ops@example.com}}}}
""")
            pair.primary.sql("UPDATE hakit_test.t SET v='changed' WHERE id=1")
            wait_for(lambda: received_all(pair), what="replica received the update")
            t0 = time.monotonic()
            r = node.run("notify_master", "--instance", "VI_1")
            elapsed = time.monotonic() - t0
            assert r.returncode == 2, r.stderr
            assert "refused" in r.stderr and "read-only" in r.stderr
            assert elapsed < 15
            msg = sink.wait_message()
        assert "FAILED" in msg["message"]["Subject"]
        assert pair.replica.variable("read_only") == "ON"
        st = pair.replica_status()
        assert st["Slave_IO_Running"] == "Yes"  # still a replica
        e = node.transitions()[-1]
        assert e["outcome"] == "refused"
        assert [a["outcome"] for a in e["actions"]] == ["refused", "not-run", "ok"]
        assert not node.flag_set()
        assert node.role() is None
    finally:
        lock.release()
    pair.wait_caught_up()
    assert pair.replica.scalar("SELECT v FROM hakit_test.t WHERE id=1") == "changed"


def test_fence_reachable_old_master(pair, node):
    configure(node, pair, promote="mysql_promote: {mysql: local, fence: peer, fence_kill_sessions: true}")
    sleeper = subprocess.Popen(pair.primary.client_argv("SELECT SLEEP(60)"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: pair.primary.scalar(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP(60)%'") == "1",
            what="client session on the old master")
        insert(pair.primary, range(1, 6))  # written just before the failover
        r = node.run("notify_master", "--instance", "VI_1")
        assert r.returncode == 0, r.stderr
        assert pair.primary.variable("read_only") == "ON"
        assert pair.replica.variable("read_only") == "OFF"
        assert count(pair.replica) == 5
        sleeper.wait(timeout=20)  # its session was killed
        fence = node.transitions()[-1]["actions"][0]["details"]["fence"]
        assert fence["result"] == "read-only"
        assert fence["killed_sessions"] >= 1
        assert fence["io_thread_fetched_all"] is True
    finally:
        if sleeper.poll() is None:
            stop_pid(sleeper)


def test_demote_manual_rejoin_logs_statement(pair, node):
    # This node is the primary; keepalived moved the VIP away from it.
    repl_pass = os.path.join(node.dir, "repl.pass")
    configure(node, pair, local=pair.primary, peer=pair.replica,
              demote=f"mysql_demote: {{mysql: local, peer: peer, kill_sessions: true, "
                     f"replication: {{user: repl, password_file: {repl_pass}}}}}")
    sleeper = subprocess.Popen(pair.primary.client_argv("SELECT SLEEP(60)"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: pair.primary.scalar(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP(60)%'") == "1",
            what="client session")
        r = node.run("notify_backup", "--instance", "VI_1")
        assert r.returncode == 0, r.stderr
        sleeper.wait(timeout=20)
    finally:
        if sleeper.poll() is None:
            stop_pid(sleeper)
    assert pair.primary.variable("read_only") == "ON"
    e = node.transitions()[-1]
    d = e["actions"][0]["details"]
    assert d["rejoin"] == "manual" and d["killed_sessions"] >= 1
    stmt = d["rejoin_statement"]
    assert f"MASTER_HOST='127.0.0.1', MASTER_PORT={pair.replica.port}" in stmt
    assert "MASTER_USE_GTID=current_pos" in stmt and f"<password from {repl_pass}>" in stmt
    assert "replpass" not in json.dumps(e) and "replpass" not in r.stderr
    assert stmt in r.stderr  # logged for the operator
    assert node.role() == "backup"


def test_rejoin_auto_with_gtid(pair, node):
    b = node
    configure(b, pair)
    r = b.run("notify_master", "--instance", "VI_1")
    assert r.returncode == 0, r.stderr
    insert(pair.replica, range(1, 4))  # written on the new master
    a = Node("old-master")
    try:
        repl_pass = os.path.join(a.dir, "repl.pass")
        with open(repl_pass, "w") as f:
            f.write("replpass\n")
        os.chmod(repl_pass, 0o600)
        configure(a, pair, local=pair.primary, peer=pair.replica,
                  demote=f"mysql_demote: {{mysql: local, peer: peer, rejoin: auto, "
                         f"replication: {{user: repl, password_file: {repl_pass}}}}}")
        r = a.run("notify_backup", "--instance", "VI_1")
        assert r.returncode == 0, r.stderr
        old = pair.primary
        assert old.variable("read_only") == "ON"
        st = old.rows("SHOW SLAVE STATUS")[0]
        assert st["Master_Port"] == str(pair.replica.port) and st["Using_Gtid"] == "Current_Pos"
        insert(pair.replica, [10])
        wait_for(lambda: old.scalar("SELECT COUNT(*) FROM hakit_test.t") == "4",
                 what="old master replicating from the new one")
        st = old.rows("SHOW SLAVE STATUS")[0]
        assert st["Slave_IO_Running"] == "Yes" and st["Slave_SQL_Running"] == "Yes"
        e = a.transitions()[-1]
        assert e["actions"][0]["details"]["rejoin"].startswith("re-pointed")
        assert "replpass" not in json.dumps(e) and "replpass" not in r.stderr
        # Demoting again is a no-op.
        r = a.run("notify_backup", "--instance", "VI_1")
        assert r.returncode == 0, r.stderr
        assert a.transitions()[-1]["actions"][0]["details"]["rejoin"].startswith("already")
    finally:
        a.destroy()


def test_rejoin_under_no_backslash_escapes_with_hostile_password(pair, node):
    """CHANGE MASTER quotes the replication password right under the session's sql_mode: with
    NO_BACKSLASH_ESCAPES a backslash-escaped quote ended the literal early, the statement
    failed and the rest of the password landed in the error, the log and the journal."""
    b = node
    configure(b, pair)
    r = b.run("notify_master", "--instance", "VI_1")
    assert r.returncode == 0, r.stderr
    hostile = "q'u\\o\"te\\'s\\\\;--x''"
    repl = pair.replica.create_user("repl_nbe", privileges="REPLICATION SLAVE", password=hostile)
    a = Node("old-master")
    old = pair.primary
    try:
        old.sql("SET GLOBAL sql_mode = CONCAT(@@GLOBAL.sql_mode, ',NO_BACKSLASH_ESCAPES')")
        assert "NO_BACKSLASH_ESCAPES" in old.scalar("SELECT @@GLOBAL.sql_mode")
        configure(a, pair, local=old, peer=pair.replica,
                  demote=f"mysql_demote: {{mysql: local, peer: peer, rejoin: auto, "
                         f"replication: {{user: repl_nbe, password_file: {repl.password_file}}}}}")
        r = a.run("notify_backup", "--instance", "VI_1")
        assert r.returncode == 0, r.stderr
        e = a.transitions()[-1]
        assert e["actions"][0]["details"]["rejoin"].startswith("re-pointed"), e
        insert(pair.replica, [20])
        wait_for(lambda: old.scalar("SELECT COUNT(*) FROM hakit_test.t WHERE id=20") == "1",
                 what="old master replicating with the hostile password")
        st = old.rows("SHOW SLAVE STATUS")[0]
        assert st["Slave_IO_Running"] == "Yes" and st["Master_User"] == "repl_nbe", st
        with open(os.path.join(a.state_dir, "journal.jsonl")) as f:
            journal = f.read()
        # No piece of the password anywhere: not the whole, not the part after a quote.
        for piece in (hostile, "te\\'s", ";--x"):
            assert piece not in r.stderr and piece not in r.stdout and piece not in journal
    finally:
        a.destroy()  # the pair (and its sql_mode) goes with the test


def test_sigkill_mid_promotion_then_rerun_is_consistent(pair, node):
    configure(node, pair, promote="mysql_promote: {mysql: local, catchup_timeout: 60s}")
    insert(pair.primary, [1])
    pair.wait_caught_up()
    lock = RowLock(pair.replica, 1)
    try:
        pair.primary.sql("UPDATE hakit_test.t SET v='late' WHERE id=1")
        insert(pair.primary, range(2, 6))
        wait_for(lambda: received_all(pair), what="replica received the rows")
        p = node.popen("notify_master", "--instance", "VI_1")
        wait_for(lambda: pair.replica_status().get("Slave_IO_Running") == "No",
                 what="promotion in progress (IO thread stopped)")
        time.sleep(0.2)
        p.send_signal(signal.SIGKILL)
        p.communicate(timeout=10)
        assert pair.replica.variable("read_only") == "ON", "a killed promotion must not leave it writable"
    finally:
        lock.release()
    r = node.run("notify_master", "--instance", "VI_1", timeout=60)
    assert r.returncode == 0, r.stderr
    rep = pair.replica
    assert rep.variable("read_only") == "OFF"
    assert rep.rows("SHOW SLAVE STATUS") == []
    assert count(rep) == 5
    assert rep.scalar("SELECT v FROM hakit_test.t WHERE id=1") == "late"
    assert node.transitions()[-1]["outcome"] == "ok"


def test_no_password_in_argv_logs_journal_or_notifications(pair, node):
    dump = os.path.join(node.dir, "dump.py")
    out = os.path.join(node.dir, "child.txt")
    with open(dump, "w") as f:
        f.write("import os, sys\n"
                "ppid = os.getppid()\n"
                "with open(sys.argv[1], 'a') as o:\n"
                "    for p in ('self', str(ppid)):\n"
                "        o.write(open(f'/proc/{p}/cmdline').read().replace('\\0', ' ') + '\\n')\n"
                "        o.write(open(f'/proc/{p}/environ').read().replace('\\0', ' ') + '\\n')\n")
    with WebhookReceiver() as hook:
        configure(node, pair, more_promote=[f"run: [{PY}, {dump}, {out}]", "notify: ops"],
                  extra=f"""notifications:
  ops: {{webhook: {{url: '{hook.url}'}}}}
""")
        r = node.run("notify_master", "--instance", "VI_1")
        assert r.returncode == 0, r.stderr
        req = hook.wait_request()
    secret = pair.creds.password
    with open(out) as f:
        child = f.read()
    assert "notify_master" in child and "hakit.yaml" in child  # we did look at the parent
    assert secret not in child
    assert secret not in r.stderr and secret not in r.stdout
    assert "mysql: STOP SLAVE" in r.stderr  # the debug log was on
    with open(os.path.join(node.state_dir, "journal.jsonl")) as f:
        assert secret not in f.read()
    assert secret not in req["body"]
    assert req["json"]["positions"]["gtid_binlog_pos"] == pair.replica.scalar("SELECT @@gtid_binlog_pos")
